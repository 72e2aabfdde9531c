//! liqsim-sim: the event kernel and what it measures.
//!
//! - [`world`]: the event kernel, which only sequences phases in (time, phase, seq)
//!   order; each job is a part of its own (market, settlement, options, margin,
//!   population, traders, quoting, liquidations), see its module documentation.
//! - [`events`]: the typed event stream every part reports to, and its observers (the
//!   digest and the recorder).
//! - [`eventlog`]: the event logs a run keeps on request (trades, forced closes,
//!   funding, insurance-fund movements).
//! - [`config`]: the validated values a world is built from.
//! - [`digest`]: the run digest, a hash over the canonical sequence of fills,
//!   liquidations and ledger changes; same scenario + seed + version = same digest.
//! - [`metrics`]: recording events and samples during a run and assembling the outcome.
//! - [`outcome`]: what a run reports: summary figures, time series, liquidation log.
//! - [`cascade`]: cascade analysis from the recorded cause of each liquidation: depth in
//!   the causal chain, amplification, waves, cascade sizes.

pub mod cascade;
mod check;
pub mod config;
pub mod digest;
pub mod eventlog;
pub mod events;
mod liquidations;
mod margin;
mod market;
pub mod metrics;
mod options;
pub mod outcome;
mod population;
mod quoting;
mod traders;
mod venue;
pub mod world;

pub use cascade::{CascadeConfig, CascadeReport, Cause, LiquidationRecord, Side};
pub use config::SimConfig;
pub use digest::Digest;
pub use eventlog::EventLog;
pub use events::SimEvent;
pub use outcome::*;
pub use world::{World, run};
