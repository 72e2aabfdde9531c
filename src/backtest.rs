//! `liqsim backtest`: not available yet in this build.

use crate::CliResult;

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// Arguments, once this command exists.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run(_args: &BacktestArgs) -> CliResult {
    Err(liqsim_core::Error::Internal("`liqsim backtest` is not implemented yet".into()))
}
