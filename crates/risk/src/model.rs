//! The margin model: the one implementation of every policy, and the only door to it.
//!
//! Everything that needs a margin figure holds a [`MarginModel`] built from a
//! [`PolicyConfig`]: the kernel (its exchange's schedule and its option holders), the
//! `backtest` command and the worked examples of each policy. The model answers four
//! questions, each once for every policy:
//!
//! - **refresh**: new market data ([`MarketState`]: the volatility multiplier of a shock,
//!   the market's realized volatility) recomputes the policy's figures;
//! - **the linear fast path**: a [`MarginSchedule`] of rates per unit of perpetual
//!   notional, which the exchange charges perpetual-only accounts with and keys its
//!   bankruptcy-price trigger index on;
//! - **the requirement of any portfolio** of [`Leg`]s (the perpetual and options),
//!   valued over a per-instrument table that every account shares (the design's shared
//!   scenario P&L vectors): an account's figure is a sum over its legs' rows, never a
//!   revaluation;
//! - **a safe forward range**: the prices between which a portfolio stays above
//!   maintenance, which the kernel keys its option holders by.
//!
//! The shared table is computed when a portfolio is first valued after a refresh, and
//! again whenever the forward has moved more than 0.25% or the volatility more than 2%
//! from where it was computed; a safe range therefore never reaches past 0.25% of that
//! forward for a policy that uses the table.
//!
//! Adding a policy is one file in `policies/` implementing [`Policy`], one variant of
//! [`PolicyConfig`] and its validation section in liqsim-scenario.

use crate::hotpath::{Trigger, trigger};
use crate::policies::{
    fixed::{Fixed, FixedConfig},
    greeks::{Greeks, GreeksConfig},
    grid::{Grid, GridConfig},
    scenario::{ScenarioConfig, ScenarioPolicy},
};
use crate::portfolio::{Instrument, Market, Position};
use crate::schedule::{MarginSchedule, Rates};
use liqsim_core::{Money, Result, SimDuration};
use std::fmt;

/// Initial and maintenance requirement of a portfolio, in exact money (rounded up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    pub initial: Money,
    pub maintenance: Money,
}

impl Requirements {
    /// From float figures: never negative, maintenance never above initial, rounded up.
    pub fn from_f64(initial: f64, maintenance: f64) -> Result<Requirements> {
        let initial = initial.max(0.0);
        let maintenance = maintenance.clamp(0.0, initial);
        Ok(Requirements {
            initial: Money::ceil_from_f64(initial)?,
            maintenance: Money::ceil_from_f64(maintenance)?,
        })
    }
}

/// The most a portfolio is charged: [`crate::schedule::MAX_RATE`] times the underlying
/// its legs hold, as perpetual rates are capped. A scenario set can price an option
/// writer's loss beyond any amount of money (a jump volatility of 5 in Monte Carlo
/// draws), and past this no account could post it anyway.
pub fn loss_cap(legs: &[Leg]) -> f64 {
    crate::schedule::MAX_RATE * legs.iter().map(|l| l.underlying.to_f64()).sum::<f64>()
}

/// What a refresh sees of the market.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketState {
    /// Volatility multiplier of the scheduled shocks in force (1 outside them).
    pub vol_scale: f64,
    /// The market's realized variance per year (a short EWMA of the index).
    pub realized_variance: f64,
    /// The price process's own volatility per year, the calm reference.
    pub normal_vol: f64,
}

impl MarketState {
    /// No shock and no realized volatility: a model valued outside a run.
    pub const AT_REST: MarketState =
        MarketState { vol_scale: 1.0, realized_variance: 0.0, normal_vol: 1.0 };
}

/// One position of a portfolio, as the model values it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Leg {
    /// The instrument with its time to expiry now (the safe range values it so).
    pub instrument: Instrument,
    /// Its row in the shared table (the instruments the caller lists on a refresh).
    pub row: usize,
    /// Units of the underlying, signed.
    pub quantity: f64,
    /// |quantity| x the instrument's mark (the perpetual's notional, an option's
    /// premium), exact: the fixed policy charges these.
    pub value: Money,
    /// |quantity| x the forward, exact.
    pub underlying: Money,
}

