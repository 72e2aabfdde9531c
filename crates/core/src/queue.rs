//! The deterministic event queue.
//!
//! Events are totally ordered by [`EventKey`] = (time, phase, seq):
//! - earlier time first;
//! - at equal time, the lower phase first (the phases are the kernel's; liqsim-sim's
//!   `world` module lists them);
//! - at equal time and phase, the event pushed first pops first (FIFO). `seq` is assigned
//!   by the queue from a counter, so two runs that push the same events in the same order
//!   pop them in the same order. Nothing is left to heap internals or hashing.
//!
//! The heap is a `Vec` that keeps its capacity, so a steady-state run does not allocate.

use crate::time::SimTime;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Position of an event in the total order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey {
    pub time: SimTime,
    pub phase: u8,
    pub seq: u64,
}

#[derive(Debug)]
struct Entry<T> {
    key: EventKey,
    event: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Keys are unique (seq is), so this order is total and payloads never decide.
        self.key.cmp(&other.key)
    }
}

/// A min-queue of events by (time, phase, seq).
#[derive(Debug)]
pub struct EventQueue<T> {
    heap: BinaryHeap<Reverse<Entry<T>>>,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        EventQueue { heap: BinaryHeap::new(), next_seq: 0 }
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue { heap: BinaryHeap::with_capacity(capacity), next_seq: 0 }
    }

    /// Schedules `event` and returns its key.
    pub fn push(&mut self, time: SimTime, phase: u8, event: T) -> EventKey {
        let key = EventKey { time, phase, seq: self.next_seq };
        self.next_seq += 1;
        self.heap.push(Reverse(Entry { key, event }));
        key
    }

    pub fn pop(&mut self) -> Option<(EventKey, T)> {
        self.heap.pop().map(|Reverse(entry)| (entry.key, entry.event))
    }

    pub fn peek_key(&self) -> Option<EventKey> {
        self.heap.peek().map(|Reverse(entry)| entry.key)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_break_by_phase_then_push_order() {
        let mut q = EventQueue::new();
        let t = SimTime::from_nanos(10);
        q.push(t, 2, "agent-a");
        q.push(t, 0, "price");
        q.push(SimTime::from_nanos(5), 9, "earlier");
        q.push(t, 2, "agent-b");
        q.push(t, 1, "mark");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, ["earlier", "price", "mark", "agent-a", "agent-b"]);
    }

    proptest! {
        #[test]
        fn pops_in_time_phase_seq_order(events in prop::collection::vec((0u64..50, 0u8..4), 0..500)) {
            let mut q = EventQueue::new();
            for (i, &(t, phase)) in events.iter().enumerate() {
                q.push(SimTime::from_nanos(t), phase, i);
            }
            let mut expected: Vec<(u64, u8, usize)> =
                events.iter().enumerate().map(|(i, &(t, p))| (t, p, i)).collect();
            expected.sort();
            let popped: Vec<(u64, u8, usize)> = std::iter::from_fn(|| q.pop())
                .map(|(k, i)| (k.time.nanos(), k.phase, i))
                .collect();
            prop_assert_eq!(popped, expected);
        }
    }
}
