//! liqsim-sweep: many runs of one scenario.
//!
//! - [`plan`]: a parameter grid (`--grid key=v1,v2`) times a list of seeds, expanded into
//!   numbered runs in one fixed order, and the deterministic slice of them a shard runs.
//! - [`execute`]: runs in parallel on a rayon pool of a chosen size, results collected in
//!   run order, so nothing downstream depends on the thread count.
//! - [`stats`]: statistics across seeds: mean with a t confidence interval, quantiles,
//!   paired differences between policies on common random numbers.
//!
//! This crate neither reads nor writes files: the command line owns the output layout.

pub mod execute;
pub mod plan;
pub mod stats;

pub use execute::execute;
pub use plan::{GridAxis, RunSpec, Shard, expand};
pub use stats::{Summary, frontier, frontier_paired, summarize};
