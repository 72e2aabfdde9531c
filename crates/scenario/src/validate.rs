//! Raw scenario -> validated [`Scenario`]: defaults, ranges and cross-field rules, all in
//! one place. Every error names the key path (`margin.confidence`, `agents[1].count`), the
//! value given and the valid range; the caller adds file, line and column from the path.

use crate::model::*;
use crate::raw::*;
use crate::replay;
use liqsim_core::{ContractSpec, Error, InputError, Money, Result, SimDuration};
use std::path::Path;

/// Agent populations above this are refused: a typo (an extra zero or three) should not
/// start a run that exhausts memory.
pub const MAX_AGENT_COUNT: i64 = 10_000_000;
const MAX_DURATION: SimDuration = SimDuration::from_secs(366 * 86_400);

fn err(path: &str, message: impl Into<String>, expected: impl Into<String>) -> Error {
    InputError::new(message).key(path).expected(expected).into()
}

fn required<T>(value: Option<T>, path: &str, expected: &str) -> Result<T> {
    value.ok_or_else(|| err(path, "missing required key", expected))
}

/// Bounds of a real-valued field; `None` means unbounded on that side.
#[derive(Clone, Copy)]
struct Range {
    min: Option<(f64, bool)>,
    max: Option<(f64, bool)>,
}

impl Range {
    const fn closed(min: f64, max: f64) -> Range {
        Range { min: Some((min, true)), max: Some((max, true)) }
    }
    const fn open(min: f64, max: f64) -> Range {
        Range { min: Some((min, false)), max: Some((max, false)) }
    }
    const fn positive_up_to(max: f64) -> Range {
        Range { min: Some((0.0, false)), max: Some((max, true)) }
    }
    const fn non_negative_up_to(max: f64) -> Range {
        Range { min: Some((0.0, true)), max: Some((max, true)) }
    }

    fn contains(self, x: f64) -> bool {
        let above = match self.min {
            Some((m, true)) => x >= m,
            Some((m, false)) => x > m,
            None => true,
        };
        let below = match self.max {
            Some((m, true)) => x <= m,
            Some((m, false)) => x < m,
            None => true,
        };
        x.is_finite() && above && below
    }

    fn describe(self) -> String {
        let low = match self.min {
            Some((m, true)) => format!("{m} <= x"),
            Some((m, false)) => format!("{m} < x"),
            None => "x".to_string(),
        };
        match self.max {
            Some((m, true)) => format!("{low} <= {m}"),
            Some((m, false)) => format!("{low} < {m}"),
            None => low,
        }
    }
}

fn real(value: f64, path: &str, range: Range) -> Result<f64> {
    if range.contains(value) {
        Ok(value)
    } else {
        Err(err(path, format!("{value} is out of range"), range.describe()))
    }
}

fn real_or(value: Option<f64>, default: f64, path: &str, range: Range) -> Result<f64> {
    real(value.unwrap_or(default), path, range)
}

fn duration(text: &str, path: &str, min: SimDuration, max: SimDuration) -> Result<SimDuration> {
    let d = SimDuration::parse(text).map_err(|e| e.at_key(path))?;
    if d < min || d > max {
        return Err(err(
            path,
            format!("duration `{text}` is out of range"),
            format!("{min} to {max}"),
        ));
    }
    Ok(d)
}

fn duration_or(
    text: Option<&str>,
    default: &str,
    path: &str,
    min: SimDuration,
    max: SimDuration,
) -> Result<SimDuration> {
    duration(text.unwrap_or(default), path, min, max)
}

fn choice<T: Copy>(text: &str, path: &str, options: &[(&str, T)]) -> Result<T> {
    options.iter().find(|(name, _)| *name == text).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        err(path, format!("unknown value `{text}`"), format!("one of {}", names.join(", ")))
    })
}

fn money(value: f64, path: &str, range: Range) -> Result<Money> {
    let value = real(value, path, range)?;
    Money::from_f64_exact(value).map_err(|e| e.at_key(path))
}

