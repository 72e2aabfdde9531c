//! Liquidations in the run: finding accounts below maintenance, handing each to the
//! exchange's waterfall (`liqsim_exchange::liquidation`), and recording what it did.
//!
//! After a price step (or funding, or an expiry) every account the mark may have pushed
//! below maintenance is checked: perpetual-only accounts from the exchange's
//! bankruptcy-price index, option holders from the margin index. Liquidation fills move
//! the mark, so the pass repeats until one liquidates nobody. A liquidation found on the
//! first pass is exogenous; one found on a later pass is caused by the last liquidation
//! of the pass before it. That link is what the cascade metrics measure.
//!
//! Collateral: at a price step, each collateral asset whose price moved re-keys its
//! holders in the exchange's index, and every holder is checked exactly at the mark as
//! it stands, before the perpetual's price moves: what is liquidated there is caused by
//! collateral value, everything else by position losses. This pass is O(holders) per
//! move of an asset (the re-keying is too); a safe region per account across instruments
//! (issue 23, item 5) is what would keep it to the holders a move pushes out. The fills
//! of those liquidations move the mark through the perpetual's pass that follows, whose
//! liquidations are therefore not linked to them as their cause.
//!
//! The waterfall runs through [`LiquidationHost`], which submits its IOC orders bounded
//! at the bankruptcy price to the book, closes an option holder's options (in each
//! series' book first, bounded at twice the mark plus 2% of the forward for a buy-back,
//! half the mark for a sale; the rest at the mark against the backstop or, without one,
//! against opposing holders by account id) and hears of every close against an opposing
//! account.

use crate::cascade::Side as LiqSide;
use crate::events::SimEvent;
use crate::outcome::LiquidationRow;
use crate::venue::{market_order, to_side};
use crate::world::Ctx;
use liqsim_book::OwnerId;
use liqsim_core::{Error, Money, Price, Qty, Result, SimDuration};
use liqsim_exchange::{
    AccountId, AssetId, DebtSettlement, Exchange, Host, LiquidationRules, Liquidator,
};

/// Passes of the liquidation loop in one instant before the kernel reports a runaway.
const MAX_CASCADE_PASSES: usize = 10_000;

/// Fills beyond the bankruptcy price stay within this share of the mark.
const LIQUIDATION_BAND: f64 = 0.1;

/// The backstop's unwinding sales fill no further than this from the mark.
const UNWIND_SLIPPAGE: f64 = 0.01;

/// A liquidated holder's option buy-back fills up to twice the mark plus this share of the
/// forward (as a divisor: 50 is 2%); its sale down to half the mark.
const OPTION_BUYBACK_FORWARD_DIVISOR: i64 = 50;

#[derive(Debug)]
pub(crate) struct Liquidations {
    /// The exchange's liquidation engine and waterfall (its ADL ranking is cached per
    /// instant, its cooldowns per account).
    liquidator: Liquidator,
    pub backstop: Option<AccountId>,
    /// The exchange's liquidation engine's account, if it runs one.
    pub engine: Option<AccountId>,
    candidates: Vec<AccountId>,
    /// Whether each holder of a moving collateral asset was below maintenance already.
    below_before: Vec<bool>,
    /// Accounts checked exactly, over the run.
    pub accounts_checked: u64,
    /// Set while the collateral pass liquidates: what it finds was caused by collateral.
    by_collateral: bool,
}

impl Liquidations {
    pub fn new(
        config: &crate::config::LiquidationConfig,
        backstop: Option<AccountId>,
        engine: Option<AccountId>,
    ) -> Liquidations {
        Liquidations {
            liquidator: Liquidator::new(LiquidationRules {
                partial: config.partial,
                step_fraction: config.step_fraction,
                cooldown: config.cooldown,
                backstop,
                adl: config.adl,
                band: LIQUIDATION_BAND,
                mark_close: config.mark_close,
            }),
            backstop,
            engine,
            candidates: Vec::with_capacity(256),
            below_before: Vec::new(),
            accounts_checked: 0,
            by_collateral: false,
        }
    }
}

