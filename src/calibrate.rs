//! `liqsim calibrate SCENARIO --targets TARGETS.toml`: the scenario parameters that make
//! its runs look like a real day.
//!
//! A targets file names statistics of a run with their observed values, tolerances and
//! weights, and the `--set` paths to fit with their bounds. The loss of a setting is
//! `sum_i weight_i ((statistic_i - value_i) / tolerance_i)^2` for each seed, averaged
//! over the seeds; every evaluation runs the same seeds (common random numbers), so two
//! settings differ by the setting alone and the loss is a deterministic function of it.
//! argmin's Nelder-Mead searches the unit cube the bounds map onto (a point outside is
//! evaluated at the nearest point inside and pays for the distance), the seeds of an
//! evaluation run in parallel, and the search stops when the simplex's losses agree or
//! the run budget is spent. With `--out`, every evaluation is appended to
//! `evaluations.csv` as it finishes, so an interrupted calibration resumes where it
//! stopped: the search asks for the same points again and finds them there.

use crate::CliResult;
use crate::sweep::{MAX_THREADS, threads};
use argmin::core::{CostFunction, Executor, State, TerminationReason};
use argmin::solver::neldermead::NelderMead;
use liqsim_core::{Error, InputError};
use liqsim_report::html::{page, panel};
use liqsim_report::svg::{Axis, Chart, escape};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Targets file (TOML): `[[targets]]` statistics to match, `[[parameters]]` to fit.
    #[arg(long)]
    pub targets: PathBuf,
    /// Seeds per evaluation, the same at every one: the scenario's seed, seed+1, ...
    /// (default: the targets file's `seeds`, else 8).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub seeds: Option<u64>,
    /// Most runs in all, evaluations x seeds (default: the targets file's `max_runs`,
    /// else 300).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_runs: Option<u64>,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS))]
    pub threads: Option<u64>,
    /// Override a field for every run: `--set liquidation.fee=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Write calibrated.toml, evaluations.csv, calibrate.json and calibrate.html here
    /// (and resume from its evaluations.csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargets {
    seeds: Option<u64>,
    max_runs: Option<u64>,
    #[serde(default)]
    targets: Vec<RawTarget>,
    #[serde(default)]
    parameters: Vec<RawParameter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    statistic: String,
    value: f64,
    tolerance: Option<f64>,
    weight: Option<f64>,
    from: Option<String>,
    to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParameter {
    path: String,
    min: f64,
    max: f64,
    start: Option<f64>,
    #[serde(default)]
    integer: bool,
}

/// What a target measures in one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Statistic {
    /// A numeric field of the run summary, by its path (`liquidations.long_share`).
    Field(String),
    /// Share of the liquidated notional in `[from, to)`: UTC nanoseconds in a dated run.
    WindowShare { from_ns: u64, to_ns: u64 },
    /// Correlation of the liquidated notional per replayed bar with the bar's traded
    /// volume (the replay's `quote_volume`, else `volume`).
    VolumeCorrelation,
    /// The insurance fund's lowest balance.
    FundMinimum,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub statistic: Statistic,
    pub value: f64,
    pub tolerance: f64,
    pub weight: f64,
}

#[derive(Debug, Clone)]
pub struct Parameter {
    pub path: String,
    pub min: f64,
    pub max: f64,
    pub start: f64,
    pub integer: bool,
}

impl Parameter {
    /// Decimals a setting keeps: a ten-thousandth of the range, so that settings read
    /// well, write exactly and the search does not chase differences below that.
    fn decimals(&self) -> usize {
        let step = (self.max - self.min) / 10_000.0;
        if self.integer || step.is_nan() || step <= 0.0 {
            0
        } else {
            (-step.log10()).ceil().clamp(0.0, 15.0) as usize
        }
    }

    /// The setting at `u` in [0, 1] (clamped), to its decimals.
    fn at(&self, u: f64) -> f64 {
        let v = self.min + u.clamp(0.0, 1.0) * (self.max - self.min);
        let text = format!("{v:.*}", self.decimals());
        text.parse().unwrap_or(v)
    }

    fn unit(&self, v: f64) -> f64 {
        if self.max > self.min { (v - self.min) / (self.max - self.min) } else { 0.5 }
    }

    fn format(&self, v: f64) -> String {
        format!("{v:.*}", self.decimals())
    }
}

/// A parsed targets file.
#[derive(Debug, Clone)]
pub struct Targets {
    pub seeds: u64,
    pub max_runs: u64,
    pub targets: Vec<Target>,
    pub parameters: Vec<Parameter>,
}

/// One evaluated setting: each target's statistic for each seed, and the loss.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub values: Vec<f64>,
    /// `per_seed[s][i]`: target i's statistic on seed s.
    pub per_seed: Vec<Vec<f64>>,
    pub loss: f64,
}

/// The result of a calibration.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub scenario: String,
    pub targets: Targets,
    /// Every evaluation in the order the search asked for it.
    pub evaluations: Vec<Evaluation>,
    /// Index of the best one.
    pub best: usize,
    /// Why the search ended.
    pub stopped: &'static str,
}

fn input(source: &Path, text: &str, key: &str, message: String) -> Error {
    let mut e = InputError::new(message).source(source.display().to_string()).key(key);
    if let Some((line, column)) = locate(text, key) {
        e = e.at(line, column);
    }
    e.into()
}

