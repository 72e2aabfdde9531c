//! The liquidation engine and the loss waterfall (DESIGN.md, steps 1-7), driven through a
//! [`Host`]: the exchange emits IOC orders bounded at the bankruptcy price, the host
//! submits them to its book and settles the fills, and the exchange decides what happens
//! to whatever the book could not take.
//!
//! For one account below maintenance, [`Liquidator::liquidate`]:
//! 1. cancels its orders and lets the host close anything beside the perpetual (options),
//!    and converts its collateral to quote at the venue's price less each asset's
//!    liquidation discount (the collateral desk buys it; selling into the collateral's
//!    own book is a later step, for which the discount stands in);
//! 2. sells (or buys back) the perpetual in chunks: all of it, or, when partial, a step
//!    of the position at a time until initial margin is restored;
//! 3. each chunk is an IOC order bounded at the bankruptcy price; a backstop, if
//!    configured, takes what the book returns at that price, as far as its own initial
//!    margin allows (it is an account like any other, and is liquidated like one); then
//!    the exchange's liquidation engine, if it runs one, takes the rest at that price, as
//!    far as its capital (the insurance fund, or a vault's own) covers initial margin,
//!    and works it off into the book later (the host's job);
//! 4. when the fund has money (or there is no ADL), fills beyond bankruptcy within a band
//!    of the mark, and no further than the fund can pay;
//! 5. what is still left is closed against opposing positions in ADL rank order: at the
//!    bankruptcy price (auto-deleveraging: opposing positions in profit give some of it
//!    up), and, once no opposing position is in profit, the rest at the mark against any
//!    opposing position. With `mark_close`, the old rule of venues without an engine
//!    comes first: closes at the mark while the fund can pay the account's loss there;
//! 6. a liquidation fee of the closed notional goes to the fund, never more than the
//!    equity left above zero;
//! 7. a flat account below zero is bad debt: the fund pays what it can, the rest is
//!    socialized over accounts in profit pro rata, and what nobody pays is the unpaid
//!    claim.
//!
//! A position closed by ADL at the bankruptcy price may realize less than its profit at
//! the mark, even a loss when its entry lies between the mark and that price: that is
//! auto-deleveraging as the large venues run it.
//!
//! The ADL ranking scans the opposing side, so it is computed once per instant and side
//! and walked with a cursor by every bankrupt account of that instant.

use crate::exchange::{AccountId, Exchange};
use liqsim_core::{Money, Price, Qty, Result, SimDuration, SimTime};
use std::collections::BTreeMap;

/// What the waterfall needs from the world around the exchange.
pub trait Host {
    fn exchange(&mut self) -> &mut Exchange;
    /// Cancels the liquidated account's resting orders in every book.
    fn cancel_orders(&mut self, account: AccountId) -> Result<()>;
    /// Closes every position of `account` beside the perpetual (its options). Returns
    /// (lots closed, notional closed, whether its net exposure was long), or `None` when
    /// it holds nothing else.
    fn close_other_positions(&mut self, account: AccountId) -> Result<Option<(i64, Money, bool)>>;
    /// Submits an IOC order of the liquidated `account` for `lots` (a sale when `sell`),
    /// filling no worse than `bound`, and settles its fills with
    /// [`Exchange::apply_liquidation_fill`]. Returns (lots filled, lots returned).
    fn liquidation_order(
        &mut self,
        account: AccountId,
        sell: bool,
        lots: i64,
        bound: Price,
    ) -> Result<(i64, i64)>;
    /// `counterparty` took `lots` of the liquidated position at `notional`: by
    /// auto-deleveraging when `adl`, at the mark paid by the fund otherwise. Its resting
    /// orders belong to the position it no longer has.
    fn closed_against(
        &mut self,
        counterparty: AccountId,
        lots: i64,
        notional: Money,
        adl: bool,
    ) -> Result<()>;
    /// The fund could not pay a loss at the mark: auto-deleveraging begins.
    fn fund_insufficient(&mut self);
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidationRules {
    /// Close a step of the position at a time until initial margin is restored.
    pub partial: bool,
    /// The step, as a share of the position (rounded up to a lot).
    pub step_fraction: f64,
    /// After a partial liquidation the account is left alone this long, unless its
    /// equity falls below zero.
    pub cooldown: SimDuration,
    /// The account that takes what the book cannot at the bankruptcy price.
    pub backstop: Option<AccountId>,
    /// Whether winners are deleveraged when the fund cannot pay.
    pub adl: bool,
    /// Fills beyond bankruptcy stay within this share of the mark.
    pub band: f64,
    /// Close what the book (and backstop, and engine) cannot take against opposing
    /// positions at the mark while the fund can pay the loss, before any ADL.
    pub mark_close: bool,
}

impl Default for LiquidationRules {
    fn default() -> LiquidationRules {
        LiquidationRules {
            partial: false,
            step_fraction: 1.0,
            cooldown: SimDuration::ZERO,
            backstop: None,
            adl: true,
            band: 0.1,
            mark_close: false,
        }
    }
}

/// One liquidation, as the waterfall carried it out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Liquidated {
    /// The side of the closed exposure.
    pub long: bool,
    /// Lots closed: perpetual and options.
    pub closed: i64,
    /// Notional closed, the perpetual at the mark.
    pub notional: Money,
    /// The perpetual's bankruptcy price at the trigger, in fractional ticks; NaN when the
    /// account held only options.
    pub bankruptcy_price: f64,
    /// Perpetual lots by where they went.
    pub book_lots: i64,
    pub backstop_lots: i64,
    /// What the backstop paid for them (at bankruptcy prices).
    pub backstop_notional: Money,
    /// Taken over by the exchange's liquidation engine, and what it paid (at bankruptcy
    /// prices).
    pub engine_lots: i64,
    pub engine_notional: Money,
    pub mark_close_lots: i64,
    pub adl_lots: i64,
    pub fee: Money,
    /// The flat account's debt, and who paid it.
    pub bad_debt: Money,
    pub fund_paid: Money,
    pub socialized: Money,
    pub unpaid: Money,
    /// Quote the collateral desk paid for the account's collateral.
    pub converted: Money,
}

