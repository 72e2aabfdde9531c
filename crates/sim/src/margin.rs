//! Margin in the run: the run's [`MarginModel`] and the index of option holders.
//!
//! Every account is margined by the one model. Perpetual-only accounts are charged with
//! the model's linear schedule, which the exchange applies and keys its bankruptcy-price
//! index on. An account holding options is margined on its whole portfolio (perpetual
//! included) over the model's table shared by all accounts (row 0 the perpetual, then one
//! row per series); it is not in the exchange's index, and is keyed here instead by the
//! model's safe forward range, inside which it stays above maintenance, so a price step
//! visits only the holders whose range it leaves. Volatility and time are frozen inside a
//! range, so every holder is re-evaluated at each margin refresh (for a policy whose
//! requirement moves between refreshes), when the pricing volatility has moved by more
//! than 5% since the last full pass, and whenever its positions or cash change.

use crate::options::OptionChain;
use liqsim_core::{Money, Price, Qty, Result, SimTime};
use liqsim_exchange::{AccountId, Exchange};
use liqsim_risk::{Instrument, Leg, MarginModel, MarketState, Requirements};
use std::collections::{BTreeMap, BTreeSet};

/// A move of the pricing volatility by more than this since the last full pass puts
/// every option holder up for re-evaluation.
const FULL_PASS_VOL_MOVE: f64 = 0.05;

#[derive(Debug)]
pub(crate) struct Margin {
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
    /// (initial required, equity held, accounts below maintenance) at the last full count.
    pub totals: Option<(Money, Money, u64)>,
}

impl Margin {
    pub fn new(model: MarginModel, reference_vol: f64) -> Margin {
        Margin {
            model,
            last_requirement: BTreeMap::new(),
            lower: BTreeSet::new(),
            upper: BTreeSet::new(),
            keys: BTreeMap::new(),
            dirty: Vec::new(),
            vol_at_full_pass: reference_vol,
            legs: Vec::new(),
            totals: None,
        }
    }

    /// A risk refresh: the model recomputes from `state`, the exchange takes its schedule,
    /// and (when the requirement moves between refreshes) every holder is re-evaluated.
    pub fn refresh(
        &mut self,
        state: &MarketState,
        exchange: &mut Exchange,
        chain: &OptionChain,
    ) -> Result<()> {
        let schedule = self.model.refresh(state)?.clone();
        exchange.set_schedule(schedule);
        if !chain.is_empty() && self.model.moves_between_refreshes() {
            self.mark_all_dirty(exchange, chain.vol_now);
        }
        Ok(())
    }

