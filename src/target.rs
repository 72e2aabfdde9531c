//! `liqsim target SCENARIO... --bad-debt X [--prob P]`: for each margin policy, the
//! cheapest setting of its main parameter that keeps bad debt within the target in every
//! listed scenario at once.
//!
//! Each policy has one parameter that raises its margin: es and var their confidence,
//! fixed its maintenance rate (initial twice it, brackets cleared), grid and greeks their
//! largest move. A setting meets the target when, in every scenario, the mean bad debt
//! over the seeds is at most X (or, with `--prob`, the share of seeds with bad debt
//! above X is at most P). Every setting runs the same seeds (common random numbers), so
//! meeting is a deterministic function of the setting and, margin rising with it, a step:
//! the search checks the top of the range, then the bottom, then bisects between the
//! highest failing and the lowest meeting setting found, `--steps` times, on a scale
//! where equal steps are comparable (the tail probability for a confidence, the log for
//! a rate). It says so when the evaluated settings are not a step, or margin does not
//! rise with the setting. The answer per policy is the lowest meeting setting found,
//! within one step of the boundary; the policy to choose is the one meeting the target
//! with the least mean initial margin.

use crate::CliResult;
use crate::sweep::{MAX_THREADS, progress, threads};
use liqsim_core::{Error, InputError};
use liqsim_report::html::{page, panel};
use liqsim_report::svg::{Axis, Chart, escape};
use liqsim_scenario::Policy;
use std::fmt::Write as _;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct TargetArgs {
    /// Scenario files (TOML): the target must hold in every one.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The bad-debt target in quote units: mean bad debt at most this (or, with
    /// `--prob`, bad debt above it no more often than that).
    #[arg(long, value_name = "X")]
    pub bad_debt: f64,
    /// Meet the target as a probability: P(bad debt > X) at most P, 0 < P < 1.
    #[arg(long, value_name = "P")]
    pub prob: Option<f64>,
    /// Seeds per scenario and setting: each scenario's seed, seed+1, ...
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub seeds: u64,
    /// Policies, comma-separated (default: every policy).
    #[arg(long, value_delimiter = ',')]
    pub policies: Vec<String>,
    /// Bisection steps after the two ends of the range.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=40))]
    pub steps: u32,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS))]
    pub threads: Option<u64>,
    /// Override a field for every run: `--set liquidation.fee=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json", "csv"], default_value = "table")]
    pub format: String,
    /// Also write target.csv, target.json and target.html here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// How a policy's parameter is searched: its key, its range, and the scale bisection
/// halves.
#[derive(Debug, Clone, Copy)]
struct Knob {
    key: &'static str,
    low: f64,
    high: f64,
    scale: Scale,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// A confidence c, bisected in -log10(1 - c).
    Tail,
    /// A rate, bisected in its logarithm.
    Log,
    Linear,
}

impl Knob {
    fn of(policy: Policy) -> Knob {
        match policy {
            Policy::Es | Policy::Var => {
                Knob { key: "margin.confidence", low: 0.9, high: 0.9999, scale: Scale::Tail }
            }
            Policy::Fixed => {
                Knob { key: "margin.fixed.maintenance", low: 0.001, high: 0.5, scale: Scale::Log }
            }
            Policy::Grid => {
                Knob { key: "margin.grid.move_max", low: 0.01, high: 0.99, scale: Scale::Linear }
            }
            Policy::Greeks => {
                Knob { key: "margin.greeks.move_max", low: 0.01, high: 0.99, scale: Scale::Linear }
            }
        }
    }

    fn scaled(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Tail => -(1.0 - v).log10(),
            Scale::Log => v.ln(),
            Scale::Linear => v,
        }
    }

    fn unscaled(&self, s: f64) -> f64 {
        match self.scale {
            Scale::Tail => 1.0 - 10f64.powf(-s),
            Scale::Log => s.exp(),
            Scale::Linear => s,
        }
    }

    /// The overrides that set the parameter to `v` (written to 6 significant digits, so
    /// that what runs is what is reported).
    fn overrides(&self, v: f64) -> Vec<String> {
        let mut out = vec![format!("{}={}", self.key, fmt(v))];
        if self.key == "margin.fixed.maintenance" {
            out.insert(0, format!("margin.fixed.initial={}", fmt((2.0 * v).min(1.0))));
            out.insert(0, "margin.fixed.tiers=[]".to_string());
        }
        out
    }
}

