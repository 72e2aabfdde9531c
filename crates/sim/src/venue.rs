//! Settlement: the exchange and its order books, orders in and fills out.
//!
//! An order meets its book now; every fill is settled on the exchange at once (a
//! liquidation's taker pays no trading fee), and then the rest of the kernel hears of
//! it, fill by fill in match order: option holders whose cash moved are re-evaluated, a
//! trader whose resting limit entry was hit wakes, the flow moves the index and sets the
//! last trade, and the fill goes down the event stream. Perpetual fills never change
//! option holdings, so hearing of them after the whole order settled sees what it would
//! have seen fill by fill.

use crate::events::SimEvent;
use crate::world::Ctx;
use liqsim_agents::behaviour::Status;
use liqsim_book::{
    BookConfig, Fill, NewOrder, OrderBook, OrderKind, OwnerId, Side, StpMode, SubmitResult,
};
use liqsim_core::{Money, Price, Qty, Result};
use liqsim_exchange::{AccountId, Exchange};

#[derive(Debug)]
pub(crate) struct Venue {
    pub exchange: Exchange,
    /// The perpetual's book.
    pub book: OrderBook,
    /// One book per option series, in series order.
    pub option_books: Vec<OrderBook>,
    fills: Vec<Fill>,
}

impl Venue {
    pub fn new(exchange: Exchange, option_series: usize) -> Venue {
        let option_books = (0..option_series).map(|_| option_book(64)).collect();
        Venue {
            exchange,
            book: OrderBook::new(BookConfig { stp: StpMode::CancelTaker, capacity: 4096 }),
            option_books,
            fills: Vec::with_capacity(256),
        }
    }

    /// Matches `order` in the perpetual's book and settles its fills on the exchange.
    #[inline]
    fn submit(&mut self, order: NewOrder, liquidation: bool) -> Result<SubmitResult> {
        self.fills.clear();
        let result = self.book.submit(order, &mut self.fills);
        let taker = AccountId(order.owner.0);
        for f in &self.fills {
            let (buyer, seller) = buyer_seller(f, taker);
            let taker_buys = f.aggressor == Side::Buy;
            if liquidation {
                self.exchange.apply_liquidation_fill(buyer, seller, f.price, f.qty, taker_buys)?;
            } else {
                self.exchange.apply_fill(buyer, seller, f.price, f.qty, taker_buys)?;
            }
        }
        Ok(result)
    }

    /// Matches `order` in series `s`'s book and settles its fills on the exchange.
    fn submit_option(&mut self, s: usize, order: NewOrder) -> Result<SubmitResult> {
        self.fills.clear();
        let result = self.option_books[s].submit(order, &mut self.fills);
        let taker = AccountId(order.owner.0);
        for f in &self.fills {
            let (buyer, seller) = buyer_seller(f, taker);
            let taker_buys = f.aggressor == Side::Buy;
            self.exchange.apply_option_fill(buyer, seller, s as u16, f.price, f.qty, taker_buys)?;
        }
        Ok(result)
    }

    /// Rests a post-only `order` in the perpetual's book (or in series `series`'), or
    /// has it refused: it never matches, so there is nothing to settle.
    pub fn post(&mut self, series: Option<usize>, order: NewOrder) -> Result<SubmitResult> {
        debug_assert_eq!(order.kind, OrderKind::PostOnly);
        self.fills.clear();
        let book = match series {
            None => &mut self.book,
            Some(s) => &mut self.option_books[s],
        };
        let result = book.submit(order, &mut self.fills);
        if !self.fills.is_empty() {
            return Err(liqsim_core::Error::Internal("a post-only order matched".into()));
        }
        Ok(result)
    }

    /// Cancels `a`'s orders in every book.
    pub fn cancel_everywhere(&mut self, a: AccountId) {
        self.book.cancel_all(OwnerId(a.0));
        for book in &mut self.option_books {
            book.cancel_all(OwnerId(a.0));
        }
    }

    /// A settled series trades no more: its book is dropped.
    pub fn close_series(&mut self, s: usize) {
        self.option_books[s] = option_book(0);
    }
}

fn option_book(capacity: usize) -> OrderBook {
    OrderBook::new(BookConfig { stp: StpMode::CancelTaker, capacity })
}

