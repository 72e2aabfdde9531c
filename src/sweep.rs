//! `liqsim sweep`: a parameter grid x seeds, in parallel, resumable, shardable.
//!
//! Output directory layout (all text, all written atomically: to a temporary name in the
//! same directory, then renamed):
//! - `sweep.json`: the manifest (scenario, grid, seeds, number of runs) and the sweep's
//!   identity (see [`crate::sweepdir`]). A directory holding another sweep is refused, so
//!   a resumed sweep cannot mix results; the same sweep resumes from any working
//!   directory and any spelling of the scenario's path.
//! - `sweep.lock`: present while a sweep or merge writes the directory.
//! - `runs/NNNNNNNN.csv`: one finished run, named by run index: its CSV line and a line
//!   of checksums. A run whose file passes its checks is skipped when the same command is
//!   started again; a file that fails them stops the sweep (or, with `--rerun-invalid`,
//!   is deleted and its run run again).
//! - `runs.csv`: header + every run row in index order, once every run of the sweep is
//!   present (always for an unsharded sweep; after `liqsim merge` for shards).
//! - `summary.csv`: one row per grid point with statistics across seeds and the
//!   safety-versus-capital frontier marked.
//!
//! Shards (`--shard I/N`) write the same manifest and their own subset of `runs/`;
//! `liqsim merge` assembles them into files byte-identical to the unsharded sweep's.

use crate::CliResult;
use crate::runrow::{RunRow, csv_line};
use crate::sweepdir;
use liqsim_core::{Error, InputError};
use liqsim_sweep::{GridAxis, RunSpec, Shard, execute, expand};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// A grid axis: `--grid margin.confidence=0.99,0.995` (repeatable; the runs are the
    /// cartesian product of all axes).
    #[arg(long = "grid", value_name = "KEY=V1,V2,...")]
    pub grid: Vec<String>,
    /// Seeds per grid point: the scenario's seed, seed+1, ... (the same at every point).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub seeds: u64,
    /// Worker threads, 1 to 1024 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS))]
    pub threads: Option<u64>,
    /// Run only the I-th of N deterministic slices (0 <= I < N); combine with `liqsim merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Override a field at every grid point: `--set liquidation.fee=0.01` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Delete run files in `--out` that fail their checks (edited, from another sweep,
    /// renamed, or beyond the sweep) and run those runs again, instead of refusing.
    #[arg(long)]
    pub rerun_invalid: bool,
    /// Keep each run's time series as `series/NNNNNNNN.parquet` (the run's index, as its
    /// file in `runs/`).
    #[arg(long)]
    pub keep_series: bool,
}

/// The manifest: everything that identifies the sweep, and the identity's hash. The
/// `--set` overrides are recorded for people; the identity has them through the
/// resolved scenario, so an equivalent override resumes the same sweep.
pub fn manifest(
    scenario: &str,
    quote_currency: &str,
    scenario_hash: &str,
    axes: &[GridAxis],
    seeds: &[u64],
    overrides: &[String],
    runs: usize,
) -> String {
    let axes_json: Vec<serde_json::Value> =
        axes.iter().map(|a| serde_json::json!({ "key": a.key, "values": a.values })).collect();
    let value = serde_json::json!({
        "liqsim": env!("CARGO_PKG_VERSION"),
        "id": sweepdir::sweep_id(scenario_hash, axes, seeds),
        "scenario": scenario,
        "quote_currency": quote_currency,
        "scenario_hash": scenario_hash,
        "grid": axes_json,
        "seeds": seeds,
        "overrides": overrides,
        "runs": runs,
    });
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default())
}

/// A manifest as read back: its text and the plan it describes.
#[derive(Debug)]
pub struct Manifest {
    pub text: String,
    pub id: String,
    pub axes: Vec<GridAxis>,
    pub seeds: Vec<u64>,
}