pub fn validate(raw: RawScenario, base_dir: &Path) -> Result<Scenario> {
    let name = raw.name.trim().to_string();
    if name.is_empty() || name.len() > 100 {
        return Err(err("name", "name is empty or too long", "1 to 100 characters"));
    }
    let seed = match raw.seed {
        None => 1,
        Some(s) => u64::try_from(s)
            .map_err(|_| err("seed", format!("{s} is negative"), "0 <= seed < 2^63"))?,
    };
    let second = SimDuration::from_secs(1);
    let duration = duration(&raw.duration, "duration", second, MAX_DURATION)?;
    let metrics_interval =
        duration_or(raw.metrics_interval.as_deref(), "1m", "metrics_interval", second, duration)?;
    let margin_metrics_interval = match raw.margin_metrics_interval.as_deref() {
        None => metrics_interval,
        Some(text) => {
            let d =
                duration_or(Some(text), "", "margin_metrics_interval", metrics_interval, duration)?;
            if d.nanos() % metrics_interval.nanos() != 0 {
                return Err(err(
                    "margin_metrics_interval",
                    format!("{text} is not a whole number of metrics intervals"),
                    "a multiple of metrics_interval, at most duration",
                ));
            }
            d
        }
    };
    let market = market(raw.market, base_dir, duration)?;
    let instruments = instruments(raw.instruments)?;
    let margin = margin(raw.margin, base_dir, &market)?;
    let liquidation = liquidation(raw.liquidation)?;
    let insurance_fund_initial = money(
        raw.insurance_fund.and_then(|f| f.initial).unwrap_or(0.0),
        "insurance_fund.initial",
        Range::non_negative_up_to(1e12),
    )?;
    let fees = raw.fees.unwrap_or(RawFees { maker: None, taker: None });
    let fees = Fees {
        maker: real_or(fees.maker, 0.0002, "fees.maker", Range::closed(-0.01, 0.01))?,
        taker: real_or(fees.taker, 0.0005, "fees.taker", Range::closed(0.0, 0.01))?,
    };
    if fees.maker + fees.taker < 0.0 {
        return Err(err(
            "fees.maker",
            "a maker rebate larger than the taker fee pays traders to trade with themselves",
            "fees.maker + fees.taker >= 0",
        ));
    }
    let agents = raw
        .agents
        .into_iter()
        .enumerate()
        .map(|(i, a)| agent_group(a, &format!("agents[{i}]")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Scenario {
        name,
        description: raw.description.unwrap_or_default().trim().to_string(),
        seed,
        duration,
        metrics_interval,
        margin_metrics_interval,
        market,
        instruments,
        margin,
        liquidation,
        insurance_fund_initial,
        fees,
        agents,
    })
}

fn market(raw: RawMarket, base_dir: &Path, run: SimDuration) -> Result<Market> {
    let tick_size = money(raw.tick_size, "market.tick_size", Range::positive_up_to(1e6))?;
    if tick_size.micros() <= 0 {
        return Err(err(
            "market.tick_size",
            format!("{} rounds to zero micro-units", raw.tick_size),
            "at least 0.000001",
        ));
    }
    let lot = real_or(raw.lot_size, 0.001, "market.lot_size", Range::positive_up_to(1e6))?;
    let lot_nanos = liqsim_core::units::parse_scaled(&format!("{lot}"), 9).map_err(|_| {
        err(
            "market.lot_size",
            format!("{lot} has more than 9 decimals"),
            "a multiple of 0.000000001",
        )
    })?;
    let contract =
        ContractSpec::new(tick_size, lot_nanos).map_err(|e| e.at_key("market.tick_size"))?;
    let step = duration_or(
        raw.step.as_deref(),
        "1s",
        "market.step",
        SimDuration::from_millis(1),
        SimDuration::from_secs(86_400),
    )?;
    let process = process(raw.process, base_dir)?;
    if let Process::Replay { bars, .. } = &process {
        // Bars are evenly spaced (checked when read); the last one ends one spacing after
        // it opens.
        let spacing = bars[1].time_ns - bars[0].time_ns;
        let span = SimDuration::from_nanos(bars[bars.len() - 1].time_ns.saturating_add(spacing));
        if run > span {
            return Err(err(
                "duration",
                format!("the run ({run}) is longer than the replayed history ({span})"),
                format!("at most {span} for this file"),
            ));
        }
    }
    let initial_price = match (&process, raw.initial_price) {
        (_, Some(p)) => real(p, "market.initial_price", Range::positive_up_to(1e9))?,
        (Process::Replay { bars, .. }, None) => bars[0].open,
        (_, None) => {
            return Err(err(
                "market.initial_price",
                "missing required key",
                "a price 0 < x <= 1e9 (optional only for replay)",
            ));
        }
    };
    if contract.price_from_f64(initial_price)?.ticks() < 10 {
        return Err(err(
            "market.tick_size",
            format!("tick size {tick_size} is too coarse for the initial price {initial_price}"),
            "at least 10 ticks in the initial price",
        ));
    }
    let shocks = raw
        .shocks
        .iter()
        .enumerate()
        .map(|(i, s)| shock(s, &format!("market.shocks[{i}]"), run))
        .collect::<Result<Vec<_>>>()?;
    let index = raw.index.unwrap_or(RawIndex { impact: None, decay: None });
    let mark = raw.mark.unwrap_or(RawMark { rule: None, ema: None });
    let funding = raw.funding.unwrap_or(RawFunding {
        interval: None,
        interest: None,
        clamp: None,
        cap: None,
        impact_notional: None,
    });
    let minute = SimDuration::from_secs(60);
    let day = SimDuration::from_secs(86_400);
    Ok(Market {
        initial_price,
        contract,
        step,
        process,
        shocks,
        index_impact: real_or(
            index.impact,
            0.0,
            "market.index.impact",
            Range::non_negative_up_to(1.0),
        )?,
        index_decay: duration_or(
            index.decay.as_deref(),
            "5m",
            "market.index.decay",
            SimDuration::from_secs(1),
            day,
        )?,
        mark_rule: choice(
            mark.rule.as_deref().unwrap_or("index_ema_basis"),
            "market.mark.rule",
            &[
                ("index", MarkRule::Index),
                ("index_ema_basis", MarkRule::IndexEmaBasis),
                ("median", MarkRule::Median),
                ("last", MarkRule::LastTrade),
            ],
        )?,
        mark_ema: duration_or(
            mark.ema.as_deref(),
            "5m",
            "market.mark.ema",
            SimDuration::from_secs(1),
            day,
        )?,
        funding: Funding {
            interval: duration_or(
                funding.interval.as_deref(),
                "8h",
                "market.funding.interval",
                minute,
                day,
            )?,
            interest: real_or(
                funding.interest,
                0.0001,
                "market.funding.interest",
                Range::closed(-0.01, 0.01),
            )?,
            clamp: real_or(
                funding.clamp,
                0.0005,
                "market.funding.clamp",
                Range::non_negative_up_to(0.01),
            )?,
            cap: real_or(funding.cap, 0.0075, "market.funding.cap", Range::positive_up_to(0.1))?,
            impact_notional: money(
                funding.impact_notional.unwrap_or(10_000.0),
                "market.funding.impact_notional",
                Range::positive_up_to(1e9),
            )?,
        },
    })
}

fn process(raw: RawProcess, base_dir: &Path) -> Result<Process> {
    const P: &str = "market.process";
    let kinds = ["gbm", "merton", "kou", "svcj", "garch_t", "replay"];
    if !kinds.contains(&raw.kind.as_str()) {
        return Err(err(
            "market.process.kind",
            format!("unknown process `{}`", raw.kind),
            format!("one of {}", kinds.join(", ")),
        ));
    }
    let unit = choice(
        raw.units.as_deref().unwrap_or("year"),
        "market.process.units",
        &[("year", RateUnit::PerYear), ("day", RateUnit::PerDay)],
    )?;
    // Each kind accepts its own keys; one given for another kind is a mistake worth naming.
    let allowed: &[&str] = match raw.kind.as_str() {
        "gbm" => &["vol", "drift"],
        "merton" => &["vol", "drift", "jump_intensity", "jump_mean", "jump_vol"],
        "kou" => &["vol", "drift", "jump_intensity", "p_up", "eta_up", "eta_down"],
        "svcj" => &[
            "drift",
            "kappa",
            "theta",
            "sigma_v",
            "rho",
            "v0",
            "jump_intensity",
            "jump_mean",
            "jump_vol",
            "jump_var_mean",
            "jump_corr",
        ],
        "garch_t" => &["drift", "omega", "alpha", "beta", "nu"],
        _ => &["file"],
    };
    let given = [
        ("vol", raw.vol.is_some()),
        ("drift", raw.drift.is_some()),
        ("jump_intensity", raw.jump_intensity.is_some()),
        ("jump_mean", raw.jump_mean.is_some()),
        ("jump_vol", raw.jump_vol.is_some()),
        ("p_up", raw.p_up.is_some()),
        ("eta_up", raw.eta_up.is_some()),
        ("eta_down", raw.eta_down.is_some()),
        ("kappa", raw.kappa.is_some()),
        ("theta", raw.theta.is_some()),
        ("sigma_v", raw.sigma_v.is_some()),
        ("rho", raw.rho.is_some()),
        ("v0", raw.v0.is_some()),
        ("jump_var_mean", raw.jump_var_mean.is_some()),
        ("jump_corr", raw.jump_corr.is_some()),
        ("omega", raw.omega.is_some()),
        ("alpha", raw.alpha.is_some()),
        ("beta", raw.beta.is_some()),
        ("nu", raw.nu.is_some()),
        ("file", raw.file.is_some()),
    ];
    for (key, present) in given {
        if present && !allowed.contains(&key) {
            return Err(err(
                &format!("{P}.{key}"),
                format!("`{key}` is not a parameter of the `{}` process", raw.kind),
                format!("keys of `{}`: kind, units, {}", raw.kind, allowed.join(", ")),
            ));
        }
    }
    let path = |k: &str| format!("{P}.{k}");
    let need = |v: Option<f64>, k: &str, r: Range| -> Result<f64> {
        let p = path(k);
        real(required(v, &p, &r.describe())?, &p, r)
    };
    let vol_range = Range::positive_up_to(20.0);
    let drift_range = Range::closed(-100.0, 100.0);
    let intensity_range = Range::non_negative_up_to(1e6);
    Ok(match raw.kind.as_str() {
        "gbm" => Process::Parametric {
            unit,
            spec: ProcessSpec::Gbm {
                vol: need(raw.vol, "vol", vol_range)?,
                drift: real_or(raw.drift, 0.0, &path("drift"), drift_range)?,
            },
        },
        "merton" => Process::Parametric {
            unit,
            spec: ProcessSpec::Merton {
                vol: need(raw.vol, "vol", vol_range)?,
                drift: real_or(raw.drift, 0.0, &path("drift"), drift_range)?,
                jump_intensity: need(raw.jump_intensity, "jump_intensity", intensity_range)?,
                jump_mean: need(raw.jump_mean, "jump_mean", Range::closed(-5.0, 5.0))?,
                jump_vol: need(raw.jump_vol, "jump_vol", Range::non_negative_up_to(5.0))?,
            },
        },
        "kou" => Process::Parametric {
            unit,
            spec: ProcessSpec::Kou {
                vol: need(raw.vol, "vol", vol_range)?,
                drift: real_or(raw.drift, 0.0, &path("drift"), drift_range)?,
                jump_intensity: need(raw.jump_intensity, "jump_intensity", intensity_range)?,
                p_up: need(raw.p_up, "p_up", Range::closed(0.0, 1.0))?,
                // eta_up > 1 keeps E[e^J] finite, which the drift compensator needs.
                eta_up: need(
                    raw.eta_up,
                    "eta_up",
                    Range { min: Some((1.0, false)), max: Some((1e6, true)) },
                )?,
                eta_down: need(raw.eta_down, "eta_down", Range::positive_up_to(1e6))?,
            },
        },
        "svcj" => Process::Parametric {
            unit,
            spec: ProcessSpec::Svcj {
                drift: real_or(raw.drift, 0.0, &path("drift"), drift_range)?,
                kappa: need(raw.kappa, "kappa", Range::positive_up_to(1e4))?,
                theta: need(raw.theta, "theta", Range::positive_up_to(100.0))?,
                sigma_v: need(raw.sigma_v, "sigma_v", Range::non_negative_up_to(100.0))?,
                rho: need(raw.rho, "rho", Range::closed(-1.0, 1.0))?,
                v0: need(raw.v0, "v0", Range::non_negative_up_to(100.0))?,
                jump_intensity: need(raw.jump_intensity, "jump_intensity", intensity_range)?,
                jump_mean: need(raw.jump_mean, "jump_mean", Range::closed(-5.0, 5.0))?,
                jump_vol: need(raw.jump_vol, "jump_vol", Range::non_negative_up_to(5.0))?,
                jump_var_mean: need(
                    raw.jump_var_mean,
                    "jump_var_mean",
                    Range::non_negative_up_to(100.0),
                )?,
                jump_corr: real_or(
                    raw.jump_corr,
                    0.0,
                    &path("jump_corr"),
                    Range::closed(-100.0, 100.0),
                )?,
            },
        },
        "garch_t" => {
            let alpha = need(raw.alpha, "alpha", Range::closed(0.0, 1.0))?;
            let beta = need(raw.beta, "beta", Range::closed(0.0, 1.0))?;
            if alpha + beta >= 1.0 {
                return Err(err(
                    &path("beta"),
                    format!(
                        "alpha + beta = {} is not below 1: the variance has no stationary level",
                        alpha + beta
                    ),
                    "alpha + beta < 1",
                ));
            }
            Process::Parametric {
                unit,
                spec: ProcessSpec::GarchT {
                    omega: need(raw.omega, "omega", Range::positive_up_to(1.0))?,
                    alpha,
                    beta,
                    // nu > 2 for a finite variance, which GARCH scaling needs.
                    nu: need(
                        raw.nu,
                        "nu",
                        Range { min: Some((2.0, false)), max: Some((1000.0, true)) },
                    )?,
                    drift: real_or(raw.drift, 0.0, &path("drift"), drift_range)?,
                },
            }
        }
        _ => {
            let file =
                required(raw.file, &path("file"), "a CSV path relative to the scenario file")?;
            let resolved = base_dir.join(&file);
            let bars = replay::load_bars(&resolved)?;
            Process::Replay { file: resolved, bars }
        }
    })
}

fn shock(raw: &RawShock, path: &str, run: SimDuration) -> Result<Shock> {
    let at = duration(&raw.at, &format!("{path}.at"), SimDuration::ZERO, run)?;
    let window = |key: &str| -> Result<SimDuration> {
        let p = format!("{path}.{key}");
        let text = required(raw.duration.as_deref(), &p, "a duration such as 30m")?;
        duration(text, &p, SimDuration::from_secs(1), MAX_DURATION)
    };
    let kind = choice(
        raw.kind.as_str(),
        &format!("{path}.kind"),
        &[("jump", 0), ("vol", 1), ("drought", 2)],
    )?;
    let unexpected = |key: &str, present: bool| -> Result<()> {
        if present {
            Err(err(
                &format!("{path}.{key}"),
                format!("`{key}` does not apply to a `{}` shock", raw.kind),
                "jump: at, size; vol: at, duration, multiplier; drought: at, duration, liquidity",
            ))
        } else {
            Ok(())
        }
    };
    Ok(match kind {
        0 => {
            unexpected("multiplier", raw.multiplier.is_some())?;
            unexpected("duration", raw.duration.is_some())?;
            unexpected("liquidity", raw.liquidity.is_some())?;
            let p = format!("{path}.size");
            // A jump of -100% or worse would leave a non-positive price.
            let range = Range { min: Some((-1.0, false)), max: Some((10.0, true)) };
            Shock::Jump { at, size: real(required(raw.size, &p, &range.describe())?, &p, range)? }
        }
        1 => {
            unexpected("size", raw.size.is_some())?;
            unexpected("liquidity", raw.liquidity.is_some())?;
            let p = format!("{path}.multiplier");
            let range = Range::positive_up_to(100.0);
            Shock::Volatility {
                at,
                duration: window("duration")?,
                multiplier: real(required(raw.multiplier, &p, &range.describe())?, &p, range)?,
            }
        }
        _ => {
            unexpected("size", raw.size.is_some())?;
            unexpected("multiplier", raw.multiplier.is_some())?;
            let p = format!("{path}.liquidity");
            let range = Range::closed(0.0, 1.0);
            Shock::Drought {
                at,
                duration: window("duration")?,
                liquidity: real(required(raw.liquidity, &p, &range.describe())?, &p, range)?,
            }
        }
    })
}

fn instruments(raw: Vec<RawInstrument>) -> Result<Vec<Instrument>> {
    if raw.is_empty() {
        return Ok(vec![Instrument::Perpetual {
            symbol: "PERP".into(),
            max_leverage: 100.0,
            max_position: None,
        }]);
    }
    let mut symbols: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let path = format!("instruments[{i}]");
        if r.symbol.trim().is_empty() || symbols.contains(&r.symbol) {
            return Err(err(
                &format!("{path}.symbol"),
                format!("symbol `{}` is empty or used twice", r.symbol),
                "a unique, non-empty symbol",
            ));
        }
        symbols.push(r.symbol.clone());
        let kind = choice(
            r.kind.as_str(),
            &format!("{path}.kind"),
            &[("perpetual", false), ("option_chain", true)],
        )?;
        if kind {
            if r.max_leverage.is_some() || r.max_position.is_some() {
                return Err(err(
                    &format!("{path}.max_leverage"),
                    "an option chain has no leverage cap; margin policy decides",
                    "keys of option_chain: kind, symbol, expiries, strikes",
                ));
            }
            if r.expiries.is_empty() || r.strikes.is_empty() {
                return Err(err(
                    &format!("{path}.expiries"),
                    "an option chain needs at least one expiry and one strike",
                    "expiries = [\"7d\", ...], strikes = [0.9, 1.0, ...] (fractions of the initial price)",
                ));
            }
            let expiries = r
                .expiries
                .iter()
                .enumerate()
                .map(|(j, e)| {
                    duration(
                        e,
                        &format!("{path}.expiries[{j}]"),
                        SimDuration::from_secs(60),
                        MAX_DURATION,
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let strikes = r
                .strikes
                .iter()
                .enumerate()
                .map(|(j, &k)| real(k, &format!("{path}.strikes[{j}]"), Range::closed(0.05, 20.0)))
                .collect::<Result<Vec<_>>>()?;
            out.push(Instrument::OptionChain { symbol: r.symbol, expiries, strikes });
        } else {
            if !r.expiries.is_empty() || !r.strikes.is_empty() {
                return Err(err(
                    &format!("{path}.expiries"),
                    "a perpetual has no expiries or strikes",
                    "keys of perpetual: kind, symbol, max_leverage, max_position",
                ));
            }
            let max_leverage = real_or(
                r.max_leverage,
                100.0,
                &format!("{path}.max_leverage"),
                Range::closed(1.0, 1000.0),
            )?;
            let max_position = r
                .max_position
                .map(|x| real(x, &format!("{path}.max_position"), Range::positive_up_to(1e9)))
                .transpose()?;
            out.push(Instrument::Perpetual { symbol: r.symbol, max_leverage, max_position });
        }
    }
    if !out.iter().any(|i| matches!(i, Instrument::Perpetual { .. })) {
        return Err(err(
            "instruments",
            "no perpetual: option market makers hedge on it and its price drives the liquidation engine",
            "at least one instrument with kind = \"perpetual\"",
        ));
    }
    Ok(out)
}

fn margin(raw: Option<RawMargin>, base_dir: &Path, market: &Market) -> Result<Margin> {
    let raw = raw.unwrap_or(RawMargin {
        policy: None,
        confidence: None,
        horizon: None,
        method: None,
        scenarios: None,
        ewma_lambda: None,
        history: None,
        maintenance_fraction: None,
        refresh: None,
        fixed: None,
        grid: None,
        apc: None,
    });
    let policy_text = raw.policy.as_deref().unwrap_or("fixed");
    let policy = Policy::parse(policy_text).ok_or_else(|| {
        err(
            "margin.policy",
            format!("unknown policy `{policy_text}`"),
            "one of es, var, fixed, grid",
        )
    })?;
    let method = choice(
        raw.method.as_deref().unwrap_or("filtered_historical"),
        "margin.method",
        &[
            ("historical", ScenarioMethod::Historical),
            ("filtered_historical", ScenarioMethod::FilteredHistorical),
            ("monte_carlo", ScenarioMethod::MonteCarlo),
        ],
    )?;
    let scenarios = raw.scenarios.unwrap_or(1000);
    if !(10..=100_000).contains(&scenarios) {
        return Err(err(
            "margin.scenarios",
            format!("{scenarios} is out of range"),
            "10 <= x <= 100000",
        ));
    }
    let history = match &raw.history {
        Some(file) => {
            Some(replay::load_bars(&base_dir.join(file)).map_err(|e| e.at_key("margin.history"))?)
        }
        None => match &market.process {
            Process::Replay { bars, .. } => Some(bars.clone()),
            _ => None,
        },
    };
    if method != ScenarioMethod::MonteCarlo
        && matches!(policy, Policy::Es | Policy::Var)
        && history.is_none()
    {
        return Err(err(
            "margin.history",
            format!(
                "method `{}` needs a price history and the market process is not a replay",
                raw.method.as_deref().unwrap_or("filtered_historical")
            ),
            "margin.history = \"data/FILE.csv\", or margin.method = \"monte_carlo\"",
        ));
    }
    let fixed = raw.fixed.unwrap_or(RawFixedMargin {
        initial: None,
        maintenance: None,
        tiers: Vec::new(),
        short_option_fraction: None,
    });
    let fixed_initial =
        real_or(fixed.initial, 0.01, "margin.fixed.initial", Range::positive_up_to(1.0))?;
    let fixed_maintenance = real_or(
        fixed.maintenance,
        fixed_initial / 2.0,
        "margin.fixed.maintenance",
        Range::positive_up_to(1.0),
    )?;
    if fixed_maintenance > fixed_initial {
        return Err(err(
            "margin.fixed.maintenance",
            format!("maintenance {fixed_maintenance} is above initial {fixed_initial}"),
            "0 < maintenance <= initial",
        ));
    }
    let mut tiers = Vec::new();
    for (i, t) in fixed.tiers.iter().enumerate() {
        let path = format!("margin.fixed.tiers[{i}]");
        let tier = Tier {
            notional_max: money(
                t.notional_max,
                &format!("{path}.notional_max"),
                Range::positive_up_to(1e12),
            )?,
            initial: real(t.initial, &format!("{path}.initial"), Range::positive_up_to(1.0))?,
            maintenance: real(
                t.maintenance,
                &format!("{path}.maintenance"),
                Range::positive_up_to(1.0),
            )?,
        };
        if tier.maintenance > tier.initial {
            return Err(err(
                &format!("{path}.maintenance"),
                "maintenance above initial",
                "0 < maintenance <= initial",
            ));
        }
        if let Some(prev) = tiers.last() {
            let prev: &Tier = prev;
            if tier.notional_max <= prev.notional_max || tier.maintenance < prev.maintenance {
                return Err(err(
                    &format!("{path}.notional_max"),
                    "tiers must grow in notional and not fall in maintenance rate",
                    "increasing notional_max, non-decreasing rates",
                ));
            }
        }
        tiers.push(tier);
    }
    let grid = raw.grid.unwrap_or(RawGridMargin {
        move_max: None,
        steps: None,
        vol_shifts: Vec::new(),
        extreme_move: None,
        extreme_fraction: None,
        short_option_minimum: None,
    });
    let steps = grid.steps.unwrap_or(9);
    if !(3..=101).contains(&steps) || steps % 2 == 0 {
        return Err(err(
            "margin.grid.steps",
            format!("{steps} is not an odd number from 3 to 101"),
            "odd 3 <= x <= 101 (the middle step is no move)",
        ));
    }
    let vol_shifts =
        if grid.vol_shifts.is_empty() { vec![-0.25, 0.0, 0.25] } else { grid.vol_shifts };
    for (i, &v) in vol_shifts.iter().enumerate() {
        real(v, &format!("margin.grid.vol_shifts[{i}]"), Range::open(-1.0, 10.0))?;
    }
    let apc = raw.apc.unwrap_or(RawApc { floor: None, buffer: None });
    Ok(Margin {
        policy,
        confidence: real_or(raw.confidence, 0.99, "margin.confidence", Range::open(0.0, 1.0))?,
        horizon: duration_or(
            raw.horizon.as_deref(),
            "1d",
            "margin.horizon",
            SimDuration::from_secs(60),
            SimDuration::from_secs(30 * 86_400),
        )?,
        method,
        scenarios: scenarios as usize,
        ewma_lambda: real_or(raw.ewma_lambda, 0.94, "margin.ewma_lambda", Range::open(0.0, 1.0))?,
        history,
        maintenance_fraction: real_or(
            raw.maintenance_fraction,
            0.5,
            "margin.maintenance_fraction",
            Range::positive_up_to(1.0),
        )?,
        refresh: duration_or(
            raw.refresh.as_deref(),
            "1m",
            "margin.refresh",
            SimDuration::from_secs(1),
            SimDuration::from_secs(86_400),
        )?,
        fixed: FixedMargin {
            initial: fixed_initial,
            maintenance: fixed_maintenance,
            tiers,
            short_option_fraction: real_or(
                fixed.short_option_fraction,
                0.15,
                "margin.fixed.short_option_fraction",
                Range::non_negative_up_to(1.0),
            )?,
        },
        grid: GridMargin {
            move_max: real_or(
                grid.move_max,
                0.16,
                "margin.grid.move_max",
                Range::positive_up_to(0.99),
            )?,
            steps: steps as usize,
            vol_shifts,
            extreme_move: real_or(
                grid.extreme_move,
                0.33,
                "margin.grid.extreme_move",
                Range::positive_up_to(0.99),
            )?,
            extreme_fraction: real_or(
                grid.extreme_fraction,
                0.33,
                "margin.grid.extreme_fraction",
                Range::non_negative_up_to(1.0),
            )?,
            short_option_minimum: real_or(
                grid.short_option_minimum,
                0.01,
                "margin.grid.short_option_minimum",
                Range::non_negative_up_to(1.0),
            )?,
        },
        apc_floor: apc.floor.unwrap_or(false),
        apc_buffer: real_or(apc.buffer, 0.0, "margin.apc.buffer", Range::non_negative_up_to(1.0))?,
    })
}

fn liquidation(raw: Option<RawLiquidation>) -> Result<Liquidation> {
    let raw = raw.unwrap_or(RawLiquidation {
        partial: None,
        step_fraction: None,
        cooldown: None,
        fee: None,
        backstop: None,
        backstop_capital: None,
        backstop_unwind: None,
        adl: None,
        adl_ranking: None,
    });
    Ok(Liquidation {
        partial: raw.partial.unwrap_or(true),
        step_fraction: real_or(
            raw.step_fraction,
            0.25,
            "liquidation.step_fraction",
            Range::positive_up_to(1.0),
        )?,
        cooldown: duration_or(
            raw.cooldown.as_deref(),
            "0s",
            "liquidation.cooldown",
            SimDuration::ZERO,
            SimDuration::from_secs(3600),
        )?,
        fee: real_or(raw.fee, 0.005, "liquidation.fee", Range::non_negative_up_to(0.1))?,
        backstop: raw.backstop.unwrap_or(false),
        backstop_capital: money(
            raw.backstop_capital.unwrap_or(1e9),
            "liquidation.backstop_capital",
            Range::positive_up_to(1e12),
        )?,
        backstop_unwind: duration_or(
            raw.backstop_unwind.as_deref(),
            "0s",
            "liquidation.backstop_unwind",
            SimDuration::ZERO,
            SimDuration::from_secs(30 * 86_400),
        )?,
        adl: raw.adl.unwrap_or(true),
        adl_ranking: choice(
            raw.adl_ranking.as_deref().unwrap_or("pnl_leverage"),
            "liquidation.adl_ranking",
            &[
                ("pnl_leverage", AdlRanking::PnlTimesLeverage),
                ("pnl", AdlRanking::Pnl),
                ("pnl_percent", AdlRanking::PnlPercent),
            ],
        )?,
    })
}

fn distribution(
    raw: Option<&RawDistribution>,
    default: Distribution,
    path: &str,
    bounds: Range,
) -> Result<Distribution> {
    let Some(raw) = raw else { return Ok(default) };
    let kind = choice(
        raw.dist.as_str(),
        &format!("{path}.dist"),
        &[("constant", 0), ("lognormal", 1), ("pareto", 2), ("uniform", 3)],
    )?;
    let field = |key: &str, v: Option<f64>| -> Result<f64> {
        let p = format!("{path}.{key}");
        real(required(v, &p, &bounds.describe())?, &p, bounds)
    };
    let keys: [(&str, bool); 7] = [
        ("value", raw.value.is_some()),
        ("median", raw.median.is_some()),
        ("sigma", raw.sigma.is_some()),
        ("scale", raw.scale.is_some()),
        ("shape", raw.shape.is_some()),
        ("min", raw.min.is_some()),
        ("max", raw.max.is_some()),
    ];
    let allowed: &[&str] = match kind {
        0 => &["value"],
        1 => &["median", "sigma", "min", "max"],
        2 => &["scale", "shape", "max"],
        _ => &["min", "max"],
    };
    for (key, present) in keys {
        if present && !allowed.contains(&key) {
            return Err(err(
                &format!("{path}.{key}"),
                format!("`{key}` is not a parameter of the `{}` distribution", raw.dist),
                format!("keys of `{}`: dist, {}", raw.dist, allowed.join(", ")),
            ));
        }
    }
    let upper = bounds.max.map(|(m, _)| m).unwrap_or(f64::MAX);
    let lower = bounds.min.map(|(m, _)| m).unwrap_or(0.0);
    let dist = match kind {
        0 => Distribution::Constant(field("value", raw.value)?),
        1 => Distribution::LogNormal {
            median: field("median", raw.median)?,
            sigma: real(
                required(raw.sigma, &format!("{path}.sigma"), "0 <= x <= 5")?,
                &format!("{path}.sigma"),
                Range::non_negative_up_to(5.0),
            )?,
            min: match raw.min {
                Some(v) => field("min", Some(v))?,
                None => lower.max(f64::MIN_POSITIVE),
            },
            max: match raw.max {
                Some(v) => field("max", Some(v))?,
                None => upper,
            },
        },
        2 => Distribution::Pareto {
            scale: field("scale", raw.scale)?,
            shape: real(
                required(raw.shape, &format!("{path}.shape"), "0.1 <= x <= 20")?,
                &format!("{path}.shape"),
                Range::closed(0.1, 20.0),
            )?,
            max: match raw.max {
                Some(v) => field("max", Some(v))?,
                None => upper,
            },
        },
        _ => Distribution::Uniform { min: field("min", raw.min)?, max: field("max", raw.max)? },
    };
    let (lo, hi) = match &dist {
        Distribution::LogNormal { median, min, max, .. } => (min.min(*median), *max),
        Distribution::Pareto { scale, max, .. } => (*scale, *max),
        Distribution::Uniform { min, max } => (*min, *max),
        Distribution::Constant(_) => (0.0, 0.0),
    };
    if lo > hi {
        return Err(err(
            &format!("{path}.max"),
            format!("max {hi} is below the distribution's lower end {lo}"),
            "max >= median/scale/min",
        ));
    }
    Ok(dist)
}

fn agent_group(raw: RawAgents, path: &str) -> Result<AgentGroup> {
    let kind = choice(raw.kind.as_str(), &format!("{path}.kind"), &AgentKind::ALL)?;
    let count = raw.count.unwrap_or(1);
    if !(1..=MAX_AGENT_COUNT).contains(&count) {
        return Err(err(
            &format!("{path}.count"),
            format!("{count} is out of range"),
            format!("1 <= count <= {MAX_AGENT_COUNT}"),
        ));
    }
    let p = |k: &str| format!("{path}.{k}");
    let day = SimDuration::from_secs(86_400);
    let default_deposit = match kind {
        AgentKind::MarketMaker | AgentKind::OptionMarketMaker | AgentKind::Arbitrageur => {
            Distribution::Constant(1_000_000.0)
        }
        _ => Distribution::LogNormal { median: 2_000.0, sigma: 1.2, min: 50.0, max: 5_000_000.0 },
    };
    let capital = raw.capital.unwrap_or(0.0);
    let isolated = choice(
        raw.margin_mode.as_deref().unwrap_or("cross"),
        &p("margin_mode"),
        &[("cross", false), ("isolated", true)],
    )?;
    if isolated && kind != AgentKind::LeveragedTrader {
        return Err(err(
            &p("margin_mode"),
            format!("isolated margin is for leveraged traders, not {}", kind.name()),
            "margin_mode = \"cross\" (or kind = \"leveraged_trader\")",
        ));
    }
    Ok(AgentGroup {
        isolated,
        position_share: real_or(
            raw.position_share,
            1.0,
            &p("position_share"),
            Range::positive_up_to(1.0),
        )?,
        kind,
        count: count as u32,
        deposit: distribution(
            raw.deposit.as_ref(),
            default_deposit,
            &p("deposit"),
            Range::positive_up_to(1e10),
        )?,
        leverage: distribution(
            raw.leverage.as_ref(),
            Distribution::LogNormal { median: 5.0, sigma: 0.6, min: 1.0, max: 100.0 },
            &p("leverage"),
            Range::closed(1.0, 1000.0),
        )?,
        long_fraction: real_or(
            raw.long_fraction,
            0.5,
            &p("long_fraction"),
            Range::closed(0.0, 1.0),
        )?,
        stop_loss: raw
            .stop_loss
            .map(|v| real(v, &p("stop_loss"), Range::positive_up_to(1.0)))
            .transpose()?,
        take_profit: raw
            .take_profit
            .map(|v| real(v, &p("take_profit"), Range::positive_up_to(100.0)))
            .transpose()?,
        add_margin_probability: real_or(
            raw.add_margin_probability,
            0.1,
            &p("add_margin_probability"),
            Range::closed(0.0, 1.0),
        )?,
        limit_fraction: real_or(
            raw.limit_fraction,
            0.0,
            &p("limit_fraction"),
            Range::closed(0.0, 1.0),
        )?,
        limit_offset: real_or(
            raw.limit_offset,
            0.002,
            &p("limit_offset"),
            Range::closed(0.0, 0.5),
        )?,
        reentry: duration_or(
            raw.reentry.as_deref(),
            "1h",
            &p("reentry"),
            SimDuration::ZERO,
            SimDuration::from_secs(30 * 86_400),
        )?,
        wake: duration_or(raw.wake.as_deref(), "5m", &p("wake"), SimDuration::from_millis(1), day)?,
        latency: distribution(
            raw.latency.as_ref(),
            Distribution::Constant(0.05),
            &p("latency"),
            Range::non_negative_up_to(60.0),
        )?,
        latency_stress: real_or(
            raw.latency_stress,
            0.5,
            &p("latency_stress"),
            Range::closed(0.0, 100.0),
        )?,
        spread: real_or(raw.spread, 0.0005, &p("spread"), Range::positive_up_to(0.5))?,
        levels: {
            let levels = raw.levels.unwrap_or(10);
            if !(1..=1000).contains(&levels) {
                return Err(err(
                    &p("levels"),
                    format!("{levels} is out of range"),
                    "1 <= levels <= 1000",
                ));
            }
            levels as u32
        },
        level_size: real_or(raw.level_size, 1.0, &p("level_size"), Range::positive_up_to(1e6))?,
        capital: money(capital, &p("capital"), Range::non_negative_up_to(1e12))?,
        pull_vol: real_or(raw.pull_vol, 5.0, &p("pull_vol"), Range::positive_up_to(100.0))?,
        calm: duration_or(raw.calm.as_deref(), "15m", &p("calm"), SimDuration::ZERO, day)?,
        lookback: duration_or(
            raw.lookback.as_deref(),
            "15m",
            &p("lookback"),
            SimDuration::from_secs(1),
            SimDuration::from_secs(7 * 86_400),
        )?,
        threshold: real_or(raw.threshold, 0.01, &p("threshold"), Range::positive_up_to(1.0))?,
    })
}
