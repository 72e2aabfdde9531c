//! `liqsim merge DIR...`: combine the directories of a sharded sweep.
//!
//! Every directory must hold the same sweep (the identity in `sweep.json`) and no writer
//! (no live `sweep.lock`); every run file is checked as a resumed sweep checks it. Run
//! files are gathered into `--out` (a run present in two shards must be identical in
//! both), and when every run is there, `runs.csv` and `summary.csv` are written exactly as
//! the unsharded sweep writes them, so the merged directory is byte-identical to an
//! unsharded one.

use crate::CliResult;
use crate::sweep::{Manifest, finish, prepare_dir, write_atomic};
use crate::sweepdir;
use liqsim_core::{Error, InputError};
use liqsim_sweep::expand;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard output directories of one sweep.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write the combined sweep.
    #[arg(long)]
    pub out: PathBuf,
}

const REMEDY: &str = "run files as the sweep wrote them: run that shard again with the same \
                      command and --rerun-invalid";

pub fn run(args: &MergeArgs) -> CliResult {
    let first = Manifest::read(&args.dirs[0])?;
    for dir in &args.dirs {
        if let Some(who) = sweepdir::holder(dir) {
            return Err(InputError::new(format!("is still being written ({who})"))
                .source(dir.display().to_string())
                .expected("shard directories whose sweeps have finished")
                .into());
        }
        if Manifest::read(dir)?.id != first.id {
            return Err(InputError::new(
                "holds a different sweep than the first directory (the scenario after --set, \
                 the grid, the seeds or the liqsim version differ)",
            )
            .source(dir.display().to_string())
            .expected("shard directories of one sweep, made with the same command but --shard")
            .into());
        }
    }
    let runs = expand(&first.axes, &first.seeds)?;
    let grid_len = first.axes.len();
    let _lock = prepare_dir(&args.out, &first.text, &first.id)?;
    let existing = sweepdir::scan(&args.out, &first.id, &runs, grid_len)?;
    if !existing.invalid.is_empty() {
        return Err(sweepdir::invalid_error(
            &existing.invalid,
            "a merge directory holding only runs of this sweep: delete the file",
        ));
    }
    let mut written: Vec<Option<String>> = vec![None; runs.len()];
    for run in existing.runs {
        written[run.row.index] = Some(run.text);
    }
    for dir in &args.dirs {
        let scan = sweepdir::scan(dir, &first.id, &runs, grid_len)?;
        if !scan.invalid.is_empty() {
            return Err(sweepdir::invalid_error(&scan.invalid, REMEDY));
        }
        for run in scan.runs {
            let index = run.row.index;
            match &written[index] {
                Some(previous) if *previous != run.text => {
                    return Err(InputError::new(format!(
                        "run {index} differs from the same run in another directory"
                    ))
                    .source(sweepdir::run_file(dir, index).display().to_string())
                    .expected("shards of one deterministic sweep, which agree on every run")
                    .into());
                }
                Some(_) => {}
                None => {
                    write_atomic(&sweepdir::run_file(&args.out, index), &run.text)?;
                    written[index] = Some(run.text);
                }
            }
        }
    }
    let missing = written.iter().filter(|w| w.is_none()).count();
    if finish(&args.out, &first.id, &first.axes, &runs)? {
        eprintln!("merged {} runs into {}", runs.len(), args.out.display());
        Ok(())
    } else {
        Err(Error::from(
            InputError::new(format!(
                "{missing} of {} runs are missing; merge every shard's directory",
                runs.len()
            ))
            .source("merge"),
        ))
    }
}
