//! liqsim-book: the central limit order book of one instrument.
//!
//! Layout. Orders live in a slab (`Vec` of slots with a free list), so placing and
//! cancelling in steady state allocate nothing. Each price level is an intrusive FIFO:
//! the level keeps head and tail slot indices and every order its neighbours, so a cancel
//! unlinks in O(1). Each side's levels sit in a dense window of ticks around its best
//! price, indexed by offset, with a bitmap of the non-empty ones and the best price
//! cached; levels outside the window go to a sparse map (`ladder.rs`). Placing, cancelling
//! and matching near the best therefore index instead of search, and the next level after
//! an emptied best is a bit scan. Each
//! owner's orders form a second intrusive list, so `cancel_all(owner)` touches only that
//! owner's orders.
//!
//! Ordering invariant: price-time priority. Better prices match first; at one price the
//! order that has rested longest matches first. An order keeps its place when its size is
//! reduced (`replace` with a smaller size at the same price) and loses it when its price
//! changes or its size grows (it is re-queued at the back).
//!
//! Matching never crosses the book: after every command the best bid is below the best
//! ask. A taker stops at its limit price, at its protection bound (market and
//! liquidation orders: the worst price it accepts) and at its maximum fill quantity
//! (reduce-only); whatever is left is returned to the caller, never filled beyond.
//!
//! Self-trade prevention compares owners: when a taker would match its own resting
//! order, the configured [`StpMode`] cancels the taker's rest, the maker, or both.
//!
//! Known limitations: one tick grid per book; no hidden or iceberg orders; order ids are
//! assigned by the book (slot and generation), never reused while the book lives.

mod book;
mod ladder;

pub use book::*;
