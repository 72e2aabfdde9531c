//! Option series in the world and the margin of the accounts that hold them.
//!
//! Each series (call or put, strike, expiry) has its own order book and is cash-settled
//! on the index at expiry. Its mark is Black-76 on the perpetual's mark with the implied
//! volatility of an SVI smile whose level follows the process's current volatility times
//! the scheduled shock multiplier, so a volatility shock reprices every series at once.
//!
//! Margin of an account holding options comes from the run's policy applied to its whole
//! portfolio (perpetual included): `fixed` charges short options premium plus a fraction
//! of the underlying's notional and long options their premium; `grid` revalues the
//! portfolio over its grid; `es`/`var` take the measure of the account's loss vector over
//! a P&L matrix shared by all accounts (one row per series, recomputed at each margin
//! refresh). Such an account is not in the exchange's bankruptcy-price index; instead it
//! is keyed here by the forward range inside which it stays above maintenance (the risk
//! crate's conservative delta-gamma bracket), so a price step visits only the holders
//! whose range it leaves. Volatility and time are frozen inside a bracket, so every
//! holder is re-evaluated at each margin refresh, when the pricing volatility has moved
//! by more than 5% since the last full pass, and whenever its positions or cash change.

use crate::config::{OptionChainConfig, OptionMarginConfig};
use liqsim_book::{BookConfig, OrderBook, StpMode};
use liqsim_core::{ContractSpec, Money, Price, Qty, Result, SimTime};
use liqsim_exchange::{AccountId, Exchange};
use liqsim_models::{OptionKind, SviSlice, VolSurface, black76_greeks};
use liqsim_risk::hotpath::{PnlMatrix, account_measure, trigger};
use liqsim_risk::portfolio::{Instrument, Market, Position, Shock};
use liqsim_risk::scenarios::ScenarioSet;
use std::collections::{BTreeMap, BTreeSet};

const YEAR_NANOS: f64 = 365.25 * 86_400e9;

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
    margin: OptionMarginConfig,
    /// `es`/`var`: horizon log returns. The shared matrix (row 0 the perpetual, then one
    /// row per series) over those returns, or over the grid's points with their weights.
    scenario_returns: Vec<f64>,
    set: ScenarioSet,
    weights: Vec<f64>,
    matrix: PnlMatrix,
    /// Forward, volatility and time the matrix was computed at.
    matrix_at: Option<(f64, f64, SimTime)>,
    /// Requirements of each keyed holder at its last evaluation, for the metrics.
    last_requirement: BTreeMap<u32, (Money, Money)>,
    lower: BTreeSet<(i64, u32)>,
    upper: BTreeSet<(i64, u32)>,
    keys: BTreeMap<u32, (i64, i64)>,
    /// Holders whose positions or cash changed since they were last keyed.
    pub dirty: Vec<AccountId>,
    vol_at_full_pass: f64,
    positions: Vec<Position>,
    rows: Vec<u32>,
    quantities: Vec<f64>,
    losses: Vec<f64>,
}

