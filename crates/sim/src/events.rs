//! The kernel's typed event stream: every fill, liquidation, forced close, transfer and
//! settlement the kernel makes is one [`SimEvent`], emitted once to the [`Observers`]:
//! the digest (each kind of record is a variant, hashed with its own tag) and the
//! recorder (metrics, the liquidation log and its cascade depths), and the event logs
//! when asked for. The kernel never
//! writes to either directly, so what is measured and what is hashed are the same
//! sequence.

use crate::digest::Digest;
use crate::eventlog::EventLog;
use crate::metrics::Recorder;
use crate::outcome::LiquidationRow;
use liqsim_core::{Money, Price, Qty, Result, SimTime};
use liqsim_exchange::AccountId;
use liqsim_models::OptionKind;

#[derive(Debug, Clone, PartialEq)]
pub enum SimEvent {
    /// A fill in the perpetual's book; `liquidation` when the taker's order was a
    /// liquidation's.
    Trade {
        buyer: AccountId,
        seller: AccountId,
        price: Price,
        qty: Qty,
        notional: Money,
        taker_buys: bool,
        liquidation: bool,
    },
    /// A position held from the run's start: part of the opening cross of the groups that
    /// open at start, at the first mark, outside the book (no fee, no volume).
    OpeningCross { buyer: AccountId, seller: AccountId, price: Price, qty: Qty },
    /// A fill in an option series' book.
    OptionTrade {
        series: u16,
        buyer: AccountId,
        seller: AccountId,
        price: Price,
        qty: Qty,
        premium: Money,
        taker_buys: bool,
    },
    /// A liquidation step of an account: `closed` lots of its perpetual (or its option
    /// lots), with the row the log keeps (its cause as the kernel saw it).
    Liquidation { row: LiquidationRow, closed: i64 },
    /// Another account's perpetual position closed against a liquidation: by ADL at the
    /// bankruptcy price, or at the mark while the fund pays.
    ForcedClose { account: AccountId, lots: i64, notional: Money, adl: bool },
    /// A liquidated holder's option lots taken over at the mark by the backstop, or by an
    /// opposing holder (which is ADL).
    OptionTakeover { account: AccountId, series: u16, lots: i64, notional: Money, adl: bool },
    /// A trader's margin top-up (a deposit, or a move from its wallet).
    TopUp { account: AccountId, amount: Money },
    /// A funding payment at `rate`; `residual` went to fee income.
    Funding { rate: f64, residual: Money },
    /// An option series cash-settled at `intrinsic` per unit, `settled` paid in all.
    Expiry { series: u16, intrinsic: Price, settled: Money },
    /// The insurance fund's balance after it paid or took something.
    Fund { balance: Money },
    /// The backstop took a liquidated position at the bankruptcy price.
    Backstop { notional: Money },
    /// The exchange's liquidation engine took a liquidated position at the bankruptcy
    /// price.
    EngineTook { notional: Money },
    /// Loss shared over accounts in profit.
    Socialized { amount: Money },
    /// Loss nobody paid: neither fund, ADL nor socialization.
    Unpaid { amount: Money },
    /// Negative equity of a position still open at the end of the run: bad debt no
    /// liquidation has realized yet, and unpaid.
    OpenDeficit { amount: Money },
    /// The fund could not pay a loss: the waterfall went on to ADL.
    FundInsufficient,
    /// The perpetual's open interest after a price step: base units, and notional at the
    /// mark.
    OpenInterest { units: f64, notional: Money },
    /// An option series at a metrics sample: long open interest in base units and its
    /// mark, with what the series is.
    OptionSeries {
        series: u16,
        kind: OptionKind,
        strike: f64,
        expiry: SimTime,
        open_interest: f64,
        mark: f64,
    },
    /// A liquidation of a run with collateral, after its `Liquidation`: whether a
    /// collateral price move found it, the quote its collateral was converted to, and the
    /// bad debt it left.
    Collateral { account: AccountId, by_collateral: bool, converted: Money, bad_debt: Money },
    /// A collateral asset's venue price at a metrics sample (the path is the scenario's;
    /// the liquidations it caused are hashed by `Collateral`).
    CollateralPrice { asset: u16, price: Money },
}

impl Digest {
    /// Hashes one event: every variant that the run's identity depends on has its tag.
    pub fn event(&mut self, event: &SimEvent) {
        match *event {
            SimEvent::Trade { buyer, seller, price, qty, .. } => {
                self.tag(1);
                self.u64(u64::from(buyer.0));
                self.u64(u64::from(seller.0));
                self.i64(price.ticks());
                self.i64(qty.lots());
            }
            SimEvent::Liquidation { ref row, closed } => {
                self.tag(2);
                self.u64(u64::from(row.account));
                self.i64(closed);
                self.i64(row.notional.micros());
                self.i64(row.bad_debt.micros());
                self.u64(row.caused_by.map_or(u64::MAX, u64::from));
            }
            SimEvent::ForcedClose { account, lots, adl, .. } => {
                self.tag(if adl { 3 } else { 9 });
                self.u64(u64::from(account.0));
                self.i64(lots);
            }
            SimEvent::TopUp { account, amount } => {
                self.tag(4);
                self.u64(u64::from(account.0));
                self.i64(amount.micros());
            }
            SimEvent::Funding { rate, residual } => {
                self.tag(5);
                self.i64((rate * 1e12).round() as i64);
                self.i64(residual.micros());
            }
            SimEvent::OptionTrade { series, buyer, seller, price, qty, .. } => {
                self.tag(6);
                self.u64(u64::from(series));
                self.u64(u64::from(buyer.0));
                self.u64(u64::from(seller.0));
                self.i64(price.ticks());
                self.i64(qty.lots());
            }
            SimEvent::Expiry { series, intrinsic, .. } => {
                self.tag(7);
                self.u64(u64::from(series));
                self.i64(intrinsic.ticks());
            }
            SimEvent::OptionTakeover { account, lots, .. } => {
                self.tag(8);
                self.u64(u64::from(account.0));
                self.i64(lots);
            }
            SimEvent::OpeningCross { buyer, seller, price, qty } => {
                self.tag(10);
                self.u64(u64::from(buyer.0));
                self.u64(u64::from(seller.0));
                self.i64(price.ticks());
                self.i64(qty.lots());
            }
            SimEvent::Collateral { account, by_collateral, .. } => {
                self.tag(11);
                self.u64(u64::from(account.0));
                self.u64(u64::from(by_collateral));
            }
            // Money movements are in the journal's own hash; these only inform metrics.
            SimEvent::Fund { .. }
            | SimEvent::Backstop { .. }
            | SimEvent::EngineTook { .. }
            | SimEvent::Socialized { .. }
            | SimEvent::Unpaid { .. }
            | SimEvent::OpenDeficit { .. }
            | SimEvent::FundInsufficient
            | SimEvent::OpenInterest { .. }
            | SimEvent::OptionSeries { .. }
            | SimEvent::CollateralPrice { .. } => {}
        }
    }
}

/// Who hears of every event; the event logs only when a run asks for them.
#[derive(Debug)]
pub struct Observers {
    pub digest: Digest,
    pub recorder: Recorder,
    pub log: Option<Box<EventLog>>,
}

impl Observers {
    pub fn emit(&mut self, now: SimTime, event: SimEvent) -> Result<()> {
        self.digest.event(&event);
        if let Some(log) = &mut self.log {
            log.on_event(now, &event);
        }
        self.recorder.on_event(now, event)
    }
}
