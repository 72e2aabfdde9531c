//! Option series in the world and the margin of the accounts that hold them.
//!
//! Each series (call or put, strike, expiry) has its own order book and is cash-settled
//! on the index at expiry. Its mark is Black-76 on the perpetual's mark with the implied
//! volatility of an SVI smile whose level follows the process's current volatility times
//! the scheduled shock multiplier, so a volatility shock reprices every series at once.
//!
//! Margin of an account holding options is the run's [`MarginModel`] applied to its whole
//! portfolio (perpetual included), over the model's table shared by all accounts (row 0
//! the perpetual, then one row per series). Such an account is not in the exchange's
//! bankruptcy-price index; instead it is keyed here by the model's safe forward range,
//! inside which it stays above maintenance, so a price step visits only the holders
//! whose range it leaves. Volatility and time are frozen inside a range, so every holder
//! is re-evaluated at each margin refresh (for a policy whose requirement moves between
//! refreshes), when the pricing volatility has moved by more than 5% since the last full
//! pass, and whenever its positions or cash change.

use crate::config::OptionChainConfig;
use liqsim_book::{BookConfig, OrderBook, StpMode};
use liqsim_core::{ContractSpec, Money, Price, Qty, Result, SimTime};
use liqsim_exchange::{AccountId, Exchange};
use liqsim_models::{OptionKind, SviSlice, VolSurface, black76_greeks};
use liqsim_risk::{Instrument, Leg, MarginModel, Requirements};
use std::collections::{BTreeMap, BTreeSet};

const YEAR_NANOS: f64 = 365.25 * 86_400e9;

/// Years from `now` to `expiry` (0 once it has passed).
fn years_between(now: SimTime, expiry: SimTime) -> f64 {
    (expiry.nanos().saturating_sub(now.nanos())) as f64 / YEAR_NANOS
}

/// Smile shape of every expiry: put skew as crypto option markets show it.
const SMILE_B: f64 = 0.08;
const SMILE_RHO: f64 = -0.35;
const SMILE_SIGMA: f64 = 0.15;

#[derive(Debug)]
pub(crate) struct Series {
    pub kind: OptionKind,
    pub strike: f64,
    pub strike_ticks: Price,
    pub expiry: SimTime,
    pub book: OrderBook,
    pub live: bool,
    /// Model price and delta per unit of the underlying, at the last mark update.
    pub fair: f64,
    pub delta: f64,
}

#[derive(Debug)]
pub(crate) struct Desk {
    pub series: Vec<Series>,
    surface: Option<VolSurface>,
    pub vol_now: f64,
    /// The run's margin policy, for every account: its schedule is the exchange's.
    pub model: MarginModel,
    /// Requirements of each keyed holder at its last evaluation, for the metrics.
    last_requirement: BTreeMap<u32, (Money, Money)>,
    lower: BTreeSet<(i64, u32)>,
    upper: BTreeSet<(i64, u32)>,
    keys: BTreeMap<u32, (i64, i64)>,
    /// Holders whose positions or cash changed since they were last keyed.
    pub dirty: Vec<AccountId>,
    vol_at_full_pass: f64,
    legs: Vec<Leg>,
}

