//! One side's price levels: a dense window of `WINDOW` ticks indexed by offset from a
//! base price, with a bitmap of the non-empty levels, and a sparse map for levels outside
//! the window.
//!
//! The best price is cached. Finding the next level after the best empties is a scan of
//! the bitmap from the old best (`trailing_zeros` / `leading_zeros` on 64-level words),
//! so neither placing, cancelling nor matching searches a tree while the action stays in
//! the window.
//!
//! Re-centring: whenever the best price would lie outside the window (a new better price
//! far away, or the last level near the best emptied), the window moves so that the best
//! sits a quarter of the window from its better edge, leaving three quarters for the
//! levels behind it. Levels that fall out go to the sparse map, those that fall in come
//! back; the cost is proportional to the levels moved, and a market drifting steadily
//! pays it once per quarter window of drift. Far levels behind the window cost a tree
//! operation each, as every level did before the window existed.

use crate::book::Side;
use std::collections::BTreeMap;

/// Ticks in the dense window (a power of two; 32 words of bitmap).
const WINDOW: usize = 2048;
const WORDS: usize = WINDOW / 64;

pub(crate) const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub(crate) qty: i64,
    pub(crate) orders: u32,
}

impl Level {
    const EMPTY: Level = Level { head: NIL, tail: NIL, qty: 0, orders: 0 };
}

#[derive(Debug, Clone)]
pub(crate) struct Ladder {
    side: Side,
    /// Price of window slot 0. Kept within `i64::MIN / 2 ..= i64::MAX / 2` so that offsets
    /// computed with wrapping arithmetic never alias a far price into the window.
    base: i64,
    /// Allocated on the first level placed, so an idle book costs no window.
    window: Vec<Level>,
    occupied: [u64; WORDS],
    far: BTreeMap<i64, Level>,
    /// Far levels better than every window price (there are none unless the window
    /// is being left behind); when zero the better side of `far` needs no lookup.
    far_better: usize,
    best: Option<i64>,
}

impl Ladder {
    pub(crate) fn new(side: Side) -> Ladder {
        Ladder {
            side,
            base: 0,
            window: Vec::new(),
            occupied: [0; WORDS],
            far: BTreeMap::new(),
            far_better: 0,
            best: None,
        }
    }

    pub(crate) fn best(&self) -> Option<i64> {
        self.best
    }

    /// `a` is a better price than `b` for this side (higher bid, lower ask).
    fn better(&self, a: i64, b: i64) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    fn slot(&self, price: i64) -> Option<usize> {
        // Wrapping is index arithmetic, not money: with `base` clamped to half the range,
        // the offset is below WINDOW exactly when the price is in the window.
        let offset = price.wrapping_sub(self.base) as u64;
        (offset < WINDOW as u64 && !self.window.is_empty()).then_some(offset as usize)
    }

    fn is_set(&self, i: usize) -> bool {
        self.occupied[i / 64] & (1u64 << (i % 64)) != 0
    }

    /// Far prices on the better side of the window.
    fn far_is_better(&self, price: i64) -> bool {
        match self.side {
            Side::Buy => price >= self.base.saturating_add(WINDOW as i64),
            Side::Sell => price < self.base,
        }
    }

    pub(crate) fn get(&self, price: i64) -> Option<&Level> {
        match self.slot(price) {
            Some(i) => self.is_set(i).then(|| &self.window[i]),
            None => self.far.get(&price),
        }
    }

    pub(crate) fn get_mut(&mut self, price: i64) -> Option<&mut Level> {
        match self.slot(price) {
            Some(i) => self.is_set(i).then(|| &mut self.window[i]),
            None => self.far.get_mut(&price),
        }
    }

    /// The level at `price`, opened empty if there is none.
    pub(crate) fn entry(&mut self, price: i64) -> &mut Level {
        if self.window.is_empty() {
            self.window = vec![Level::EMPTY; WINDOW];
            self.recentre(price);
        }
        let improves = self.best.is_none_or(|b| self.better(price, b));
        if improves {
            self.best = Some(price);
            if self.slot(price).is_none() {
                self.recentre(price);
            }
        }
        match self.slot(price) {
            Some(i) => {
                if !self.is_set(i) {
                    self.occupied[i / 64] |= 1u64 << (i % 64);
                    self.window[i] = Level::EMPTY;
                }
                &mut self.window[i]
            }
            None => {
                if !self.far.contains_key(&price) && self.far_is_better(price) {
                    self.far_better += 1;
                }
                self.far.entry(price).or_insert(Level::EMPTY)
            }
        }
    }

    /// Drops the (emptied) level at `price`.
    pub(crate) fn remove(&mut self, price: i64) {
        match self.slot(price) {
            Some(i) => self.occupied[i / 64] &= !(1u64 << (i % 64)),
            None => {
                if self.far.remove(&price).is_some() && self.far_is_better(price) {
                    self.far_better -= 1;
                }
            }
        }
        if self.best == Some(price) {
            self.best = self.next_after(price);
            if let Some(best) = self.best
                && self.slot(best).is_none()
            {
                self.recentre(best);
            }
        }
    }