fn locate(text: &str, key: &str) -> Option<(usize, usize)> {
    let doc = toml_edit::Document::parse(text.to_string()).ok()?;
    let span = liqsim_scenario::locate::span_of_path(&doc, key, false)?;
    Some(liqsim_scenario::locate::line_col(text, span.start))
}

/// Reads and checks a targets file; `scenario` is the loaded scenario the statistics
/// are taken from (a volume correlation needs a replay with volumes).
pub fn load_targets(
    path: &Path,
    scenario: &liqsim_scenario::Scenario,
    file: &Path,
    overrides: &[String],
) -> Result<Targets, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::from(
            InputError::new(format!("cannot read the targets file: {e}"))
                .source(path.display().to_string()),
        )
    })?;
    let raw: RawTargets = toml::from_str(&text).map_err(|e| {
        let mut err = InputError::new(e.message().to_string()).source(path.display().to_string());
        if let Some(span) = e.span() {
            let (line, column) = liqsim_scenario::locate::line_col(&text, span.start);
            err = err.at(line, column);
        }
        Error::from(err)
    })?;
    let bad = |key: &str, message: String| input(path, &text, key, message);
    if raw.targets.is_empty() {
        return Err(bad("targets", "no [[targets]]: nothing to calibrate against".into()));
    }
    if raw.parameters.is_empty() {
        return Err(bad("parameters", "no [[parameters]]: nothing to calibrate".into()));
    }
    if raw.parameters.len() > MAX_PARAMETERS {
        return Err(bad(
            "parameters",
            format!(
                "{} parameters; at most {MAX_PARAMETERS} can be fitted at once",
                raw.parameters.len()
            ),
        ));
    }
    let seeds = raw.seeds.unwrap_or(8);
    if !(1..=10_000).contains(&seeds) {
        return Err(bad("seeds", format!("{seeds} is out of range (1 <= seeds <= 10000)")));
    }
    let max_runs = raw.max_runs.unwrap_or(300);
    if !(1..=10_000_000).contains(&max_runs) {
        return Err(bad(
            "max_runs",
            format!("{max_runs} is out of range (1 <= max_runs <= 10000000)"),
        ));
    }
    let volumes = match &scenario.market.process {
        liqsim_scenario::Process::Replay { activity, .. } => activity.iter().any(|v| *v > 0.0),
        liqsim_scenario::Process::Parametric { .. } => false,
    };
    let mut targets = Vec::with_capacity(raw.targets.len());
    for (i, t) in raw.targets.into_iter().enumerate() {
        let key = |k: &str| format!("targets[{i}].{k}");
        if !t.value.is_finite() {
            return Err(bad(&key("value"), "the observed value must be a finite number".into()));
        }
        let tolerance = t.tolerance.unwrap_or((0.1 * t.value.abs()).max(1e-9));
        if !(tolerance.is_finite() && tolerance > 0.0) {
            return Err(bad(&key("tolerance"), format!("{tolerance} must be a number > 0")));
        }
        let weight = t.weight.unwrap_or(1.0);
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(bad(&key("weight"), format!("{weight} must be a number >= 0")));
        }
        let windowed = t.from.is_some() || t.to.is_some();
        let statistic = match t.statistic.as_str() {
            "window_share" => {
                let stamp = |k: &str, text: &Option<String>| -> Result<u64, Error> {
                    let text = text.as_deref().ok_or_else(|| {
                        bad(&key("statistic"), format!("`window_share` needs `{k}`"))
                    })?;
                    liqsim_core::time::parse_timestamp(text).ok_or_else(|| {
                        bad(
                            &key(k),
                            format!("`{text}` is not a UTC time such as 2025-10-10T20:50:00Z"),
                        )
                    })
                };
                let (from_ns, to_ns) = (stamp("from", &t.from)?, stamp("to", &t.to)?);
                if to_ns <= from_ns {
                    return Err(bad(&key("to"), "the window must end after it starts".into()));
                }
                if scenario.start_utc_ns.is_none() {
                    return Err(bad(
                        &key("statistic"),
                        "`window_share` needs a dated run: a replay, or a scenario `start`".into(),
                    ));
                }
                Statistic::WindowShare { from_ns, to_ns }
            }
            "volume_correlation" if !volumes => {
                return Err(bad(
                    &key("statistic"),
                    "`volume_correlation` needs a replay whose file has a `quote_volume` or \
                     `volume` column"
                        .into(),
                ));
            }
            "volume_correlation" => Statistic::VolumeCorrelation,
            "fund_minimum" => Statistic::FundMinimum,
            path if liqsim_scenario::locate::parse_path(path).is_some() => {
                Statistic::Field(path.to_string())
            }
            other => {
                return Err(bad(
                    &key("statistic"),
                    format!(
                        "`{other}` is not a statistic: window_share, volume_correlation, \
                         fund_minimum, or the path of a numeric field of the run summary \
                         (`liquidations.long_share`)"
                    ),
                ));
            }
        };
        if windowed && !matches!(statistic, Statistic::WindowShare { .. }) {
            return Err(bad(&key("from"), "`from` and `to` belong to `window_share`".into()));
        }
        targets.push(Target { name: t.statistic, statistic, value: t.value, tolerance, weight });
    }
    let mut parameters = Vec::with_capacity(raw.parameters.len());
    for (i, p) in raw.parameters.into_iter().enumerate() {
        let key = |k: &str| format!("parameters[{i}].{k}");
        if !(p.min.is_finite() && p.max.is_finite() && p.min < p.max) {
            return Err(bad(
                &key("max"),
                format!("need finite min < max, got {} and {}", p.min, p.max),
            ));
        }
        let start = p.start.unwrap_or((p.min + p.max) / 2.0);
        if !(p.min..=p.max).contains(&start) {
            return Err(bad(&key("start"), format!("{start} is outside [{}, {}]", p.min, p.max)));
        }
        if parameters.iter().any(|q: &Parameter| q.path == p.path) {
            return Err(bad(&key("path"), format!("`{}` is listed twice", p.path)));
        }
        let parameter =
            Parameter { path: p.path, min: p.min, max: p.max, start, integer: p.integer };
        // Both bounds must make a valid scenario: the scenario's own validation names
        // the key and its range.
        // The path at the start first (a key that does not exist is the path's fault),
        // then each bound.
        let points = [("path", parameter.start), ("min", parameter.min), ("max", parameter.max)];
        for (name, bound) in points {
            let mut o = overrides.to_vec();
            let setting = parameter.format(parameter.at(parameter.unit(bound)));
            o.push(format!("{}={setting}", parameter.path));
            liqsim_scenario::load(file, &o)
                .map_err(|e| bad(&key(name), format!("at {} = {bound}: {e}", parameter.path)))?;
        }
        parameters.push(parameter);
    }
    Ok(Targets { seeds, max_runs, targets, parameters })
}