/// `taker` takes `lots` of `a`'s position (long when `long`) over at `bound`; returns the
/// notional it paid.
fn take_over(
    exchange: &mut Exchange,
    taker: AccountId,
    a: AccountId,
    long: bool,
    lots: i64,
    bound: Price,
) -> Result<Money> {
    let (buyer, seller) = if long { (taker, a) } else { (a, taker) };
    exchange.transfer_position(buyer, seller, bound, Qty::from_lots(lots))?;
    exchange.spec().notional(bound, Qty::from_lots(lots))
}

/// The order limit at bankruptcy price `b` (fractional ticks), rounded so that a fill
/// never takes the account below zero: up for a long's sale, down for a short's buy.
fn limit_at(b: f64, long: bool) -> Price {
    Price::from_ticks(if long { (b.ceil() as i64).max(1) } else { b.floor() as i64 })
}

#[derive(Debug, Clone, Default)]
struct AdlCursor {
    at: SimTime,
    against_long: bool,
    queue: Vec<AccountId>,
    /// The queue's first `profitable` accounts were in profit when ranked.
    profitable: usize,
    next_adl: usize,
    next_any: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Liquidator {
    rules: LiquidationRules,
    adl: Option<AdlCursor>,
    /// When each account still holding a position was last partially liquidated.
    partially_liquidated: BTreeMap<u32, SimTime>,
}

impl Liquidator {
    pub fn new(rules: LiquidationRules) -> Liquidator {
        Liquidator { rules, adl: None, partially_liquidated: BTreeMap::new() }
    }

    /// Drops the ADL ranking kept for this instant: the kernel calls it when the mark is
    /// about to move within one instant (after the collateral pass, before the price
    /// step), where a ranking at the old mark would skip accounts now in profit.
    pub fn forget_adl(&mut self) {
        self.adl = None;
    }

