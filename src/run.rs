//! `liqsim run FILE`: run one scenario.

use crate::CliResult;
use liqsim_core::Error;
use liqsim_scenario::Scenario;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Seed of the run (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Margin policy (overrides `margin.policy`).
    #[arg(long, value_parser = ["es", "var", "fixed", "grid"])]
    pub policy: Option<String>,
    /// Override any scenario field: `--set margin.confidence=0.995` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Write summary.json, timeseries.csv, liquidations.csv and report.html here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
}

/// Loads the scenario with the command-line overrides: `--set` in order, then `--seed`
/// and `--policy`, which are overrides of `seed` and `margin.policy` and so pass the
/// same validation (an `es` run without a return history is refused either way).
pub fn load(args: &RunArgs) -> Result<Scenario, Error> {
    let mut overrides = args.overrides.clone();
    if let Some(seed) = args.seed {
        overrides.push(format!("seed={seed}"));
    }
    if let Some(policy) = &args.policy {
        overrides.push(format!("margin.policy=\"{policy}\""));
    }
    liqsim_scenario::load(&args.file, &overrides)
}

pub fn run(args: &RunArgs) -> CliResult {
    let scenario = load(args)?;
    let _outcome = crate::engine::run_scenario(&scenario)?;
    Ok(())
}
