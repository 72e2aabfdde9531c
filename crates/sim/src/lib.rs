//! liqsim-sim: the event kernel and what it measures.
//!
//! - [`digest`]: the run digest, a hash over the canonical sequence of fills,
//!   liquidations and ledger changes; same scenario + seed + version = same digest.
//! - [`metrics`]: recording events and samples during a run and assembling the outcome.
//! - [`outcome`]: what a run reports: summary figures, time series, liquidation log.
//! - [`cascade`]: cascade analysis from the recorded cause of each liquidation: depth in
//!   the causal chain, amplification, waves, cascade sizes.

pub mod cascade;
pub mod digest;
pub mod metrics;
pub mod outcome;

pub use cascade::{CascadeConfig, CascadeReport, Cause, LiquidationRecord, Side};
pub use digest::Digest;
pub use outcome::*;
