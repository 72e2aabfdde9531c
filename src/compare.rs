//! `liqsim compare FILE --policies es,var,fixed,grid --seeds N`: margin policies side by
//! side on common random numbers.
//!
//! Every policy runs on the same seeds, and a seed fixes the price path and every agent
//! draw (each comes from its own named stream), so a difference between two policies on
//! one seed is due to the policy alone. Per policy: distribution of bad debt across seeds,
//! probability of insurance fund exhaustion, ADL, socialized loss, liquidations, cascade
//! depth and amplification, mean and peak initial margin (the traders' capital cost) and
//! procyclicality; each mean with a 95% interval, and paired differences against the
//! first policy with their own intervals.

use crate::CliResult;
use crate::runrow::{RunRow, csv_line};
use crate::sweep::{progress, threads};
use liqsim_core::{Error, InputError};
use liqsim_scenario::Policy;
use liqsim_sweep::stats::{Summary, paired_difference, proportion, summarize};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Policies to compare, comma-separated: es, var, fixed, grid.
    #[arg(long, value_delimiter = ',', default_value = "es,var,fixed,grid")]
    pub policies: Vec<String>,
    /// Seeds per policy: the scenario's seed, seed+1, ...
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub seeds: u64,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Override a field for every run: `--set liquidation.fee=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json", "csv"], default_value = "table")]
    pub format: String,
    /// Also write runs.csv and comparison.csv here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The figures compared, as (name, value of a run).
type Metric = (&'static str, fn(&RunRow) -> f64);

const METRICS: [Metric; 9] = [
    ("bad_debt", |r| r.bad_debt.to_f64()),
    ("liquidated_notional", |r| r.liquidated_notional.to_f64()),
    ("liquidations", |r| r.liquidation_count as f64),
    ("adl_notional", |r| r.adl_notional.to_f64()),
    ("socialized_loss", |r| r.socialized_loss.to_f64()),
    ("max_depth", |r| f64::from(r.max_depth)),
    ("mean_initial_margin", |r| r.mean_initial_margin.to_f64()),
    ("peak_initial_margin", |r| r.peak_initial_margin.to_f64()),
    ("procyclicality", |r| r.procyclicality.unwrap_or(1.0)),
];

/// Results of one policy, runs in seed order.
#[derive(Debug, Clone)]
pub struct PolicyRuns {
    pub policy: String,
    pub runs: Vec<RunRow>,
}

pub fn compare_with(
    args: &CompareArgs,
    run: &(dyn Fn(&liqsim_scenario::Scenario) -> Result<liqsim_sim::Outcome, Error> + Sync),
) -> Result<Vec<PolicyRuns>, Error> {
    let mut policies = Vec::new();
    for name in &args.policies {
        let policy = Policy::parse(name.trim()).ok_or_else(|| {
            Error::from(
                InputError::new(format!("unknown policy `{name}`"))
                    .source("--policies")
                    .expected("a comma-separated list of es, var, fixed, grid"),
            )
        })?;
        if policies.contains(&policy) {
            return Err(InputError::new(format!("policy `{name}` is listed twice"))
                .source("--policies")
                .into());
        }
        policies.push(policy);
    }
    let base = liqsim_scenario::load(&args.file, &args.overrides)?;
    let overrides_for = |policy: Policy, seed: u64| -> Vec<String> {
        let mut o = args.overrides.clone();
        o.push(format!("margin.policy=\"{}\"", policy.name()));
        o.push(format!("seed={seed}"));
        o
    };
    for &policy in &policies {
        liqsim_scenario::load(&args.file, &overrides_for(policy, base.seed))?;
    }
    let jobs: Vec<(usize, Policy, u64)> = policies
        .iter()
        .enumerate()
        .flat_map(|(p, &policy)| {
            (0..args.seeds).map(move |i| (p, policy, base.seed.wrapping_add(i)))
        })
        .collect();
    let bar = progress(jobs.len(), &base.name);
    let rows = liqsim_sweep::execute(
        &jobs,
        threads(args.threads),
        |&(p, policy, seed)| {
            let scenario = liqsim_scenario::load(&args.file, &overrides_for(policy, seed))?;
            let outcome = run(&scenario)?;
            Ok(RunRow::from_outcome(
                (seed - base.seed) as usize,
                p,
                vec![policy.name().to_string()],
                &outcome,
            ))
        },
        |_, _| {
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let per = args.seeds as usize;
    Ok(policies
        .iter()
        .enumerate()
        .map(|(p, policy)| PolicyRuns {
            policy: policy.name().to_string(),
            runs: rows[p * per..(p + 1) * per].to_vec(),
        })
        .collect())
}

fn fmt(v: f64) -> String {
    format!("{v:.6}")
}

fn interval(s: &Summary) -> (String, String) {
    match s.ci95 {
        Some((lo, hi)) => (fmt(lo), fmt(hi)),
        None => (String::new(), String::new()),
    }
}

/// One row per (policy, metric): the statistics across seeds, and the paired difference
/// against the first policy.
pub fn comparison_rows(results: &[PolicyRuns]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let base = results.first();
    for pr in results {
        for (name, f) in METRICS {
            let values: Vec<f64> = pr.runs.iter().map(f).collect();
            let Some(s) = summarize(&values) else { continue };
            let (lo, hi) = interval(&s);
            let diff = base.filter(|b| b.policy != pr.policy).and_then(|b| {
                paired_difference(&values, &b.runs.iter().map(f).collect::<Vec<_>>())
            });
            let (dlo, dhi) = diff.as_ref().map(interval).unwrap_or_default();
            rows.push(vec![
                pr.policy.clone(),
                name.to_string(),
                s.n.to_string(),
                fmt(s.mean),
                lo,
                hi,
                fmt(s.median),
                fmt(s.p95),
                fmt(s.p99),
                fmt(s.max),
                diff.map(|d| fmt(d.mean)).unwrap_or_default(),
                dlo,
                dhi,
            ]);
        }
        let exhausted: Vec<bool> = pr.runs.iter().map(|r| r.fund_exhausted).collect();
        if let Some((p, (lo, hi))) = proportion(&exhausted) {
            let n = exhausted.len().to_string();
            rows.push(vec![
                pr.policy.clone(),
                "fund_exhausted".into(),
                n,
                fmt(p),
                fmt(lo),
                fmt(hi),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
    }
    rows
}

pub const COMPARISON_HEADER: [&str; 13] = [
    "policy",
    "metric",
    "seeds",
    "mean",
    "ci95_low",
    "ci95_high",
    "median",
    "p95",
    "p99",
    "max",
    "diff_vs_first_mean",
    "diff_ci95_low",
    "diff_ci95_high",
];

pub fn comparison_csv(results: &[PolicyRuns]) -> Result<String, Error> {
    let mut text = csv_line(&COMPARISON_HEADER.map(String::from))?;
    for row in comparison_rows(results) {
        text.push_str(&csv_line(&row)?);
    }
    Ok(text)
}

pub fn comparison_json(scenario: &str, seeds: u64, results: &[PolicyRuns]) -> String {
    let mut policies = serde_json::Map::new();
    for row in comparison_rows(results) {
        let entry = policies.entry(row[0].clone()).or_insert_with(|| serde_json::json!({}));
        let number = |t: &String| -> serde_json::Value {
            t.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(serde_json::Value::Null, serde_json::Value::Number)
        };
        entry[row[1].as_str()] = serde_json::json!({
            "mean": number(&row[3]), "ci95": [number(&row[4]), number(&row[5])],
            "median": number(&row[6]), "p95": number(&row[7]), "p99": number(&row[8]), "max": number(&row[9]),
            "diff_vs_first": { "mean": number(&row[10]), "ci95": [number(&row[11]), number(&row[12])] },
        });
    }
    let value = serde_json::json!({ "scenario": scenario, "seeds": seeds, "policies": policies });
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// The table people read: one line per policy with the headline figures.
pub fn comparison_table(results: &[PolicyRuns]) -> String {
    let mut lines = vec![format!(
        "{:<7} {:>14} {:>14} {:>14} {:>9} {:>14} {:>14} {:>6}",
        "policy",
        "bad debt mean",
        "bad debt p99",
        "paired diff",
        "P(fund=0)",
        "mean margin",
        "peak margin",
        "depth"
    )];
    let base = results.first();
    for pr in results {
        let get = |f: fn(&RunRow) -> f64| pr.runs.iter().map(f).collect::<Vec<f64>>();
        let bad = summarize(&get(METRICS[0].1));
        let diff = base.filter(|b| b.policy != pr.policy).and_then(|b| {
            paired_difference(
                &get(METRICS[0].1),
                &b.runs.iter().map(METRICS[0].1).collect::<Vec<_>>(),
            )
        });
        let margin = summarize(&get(METRICS[6].1));
        let peak = summarize(&get(METRICS[7].1));
        let depth = summarize(&get(METRICS[5].1));
        let exhausted = proportion(&pr.runs.iter().map(|r| r.fund_exhausted).collect::<Vec<_>>());
        let money = |s: Option<Summary>, f: fn(&Summary) -> f64| {
            s.map(|s| format!("{:.2}", f(&s))).unwrap_or_else(|| "-".into())
        };
        lines.push(format!(
            "{:<7} {:>14} {:>14} {:>14} {:>9} {:>14} {:>14} {:>6}",
            pr.policy,
            money(bad, |s| s.mean),
            money(bad, |s| s.p99),
            diff.map(|d| format!("{:+.2}", d.mean)).unwrap_or_else(|| "(base)".into()),
            exhausted.map(|(p, _)| format!("{:.2}", p)).unwrap_or_else(|| "-".into()),
            money(margin, |s| s.mean),
            money(peak, |s| s.max),
            depth.map(|s| format!("{:.1}", s.mean)).unwrap_or_else(|| "-".into()),
        ));
    }
    lines.push(String::from(
        "bad debt and margin in quote units; paired diff: mean bad debt minus the first policy's on the same seeds",
    ));
    lines.join("\n") + "\n"
}

pub fn run(args: &CompareArgs) -> CliResult {
    let results = compare_with(args, &crate::engine::run_scenario)?;
    let name = liqsim_scenario::load(&args.file, &args.overrides)?.name;
    match args.format.as_str() {
        "json" => print!("{}", comparison_json(&name, args.seeds, &results)),
        "csv" => print!("{}", comparison_csv(&results)?),
        _ => print!("{}", comparison_table(&results)),
    }
    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).map_err(|e| {
            Error::from(
                InputError::new(format!("cannot create: {e}")).source(out.display().to_string()),
            )
        })?;
        let mut runs = csv_line(&RunRow::header(&["policy".into()]))?;
        for pr in &results {
            for r in &pr.runs {
                runs.push_str(&csv_line(&r.fields())?);
            }
        }
        crate::sweep::write_atomic(&out.join("runs.csv"), &runs)?;
        crate::sweep::write_atomic(&out.join("comparison.csv"), &comparison_csv(&results)?)?;
        let comparison = liqsim_report::Comparison {
            scenario: name.clone(),
            seeds: results
                .first()
                .map(|p| p.runs.iter().map(|r| r.seed).collect())
                .unwrap_or_default(),
            policies: results
                .iter()
                .map(|p| liqsim_report::PolicyRuns {
                    policy: p.policy.clone(),
                    runs: p.runs.iter().map(RunRow::figures).collect(),
                })
                .collect(),
        };
        crate::sweep::write_atomic(
            &out.join("compare.html"),
            &liqsim_report::compare_html(&comparison),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_support::{fake_outcome, repo_file};

    fn args(threads: usize, policies: &str) -> CompareArgs {
        CompareArgs {
            file: repo_file("scenarios/quickstart.toml"),
            policies: policies.split(',').map(str::to_string).collect(),
            seeds: 6,
            threads: Some(threads),
            overrides: vec![],
            format: "table".into(),
            out: None,
        }
    }

    #[test]
    fn outputs_do_not_depend_on_the_thread_count() {
        let one = compare_with(&args(1, "es,var,fixed,grid"), &|s| Ok(fake_outcome(s))).unwrap();
        let two = compare_with(&args(2, "es,var,fixed,grid"), &|s| Ok(fake_outcome(s))).unwrap();
        assert_eq!(comparison_csv(&one).unwrap(), comparison_csv(&two).unwrap());
        assert_eq!(comparison_json("q", 6, &one), comparison_json("q", 6, &two));
        assert_eq!(comparison_table(&one), comparison_table(&two));
        assert_eq!(one.len(), 4);
        assert!(one.iter().all(|p| p.runs.len() == 6));
        // Seeds are the scenario's seed, seed+1, ... for every policy (common random numbers).
        let seeds: Vec<u64> = one[0].runs.iter().map(|r| r.seed).collect();
        assert_eq!(seeds, (7..13).collect::<Vec<u64>>());
        assert!(one.iter().all(|p| p.runs.iter().map(|r| r.seed).eq(seeds.iter().copied())));
    }

    #[test]
    fn paired_differences_of_identical_policies_are_exactly_zero() {
        // The stand-in ignores the policy, so every paired difference is 0 with a
        // zero-width interval, while the unpaired intervals are wide.
        let r = compare_with(&args(2, "es,fixed"), &|s| Ok(fake_outcome(s))).unwrap();
        let csv = comparison_csv(&r).unwrap();
        let bad_debt_fixed = csv.lines().find(|l| l.starts_with("fixed,bad_debt,")).unwrap();
        let fields: Vec<&str> = bad_debt_fixed.split(',').collect();
        assert_eq!(&fields[10..13], ["0.000000", "0.000000", "0.000000"]);
        assert_ne!(fields[4], fields[5]);
    }

    #[test]
    fn bad_policy_lists_are_input_errors() {
        for list in ["es,cheap", "es,es"] {
            let e = compare_with(&args(1, list), &|s| Ok(fake_outcome(s))).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.to_string().contains("--policies"), "{e}");
        }
    }
}
