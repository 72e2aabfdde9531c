//! `liqsim compare FILE [--policies es,var,...] --seeds N`: margin policies side by
//! side on common random numbers.
//!
//! Every policy runs on the same seeds, and a seed fixes the price path and every agent
//! draw (each comes from its own named stream), so a difference between two policies on
//! one seed is due to the policy alone. Per policy: distribution of bad debt across seeds,
//! probability of insurance fund exhaustion, ADL, socialized loss, liquidations, cascade
//! depth and amplification, mean and peak initial margin (the traders' capital cost) and
//! procyclicality; each mean with a 95% interval, and paired differences against the
//! first policy with their own intervals. The statistics and their renderings (table,
//! CSV, JSON, compare.html) are liqsim-report's; this file runs the policies.

use crate::CliResult;
use crate::runrow::{RunRow, csv_line};
use crate::sweep::{MAX_THREADS, progress, threads};
use liqsim_core::{Error, InputError};
use liqsim_scenario::Policy;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Policies to compare, comma-separated (default: every policy).
    #[arg(long, value_delimiter = ',')]
    pub policies: Vec<String>,
    /// Seeds per policy: the scenario's seed, seed+1, ... (with --until-width, the first
    /// batch, and the size of each batch added).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub seeds: u64,
    /// Add batches of --seeds seeds until every policy's 95% interval of bad debt per
    /// 1,000 of margin (the headline) is narrower than this, or --max-seeds is reached.
    #[arg(long, value_name = "WIDTH", value_parser = positive_width)]
    pub until_width: Option<f64>,
    /// Most seeds per policy with --until-width.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    pub max_seeds: u64,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS))]
    pub threads: Option<u64>,
    /// Override a field for every run: `--set liquidation.fee=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json", "csv"], default_value = "table")]
    pub format: String,
    /// Also write runs.csv and comparison.csv here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// With `--out`: keep each run's time series as `series/POLICY-seedN.parquet`.
    #[arg(long, requires = "out")]
    pub keep_series: bool,
}

/// `--until-width`: a finite number above zero.
fn positive_width(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(w) if w.is_finite() && w > 0.0 => Ok(w),
        _ => Err(format!("`{text}` is not a width above zero (e.g. 0.5)")),
    }
}

/// The widest 95% interval of the headline figure over the policies (`None` while a
/// policy has none, e.g. with one seed or no margin).
pub fn widest_headline_interval(results: &[PolicyRuns]) -> Option<f64> {
    results
        .iter()
        .map(|p| {
            let figures: Vec<_> = p.runs.iter().map(RunRow::figures).collect();
            liqsim_report::compare::bad_debt_per_margin(&figures)
                .and_then(|(_, ci)| ci)
                .map(|(lo, hi)| (hi - lo) * 1e3)
        })
        .try_fold(0.0f64, |w, x| x.map(|x| w.max(x)))
}

/// Results of one policy, runs in seed order.
#[derive(Debug, Clone)]
pub struct PolicyRuns {
    pub policy: String,
    pub runs: Vec<RunRow>,
}

/// The policies of a `--policies` list (every policy when it is empty), each once.
pub fn parse_policies(names: &[String]) -> Result<Vec<Policy>, Error> {
    let every: Vec<String> = Policy::NAMES.iter().map(|n| n.to_string()).collect();
    let names = if names.is_empty() { &every[..] } else { names };
    let mut policies = Vec::new();
    for name in names {
        let policy = Policy::parse(name.trim()).ok_or_else(|| {
            Error::from(
                InputError::new(format!("unknown policy `{name}`"))
                    .source("--policies")
                    .expected(format!("a comma-separated list of {}", Policy::listed())),
            )
        })?;
        if policies.contains(&policy) {
            return Err(InputError::new(format!("policy `{name}` is listed twice"))
                .source("--policies")
                .into());
        }
        policies.push(policy);
    }
    Ok(policies)
}

/// Runs every policy on the seeds of `args`; with `--until-width`, adds batches of
/// `--seeds` seeds until the headline's widest interval is narrower than asked or
/// `--max-seeds` is reached. The result is the same as one run with the final number of
/// seeds: seeds are consecutive and every run depends on its seed alone.
pub fn compare_with(
    args: &CompareArgs,
    run: &(dyn Fn(&liqsim_scenario::Scenario) -> Result<liqsim_sim::Outcome, Error> + Sync),
) -> Result<Vec<PolicyRuns>, Error> {
    let Some(width) = args.until_width else { return compare_batch(args, run, 0, args.seeds) };
    let max = args.max_seeds.max(args.seeds);
    let mut results = compare_batch(args, run, 0, args.seeds)?;
    let mut done = args.seeds;
    while done < max && widest_headline_interval(&results).is_none_or(|w| w >= width) {
        let batch = args.seeds.min(max - done);
        let more = compare_batch(args, run, done, batch)?;
        for (have, new) in results.iter_mut().zip(more) {
            have.runs.extend(new.runs);
        }
        done += batch;
    }
    Ok(results)
}

