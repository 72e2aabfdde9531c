//! The event logs a run keeps on request: every trade, forced close, funding payment and
//! insurance-fund movement, in event order, as rows of exact integers (ticks, lots,
//! micro-units) for the writers to type and convert.
//!
//! An observer like the digest and the recorder: it hears the same [`SimEvent`] stream
//! and can change nothing. Off (the default), the kernel pays one branch per event and
//! allocates nothing; on, rows are pushed to vectors that grow by doubling.
//!
//! Known limitations: a funding row is the payment as a whole (rate and the residual
//! left to fee income), not one row per account; positions opened at the start outside
//! the book are not trades; option trades are never flagged as liquidations (an option
//! holder's liquidation is a takeover at the mark, logged as a forced close).

use crate::events::SimEvent;
use liqsim_core::{ContractSpec, Money, Price, Qty, SimTime};
use liqsim_exchange::AccountId;

/// A fill in a book: the perpetual's (`series` `None`) or an option series'.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeRecord {
    pub time: SimTime,
    pub series: Option<u16>,
    pub price: Price,
    pub qty: Qty,
    /// Price x quantity (premium for an option).
    pub notional: Money,
    pub maker: AccountId,
    pub taker: AccountId,
    pub taker_buys: bool,
    /// The taker's order was a liquidation's.
    pub liquidation: bool,
}

/// Another account's position closed against a liquidation: by ADL at the bankruptcy
/// price, at the mark while the fund pays, or an option takeover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForcedCloseRecord {
    pub time: SimTime,
    pub account: AccountId,
    /// `None` for the perpetual; an option series' index otherwise.
    pub series: Option<u16>,
    /// Lots closed.
    pub lots: i64,
    pub notional: Money,
    pub adl: bool,
    /// Index in the liquidation log of the liquidation it served.
    pub liquidation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FundingRecord {
    pub time: SimTime,
    pub rate: f64,
    /// Rounding left to fee income.
    pub residual: Money,
}

/// The insurance fund after it paid or took something (marked with the liquidation
/// engine's inventory).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FundRecord {
    pub time: SimTime,
    pub balance: Money,
}

/// The logs of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLog {
    pub spec: ContractSpec,
    pub trades: Vec<TradeRecord>,
    pub forced_closes: Vec<ForcedCloseRecord>,
    pub funding: Vec<FundingRecord>,
    pub fund: Vec<FundRecord>,
    /// The agent group of each account, by account index (`None`: the backstop or the
    /// liquidation engine); filled when the run ends.
    pub groups: Vec<Option<u32>>,
    liquidations: u64,
}

impl EventLog {
    pub fn new(spec: ContractSpec) -> EventLog {
        EventLog {
            spec,
            trades: Vec::new(),
            forced_closes: Vec::new(),
            funding: Vec::new(),
            fund: Vec::new(),
            groups: Vec::new(),
            liquidations: 0,
        }
    }

    /// The group of `account`, when it belongs to one.
    pub fn group(&self, account: AccountId) -> Option<u32> {
        self.groups.get(account.0 as usize).copied().flatten()
    }

    pub fn on_event(&mut self, now: SimTime, event: &SimEvent) {
        match *event {
            SimEvent::Trade { buyer, seller, price, qty, notional, taker_buys, liquidation } => {
                self.trade(
                    now,
                    None,
                    (buyer, seller),
                    price,
                    qty,
                    notional,
                    taker_buys,
                    liquidation,
                )
            }
            SimEvent::OptionTrade { series, buyer, seller, price, qty, premium, taker_buys } => {
                self.trade(
                    now,
                    Some(series),
                    (buyer, seller),
                    price,
                    qty,
                    premium,
                    taker_buys,
                    false,
                )
            }
            SimEvent::Liquidation { .. } => self.liquidations += 1,
            SimEvent::ForcedClose { account, lots, notional, adl } => {
                self.forced(now, account, None, lots, notional, adl)
            }
            SimEvent::OptionTakeover { account, series, lots, notional, adl } => {
                self.forced(now, account, Some(series), lots, notional, adl)
            }
            SimEvent::Funding { rate, residual } => {
                self.funding.push(FundingRecord { time: now, rate, residual })
            }
            // Several events report the fund at one instant; a row per change.
            SimEvent::Fund { balance } if self.fund.last().is_none_or(|f| f.balance != balance) => {
                self.fund.push(FundRecord { time: now, balance })
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn trade(
        &mut self,
        time: SimTime,
        series: Option<u16>,
        (buyer, seller): (AccountId, AccountId),
        price: Price,
        qty: Qty,
        notional: Money,
        taker_buys: bool,
        liquidation: bool,
    ) {
        let (taker, maker) = if taker_buys { (buyer, seller) } else { (seller, buyer) };
        self.trades.push(TradeRecord {
            time,
            series,
            price,
            qty,
            notional,
            maker,
            taker,
            taker_buys,
            liquidation,
        });
    }

    fn forced(
        &mut self,
        time: SimTime,
        account: AccountId,
        series: Option<u16>,
        lots: i64,
        notional: Money,
        adl: bool,
    ) {
        let liquidation = self.liquidations;
        self.forced_closes.push(ForcedCloseRecord {
            time,
            account,
            series,
            lots,
            notional,
            adl,
            liquidation,
        });
    }
}
