//! `liqsim validate FILE...`: load and validate scenario files.

use crate::CliResult;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario files (TOML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub fn run(args: &ValidateArgs) -> CliResult {
    for file in &args.files {
        liqsim_scenario::load(file, &[])?;
        println!("ok {}", file.display());
    }
    Ok(())
}