impl Desk {
    pub fn new(
        chain: Option<&OptionChainConfig>,
        margin: OptionMarginConfig,
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
            margin,
            scenario_returns: Vec::new(),
            set: ScenarioSet::default(),
            weights: Vec::new(),
            matrix: PnlMatrix::default(),
            matrix_at: None,
            last_requirement: BTreeMap::new(),
            lower: BTreeSet::new(),
            upper: BTreeSet::new(),
            keys: BTreeMap::new(),
            dirty: Vec::new(),
            vol_at_full_pass: reference_vol,
            positions: Vec::new(),
            rows: Vec::new(),
            quantities: Vec::new(),
            losses: Vec::new(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    fn years_to(&self, s: usize, now: SimTime) -> f64 {
        (self.series[s].expiry.nanos().saturating_sub(now.nanos())) as f64 / YEAR_NANOS
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

    /// The risk crate's view of `a`'s portfolio (perpetual first) into the scratch list.
    fn load_positions(&mut self, exchange: &Exchange, a: AccountId, now: SimTime) {
        let spec = exchange.spec();
        self.positions.clear();
        self.rows.clear();
        self.quantities.clear();
        let perp = spec.qty_to_f64(exchange.position(a));
        if perp != 0.0 {
            self.positions.push(Position { instrument: Instrument::Perpetual, quantity: perp });
            self.rows.push(0);
            self.quantities.push(perp);
        }
        for h in exchange.holdings(a) {
            let s = usize::from(h.series);
            let q = spec.qty_to_f64(Qty::from_lots(h.qty));
            let series = &self.series[s];
            let instrument = Instrument::Option {
                kind: series.kind,
                strike: series.strike,
                expiry_years: self.years_to(s, now),
            };
            self.positions.push(Position { instrument, quantity: q });
            self.rows.push(1 + s as u32);
            self.quantities.push(q);
        }
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
        let spec = *exchange.spec();
        let forward = spec.price_to_f64(mark);
        match self.margin {
            OptionMarginConfig::Fixed { initial_fraction, maintenance_fraction } => {
                let mut im = exchange.requirement(a, mark, false)?;
                let mut mm = exchange.requirement(a, mark, true)?;
                let held = exchange.holdings(a).iter().map(|h| (h.series, h.qty));
                for (series, qty) in held.chain(extra.iter().copied()) {
                    let premium =
                        spec.notional(exchange.option_mark(series), Qty::from_lots(qty.abs()))?;
                    im = im.checked_add(premium)?;
                    mm = mm.checked_add(premium)?;
                    if qty < 0 {
                        let underlying = spec.notional(mark, Qty::from_lots(-qty))?;
                        im = im.checked_add(underlying.mul_rate_ceil(initial_fraction)?)?;
                        mm = mm.checked_add(underlying.mul_rate_ceil(maintenance_fraction)?)?;
                    }
                }
                Ok((im, mm))
            }
            OptionMarginConfig::Grid(policy) => {
                self.load_positions(exchange, a, now);
                self.add_extra(extra, &spec, now);
                self.ensure_matrix(now, forward);
                let mut worst = 0.0f64;
                for k in 0..self.matrix.scenarios() {
                    let mut pnl = 0.0;
                    for (row, q) in self.rows.iter().zip(&self.quantities) {
                        pnl += q * self.matrix.row(*row as usize)[k];
                    }
                    worst = worst.max(-self.weights[k] * pnl);
                }
                let minimum: f64 = self
                    .quantities
                    .iter()
                    .zip(&self.rows)
                    .filter(|(q, row)| **row > 0 && **q < 0.0)
                    .map(|(q, _)| policy.short_option_min_fraction * forward * -q)
                    .sum();
                let im = worst.max(minimum);
                Ok((
                    Money::ceil_from_f64(im)?,
                    Money::ceil_from_f64(im * policy.maintenance_fraction)?,
                ))
            }
            OptionMarginConfig::Scenario { measure, confidence, maintenance_fraction } => {
                self.load_positions(exchange, a, now);
                self.add_extra(extra, &spec, now);
                self.ensure_matrix(now, forward);
                let m = account_measure(
                    &self.matrix,
                    &self.rows,
                    &self.quantities,
                    measure,
                    confidence,
                    &mut self.losses,
                );
                let im = Money::ceil_from_f64(m)?;
                Ok((im, Money::ceil_from_f64(m * maintenance_fraction)?))
            }
        }
    }

    fn add_extra(&mut self, extra: &[(u16, i64)], spec: &ContractSpec, now: SimTime) {
        for &(series, lots) in extra {
            let s = usize::from(series);
            let q = spec.qty_to_f64(Qty::from_lots(lots));
            let instrument = Instrument::Option {
                kind: self.series[s].kind,
                strike: self.series[s].strike,
                expiry_years: self.years_to(s, now),
            };
            self.positions.push(Position { instrument, quantity: q });
            self.rows.push(1 + s as u32);
            self.quantities.push(q);
        }
    }

    /// `es`/`var`: the horizon returns the matrix is built from.
    pub fn set_scenario_returns(&mut self, returns: &[f64]) {
        self.scenario_returns.clear();
        self.scenario_returns.extend_from_slice(returns);
    }

    /// Forgets the matrix, so the next requirement recomputes it (a margin refresh).
    pub fn invalidate_matrix(&mut self) {
        self.matrix_at = None;
    }

    /// Recomputes the shared P&L matrix when the forward has moved more than 0.25%, the
    /// volatility more than 2%, or a refresh asked for it since it was computed: an
    /// account's figure is then a sum over its positions' rows, not a revaluation.
    fn ensure_matrix(&mut self, now: SimTime, forward: f64) {
        if let Some((f, v, _)) = self.matrix_at
            && (forward / f - 1.0).abs() <= 0.0025
            && (self.vol_now / v - 1.0).abs() <= 0.02
        {
            return;
        }
        let horizon_years = 1.0 / 365.25;
        self.set.shocks.clear();
        self.weights.clear();
        match self.margin {
            OptionMarginConfig::Grid(policy) => {
                for (shock, weight) in policy.shocks() {
                    self.set.shocks.push(shock);
                    self.weights.push(weight);
                }
            }
            _ => {
                self.set.shocks.extend(self.scenario_returns.iter().map(|&r| Shock {
                    log_return: r,
                    vol_shift: 0.0,
                    horizon_years,
                }));
            }
        }
        if self.set.shocks.is_empty() {
            self.set.shocks.push(Shock { log_return: 0.0, vol_shift: 0.0, horizon_years });
            self.weights.push(1.0);
        }
        let mut instruments = Vec::with_capacity(1 + self.series.len());
        instruments.push(Instrument::Perpetual);
        for s in 0..self.series.len() {
            let series = &self.series[s];
            instruments.push(Instrument::Option {
                kind: series.kind,
                strike: series.strike,
                expiry_years: self.years_to(s, now),
            });
        }
        let market = Market { forward, vol: self.vol_now.max(1e-4), rate: 0.0 };
        self.matrix.refresh(&instruments, &market, &self.set);
        self.matrix_at = Some((forward, self.vol_now, now));
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
        self.load_positions(exchange, a, now);
        let market = Market { forward, vol: self.vol_now.max(1e-4), rate: 0.0 };
        let excess = equity.checked_sub(maintenance)?.to_f64();
        let (lower, upper) = match self.margin {
            OptionMarginConfig::Fixed { maintenance_fraction, .. } => {
                // The bracket must follow equity - maintenance, and the fixed charge moves
                // with the price too: a short option's premium charge doubles its P&L, a
                // long's cancels it, and the fractions act like perpetual exposure.
                let notional = exchange.notional(a, mark)?.to_f64();
                let perp_rate = if notional > 0.0 {
                    exchange.requirement(a, mark, true)?.to_f64() / notional
                } else {
                    0.0
                };
                let mut linear = 0.0;
                for p in &mut self.positions {
                    match p.instrument {
                        Instrument::Perpetual => {
                            linear -= perp_rate * p.quantity.abs();
                        }
                        Instrument::Option { .. } if p.quantity < 0.0 => {
                            linear -= maintenance_fraction * -p.quantity;
                            p.quantity *= 2.0;
                        }
                        Instrument::Option { .. } => p.quantity = 0.0,
                    }
                }
                self.positions
                    .push(Position { instrument: Instrument::Perpetual, quantity: linear });
                let t = trigger(&self.positions, &market, excess);
                (t.lower, t.upper)
            }
            // The matrix, and so the requirement, holds while the forward stays within
            // 0.25% of where it was computed: the bracket stops there.
            _ => {
                let t = trigger(&self.positions, &market, excess);
                let (f, _, _) = self.matrix_at.unwrap_or((forward, 0.0, now));
                (t.lower.max(f * 0.9975), t.upper.min(f * 1.0025))
            }
        };
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
