//! liqsim-exchange: the exchange whose solvency liqsim stresses.
//!
//! - [`ledger`]: every money movement is a transfer between named accounts; the sum is
//!   conserved exactly.
//! - [`exchange`]: cross-margin accounts holding one perpetual, fills, fees, funding,
//!   equity and requirements at a mark, bankruptcy prices, the liquidation-trigger index,
//!   and the settlement steps of the loss waterfall (fund, ADL, socialized loss).
//! - [`prices`]: the index (fundamental moved by a decaying impact of net perpetual
//!   flow), mark price rules and the funding rate.
//!
//! Cash model: a fill moves the full notional between buyer and seller (a long's cash
//! goes negative by what it paid), so every fill is a plain transfer and conservation
//! needs no clearing account. An account's equity is cash + position x mark; its
//! bankruptcy price is where that is zero.

pub mod exchange;
pub mod ledger;
pub mod prices;

pub use exchange::*;
pub use ledger::{Ledger, SystemAccount};
pub use prices::{FundingConfig, IndexPrice, MarkPrice, MarkRule};
