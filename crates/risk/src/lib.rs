//! liqsim-risk: how much can a position lose, and so how much margin does it need.
//!
//! - [`measures`]: VaR and ES of a (weighted) sample of losses, and closed forms for the
//!   normal and Student-t (location-scale and unit-variance) distributions.
//! - [`scenarios`]: horizon shocks (log return, relative vol shift, horizon):
//!   historical, filtered historical (EWMA rescaling), Monte Carlo from any generator;
//!   the stressed window and the anti-procyclicality floor and buffer.
//! - [`portfolio`]: perpetual and European option positions on one underlying, the
//!   market view, and full Black-76 revaluation under a shock.
//! - [`model`]: the [`MarginModel`], the one door to every policy: refresh, the linear
//!   schedule of perpetual-only accounts, the requirement of any portfolio over a table
//!   every account shares, and a safe forward range; [`policies`] holds one file per
//!   policy (`fixed`, `var`/`es`, `grid`, `greeks`).
//! - [`schedule`]: the linear rates (flat or notional brackets) the exchange charges
//!   perpetual-only accounts with.
//! - [`hotpath`]: one P&L vector per instrument per refresh shared by all accounts,
//!   per-account VaR/ES by selection, and liquidation triggers between refreshes.
//! - [`backtest`]: Kupiec, Christoffersen and Acerbi-Szekely Z2, and a margin-coverage
//!   backtest over a price history.
//! - [`linear`]: long and short margin rates of a single perpetual from a return set.
//!
//! Sign and quantile convention, everywhere: losses are positive (loss = -P&L); VaR at
//! level alpha is the alpha-quantile of the loss, the smallest l with P(L <= l) >= alpha
//! (on a sample: the ceil(n alpha)-th smallest loss); ES at level alpha is the mean loss
//! in the worst 1 - alpha of the distribution, the boundary observation counted by its
//! fraction (Acerbi-Tasche), so that sample ES is subadditive.
//!
//! Floats stay in here; they cross into money only through `Money::ceil_from_f64`. No
//! I/O, no clock, no threads: the caller splits accounts across threads if it wants.

pub mod backtest;
pub mod hotpath;
pub mod linear;
pub mod measures;
pub mod model;
pub mod policies;
pub mod portfolio;
pub mod scenarios;
pub mod schedule;

pub use measures::{es, var};
pub use model::{Leg, MarginModel, MarketState, Policy, PolicyConfig, Requirements};
pub use policies::fixed::FixedConfig;
pub use policies::greeks::GreeksConfig;
pub use policies::grid::GridConfig;
pub use policies::scenario::{ApcConfig, ScenarioConfig, ScenarioSource};
pub use portfolio::{Instrument, Market, Position, Shock};
pub use schedule::{Bracket, MarginSchedule, Rates};