/// Each target's statistic in one run.
fn statistics(
    targets: &[Target],
    outcome: &liqsim_sim::Outcome,
    scenario: &liqsim_scenario::Scenario,
) -> Result<Vec<f64>, Error> {
    let summary: serde_json::Value = serde_json::from_str(&liqsim_report::summary_json(outcome))
        .map_err(|e| Error::Internal(format!("summary JSON: {e}")))?;
    let log = &outcome.liquidation_log;
    let total: f64 = log.iter().map(|r| r.notional.to_f64()).sum();
    targets
        .iter()
        .map(|t| {
            let value = match &t.statistic {
                Statistic::Field(path) => field(&summary, path),
                Statistic::FundMinimum => Some(outcome.insurance_fund.min.to_f64()),
                Statistic::WindowShare { from_ns, to_ns } => {
                    let start = scenario.start_utc_ns.unwrap_or(0);
                    let inside: f64 = log
                        .iter()
                        .filter(|r| {
                            let t = start.saturating_add(r.time.nanos());
                            (*from_ns..*to_ns).contains(&t)
                        })
                        .map(|r| r.notional.to_f64())
                        .sum();
                    Some(if total > 0.0 { inside / total } else { 0.0 })
                }
                Statistic::VolumeCorrelation => volume_correlation(outcome, scenario),
            };
            value.filter(|v| v.is_finite()).ok_or_else(|| {
                Error::from(
                    InputError::new(format!(
                        "statistic `{}` is not a number in the run of seed {}",
                        t.name, scenario.seed
                    ))
                    .expected(
                        "a numeric field of the run summary (see `liqsim run --format json`)",
                    ),
                )
            })
        })
        .collect()
}

fn field(summary: &serde_json::Value, path: &str) -> Option<f64> {
    let mut v = summary;
    for segment in liqsim_scenario::locate::parse_path(path)? {
        v = match segment {
            liqsim_scenario::locate::Segment::Key(k) => v.get(k.as_str())?,
            liqsim_scenario::locate::Segment::Index(i) => v.get(i)?,
        };
    }
    v.as_f64()
}

fn volume_correlation(
    outcome: &liqsim_sim::Outcome,
    scenario: &liqsim_scenario::Scenario,
) -> Option<f64> {
    let liqsim_scenario::Process::Replay { bars, activity, .. } = &scenario.market.process else {
        return None;
    };
    let mut per_bar = vec![0.0; activity.len()];
    for r in &outcome.liquidation_log {
        let t = r.time.nanos();
        let k = bars.partition_point(|b| b.time_ns <= t).checked_sub(1)?;
        if let Some(slot) = per_bar.get_mut(k) {
            *slot += r.notional.to_f64();
        }
    }
    Some(pearson(&per_bar, activity))
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    // No liquidation at all is no correlation, not an undefined one.
    if va == 0.0 || vb == 0.0 { 0.0 } else { cov / (va * vb).sqrt() }
}

fn loss_of(targets: &[Target], per_seed: &[Vec<f64>]) -> f64 {
    let seeds = per_seed.len().max(1) as f64;
    per_seed
        .iter()
        .map(|stats| {
            targets
                .iter()
                .zip(stats)
                .map(|(t, x)| t.weight * ((x - t.value) / t.tolerance).powi(2))
                .sum::<f64>()
        })
        .sum::<f64>()
        / seeds
}

/// What the search needs: the runs, the budget, the evaluations so far and those found in
/// a resumed output directory.
struct Search<'a> {
    file: &'a Path,
    overrides: &'a [String],
    base_seed: u64,
    threads: usize,
    targets: &'a Targets,
    budget: usize,
    resumed: &'a BTreeMap<String, Evaluation>,
    log: &'a Mutex<Vec<Evaluation>>,
    failure: &'a Mutex<Option<Error>>,
    on_evaluation: &'a (dyn Fn(&Evaluation) -> Result<(), Error> + Sync),
}

