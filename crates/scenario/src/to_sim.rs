//! Validated scenario -> the kernel's configuration.
//!
//! Only a mapping: every check on the input is in [`crate::validate`], which is where a
//! file position can be given. A case that validation refuses is an internal error here
//! (a `Scenario` built around validation).

use crate::model::{self, Instrument, Policy, Process, Scenario, ScenarioMethod};
use liqsim_core::{Error, Result, SimTime};
use liqsim_exchange::{CollateralConfig, FundingConfig, HaircutBand, Haircuts};
use liqsim_risk::linear::Measure;
use liqsim_risk::{ApcConfig, PolicyConfig, ScenarioConfig, ScenarioSource};
use liqsim_sim::config::*;

/// A combination that validation refuses reached the mapping.
fn unchecked(what: &str) -> Error {
    Error::Internal(format!("{what} passed validation"))
}

/// Anti-procyclicality for `es`/`var`: the stressed rates from the most volatile year
/// (250 periods, or the whole history when shorter) of the margin history, which holds
/// only what closed before the run's start.
fn apc(s: &Scenario, measure: Measure) -> Option<ApcConfig> {
    let m = &s.margin;
    if !m.apc_floor && m.apc_buffer == 0.0 {
        return None;
    }
    let stressed = m.history.as_ref().filter(|_| m.apc_floor).and_then(|history| {
        let bars = &history.bars;
        let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
        let window = 250.min(closes.len());
        let start = liqsim_risk::scenarios::stressed_window(&closes, window)?;
        let returns = liqsim_risk::scenarios::log_returns(&closes[start..start + window]);
        let period = bars.get(1).map_or(1, |b| b.time_ns - bars[0].time_ns).max(1);
        let periods = ((m.horizon.nanos() as f64 / period as f64).round() as usize).max(1);
        let horizon = liqsim_risk::scenarios::aggregate(&returns, periods);
        (!horizon.is_empty()).then(|| liqsim_risk::linear::rates(&horizon, m.confidence, measure))
    });
    Some(ApcConfig { buffer: m.apc_buffer, stressed })
}

/// The validated margin section as the risk crate's policy configuration.
pub fn policy_config(s: &Scenario) -> Result<PolicyConfig> {
    let m = &s.margin;
    Ok(match m.policy {
        Policy::Fixed => PolicyConfig::Fixed(m.fixed.clone()),
        Policy::Grid => PolicyConfig::Grid(m.grid),
        Policy::Greeks => PolicyConfig::Greeks(m.greeks),
        Policy::Es | Policy::Var => {
            let measure = if m.policy == Policy::Es { Measure::Es } else { Measure::Var };
            let source = match (m.method, &m.history) {
                (ScenarioMethod::MonteCarlo, _) => {
                    let Process::Parametric { unit, spec } = &s.market.process else {
                        return Err(unchecked("Monte Carlo scenarios with a replayed process"));
                    };
                    ScenarioSource::MonteCarlo {
                        process: spec.clone(),
                        unit: *unit,
                        scenarios: m.scenarios,
                        horizon: m.horizon,
                    }
                }
                (method, Some(history)) => {
                    let bars = &history.bars;
                    let closes: Vec<f64> = bars.iter().map(|b| b.close).collect();
                    let returns = liqsim_risk::scenarios::log_returns(&closes);
                    let period =
                        liqsim_core::SimDuration::from_nanos(bars[1].time_ns - bars[0].time_ns);
                    let periods = ((m.horizon.nanos() as f64 / period.nanos() as f64).round()
                        as usize)
                        .max(1);
                    if method == ScenarioMethod::Historical {
                        ScenarioSource::Returns(liqsim_risk::scenarios::aggregate(
                            &returns, periods,
                        ))
                    } else {
                        ScenarioSource::Filtered {
                            returns,
                            lambda: m.ewma_lambda,
                            horizon_periods: periods,
                            period,
                        }
                    }
                }
                (_, None) => return Err(unchecked("a historical method without a history")),
            };
            PolicyConfig::Scenario(ScenarioConfig {
                measure,
                confidence: m.confidence,
                maintenance_fraction: m.maintenance_fraction,
                source,
                apc: apc(s, measure),
                max_leverage: crate::validate::max_leverage(&s.instruments),
                horizon_years: m.horizon.as_years_f64(),
            })
        }
    })
}