impl Ctx<'_> {
    /// Moves each collateral asset's venue price to its path's value now and liquidates
    /// every holder of a moved asset that the move took below maintenance at the current
    /// mark. A holder already below it before the move (a cooldown ending, a liquidation
    /// that closed nothing) is left to the ordinary pass: its liquidation is not the
    /// collateral's doing.
    pub fn move_collateral(&mut self, liq: &mut Liquidations) -> Result<()> {
        let mut holders = std::mem::take(&mut liq.candidates);
        let mut below_before = std::mem::take(&mut liq.below_before);
        let mut moved_any = false;
        for k in 0..self.market.collateral.prices.len() {
            let (price, moved) = self.market.collateral.at(k, self.now)?;
            if !moved {
                continue;
            }
            moved_any = true;
            let asset = AssetId(k as u16);
            holders.clear();
            holders.extend(self.venue.exchange.collateral_holders(asset)?);
            below_before.clear();
            for &a in &holders {
                below_before.push(self.collateral_pass_liquidatable(liq, a)?);
            }
            self.market.collateral.prices[k] = price;
            self.venue.exchange.set_collateral_price(asset, price)?;
            liq.accounts_checked += holders.len() as u64;
            liq.by_collateral = true;
            for (&a, &was_below) in holders.iter().zip(&below_before) {
                if !was_below && self.collateral_pass_liquidatable(liq, a)? {
                    self.liquidate(liq, a, None)?;
                }
            }
            liq.by_collateral = false;
            self.rewatch_holders(&holders)?;
        }
        if moved_any {
            liq.liquidator.forget_adl();
        }
        liq.candidates = holders;
        liq.below_before = below_before;
        Ok(())
    }

    /// Whether holder `a` is to be liquidated at the current mark: not flat, not cooling
    /// down after a partial liquidation, and below maintenance (its policy's for an
    /// option holder).
    fn collateral_pass_liquidatable(&mut self, liq: &Liquidations, a: AccountId) -> Result<bool> {
        let mark = self.market.mark_ticks;
        let exchange = &self.venue.exchange;
        if exchange.is_flat(a) || liq.liquidator.cooling(exchange, a, mark, self.now)? {
            Ok(false)
        } else if exchange.holdings(a).is_empty() {
            exchange.is_liquidatable(a, mark)
        } else {
            self.margin.evaluate(exchange, self.chain, a, mark, self.now)
        }
    }

    /// Liquidates every account below maintenance at the current mark, again and again
    /// while liquidation fills move the mark into further accounts.
    pub fn liquidate_all(&mut self, liq: &mut Liquidations) -> Result<()> {
        let mut cause: Option<u32> = None;
        for _ in 0..MAX_CASCADE_PASSES {
            let mark = self.market.mark_ticks;
            self.venue.exchange.candidates(mark, &mut liq.candidates);
            if !self.chain.is_empty() {
                // Option holders are not in the exchange's index; the margin index keys them.
                // One that holds no option any more (it closed them) leaves the index.
                let from = liq.candidates.len();
                self.margin.crossed(mark, &mut liq.candidates);
                let exchange = &self.venue.exchange;
                let mut k = from;
                for i in from..liq.candidates.len() {
                    let a = liq.candidates[i];
                    if exchange.holdings(a).is_empty() {
                        self.margin.remove(a);
                    } else {
                        liq.candidates[k] = a;
                        k += 1;
                    }
                }
                liq.candidates.truncate(k);
            }
            let candidates = std::mem::take(&mut liq.candidates);
            liq.accounts_checked += candidates.len() as u64;
            let mut last = None;
            for &a in &candidates {
                let mark = self.market.mark_ticks;
                let exchange = &self.venue.exchange;
                let liquidatable = if liq.liquidator.cooling(exchange, a, mark, self.now)? {
                    false
                } else if exchange.holdings(a).is_empty() {
                    exchange.is_liquidatable(a, mark)?
                } else {
                    self.margin.evaluate(exchange, self.chain, a, mark, self.now)?
                };
                if !liquidatable {
                    continue;
                }
                if let Some(id) = self.liquidate(liq, a, cause)? {
                    last = Some(id);
                }
            }
            liq.candidates = candidates;
            match last {
                None => return self.deleverage_engine(liq),
                Some(id) => {
                    cause = Some(id);
                    self.update_prices()?;
                }
            }
        }
        Err(Error::Internal(format!(
            "more than {MAX_CASCADE_PASSES} liquidation passes at {}",
            self.now
        )))
    }

    /// Closes (part of) an underwater account through the exchange's waterfall; returns
    /// the liquidation's record index, or `None` when nothing could be closed (no
    /// liquidity, no backstop and no ADL: the account is tried again at the next price
    /// step).
    fn liquidate(
        &mut self,
        liq: &mut Liquidations,
        a: AccountId,
        cause: Option<u32>,
    ) -> Result<Option<u32>> {
        let mark = self.market.mark_ticks;
        let spec = self.cfg.spec;
        let now = self.now;
        let exchange = &self.venue.exchange;
        let equity = exchange.equity(a, mark)?;
        let short_options = exchange.holdings(a).iter().any(|h| h.qty < 0);
        let leverage = if equity.is_positive() {
            exchange.notional(a, mark)?.to_f64() / equity.to_f64()
        } else {
            f64::INFINITY
        };
        let mut host = LiquidationHost { ctx: self, backstop: liq.backstop, proceeds: Money::ZERO };
        let Some(done) = liq.liquidator.liquidate(&mut host, a, mark, now)? else {
            return Ok(None);
        };
        let proceeds =
            host.proceeds.checked_add(done.backstop_notional)?.checked_add(done.engine_notional)?;
        let balance = self.venue.exchange.fund_value(mark)?;
        self.observers.emit(now, SimEvent::Fund { balance })?;
        if done.backstop_lots > 0 {
            self.observers.emit(now, SimEvent::Backstop { notional: done.backstop_notional })?;
        }
        if done.engine_lots > 0 {
            self.observers.emit(now, SimEvent::EngineTook { notional: done.engine_notional })?;
        }
        self.observers.emit(now, SimEvent::Socialized { amount: done.socialized })?;
        self.observers.emit(now, SimEvent::Unpaid { amount: done.unpaid })?;
        self.on_liquidated(a)?;
        let id = self.observers.recorder.liquidation_count();
        let id = u32::try_from(id).map_err(|_| Error::overflow("liquidation count"))?;
        // The perpetual's closes against its value at the trigger's mark.
        let perp_lots = done.book_lots
            + done.backstop_lots
            + done.engine_lots
            + done.mark_close_lots
            + done.adl_lots;
        let at_mark = spec.notional(mark, Qty::from_lots(perp_lots))?;
        let shortfall = if done.long {
            at_mark.checked_sub(proceeds)?
        } else {
            proceeds.checked_sub(at_mark)?
        };
        let units = |lots: i64| spec.qty_to_f64(Qty::from_lots(lots));
        let row = LiquidationRow {
            time: now,
            account: a.0,
            side: if done.long { LiqSide::Long } else { LiqSide::Short },
            quantity: units(done.closed),
            notional: done.notional,
            mark: spec.price_to_f64(mark),
            bankruptcy_price: done.bankruptcy_price * spec.tick_size().to_f64(),
            caused_by: cause,
            depth: 0,
            bad_debt: done.bad_debt,
            book: units(done.book_lots),
            backstop: units(done.backstop_lots),
            engine: units(done.engine_lots),
            mark_close: units(done.mark_close_lots),
            adl: units(done.adl_lots),
            socialized: done.socialized,
            fill_price: if perp_lots > 0 { proceeds.to_f64() / units(perp_lots) } else { f64::NAN },
            shortfall,
            group: self.population.member_of(a).map(|(gi, _)| gi as u32),
            leverage,
            short_options,
            by_collateral: liq.by_collateral,
        };
        self.observers.emit(now, SimEvent::Liquidation { row, closed: done.closed })?;
        if self.venue.exchange.collateral_assets() > 0 {
            self.observers.emit(
                now,
                SimEvent::Collateral {
                    account: a,
                    by_collateral: liq.by_collateral,
                    converted: done.converted,
                    bad_debt: done.bad_debt,
                },
            )?;
        }
        Ok(Some(id))
    }

    /// An engine whose losses have used the fund up is deleveraged (see
    /// `Liquidator::deleverage_engine`); once flat it settles with the fund.
    fn deleverage_engine(&mut self, liq: &mut Liquidations) -> Result<()> {
        if liq.engine.is_none() {
            return Ok(());
        }
        let (mark, now) = (self.market.mark_ticks, self.now);
        let mut host = LiquidationHost { ctx: self, backstop: liq.backstop, proceeds: Money::ZERO };
        if liq.liquidator.deleverage_engine(&mut host, mark, now)? > 0 {
            self.venue.exchange.settle_engine()?;
            let balance = self.venue.exchange.fund_value(mark)?;
            self.observers.emit(now, SimEvent::Fund { balance })?;
        }
        Ok(())
    }

    /// A flat account's bad debt settled outside a liquidation (an expiry).
    pub fn record_debt(&mut self, debt: DebtSettlement) -> Result<()> {
        if debt.debt.is_positive() {
            let balance = self.venue.exchange.fund_value(self.market.mark_ticks)?;
            self.observers.emit(self.now, SimEvent::Fund { balance })?;
        }
        self.observers.emit(self.now, SimEvent::Socialized { amount: debt.socialized })?;
        self.observers.emit(self.now, SimEvent::Unpaid { amount: debt.unpaid })
    }

    /// The backstop and the engine work what they took off into the book; a flat engine
    /// funded by the fund settles its result with it.
    pub fn unwind_takers(&mut self, liq: &Liquidations) -> Result<()> {
        if let Some(b) = liq.backstop {
            self.unwind(b, self.cfg.liquidation.backstop_unwind, UNWIND_SLIPPAGE)?;
        }
        if let (Some(e), Some(engine)) = (liq.engine, self.cfg.liquidation.engine) {
            self.unwind(e, engine.unwind, engine.price_limit)?;
            if self.venue.exchange.settle_engine()? != Money::ZERO {
                let balance = self.venue.exchange.fund_value(self.market.mark_ticks)?;
                self.observers.emit(self.now, SimEvent::Fund { balance })?;
            }
        }
        Ok(())
    }

    /// Once a minute, `a` sends a reduce-only market order for minute / `unwind` of its
    /// position (at least a lot), filling no further than `slippage` from the mark: the
    /// liquidation flow it absorbed reaches the book later instead of never. A zero
    /// `unwind` holds.
    fn unwind(&mut self, a: AccountId, unwind: SimDuration, slippage: f64) -> Result<()> {
        let minute = SimDuration::from_secs(60);
        if unwind == SimDuration::ZERO
            || self.now.nanos() % minute.nanos() >= self.cfg.step.nanos().max(1)
        {
            return Ok(());
        }
        let q = self.venue.exchange.position(a).lots();
        if q == 0 {
            return Ok(());
        }
        let share = (minute.as_seconds_f64() / unwind.as_seconds_f64()).min(1.0);
        let lots = ((q.abs() as f64 * share).ceil() as i64).clamp(1, q.abs());
        let spec = self.cfg.spec;
        let mark = spec.price_to_f64(self.market.mark_ticks);
        let protection =
            spec.price_from_f64(mark * if q > 0 { 1.0 - slippage } else { 1.0 + slippage })?;
        let reducible = self.venue.exchange.reducible(a, q > 0).lots();
        self.venue.book.cancel_all(OwnerId(a.0));
        self.submit(market_order(a, to_side(q < 0), lots, protection, Some(reducible)))?;
        Ok(())
    }

    /// Closes every option of `a` (being liquidated): in the book within the bounds of
    /// the module documentation, the rest at the mark against the backstop or opposing
    /// holders. Returns (lots closed, premium notional closed).
    fn close_options_for_liquidation(
        &mut self,
        a: AccountId,
        backstop: Option<AccountId>,
    ) -> Result<(i64, Money)> {
        let spec = self.cfg.spec;
        let forward_ticks = self.market.mark_ticks.ticks();
        let holdings: Vec<_> = self.venue.exchange.holdings(a).to_vec();
        let (mut lots, mut notional) = (0i64, Money::ZERO);
        for h in holdings {
            let s = usize::from(h.series);
            let mark = self.venue.exchange.option_mark(h.series);
            let buy = h.qty < 0;
            let bound = if buy {
                Price::from_ticks(
                    2 * mark.ticks() + forward_ticks / OPTION_BUYBACK_FORWARD_DIVISOR + 1,
                )
            } else {
                Price::from_ticks((mark.ticks() / 2).max(1))
            };
            let r =
                self.submit_option(s, market_order(a, to_side(buy), h.qty.abs(), bound, None))?;
            lots += r.filled.lots();
            let filled_value = spec.notional(mark, r.filled)?;
            notional = notional.checked_add(filled_value)?;
            let mut left = self.venue.exchange.option_position(a, h.series).abs();
            if left == 0 {
                continue;
            }
            // The rest at the mark: the backstop takes it (unless it is the account being
            // liquidated), else opposing holders do.
            let backstop = backstop.filter(|&b| b != a);
            let exchange = &self.venue.exchange;
            let takers: Vec<AccountId> = match backstop {
                Some(b) => vec![b],
                None => exchange
                    .option_holders()
                    .filter(|&w| w != a && exchange.option_position(w, h.series) * h.qty < 0)
                    .collect(),
            };
            for w in takers {
                if left == 0 {
                    break;
                }
                let room = self.venue.exchange.option_position(w, h.series).abs();
                let take = if Some(w) == backstop { left } else { left.min(room) };
                let (buyer, seller) = if buy { (a, w) } else { (w, a) };
                self.venue.exchange.transfer_option(
                    buyer,
                    seller,
                    h.series,
                    mark,
                    Qty::from_lots(take),
                )?;
                self.margin.dirty.push(w);
                let value = spec.notional(mark, Qty::from_lots(take))?;
                let adl = Some(w) != backstop;
                let event = SimEvent::OptionTakeover {
                    account: w,
                    series: h.series,
                    lots: take,
                    notional: value,
                    adl,
                };
                self.observers.emit(self.now, event)?;
                lots += take;
                notional = notional.checked_add(value)?;
                left -= take;
            }
        }
        Ok((lots, notional))
    }
}

