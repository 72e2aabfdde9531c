//! `liqsim risk`: not available yet in this build.

use crate::CliResult;

#[derive(Debug, clap::Args)]
pub struct RiskArgs {
    /// Arguments, once this command exists.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

pub fn run(_args: &RiskArgs) -> CliResult {
    Err(liqsim_core::Error::Internal("`liqsim risk` is not implemented yet".into()))
}
