//! Option series in the world: what they are, their marks, their expiry, and how option
//! writers and buyers choose a series.
//!
//! Each series (call or put, strike, expiry) has its own order book (in the venue) and is
//! cash-settled on the index at expiry. Its mark is Black-76 on the perpetual's mark with
//! the implied volatility of an SVI smile whose level follows the process's current
//! volatility times the scheduled shock multiplier, so a volatility shock reprices every
//! series at once.
//!
//! Writers' and buyers' decisions come from liqsim-agents; their orders meet the books
//! here: a writer sells the put nearest its `put_strike` x the forward (and the call
//! nearest `call_strike` x for a strangle) on a random live expiry at least an hour away, sized so that the
//! underlying notional is deposit x leverage, cut in half until the policy's initial
//! margin is covered; a buyer spends a third of its deposit on the put nearest 0.95 x or
//! the call nearest 1.05 x the forward.

use crate::config::OptionChainConfig;
use crate::events::SimEvent;
use crate::venue::market_order;
use crate::world::Ctx;
use liqsim_agents::WriterConfig;
use liqsim_book::Side;
use liqsim_core::{ContractSpec, Price, Qty, Result, RngStream, SimDuration, SimTime};
use liqsim_exchange::{AccountId, Exchange};
use liqsim_models::{OPTION_YEAR_NANOS, OptionKind, PUT_SKEW, VolSurface, black76_greeks};
use liqsim_risk::Instrument;
use rand::RngExt;

const YEAR_NANOS: f64 = OPTION_YEAR_NANOS;

/// Minimum time to expiry for a new option position.
const MIN_TIME_TO_EXPIRY: SimDuration = SimDuration::from_secs(3600);

/// Strikes buyers aim at, as multiples of the forward.
const BUYER_PUT_STRIKE: f64 = 0.95;
const BUYER_CALL_STRIKE: f64 = 1.05;
/// A writer's sale fills no lower than this share of the mark (tenths).
const WRITER_FLOOR_TENTHS: i64 = 7;
/// A buyer pays up to 30% over the mark, and sizes its order at that price.
const BUYER_CEILING_TENTHS: i64 = 13;
const BUYER_PRICE_ALLOWANCE: f64 = 1.3;
/// A buyer spends its deposit divided by this.
const BUYER_BUDGET_DIVISOR: f64 = 3.0;

/// Years from `now` to `expiry` (0 once it has passed).
pub(crate) fn years_between(now: SimTime, expiry: SimTime) -> f64 {
    (expiry.nanos().saturating_sub(now.nanos())) as f64 / YEAR_NANOS
}

#[derive(Debug)]
pub(crate) struct Series {
    pub kind: OptionKind,
    pub strike: f64,
    pub strike_ticks: Price,
    pub expiry: SimTime,
    pub live: bool,
    /// Model price and delta per unit of the underlying, at the last mark update.
    pub fair: f64,
    pub delta: f64,
}

#[derive(Debug)]
pub(crate) struct OptionChain {
    pub series: Vec<Series>,
    surface: Option<VolSurface>,
    /// The volatility series are priced at (and margined at).
    pub vol_now: f64,
}

