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
//! A radix heap on the time (in grains of 2^16 ns): an event lands in the bucket numbered
//! by the highest bit in which its time differs from the last time popped, so each event is moved at most 64
//! times over its life instead of being sifted through a binary heap of every pending
//! event on each pop (with a million agents waiting to wake, that heap's cache misses were
//! a fifth of a run). Events at or before the last grain popped wait in a small binary heap
//! ordered by the full key; every other bucket holds only later times, so that heap's
//! least key is the least of all. Buckets are lists threaded through one slab with a free
//! list, so a steady-state run does not allocate.

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

/// Bucket i holds coarse times whose highest bit differing from the last popped is bit i.
const BUCKETS: usize = 64;
/// The end of a bucket's list.
const NIL: u32 = u32::MAX;
/// Times are bucketed by 2^16 ns (about 66 us): events closer than that to the last one
/// popped are ordered by the binary heap, which stays small, and an event scheduled
/// minutes ahead is relinked at most about 20 times on its way down instead of 36.
const GRAIN_BITS: u32 = 16;

/// A min-queue of events by (time, phase, seq).
#[derive(Debug)]
pub struct EventQueue<T> {
    /// Events whose coarse time is at or before `last_coarse`, by full key.
    due: BinaryHeap<Reverse<Entry<T>>>,
    /// Later events stay in one slab and move between buckets by relinking, so memory is
    /// one slot per pending event whatever the buckets held before. A bucket walk reads
    /// only the dense `coarse` and `next` columns.
    entries: Vec<Option<Entry<T>>>,
    coarse: Vec<u64>,
    next: Vec<u32>,
    free: u32,
    heads: [u32; BUCKETS],
    /// Least coarse time in each bucket, so taking one apart is a single walk.
    least: [u64; BUCKETS],
    last_coarse: u64,
    len: usize,
    next_seq: u64,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue {
            due: BinaryHeap::with_capacity(capacity.min(1024)),
            entries: Vec::with_capacity(capacity),
            coarse: Vec::with_capacity(capacity),
            next: Vec::with_capacity(capacity),
            free: NIL,
            heads: [NIL; BUCKETS],
            least: [u64::MAX; BUCKETS],
            last_coarse: 0,
            len: 0,
            next_seq: 0,
        }
    }

    /// Schedules `event` and returns its key.
    pub fn push(&mut self, time: SimTime, phase: u8, event: T) -> EventKey {
        let key = EventKey { time, phase, seq: self.next_seq };
        self.next_seq += 1;
        self.len += 1;
        let entry = Entry { key, event };
        let coarse = time.nanos() >> GRAIN_BITS;
        match self.bucket(coarse) {
            None => self.due.push(Reverse(entry)),
            Some(b) => {
                let slot = if self.free == NIL {
                    self.entries.push(Some(entry));
                    self.coarse.push(coarse);
                    self.next.push(NIL);
                    // A slot number is a u32: past four billion pending events (far beyond
                    // what ten million accounts schedule) the vectors would not fit anyway.
                    (self.entries.len() - 1) as u32
                } else {
                    let slot = self.free;
                    self.free = self.next[slot as usize];
                    self.entries[slot as usize] = Some(entry);
                    self.coarse[slot as usize] = coarse;
                    slot
                };
                self.link(slot, b, coarse);
            }
        }
        key
    }

    /// The bucket of a coarse time after the last one popped; none at or before it.
    fn bucket(&self, coarse: u64) -> Option<usize> {
        (coarse > self.last_coarse)
            .then(|| (u64::BITS - 1 - (coarse ^ self.last_coarse).leading_zeros()) as usize)
    }

    fn link(&mut self, slot: u32, bucket: usize, coarse: u64) {
        self.next[slot as usize] = self.heads[bucket];
        self.heads[bucket] = slot;
        self.least[bucket] = self.least[bucket].min(coarse);
    }

    /// Once `due` is empty, takes the lowest non-empty bucket apart: its least coarse
    /// time becomes the last one popped, which sends its events at that time to `due`
    /// and relinks every other one into a lower bucket.
    fn refill(&mut self) {
        if !self.due.is_empty() {
            return;
        }
        let Some(b) = self.heads.iter().position(|&h| h != NIL) else { return };
        self.last_coarse = self.least[b];
        self.least[b] = u64::MAX;
        let mut at = std::mem::replace(&mut self.heads[b], NIL);
        while at != NIL {
            let i = at as usize;
            let next = self.next[i];
            let coarse = self.coarse[i];
            match self.bucket(coarse) {
                Some(lower) => self.link(at, lower, coarse),
                None => {
                    if let Some(entry) = self.entries[i].take() {
                        self.due.push(Reverse(entry));
                    }
                    self.next[i] = self.free;
                    self.free = at;
                }
            }
            at = next;
        }
    }

    pub fn pop(&mut self) -> Option<(EventKey, T)> {
        self.refill();
        let Reverse(entry) = self.due.pop()?;
        self.len -= 1;
        Some((entry.key, entry.event))
    }

    pub fn peek_key(&self) -> Option<EventKey> {
        if let Some(Reverse(entry)) = self.due.peek() {
            return Some(entry.key);
        }
        let mut at = *self.heads.iter().find(|&&h| h != NIL)?;
        let mut least: Option<EventKey> = None;
        while at != NIL {
            if let Some(e) = &self.entries[at as usize] {
                least = Some(least.map_or(e.key, |l| l.min(e.key)));
            }
            at = self.next[at as usize];
        }
        least
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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

        /// Pushes interleaved with pops, at times before, at and after the last one popped
        /// and far apart (so events cross many buckets), pop exactly as a sorted model.
        #[test]
        fn interleaved_pushes_and_pops_follow_the_key_order(
            ops in prop::collection::vec((0u64..4, 0u8..3, 0u32..3), 0..600),
        ) {
            let mut q = EventQueue::new();
            let mut model: std::collections::BTreeSet<(u64, u8, u64)> = Default::default();
            let mut now = 0u64;
            for (i, &(scale, phase, pops)) in ops.iter().enumerate() {
                // Spread the offsets over very different magnitudes, some behind `now`.
                let offset = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (60 - 12 * scale);
                let t = if i % 7 == 0 { now.saturating_sub(offset % 3) } else { now + offset };
                let key = q.push(SimTime::from_nanos(t), phase, i);
                model.insert((t, phase, key.seq));
                for _ in 0..pops {
                    let got = q.pop().map(|(k, _)| (k.time.nanos(), k.phase, k.seq));
                    prop_assert_eq!(got, model.pop_first());
                    if let Some((t, _, _)) = got {
                        now = t;
                    }
                    prop_assert_eq!(q.len(), model.len());
                }
            }
            while let Some(expected) = model.pop_first() {
                prop_assert_eq!(q.peek_key().map(|k| (k.time.nanos(), k.phase, k.seq)), Some(expected));
                let got = q.pop().map(|(k, _)| (k.time.nanos(), k.phase, k.seq));
                prop_assert_eq!(got, Some(expected));
            }
            prop_assert!(q.pop().is_none());
        }
    }
}