    /// The best level once `old` (the best until now, already removed) is gone.
    fn next_after(&self, old: i64) -> Option<i64> {
        if self.far_better > 0 {
            let better_far = match self.side {
                Side::Buy => self.far.range(self.base.saturating_add(WINDOW as i64)..).next_back(),
                Side::Sell => self.far.range(..self.base).next(),
            };
            if let Some((&p, _)) = better_far {
                return Some(p);
            }
        }
        let from = self.slot(old).unwrap_or(match self.side {
            Side::Buy => WINDOW - 1,
            Side::Sell => 0,
        });
        let in_window = match self.side {
            Side::Buy => self.set_at_or_below(from),
            Side::Sell => self.set_at_or_above(from),
        };
        if let Some(i) = in_window {
            return Some(self.base + i as i64);
        }
        let worse_far = match self.side {
            Side::Buy => self.far.range(..self.base).next_back(),
            Side::Sell => self.far.range(self.base.saturating_add(WINDOW as i64)..).next(),
        };
        worse_far.map(|(&p, _)| p)
    }

    fn set_at_or_above(&self, from: usize) -> Option<usize> {
        if self.window.is_empty() {
            return None;
        }
        let mut w = from / 64;
        let mut bits = self.occupied[w] & (u64::MAX << (from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            if w == WORDS {
                return None;
            }
            bits = self.occupied[w];
        }
    }

    fn set_at_or_below(&self, from: usize) -> Option<usize> {
        if self.window.is_empty() {
            return None;
        }
        let mut w = from / 64;
        let mut bits = self.occupied[w] & (u64::MAX >> (63 - from % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + 63 - bits.leading_zeros() as usize);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            bits = self.occupied[w];
        }
    }

    /// Moves the window so that `best` sits a quarter window from its better edge.
    fn recentre(&mut self, best: i64) {
        for w in 0..WORDS {
            let mut bits = std::mem::take(&mut self.occupied[w]);
            while bits != 0 {
                let i = w * 64 + bits.trailing_zeros() as usize;
                self.far.insert(self.base + i as i64, self.window[i]);
                bits &= bits - 1;
            }
        }
        let behind = match self.side {
            Side::Buy => (WINDOW - WINDOW / 4) as i64,
            Side::Sell => (WINDOW / 4) as i64,
        };
        self.base = best.saturating_sub(behind).clamp(i64::MIN / 2, i64::MAX / 2);
        let end = self.base + WINDOW as i64;
        let mut inside = self.far.split_off(&self.base);
        let mut above = inside.split_off(&end);
        self.far.append(&mut above);
        for (p, level) in inside {
            let i = (p - self.base) as usize;
            self.occupied[i / 64] |= 1u64 << (i % 64);
            self.window[i] = level;
        }
        self.far_better = match self.side {
            Side::Buy => self.far.range(end..).count(),
            Side::Sell => self.far.range(..self.base).count(),
        };
    }

    /// Visits levels from the best outwards until `visit` returns true; returns whether
    /// it did.
    pub(crate) fn walk(&self, mut visit: impl FnMut(i64, &Level) -> bool) -> bool {
        let end = self.base.saturating_add(WINDOW as i64);
        match self.side {
            Side::Sell => {
                if self.far_better > 0 && self.far.range(..self.base).any(|(&p, l)| visit(p, l)) {
                    return true;
                }
                for w in 0..WORDS {
                    let mut bits = self.occupied[w];
                    while bits != 0 {
                        let i = w * 64 + bits.trailing_zeros() as usize;
                        if visit(self.base + i as i64, &self.window[i]) {
                            return true;
                        }
                        bits &= bits - 1;
                    }
                }
                self.far.range(end..).any(|(&p, l)| visit(p, l))
            }
            Side::Buy => {
                if self.far_better > 0 && self.far.range(end..).rev().any(|(&p, l)| visit(p, l)) {
                    return true;
                }
                for w in (0..WORDS).rev() {
                    let mut bits = self.occupied[w];
                    while bits != 0 {
                        let top = 63 - bits.leading_zeros() as usize;
                        let i = w * 64 + top;
                        if visit(self.base + i as i64, &self.window[i]) {
                            return true;
                        }
                        bits &= !(1u64 << top);
                    }
                }
                self.far.range(..self.base).rev().any(|(&p, l)| visit(p, l))
            }
        }
    }

    /// The ladder's own invariants: the cached best is the best level, no far level lies
    /// in the window, the better-far count is right.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mut first = None;
        self.walk(|p, _| {
            first = Some(p);
            true
        });
        if first != self.best {
            return Err(format!("cached best {:?}, levels start at {first:?}", self.best));
        }
        if let Some(p) = self.far.keys().find(|p| self.slot(**p).is_some()) {
            return Err(format!("far level {p} lies in the window"));
        }
        let better = self.far.keys().filter(|p| self.far_is_better(**p)).count();
        if better != self.far_better {
            return Err(format!(
                "{better} far levels better than the window, {} counted",
                self.far_better
            ));
        }
        Ok(())
    }
}