impl OptionChain {
    /// The chain's series, each added to `exchange` (no chain: no series).
    pub fn new(
        chain: Option<&OptionChainConfig>,
        spec: &ContractSpec,
        initial_price: f64,
        reference_vol: f64,
        exchange: &mut Exchange,
    ) -> Result<OptionChain> {
        let mut series = Vec::new();
        let mut surface = None;
        if let Some(chain) = chain {
            let vol = reference_vol.max(PUT_SKEW.min_vol);
            let mut expiries = chain.expiries.clone();
            expiries.sort();
            expiries.dedup();
            let slices = expiries
                .iter()
                .map(|e| {
                    let t = e.nanos() as f64 / YEAR_NANOS;
                    PUT_SKEW.slice(t, vol)
                })
                .collect();
            surface = Some(VolSurface::new(slices, vol)?);
            for e in &expiries {
                for &k in &chain.strikes {
                    let strike_ticks = spec.price_from_f64(initial_price * k)?;
                    let strike = spec.price_to_f64(strike_ticks);
                    for kind in [OptionKind::Put, OptionKind::Call] {
                        exchange.add_series(Price::ZERO)?;
                        series.push(Series {
                            kind,
                            strike,
                            strike_ticks,
                            expiry: SimTime::START.plus(*e),
                            live: true,
                            fair: 0.0,
                            delta: 0.0,
                        });
                    }
                }
            }
        }
        Ok(OptionChain { series, surface, vol_now: reference_vol })
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    fn years_to(&self, s: usize, now: SimTime) -> f64 {
        years_between(now, self.series[s].expiry)
    }

    /// Series `s` as the margin model values it at `now`.
    pub fn instrument(&self, s: usize, now: SimTime) -> Instrument {
        let series = &self.series[s];
        Instrument::Option {
            kind: series.kind,
            strike: series.strike,
            expiry_years: self.years_to(s, now),
        }
    }

    /// Every instrument a margin table needs at `now`: the perpetual (row 0), then each
    /// series (row 1 + s).
    pub fn instruments(&self, now: SimTime, out: &mut Vec<Instrument>) {
        out.push(Instrument::Perpetual);
        out.extend((0..self.series.len()).map(|s| self.instrument(s, now)));
    }

    /// Reprices every live series at `forward` with current volatility `vol_now` and
    /// posts the marks to the exchange.
    pub fn update_marks(
        &mut self,
        now: SimTime,
        forward: f64,
        vol_now: f64,
        spec: &ContractSpec,
        exchange: &mut Exchange,
    ) -> Result<()> {
        self.vol_now = vol_now;
        let Some(surface) = &self.surface else { return Ok(()) };
        for s in 0..self.series.len() {
            if !self.series[s].live {
                continue;
            }
            let t = self.years_to(s, now).max(1e-9);
            let series = &self.series[s];
            let vol = surface.implied_vol(forward, series.strike, t, vol_now).max(1e-4);
            let g = black76_greeks(series.kind, forward, series.strike, vol, t, 0.0);
            let mark = spec.price_from_f64(g.price.max(0.0))?;
            exchange.set_option_mark(s as u16, mark);
            let series = &mut self.series[s];
            series.fair = g.price;
            series.delta = g.delta;
        }
        Ok(())
    }

    /// Net delta of `a` in units of the underlying (perpetual plus options).
    pub fn net_delta(&self, exchange: &Exchange, a: AccountId) -> f64 {
        let spec = exchange.spec();
        let mut d = spec.qty_to_f64(exchange.position(a));
        for h in exchange.holdings(a) {
            d += spec.qty_to_f64(Qty::from_lots(h.qty)) * self.series[usize::from(h.series)].delta;
        }
        d
    }

    /// Payoff per unit of series `s` at `index`, in ticks.
    pub fn intrinsic(&self, s: usize, index: Price) -> Price {
        let series = &self.series[s];
        let k = series.strike_ticks.ticks();
        let x = match series.kind {
            OptionKind::Call => index.ticks() - k,
            OptionKind::Put => k - index.ticks(),
        };
        Price::from_ticks(x.max(0))
    }

    /// Live series of kind `kind` expiring at `expiry` with the strike nearest `target`.
    fn nearest(&self, kind: OptionKind, expiry: SimTime, target: f64) -> Option<usize> {
        (0..self.series.len())
            .filter(|&s| {
                let x = &self.series[s];
                x.live && x.kind == kind && x.expiry == expiry
            })
            .min_by(|&x, &y| {
                let dx = (self.series[x].strike - target).abs();
                let dy = (self.series[y].strike - target).abs();
                dx.total_cmp(&dy).then(x.cmp(&y))
            })
    }

    /// A random live expiry at least an hour after `now`.
    fn pick_expiry(&self, now: SimTime, rng: &mut RngStream) -> Option<SimTime> {
        let horizon = now.plus(MIN_TIME_TO_EXPIRY);
        let mut expiries: Vec<SimTime> =
            self.series.iter().filter(|x| x.live && x.expiry > horizon).map(|x| x.expiry).collect();
        expiries.sort();
        expiries.dedup();
        if expiries.is_empty() {
            return None;
        }
        Some(expiries[rng.random_range(0..expiries.len())])
    }
}

impl Ctx<'_> {
    /// Cash-settles series `s` on the index and closes it; a holder left flat with a
    /// debt has it settled down the waterfall. The caller runs the liquidation loop next
    /// (settlement moves balances).
    pub fn expire(&mut self, s: usize) -> Result<()> {
        let spec = self.cfg.spec;
        let index = spec.price_from_f64(self.market.index_value)?;
        let intrinsic = self.chain.intrinsic(s, index);
        self.chain.series[s].live = false;
        self.venue.close_series(s);
        let exchange = &mut self.venue.exchange;
        exchange.set_option_mark(s as u16, intrinsic);
        let long_lots = exchange.option_open_interest(s as u16);
        let settled = spec.notional(intrinsic, Qty::from_lots(long_lots))?;
        let holders = exchange.expire(s as u16, intrinsic)?;
        self.observers.emit(self.now, SimEvent::Expiry { series: s as u16, intrinsic, settled })?;
        for a in holders {
            self.margin.remove(a);
            if !self.venue.exchange.holdings(a).is_empty() {
                self.margin.dirty.push(a);
            }
            if self.venue.exchange.is_flat(a) && self.venue.exchange.cash(a).is_negative() {
                let debt = self.venue.exchange.settle_debt(a, self.market.mark_ticks)?;
                self.record_debt(debt)?;
            }
        }
        Ok(())
    }

