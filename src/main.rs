//! The `liqsim` command line: arguments, files, exit codes and progress. All simulation
//! lives in the crates below; this binary only reads input, calls them and writes output.
//!
//! Exit codes: 0 success, 2 bad input (file, flag, value), 1 internal failure.

mod backtest;
mod calibrate;
mod compare;
mod engine;
mod merge;
mod output;
mod price;
mod progress;
mod provenance;
mod risk;
mod run;
mod runrow;
mod sweep;
mod sweepdir;
mod target;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// What a command returns: bad input maps to exit code 2, anything else to 1.
pub type CliResult = Result<(), liqsim_core::Error>;

#[derive(Debug, Parser)]
#[command(
    name = "liqsim",
    version,
    about = "Deterministic market stress simulator: leveraged accounts, margin policies, liquidation cascades, exchange solvency",
    after_help = "Examples:
  liqsim validate scenarios/*.toml
  liqsim run scenarios/quickstart.toml --seed 7 --format json
  liqsim run scenarios/jump-crash.toml --policy es --set margin.confidence=0.995 --out out/
  liqsim price --model black76 --kind call --forward 100 --strike 100 --vol 0.2 --t 0.5 --rate 0.05
  liqsim risk --measure es --alpha 0.975 --dist t:4 --sigma 0.02

Exit codes: 0 success, 2 bad input, 1 internal failure."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check scenario files; exit 0 when all are valid, 2 with the first error otherwise.
    Validate(validate::ValidateArgs),
    /// Run one scenario and print its outcome.
    Run(run::RunArgs),
    /// Price a European option and its Greeks (Black-Scholes-Merton, Black-76, Merton jump-diffusion).
    Price(price::PriceArgs),
    /// Value at risk or expected shortfall of a distribution or of a P&L file.
    Risk(risk::RiskArgs),
    /// Margin policies side by side over many seeds (common random numbers).
    Compare(compare::CompareArgs),
    /// A parameter grid x seeds in parallel: runs.csv, summary.csv and the frontier.
    Sweep(sweep::SweepArgs),
    /// Combine the output directories of a sharded sweep.
    Merge(merge::MergeArgs),
    /// Margin coverage backtest of a policy on a scenario's replayed history.
    Backtest(backtest::BacktestArgs),
    /// Fit scenario parameters to observed statistics of a real day (Nelder-Mead over
    /// seeds on common random numbers).
    Calibrate(calibrate::CalibrateArgs),
    /// Per policy, the cheapest setting keeping bad debt within a target in every scenario.
    Target(target::TargetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Run(args) => run::run(args),
        Command::Price(args) => price::run(args),
        Command::Risk(args) => risk::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Calibrate(args) => calibrate::run(args),
        Command::Target(args) => target::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
        }
    }
}

#[cfg(test)]
mod tests_support {
    use liqsim_core::{Money, SimDuration};
    use liqsim_sim::*;

    /// A stand-in for the kernel: figures that depend on the seed and the grid values.
    pub fn fake_outcome(s: &liqsim_scenario::Scenario) -> Outcome {
        let x = (s.seed % 97) as i64 * 1_000_003 + (s.margin.confidence * 1e6) as i64;
        Outcome {
            scenario: s.name.clone(),
            quote_currency: s.market.quote_currency.clone(),
            seed: s.seed,
            start_utc_ns: s.start_utc_ns,
            policy: s.margin.policy.name().into(),
            digest: format!("{:032x}", x),
            events: 100 + s.seed,
            accounts_checked: 10 + s.seed,
            duration: SimDuration::from_secs(1),
            liquidations: LiquidationTotals {
                count: 3,
                notional: Money::from_micros(x * 7),
                ..Default::default()
            },
            bad_debt: Money::from_micros(x % 5_000_000),
            insurance_fund: FundFigures::default(),
            adl: AdlTotals::default(),
            socialized_loss: Money::ZERO,
            cascade: CascadeSummary {
                max_depth: (s.seed % 4) as u32,
                amplification: Some(1.5),
                waves: 1,
                largest: 2,
                size_counts: vec![],
            },
            solvent: true,
            conservation_error: Money::ZERO,
            open_interest: OpenInterestFigures::default(),
            margin: MarginFigures {
                mean_initial: Money::from_micros((s.margin.confidence * 1e9) as i64),
                peak_initial: Money::from_micros(2_000_000_000),
                pre_stress_initial: Money::from_micros(1_000_000_000),
                pre_stress_rate: 0.05,
                peak_rate: 0.1,
            },
            first_liquidation: None,
            first_adl: None,
            fund_exhausted: s.seed.is_multiple_of(3).then_some(liqsim_core::SimTime::START),
            series: vec![],
            liquidation_log: vec![],
            shocks: vec![],
            leverage_bands: vec![],
            options: Default::default(),
            option_series: Vec::new(),
            option_peak_time: None,
            replay_volume: Vec::new(),
            collateral: None,
        }
    }

    pub fn repo_file(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }
}
