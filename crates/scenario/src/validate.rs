//! Raw scenario -> validated [`Scenario`]: defaults, ranges and cross-field rules, all in
//! one place. Every error names the key path (`margin.confidence`, `agents[1].count`), the
//! value given and the valid range; the caller adds file, line and column from the path.

use crate::model::*;
use crate::raw::*;
use crate::replay;
use liqsim_core::{ContractSpec, Error, InputError, Money, Result, SimDuration, SimTime};
use liqsim_models::{OPTION_YEAR_NANOS, PUT_SKEW, PriceProcess, VolSurface};
use liqsim_risk::{MarginSchedule, Rates, ScenarioConfig};
use std::path::Path;

/// Agent populations above this are refused: a typo (an extra zero or three) should not
/// start a run that exhausts memory.
pub const MAX_AGENT_COUNT: i64 = 10_000_000;
/// Market makers quote a ladder on every price step, a few kilobytes each: ten thousand
/// is more than any venue has and stays within memory, ten million would not.
pub const MAX_MAKER_COUNT: i64 = 10_000;
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

/// A duration from a second to `max` when the key is given.
fn optional_duration(
    text: Option<&str>,
    path: &str,
    max: SimDuration,
) -> Result<Option<SimDuration>> {
    text.map(|t| duration(t, path, SimDuration::from_secs(1), max)).transpose()
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

/// `market.quote_currency`: a short code printed beside every amount (default `USD`).
fn quote_currency(text: Option<&str>) -> Result<String> {
    let Some(text) = text else { return Ok("USD".into()) };
    let code = text.trim();
    if code.is_empty() || code.len() > 12 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(err(
            "market.quote_currency",
            format!("`{text}` is not a currency code"),
            "1 to 12 ASCII letters or digits, e.g. \"USD\" or \"USDT\"",
        ));
    }
    Ok(code.to_string())
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
    let start_utc_ns = start(raw.start.as_deref(), &market.process)?;
    let instruments = instruments(raw.instruments)?;
    option_smile(&market, &instruments)?;
    let margin = margin(raw.margin, base_dir, &market, max_leverage(&instruments), start_utc_ns)?;
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
    let has_chain = instruments.iter().any(|i| matches!(i, Instrument::OptionChain { .. }));
    let option_agents = agents.iter().position(|g| g.kind().trades_options());
    if let (false, Some(i)) = (has_chain, option_agents) {
        return Err(err(
            &format!("agents[{i}].kind"),
            format!(
                "`{}` agents trade options and this scenario has none",
                agents[i].kind().name()
            ),
            "an [[instruments]] table with kind = \"option_chain\", or an agent kind without options",
        ));
    }
    let by_volume = agents
        .iter()
        .position(|g| g.trader().is_some_and(|t| t.arrival_profile == ArrivalProfile::Volume));
    if let Some(i) = by_volume {
        let volumes = match &market.process {
            Process::Replay { activity, .. } => activity.as_slice(),
            Process::Parametric { .. } => &[],
        };
        if volumes.iter().all(|v| *v == 0.0) {
            return Err(err(
                &format!("agents[{i}].arrival_profile"),
                "arrivals that follow the traded volume need a replay whose file has a \
                 `quote_volume` or `volume` column with some volume in it",
                "\"uniform\", or market.process a replay with a volume column",
            ));
        }
    }
    let collateral = collateral(raw.collateral)?;
    if let Some(i) = agents.iter().position(|g| g.trader().is_some_and(|t| t.isolated))
        && !collateral.is_empty()
    {
        return Err(err(
            &format!("agents[{i}].margin_mode"),
            "collateral is held by cross-margin traders only in this version",
            "margin_mode = \"cross\" in a scenario with [[collateral]]",
        ));
    }
    Ok(Scenario {
        collateral,
        name,
        description: raw.description.unwrap_or_default().trim().to_string(),
        seed,
        start_utc_ns,
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

/// How `start` is written; the CSVs' timestamps are in the same form.
const START_FORM: &str = "an RFC 3339 time in UTC, such as start = \"2025-10-09T00:00:00Z\"";

/// The run's start. A replay starts at its file's first row; a replay that gives `start`
/// as well must give that row's time, so that the file cannot say two things about when
/// its run is. A parametric run starts at `start`, and has none without it (it needs one
/// only to cut a margin history: see [`margin`]).
fn start(text: Option<&str>, process: &Process) -> Result<Option<u64>> {
    let given = text
        .map(|text| {
            replay::parse_timestamp(text).ok_or_else(|| {
                err("start", format!("`{text}` is not a UTC date and time"), START_FORM)
            })
        })
        .transpose()?;
    match (process, given) {
        (Process::Replay { start_utc_ns, .. }, Some(given)) if given != *start_utc_ns => {
            let first = replay::format_timestamp(*start_utc_ns);
            Err(err(
                "start",
                format!(
                    "start {} is not the replay's first row, {first}: a replay starts at its first row",
                    replay::format_timestamp(given)
                ),
                format!("start = \"{first}\", or no start (a replay's is its first row)"),
            ))
        }
        (Process::Replay { start_utc_ns, .. }, _) => Ok(Some(*start_utc_ns)),
        (Process::Parametric { .. }, given) => Ok(given),
    }
}

/// Refuses an option chain whose smile the kernel could not build: a short expiry, or a
/// low volatility, makes the minimum total variance of the slice negative.
fn option_smile(market: &Market, instruments: &[Instrument]) -> Result<()> {
    let Some((i, expiries)) = instruments.iter().enumerate().find_map(|(i, x)| match x {
        Instrument::OptionChain { expiries, .. } => Some((i, expiries)),
        Instrument::Perpetual { .. } => None,
    }) else {
        return Ok(());
    };
    let process_vol = match &market.process {
        Process::Parametric { unit, spec } => {
            liqsim_models::process::build(spec, *unit).volatility()
        }
        Process::Replay { bars, .. } => liqsim_models::Replay::new(bars.clone())
            .map_err(|e| e.at_key("market.process.file"))?
            .volatility(),
    };
    let shocks = liqsim_models::Shocks::new(crate::to_sim::kernel_shocks(&market.shocks));
    let vol = (process_vol * shocks.vol_scale(SimTime::START)).max(PUT_SKEW.min_vol);
    for (j, &expiry) in expiries.iter().enumerate() {
        let t = expiry.nanos() as f64 / OPTION_YEAR_NANOS;
        let slice = PUT_SKEW.slice(t, vol);
        let Err(why) = VolSurface::new(vec![slice], vol) else { continue };
        let path = format!("instruments[{i}].expiries[{j}]");
        // With a = vol^2 t - b sigma and b = B sqrt(t), the slice's minimum total variance
        // a + b sigma sqrt(1 - rho^2) is vol^2 t - c sqrt(t), where
        // c = B sigma (1 - sqrt(1 - rho^2)): non-negative for t >= (c / vol^2)^2, or for
        // vol >= sqrt(c / sqrt(t)).
        let shape = PUT_SKEW;
        let c = shape.b_per_sqrt_year * shape.sigma * (1.0 - (1.0 - shape.rho * shape.rho).sqrt());
        if vol * vol * t - c * t.sqrt() < 0.0 {
            let shortest = SimDuration::from_secs(
                ((c / (vol * vol)).powi(2) * OPTION_YEAR_NANOS / 1e9).ceil() as u64 + 1,
            );
            let lowest = (c / t.sqrt()).sqrt();
            return Err(err(
                &path,
                format!(
                    "the option smile at expiry {expiry} would have a negative minimum total \
                     variance at the starting volatility {vol:.4} (annualized)"
                ),
                format!(
                    "an expiry of at least {shortest} at this volatility, or a process \
                     volatility of at least {:.4} (annualized) for this expiry",
                    (lowest * 1e4).ceil() / 1e4
                ),
            ));
        }
        let message = match &why {
            Error::Input(e) => e.message.clone(),
            other => other.to_string(),
        };
        return Err(err(
            &path,
            format!("the option smile at expiry {expiry} cannot be built: {message}"),
            "a chain the option desk can price: see `option_chain` in scenarios/README.md",
        ));
    }
    Ok(())
}

fn market(raw: RawMarket, base_dir: &Path, run: SimDuration) -> Result<Market> {
    let quote_currency = quote_currency(raw.quote_currency.as_deref())?;
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
        .into_iter()
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
        quote_currency,
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
    let path = |k: &str| format!("market.process.{k}");
    let need = |v: Option<f64>, k: &str, r: Range| -> Result<f64> {
        let p = path(k);
        real(required(v, &p, &r.describe())?, &p, r)
    };
    let units = |u: Option<String>| {
        choice(
            u.as_deref().unwrap_or("year"),
            "market.process.units",
            &[("year", RateUnit::PerYear), ("day", RateUnit::PerDay)],
        )
    };
    let vol_range = Range::positive_up_to(20.0);
    let drift_range = Range::closed(-100.0, 100.0);
    let intensity_range = Range::non_negative_up_to(1e6);
    Ok(match raw {
        RawProcess::Gbm(p) => Process::Parametric {
            unit: units(p.units)?,
            spec: ProcessSpec::Gbm {
                vol: need(p.vol, "vol", vol_range)?,
                drift: real_or(p.drift, 0.0, &path("drift"), drift_range)?,
            },
        },
        RawProcess::Merton(p) => Process::Parametric {
            unit: units(p.units)?,
            spec: ProcessSpec::Merton {
                vol: need(p.vol, "vol", vol_range)?,
                drift: real_or(p.drift, 0.0, &path("drift"), drift_range)?,
                jump_intensity: need(p.jump_intensity, "jump_intensity", intensity_range)?,
                jump_mean: need(p.jump_mean, "jump_mean", Range::closed(-5.0, 5.0))?,
                jump_vol: need(p.jump_vol, "jump_vol", Range::non_negative_up_to(5.0))?,
            },
        },
        RawProcess::Kou(p) => Process::Parametric {
            unit: units(p.units)?,
            spec: ProcessSpec::Kou {
                vol: need(p.vol, "vol", vol_range)?,
                drift: real_or(p.drift, 0.0, &path("drift"), drift_range)?,
                jump_intensity: need(p.jump_intensity, "jump_intensity", intensity_range)?,
                p_up: need(p.p_up, "p_up", Range::closed(0.0, 1.0))?,
                // eta_up > 1 keeps E[e^J] finite, which the drift compensator needs.
                eta_up: need(
                    p.eta_up,
                    "eta_up",
                    Range { min: Some((1.0, false)), max: Some((1e6, true)) },
                )?,
                eta_down: need(p.eta_down, "eta_down", Range::positive_up_to(1e6))?,
            },
        },
        RawProcess::Svcj(p) => Process::Parametric {
            unit: units(p.units)?,
            spec: ProcessSpec::Svcj {
                drift: real_or(p.drift, 0.0, &path("drift"), drift_range)?,
                kappa: need(p.kappa, "kappa", Range::positive_up_to(1e4))?,
                theta: need(p.theta, "theta", Range::positive_up_to(100.0))?,
                sigma_v: need(p.sigma_v, "sigma_v", Range::non_negative_up_to(100.0))?,
                rho: need(p.rho, "rho", Range::closed(-1.0, 1.0))?,
                v0: need(p.v0, "v0", Range::non_negative_up_to(100.0))?,
                jump_intensity: need(p.jump_intensity, "jump_intensity", intensity_range)?,
                jump_mean: need(p.jump_mean, "jump_mean", Range::closed(-5.0, 5.0))?,
                jump_vol: need(p.jump_vol, "jump_vol", Range::non_negative_up_to(5.0))?,
                jump_var_mean: need(
                    p.jump_var_mean,
                    "jump_var_mean",
                    Range::non_negative_up_to(100.0),
                )?,
                jump_corr: real_or(
                    p.jump_corr,
                    0.0,
                    &path("jump_corr"),
                    Range::closed(-100.0, 100.0),
                )?,
            },
        },
        RawProcess::GarchT(p) => {
            let unit = units(p.units)?;
            let alpha = need(p.alpha, "alpha", Range::closed(0.0, 1.0))?;
            let beta = need(p.beta, "beta", Range::closed(0.0, 1.0))?;
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
                    omega: need(p.omega, "omega", Range::positive_up_to(1.0))?,
                    alpha,
                    beta,
                    // nu > 2 for a finite variance, which GARCH scaling needs.
                    nu: need(
                        p.nu,
                        "nu",
                        Range { min: Some((2.0, false)), max: Some((1000.0, true)) },
                    )?,
                    drift: real_or(p.drift, 0.0, &path("drift"), drift_range)?,
                },
            }
        }
        RawProcess::Replay(p) => {
            // A replay has no rates, but a bad `units` is still a mistake worth naming.
            units(p.units)?;
            let file = required(p.file, &path("file"), "a CSV path relative to the scenario file")?;
            let resolved = base_dir.join(&file);
            let history = replay::load_replay(&resolved).map_err(|e| e.at_key(path("file")))?;
            Process::Replay {
                file: resolved,
                bars: history.bars,
                activity: history.activity,
                start_utc_ns: history.first_utc_ns,
            }
        }
    })
}

/// Collateral assets may hold at most this many haircut bands and price points.
const MAX_HAIRCUT_BANDS: usize = 16;
const MAX_PRICE_POINTS: usize = 10_000;
/// A collateral price may rise to this multiple of its start price and no further: a
/// trader's holding (at most 1e10 of quote at the start) stays within money's range.
const MAX_COLLATERAL_RISE: f64 = 100.0;

/// `[[collateral]]`: names unique, shares summing to at most 1, haircut bands with
/// increasing edges and only the last open, and a price (constant, or a path of points
/// at increasing times) that starts at 0.01 or more.
fn collateral(raw: Vec<RawCollateral>) -> Result<Vec<Collateral>> {
    let mut out: Vec<Collateral> = Vec::with_capacity(raw.len());
    let mut share_sum = 0.0;
    for (i, c) in raw.into_iter().enumerate() {
        let p = |key: &str| format!("collateral[{i}].{key}");
        let name = required(c.name, &p("name"), "a name such as \"USDe\"")?.trim().to_string();
        if name.is_empty() || name.len() > 20 || !name.chars().all(|ch| ch.is_ascii_graphic()) {
            return Err(err(
                &p("name"),
                format!("`{name}` is not a usable name"),
                "1 to 20 ASCII letters, digits or signs, no spaces",
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(err(
                &p("name"),
                format!("`{name}` is listed twice"),
                "a name no other [[collateral]] has",
            ));
        }
        let share = real(
            required(c.share, &p("share"), "0 <= x <= 1")?,
            &p("share"),
            Range::closed(0.0, 1.0),
        )?;
        share_sum += share;
        if share_sum > 1.0 + 1e-12 {
            return Err(err(
                &p("share"),
                format!("the collateral shares add up to {share_sum}"),
                "shares summing to at most 1 over every [[collateral]]",
            ));
        }
        let liquidation_discount = real_or(
            c.liquidation_discount,
            0.0,
            &p("liquidation_discount"),
            Range::closed(0.0, 0.5),
        )?;
        if c.haircuts.len() > MAX_HAIRCUT_BANDS {
            return Err(err(
                &p("haircuts"),
                format!("{} bands", c.haircuts.len()),
                format!("at most {MAX_HAIRCUT_BANDS} bands"),
            ));
        }
        let mut haircuts = Vec::with_capacity(c.haircuts.len().max(1));
        let mut edge = 0.0;
        let bands = c.haircuts.len();
        for (k, h) in c.haircuts.into_iter().enumerate() {
            let hp = |key: &str| format!("collateral[{i}].haircuts[{k}].{key}");
            let rate = real(
                required(h.rate, &hp("rate"), "0 <= x <= 1")?,
                &hp("rate"),
                Range::closed(0.0, 1.0),
            )?;
            let last = k + 1 == bands;
            let up_to = match (h.up_to, last) {
                (Some(_), true) => {
                    return Err(err(
                        &hp("up_to"),
                        "the last band has no upper edge",
                        "no up_to on the last [[collateral.haircuts]]",
                    ));
                }
                (None, false) => {
                    return Err(err(
                        &hp("up_to"),
                        "missing required key",
                        "the band's upper edge in quote, above the band before",
                    ));
                }
                (None, true) => None,
                (Some(v), false) => {
                    let range = Range { min: Some((edge, false)), max: Some((1e12, true)) };
                    let m = money(v, &hp("up_to"), range)?;
                    edge = v;
                    Some(m)
                }
            };
            haircuts.push((up_to, rate));
        }
        if haircuts.is_empty() {
            haircuts.push((None, 0.0));
        }
        let price_range = Range::closed(0.0, 1e7);
        let path = match (c.price, c.path.is_empty()) {
            (Some(_), false) => {
                return Err(err(
                    &p("price"),
                    "both a constant price and a path",
                    "either price or [[collateral.path]]",
                ));
            }
            (None, true) => {
                return Err(err(
                    &p("price"),
                    "missing required key",
                    "a price, or [[collateral.path]] points",
                ));
            }
            (Some(v), true) => {
                vec![(SimDuration::ZERO, real(v, &p("price"), Range::closed(0.01, 1e7))?)]
            }
            (None, false) => {
                if c.path.len() > MAX_PRICE_POINTS {
                    return Err(err(
                        &p("path"),
                        format!("{} points", c.path.len()),
                        format!("at most {MAX_PRICE_POINTS} points"),
                    ));
                }
                let mut points: Vec<(SimDuration, f64)> = Vec::with_capacity(c.path.len());
                for (k, point) in c.path.into_iter().enumerate() {
                    let pp = |key: &str| format!("collateral[{i}].path[{k}].{key}");
                    // Points past the end of the run are allowed (a path is often written
                    // for the longer run, and a shorter one simply stops before them).
                    let at = duration(&point.at, &pp("at"), SimDuration::ZERO, MAX_DURATION)?;
                    if points.last().is_some_and(|&(t, _)| at <= t) {
                        return Err(err(
                            &pp("at"),
                            format!("`{}` is not after the point before", point.at),
                            "times strictly increasing along the path",
                        ));
                    }
                    let start_range = Range::closed(0.01, 1e7);
                    let range = if k == 0 { start_range } else { price_range };
                    let price = real(
                        required(point.price, &pp("price"), &range.describe())?,
                        &pp("price"),
                        range,
                    )?;
                    points.push((at, price));
                }
                points
            }
        };
        let start = path[0].1;
        if let Some(k) = path.iter().position(|&(_, v)| v > start * MAX_COLLATERAL_RISE) {
            let key = if path.len() == 1 {
                p("price")
            } else {
                format!("collateral[{i}].path[{k}].price")
            };
            return Err(err(
                &key,
                format!(
                    "{} is more than {MAX_COLLATERAL_RISE} times the start price {start}",
                    path[k].1
                ),
                format!("0 <= x <= {}", start * MAX_COLLATERAL_RISE),
            ));
        }
        out.push(Collateral { name, share, haircuts, liquidation_discount, path });
    }
    Ok(out)
}

fn shock(raw: RawShock, path: &str, run: SimDuration) -> Result<Shock> {
    let at = |text: &str| duration(text, &format!("{path}.at"), SimDuration::ZERO, run);
    let window = |text: Option<String>| -> Result<SimDuration> {
        let p = format!("{path}.duration");
        let text = required(text, &p, "a duration such as 30m")?;
        duration(&text, &p, SimDuration::from_secs(1), MAX_DURATION)
    };
    let need = |v: Option<f64>, key: &str, range: Range| -> Result<f64> {
        let p = format!("{path}.{key}");
        real(required(v, &p, &range.describe())?, &p, range)
    };
    Ok(match raw {
        RawShock::Jump(s) => Shock::Jump {
            at: at(&s.at)?,
            // A jump of -100% or worse would leave a non-positive price.
            size: need(
                s.size,
                "size",
                Range { min: Some((-1.0, false)), max: Some((10.0, true)) },
            )?,
        },
        RawShock::Vol(s) => Shock::Volatility {
            at: at(&s.at)?,
            duration: window(s.duration)?,
            multiplier: need(s.multiplier, "multiplier", Range::positive_up_to(100.0))?,
        },
        RawShock::Drought(s) => Shock::Drought {
            at: at(&s.at)?,
            duration: window(s.duration)?,
            liquidity: need(s.liquidity, "liquidity", Range::closed(0.0, 1.0))?,
        },
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
    let mut out: Vec<Instrument> = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let path = format!("instruments[{i}]");
        let symbol = match &r {
            RawInstrument::Perpetual(p) => &p.symbol,
            RawInstrument::OptionChain(c) => &c.symbol,
        };
        if symbol.trim().is_empty() || symbols.contains(symbol) {
            return Err(err(
                &format!("{path}.symbol"),
                format!("symbol `{symbol}` is empty or used twice"),
                "a unique, non-empty symbol",
            ));
        }
        symbols.push(symbol.clone());
        // The kernel has one perpetual book and one option desk (SimConfig holds one
        // of each); a second would be ignored without a word, so it is refused here.
        // `out[j]` is `instruments[j]`: every earlier instrument was pushed.
        let first = out.iter().position(|o| {
            matches!(
                (&r, o),
                (RawInstrument::Perpetual(_), Instrument::Perpetual { .. })
                    | (RawInstrument::OptionChain(_), Instrument::OptionChain { .. })
            )
        });
        if let Some(j) = first {
            let (what, expected) = match r {
                RawInstrument::Perpetual(_) => (
                    "a second perpetual: the kernel runs one perpetual",
                    "one instrument with kind = \"perpetual\"",
                ),
                RawInstrument::OptionChain(_) => (
                    "a second option chain: the kernel runs one option chain",
                    "one instrument with kind = \"option_chain\" (list every expiry and strike in it)",
                ),
            };
            return Err(err(
                &format!("{path}.kind"),
                format!("{what} (instruments[{j}] is the first)"),
                expected,
            ));
        }
        match r {
            RawInstrument::OptionChain(c) => {
                if c.expiries.is_empty() || c.strikes.is_empty() {
                    return Err(err(
                        &format!("{path}.expiries"),
                        "an option chain needs at least one expiry and one strike",
                        "expiries = [\"7d\", ...], strikes = [0.9, 1.0, ...] (fractions of the initial price)",
                    ));
                }
                let expiries = c
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
                let strikes = c
                    .strikes
                    .iter()
                    .enumerate()
                    .map(|(j, &k)| {
                        real(k, &format!("{path}.strikes[{j}]"), Range::closed(0.05, 20.0))
                    })
                    .collect::<Result<Vec<_>>>()?;
                out.push(Instrument::OptionChain { symbol: c.symbol, expiries, strikes });
            }
            RawInstrument::Perpetual(p) => {
                let max_leverage = real_or(
                    p.max_leverage,
                    100.0,
                    &format!("{path}.max_leverage"),
                    Range::closed(1.0, 1000.0),
                )?;
                let max_position = p
                    .max_position
                    .map(|x| real(x, &format!("{path}.max_position"), Range::positive_up_to(1e9)))
                    .transpose()?;
                out.push(Instrument::Perpetual { symbol: p.symbol, max_leverage, max_position });
            }
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

/// The perpetual's leverage cap (margin never lets an account past it).
pub(crate) fn max_leverage(instruments: &[Instrument]) -> f64 {
    instruments
        .iter()
        .find_map(|i| match i {
            Instrument::Perpetual { max_leverage, .. } => Some(*max_leverage),
            Instrument::OptionChain { .. } => None,
        })
        .unwrap_or(100.0)
}

/// `history` cut at the run's start: only the rows whose bar had closed by then (see
/// [`replay::closed_by`] for the rule). When the run reads it, what remains must give a
/// scenario set: the set sums the history's returns over the horizon in whole periods of
/// the history (to_sim does the same), and ten more returns than that is the least that
/// gives one. Fewer than two rows left is no history at all.
fn cut_history(
    mut history: History,
    start_utc_ns: u64,
    used: bool,
    horizon: SimDuration,
) -> Result<Option<History>> {
    let total = history.bars.len();
    // Read from the whole file, which has at least two rows, even when the cut leaves fewer.
    let period = SimDuration::from_nanos(history.bars[1].time_ns - history.bars[0].time_ns);
    let (first, last) = (history.first_utc_ns, history.last_utc_ns());
    let kept = replay::closed_by(&history, start_utc_ns);
    history.bars.truncate(kept);
    history.activity.truncate(kept);
    let returns = kept.saturating_sub(1);
    let periods = ((horizon.nanos() as f64 / period.nanos() as f64).round() as usize).max(1);
    if used && returns < periods + 10 {
        // The longest horizon this history serves, when it is one margin.horizon takes.
        let longest = SimDuration::from_nanos(
            period.nanos().saturating_mul(returns.saturating_sub(10) as u64),
        );
        let shorter = if longest >= SimDuration::from_secs(60) {
            format!(", or margin.horizon of at most {longest}")
        } else {
            String::new()
        };
        let date = replay::format_timestamp;
        return Err(err(
            "margin.history",
            format!(
                "{kept} of the history's {total} rows closed by the run's start {} (the file \
                 runs from {} to {}): {returns} returns, too few for a horizon of {periods} \
                 period{} of {period}",
                date(start_utc_ns),
                date(first),
                date(last),
                if periods == 1 { "" } else { "s" }
            ),
            format!(
                "a history with at least {} rows closed by the run's start at this horizon{shorter}",
                periods + 11
            ),
        ));
    }
    Ok((kept >= 2).then_some(history))
}

fn margin(
    raw: Option<RawMargin>,
    base_dir: &Path,
    market: &Market,
    max_leverage: f64,
    start_utc_ns: Option<u64>,
) -> Result<Margin> {
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
        greeks: None,
        apc: None,
    });
    let policy_text = raw.policy.as_deref().unwrap_or("fixed");
    let policy = Policy::parse(policy_text).ok_or_else(|| {
        err(
            "margin.policy",
            format!("unknown policy `{policy_text}`"),
            format!("one of {}", Policy::listed()),
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
    let scenarios = raw.scenarios.unwrap_or(ScenarioConfig::MONTE_CARLO_SCENARIOS as i64);
    if !(10..=100_000).contains(&scenarios) {
        return Err(err(
            "margin.scenarios",
            format!("{scenarios} is out of range"),
            "10 <= x <= 100000",
        ));
    }
    let horizon = duration_or(
        raw.horizon.as_deref(),
        "1d",
        "margin.horizon",
        SimDuration::from_secs(60),
        SimDuration::from_secs(30 * 86_400),
    )?;
    let scenario_policy = matches!(policy, Policy::Es | Policy::Var);
    let method_text = raw.method.as_deref().unwrap_or("filtered_historical");
    if scenario_policy
        && method == ScenarioMethod::MonteCarlo
        && let Process::Replay { .. } = market.process
    {
        return Err(err(
            "margin.method",
            "Monte Carlo scenarios need a parametric process; this market replays a history",
            "historical or filtered_historical for a replay",
        ));
    }
    let apc_floor = raw.apc.as_ref().and_then(|a| a.floor).unwrap_or(false);
    // What `Margin::uses_history` says of the validated section.
    let uses_history = scenario_policy && (method != ScenarioMethod::MonteCarlo || apc_floor);
    let what_reads = || {
        if method == ScenarioMethod::MonteCarlo {
            format!("`{}` with the anti-procyclicality floor (margin.apc.floor)", policy.name())
        } else {
            format!("`{}` with method `{method_text}`", policy.name())
        }
    };
    let history = match &raw.history {
        Some(file) => {
            Some(replay::load_bars(&base_dir.join(file)).map_err(|e| e.at_key("margin.history"))?)
        }
        None => None,
    };
    if uses_history && history.is_none() {
        return Err(match &market.process {
            // The replay was the default history once; but every bar of it is at or after
            // the run's start, so it is not history the run's margins may read.
            Process::Replay { start_utc_ns, .. } => err(
                "margin.history",
                format!(
                    "{} reads a margin history and this replay has none: the replayed file \
                     cannot be its own, since every bar of it is at or after the run's \
                     start ({}) and margins calibrated on it would know the path they are \
                     tested on",
                    what_reads(),
                    replay::format_timestamp(*start_utc_ns)
                ),
                "margin.history = \"data/FILE.csv\" with rows that closed before the replay's \
                 first (such as data/binance_spot_btcusdt_1d_2017-08-17_2025-12-31.csv), or \
                 a policy that reads no history: fixed, grid or greeks",
            ),
            Process::Parametric { .. } if method == ScenarioMethod::MonteCarlo => err(
                "margin.apc.floor",
                "the anti-procyclicality floor is the rates of the most volatile 250 periods \
                 of margin.history, and there is none",
                "margin.history = \"data/FILE.csv\" (with a start), or margin.apc.floor = false",
            ),
            Process::Parametric { .. } => err(
                "margin.history",
                format!("method `{method_text}` needs a price history in margin.history"),
                "margin.history = \"data/FILE.csv\" (with a start), or margin.method = \"monte_carlo\"",
            ),
        });
    }
    let history = match (history, start_utc_ns) {
        (Some(history), Some(start)) => cut_history(history, start, uses_history, horizon)?,
        (Some(history), None) if uses_history => {
            // The first start at which the whole file is history: its last bar's close.
            let spacing = history.bars[1].time_ns - history.bars[0].time_ns;
            let after = history.last_utc_ns().saturating_add(spacing);
            return Err(err(
                "start",
                format!(
                    "{} reads margin.history, and this parametric run has no start: the \
                     history is cut at the run's start so that no margin reads data from \
                     after it",
                    what_reads()
                ),
                format!(
                    "start = \"{}\" (an RFC 3339 time in UTC; this history's last row closes \
                     then, so that start reads all of it and an earlier one less)",
                    replay::format_timestamp(after)
                ),
            ));
        }
        // Nothing in the run reads it (validation refused above otherwise); without a
        // start there is nothing to cut at.
        (history, _) => history,
    };
    let fixed = raw.fixed.unwrap_or(RawFixedMargin {
        initial: None,
        maintenance: None,
        tiers: Vec::new(),
        short_option_fraction: None,
    });
    let fixed_initial = real_or(
        fixed.initial,
        FixedConfig::INITIAL,
        "margin.fixed.initial",
        Range::positive_up_to(1.0),
    )?;
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
    let short_option_fraction = real_or(
        fixed.short_option_fraction,
        FixedConfig::SHORT_OPTION_FRACTION,
        "margin.fixed.short_option_fraction",
        Range::non_negative_up_to(1.0),
    )?;
    let mut fixed_config =
        FixedConfig::flat(fixed_initial, fixed_maintenance, short_option_fraction);
    let mut tiers: Vec<(Money, Rates)> = Vec::new();
    for (i, t) in fixed.tiers.iter().enumerate() {
        let path = format!("margin.fixed.tiers[{i}]");
        let cap =
            money(t.notional_max, &format!("{path}.notional_max"), Range::positive_up_to(1e12))?;
        let rates = Rates {
            initial: real(t.initial, &format!("{path}.initial"), Range::positive_up_to(1.0))?,
            maintenance: real(
                t.maintenance,
                &format!("{path}.maintenance"),
                Range::positive_up_to(1.0),
            )?,
        };
        if rates.maintenance > rates.initial {
            return Err(err(
                &format!("{path}.maintenance"),
                "maintenance above initial",
                "0 < maintenance <= initial",
            ));
        }
        if let Some(&(prev_cap, prev)) = tiers.last()
            && (cap <= prev_cap || rates.maintenance < prev.maintenance)
        {
            return Err(err(
                &format!("{path}.notional_max"),
                "tiers must grow in notional and not fall in maintenance rate",
                "increasing notional_max, non-decreasing rates",
            ));
        }
        tiers.push((cap, rates));
    }
    if !tiers.is_empty() {
        fixed_config.schedule =
            MarginSchedule::brackets(&tiers).map_err(|e| e.at_key("margin.fixed.tiers"))?;
    }
    let maintenance_fraction = real_or(
        raw.maintenance_fraction,
        ScenarioConfig::MAINTENANCE_FRACTION,
        "margin.maintenance_fraction",
        Range::positive_up_to(1.0),
    )?;
    let grid = raw.grid.unwrap_or(RawGridMargin {
        move_max: None,
        steps: None,
        vol_shifts: Vec::new(),
        extreme_move: None,
        extreme_fraction: None,
        short_option_minimum: None,
    });
    let grid_default = GridConfig::default();
    let steps = grid.steps.unwrap_or(grid_default.steps as i64);
    if !(3..=101).contains(&steps) || steps % 2 == 0 {
        return Err(err(
            "margin.grid.steps",
            format!("{steps} is not an odd number from 3 to 101"),
            "odd 3 <= x <= 101 (the middle step is no move)",
        ));
    }
    let vol_shifts = if grid.vol_shifts.is_empty() {
        vec![-grid_default.vol_down, 0.0, grid_default.vol_up]
    } else {
        grid.vol_shifts
    };
    for (i, &v) in vol_shifts.iter().enumerate() {
        real(v, &format!("margin.grid.vol_shifts[{i}]"), Range::open(-1.0, 10.0))?;
    }
    let grid = GridConfig {
        move_max: real_or(
            grid.move_max,
            grid_default.move_max,
            "margin.grid.move_max",
            Range::positive_up_to(0.99),
        )?,
        steps: steps as usize,
        vol_up: vol_shifts.iter().copied().fold(0.0, f64::max),
        vol_down: -vol_shifts.iter().copied().fold(0.0, f64::min),
        extreme_move: real_or(
            grid.extreme_move,
            grid_default.extreme_move,
            "margin.grid.extreme_move",
            Range::positive_up_to(0.99),
        )?,
        extreme_fraction: real_or(
            grid.extreme_fraction,
            grid_default.extreme_fraction,
            "margin.grid.extreme_fraction",
            Range::non_negative_up_to(1.0),
        )?,
        short_option_min_fraction: real_or(
            grid.short_option_minimum,
            grid_default.short_option_min_fraction,
            "margin.grid.short_option_minimum",
            Range::non_negative_up_to(1.0),
        )?,
        maintenance_fraction,
        max_leverage,
        ..grid_default
    };
    let greeks = greeks(raw.greeks, maintenance_fraction, max_leverage)?;
    let apc = raw.apc.unwrap_or(RawApc { floor: None, buffer: None });
    Ok(Margin {
        policy,
        confidence: real_or(
            raw.confidence,
            ScenarioConfig::CONFIDENCE,
            "margin.confidence",
            Range::open(0.0, 1.0),
        )?,
        horizon,
        method,
        scenarios: scenarios as usize,
        ewma_lambda: real_or(
            raw.ewma_lambda,
            ScenarioConfig::EWMA_LAMBDA,
            "margin.ewma_lambda",
            Range::open(0.0, 1.0),
        )?,
        history,
        maintenance_fraction,
        refresh: duration_or(
            raw.refresh.as_deref(),
            "1m",
            "margin.refresh",
            SimDuration::from_secs(1),
            SimDuration::from_secs(86_400),
        )?,
        fixed: fixed_config,
        grid,
        greeks,
        apc_floor: apc.floor.unwrap_or(false),
        apc_buffer: real_or(apc.buffer, 0.0, "margin.apc.buffer", Range::non_negative_up_to(1.0))?,
    })
}

/// `[margin.greeks]`: the delta-gamma-vega policy's grid and floor.
fn greeks(
    raw: Option<RawGreeksMargin>,
    maintenance_fraction: f64,
    max_leverage: f64,
) -> Result<GreeksConfig> {
    let raw = raw.unwrap_or_default();
    let d = GreeksConfig::default();
    let steps = raw.steps.unwrap_or(d.grid.steps as i64);
    if !(3..=101).contains(&steps) || steps % 2 == 0 {
        return Err(err(
            "margin.greeks.steps",
            format!("{steps} is not an odd number from 3 to 101"),
            "odd 3 <= x <= 101 (the middle step is no move)",
        ));
    }
    let p = |k: &str| format!("margin.greeks.{k}");
    let vol_shift = real_or(raw.vol_shift, d.grid.vol_up, &p("vol_shift"), Range::open(0.0, 1.0))?;
    Ok(GreeksConfig {
        grid: GridConfig {
            move_max: real_or(
                raw.move_max,
                d.grid.move_max,
                &p("move_max"),
                Range::positive_up_to(0.99),
            )?,
            steps: steps as usize,
            vol_up: vol_shift,
            vol_down: vol_shift,
            extreme_move: real_or(
                raw.extreme_move,
                d.grid.extreme_move,
                &p("extreme_move"),
                Range::positive_up_to(0.99),
            )?,
            extreme_fraction: real_or(
                raw.extreme_fraction,
                d.grid.extreme_fraction,
                &p("extreme_fraction"),
                Range::non_negative_up_to(1.0),
            )?,
            short_option_min_fraction: real_or(
                raw.short_option_minimum,
                d.grid.short_option_min_fraction,
                &p("short_option_minimum"),
                Range::non_negative_up_to(1.0),
            )?,
            maintenance_fraction,
            max_leverage,
            ..d.grid
        },
        delta_floor: real_or(
            raw.delta_floor,
            d.delta_floor,
            &p("delta_floor"),
            Range::non_negative_up_to(1.0),
        )?,
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
        engine: None,
        engine_capital: None,
        engine_unwind: None,
        engine_price_limit: None,
        mark_close: None,
        adl: None,
        adl_ranking: None,
    });
    let engine = engine(&raw)?;
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
        engine,
        mark_close: raw.mark_close.unwrap_or(false),
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

/// `liquidation.engine`: funded by the insurance fund (the default: the fund's capital
/// carries what it takes and its result is the fund's), a vault with capital of its own,
/// or none (the waterfall goes from the book and the backstop to ADL).
fn engine(raw: &RawLiquidation) -> Result<Option<EngineConfig>> {
    const KEY: &str = "liquidation.engine";
    let mode = choice(
        raw.engine.as_deref().unwrap_or("fund"),
        KEY,
        &[("fund", Some(false)), ("vault", Some(true)), ("none", None)],
    )?;
    let capital = raw
        .engine_capital
        .map(|c| money(c, "liquidation.engine_capital", Range::positive_up_to(1e12)))
        .transpose()?;
    let vault_capital = match (mode, capital) {
        (Some(true), Some(c)) => Some(c),
        (Some(true), None) => {
            return Err(err(
                "liquidation.engine_capital",
                "a vault engine needs its own capital",
                "engine_capital = the vault's deposit, 0 < x <= 1e12",
            ));
        }
        (_, Some(_)) => {
            return Err(err(
                "liquidation.engine_capital",
                "engine_capital is a vault's deposit; this engine is not a vault",
                "engine = \"vault\" with engine_capital, or no engine_capital",
            ));
        }
        (_, None) => None,
    };
    let Some(_) = mode else { return Ok(None) };
    Ok(Some(EngineConfig {
        vault_capital,
        unwind: duration_or(
            raw.engine_unwind.as_deref(),
            "10m",
            "liquidation.engine_unwind",
            SimDuration::ZERO,
            SimDuration::from_secs(30 * 86_400),
        )?,
        price_limit: real_or(
            raw.engine_price_limit,
            0.01,
            "liquidation.engine_price_limit",
            Range::positive_up_to(0.5),
        )?,
    }))
}

fn distribution(
    raw: Option<RawDistribution>,
    default: Distribution,
    path: &str,
    bounds: Range,
) -> Result<Distribution> {
    let Some(raw) = raw else { return Ok(default) };
    let field = |key: &str, v: Option<f64>| -> Result<f64> {
        let p = format!("{path}.{key}");
        real(required(v, &p, &bounds.describe())?, &p, bounds)
    };
    let upper = bounds.max.map(|(m, _)| m).unwrap_or(f64::MAX);
    let lower = bounds.min.map(|(m, _)| m).unwrap_or(0.0);
    let dist = match raw {
        RawDistribution::Constant(d) => Distribution::Constant(field("value", d.value)?),
        RawDistribution::LogNormal(d) => Distribution::LogNormal {
            median: field("median", d.median)?,
            sigma: real(
                required(d.sigma, &format!("{path}.sigma"), "0 <= x <= 5")?,
                &format!("{path}.sigma"),
                Range::non_negative_up_to(5.0),
            )?,
            min: match d.min {
                Some(v) => field("min", Some(v))?,
                None => lower.max(f64::MIN_POSITIVE),
            },
            max: match d.max {
                Some(v) => field("max", Some(v))?,
                None => upper,
            },
        },
        RawDistribution::Pareto(d) => Distribution::Pareto {
            scale: field("scale", d.scale)?,
            shape: real(
                required(d.shape, &format!("{path}.shape"), "0.1 <= x <= 20")?,
                &format!("{path}.shape"),
                Range::closed(0.1, 20.0),
            )?,
            max: match d.max {
                Some(v) => field("max", Some(v))?,
                None => upper,
            },
        },
        RawDistribution::Uniform(d) => {
            Distribution::Uniform { min: field("min", d.min)?, max: field("max", d.max)? }
        }
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

/// The keys of one `[[agents]]` table, whatever its kind: a kind's table fills the keys
/// it has, and the others keep the default of [`AgentGroup`]'s field (which that kind
/// never reads).
#[derive(Default)]
struct AgentKeys {
    count: Option<i64>,
    deposit: Option<RawDistribution>,
    leverage: Option<RawDistribution>,
    long_fraction: Option<f64>,
    stop_loss: Option<f64>,
    take_profit: Option<f64>,
    add_margin_probability: Option<f64>,
    margin_mode: Option<String>,
    position_share: Option<f64>,
    limit_fraction: Option<f64>,
    limit_offset: Option<f64>,
    arrival: Option<String>,
    arrival_profile: Option<String>,
    comeback: Option<f64>,
    hold: Option<String>,
    open_at_start: Option<bool>,
    reentry: Option<String>,
    wake: Option<String>,
    latency: Option<RawDistribution>,
    latency_stress: Option<f64>,
    spread: Option<f64>,
    levels: Option<i64>,
    level_size: Option<f64>,
    capital: Option<f64>,
    pull_vol: Option<f64>,
    calm: Option<String>,
    presence: Option<f64>,
    size: Option<f64>,
    distance: Option<f64>,
    lookback: Option<String>,
    threshold: Option<f64>,
    put_strike: Option<f64>,
    call_strike: Option<f64>,
}

impl AgentKeys {
    fn of(raw: RawAgents) -> (AgentKind, AgentKeys) {
        match raw {
            RawAgents::LeveragedTrader(a) => (
                AgentKind::LeveragedTrader,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    leverage: a.leverage,
                    long_fraction: a.long_fraction,
                    stop_loss: a.stop_loss,
                    take_profit: a.take_profit,
                    add_margin_probability: a.add_margin_probability,
                    margin_mode: a.margin_mode,
                    position_share: a.position_share,
                    limit_fraction: a.limit_fraction,
                    limit_offset: a.limit_offset,
                    arrival: a.arrival,
                    arrival_profile: a.arrival_profile,
                    comeback: a.comeback,
                    hold: a.hold,
                    open_at_start: a.open_at_start,
                    reentry: a.reentry,
                    wake: a.wake,
                    latency: a.latency,
                    latency_stress: a.latency_stress,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::MarketMaker(a) => (
                AgentKind::MarketMaker,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    spread: a.spread,
                    levels: a.levels,
                    level_size: a.level_size,
                    capital: a.capital,
                    pull_vol: a.pull_vol,
                    calm: a.calm,
                    stop_loss: a.stop_loss,
                    presence: a.presence,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::Momentum(a) => (
                AgentKind::Momentum,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    leverage: a.leverage,
                    threshold: a.threshold,
                    lookback: a.lookback,
                    latency: a.latency,
                    latency_stress: a.latency_stress,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::Arbitrageur(a) => (
                AgentKind::Arbitrageur,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    wake: a.wake,
                    latency: a.latency,
                    latency_stress: a.latency_stress,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::OptionWriter(a) => (
                AgentKind::OptionWriter,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    leverage: a.leverage,
                    stop_loss: a.stop_loss,
                    put_strike: a.put_strike,
                    call_strike: a.call_strike,
                    reentry: a.reentry,
                    wake: a.wake,
                    latency: a.latency,
                    latency_stress: a.latency_stress,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::OptionBuyer(a) => (
                AgentKind::OptionBuyer,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    long_fraction: a.long_fraction,
                    reentry: a.reentry,
                    wake: a.wake,
                    latency: a.latency,
                    latency_stress: a.latency_stress,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::LiquidityProvider(a) => (
                AgentKind::LiquidityProvider,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    size: a.size,
                    distance: a.distance,
                    capital: a.capital,
                    wake: a.wake,
                    latency: a.latency,
                    latency_stress: a.latency_stress,
                    ..AgentKeys::default()
                },
            ),
            RawAgents::OptionMarketMaker(a) => (
                AgentKind::OptionMarketMaker,
                AgentKeys {
                    count: a.count,
                    deposit: a.deposit,
                    spread: a.spread,
                    levels: a.levels,
                    level_size: a.level_size,
                    capital: a.capital,
                    pull_vol: a.pull_vol,
                    calm: a.calm,
                    ..AgentKeys::default()
                },
            ),
        }
    }
}

fn agent_group(raw: RawAgents, path: &str) -> Result<AgentGroup> {
    let (kind, raw) = AgentKeys::of(raw);
    let count = raw.count.unwrap_or(1);
    if !(1..=MAX_AGENT_COUNT).contains(&count) {
        return Err(err(
            &format!("{path}.count"),
            format!("{count} is out of range"),
            format!("1 <= count <= {MAX_AGENT_COUNT}"),
        ));
    }
    let maker = matches!(kind, AgentKind::MarketMaker | AgentKind::OptionMarketMaker);
    if maker && count > MAX_MAKER_COUNT {
        return Err(err(
            &format!("{path}.count"),
            format!(
                "{count} {}s is out of range: each quotes a ladder on every price step",
                kind.name()
            ),
            format!("1 <= count <= {MAX_MAKER_COUNT} for market makers"),
        ));
    }
    let p = |k: &str| format!("{path}.{k}");
    let day = SimDuration::from_secs(86_400);
    let default_deposit = match kind {
        AgentKind::MarketMaker
        | AgentKind::OptionMarketMaker
        | AgentKind::Arbitrageur
        | AgentKind::LiquidityProvider => Distribution::Constant(1_000_000.0),
        _ => Distribution::LogNormal { median: 2_000.0, sigma: 1.2, min: 50.0, max: 5_000_000.0 },
    };
    let stop_loss =
        raw.stop_loss.map(|v| real(v, &p("stop_loss"), Range::positive_up_to(1.0))).transpose()?;
    let maker = || -> Result<MakerConfig> {
        let d = MakerConfig::default();
        let levels = raw.levels.unwrap_or(i64::from(d.levels));
        if !(1..=1000).contains(&levels) {
            return Err(err(
                &p("levels"),
                format!("{levels} is out of range"),
                "1 <= levels <= 1000",
            ));
        }
        Ok(MakerConfig {
            spread: real_or(raw.spread, d.spread, &p("spread"), Range::positive_up_to(0.5))?,
            levels: levels as u32,
            level_size: real_or(
                raw.level_size,
                d.level_size,
                &p("level_size"),
                Range::positive_up_to(1e6),
            )?,
            capital: money(
                raw.capital.unwrap_or(d.capital.to_f64()),
                &p("capital"),
                Range::non_negative_up_to(1e12),
            )?,
            pull_vol: real_or(
                raw.pull_vol,
                d.pull_vol,
                &p("pull_vol"),
                Range::positive_up_to(100.0),
            )?,
            calm: match raw.calm.as_deref() {
                Some(text) => duration(text, &p("calm"), SimDuration::ZERO, day)?,
                None => d.calm,
            },
            stop_loss,
            presence: real_or(
                raw.presence,
                d.presence,
                &p("presence"),
                Range::non_negative_up_to(1.0),
            )?,
        })
    };
    let behaviour = match kind {
        AgentKind::LeveragedTrader => {
            let d = TraderConfig::default();
            Behaviour::LeveragedTrader(TraderConfig {
                stop_loss,
                take_profit: raw
                    .take_profit
                    .map(|v| real(v, &p("take_profit"), Range::positive_up_to(100.0)))
                    .transpose()?,
                add_margin_probability: real_or(
                    raw.add_margin_probability,
                    d.add_margin_probability,
                    &p("add_margin_probability"),
                    Range::closed(0.0, 1.0),
                )?,
                isolated: choice(
                    raw.margin_mode.as_deref().unwrap_or("cross"),
                    &p("margin_mode"),
                    &[("cross", false), ("isolated", true)],
                )?,
                position_share: real_or(
                    raw.position_share,
                    d.position_share,
                    &p("position_share"),
                    Range::positive_up_to(1.0),
                )?,
                limit_fraction: real_or(
                    raw.limit_fraction,
                    d.limit_fraction,
                    &p("limit_fraction"),
                    Range::closed(0.0, 1.0),
                )?,
                limit_offset: real_or(
                    raw.limit_offset,
                    d.limit_offset,
                    &p("limit_offset"),
                    Range::closed(0.0, 0.5),
                )?,
                arrival: optional_duration(
                    raw.arrival.as_deref(),
                    &p("arrival"),
                    SimDuration::from_secs(30 * 86_400),
                )?,
                arrival_profile: choice(
                    raw.arrival_profile.as_deref().unwrap_or("uniform"),
                    &p("arrival_profile"),
                    &[("uniform", ArrivalProfile::Uniform), ("volume", ArrivalProfile::Volume)],
                )?,
                comeback: real_or(
                    raw.comeback,
                    d.comeback,
                    &p("comeback"),
                    Range::closed(0.0, 1.0),
                )?,
                hold: optional_duration(
                    raw.hold.as_deref(),
                    &p("hold"),
                    SimDuration::from_secs(365 * 86_400),
                )?,
                open_at_start: raw.open_at_start.unwrap_or(false),
            })
        }
        AgentKind::MarketMaker => Behaviour::MarketMaker(maker()?),
        AgentKind::OptionMarketMaker => Behaviour::OptionMarketMaker(maker()?),
        AgentKind::Momentum => Behaviour::Momentum(MomentumConfig {
            threshold: real_or(
                raw.threshold,
                MomentumConfig::default().threshold,
                &p("threshold"),
                Range::positive_up_to(1.0),
            )?,
        }),
        AgentKind::Arbitrageur => Behaviour::Arbitrageur,
        AgentKind::OptionWriter => {
            let d = WriterConfig::default();
            Behaviour::OptionWriter(WriterConfig {
                stop_loss,
                put_strike: real_or(
                    raw.put_strike,
                    d.put_strike,
                    &p("put_strike"),
                    Range::closed(0.05, 1.0),
                )?,
                call_strike: real_or(
                    raw.call_strike,
                    d.call_strike,
                    &p("call_strike"),
                    Range::closed(1.0, 20.0),
                )?,
            })
        }
        AgentKind::OptionBuyer => Behaviour::OptionBuyer,
        AgentKind::LiquidityProvider => {
            let d = ProviderConfig::default();
            Behaviour::LiquidityProvider(ProviderConfig {
                size: real_or(raw.size, d.size, &p("size"), Range::positive_up_to(1e6))?,
                distance: real_or(
                    raw.distance,
                    d.distance,
                    &p("distance"),
                    Range::positive_up_to(0.5),
                )?,
                capital: money(
                    raw.capital.unwrap_or(d.capital.to_f64()),
                    &p("capital"),
                    Range::non_negative_up_to(1e12),
                )?,
            })
        }
    };
    Ok(AgentGroup {
        count: count as u32,
        deposit: distribution(
            raw.deposit,
            default_deposit,
            &p("deposit"),
            Range::positive_up_to(1e10),
        )?,
        leverage: distribution(
            raw.leverage,
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
        reentry: duration_or(
            raw.reentry.as_deref(),
            "1h",
            &p("reentry"),
            SimDuration::ZERO,
            SimDuration::from_secs(30 * 86_400),
        )?,
        wake: duration_or(raw.wake.as_deref(), "5m", &p("wake"), SimDuration::from_millis(1), day)?,
        latency: distribution(
            raw.latency,
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
        lookback: duration_or(
            raw.lookback.as_deref(),
            "15m",
            &p("lookback"),
            SimDuration::from_secs(1),
            SimDuration::from_secs(7 * 86_400),
        )?,
        behaviour,
    })
}