fn fmt(v: f64) -> String {
    let digits = (6 - 1 - v.abs().log10().floor() as i32).clamp(0, 15) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// One setting of one policy, over every scenario and seed.
#[derive(Debug, Clone)]
pub struct Setting {
    pub value: f64,
    pub meets: bool,
    /// Per scenario: mean bad debt and the share of seeds above the target.
    pub mean_bad_debt: Vec<f64>,
    pub share_above: Vec<f64>,
    /// Every run's bad debt, scenario-major.
    pub bad_debts: Vec<f64>,
    /// Mean over scenarios and seeds of each run's mean and peak initial margin.
    pub mean_margin: f64,
    pub peak_margin: f64,
}

#[derive(Debug, Clone)]
pub struct PolicyResult {
    pub policy: Policy,
    pub key: &'static str,
    /// Every setting evaluated, in increasing value.
    pub settings: Vec<Setting>,
    /// The lowest setting that meets the target, if any does in the range.
    pub answer: Option<usize>,
    /// Why the evaluated settings do not behave as the search assumes, if they do not.
    pub monotonicity: Option<String>,
}

/// Mean of the bad debts and its 95% t-interval, floored at zero (bad debt is never
/// negative); the mean alone for a single run.
fn bad_debt_interval(xs: &[f64]) -> (f64, f64, f64) {
    match liqsim_sweep::summarize(xs) {
        Some(s) => {
            let (lo, hi) = s.ci95.unwrap_or((s.mean, s.mean));
            (s.mean, lo.max(0.0), hi)
        }
        None => (f64::NAN, f64::NAN, f64::NAN),
    }
}

/// Runs the search for every policy; `run` turns a scenario into an outcome.
pub fn search(
    args: &TargetArgs,
    run: &(dyn Fn(&liqsim_scenario::Scenario) -> Result<liqsim_sim::Outcome, Error> + Sync),
) -> Result<Vec<PolicyResult>, Error> {
    if !(args.bad_debt.is_finite() && args.bad_debt >= 0.0) {
        return Err(InputError::new(format!("{} is not a bad-debt target", args.bad_debt))
            .source("--bad-debt")
            .expected("a number >= 0 in quote units")
            .into());
    }
    if let Some(p) = args.prob.filter(|p| !(p.is_finite() && *p > 0.0 && *p < 1.0)) {
        return Err(InputError::new(format!("{p} is not a probability"))
            .source("--prob")
            .expected("0 < P < 1")
            .into());
    }
    let policies = crate::compare::parse_policies(&args.policies)?;
    let bases: Vec<u64> = args
        .files
        .iter()
        .map(|f| liqsim_scenario::load(f, &args.overrides).map(|s| s.seed))
        .collect::<Result<_, _>>()?;
    let overrides_for = |policy: Policy, knob: &Knob, v: f64, seed: u64| {
        let mut o = args.overrides.clone();
        o.push(format!("margin.policy=\"{}\"", policy.name()));
        o.extend(knob.overrides(v));
        o.push(format!("seed={seed}"));
        o
    };
    // Both ends of every policy's range must make valid scenarios.
    for &policy in &policies {
        let knob = Knob::of(policy);
        for (f, base) in args.files.iter().zip(&bases) {
            for v in [knob.low, knob.high] {
                liqsim_scenario::load(f, &overrides_for(policy, &knob, v, *base))?;
            }
        }
    }
    let total = policies.len() * (args.steps as usize + 2) * args.files.len() * args.seeds as usize;
    let bar = progress(total, "target");
    let evaluate = |policy: Policy, knob: &Knob, v: f64| -> Result<Setting, Error> {
        let jobs: Vec<(usize, u64)> =
            (0..args.files.len()).flat_map(|f| (0..args.seeds).map(move |s| (f, s))).collect();
        let runs = liqsim_sweep::execute(
            &jobs,
            threads(args.threads),
            |&(f, s)| {
                let o = overrides_for(policy, knob, v, bases[f].wrapping_add(s));
                let outcome = run(&liqsim_scenario::load(&args.files[f], &o)?)?;
                Ok((
                    outcome.bad_debt.to_f64(),
                    outcome.margin.mean_initial.to_f64(),
                    outcome.margin.peak_initial.to_f64(),
                ))
            },
            |_, _| {
                bar.inc(1);
                Ok(())
            },
        )?;
        let per = args.seeds as usize;
        let mut setting = Setting {
            value: v,
            meets: true,
            mean_bad_debt: Vec::new(),
            share_above: Vec::new(),
            bad_debts: runs.iter().map(|r| r.0).collect(),
            mean_margin: runs.iter().map(|r| r.1).sum::<f64>() / runs.len() as f64,
            peak_margin: runs.iter().map(|r| r.2).sum::<f64>() / runs.len() as f64,
        };
        for chunk in runs.chunks(per) {
            let mean = chunk.iter().map(|r| r.0).sum::<f64>() / per as f64;
            let above = chunk.iter().filter(|r| r.0 > args.bad_debt).count() as f64 / per as f64;
            setting.meets &= match args.prob {
                Some(p) => above <= p,
                None => mean <= args.bad_debt,
            };
            setting.mean_bad_debt.push(mean);
            setting.share_above.push(above);
        }
        Ok(setting)
    };
    let mut results = Vec::new();
    for &policy in &policies {
        let knob = Knob::of(policy);
        let mut settings = vec![evaluate(policy, &knob, knob.high)?];
        if settings[0].meets {
            settings.push(evaluate(policy, &knob, knob.low)?);
            if !settings[1].meets {
                let (mut fail, mut meet) = (knob.scaled(knob.low), knob.scaled(knob.high));
                for _ in 0..args.steps {
                    let v = knob.unscaled((fail + meet) / 2.0);
                    let s = evaluate(policy, &knob, v)?;
                    if s.meets {
                        meet = knob.scaled(v);
                    } else {
                        fail = knob.scaled(v);
                    }
                    settings.push(s);
                }
            }
        }
        settings.sort_by(|a, b| a.value.total_cmp(&b.value));
        let answer = settings.iter().position(|s| s.meets);
        let monotonicity = check_monotone(&settings);
        results.push(PolicyResult { policy, key: knob.key, settings, answer, monotonicity });
    }
    bar.finish();
    Ok(results)
}

/// What the evaluated settings say against the search's assumption: meeting is a step
/// up in the setting, and margin rises with it.
fn check_monotone(settings: &[Setting]) -> Option<String> {
    for w in settings.windows(2) {
        if w[0].meets && !w[1].meets {
            return Some(format!(
                "meets the target at {} but not at the higher {}",
                fmt(w[0].value),
                fmt(w[1].value)
            ));
        }
    }
    for w in settings.windows(2) {
        if w[1].mean_margin < w[0].mean_margin * (1.0 - 1e-9) {
            return Some(format!(
                "mean margin falls from {:.2} at {} to {:.2} at {}",
                w[0].mean_margin,
                fmt(w[0].value),
                w[1].mean_margin,
                fmt(w[1].value)
            ));
        }
    }
    None
}

/// The meeting policy with the least mean margin.
fn cheapest(results: &[PolicyResult]) -> Option<usize> {
    (0..results.len()).filter(|&k| results[k].answer.is_some()).min_by(|&a, &b| {
        let m = |k: usize| {
            results[k].answer.map_or(f64::INFINITY, |i| results[k].settings[i].mean_margin)
        };
        m(a).total_cmp(&m(b))
    })
}

struct Row {
    policy: String,
    key: &'static str,
    setting: Option<f64>,
    mean_margin: Option<f64>,
    peak_margin: Option<f64>,
    bad_debt: Option<(f64, f64, f64)>,
    above: Option<(f64, f64, f64)>,
    evaluations: usize,
    note: String,
}

fn rows(args: &TargetArgs, results: &[PolicyResult]) -> Vec<Row> {
    let best = cheapest(results);
    results
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let chosen = r.answer.map(|i| &r.settings[i]);
            let mut note = match (chosen, best == Some(k)) {
                (Some(_), true) => "meets with the least margin".to_string(),
                (Some(_), false) => "meets".to_string(),
                (None, _) => {
                    format!("no setting up to {} meets the target", fmt(Knob::of(r.policy).high))
                }
            };
            if let Some(m) = &r.monotonicity {
                note.push_str(&format!("; not monotone: {m}"));
            }
            Row {
                policy: r.policy.name().to_string(),
                key: r.key,
                setting: chosen.map(|s| s.value),
                mean_margin: chosen.map(|s| s.mean_margin),
                peak_margin: chosen.map(|s| s.peak_margin),
                bad_debt: chosen.map(|s| bad_debt_interval(&s.bad_debts)),
                above: chosen.and_then(|s| {
                    let above: Vec<bool> = s.bad_debts.iter().map(|&b| b > args.bad_debt).collect();
                    liqsim_sweep::stats::proportion(&above).map(|(p, (lo, hi))| (p, lo, hi))
                }),
                evaluations: r.settings.len(),
                note,
            }
        })
        .collect()
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.decimals$}"))
}

