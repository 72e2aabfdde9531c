//! `liqsim validate FILE...`: load and validate scenario files.
//!
//! Each valid file is one line starting `ok FILE`. A file whose margin reads a history
//! (`es`/`var` with a historical method or the anti-procyclicality floor) says on that
//! line how many of the history's rows its run reads and the date of the last, so that
//! the cut at the run's start can be seen before running.

use crate::CliResult;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Override a field in every file before validating: `--set margin.policy=es`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

pub fn run(args: &ValidateArgs) -> CliResult {
    for file in &args.files {
        let s = liqsim_scenario::load(file, &args.overrides)?;
        match (&s.margin.history, s.start_utc_ns) {
            (Some(history), Some(start)) if s.margin.uses_history() => {
                let date = liqsim_scenario::replay::format_timestamp;
                println!(
                    "ok {} (margin history: {} rows, the last dated {}, before the start {})",
                    file.display(),
                    history.bars.len(),
                    date(history.last_utc_ns()),
                    date(start)
                );
            }
            _ => println!("ok {}", file.display()),
        }
    }
    Ok(())
}