    /// A writer sells puts (and calls for a strangle); true if anything was sold.
    pub fn write_options(
        &mut self,
        a: AccountId,
        writer: &WriterConfig,
        leverage: f64,
        deposit: f64,
        strangle: bool,
        rng: &mut RngStream,
    ) -> Result<bool> {
        let Some(expiry) = self.chain.pick_expiry(self.now, rng) else { return Ok(false) };
        let spec = self.cfg.spec;
        let mark_ticks = self.market.mark_ticks;
        let forward = spec.price_to_f64(mark_ticks);
        let mut legs = Vec::with_capacity(2);
        if let Some(s) = self.chain.nearest(OptionKind::Put, expiry, writer.put_strike * forward) {
            legs.push(s);
        }
        if strangle
            && let Some(s) =
                self.chain.nearest(OptionKind::Call, expiry, writer.call_strike * forward)
        {
            legs.push(s);
        }
        if legs.is_empty() {
            return Ok(false);
        }
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let mut lots = (deposit * leverage / legs.len() as f64 / forward / lot).floor() as i64;
        let equity = self.venue.exchange.equity(a, mark_ticks)?;
        while lots > 0 {
            let extra: Vec<(u16, i64)> = legs.iter().map(|&s| (s as u16, -lots)).collect();
            let (im, _) = self.margin.requirement_with(
                &self.venue.exchange,
                self.chain,
                a,
                mark_ticks,
                self.now,
                &extra,
            )?;
            if equity >= im {
                break;
            }
            lots /= 2;
        }
        if lots == 0 {
            return Ok(false);
        }
        let mut sold = 0;
        for s in legs {
            let mark = self.venue.exchange.option_mark(s as u16);
            let bound = Price::from_ticks((mark.ticks() * WRITER_FLOOR_TENTHS / 10).max(1));
            sold += self
                .submit_option(s, market_order(a, Side::Sell, lots, bound, None))?
                .filled
                .lots();
        }
        Ok(sold > 0)
    }

    /// A buyer spends a third of its deposit on a near-the-money call or put.
    pub fn buy_options(
        &mut self,
        a: AccountId,
        call: bool,
        deposit: f64,
        rng: &mut RngStream,
    ) -> Result<bool> {
        let Some(expiry) = self.chain.pick_expiry(self.now, rng) else { return Ok(false) };
        let spec = self.cfg.spec;
        let forward = spec.price_to_f64(self.market.mark_ticks);
        let (kind, target) = if call {
            (OptionKind::Call, BUYER_CALL_STRIKE * forward)
        } else {
            (OptionKind::Put, BUYER_PUT_STRIKE * forward)
        };
        let Some(s) = self.chain.nearest(kind, expiry, target) else { return Ok(false) };
        let mark = self.venue.exchange.option_mark(s as u16);
        if mark.ticks() <= 0 {
            return Ok(false);
        }
        let price = spec.price_to_f64(mark) * BUYER_PRICE_ALLOWANCE;
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let budget = deposit / BUYER_BUDGET_DIVISOR;
        let lots = (budget / price / lot).floor() as i64;
        if lots <= 0 {
            return Ok(false);
        }
        let bound = Price::from_ticks(mark.ticks() * BUYER_CEILING_TENTHS / 10 + 1);
        Ok(self.submit_option(s, market_order(a, Side::Buy, lots, bound, None))?.filled.lots() > 0)
    }

    /// A writer's stop: buys back every short option at market (up to twice its mark).
    pub fn buy_back(&mut self, a: AccountId) -> Result<()> {
        let holdings: Vec<_> = self.venue.exchange.holdings(a).to_vec();
        for h in holdings {
            if h.qty >= 0 {
                continue;
            }
            let mark = self.venue.exchange.option_mark(h.series);
            let bound = Price::from_ticks(2 * mark.ticks() + 1);
            let order = market_order(a, Side::Buy, -h.qty, bound, Some(-h.qty));
            self.submit_option(usize::from(h.series), order)?;
        }
        Ok(())
    }
}
