//! The market's prices: the fundamental (a price process plus scheduled shocks), the
//! index (the fundamental moved by the decaying impact of net perpetual taker flow), the
//! perpetual's mark (the scenario's mark rule over index, basis, last trade and impact
//! mid), the funding premium sampled from the book, and the realized volatility that
//! market makers and latency watch.
//!
//! A replayed history is the fundamental: the price at time t is the process's value at t
//! (each close at the end of its bar).
//!
//! Collateral assets' venue prices follow their scenario paths ([`CollateralPrices`]):
//! linear between (time, price) points, held before the first and after the last, taken
//! to the micro-unit of quote at each price step.

use crate::config::{CollateralSpec, ProcessConfig, SimConfig};
use crate::world::Ctx;
use liqsim_book::{OrderBook, Side};
use liqsim_core::{Money, Price, Result, RngStream, SimDuration, SimTime, StreamId};
use liqsim_exchange::prices::PremiumIndex;
use liqsim_exchange::{IndexPrice, MarkPrice};
use liqsim_models::{PriceProcess, Shocks};
use std::collections::VecDeque;

/// Time constant of the realized volatility market makers watch: fast enough to pull at
/// a jump, and to come back once it is over.
const REALIZED_VOL_WINDOW_S: f64 = 60.0;

/// Index observations kept for agents' look-backs.
const INDEX_HISTORY_LEN: usize = 200_000;

#[derive(Debug)]
pub(crate) struct Market {
    process: Box<dyn PriceProcess>,
    price_rng: RngStream,
    pub shocks: Shocks,
    log_fundamental: f64,
    index: IndexPrice,
    pub index_value: f64,
    mark: MarkPrice,
    pub mark_ticks: Price,
    pub last_trade: Option<Price>,
    premium: PremiumIndex,
    /// EWMA of squared one-step log returns of the index, per year.
    pub realized_variance: f64,
    index_history: VecDeque<(SimTime, f64)>,
    pub collateral: CollateralPrices,
}

/// Each collateral asset's price path, and the venue price last set from it.
#[derive(Debug, Default)]
pub(crate) struct CollateralPrices {
    paths: Vec<Vec<(SimDuration, f64)>>,
    pub prices: Vec<Money>,
}

impl CollateralPrices {
    pub fn new(specs: &[CollateralSpec]) -> Result<CollateralPrices> {
        let paths: Vec<_> = specs.iter().map(|c| c.path.clone()).collect();
        let prices = paths
            .iter()
            .map(|p| Money::round_from_f64(path_price(p, SimDuration::ZERO)))
            .collect::<Result<_>>()?;
        Ok(CollateralPrices { paths, prices })
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The price of asset `k` at `now`; whether it differs from the last one set.
    pub fn at(&self, k: usize, now: SimTime) -> Result<(Money, bool)> {
        let price = Money::round_from_f64(path_price(&self.paths[k], now.since(SimTime::START)))?;
        Ok((price, price != self.prices[k]))
    }
}

/// Linear between points, held outside them.
fn path_price(path: &[(SimDuration, f64)], t: SimDuration) -> f64 {
    let i = path.partition_point(|&(at, _)| at <= t);
    match (i.checked_sub(1).map(|j| path[j]), path.get(i)) {
        (Some((t0, p0)), Some(&(t1, p1))) => {
            let span = (t1.nanos() - t0.nanos()) as f64;
            let w = (t.nanos() - t0.nanos()) as f64 / span;
            p0 + (p1 - p0) * w
        }
        (Some((_, p)), None) | (None, Some(&(_, p))) => p,
        (None, None) => 1.0,
    }
}

impl Market {
    pub fn new(cfg: &SimConfig) -> Result<Market> {
        let process: Box<dyn PriceProcess> = match &cfg.process {
            ProcessConfig::Parametric { unit, spec } => liqsim_models::process::build(spec, *unit),
            ProcessConfig::Replay(bars) => Box::new(liqsim_models::Replay::new(bars.clone())?),
        };
        let mut index = IndexPrice::new(cfg.index_impact, cfg.index_decay);
        let index_value = index.value(SimTime::START, cfg.initial_price);
        Ok(Market {
            process,
            price_rng: StreamId::named("price").rng(cfg.seed),
            shocks: Shocks::new(cfg.shocks.clone()),
            log_fundamental: cfg.initial_price.ln(),
            index,
            index_value,
            mark: MarkPrice::new(cfg.mark_rule, cfg.mark_ema),
            mark_ticks: cfg.spec.price_from_f64(index_value)?,
            last_trade: None,
            premium: PremiumIndex::default(),
            realized_variance: 0.0,
            index_history: VecDeque::new(),
            collateral: CollateralPrices::new(&cfg.collateral)?,
        })
    }