/// The key of a setting: its values as written to `--set`.
fn key_of(parameters: &[Parameter], values: &[f64]) -> String {
    parameters.iter().zip(values).map(|(p, v)| p.format(*v)).collect::<Vec<_>>().join(",")
}

impl Search<'_> {
    /// The evaluations of `points`, and whether each was run now (not found in a resumed
    /// directory): every (point, seed) run of those not found in one parallel batch.
    fn evaluate_many(&self, points: &[Vec<f64>]) -> Result<Vec<(Evaluation, bool)>, Error> {
        let p = &self.targets.parameters;
        let seeds = self.targets.seeds;
        let missing: Vec<usize> = (0..points.len())
            .filter(|&k| !self.resumed.contains_key(&key_of(p, &points[k])))
            .collect();
        let jobs: Vec<(usize, u64)> = missing
            .iter()
            .flat_map(|&k| (0..seeds).map(move |s| (k, self.base_seed.wrapping_add(s))))
            .collect();
        let stats = liqsim_sweep::execute(
            &jobs,
            self.threads,
            |&(k, seed)| {
                let mut o = self.overrides.to_vec();
                o.extend(
                    p.iter().zip(&points[k]).map(|(p, v)| format!("{}={}", p.path, p.format(*v))),
                );
                o.push(format!("seed={seed}"));
                let scenario = liqsim_scenario::load(self.file, &o)?;
                let outcome = crate::engine::run_scenario(&scenario)?;
                statistics(&self.targets.targets, &outcome, &scenario)
            },
            |_, _| Ok(()),
        )?;
        let mut fresh = stats.chunks(seeds as usize);
        points
            .iter()
            .map(|values| {
                if let Some(known) = self.resumed.get(&key_of(p, values)) {
                    return Ok((known.clone(), false));
                }
                let per_seed = fresh
                    .next()
                    .ok_or_else(|| Error::Internal("calibration batch came back short".into()))?
                    .to_vec();
                let loss = loss_of(&self.targets.targets, &per_seed);
                Ok((Evaluation { values: values.clone(), per_seed, loss }, true))
            })
            .collect()
    }

    /// Records evaluations in the search's order, telling `on_evaluation` of new ones.
    fn record(&self, done: Vec<(Evaluation, bool)>) -> Result<(), Error> {
        for (e, fresh) in done {
            if fresh {
                (self.on_evaluation)(&e)?;
            }
            if let Ok(mut log) = self.log.lock() {
                log.push(e);
            }
        }
        Ok(())
    }

    /// The loss of a setting evaluated already in this search.
    fn known(&self, values: &[f64]) -> Option<f64> {
        let key = key_of(&self.targets.parameters, values);
        let log = self.log.lock().ok()?;
        log.iter().find(|e| key_of(&self.targets.parameters, &e.values) == key).map(|e| e.loss)
    }
}

/// The search as argmin's problem, borrowed so that the simplex can restart on it.
struct Cost<'s, 'a>(&'s Search<'a>);

impl CostFunction for Cost<'_, '_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, u: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        self.0.cost(u)
    }
}

impl Search<'_> {
    fn cost(&self, u: &[f64]) -> Result<f64, argmin::core::Error> {
        let spent = self.log.lock().map(|l| l.len()).unwrap_or(usize::MAX);
        if spent >= self.budget {
            return Err(argmin::core::Error::msg("run budget spent"));
        }
        let p = &self.targets.parameters;
        let values: Vec<f64> = p.iter().zip(u).map(|(p, &x)| p.at(x)).collect();
        // Outside the cube: the nearest point inside, plus the squared distance, so the
        // simplex is pushed back in.
        let outside: f64 = u.iter().map(|&x| (x - x.clamp(0.0, 1.0)).powi(2)).sum();
        let loss = match self.known(&values) {
            Some(loss) => loss,
            None => {
                let done = self.evaluate_many(&[values]).map_err(|err| self.fail(err))?;
                let loss = done.first().map_or(f64::INFINITY, |(e, _)| e.loss);
                self.record(done).map_err(|err| self.fail(err))?;
                loss
            }
        };
        Ok(loss + outside * (1.0 + loss))
    }
}

impl Search<'_> {
    fn fail(&self, err: Error) -> argmin::core::Error {
        let message = err.to_string();
        if let Ok(mut slot) = self.failure.lock() {
            slot.get_or_insert(err);
        }
        argmin::core::Error::msg(message)
    }
}