fn buyer_seller(f: &Fill, taker: AccountId) -> (AccountId, AccountId) {
    let maker = AccountId(f.maker_owner.0);
    if f.aggressor == Side::Buy { (taker, maker) } else { (maker, taker) }
}

impl Ctx<'_> {
    /// Submits an agent's or a maker's `order` to the perpetual's book.
    #[inline]
    pub fn submit(&mut self, order: NewOrder) -> Result<SubmitResult> {
        Ok(self.submit_as(order, false)?.0)
    }

    /// Submits `order` to the perpetual's book, as a liquidation's or not, and lets the
    /// kernel hear of each fill; returns the result and the notional filled.
    pub fn submit_as(
        &mut self,
        order: NewOrder,
        liquidation: bool,
    ) -> Result<(SubmitResult, Money)> {
        let result = self.venue.submit(order, liquidation)?;
        let taker = AccountId(order.owner.0);
        let spec = self.cfg.spec;
        let mut filled = Money::ZERO;
        for i in 0..self.venue.fills.len() {
            let f = self.venue.fills[i];
            let (buyer, seller) = buyer_seller(&f, taker);
            for x in [buyer, seller] {
                if !self.venue.exchange.holdings(x).is_empty() {
                    self.margin.dirty.push(x);
                }
            }
            // A trader whose limit entry was hit looks at it now.
            let maker = AccountId(f.maker_owner.0);
            if self.traders.limit_entries
                && let Some((gi, m)) = self.population.member_of(maker)
                && self.population.groups[gi].members[m].state.status == Status::Resting
            {
                self.schedule_wake(gi, m, self.now);
            }
            let notional = spec.notional(f.price, f.qty)?;
            filled = filled.checked_add(notional)?;
            let signed =
                if f.aggressor == Side::Buy { notional.to_f64() } else { -notional.to_f64() };
            self.market.on_fill(self.now, signed, f.price);
            let trade = SimEvent::Trade {
                buyer,
                seller,
                price: f.price,
                qty: f.qty,
                notional,
                taker_buys: f.aggressor == Side::Buy,
                liquidation,
            };
            self.observers.emit(self.now, trade)?;
        }
        self.venue.fills.clear();
        Ok((result, filled))
    }

    /// Submits `order` to series `s`'s book; both sides of each fill are re-evaluated.
    pub fn submit_option(&mut self, s: usize, order: NewOrder) -> Result<SubmitResult> {
        let result = self.venue.submit_option(s, order)?;
        let taker = AccountId(order.owner.0);
        for i in 0..self.venue.fills.len() {
            let f = self.venue.fills[i];
            let (buyer, seller) = buyer_seller(&f, taker);
            self.margin.dirty.push(buyer);
            self.margin.dirty.push(seller);
            let premium = self.cfg.spec.notional(f.price, f.qty)?;
            let trade = SimEvent::OptionTrade {
                series: s as u16,
                buyer,
                seller,
                price: f.price,
                qty: f.qty,
                premium,
                taker_buys: f.aggressor == Side::Buy,
            };
            self.observers.emit(self.now, trade)?;
        }
        self.venue.fills.clear();
        Ok(result)
    }
}

/// A market order bounded at `protection`, capped at `max_lots` when reduce-only.
pub(crate) fn market_order(
    a: AccountId,
    side: Side,
    lots: i64,
    protection: Price,
    max_lots: Option<i64>,
) -> NewOrder {
    NewOrder {
        owner: OwnerId(a.0),
        side,
        kind: OrderKind::Market,
        price: Price::ZERO,
        qty: Qty::from_lots(lots),
        protection: Some(protection),
        max_qty: max_lots.map(Qty::from_lots),
    }
}

/// A post-only limit order (a maker's quote, a trader's limit entry).
pub(crate) fn post_only(a: AccountId, buy: bool, ticks: i64, lots: i64) -> NewOrder {
    NewOrder {
        owner: OwnerId(a.0),
        side: to_side(buy),
        kind: OrderKind::PostOnly,
        price: Price::from_ticks(ticks),
        qty: Qty::from_lots(lots),
        protection: None,
        max_qty: None,
    }
}

pub(crate) fn to_side(buy: bool) -> Side {
    if buy { Side::Buy } else { Side::Sell }
}