    /// Whether `a` is inside the cooldown of its last partial liquidation with equity
    /// still above zero (then it is left alone even below maintenance).
    pub fn cooling(
        &self,
        exchange: &Exchange,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<bool> {
        let Some(t) = self.partially_liquidated.get(&a.0) else { return Ok(false) };
        Ok(now < t.plus(self.rules.cooldown) && !exchange.equity(a, mark)?.is_negative())
    }

    /// Closes (part of) `a` and runs the waterfall at `mark`. `None` when nothing could
    /// be closed (no liquidity, no backstop and no ADL): the account is tried again later.
    pub fn liquidate<H: Host>(
        &mut self,
        host: &mut H,
        a: AccountId,
        mark: Price,
        now: SimTime,
    ) -> Result<Option<Liquidated>> {
        if host.exchange().engine().is_some_and(|e| e.account == a) {
            return Ok(None);
        }
        host.cancel_orders(a)?;
        let start = host.exchange().position(a).lots();
        let mut done = Liquidated {
            long: start > 0,
            closed: 0,
            notional: Money::ZERO,
            bankruptcy_price: f64::NAN,
            book_lots: 0,
            backstop_lots: 0,
            backstop_notional: Money::ZERO,
            engine_lots: 0,
            engine_notional: Money::ZERO,
            mark_close_lots: 0,
            adl_lots: 0,
            fee: Money::ZERO,
            bad_debt: Money::ZERO,
            fund_paid: Money::ZERO,
            socialized: Money::ZERO,
            unpaid: Money::ZERO,
            converted: Money::ZERO,
        };
        if let Some((lots, notional, long)) = host.close_other_positions(a)? {
            done.long = long;
            done.closed += lots;
            done.notional = done.notional.checked_add(notional)?;
        }
        let long = done.long;
        done.bankruptcy_price = host.exchange().bankruptcy_price(a).unwrap_or(f64::NAN);
        if host.exchange().collateral_assets() > 0 {
            done.converted = host.exchange().convert_collateral(a)?;
        }
        let mut perpetual_closed = 0i64;
        loop {
            let exchange = host.exchange();
            let q = exchange.position(a).lots();
            if q == 0 {
                break;
            }
            let chunk = if self.rules.partial {
                ((q.abs() as f64 * self.rules.step_fraction).ceil() as i64).clamp(1, q.abs())
            } else {
                q.abs()
            };
            let b = exchange.bankruptcy_price(a).unwrap_or(0.0);
            if perpetual_closed == 0 && done.closed == 0 {
                done.bankruptcy_price = b;
            }
            let bound = limit_at(b, long);
            let (filled, mut left) = host.liquidation_order(a, long, chunk, bound)?;
            done.book_lots += filled;
            let mut closed = filled;
            if left > 0
                && let Some(backstop) = self.rules.backstop.filter(|&b| b != a)
            {
                // The backstop is an account like any other: it takes only what its
                // initial margin allows at the mark after paying the bankruptcy price.
                let exchange = host.exchange();
                let take = exchange.capacity(backstop, long, left, bound, mark)?;
                if take > 0 {
                    let paid = take_over(exchange, backstop, a, long, take, bound)?;
                    done.backstop_notional = done.backstop_notional.checked_add(paid)?;
                    done.backstop_lots += take;
                    closed += take;
                    left -= take;
                }
            }
            if left > 0
                && let Some(engine) = host.exchange().engine()
            {
                let exchange = host.exchange();
                let take = exchange.engine_capacity(long, left, bound, mark)?;
                if take > 0 {
                    let paid = take_over(exchange, engine.account, a, long, take, bound)?;
                    done.engine_notional = done.engine_notional.checked_add(paid)?;
                    done.engine_lots += take;
                    closed += take;
                    left -= take;
                }
            }
            // Beyond bankruptcy the loss is bad debt: taken when the fund can pay it, or
            // when there is no ADL to close the position at the bankruptcy price instead.
            if left > 0 && (host.exchange().insurance_fund().is_positive() || !self.rules.adl) {
                let exchange = host.exchange();
                let spec = *exchange.spec();
                let side = if long { 1.0 - self.rules.band } else { 1.0 + self.rules.band };
                let band = spec.price_from_f64(spec.price_to_f64(mark) * side)?;
                // No further than the fund can pay: past that price, ADL decides.
                let band = match exchange.fund_bound(a) {
                    Some(limit) if long => band.max(limit),
                    Some(limit) => band.min(limit),
                    None => band,
                };
                let (filled, returned) = host.liquidation_order(a, long, left, band)?;
                done.book_lots += filled;
                closed += filled;
                left = returned;
            }
            if left > 0 {
                let exchange = host.exchange();
                let deficit = exchange.equity(a, mark)?.checked_neg()?;
                let fund_can_pay = exchange.insurance_fund() >= deficit.max(Money::ZERO);
                if self.rules.mark_close && fund_can_pay {
                    let lots =
                        self.close_against_opposing(host, a, long, mark, mark, left, false, now)?;
                    done.mark_close_lots += lots;
                    closed += lots;
                } else if self.rules.adl {
                    if !fund_can_pay {
                        host.fund_insufficient();
                    }
                    // At the bankruptcy price of what is left: fills beyond the first
                    // bound in this chunk have moved it.
                    let bound = limit_at(host.exchange().bankruptcy_price(a).unwrap_or(0.0), long);
                    let lots =
                        self.close_against_opposing(host, a, long, mark, bound, left, true, now)?;
                    done.adl_lots += lots;
                    closed += lots;
                    // Winners are used up: the rest closes at the mark against any
                    // opposing position, and the loss beyond the fund is socialized.
                    if lots < left {
                        let rest = left - lots;
                        let lots = self
                            .close_against_opposing(host, a, long, mark, mark, rest, false, now)?;
                        done.mark_close_lots += lots;
                        closed += lots;
                    }
                }
            }
            let exchange = host.exchange();
            let notional = exchange.spec().notional(mark, Qty::from_lots(closed))?;
            done.notional = done.notional.checked_add(notional)?;
            perpetual_closed += closed;
            // Stopping at maintenance would leave the account to be liquidated again at
            // the next tick: a partial liquidation goes on until initial margin is back.
            if closed == 0 || exchange.equity(a, mark)? >= exchange.requirement(a, mark, false)? {
                break;
            }
        }
        done.closed += perpetual_closed;
        if done.closed == 0 {
            return Ok(None);
        }
        let exchange = host.exchange();
        done.fee = exchange.charge_liquidation_fee(a, done.notional, mark)?;
        if self.rules.cooldown > SimDuration::ZERO {
            if exchange.is_flat(a) {
                self.partially_liquidated.remove(&a.0);
            } else {
                self.partially_liquidated.insert(a.0, now);
            }
        }
        let debt = exchange.settle_debt(a, mark)?;
        (done.bad_debt, done.fund_paid, done.socialized, done.unpaid) =
            (debt.debt, debt.fund_paid, debt.socialized, debt.unpaid);
        Ok(Some(done))
    }

    /// An engine the fund funds whose losses have used the fund up (the fund plus the
    /// engine's equity below zero at `mark`) is itself deleveraged: its whole position is
    /// closed against opposing positions in profit, in ADL rank order, at the price that
    /// leaves the fund at zero. Returns the lots closed.
    pub fn deleverage_engine<H: Host>(
        &mut self,
        host: &mut H,
        mark: Price,
        now: SimTime,
    ) -> Result<i64> {
        let exchange = host.exchange();
        let Some(engine) = exchange.engine().filter(|e| e.funded_by_fund) else { return Ok(0) };
        let e = engine.account;
        let q = exchange.position(e).lots();
        if !self.rules.adl || q == 0 || !exchange.fund_value(mark)?.is_negative() {
            return Ok(0);
        }
        let long = q > 0;
        let Some(b) = exchange.engine_bankruptcy_price() else { return Ok(0) };
        host.fund_insufficient();
        host.cancel_orders(e)?;
        self.close_against_opposing(host, e, long, mark, limit_at(b, long), q.abs(), true, now)
    }

    /// Closes `lots` of `a`'s position against opposing accounts in rank order (ranked at
    /// `mark`) at `price`: by auto-deleveraging (`adl`) only accounts still in profit at
    /// the mark, otherwise any opposing account. Returns the lots closed.
    #[allow(clippy::too_many_arguments)]
    fn close_against_opposing<H: Host>(
        &mut self,
        host: &mut H,
        a: AccountId,
        long: bool,
        mark: Price,
        price: Price,
        lots: i64,
        adl: bool,
        now: SimTime,
    ) -> Result<i64> {
        let fresh = !matches!(&self.adl, Some(c) if c.at == now && c.against_long == long);
        if fresh {
            let (queue, profitable) = host.exchange().adl_queue(long, mark)?;
            self.adl = Some(AdlCursor {
                at: now,
                against_long: long,
                queue,
                profitable,
                next_adl: 0,
                next_any: 0,
            });
        }
        let Some(mut cursor) = self.adl.take() else { return Ok(0) };
        let end = if adl { cursor.profitable } else { cursor.queue.len() };
        let mut next = if adl { cursor.next_adl } else { cursor.next_any };
        let mut left = lots;
        while left > 0 && next < end {
            let c = cursor.queue[next];
            // Earlier closes in this instant may have closed or flipped the position, and
            // the mark may have moved since the ranking.
            let exchange = host.exchange();
            let position = exchange.position(c).lots();
            let opposing = if long { position < 0 } else { position > 0 };
            if c == a || !opposing || (adl && !exchange.unrealized(c, mark)?.is_positive()) {
                next += 1;
                continue;
            }
            let take = left.min(position.abs());
            let (buyer, seller) = if long { (c, a) } else { (a, c) };
            exchange.transfer_position(buyer, seller, price, Qty::from_lots(take))?;
            let notional = exchange.spec().notional(price, Qty::from_lots(take))?;
            host.closed_against(c, take, notional, adl)?;
            left -= take;
            if take == position.abs() {
                next += 1;
            }
        }
        if adl {
            cursor.next_adl = next;
        } else {
            cursor.next_any = next;
        }
        self.adl = Some(cursor);
        Ok(lots - left)
    }
}