/// Runs the calibration; `on_evaluation` sees each new evaluation as it finishes.
pub fn calibrate(
    args: &CalibrateArgs,
    base: &liqsim_scenario::Scenario,
    targets: Targets,
    resumed: BTreeMap<String, Evaluation>,
    on_evaluation: &(dyn Fn(&Evaluation) -> Result<(), Error> + Sync),
) -> Result<Calibration, Error> {
    let budget = (targets.max_runs / targets.seeds).max(1) as usize;
    let log = Mutex::new(Vec::new());
    let failure = Mutex::new(None);
    let search = Search {
        file: &args.file,
        overrides: &args.overrides,
        base_seed: base.seed,
        threads: threads(args.threads),
        targets: &targets,
        budget,
        resumed: &resumed,
        log: &log,
        failure: &failure,
        on_evaluation,
    };
    // A space-filling first look (the start and Halton points over the ranges, in one
    // parallel batch): capacity limits make these losses many-valleyed, and a simplex
    // started in the wrong valley stays there. The simplex starts at the best of them,
    // with a step of a sixth of each range (inward from a bound).
    let p = &targets.parameters;
    let d = p.len();
    let start: Vec<f64> = p.iter().map(|p| p.unit(p.start)).collect();
    let design = (2 * d + 2).min(budget / 3);
    let mut points = vec![start];
    points.extend((1..design as u64).map(|k| (0..d).map(|i| halton(k, PRIMES[i])).collect()));
    let values: Vec<Vec<f64>> =
        points.iter().map(|u| p.iter().zip(u).map(|(p, &x)| p.at(x)).collect()).collect();
    search.evaluate_many(&values).and_then(|done| search.record(done))?;
    // Simplexes from the best of the first look, then from the user's start, then from
    // the other points of the first look by loss, each until its losses agree, while the
    // budget lasts: one valley found is not the best valley.
    let mut starts: Vec<usize> = (0..points.len()).collect();
    {
        let log = log.lock().map_err(|_| Error::Internal("calibration log".into()))?;
        starts.sort_by(|&a, &b| log[a].loss.total_cmp(&log[b].loss).then(a.cmp(&b)));
    }
    if let Some(k) = starts.iter().position(|&k| k == 0).filter(|&k| k > 1) {
        let user = starts.remove(k);
        starts.insert(1, user);
    }
    let mut converged = Ok(false);
    for &k in &starts {
        if log.lock().map(|l| l.len()).unwrap_or(budget) >= budget {
            break;
        }
        let corner = points[k].clone();
        let mut simplex = vec![corner.clone()];
        for i in 0..d {
            let mut vertex = corner.clone();
            vertex[i] += if corner[i] + STEP <= 1.0 { STEP } else { -STEP };
            simplex.push(vertex);
        }
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-4)
            .map_err(|e| Error::Internal(format!("Nelder-Mead: {e}")))?;
        let result = Executor::new(Cost(&search), solver)
            .configure(|state| state.max_iters(budget as u64 * 2))
            .timer(false)
            .run();
        converged = match &result {
            Ok(done) => Ok(matches!(
                done.state().get_termination_reason(),
                Some(TerminationReason::SolverConverged)
            )),
            Err(e) => Err(e.to_string()),
        };
        if converged.is_err() {
            break;
        }
    }
    if let Some(err) = failure.into_inner().ok().flatten() {
        return Err(err);
    }
    let evaluations = log.into_inner().unwrap_or_default();
    let stopped = match converged {
        _ if evaluations.len() >= budget => "the run budget is spent",
        Ok(true) => "every start's simplex converged",
        Ok(false) => "the iteration limit is reached",
        Err(e) => return Err(Error::Internal(format!("calibration search: {e}"))),
    };
    let best = (0..evaluations.len())
        .min_by(|&a, &b| evaluations[a].loss.total_cmp(&evaluations[b].loss))
        .ok_or_else(|| Error::Internal("calibration evaluated nothing".into()))?;
    Ok(Calibration {
        scenario: args.file.display().to_string(),
        targets,
        evaluations,
        best,
        stopped,
    })
}

/// Mean and 95% t-interval of `xs` (the mean alone for a single seed).
fn interval(xs: &[f64]) -> (f64, f64, f64) {
    match liqsim_sweep::summarize(xs) {
        Some(s) => {
            let (lo, hi) = s.ci95.unwrap_or((s.mean, s.mean));
            (s.mean, lo, hi)
        }
        None => (f64::NAN, f64::NAN, f64::NAN),
    }
}

impl Calibration {
    fn best(&self) -> &Evaluation {
        &self.evaluations[self.best]
    }

    fn runs(&self) -> u64 {
        self.evaluations.len() as u64 * self.targets.seeds
    }

    /// Target i's statistic at the best setting: mean and 95% interval over the seeds.
    fn fitted(&self, i: usize) -> (f64, f64, f64) {
        let xs: Vec<f64> = self.best().per_seed.iter().map(|s| s[i]).collect();
        interval(&xs)
    }

    fn set_flags(&self) -> Vec<String> {
        let p = &self.targets.parameters;
        p.iter()
            .zip(&self.best().values)
            .map(|(p, v)| format!("{}={}", p.path, p.format(*v)))
            .collect()
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let b = self.best();
        let _ = writeln!(
            out,
            "calibration of {} over {} seeds: {} evaluations ({} runs); stopped: {}",
            self.scenario,
            self.targets.seeds,
            self.evaluations.len(),
            self.runs(),
            self.stopped
        );
        let _ = writeln!(
            out,
            "loss {:.4} at evaluation {} (the start: {:.4})\n",
            b.loss,
            self.best + 1,
            self.evaluations[0].loss
        );
        let _ = writeln!(out, "{:<36} {:>14}   range", "parameter", "fitted");
        for (p, v) in self.targets.parameters.iter().zip(&b.values) {
            let _ = writeln!(out, "{:<36} {:>14}   {}..{}", p.path, p.format(*v), p.min, p.max);
        }
        let _ = writeln!(
            out,
            "\n{:<36} {:>12} {:>10} {:>12}   95% interval over seeds",
            "target", "observed", "tolerance", "fitted"
        );
        for (i, t) in self.targets.targets.iter().enumerate() {
            let (mean, lo, hi) = self.fitted(i);
            let _ = writeln!(
                out,
                "{:<36} {:>12.4} {:>10.4} {:>12.4}   {lo:.4}..{hi:.4}",
                t.name, t.value, t.tolerance, mean
            );
        }
        let flags: Vec<String> = self.set_flags().iter().map(|f| format!("--set {f}")).collect();
        let _ = writeln!(out, "\n{}", flags.join(" "));
        out
    }

