//! liqsim-exchange: the exchange whose solvency liqsim stresses.
//!
//! - [`exchange`]: the cash-model exchange the kernel (liqsim-sim) drives: one perpetual
//!   and option series, fills move full notional, triggers from bankruptcy prices.
//! - [`journal`]: the one ledger: every money movement a transfer between named accounts
//!   with a reason, exact conservation, and a digest over the sequence of transfers.
//! - [`venue`]: multi-instrument cross-margin accounts (perpetuals and European options)
//!   on a cost basis with realized P&L, fees, funding, option settlement, a pluggable
//!   [`venue::MarginModel`], liquidation orders bounded at the bankruptcy price and the
//!   whole loss waterfall (backstop, fund, ADL, socialized loss, claim), solvency figures
//!   and an invariant checker. It is built to replace [`exchange`] in the kernel.
//! - [`trigger`]: accounts ordered by liquidation trigger, so a tick visits only the
//!   accounts it crosses.
//! - [`prices`]: the index (fundamental moved by a decaying impact of net perpetual
//!   flow), mark price rules and the funding rate.

pub mod exchange;
pub mod journal;
pub mod liquidation;
pub mod prices;
pub mod trigger;
pub mod venue;

pub use exchange::*;
pub use journal::{Book, Journal, Reason};
pub use liquidation::{Host, Liquidated, LiquidationRules, Liquidator};
pub use prices::{FundingConfig, FundingSchedule, IndexPrice, MarkPrice, MarkRule};