impl Leg {
    pub fn is_short_option(&self) -> bool {
        matches!(self.instrument, Instrument::Option { .. }) && self.quantity < 0.0
    }
}

/// One margin policy. Implementations live in `policies/`, one file each.
pub trait Policy: fmt::Debug + Send {
    /// The name reports and the command line use.
    fn name(&self) -> &'static str;

    /// One step of the index (a policy that tracks volatility follows the market).
    fn observe(&mut self, _index_return: f64, _step: SimDuration) {}

    /// New market data: recompute, and give the schedule of perpetual-only accounts.
    fn refresh(&mut self, market: &MarketState) -> Result<MarginSchedule>;

    /// Whether a portfolio's requirement moves with time and volatility between refreshes
    /// (then the kernel re-evaluates every option holder at each refresh).
    fn moves_between_refreshes(&self) -> bool {
        true
    }

    /// Whether portfolios are valued over the shared table (else `prepare` is never called).
    fn uses_table(&self) -> bool {
        true
    }

    /// Computes the shared per-instrument table at `market`.
    fn prepare(&mut self, instruments: &[Instrument], market: &Market);

    /// Initial and maintenance of a portfolio over the table last prepared.
    fn requirements(
        &mut self,
        legs: &[Leg],
        market: &Market,
        schedule: &MarginSchedule,
    ) -> Result<Requirements>;

    /// The forward range inside which a portfolio whose equity exceeds maintenance by
    /// `excess` stays above it. The default: the risk crate's conservative delta-gamma
    /// bracket, stopped where the table (and so the requirement) stops holding.
    fn safe_range(
        &mut self,
        legs: &[Leg],
        market: &Market,
        excess: f64,
        _schedule: &MarginSchedule,
        table_forward: f64,
        positions: &mut Vec<Position>,
    ) -> Result<Trigger> {
        positions.clear();
        positions.extend(
            legs.iter().map(|l| Position { instrument: l.instrument, quantity: l.quantity }),
        );
        let t = trigger(positions, market, excess);
        Ok(Trigger {
            lower: t.lower.max(table_forward * (1.0 - TABLE_FORWARD_TOLERANCE)),
            upper: t.upper.min(table_forward * (1.0 + TABLE_FORWARD_TOLERANCE)),
        })
    }
}

/// The shared table is recomputed when the forward moves more than this from where it
/// was computed...
pub const TABLE_FORWARD_TOLERANCE: f64 = 0.0025;
/// ... or the volatility more than this.
pub const TABLE_VOL_TOLERANCE: f64 = 0.02;

/// A policy and its parameters, validated (liqsim-scenario builds it from a file).
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyConfig {
    Fixed(FixedConfig),
    /// `var` or `es`.
    Scenario(ScenarioConfig),
    Grid(GridConfig),
    Greeks(GreeksConfig),
}

impl PolicyConfig {
    fn build(self, seed: u64) -> Result<Box<dyn Policy>> {
        Ok(match self {
            PolicyConfig::Fixed(c) => Box::new(Fixed::new(c)),
            PolicyConfig::Scenario(c) => Box::new(ScenarioPolicy::new(c, seed)?),
            PolicyConfig::Grid(c) => Box::new(Grid::new(c)),
            PolicyConfig::Greeks(c) => Box::new(Greeks::new(c)),
        })
    }
}

/// A policy with its schedule and its shared table.
#[derive(Debug)]
pub struct MarginModel {
    policy: Box<dyn Policy>,
    schedule: MarginSchedule,
    /// Forward and volatility the shared table was computed at; `None` after a refresh.
    table_at: Option<(f64, f64)>,
    rate: f64,
    instruments: Vec<Instrument>,
    positions: Vec<Position>,
    legs: Vec<Leg>,
}

impl MarginModel {
    /// The model of `config`; `seed` draws a Monte Carlo scenario set. Refreshed once at
    /// rest, so it can value portfolios at once.
    pub fn new(config: PolicyConfig, seed: u64) -> Result<MarginModel> {
        let placeholder = Rates { initial: 1.0, maintenance: 0.5 };
        let mut model = MarginModel {
            policy: config.build(seed)?,
            schedule: MarginSchedule::Flat { long: placeholder, short: placeholder },
            table_at: None,
            rate: 0.0,
            instruments: Vec::new(),
            positions: Vec::new(),
            legs: Vec::new(),
        };
        model.refresh(&MarketState::AT_REST)?;
        Ok(model)
    }