    pub fn json(&self) -> String {
        let b = self.best();
        let parameters: Vec<serde_json::Value> = self
            .targets
            .parameters
            .iter()
            .zip(&b.values)
            .map(|(p, v)| {
                serde_json::json!({"path": p.path, "value": v, "min": p.min, "max": p.max})
            })
            .collect();
        let targets: Vec<serde_json::Value> = self
            .targets
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let (mean, lo, hi) = self.fitted(i);
                serde_json::json!({
                    "statistic": t.name, "observed": t.value, "tolerance": t.tolerance,
                    "weight": t.weight, "fitted": mean, "interval": [lo, hi],
                })
            })
            .collect();
        let history: Vec<f64> = self.evaluations.iter().map(|e| e.loss).collect();
        let v = serde_json::json!({
            "scenario": self.scenario,
            "seeds": self.targets.seeds,
            "evaluations": self.evaluations.len(),
            "runs": self.runs(),
            "stopped": self.stopped,
            "loss": b.loss,
            "best_evaluation": self.best + 1,
            "parameters": parameters,
            "targets": targets,
            "loss_by_evaluation": history,
            "set": self.set_flags(),
        });
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    }

    /// The fitted values as TOML: a table of the `--set` paths, and the flags.
    pub fn snippet(&self, targets_file: &Path) -> String {
        let b = self.best();
        let mut out = format!(
            "# Fitted by `liqsim calibrate {} --targets {}` over {} seeds: loss {:.4} after {} \
             evaluations.\n# As flags: {}\n[calibrated]\n",
            self.scenario,
            targets_file.display(),
            self.targets.seeds,
            b.loss,
            self.evaluations.len(),
            self.set_flags().iter().map(|f| format!("--set {f}")).collect::<Vec<_>>().join(" ")
        );
        for (p, v) in self.targets.parameters.iter().zip(&b.values) {
            let _ = writeln!(out, "\"{}\" = {}", p.path, p.format(*v));
        }
        out
    }

    pub fn html(&self) -> String {
        let n = self.evaluations.len() as f64;
        let losses: Vec<f64> = self.evaluations.iter().map(|e| e.loss).collect();
        let (lo, hi) = losses.iter().fold((f64::INFINITY, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
        let y = if lo > 0.0 && hi / lo > 100.0 {
            Axis::log("loss", lo, hi)
        } else {
            Axis::linear("loss", 0.0, hi.max(1e-12) * 1.05)
        };
        let mut chart = Chart::new(
            "loss",
            "Loss by evaluation",
            Axis::linear("evaluation", 1.0, n.max(2.0)),
            y,
        );
        let each: Vec<(f64, Option<f64>)> =
            losses.iter().enumerate().map(|(k, l)| ((k + 1) as f64, Some(*l))).collect();
        let mut best = f64::INFINITY;
        let running: Vec<(f64, Option<f64>)> = losses
            .iter()
            .enumerate()
            .map(|(k, l)| {
                best = best.min(*l);
                ((k + 1) as f64, Some(best))
            })
            .collect();
        chart.line("loss of each evaluation", &each, "#9aa5b1", false, false);
        chart.line("best so far", &running, "#1f6feb", false, false);
        let m = self.targets.targets.len();
        let errors: Vec<(f64, f64, f64)> = (0..m)
            .map(|i| {
                let t = &self.targets.targets[i];
                let (mean, lo, hi) = self.fitted(i);
                let z = |x: f64| (x - t.value) / t.tolerance;
                (z(mean), z(lo), z(hi))
            })
            .collect();
        let reach = errors.iter().fold(1.5f64, |r, e| r.max(e.1.abs()).max(e.2.abs())) * 1.1;
        let mut fit = Chart::new(
            "targets",
            "Each target: fitted minus observed, in tolerances (95% interval over seeds)",
            Axis::linear("target", 0.5, m as f64 + 0.5),
            Axis::linear("fitted - observed (tolerances)", -reach, reach),
        );
        fit.hline(0.0, "#444");
        let labels: Vec<(f64, String)> = self
            .targets
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| ((i + 1) as f64, t.name.clone()))
            .collect();
        fit.category_labels(&labels);
        for (i, (z, zl, zh)) in errors.iter().enumerate() {
            let x = (i + 1) as f64;
            let t = &self.targets.targets[i];
            fit.errorbar(x, *zl, *zh, "#1f6feb", &format!("{}: interval", t.name));
            fit.point(x, *z, "#1f6feb", 5.0, &format!("{}: {z:.2} tolerances", t.name), None);
        }
        let mut body = panel(
            &chart,
            "The loss of every setting the search evaluated, in order, and the best so far. \
             Every evaluation runs the same seeds, so the loss is a deterministic function of \
             the setting.",
        );
        body.push_str(&panel(
            &fit,
            "Zero is a perfect fit; one is a miss by one tolerance. Bars are 95% t-intervals \
             of the statistic over the seeds at the fitted setting.",
        ));
        body.push_str("<section class=\"panel\"><h2>Fitted setting</h2><table><tr><th>parameter</th><th>fitted</th><th>range</th></tr>");
        for (p, v) in self.targets.parameters.iter().zip(&self.best().values) {
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td>{} to {}</td></tr>",
                escape(&p.path),
                p.format(*v),
                p.min,
                p.max
            );
        }
        body.push_str("</table><h2>Targets</h2><table><tr><th>statistic</th><th>observed</th><th>tolerance</th><th>fitted</th><th>95% interval</th></tr>");
        for (i, t) in self.targets.targets.iter().enumerate() {
            let (mean, lo, hi) = self.fitted(i);
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{:.4}</td><td>{:.4}</td><td>{mean:.4}</td><td>{lo:.4} to {hi:.4}</td></tr>",
                escape(&t.name),
                t.value,
                t.tolerance
            );
        }
        body.push_str("</table></section>\n");
        let subtitle = format!(
            "{} over {} seeds per setting: {} evaluations ({} runs), loss {:.4}; stopped: {}",
            escape(&self.scenario),
            self.targets.seeds,
            self.evaluations.len(),
            self.runs(),
            self.best().loss,
            self.stopped
        );
        page("Calibration", &subtitle, &body)
    }
}