/// The policies on seeds `first..first + count` (offsets from the scenario's seed).
fn compare_batch(
    args: &CompareArgs,
    run: &(dyn Fn(&liqsim_scenario::Scenario) -> Result<liqsim_sim::Outcome, Error> + Sync),
    first: u64,
    count: u64,
) -> Result<Vec<PolicyRuns>, Error> {
    let policies = parse_policies(&args.policies)?;
    let base = liqsim_scenario::load(&args.file, &args.overrides)?;
    let overrides_for = |policy: Policy, seed: u64| -> Vec<String> {
        let mut o = args.overrides.clone();
        o.push(format!("margin.policy=\"{}\"", policy.name()));
        o.push(format!("seed={seed}"));
        o
    };
    // Every policy with the first seed, and the last seed: an error names the flag.
    let total =
        if args.until_width.is_some() { args.max_seeds.max(args.seeds) } else { args.seeds };
    let last_seed = base.seed.wrapping_add(first + count - 1);
    for (policy, seed) in
        policies.iter().map(|&p| (p, base.seed)).chain(policies.first().map(|&p| (p, last_seed)))
    {
        liqsim_scenario::load(&args.file, &overrides_for(policy, seed)).map_err(|e| {
            let name = policy.name();
            let e = crate::run::relabel(
                e,
                &format!("margin.policy=\"{name}\""),
                &format!("--policies ({name})"),
            );
            crate::run::relabel(
                e,
                &format!("seed={seed}"),
                &format!("--seeds {total} (seed {seed})"),
            )
        })?;
    }
    let jobs: Vec<(usize, Policy, u64)> = policies
        .iter()
        .enumerate()
        .flat_map(|(p, &policy)| {
            (first..first + count).map(move |i| (p, policy, base.seed.wrapping_add(i)))
        })
        .collect();
    let series_dir = match (&args.out, args.keep_series) {
        (Some(out), true) => Some(crate::sweep::series_dir(out)?),
        _ => None,
    };
    let bar = progress(jobs.len(), &base.name);
    let rows = liqsim_sweep::execute(
        &jobs,
        threads(args.threads),
        |&(p, policy, seed)| {
            let scenario = liqsim_scenario::load(&args.file, &overrides_for(policy, seed))?;
            let outcome = run(&scenario)?;
            if let Some(dir) = &series_dir {
                crate::sweep::write_series(
                    dir,
                    &format!("{}-seed{seed}", policy.name()),
                    &outcome,
                )?;
            }
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
    bar.finish();
    let per = count as usize;
    Ok(policies
        .iter()
        .enumerate()
        .map(|(p, policy)| PolicyRuns {
            policy: policy.name().to_string(),
            runs: rows[p * per..(p + 1) * per].to_vec(),
        })
        .collect())
}

/// The comparison in the form liqsim-report renders (table, CSV, JSON, HTML).
pub fn comparison(
    scenario: &str,
    quote_currency: &str,
    results: &[PolicyRuns],
) -> liqsim_report::Comparison {
    liqsim_report::Comparison {
        scenario: scenario.to_string(),
        quote_currency: quote_currency.to_string(),
        seeds: results.first().map(|p| p.runs.iter().map(|r| r.seed).collect()).unwrap_or_default(),
        policies: results
            .iter()
            .map(|p| liqsim_report::PolicyRuns {
                policy: p.policy.clone(),
                runs: p.runs.iter().map(RunRow::figures).collect(),
            })
            .collect(),
    }
}

pub fn run(args: &CompareArgs) -> CliResult {
    let started = std::time::Instant::now();
    let results = compare_with(args, &crate::engine::run_scenario)?;
    eprintln!("compare: {}", crate::progress::resources(started));
    if let Some(width) = args.until_width {
        let n = results.first().map_or(0, |p| p.runs.len());
        let widest = widest_headline_interval(&results);
        let reached = widest.map_or_else(
            || "no interval (no margin locked)".to_string(),
            |w| format!("widest 95% interval {w:.4} per 1,000 of margin"),
        );
        let why = if widest.is_some_and(|w| w < width) {
            "--until-width met"
        } else {
            "--max-seeds reached"
        };
        eprintln!("{n} seeds per policy ({why}; asked for {width}): {reached}");
    }
    let base = liqsim_scenario::load(&args.file, &args.overrides)?;
    let c = comparison(&base.name, &base.market.quote_currency, &results);
    match args.format.as_str() {
        "json" => print!("{}", liqsim_report::comparison_json(&c)),
        "csv" => print!("{}", liqsim_report::comparison_csv(&c)),
        _ => print!("{}", liqsim_report::comparison_table(&c)),
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
        crate::sweep::write_atomic(
            &out.join("comparison.csv"),
            &liqsim_report::comparison_csv(&c),
        )?;
        crate::sweep::write_atomic(&out.join("compare.html"), &liqsim_report::compare_html(&c))?;
        let input =
            crate::provenance::Input { file: &args.file, overrides: args.overrides.clone() };
        let policies: Vec<&str> = results.iter().map(|p| p.policy.as_str()).collect();
        let flags = serde_json::json!({
            "policies": policies,
            "seeds": c.seeds,
            "threads": args.threads,
        });
        crate::provenance::write(out, "compare", &[input], flags)?;
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
            until_width: None,
            max_seeds: 1_000,
            threads: Some(threads as u64),
            overrides: vec![],
            format: "table".into(),
            out: None,
            keep_series: false,
        }
    }

    #[test]
    fn outputs_do_not_depend_on_the_thread_count() {
        let one = compare_with(&args(1, "es,var,fixed,grid"), &|s| Ok(fake_outcome(s))).unwrap();
        let two = compare_with(&args(2, "es,var,fixed,grid"), &|s| Ok(fake_outcome(s))).unwrap();
        let (c1, c2) = (comparison("q", "USD", &one), comparison("q", "USD", &two));
        assert_eq!(liqsim_report::comparison_csv(&c1), liqsim_report::comparison_csv(&c2));
        assert_eq!(liqsim_report::comparison_json(&c1), liqsim_report::comparison_json(&c2));
        assert_eq!(liqsim_report::comparison_table(&c1), liqsim_report::comparison_table(&c2));
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
        let csv = liqsim_report::comparison_csv(&comparison("q", "USD", &r));
        let bad_debt_fixed = csv.lines().find(|l| l.starts_with("fixed,bad_debt,")).unwrap();
        let fields: Vec<&str> = bad_debt_fixed.split(',').collect();
        assert_eq!(&fields[10..13], ["0.000000", "0.000000", "0.000000"]);
        assert_ne!(fields[4], fields[5]);
    }

    #[test]
    fn adaptive_seeds_stop_at_the_width_or_the_cap_and_equal_a_fixed_run() {
        let fake = |s: &liqsim_scenario::Scenario| Ok(fake_outcome(s));
        // A width no interval reaches: batches of 6 until the cap of 14 (6, 12, 14).
        let mut a = args(2, "es,fixed");
        (a.until_width, a.max_seeds) = (Some(1e-12), 14);
        let adaptive = compare_with(&a, &fake).unwrap();
        assert!(adaptive.iter().all(|p| p.runs.len() == 14));
        assert!(widest_headline_interval(&adaptive).unwrap() >= 1e-12);
        // The same as asking for 14 seeds at once.
        let mut fixed = args(1, "es,fixed");
        fixed.seeds = 14;
        let once = compare_with(&fixed, &fake).unwrap();
        let csv = |r: &[PolicyRuns]| liqsim_report::comparison_csv(&comparison("q", "USD", r));
        assert_eq!(csv(&adaptive), csv(&once));
        // A width the first batch already meets: no more seeds.
        let first = compare_with(&args(2, "es,fixed"), &fake).unwrap();
        let width = widest_headline_interval(&first).unwrap();
        a.until_width = Some(width * 1.01);
        assert!(compare_with(&a, &fake).unwrap().iter().all(|p| p.runs.len() == 6));
        // Narrower than the first batch's: more seeds, and the interval narrows.
        a.until_width = Some(width * 0.9);
        a.max_seeds = 1_000;
        let more = compare_with(&a, &fake).unwrap();
        assert!(more[0].runs.len() > 6);
        assert!(widest_headline_interval(&more).unwrap() < width * 0.9);
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
