//! `liqsim validate FILE...`: load and validate scenario files.

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
        liqsim_scenario::load(file, &args.overrides)?;
        println!("ok {}", file.display());
    }
    Ok(())
}