impl Manifest {
    /// Reads `dir/sweep.json` and checks that its identity matches what it describes.
    pub fn read(dir: &Path) -> Result<Manifest, Error> {
        let path = dir.join("sweep.json");
        let source = path.display().to_string();
        let text = liqsim_scenario::read_text(&path)?;
        let bad = |why: String| -> Error {
            InputError::new(why)
                .source(&source)
                .expected("the sweep.json that `liqsim sweep` wrote, unchanged")
                .into()
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not a sweep manifest: {e}")))?;
        let field = |name: &str| -> Result<&str, Error> {
            value[name].as_str().ok_or_else(|| bad(format!("lacks `{name}`")))
        };
        let id = field("id")?.to_string();
        let scenario_hash = field("scenario_hash")?.to_string();
        let (axes, seeds) = plan_of(&value).ok_or_else(|| bad("lacks `grid` or `seeds`".into()))?;
        if field("liqsim")? != env!("CARGO_PKG_VERSION") {
            return Err(bad(format!(
                "was written by liqsim {}, this is {}",
                field("liqsim")?,
                env!("CARGO_PKG_VERSION")
            )));
        }
        if sweepdir::sweep_id(&scenario_hash, &axes, &seeds) != id {
            return Err(bad(
                "has been changed: its grid, seeds or scenario hash do not give its id".into(),
            ));
        }
        Ok(Manifest { text, id, axes, seeds })
    }
}

/// Grid axes and seeds from a manifest's JSON.
fn plan_of(value: &serde_json::Value) -> Option<(Vec<GridAxis>, Vec<u64>)> {
    let axes = value["grid"]
        .as_array()?
        .iter()
        .map(|a| {
            let key = a["key"].as_str()?.to_string();
            let values = a["values"]
                .as_array()?
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()?;
            Some(GridAxis { key, values })
        })
        .collect::<Option<Vec<_>>>()?;
    let seeds =
        value["seeds"].as_array()?.iter().map(|s| s.as_u64()).collect::<Option<Vec<_>>>()?;
    Some((axes, seeds))
}

pub fn write_atomic(path: &Path, contents: &str) -> Result<(), Error> {
    liqsim_report::write_atomic(path, contents)
}

/// Creates `out`, takes its lock, and checks that it holds this same sweep (by identity)
/// or nothing yet, writing the manifest then.
pub fn prepare_dir(out: &Path, manifest_text: &str, id: &str) -> Result<sweepdir::Lock, Error> {
    let io = |e: std::io::Error| {
        Error::from(
            InputError::new(format!("cannot create: {e}")).source(out.display().to_string()),
        )
    };
    std::fs::create_dir_all(out.join("runs")).map_err(io)?;
    let lock = sweepdir::lock(out)?;
    if out.join("sweep.json").exists() {
        let existing = Manifest::read(out)?;
        if existing.id != id {
            return Err(InputError::new(format!(
                "holds the results of a different sweep (sweep {} there, {} here): the \
                 scenario after --set, the grid, the seeds or the liqsim version differ",
                short(&existing.id),
                short(id)
            ))
            .source(out.display().to_string())
            .expected("an empty directory, or the directory of this same sweep to resume it")
            .into());
        }
    } else {
        write_atomic(&out.join("sweep.json"), manifest_text)?;
    }
    Ok(lock)
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Writes `runs.csv` and `summary.csv` when every run is present; returns whether it did.
pub fn finish(out: &Path, id: &str, axes: &[GridAxis], runs: &[RunSpec]) -> Result<bool, Error> {
    let scan = sweepdir::scan(out, id, runs, axes.len())?;
    if !scan.invalid.is_empty() {
        return Err(sweepdir::invalid_error(&scan.invalid, "delete it and run the sweep again"));
    }
    let rows: Vec<RunRow> = scan.runs.into_iter().map(|r| r.row).collect();
    if rows.len() != runs.len() {
        return Ok(false);
    }
    let keys: Vec<String> = axes.iter().map(|a| a.key.clone()).collect();
    let mut text = csv_line(&RunRow::header(&keys))?;
    for row in &rows {
        text.push_str(&csv_line(&row.fields())?);
    }
    write_atomic(&out.join("runs.csv"), &text)?;
    write_atomic(&out.join("summary.csv"), &summary_csv(&keys, &rows)?)?;
    let points: Vec<liqsim_report::SweepPoint> =
        (0..rows.iter().map(|r| r.point + 1).max().unwrap_or(0))
            .filter_map(|point| {
                let of: Vec<&RunRow> = rows.iter().filter(|r| r.point == point).collect();
                let params =
                    keys.iter().cloned().zip(of.first()?.grid_values.iter().cloned()).collect();
                let figures: Vec<_> = of.iter().map(|r| r.figures()).collect();
                liqsim_report::SweepPoint::from_runs(params, &figures)
            })
            .collect();
    let seeds = rows.iter().filter(|r| r.point == 0).count();
    write_atomic(
        &out.join("sweep.html"),
        &liqsim_report::sweep_html(&scenario_name(out), seeds, &quote_currency(out), &points),
    )?;
    Ok(true)
}

/// The scenario name recorded in the sweep's manifest.
fn scenario_name(out: &Path) -> String {
    std::fs::read_to_string(out.join("sweep.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["scenario"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The quote currency recorded in the manifest (`USD` for a manifest without one).
fn quote_currency(out: &Path) -> String {
    std::fs::read_to_string(out.join("sweep.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["quote_currency"].as_str().map(str::to_string))
        .unwrap_or_else(|| "USD".into())
}

fn fixed(v: f64) -> String {
    format!("{v:.6}")
}

/// One row per grid point: bad debt across seeds, fund exhaustion, margin, cascades, and
/// whether the point is on the frontier of (mean bad debt, mean initial margin), decided
/// on paired differences over the common seeds; `bad_debt_p99` is empty below 100 seeds.
pub fn summary_csv(keys: &[String], rows: &[RunRow]) -> Result<String, Error> {
    let points = rows.iter().map(|r| r.point + 1).max().unwrap_or(0);
    let mut header = vec!["point".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(
        [
            "runs",
            "bad_debt_mean",
            "bad_debt_ci95_low",
            "bad_debt_ci95_high",
            "bad_debt_median",
            "bad_debt_p95",
            "bad_debt_p99",
            "bad_debt_max",
            "fund_exhaustion_probability",
            "liquidated_notional_mean",
            "adl_notional_mean",
            "socialized_loss_mean",
            "max_depth_mean",
            "mean_initial_margin_mean",
            "peak_initial_margin_max",
            "frontier",
        ]
        .map(String::from),
    );
    let mut lines = Vec::new();
    let mut frontier_inputs = Vec::new();
    for point in 0..points {
        let of: Vec<&RunRow> = rows.iter().filter(|r| r.point == point).collect();
        let Some(first) = of.first() else { continue };
        let series = |f: &dyn Fn(&RunRow) -> f64| -> Vec<f64> { of.iter().map(|r| f(r)).collect() };
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let bad_debt = liqsim_sweep::summarize(&series(&|r| r.bad_debt.to_f64()))
            .ok_or_else(|| Error::Internal("no bad debt values".into()))?;
        let exhausted = of.iter().filter(|r| r.fund_exhausted).count() as f64 / of.len() as f64;
        let margin = mean(&series(&|r| r.mean_initial_margin.to_f64()));
        let peak = series(&|r| r.peak_initial_margin.to_f64()).into_iter().fold(f64::MIN, f64::max);
        frontier_inputs
            .push((series(&|r| r.bad_debt.to_f64()), series(&|r| r.mean_initial_margin.to_f64())));
        let mut fields = vec![point.to_string()];
        fields.extend(first.grid_values.iter().cloned());
        let (lo, hi) = bad_debt.ci95.unwrap_or((bad_debt.mean, bad_debt.mean));
        fields.extend([
            of.len().to_string(),
            fixed(bad_debt.mean),
            fixed(lo),
            fixed(hi),
            fixed(bad_debt.median),
            fixed(bad_debt.p95),
            bad_debt.p99.map(fixed).unwrap_or_default(),
            fixed(bad_debt.max),
            fixed(exhausted),
            fixed(mean(&series(&|r| r.liquidated_notional.to_f64()))),
            fixed(mean(&series(&|r| r.adl_notional.to_f64()))),
            fixed(mean(&series(&|r| r.socialized_loss.to_f64()))),
            fixed(mean(&series(&|r| f64::from(r.max_depth)))),
            fixed(margin),
            fixed(peak),
        ]);
        lines.push(fields);
    }
    let on_frontier = liqsim_sweep::frontier_paired(&frontier_inputs);
    let mut text = csv_line(&header)?;
    for (mut fields, front) in lines.into_iter().zip(on_frontier) {
        fields.push(front.to_string());
        text.push_str(&csv_line(&fields)?);
    }
    Ok(text)
}

/// Each worker runs a whole world at a time, so more workers than this only add memory.
pub const MAX_THREADS: u64 = 1024;

pub fn threads(requested: Option<u64>) -> usize {
    requested
        .map(|t| t.min(MAX_THREADS) as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1)
}

/// Creates `out/series`, where `--keep-series` keeps each run's time series.
pub fn series_dir(out: &Path) -> Result<PathBuf, Error> {
    let dir = out.join("series");
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::from(
            InputError::new(format!("cannot create: {e}")).source(dir.display().to_string()),
        )
    })?;
    Ok(dir)
}

/// Writes a run's time series as `dir/NAME.parquet` (through a temporary name).
pub fn write_series(dir: &Path, name: &str, outcome: &liqsim_sim::Outcome) -> Result<(), Error> {
    let path = dir.join(format!("{name}.parquet"));
    let tmp = dir.join(format!(".{name}.parquet.tmp{}", std::process::id()));
    let build: Box<dyn Fn(std::ops::Range<usize>) -> Result<_, Error>> =
        Box::new(|r| liqsim_logs::timeseries(outcome, r));
    liqsim_logs::write_parquet(&tmp, outcome.series.len(), &build)?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        Error::from(
            InputError::new(format!("cannot write: {e}")).source(path.display().to_string()),
        )
    })
}

/// Progress of `total` runs on stderr (see [`crate::progress`]).
pub fn progress(total: usize, label: &str) -> crate::progress::Progress {
    crate::progress::Progress::new(total as u64, label, "runs")
}

/// Runs a sweep with `run` as the simulation (the kernel in production, a stand-in in
/// tests of resume and sharding).
pub fn sweep_with(
    args: &SweepArgs,
    run: &(dyn Fn(&liqsim_scenario::Scenario) -> Result<liqsim_sim::Outcome, Error> + Sync),
) -> CliResult {
    let started = std::time::Instant::now();
    let base = liqsim_scenario::load(&args.file, &args.overrides)?;
    let axes = args.grid.iter().map(|g| GridAxis::parse(g)).collect::<Result<Vec<_>, _>>()?;
    let seeds: Vec<u64> = (0..args.seeds).map(|i| base.seed.wrapping_add(i)).collect();
    let runs = expand(&axes, &seeds)?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => Shard::WHOLE,
    };
    // Validate every grid point before running anything: a typo in the last value of an
    // axis should fail in a second, not after hours.
    let point_overrides = |spec: &RunSpec| -> Vec<String> {
        let mut o = args.overrides.clone();
        o.extend(spec.overrides.iter().map(|(k, v)| format!("{k}={v}")));
        o.push(format!("seed={}", spec.seed));
        o
    };
    // An error at an override the sweep wrote names the flag it came from.
    let load_point = |spec: &RunSpec| {
        liqsim_scenario::load(&args.file, &point_overrides(spec)).map_err(|e| {
            let e = spec.overrides.iter().zip(&args.grid).fold(e, |e, ((k, v), axis)| {
                crate::run::relabel(e, &format!("{k}={v}"), &format!("--grid {axis}"))
            });
            let seed = spec.seed;
            crate::run::relabel(
                e,
                &format!("seed={seed}"),
                &format!("--seeds {} (seed {seed})", args.seeds),
            )
        })
    };
    // Seeds vary fastest, so every seeds.len()-th run starts a new grid point; the last
    // run has the last seed.
    for spec in runs.iter().step_by(seeds.len().max(1)).chain(runs.last()) {
        load_point(spec)?;
    }
    let scenario_hash = sweepdir::scenario_hash(&base);
    let id = sweepdir::sweep_id(&scenario_hash, &axes, &seeds);
    let text = manifest(
        &base.name,
        &base.market.quote_currency,
        &scenario_hash,
        &axes,
        &seeds,
        &args.overrides,
        runs.len(),
    );
    let _lock = prepare_dir(&args.out, &text, &id)?;
    let input = crate::provenance::Input { file: &args.file, overrides: args.overrides.clone() };
    let flags = serde_json::json!({
        "grid": args.grid,
        "seeds": seeds,
        "shard": args.shard,
        "threads": args.threads,
        "sweep_id": id,
    });
    crate::provenance::write(&args.out, "sweep", &[input], flags)?;
    let scan = sweepdir::scan(&args.out, &id, &runs, axes.len())?;
    if !scan.invalid.is_empty() {
        if !args.rerun_invalid {
            return Err(sweepdir::invalid_error(
                &scan.invalid,
                "run files as this sweep wrote them; add --rerun-invalid to delete the \
                 failing files and run those runs again",
            ));
        }
        for bad in &scan.invalid {
            std::fs::remove_file(&bad.path).map_err(|e| {
                Error::from(
                    InputError::new(format!("cannot delete: {e}"))
                        .source(bad.path.display().to_string()),
                )
            })?;
            eprintln!("deleted {} ({}); its run runs again", bad.path.display(), bad.why);
        }
    }
    let mut done = vec![false; runs.len()];
    for verified in &scan.runs {
        done[verified.row.index] = true;
    }
    let selected = shard.select(&runs);
    let found = selected.iter().filter(|r| done[r.index]).count();
    let todo: Vec<RunSpec> = selected.into_iter().filter(|r| !done[r.index]).collect();
    if found > 0 {
        eprintln!(
            "resuming: {found} of {} runs found done in {}, {} to run",
            found + todo.len(),
            args.out.display(),
            todo.len()
        );
    }
    let series_dir = if args.keep_series { Some(series_dir(&args.out)?) } else { None };
    let bar = progress(todo.len(), &base.name);
    execute(
        &todo,
        threads(args.threads),
        |spec| {
            let scenario = load_point(spec)?;
            let outcome = run(&scenario)?;
            if let Some(dir) = &series_dir {
                write_series(dir, &format!("{:08}", spec.index), &outcome)?;
            }
            let values = spec.overrides.iter().map(|(_, v)| v.clone()).collect();
            Ok(RunRow::from_outcome(spec.index, spec.point, values, &outcome))
        },
        |spec, row| {
            let line = csv_line(&row.fields())?;
            let inputs = sweepdir::inputs_hash(&id, spec);
            write_atomic(
                &sweepdir::run_file(&args.out, spec.index),
                &sweepdir::run_file_text(&inputs, &line),
            )?;
            bar.inc(1);
            Ok(())
        },
    )?;
    bar.finish();
    if finish(&args.out, &id, &axes, &runs)? {
        eprintln!(
            "sweep complete: {} runs in {}; {}",
            runs.len(),
            args.out.display(),
            crate::progress::resources(started)
        );
    } else {
        let present = sweepdir::scan(&args.out, &id, &runs, axes.len())?.runs.len();
        eprintln!(
            "shard {}/{} complete ({present} of the sweep's {} runs in {}); combine the shard \
             directories with `liqsim merge`; {}",
            shard.index,
            shard.count,
            runs.len(),
            args.out.display(),
            crate::progress::resources(started)
        );
    }
    Ok(())
}

pub fn run(args: &SweepArgs) -> CliResult {
    sweep_with(args, &crate::engine::run_scenario)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests_support::fake_outcome;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn args(out: &Path, shard: Option<&str>, threads: usize) -> SweepArgs {
        SweepArgs {
            file: crate::tests_support::repo_file("scenarios/quickstart.toml"),
            grid: vec![
                "margin.confidence=0.975,0.99,0.995".into(),
                "liquidation.fee=0.005,0.01".into(),
            ],
            seeds: 4,
            threads: Some(threads as u64),
            shard: shard.map(str::to_string),
            overrides: vec![],
            out: out.to_path_buf(),
            keep_series: false,
            rerun_invalid: false,
        }
    }

    fn read(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn sharded_and_merged_is_byte_identical_to_unsharded_for_any_thread_count() {
        let root = tempfile::tempdir().unwrap();
        let whole = root.path().join("whole");
        sweep_with(&args(&whole, None, 1), &|s| Ok(fake_outcome(s))).unwrap();
        let two_threads = root.path().join("two");
        sweep_with(&args(&two_threads, None, 2), &|s| Ok(fake_outcome(s))).unwrap();
        let shards: Vec<PathBuf> = (0..3).map(|i| root.path().join(format!("shard{i}"))).collect();
        for (i, dir) in shards.iter().enumerate() {
            sweep_with(&args(dir, Some(&format!("{i}/3")), 2), &|s| Ok(fake_outcome(s))).unwrap();
            assert!(!dir.join("runs.csv").exists(), "a shard alone is not the whole sweep");
        }
        let merged = root.path().join("merged");
        crate::merge::run(&crate::merge::MergeArgs { dirs: shards, out: merged.clone() }).unwrap();
        for name in ["sweep.json", "runs.csv", "summary.csv"] {
            assert_eq!(read(&whole, name), read(&two_threads, name), "{name}: threads");
            assert_eq!(read(&whole, name), read(&merged, name), "{name}: merged shards");
        }
        let runs = read(&whole, "runs.csv");
        assert_eq!(runs.lines().count(), 1 + 3 * 2 * 4);
        assert!(runs.starts_with("index,point,margin.confidence,liquidation.fee,seed,digest,"));
        let summary = read(&whole, "summary.csv");
        assert_eq!(summary.lines().count(), 1 + 6);
        assert!(summary.lines().skip(1).any(|l| l.ends_with(",true")));
    }

    #[test]
    fn an_interrupted_sweep_resumes_to_the_same_files() {
        let root = tempfile::tempdir().unwrap();
        let straight = root.path().join("straight");
        sweep_with(&args(&straight, None, 2), &|s| Ok(fake_outcome(s))).unwrap();
        let resumed = root.path().join("resumed");
        let calls = AtomicUsize::new(0);
        let failing = |s: &liqsim_scenario::Scenario| {
            if calls.fetch_add(1, Ordering::SeqCst) >= 10 {
                Err(Error::Internal("killed".into()))
            } else {
                Ok(fake_outcome(s))
            }
        };
        assert!(sweep_with(&args(&resumed, None, 1), &failing).is_err());
        let done = std::fs::read_dir(resumed.join("runs")).unwrap().count();
        assert!((1..24).contains(&done), "{done} runs finished before the kill");
        let reran = AtomicUsize::new(0);
        sweep_with(&args(&resumed, None, 2), &|s| {
            reran.fetch_add(1, Ordering::SeqCst);
            Ok(fake_outcome(s))
        })
        .unwrap();
        assert_eq!(reran.load(Ordering::SeqCst), 24 - done, "finished runs are skipped");
        for name in ["sweep.json", "runs.csv", "summary.csv"] {
            assert_eq!(read(&straight, name), read(&resumed, name), "{name}");
        }
    }

    #[test]
    fn a_directory_of_another_sweep_is_refused() {
        let root = tempfile::tempdir().unwrap();
        sweep_with(&args(root.path(), None, 1), &|s| Ok(fake_outcome(s))).unwrap();
        let mut other = args(root.path(), None, 1);
        other.seeds = 5;
        let e = sweep_with(&other, &|s| Ok(fake_outcome(s))).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("different sweep"), "{e}");
    }

    /// A full disk fails the write of the temporary file part way; nothing is left of it.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let root = tempfile::tempdir().unwrap();
        let tmp = root.path().join(format!(".runs.csv.tmp{}", std::process::id()));
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let e = write_atomic(&root.path().join("runs.csv"), "x\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("runs.csv: cannot write"), "{e}");
        assert!(std::fs::symlink_metadata(&tmp).is_err(), "the temporary file is removed");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_bad_grid_value_fails_before_any_run() {
        let root = tempfile::tempdir().unwrap();
        let mut a = args(root.path(), None, 1);
        a.grid = vec!["margin.confidence=0.99,1.5".into()];
        let ran = AtomicUsize::new(0);
        let e = sweep_with(&a, &|s| {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok(fake_outcome(s))
        })
        .unwrap_err();
        assert!(e.to_string().contains("margin.confidence"), "{e}");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }
}