/// The scheduled shocks on the kernel's clock (validation reads the volatility they
/// put on the start through the same mapping).
pub(crate) fn kernel_shocks(shocks: &[model::Shock]) -> Vec<liqsim_models::Shock> {
    let at = |d: liqsim_core::SimDuration| SimTime::START.plus(d);
    shocks
        .iter()
        .map(|shock| match *shock {
            model::Shock::Jump { at: t, size } => liqsim_models::Shock::Jump { at: at(t), size },
            model::Shock::Volatility { at: t, duration, multiplier } => {
                liqsim_models::Shock::Volatility {
                    start: at(t),
                    end: at(t).plus(duration),
                    multiplier,
                }
            }
            model::Shock::Drought { at: t, duration, liquidity } => {
                liqsim_models::Shock::Drought { start: at(t), end: at(t).plus(duration), liquidity }
            }
        })
        .collect()
}

pub fn sim_config(s: &Scenario) -> Result<SimConfig> {
    let options = s.instruments.iter().find_map(|i| match i {
        Instrument::OptionChain { expiries, strikes, .. } => {
            Some(OptionChainConfig { expiries: expiries.clone(), strikes: strikes.clone() })
        }
        Instrument::Perpetual { .. } => None,
    });
    let max_leverage = crate::validate::max_leverage(&s.instruments);
    let shocks = kernel_shocks(&s.market.shocks);
    let process = match &s.market.process {
        Process::Parametric { unit, spec } => {
            ProcessConfig::Parametric { unit: *unit, spec: spec.clone() }
        }
        Process::Replay { bars, .. } => ProcessConfig::Replay(bars.clone()),
    };
    let m = &s.margin;
    let policy = policy_config(s)?;
    let l = &s.liquidation;
    Ok(SimConfig {
        name: s.name.clone(),
        quote_currency: s.market.quote_currency.clone(),
        seed: s.seed,
        start_utc_ns: s.start_utc_ns,
        duration: s.duration,
        metrics_interval: s.metrics_interval,
        margin_metrics_interval: s.margin_metrics_interval,
        step: s.market.step,
        initial_price: s.market.initial_price,
        spec: s.market.contract,
        process,
        activity: match &s.market.process {
            Process::Replay { activity, .. } => activity.clone(),
            Process::Parametric { .. } => Vec::new(),
        },
        shocks,
        index_impact: s.market.index_impact,
        index_decay: s.market.index_decay,
        mark_rule: s.market.mark_rule,
        mark_ema: s.market.mark_ema,
        funding: FundingConfig {
            interval: s.market.funding.interval,
            interest: s.market.funding.interest,
            clamp: s.market.funding.clamp,
            cap: s.market.funding.cap,
        },
        funding_impact_notional: s.market.funding.impact_notional,
        margin: MarginConfig { policy, refresh: m.refresh },
        liquidation: LiquidationConfig {
            partial: l.partial,
            step_fraction: l.step_fraction,
            cooldown: l.cooldown,
            fee: l.fee,
            backstop: l.backstop,
            backstop_capital: l.backstop_capital,
            backstop_unwind: l.backstop_unwind,
            engine: l.engine,
            mark_close: l.mark_close,
            adl: l.adl,
            adl_ranking: l.adl_ranking,
        },
        maker_fee: s.fees.maker,
        taker_fee: s.fees.taker,
        max_leverage,
        max_position: s.instruments.iter().find_map(|i| match i {
            Instrument::Perpetual { max_position, .. } => *max_position,
            Instrument::OptionChain { .. } => None,
        }),
        insurance_fund: s.insurance_fund_initial,
        agents: s.agents.clone(),
        options,
        collateral: s
            .collateral
            .iter()
            .map(|c| {
                let bands: Vec<HaircutBand> =
                    c.haircuts.iter().map(|&(up_to, rate)| HaircutBand { up_to, rate }).collect();
                Ok(CollateralSpec {
                    config: CollateralConfig {
                        name: c.name.clone(),
                        haircuts: Haircuts::new(&bands)?,
                        liquidation_discount: c.liquidation_discount,
                    },
                    share: c.share,
                    path: c.path.clone(),
                })
            })
            .collect::<Result<_>>()?,
    })
}