pub fn table(args: &TargetArgs, results: &[PolicyResult]) -> String {
    let mut out = String::new();
    let criterion = match args.prob {
        Some(p) => format!("P(bad debt > {}) <= {p}", args.bad_debt),
        None => format!("mean bad debt <= {}", args.bad_debt),
    };
    let _ = writeln!(
        out,
        "{:<8} {:<26} {:>10} {:>16} {:>16} {:>26} {:>20}  note",
        "policy",
        "parameter",
        "setting",
        "mean margin",
        "peak margin",
        "bad debt mean [95%]",
        "P(> target) [95%]"
    );
    for r in rows(args, results) {
        let debt = r.bad_debt.map_or("-".into(), |(m, lo, hi)| format!("{m:.2} [{lo:.2},{hi:.2}]"));
        let above = r.above.map_or("-".into(), |(p, lo, hi)| format!("{p:.2} [{lo:.2},{hi:.2}]"));
        let _ = writeln!(
            out,
            "{:<8} {:<26} {:>10} {:>16} {:>16} {:>26} {:>20}  {}",
            r.policy,
            r.key,
            r.setting.map_or("-".into(), fmt),
            opt(r.mean_margin, 2),
            opt(r.peak_margin, 2),
            debt,
            above,
            r.note
        );
    }
    let _ = writeln!(
        out,
        "target: {criterion} in each of {} scenario(s), {} seeds each; the lowest meeting setting found, within one of {} bisection steps of the boundary; margin and bad debt in quote units, over every scenario and seed at that setting",
        args.files.len(),
        args.seeds,
        args.steps
    );
    out
}