impl Desk {
    pub fn new(
        chain: Option<&OptionChainConfig>,
        model: MarginModel,
        spec: &ContractSpec,
        initial_price: f64,
        reference_vol: f64,
        exchange: &mut Exchange,
    ) -> Result<Desk> {
        let mut series = Vec::new();
        let mut surface = None;
        if let Some(chain) = chain {
            let vol = reference_vol.max(0.05);
            let mut expiries = chain.expiries.clone();
            expiries.sort();
            expiries.dedup();
            let slices = expiries
                .iter()
                .map(|e| {
                    let t = e.nanos() as f64 / YEAR_NANOS;
                    SviSlice::from_atm(t, vol, SMILE_B * t.sqrt(), SMILE_RHO, SMILE_SIGMA)
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
                            book: OrderBook::new(BookConfig {
                                stp: StpMode::CancelTaker,
                                capacity: 64,
                            }),
                            live: true,
                            fair: 0.0,
                            delta: 0.0,
                        });
                    }
                }
            }
        }
        Ok(Desk {
            series,
            surface,
            vol_now: reference_vol,
            model,
            last_requirement: BTreeMap::new(),
            lower: BTreeSet::new(),
            upper: BTreeSet::new(),
            keys: BTreeMap::new(),
            dirty: Vec::new(),
            vol_at_full_pass: reference_vol,
            legs: Vec::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn years_to(&self, s: usize, now: SimTime) -> f64 {
        years_between(now, self.series[s].expiry)
    }

    /// Reprices every live series at `forward` with current volatility `vol_now` and
    /// posts the marks to the exchange. Returns true when the volatility has moved enough
    /// since the last full pass that every holder must be re-evaluated.
    pub fn update_marks(
        &mut self,
        now: SimTime,
        forward: f64,
        vol_now: f64,
        spec: &ContractSpec,
        exchange: &mut Exchange,
    ) -> Result<bool> {
        self.vol_now = vol_now;
        let Some(surface) = &self.surface else { return Ok(false) };
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
        Ok((vol_now / self.vol_at_full_pass - 1.0).abs() > 0.05)
    }

    /// The instrument of series `s`, valued at `now`.
    fn instrument(&self, s: usize, now: SimTime) -> Instrument {
        let series = &self.series[s];
        Instrument::Option {
            kind: series.kind,
            strike: series.strike,
            expiry_years: self.years_to(s, now),
        }
    }

    /// `a`'s portfolio (perpetual first, row 0; series s in row 1 + s) plus `extra`
    /// (series, signed lots) into the scratch legs, valued at `mark` to the micro-unit.
    fn load_legs(
        &mut self,
        exchange: &Exchange,
        a: AccountId,
        mark: Price,
        now: SimTime,
        extra: &[(u16, i64)],
    ) -> Result<()> {
        let spec = *exchange.spec();
        self.legs.clear();
        let perp = exchange.position(a);
        if !perp.is_zero() {
            let notional = spec.notional(mark, perp.abs())?;
            self.legs.push(Leg {
                instrument: Instrument::Perpetual,
                row: 0,
                quantity: spec.qty_to_f64(perp),
                value: notional,
                underlying: notional,
            });
        }
        let held = exchange.holdings(a).iter().map(|h| (h.series, h.qty));
        for (series, lots) in held.chain(extra.iter().copied()) {
            let s = usize::from(series);
            let q = Qty::from_lots(lots.abs());
            self.legs.push(Leg {
                instrument: self.instrument(s, now),
                row: 1 + s,
                quantity: spec.qty_to_f64(Qty::from_lots(lots)),
                value: spec.notional(exchange.option_mark(series), q)?,
                underlying: spec.notional(mark, q)?,
            });
        }
        Ok(())
    }

    /// (initial, maintenance) of `a`'s whole portfolio at `mark` (the perpetual's).
    pub fn requirement(
        &mut self,
        exchange: &Exchange,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<(Money, Money)> {
        self.requirement_with(exchange, a, mark, now, &[])
    }

    /// The same with `extra` (series, signed lots) added to the portfolio, as an order
    /// check sees it. Extra lots in a series already held are charged as a separate
    /// position (conservative when they offset).
    pub fn requirement_with(
        &mut self,
        exchange: &Exchange,
        a: AccountId,
        mark: Price,
        now: SimTime,
        extra: &[(u16, i64)],
    ) -> Result<(Money, Money)> {
        self.load_legs(exchange, a, mark, now, extra)?;
        let r = self.portfolio_requirement(exchange.spec().price_to_f64(mark), now)?;
        Ok((r.initial, r.maintenance))
    }

    /// The model's requirement of the scratch legs at `forward`.
    fn portfolio_requirement(&mut self, forward: f64, now: SimTime) -> Result<Requirements> {
        let legs = std::mem::take(&mut self.legs);
        let series = &self.series;
        let r = self.model.requirements(&legs, forward, self.vol_now, |out| {
            out.push(Instrument::Perpetual);
            out.extend(series.iter().map(|x| Instrument::Option {
                kind: x.kind,
                strike: x.strike,
                expiry_years: years_between(now, x.expiry),
            }));
        });
        self.legs = legs;
        r
    }

    /// Requirements of a holder as of its last evaluation, or now.
    pub fn last_requirement(
        &mut self,
        exchange: &Exchange,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<(Money, Money)> {
        match self.last_requirement.get(&a.0) {
            Some(&r) => Ok(r),
            None => self.requirement(exchange, a, mark, now),
        }
    }

    /// Exact check of a holder at `mark`: true when equity is below maintenance (the
    /// account leaves the index); otherwise it is keyed by its new safe range.
    pub fn evaluate(
        &mut self,
        exchange: &Exchange,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<bool> {
        self.remove(a);
        if exchange.holdings(a).is_empty() {
            return Ok(false);
        }
        let equity = exchange.equity(a, mark)?;
        let (initial, maintenance) = self.requirement(exchange, a, mark, now)?;
        if equity < maintenance {
            return Ok(true);
        }
        self.last_requirement.insert(a.0, (initial, maintenance));
        let spec = *exchange.spec();
        let forward = spec.price_to_f64(mark);
        let excess = equity.checked_sub(maintenance)?.to_f64();
        // The legs of `requirement` above: the same portfolio at the same market.
        let legs = std::mem::take(&mut self.legs);
        let range = self.model.safe_range(&legs, forward, self.vol_now, excess);
        self.legs = legs;
        let range = range?;
        let (lower, upper) = (range.lower, range.upper);
        let tick = spec.price_to_f64(Price::from_ticks(1));
        let lo = (lower / tick).floor() as i64;
        let hi = if upper.is_finite() { (upper / tick).ceil() as i64 } else { i64::MAX };
        self.lower.insert((lo, a.0));
        self.upper.insert((hi, a.0));
        self.keys.insert(a.0, (lo, hi));
        Ok(false)
    }

    pub fn remove(&mut self, a: AccountId) {
        self.last_requirement.remove(&a.0);
        if let Some((lo, hi)) = self.keys.remove(&a.0) {
            self.lower.remove(&(lo, a.0));
            self.upper.remove(&(hi, a.0));
        }
    }

    /// Holders whose range `mark` has left, plus the dirty ones, into `out` (appended,
    /// ascending by account id, no repeats).
    pub fn crossed(&mut self, mark: Price, out: &mut Vec<AccountId>) {
        let start = out.len();
        let p = mark.ticks();
        out.extend(self.lower.range((p, 0)..).map(|&(_, a)| AccountId(a)));
        out.extend(self.upper.range(..=(p, u32::MAX)).map(|&(_, a)| AccountId(a)));
        out.append(&mut self.dirty);
        out[start..].sort_unstable();
        let mut k = start;
        for i in start..out.len() {
            if k == start || out[i] != out[k - 1] {
                out[k] = out[i];
                k += 1;
            }
        }
        out.truncate(k);
    }

    /// Every holder, for a full pass (after a refresh or a volatility move).
    pub fn mark_all_dirty(&mut self, exchange: &Exchange) {
        self.dirty.extend(exchange.option_holders());
        self.vol_at_full_pass = self.vol_now;
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
}
