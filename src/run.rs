//! `liqsim run FILE`: run one scenario.

use crate::CliResult;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    file: PathBuf,
}

pub fn run(args: &RunArgs) -> CliResult {
    let _scenario = liqsim_scenario::load(&args.file, &[])?;
    Err(liqsim_core::Error::Internal("the simulation is not implemented yet".into()))
}