    /// `a`'s portfolio (perpetual first, row 0; series s in row 1 + s) plus `extra`
    /// (series, signed lots) into the scratch legs, valued at `mark` to the micro-unit.
    fn load_legs(
        &mut self,
        exchange: &Exchange,
        chain: &OptionChain,
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
                instrument: chain.instrument(s, now),
                row: 1 + s,
                quantity: spec.qty_to_f64(Qty::from_lots(lots)),
                value: spec.notional(exchange.option_mark(series), q)?,
                underlying: spec.notional(mark, q)?,
            });
        }
        Ok(())
    }

    /// The model's requirement of the scratch legs at `forward`.
    fn legs_requirement(
        &mut self,
        chain: &OptionChain,
        forward: f64,
        now: SimTime,
    ) -> Result<Requirements> {
        self.model
            .requirements(&self.legs, forward, chain.vol_now, |out| chain.instruments(now, out))
    }

    /// (initial, maintenance) of `a`'s whole portfolio at `mark` (the perpetual's).
    pub fn requirement(
        &mut self,
        exchange: &Exchange,
        chain: &OptionChain,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<(Money, Money)> {
        self.requirement_with(exchange, chain, a, mark, now, &[])
    }

    /// The same with `extra` (series, signed lots) added to the portfolio, as an order
    /// check sees it. Extra lots in a series already held are charged as a separate
    /// position (conservative when they offset).
    pub fn requirement_with(
        &mut self,
        exchange: &Exchange,
        chain: &OptionChain,
        a: AccountId,
        mark: Price,
        now: SimTime,
        extra: &[(u16, i64)],
    ) -> Result<(Money, Money)> {
        self.load_legs(exchange, chain, a, mark, now, extra)?;
        let r = self.legs_requirement(chain, exchange.spec().price_to_f64(mark), now)?;
        Ok((r.initial, r.maintenance))
    }

    /// Requirements of a holder as of its last evaluation, or now.
    pub fn last_requirement(
        &mut self,
        exchange: &Exchange,
        chain: &OptionChain,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<(Money, Money)> {
        match self.last_requirement.get(&a.0) {
            Some(&r) => Ok(r),
            None => self.requirement(exchange, chain, a, mark, now),
        }
    }

    /// Exact check of a holder at `mark`: true when equity is below maintenance (the
    /// account leaves the index); otherwise it is keyed by its new safe range.
    pub fn evaluate(
        &mut self,
        exchange: &Exchange,
        chain: &OptionChain,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<bool> {
        self.remove(a);
        if exchange.holdings(a).is_empty() {
            return Ok(false);
        }
        let equity = exchange.equity(a, mark)?;
        let (initial, maintenance) = self.requirement(exchange, chain, a, mark, now)?;
        if equity < maintenance {
            return Ok(true);
        }
        self.last_requirement.insert(a.0, (initial, maintenance));
        let spec = *exchange.spec();
        let forward = spec.price_to_f64(mark);
        let excess = equity.checked_sub(maintenance)?.to_f64();
        // The legs `requirement` just loaded: the same portfolio at the same market.
        let range = self.model.safe_range(&self.legs, forward, chain.vol_now, excess)?;
        let tick = spec.price_to_f64(Price::from_ticks(1));
        let lo = (range.lower / tick).floor() as i64;
        let hi =
            if range.upper.is_finite() { (range.upper / tick).ceil() as i64 } else { i64::MAX };
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

    /// Whether the pricing volatility has moved enough since the last full pass that
    /// every holder must be re-evaluated.
    pub fn needs_full_pass(&self, vol_now: f64) -> bool {
        (vol_now / self.vol_at_full_pass - 1.0).abs() > FULL_PASS_VOL_MOVE
    }

    /// Every holder, for a full pass (after a refresh or a volatility move).
    pub fn mark_all_dirty(&mut self, exchange: &Exchange, vol_now: f64) {
        self.dirty.extend(exchange.option_holders());
        self.vol_at_full_pass = vol_now;
    }

    /// (initial required, equity held, accounts below maintenance) over every account:
    /// perpetual-only accounts from the exchange's index sums, option holders one by one.
    pub fn count_totals(
        &mut self,
        exchange: &Exchange,
        chain: &OptionChain,
        mark: Price,
        now: SimTime,
    ) -> Result<(Money, Money, u64)> {
        let (mut required, mut held, mut below) = exchange.perpetual_margin_totals(mark)?;
        if !chain.is_empty() {
            let holders: Vec<AccountId> = exchange.option_holders().collect();
            for a in holders {
                let (initial, maintenance) =
                    self.last_requirement(exchange, chain, a, mark, now)?;
                let equity = exchange.equity(a, mark)?;
                required = required.checked_add(initial)?;
                held = held.checked_add(equity.max(Money::ZERO))?;
                below += u64::from(equity < maintenance);
            }
        }
        Ok((required, held, below))
    }

    /// The index checks: each keyed holder is in both range sets at its key and nowhere
    /// else, and holds options unless it waits in the dirty list for re-evaluation.
    pub fn check(&self, exchange: &Exchange) -> Result<()> {
        let bad = |what: String| Err(liqsim_core::Error::Internal(format!("margin index: {what}")));
        if self.lower.len() != self.keys.len() || self.upper.len() != self.keys.len() {
            return bad(format!(
                "{} keys, {} lower and {} upper entries",
                self.keys.len(),
                self.lower.len(),
                self.upper.len()
            ));
        }
        for (&a, &(lo, hi)) in &self.keys {
            if !self.lower.contains(&(lo, a)) || !self.upper.contains(&(hi, a)) {
                return bad(format!(
                    "account {a} keyed at ({lo}, {hi}) is missing from a range set"
                ));
            }
            if lo > hi {
                return bad(format!("account {a} keyed at an empty range ({lo}, {hi})"));
            }
            let id = AccountId(a);
            if exchange.holdings(id).is_empty() && !self.dirty.contains(&id) {
                return bad(format!("account {a} is keyed but holds no option and is not pending"));
            }
        }
        Ok(())
    }
}