    /// Moves the fundamental over (now - step, now].
    pub fn move_fundamental(&mut self, now: SimTime, step: SimDuration) {
        let from = SimTime::from_nanos(now.nanos().saturating_sub(step.nanos()));
        let vol_scale = self.shocks.vol_scale(from);
        let r = self.process.step(from, now.since(from), vol_scale, &mut self.price_rng)
            + self.shocks.log_jumps_through(from, now);
        self.log_fundamental += r;
    }

    /// The index and the mark at `now`, the funding premium sampled from `book`.
    pub fn update(&mut self, now: SimTime, book: &OrderBook, cfg: &SimConfig) -> Result<()> {
        let fundamental = self.log_fundamental.exp();
        self.index_value = self.index.value(now, fundamental);
        let spec = cfg.spec;
        let tick = spec.tick_size().to_f64();
        let impact_bid =
            book.impact_price(Side::Sell, cfg.funding_impact_notional, &spec)?.map(|t| t * tick);
        let impact_ask =
            book.impact_price(Side::Buy, cfg.funding_impact_notional, &spec)?.map(|t| t * tick);
        let impact_mid = match (impact_bid, impact_ask) {
            (Some(b), Some(a)) => Some((b + a) / 2.0),
            _ => None,
        };
        self.premium.sample(self.index_value, impact_bid, impact_ask);
        let interval = cfg.funding.interval.nanos().max(1);
        let left = 1.0 - (now.nanos() % interval) as f64 / interval as f64;
        let last = self.last_trade.map(|p| spec.price_to_f64(p));
        let mark = self.mark.update(
            now,
            self.index_value,
            impact_mid,
            last,
            self.premium.rate(&cfg.funding),
            left,
        );
        self.mark_ticks = spec.price_from_f64(mark.max(tick))?;
        Ok(())
    }

    /// After a price step from `previous_index`: the realized variance moves, the index
    /// joins the look-back history; returns the index's log return.
    pub fn observe_step(&mut self, now: SimTime, previous_index: f64, step: SimDuration) -> f64 {
        let index_return = (self.index_value / previous_index).ln();
        let lambda = (-step.as_seconds_f64() / REALIZED_VOL_WINDOW_S).exp();
        self.realized_variance = lambda * self.realized_variance
            + (1.0 - lambda) * index_return * index_return / step.as_years_f64();
        self.index_history.push_back((now, self.index_value));
        while self.index_history.len() > INDEX_HISTORY_LEN {
            self.index_history.pop_front();
        }
        index_return
    }

    /// A perpetual fill: its signed notional moves the index, its price is the last trade.
    pub fn on_fill(&mut self, now: SimTime, signed_notional: f64, price: Price) {
        self.index.on_flow(now, signed_notional);
        self.last_trade = Some(price);
    }

    /// The index at `nanos` (the first observation at or after it, or the latest).
    pub fn index_at(&self, nanos: u64) -> f64 {
        let i = self.index_history.partition_point(|(t, _)| t.nanos() < nanos);
        self.index_history
            .get(i)
            .or(self.index_history.back())
            .map_or(self.index_value, |(_, v)| *v)
    }

    /// The process's own volatility, the calm reference.
    pub fn normal_vol(&self) -> f64 {
        self.process.volatility()
    }

    /// The process's volatility times the volatility shocks in force: options are priced
    /// at it.
    pub fn vol_now(&self, now: SimTime) -> f64 {
        self.process.volatility() * self.shocks.vol_scale(now)
    }

    pub fn realized_vol(&self) -> f64 {
        self.realized_variance.max(0.0).sqrt()
    }

    /// The funding rate of the interval just ended; the premium starts a new interval.
    pub fn take_funding_rate(&mut self, cfg: &SimConfig) -> f64 {
        let rate = self.premium.rate(&cfg.funding);
        self.premium.reset();
        rate
    }
}

impl Ctx<'_> {
    /// Index and mark at now, then the option marks; a volatility move large enough since
    /// the last full pass puts every option holder up for re-evaluation.
    pub fn update_prices(&mut self) -> Result<()> {
        self.market.update(self.now, &self.venue.book, self.cfg)?;
        if !self.chain.is_empty() {
            let vol_now = self.market.vol_now(self.now);
            let forward = self.cfg.spec.price_to_f64(self.market.mark_ticks);
            self.chain.update_marks(
                self.now,
                forward,
                vol_now,
                &self.cfg.spec,
                &mut self.venue.exchange,
            )?;
            if self.margin.needs_full_pass(vol_now) {
                self.margin.mark_all_dirty(&self.venue.exchange, vol_now);
            }
        }
        Ok(())
    }
}