    pub fn name(&self) -> &'static str {
        self.policy.name()
    }

    /// One step of the index: `index_return` (log) over `step`.
    pub fn observe(&mut self, index_return: f64, step: SimDuration) {
        self.policy.observe(index_return, step);
    }

    /// Recomputes the policy from `market`; the shared table is recomputed on next use.
    pub fn refresh(&mut self, market: &MarketState) -> Result<&MarginSchedule> {
        self.schedule = self.policy.refresh(market)?;
        self.table_at = None;
        Ok(&self.schedule)
    }

    /// Rates of perpetual-only accounts, as of the last refresh.
    pub fn schedule(&self) -> &MarginSchedule {
        &self.schedule
    }

    /// Whether option holders must be re-evaluated at each refresh.
    pub fn moves_between_refreshes(&self) -> bool {
        self.policy.moves_between_refreshes()
    }

    fn market(&self, forward: f64, vol: f64) -> Market {
        Market { forward, vol: vol.max(1e-4), rate: self.rate }
    }

    /// Makes the shared table current for (`forward`, `vol`): `instruments` lists every
    /// instrument a leg's row may name, valued now, and is called only when the table
    /// must be recomputed.
    fn ensure_table(
        &mut self,
        forward: f64,
        vol: f64,
        instruments: impl FnOnce(&mut Vec<Instrument>),
    ) {
        if !self.policy.uses_table() {
            return;
        }
        if let Some((f, v)) = self.table_at
            && (forward / f - 1.0).abs() <= TABLE_FORWARD_TOLERANCE
            && (vol / v - 1.0).abs() <= TABLE_VOL_TOLERANCE
        {
            return;
        }
        self.instruments.clear();
        instruments(&mut self.instruments);
        let market = self.market(forward, vol);
        self.policy.prepare(&self.instruments, &market);
        self.table_at = Some((forward, vol));
    }

    /// Requirements of a portfolio at the forward `forward` and volatility `vol` (per
    /// year); `instruments` as for the shared table.
    pub fn requirements(
        &mut self,
        legs: &[Leg],
        forward: f64,
        vol: f64,
        instruments: impl FnOnce(&mut Vec<Instrument>),
    ) -> Result<Requirements> {
        self.ensure_table(forward, vol, instruments);
        let market = self.market(forward, vol);
        self.policy.requirements(legs, &market, &self.schedule)
    }

    /// The forward range inside which the portfolio of `legs`, whose equity exceeds its
    /// maintenance by `excess` at (`forward`, `vol`), stays above maintenance. Call after
    /// [`MarginModel::requirements`] of the same portfolio at the same market.
    pub fn safe_range(
        &mut self,
        legs: &[Leg],
        forward: f64,
        vol: f64,
        excess: f64,
    ) -> Result<Trigger> {
        let market = self.market(forward, vol);
        let table_forward = self.table_at.map_or(forward, |(f, _)| f);
        self.policy.safe_range(
            legs,
            &market,
            excess,
            &self.schedule,
            table_forward,
            &mut self.positions,
        )
    }

    /// Requirements of `positions` at `market`, each position its own row, every value
    /// taken from the market (premiums at their Black-76 value, to the micro-unit): the
    /// same computation the kernel runs, for a portfolio outside a run.
    pub fn portfolio(&mut self, positions: &[Position], market: &Market) -> Result<Requirements> {
        self.rate = market.rate;
        self.table_at = None;
        self.legs.clear();
        for (row, p) in positions.iter().enumerate() {
            self.legs.push(Leg {
                instrument: p.instrument,
                row,
                quantity: p.quantity,
                value: Money::round_from_f64(p.quantity.abs() * p.instrument.value(market, 0.0))?,
                underlying: Money::round_from_f64(p.quantity.abs() * market.forward)?,
            });
        }
        let legs = std::mem::take(&mut self.legs);
        let r = self.requirements(&legs, market.forward, market.vol, |out| {
            out.extend(positions.iter().map(|p| p.instrument));
        });
        self.legs = legs;
        r
    }
}
