//! The Python interface of liqsim (`import liqsim`): the native half. Each function runs
//! the same code as the command line (load with overrides, build the world, run) and
//! returns tables as Arrow IPC stream bytes, which `liqsim/__init__.py` opens as
//! `pyarrow.Table`s; the digest of a run is the command line's for the same inputs.

use arrow_array::RecordBatch;
use liqsim_core::Error;
use liqsim_sim::{EventLog, Outcome};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::path::{Path, PathBuf};

/// Bad input (exit code 2 on the command line) is a `ValueError`, anything else a
/// `RuntimeError`; the message is the command line's, naming file, line and key.
fn to_py(e: Error) -> PyErr {
    if e.exit_code() == 2 {
        PyValueError::new_err(e.to_string())
    } else {
        PyRuntimeError::new_err(e.to_string())
    }
}

/// The overrides of a run, in the command line's order: `set`, then seed and policy.
fn overrides(set: &[String], seed: Option<u64>, policy: Option<&str>) -> Vec<String> {
    let mut all = set.to_vec();
    if let Some(seed) = seed {
        all.push(format!("seed={seed}"));
    }
    if let Some(policy) = policy {
        all.push(format!("margin.policy=\"{policy}\""));
    }
    all
}

fn simulate(
    path: &Path,
    overrides: &[String],
    keep_log: bool,
) -> Result<(Outcome, Option<EventLog>), Error> {
    let scenario = liqsim_scenario::load(path, overrides)?;
    let mut world = liqsim_sim::World::new(liqsim_scenario::sim_config(&scenario)?)?;
    if keep_log {
        world.keep_event_log();
    }
    world.run_with_progress(u64::MAX, |_| {})
}

fn ipc(batches: &[RecordBatch]) -> Result<Vec<u8>, Error> {
    let internal = |e: arrow_schema::ArrowError| Error::Internal(format!("Arrow IPC: {e}"));
    let Some(first) = batches.first() else { return Ok(Vec::new()) };
    let mut bytes = Vec::new();
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new(&mut bytes, &first.schema()).map_err(internal)?;
    for batch in batches {
        writer.write(batch).map_err(internal)?;
    }
    writer.finish().map_err(internal)?;
    drop(writer);
    Ok(bytes)
}

/// Runs one scenario: (summary JSON, digest, [(log name, Arrow IPC bytes)]).
/// The summary as JSON, the digest, and each log by name as Arrow IPC bytes.
type RunResult<'py> = (String, String, Vec<(String, Bound<'py, PyBytes>)>);

#[pyfunction]
#[pyo3(signature = (path, seed=None, policy=None, set=Vec::new(), logs=true))]
fn run<'py>(
    py: Python<'py>,
    path: PathBuf,
    seed: Option<u64>,
    policy: Option<String>,
    set: Vec<String>,
    logs: bool,
) -> PyResult<RunResult<'py>> {
    let overrides = overrides(&set, seed, policy.as_deref());
    let (outcome, log) = simulate(&path, &overrides, logs).map_err(to_py)?;
    let mut tables = Vec::new();
    for (name, rows, build) in liqsim_logs::logs(&outcome, log.as_ref()) {
        let batches = liqsim_logs::batches(rows, &build).map_err(to_py)?;
        let bytes = ipc(&batches).map_err(to_py)?;
        tables.push((name.to_string(), PyBytes::new(py, &bytes)));
    }
    Ok((liqsim_report::summary_json(&outcome), outcome.digest.clone(), tables))
}

/// Runs `jobs` (the overrides of each run) on `threads` workers, in input order.
fn run_all(path: &Path, jobs: &[Vec<String>], threads: usize) -> Result<Vec<Outcome>, Error> {
    liqsim_sweep::execute(
        jobs,
        threads,
        |overrides| simulate(path, overrides, false).map(|(o, _)| o),
        |_, _| Ok(()),
    )
}

fn threads_or_all(threads: Option<usize>) -> usize {
    threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1)
}

/// Every policy on the same seeds (the scenario's seed, seed+1, ...): one row per run,
/// as Arrow IPC bytes.
#[pyfunction]
#[pyo3(signature = (path, policies, seeds=20, set=Vec::new(), threads=None))]
fn compare<'py>(
    py: Python<'py>,
    path: PathBuf,
    policies: Vec<String>,
    seeds: u64,
    set: Vec<String>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let base = liqsim_scenario::load(&path, &set).map_err(to_py)?;
    let mut jobs = Vec::new();
    for policy in &policies {
        for i in 0..seeds {
            jobs.push(overrides(&set, Some(base.seed.wrapping_add(i)), Some(policy)));
        }
    }
    let runs = run_all(&path, &jobs, threads_or_all(threads)).map_err(to_py)?;
    let table = liqsim_logs::outcomes(&[], &runs).map_err(to_py)?;
    Ok(PyBytes::new(py, &ipc(&[table]).map_err(to_py)?))
}

/// A grid of `(key, [values])` axes x seeds: one row per run, the grid's values as text
/// columns first, as Arrow IPC bytes. Values are TOML (`0.99`, `"es"`, `true`).
#[pyfunction]
#[pyo3(signature = (path, grid, seeds=1, set=Vec::new(), threads=None))]
fn sweep<'py>(
    py: Python<'py>,
    path: PathBuf,
    grid: Vec<(String, Vec<String>)>,
    seeds: u64,
    set: Vec<String>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyBytes>> {
    let base = liqsim_scenario::load(&path, &set).map_err(to_py)?;
    let axes: Vec<liqsim_sweep::GridAxis> = grid
        .iter()
        .map(|(key, values)| liqsim_sweep::GridAxis { key: key.clone(), values: values.clone() })
        .collect();
    let seeds: Vec<u64> = (0..seeds).map(|i| base.seed.wrapping_add(i)).collect();
    // The CLI's order: grid points row-major (the last axis fastest), seeds fastest of all.
    let specs = liqsim_sweep::expand(&axes, &seeds).map_err(to_py)?;
    let mut jobs = Vec::with_capacity(specs.len());
    let mut columns: Vec<Vec<String>> = vec![Vec::with_capacity(specs.len()); grid.len()];
    for spec in &specs {
        let mut o = set.clone();
        o.extend(spec.overrides.iter().map(|(key, value)| format!("{key}={value}")));
        jobs.push(overrides(&o, Some(spec.seed), None));
        for (column, (_, value)) in columns.iter_mut().zip(&spec.overrides) {
            column.push(value.clone());
        }
    }
    let runs = run_all(&path, &jobs, threads_or_all(threads)).map_err(to_py)?;
    let labels: Vec<(&str, Vec<String>)> =
        grid.iter().map(|(k, _)| k.as_str()).zip(columns).collect();
    let table = liqsim_logs::outcomes(&labels, &runs).map_err(to_py)?;
    Ok(PyBytes::new(py, &ipc(&[table]).map_err(to_py)?))
}

/// The version and the commit of the liqsim crates this module was built from.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _liqsim(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