/// The world around the exchange, as its waterfall sees it: the books the liquidation
/// orders go to, and the agents and metrics that hear of every close.
pub(crate) struct LiquidationHost<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    backstop: Option<AccountId>,
    /// What the liquidated perpetual fetched so far: book fills, and closes against
    /// opposing positions (the backstop's take is in the waterfall's own record).
    proceeds: Money,
}

impl Host for LiquidationHost<'_, '_> {
    fn exchange(&mut self) -> &mut Exchange {
        &mut self.ctx.venue.exchange
    }

    fn cancel_orders(&mut self, a: AccountId) -> Result<()> {
        self.ctx.venue.cancel_everywhere(a);
        Ok(())
    }

    fn close_other_positions(&mut self, a: AccountId) -> Result<Option<(i64, Money, bool)>> {
        let ctx = &mut *self.ctx;
        if ctx.chain.is_empty() || ctx.venue.exchange.holdings(a).is_empty() {
            return Ok(None);
        }
        let long = ctx.chain.net_delta(&ctx.venue.exchange, a) > 0.0;
        let (lots, value) = ctx.close_options_for_liquidation(a, self.backstop)?;
        ctx.margin.remove(a);
        Ok(Some((lots, value, long)))
    }

    fn liquidation_order(
        &mut self,
        a: AccountId,
        sell: bool,
        lots: i64,
        bound: Price,
    ) -> Result<(i64, i64)> {
        let order = market_order(a, to_side(!sell), lots, bound, None);
        let (r, filled) = self.ctx.submit_as(order, true)?;
        self.proceeds = self.proceeds.checked_add(filled)?;
        Ok((r.filled.lots(), r.returned.lots()))
    }

    fn closed_against(
        &mut self,
        c: AccountId,
        lots: i64,
        notional: Money,
        adl: bool,
    ) -> Result<()> {
        self.proceeds = self.proceeds.checked_add(notional)?;
        let ctx = &mut *self.ctx;
        ctx.venue.book.cancel_all(OwnerId(c.0));
        ctx.observers.emit(ctx.now, SimEvent::ForcedClose { account: c, lots, notional, adl })?;
        ctx.on_deleveraged(c);
        Ok(())
    }

    fn fund_insufficient(&mut self) {
        // The recorder's handling of this event cannot fail.
        let _ = self.ctx.observers.emit(self.ctx.now, SimEvent::FundInsufficient);
    }
}