pub fn csv(args: &TargetArgs, results: &[PolicyResult]) -> String {
    let mut out = String::from(
        "policy,parameter,setting,mean_margin,peak_margin,bad_debt_mean,bad_debt_low,bad_debt_high,p_above,p_above_low,p_above_high,evaluations,meets,least_margin,monotone\n",
    );
    let best = cheapest(results);
    for (k, (r, res)) in rows(args, results).iter().zip(results).enumerate() {
        let (m, lo, hi) =
            r.bad_debt.map_or((None, None, None), |(a, b, c)| (Some(a), Some(b), Some(c)));
        let (p, plo, phi) =
            r.above.map_or((None, None, None), |(a, b, c)| (Some(a), Some(b), Some(c)));
        let o = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.policy,
            r.key,
            r.setting.map_or(String::new(), fmt),
            o(r.mean_margin),
            o(r.peak_margin),
            o(m),
            o(lo),
            o(hi),
            o(p),
            o(plo),
            o(phi),
            r.evaluations,
            res.answer.is_some(),
            best == Some(k),
            res.monotonicity.is_none()
        );
    }
    out
}

pub fn json(args: &TargetArgs, results: &[PolicyResult]) -> String {
    let best = cheapest(results);
    let policies: Vec<serde_json::Value> = rows(args, results)
        .iter()
        .zip(results)
        .map(|(r, res)| {
            let evaluated: Vec<serde_json::Value> = res
                .settings
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "setting": s.value, "meets": s.meets, "mean_margin": s.mean_margin,
                        "mean_bad_debt_by_scenario": s.mean_bad_debt,
                        "share_above_by_scenario": s.share_above,
                    })
                })
                .collect();
            serde_json::json!({
                "policy": r.policy, "parameter": r.key, "setting": r.setting,
                "mean_margin": r.mean_margin, "peak_margin": r.peak_margin,
                "bad_debt": r.bad_debt.map(|(m, lo, hi)| serde_json::json!({"mean": m, "interval": [lo, hi]})),
                "p_above": r.above.map(|(p, lo, hi)| serde_json::json!({"p": p, "interval": [lo, hi]})),
                "monotone": res.monotonicity.is_none(), "monotonicity": res.monotonicity,
                "evaluated": evaluated,
            })
        })
        .collect();
    let v = serde_json::json!({
        "scenarios": args.files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        "bad_debt_target": args.bad_debt,
        "prob": args.prob,
        "seeds": args.seeds,
        "steps": args.steps,
        "least_margin": best.map(|k| results[k].policy.name()),
        "policies": policies,
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}

pub fn html(args: &TargetArgs, results: &[PolicyResult]) -> String {
    let rows = rows(args, results);
    let n = rows.len() as f64;
    let top = rows.iter().filter_map(|r| r.peak_margin).fold(0f64, f64::max).max(1.0) * 1.1;
    let mut chart = Chart::new(
        "margin",
        "Mean and peak initial margin at each policy's cheapest meeting setting",
        Axis::linear("policy", 0.5, n + 0.5),
        Axis::linear("initial margin (quote units)", 0.0, top),
    );
    let labels: Vec<(f64, String)> =
        rows.iter().enumerate().map(|(k, r)| ((k + 1) as f64, r.policy.clone())).collect();
    chart.category_labels(&labels);
    let best = cheapest(results);
    for (k, r) in rows.iter().enumerate() {
        let x = (k + 1) as f64;
        let color = if best == Some(k) { "#1f6feb" } else { "#9aa5b1" };
        if let (Some(mean), Some(peak)) = (r.mean_margin, r.peak_margin) {
            chart.bar(x - 0.3, x + 0.3, 0.0, mean, color, &format!("{}: mean {mean:.2}", r.policy));
            chart.point(x, peak, "#d1242f", 4.0, &format!("{}: peak {peak:.2}", r.policy), None);
        } else {
            chart.text(chart.px(x), chart.py(top * 0.05, false), "does not meet", 12.0);
        }
    }
    let mut body = panel(
        &chart,
        "Bars: mean initial margin over every scenario and seed at the policy's cheapest \
         setting meeting the bad-debt target (blue: the least margin); dots: the peak. A \
         policy with no bar meets the target nowhere in its range.",
    );
    body.push_str("<section class=\"panel\"><table><tr><th>policy</th><th>parameter</th><th>setting</th><th>mean margin</th><th>peak margin</th><th>bad debt mean [95%]</th><th>P(&gt; target) [95%]</th><th>note</th></tr>");
    for r in &rows {
        let debt =
            r.bad_debt.map_or("-".into(), |(m, lo, hi)| format!("{m:.2} [{lo:.2}, {hi:.2}]"));
        let above = r.above.map_or("-".into(), |(p, lo, hi)| format!("{p:.2} [{lo:.2}, {hi:.2}]"));
        let _ = write!(
            body,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{debt}</td><td>{above}</td><td>{}</td></tr>",
            r.policy,
            r.key,
            r.setting.map_or("-".into(), fmt),
            opt(r.mean_margin, 2),
            opt(r.peak_margin, 2),
            escape(&r.note)
        );
    }
    body.push_str("</table></section>\n");
    let criterion = match args.prob {
        Some(p) => format!("P(bad debt &gt; {}) &le; {p}", args.bad_debt),
        None => format!("mean bad debt &le; {}", args.bad_debt),
    };
    let names: Vec<String> = args.files.iter().map(|f| escape(&f.display().to_string())).collect();
    let subtitle = format!(
        "{criterion} in each of {}; {} seeds per scenario and setting",
        names.join(", "),
        args.seeds
    );
    page("Cheapest margin meeting a bad-debt target", &subtitle, &body)
}

pub fn run(args: &TargetArgs) -> CliResult {
    let started = std::time::Instant::now();
    let results = search(args, &crate::engine::run_scenario)?;
    eprintln!("target: {}", crate::progress::resources(started));
    match args.format.as_str() {
        "json" => print!("{}", json(args, &results)),
        "csv" => print!("{}", csv(args, &results)),
        _ => print!("{}", table(args, &results)),
    }
    if let Some(dir) = &args.out {
        let io = |e: std::io::Error, p: &std::path::Path| -> Error {
            InputError::new(format!("cannot write: {e}")).source(p.display().to_string()).into()
        };
        std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
        for (name, text) in [
            ("target.csv", csv(args, &results)),
            ("target.json", json(args, &results)),
            ("target.html", html(args, &results)),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| io(e, &p))?;
        }
        let inputs: Vec<crate::provenance::Input> = args
            .files
            .iter()
            .map(|file| crate::provenance::Input { file, overrides: args.overrides.clone() })
            .collect();
        let flags = serde_json::json!({
            "bad_debt": args.bad_debt,
            "prob": args.prob,
            "seeds": args.seeds,
            "policies": args.policies,
            "steps": args.steps,
            "threads": args.threads,
        });
        crate::provenance::write(dir, "target", &inputs, flags)?;
    }
    Ok(())
}
