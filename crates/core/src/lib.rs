//! liqsim-core: the vocabulary every other liqsim crate speaks.
//!
//! - [`units`]: exact ledger quantities. `Price` in ticks, `Qty` in lots, `Money` in
//!   micro-units of the quote currency; arithmetic is checked and an overflow is an
//!   [`Error::Overflow`], never a wrap.
//! - [`time`]: simulated time in nanoseconds and durations parsed from text.
//! - [`queue`]: the deterministic event queue, totally ordered by (time, phase, seq).
//! - [`rng`]: named random streams derived from (seed, stream id).
//! - [`error`]: the one error type, carrying file/line/column/key-path context.
//!
//! Nothing here reads a clock, touches a file or spawns a thread.

pub mod error;
pub mod queue;
pub mod rng;
pub mod time;
pub mod units;

pub use error::{Error, InputError, Result};
pub use queue::{EventKey, EventQueue};
pub use rng::{RngStream, StreamId};
pub use time::{SimDuration, SimTime};
pub use units::{ContractSpec, Money, Price, Qty, rate_e12};
