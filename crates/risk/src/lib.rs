//! liqsim-risk: how much can a position lose, and so how much margin does it need.
//!
//! - [`measures`]: value at risk and expected shortfall of a sample of losses, and their
//!   closed forms for the normal and Student-t distributions.
//! - [`scenarios`]: sets of horizon returns: historical and filtered historical (EWMA
//!   volatility rescaling) from a price history.
//! - [`linear`]: margin rates of a linear (perpetual) position from a return set: the
//!   loss of a position is its notional times the return, so one pass gives the rate for
//!   every account, long or short.
//!
//! Sign and quantile convention, everywhere: losses are positive (loss = -P&L); VaR at
//! level alpha is the alpha-quantile of the loss, the smallest l with P(L <= l) >= alpha
//! (on a sample: the ceil(n alpha)-th smallest loss); ES at level alpha is the mean loss
//! in the worst 1 - alpha of the distribution.

pub mod backtest;
pub mod hotpath;
pub mod linear;
pub mod measures;
pub mod policy;
pub mod portfolio;
pub mod scenarios;

pub use measures::{es, var};
