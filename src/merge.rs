//! `liqsim merge DIR...`: combine the directories of a sharded sweep.
//!
//! Every directory must hold the same manifest (`sweep.json`); run files are gathered
//! into `--out` (a run present in two shards must be identical in both), and when every
//! run is there, `runs.csv` and `summary.csv` are written exactly as the unsharded sweep
//! writes them, so the merged directory is byte-identical to an unsharded one.

use crate::CliResult;
use crate::runrow::csv_line;
use crate::sweep::{finish, prepare_dir, read_runs, write_atomic};
use liqsim_core::{Error, InputError};
use liqsim_sweep::{GridAxis, expand};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard output directories of one sweep.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the combined sweep.
    #[arg(long)]
    pub out: PathBuf,
}

fn manifest_of(dir: &Path) -> Result<(String, serde_json::Value), Error> {
    let path = dir.join("sweep.json");
    let text = liqsim_scenario::read_text(&path)?;
    let value = serde_json::from_str(&text).map_err(|e| {
        Error::from(
            InputError::new(format!("not a sweep manifest: {e}"))
                .source(path.display().to_string()),
        )
    })?;
    Ok((text, value))
}

/// Grid axes and seeds from a manifest.
fn plan_of(value: &serde_json::Value, source: &str) -> Result<(Vec<GridAxis>, Vec<u64>), Error> {
    let bad = || Error::from(InputError::new("sweep.json lacks `grid` or `seeds`").source(source));
    let axes = value["grid"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|a| {
            let key = a["key"].as_str().ok_or_else(bad)?.to_string();
            let values = a["values"]
                .as_array()
                .ok_or_else(bad)?
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(GridAxis { key, values })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let seeds = value["seeds"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|s| s.as_u64().ok_or_else(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((axes, seeds))
}

pub fn run(args: &MergeArgs) -> CliResult {
    let (first_text, first) = manifest_of(&args.dirs[0])?;
    for dir in &args.dirs[1..] {
        let (text, _) = manifest_of(dir)?;
        if text != first_text {
            return Err(InputError::new(
                "holds a different sweep than the first directory (sweep.json differs)",
            )
            .source(dir.display().to_string())
            .expected("shard directories of one sweep, made with the same command but --shard")
            .into());
        }
    }
    let (axes, seeds) = plan_of(&first, &args.dirs[0].display().to_string())?;
    let runs = expand(&axes, &seeds)?;
    prepare_dir(&args.out, &first_text)?;
    let existing = read_runs(&args.out, axes.len())?;
    let mut written: Vec<Option<Vec<String>>> = vec![None; runs.len()];
    for row in existing {
        if let Some(slot) = written.get_mut(row.index) {
            *slot = Some(row.fields());
        }
    }
    for dir in &args.dirs {
        for row in read_runs(dir, axes.len())? {
            let index = row.index;
            let fields = row.fields();
            match written.get(index) {
                None => {
                    return Err(InputError::new(format!(
                        "run {index} is outside this sweep of {} runs",
                        runs.len()
                    ))
                    .source(dir.display().to_string())
                    .into());
                }
                Some(Some(previous)) if *previous != fields => {
                    return Err(InputError::new(format!(
                        "run {index} differs from the same run in another directory"
                    ))
                    .source(dir.display().to_string())
                    .into());
                }
                Some(Some(_)) => {}
                Some(None) => {
                    write_atomic(
                        &args.out.join("runs").join(format!("{index:08}.csv")),
                        &csv_line(&fields)?,
                    )?;
                    written[index] = Some(fields);
                }
            }
        }
    }
    let missing = written.iter().filter(|w| w.is_none()).count();
    if finish(&args.out, &axes, &runs)? {
        eprintln!("merged {} runs into {}", runs.len(), args.out.display());
        Ok(())
    } else {
        Err(InputError::new(format!(
            "{missing} of {} runs are missing; merge every shard's directory",
            runs.len()
        ))
        .source("merge")
        .into())
    }
}
