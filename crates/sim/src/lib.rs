//! liqsim-sim: the event kernel and what it measures.
//!
//! - [`world`]: the event kernel: (time, phase, seq) order, price steps, liquidation
//!   cascades, market makers and traders, funding, risk refreshes, samples.
//! - [`config`]: the validated values a world is built from.
//! - [`digest`]: the run digest, a hash over the canonical sequence of fills,
//!   liquidations and ledger changes; same scenario + seed + version = same digest.
//! - [`metrics`]: recording events and samples during a run and assembling the outcome.
//! - [`outcome`]: what a run reports: summary figures, time series, liquidation log.
//! - [`cascade`]: cascade analysis from the recorded cause of each liquidation: depth in
//!   the causal chain, amplification, waves, cascade sizes.

pub mod cascade;
pub mod config;
pub mod digest;
pub mod metrics;
mod options;
pub mod outcome;
pub mod world;

pub use cascade::{CascadeConfig, CascadeReport, Cause, LiquidationRecord, Side};
pub use config::SimConfig;
pub use digest::Digest;
pub use outcome::*;
pub use world::{World, run};
