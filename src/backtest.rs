//! `liqsim backtest FILE --policy P`: margin coverage on the scenario's real history.
//!
//! Walks the history (`margin.history` as the scenario's run sees it, cut at the run's
//! start; or, without one, the replayed file): at each test date the
//! policy sets the initial margin of a reference position of one unit of the perpetual
//! (long, or short with `--side short`) from the closes up to that date; the loss over the
//! margin horizon is compared with it. Breaches are counted and tested: Kupiec's
//! proportion of failures, Christoffersen's independence and conditional coverage.
//! `es` and `var` use the scenario's method (historical or filtered historical) on the
//! last `--window` returns; `fixed` and `grid` use their rates.

use crate::CliResult;
use liqsim_core::{Error, InputError};
use liqsim_risk::backtest::{CoverageConfig, margin_coverage};
use liqsim_risk::portfolio::{Instrument, Position};
use liqsim_risk::scenarios::{aggregate, log_returns};
use liqsim_risk::{MarginModel, PolicyConfig, Requirements, ScenarioConfig, ScenarioSource};
use liqsim_scenario::{Policy, ScenarioMethod};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BacktestArgs {
    /// Scenario file whose history (margin.history, or the replay) is walked.
    pub file: PathBuf,
    /// Margin policy to test.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Policy::NAMES))]
    pub policy: String,
    /// Side of the reference position.
    #[arg(long, value_parser = ["long", "short"], default_value = "long")]
    pub side: String,
    /// Returns the policy looks back on at each date.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(20..=100_000))]
    pub window: u64,
    /// Override a scenario field (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
}

pub fn run(args: &BacktestArgs) -> CliResult {
    let mut overrides = args.overrides.clone();
    overrides.push(format!("margin.policy=\"{}\"", args.policy));
    let s = liqsim_scenario::load(&args.file, &overrides)?;
    let bars = match (&s.margin.history, &s.market.process) {
        (Some(h), _) => h.bars.clone(),
        (None, liqsim_scenario::Process::Replay { bars, .. }) => bars.clone(),
        _ => {
            return Err(InputError::new("no history to walk")
                .key("margin.history")
                .expected(
                    "a scenario with margin.history (at least two rows before its start) or a replay process",
                )
                .into());
        }
    };
    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let period = liqsim_core::SimDuration::from_nanos(bars[1].time_ns - bars[0].time_ns);
    let horizon =
        ((s.margin.horizon.nanos() as f64 / period.nanos() as f64).round() as usize).max(1);
    let window = args.window as usize;
    let m = &s.margin;
    let long = args.side == "long";
    let position =
        Position { instrument: Instrument::Perpetual, quantity: if long { 1.0 } else { -1.0 } };
    if matches!(m.policy, Policy::Es | Policy::Var) && m.method == ScenarioMethod::MonteCarlo {
        return Err(InputError::new(
            "a backtest replays history; Monte Carlo scenarios do not come from it",
        )
        .key("margin.method")
        .expected("historical or filtered_historical")
        .into());
    }
    let base = liqsim_scenario::policy_config(&s)?;
    // At each date the run's own model, its scenarios cut to the last `window` returns.
    let requirement =
        |history: &[f64], market: &liqsim_risk::Market| -> Result<Requirements, Error> {
            let config = match &base {
                PolicyConfig::Scenario(c) => {
                    let returns = log_returns(&history[history.len().saturating_sub(window + 1)..]);
                    let source = if m.method == ScenarioMethod::Historical {
                        ScenarioSource::Returns(aggregate(&returns, horizon))
                    } else {
                        ScenarioSource::Filtered {
                            returns,
                            lambda: m.ewma_lambda,
                            horizon_periods: horizon,
                            period,
                        }
                    };
                    PolicyConfig::Scenario(ScenarioConfig {
                        measure: c.measure,
                        confidence: c.confidence,
                        maintenance_fraction: c.maintenance_fraction,
                        source,
                        apc: None,
                        max_leverage: c.max_leverage,
                        horizon_years: c.horizon_years,
                    })
                }
                other => other.clone(),
            };
            MarginModel::new(config, s.seed)?.portfolio(&[position], market)
        };
    let config = CoverageConfig {
        window: window + 1,
        horizon_periods: horizon,
        period_years: period.as_years_f64(),
        vol: 0.6,
        rate: 0.0,
        confidence: if matches!(m.policy, Policy::Es | Policy::Var) { m.confidence } else { 0.99 },
    };
    let c = margin_coverage(&closes, &[position], &config, requirement)
        .map_err(|e| e.in_source(args.file.display().to_string()))?;
    let tests = c.hits.len();
    let expected = (1.0 - config.confidence) * tests as f64;
    match args.format.as_str() {
        "json" => {
            let value = serde_json::json!({
                "scenario": s.name,
                "policy": args.policy,
                "side": args.side,
                "tests": tests,
                "breaches": c.breaches,
                "expected_breaches": expected,
                "worst_shortfall": c.worst_shortfall,
                "kupiec": { "statistic": c.kupiec.statistic, "p_value": c.kupiec.p_value },
                "christoffersen_independence": { "statistic": c.christoffersen.independence.statistic, "p_value": c.christoffersen.independence.p_value },
                "christoffersen_conditional": { "statistic": c.christoffersen.conditional.statistic, "p_value": c.christoffersen.conditional.p_value },
            });
            println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        _ => {
            println!(
                "{} under {} ({} one unit), horizon {} periods, {tests} tests",
                s.name, args.policy, args.side, horizon
            );
            println!(
                "breaches            {} (expected {expected:.1} at confidence {})",
                c.breaches, config.confidence
            );
            println!("worst shortfall     {:.2} per unit", c.worst_shortfall);
            println!("Kupiec POF          LR {:.3}, p {:.4}", c.kupiec.statistic, c.kupiec.p_value);
            println!(
                "independence        LR {:.3}, p {:.4}",
                c.christoffersen.independence.statistic, c.christoffersen.independence.p_value
            );
            println!(
                "conditional cover.  LR {:.3}, p {:.4}",
                c.christoffersen.conditional.statistic, c.christoffersen.conditional.p_value
            );
        }
    }
    Ok(())
}
