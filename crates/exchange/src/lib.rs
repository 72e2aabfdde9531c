//! liqsim-exchange: the exchange whose solvency liqsim stresses.
//!
//! - [`exchange`]: accounts (cross margin, or isolated under an owner) on the cash model
//!   the kernel (liqsim-sim) drives: one perpetual and option series, fills moving full
//!   notional with maker and taker fees, funding, option expiry, margin schedules,
//!   exchange-level order checks, bankruptcy prices and the trigger index that keeps a
//!   tick to the accounts it crosses, fund cover, ADL ranking, socialized loss and an
//!   invariant checker.
//! - [`liquidation`]: the liquidation engine and the whole loss waterfall (IOC orders
//!   bounded at the bankruptcy price, backstop, fund, ADL, socialized loss, claim),
//!   driven through a [`Host`] that owns the order books.
//! - [`collateral`]: collateral assets beside the quote currency: a ledger per asset,
//!   tiered haircuts, valuation and conversion at the venue's price.
//! - `totals`: sums over the trigger index (position sizes per side, cash, lots) from
//!   which the time series' margin totals come without visiting every account.
//! - [`journal`]: the one ledger: every money movement a transfer between named accounts
//!   with a reason, exact conservation, and a digest over the sequence of transfers.
//! - [`prices`]: the index (fundamental moved by a decaying impact of net perpetual
//!   flow), mark price rules and the funding rate.

pub mod collateral;
pub mod exchange;
pub mod journal;
pub mod liquidation;
pub mod prices;
mod totals;

pub use collateral::{AssetBook, AssetId, CollateralConfig, HaircutBand, Haircuts};
pub use exchange::*;
pub use journal::{Book, Journal, Reason};
pub use liquidation::{Host, Liquidated, LiquidationRules, Liquidator};
pub use prices::{FundingConfig, FundingSchedule, IndexPrice, MarkPrice, MarkRule};