/// evaluations.csv: one line per evaluation, every seed's statistics, so that a resumed
/// calibration finds them again exactly (floats written in their shortest exact form).
fn csv_header(t: &Targets, identity: &str) -> String {
    let mut h = vec!["evaluation".to_string()];
    h.extend(t.parameters.iter().map(|p| p.path.clone()));
    h.push("loss".into());
    for i in 0..t.targets.len() {
        for s in 0..t.seeds {
            h.push(format!("target{i}_seed{s}"));
        }
    }
    format!("# liqsim calibrate {identity}\n{}\n", h.join(","))
}

fn csv_row(index: usize, e: &Evaluation) -> String {
    let mut f = vec![index.to_string()];
    f.extend(e.values.iter().map(|v| format!("{v}")));
    f.push(format!("{}", e.loss));
    let targets = e.per_seed.first().map_or(0, |s| s.len());
    for i in 0..targets {
        f.extend(e.per_seed.iter().map(|s| format!("{}", s[i])));
    }
    format!("{}\n", f.join(","))
}

/// What identifies a calibration for resuming: the scenario and targets files' text, the
/// overrides and the seeds.
fn identity(args: &CalibrateArgs, targets: &Targets) -> Result<String, Error> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| {
            Error::from(
                InputError::new(format!("cannot read: {e}")).source(p.display().to_string()),
            )
        })
    };
    let mut d = liqsim_sim::Digest::new();
    d.bytes(&read(&args.file)?);
    d.bytes(&read(&args.targets)?);
    for o in &args.overrides {
        d.bytes(o.as_bytes());
    }
    d.u64(targets.seeds);
    Ok(format!("{:032x}", d.finish()))
}

/// The evaluations a previous run of the same calibration left in `path`, in file order.
fn resume(path: &Path, header: &str, t: &Targets) -> Result<Vec<Evaluation>, Error> {
    let mut out = Vec::new();
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(out) };
    let stale = || {
        Error::from(
            InputError::new(
                "this directory holds another calibration (its scenario, targets, overrides \
                 or seeds differ): choose another --out or remove evaluations.csv",
            )
            .source(path.display().to_string())
            .at(1, 1),
        )
    };
    if !text.starts_with(header) {
        return Err(stale());
    }
    let (np, nt, ns) = (t.parameters.len(), t.targets.len(), t.seeds as usize);
    for line in text[header.len()..].lines() {
        let fields: Result<Vec<f64>, _> = line.split(',').skip(1).map(str::parse::<f64>).collect();
        let fields = match fields {
            Ok(f) if f.len() == np + 1 + nt * ns => f,
            // A line cut short by an interruption: the evaluation runs again.
            _ => continue,
        };
        let values = fields[..np].to_vec();
        let per_seed =
            (0..ns).map(|s| (0..nt).map(|i| fields[np + 1 + i * ns + s]).collect()).collect();
        out.push(Evaluation { values, per_seed, loss: fields[np] });
    }
    Ok(out)
}

