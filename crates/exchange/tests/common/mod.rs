//! The venue the exchange's worked examples drive: the exchange with one order book,
//! as the kernel drives it, hosting the liquidation waterfall.

// Each test binary includes this module and uses only part of what the venue records.
#![allow(dead_code)]

use liqsim_book::{BookConfig, Fill, NewOrder, OrderBook, OrderKind, OwnerId, Side, StpMode};
use liqsim_core::{Money, Price, Qty, Result};
use liqsim_exchange::{AccountId, Exchange, Host};

pub struct Venue {
    pub x: Exchange,
    pub book: OrderBook,
    pub fills: Vec<Fill>,
    /// (counterparty, lots, notional, by ADL) of every close against an opposing account.
    pub closes: Vec<(AccountId, i64, Money, bool)>,
    pub fund_ran_out: bool,
}

impl Venue {
    pub fn with_exchange(x: Exchange) -> Venue {
        Venue {
            x,
            book: OrderBook::new(BookConfig { stp: StpMode::CancelTaker, capacity: 0 }),
            fills: Vec::new(),
            closes: Vec::new(),
            fund_ran_out: false,
        }
    }
}

impl Host for Venue {
    fn exchange(&mut self) -> &mut Exchange {
        &mut self.x
    }

    fn cancel_orders(&mut self, account: AccountId) -> Result<()> {
        self.book.cancel_all(OwnerId(account.0));
        Ok(())
    }

    fn close_other_positions(&mut self, _: AccountId) -> Result<Option<(i64, Money, bool)>> {
        Ok(None)
    }

    fn liquidation_order(
        &mut self,
        account: AccountId,
        sell: bool,
        lots: i64,
        bound: Price,
    ) -> Result<(i64, i64)> {
        let order = NewOrder {
            owner: OwnerId(account.0),
            side: if sell { Side::Sell } else { Side::Buy },
            kind: OrderKind::Market,
            price: Price::ZERO,
            qty: Qty::from_lots(lots),
            protection: Some(bound),
            max_qty: None,
        };
        self.fills.clear();
        let r = self.book.submit(order, &mut self.fills);
        for f in &self.fills {
            let maker = AccountId(f.maker_owner.0);
            let (buyer, seller) = if sell { (maker, account) } else { (account, maker) };
            self.x.apply_liquidation_fill(buyer, seller, f.price, f.qty, !sell)?;
            self.x.check()?;
        }
        Ok((r.filled.lots(), r.returned.lots()))
    }

    fn closed_against(
        &mut self,
        c: AccountId,
        lots: i64,
        notional: Money,
        adl: bool,
    ) -> Result<()> {
        self.book.cancel_all(OwnerId(c.0));
        self.closes.push((c, lots, notional, adl));
        self.x.check()
    }

    fn fund_insufficient(&mut self) {
        self.fund_ran_out = true;
    }
}