pub fn run(args: &CalibrateArgs) -> CliResult {
    let started = std::time::Instant::now();
    let base = liqsim_scenario::load(&args.file, &args.overrides)?;
    let mut targets = load_targets(&args.targets, &base, &args.file, &args.overrides)?;
    if let Some(seeds) = args.seeds {
        targets.seeds = seeds;
    }
    if let Some(max_runs) = args.max_runs {
        targets.max_runs = max_runs;
    }
    let io = |e: std::io::Error, p: &Path| -> Error {
        InputError::new(format!("cannot write: {e}")).source(p.display().to_string()).into()
    };
    let mut resumed = BTreeMap::new();
    let writer: Option<(PathBuf, Mutex<std::fs::File>)> = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| io(e, dir))?;
            let path = dir.join("evaluations.csv");
            let header = csv_header(&targets, &identity(args, &targets)?);
            let kept = resume(&path, &header, &targets)?;
            // Rewritten without a line an interruption cut short.
            let mut text = header.clone();
            for (k, e) in kept.iter().enumerate() {
                text.push_str(&csv_row(k + 1, e));
            }
            if !kept.is_empty() {
                eprintln!("resuming: {} evaluations found done in {}", kept.len(), path.display());
            }
            resumed =
                kept.into_iter().map(|e| (key_of(&targets.parameters, &e.values), e)).collect();
            std::fs::write(&path, text).map_err(|e| io(e, &path))?;
            let file =
                std::fs::OpenOptions::new().append(true).open(&path).map_err(|e| io(e, &path))?;
            Some((path, Mutex::new(file)))
        }
        None => None,
    };
    let written = std::sync::atomic::AtomicUsize::new(resumed.len());
    let bar = crate::progress::Progress::new(
        (targets.max_runs / targets.seeds).max(1),
        &base.name,
        "evaluations",
    );
    let on_evaluation = |e: &Evaluation| -> Result<(), Error> {
        bar.inc(1);
        if let Some((path, file)) = &writer {
            use std::io::Write as _;
            let k = written.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let mut f = file.lock().map_err(|_| Error::Internal("evaluations.csv lock".into()))?;
            f.write_all(csv_row(k, e).as_bytes()).map_err(|err| io(err, path))?;
        }
        Ok(())
    };
    let c = calibrate(args, &base, targets, resumed, &on_evaluation)?;
    bar.finish();
    eprintln!("calibration: {}", crate::progress::resources(started));
    match args.format.as_str() {
        "json" => print!("{}", c.json()),
        _ => print!("{}", c.table()),
    }
    if let Some(dir) = &args.out {
        let write = |name: &str, text: String| -> Result<(), Error> {
            let p = dir.join(name);
            std::fs::write(&p, text).map_err(|e| io(e, &p))
        };
        write("calibrated.toml", c.snippet(&args.targets))?;
        write("calibrate.json", c.json())?;
        write("calibrate.html", c.html())?;
        let input =
            crate::provenance::Input { file: &args.file, overrides: args.overrides.clone() };
        let flags = serde_json::json!({
            "targets": args.targets.display().to_string(),
            "seeds": args.seeds,
            "max_runs": args.max_runs,
            "threads": args.threads,
        });
        crate::provenance::write(dir, "calibrate", &[input], flags)?;
    }
    // A target the best setting misses by more than three tolerances is one no setting
    // in the ranges can meet (as far as the search could tell): the fit above is what
    // the ranges allow, and the exit code says it is not a fit.
    for (i, t) in c.targets.targets.iter().enumerate() {
        let (fitted, _, _) = c.fitted(i);
        let off = (fitted - t.value) / t.tolerance;
        if off.abs() > UNMET_TOLERANCES {
            let text = std::fs::read_to_string(&args.targets).unwrap_or_default();
            return Err(input(
                &args.targets,
                &text,
                &format!("targets[{i}].value"),
                format!(
                    "no setting in the parameters' ranges meets `{}`: the best fit gives \
                     {fitted:.4}, {off:.1} tolerances from the observed {}; widen the ranges, \
                     add a parameter that moves it, or loosen its tolerance",
                    t.name, t.value
                ),
            ));
        }
    }
    Ok(())
}

/// The simplex's first step, a share of each range.
const STEP: f64 = 1.0 / 6.0;

/// Bases of the Halton points, one a parameter.
const PRIMES: [u64; MAX_PARAMETERS] = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
const MAX_PARAMETERS: usize = 12;

/// The k-th Halton coordinate in `base`: the radical inverse of k.
fn halton(k: u64, base: u64) -> f64 {
    let (mut f, mut r, mut k) = (1.0, 0.0, k);
    while k > 0 {
        f /= base as f64;
        r += f * (k % base) as f64;
        k /= base;
    }
    r
}

/// Misses beyond this many tolerances make a calibration fail (exit 2).
const UNMET_TOLERANCES: f64 = 3.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halton_points_are_radical_inverses() {
        assert_eq!([1, 2, 3, 4].map(|k| halton(k, 2)), [0.5, 0.25, 0.75, 0.125]);
        assert_eq!([1, 2, 3].map(|k| halton(k, 3)), [1.0 / 3.0, 2.0 / 3.0, 1.0 / 9.0]);
    }

    #[test]
    fn settings_keep_a_ten_thousandth_of_the_range() {
        let p = Parameter { path: "x".into(), min: 0.05, max: 1.0, start: 0.3, integer: false };
        assert_eq!(p.format(p.at(0.2345678)), "0.27284");
        assert_eq!(p.at(-3.0), 0.05);
        let n =
            Parameter { path: "n".into(), min: 200.0, max: 2000.0, start: 800.0, integer: true };
        assert_eq!(n.format(n.at(0.5001)), "1100");
    }

    #[test]
    fn the_loss_is_the_seeds_mean_of_weighted_squared_misses_in_tolerances() {
        let t = |value, tolerance, weight| Target {
            name: "x".into(),
            statistic: Statistic::FundMinimum,
            value,
            tolerance,
            weight,
        };
        let targets = [t(1.0, 0.5, 1.0), t(10.0, 2.0, 0.5)];
        // Seed 1: (0.5/0.5)^2 + 0.5 (4/2)^2 = 3; seed 2: 0 + 0.5 (2/2)^2 = 0.5.
        let loss = loss_of(&targets, &[vec![1.5, 14.0], vec![1.0, 8.0]]);
        assert!((loss - 1.75).abs() < 1e-12, "{loss}");
    }
}
