//! Running sums over the accounts in the trigger index, so that the margin totals of the
//! time series cost a walk over distinct position sizes plus the accounts near
//! maintenance, not a pass over every account.
//!
//! A requirement rounds each account's notional x rate up to the micro-unit, so a sum of
//! requirements is not a rate times a sum of sizes: sizes are kept as a count per side and
//! distinct size, and a sample charges each size once, exactly as each account holding it
//! would be charged. Equity is linear in the mark (cash + q x mark x tick-lot value), so
//! its sum over the index is kept as a sum of cash and a sum of signed lots; only the
//! accounts below zero, which the clamped total leaves out, need visiting, and they are
//! all near the trigger index's liquidation range.
//!
//! Sizes up to [`DENSE`] lots (nearly every position) are counted in an array with a
//! bitmap of non-empty sizes, so an update is two array writes and a walk skips 64 empty
//! sizes a word; larger sizes go to a `BTreeMap`.

use liqsim_core::{Error, Money, Result};
use std::collections::BTreeMap;

/// Sizes (lots) counted in the dense array.
const DENSE: usize = 1 << 14;

/// How many accounts of one side hold each position size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SizeCounts {
    dense: Vec<u32>,
    nonzero: Vec<u64>,
    far: BTreeMap<i64, u32>,
}

impl Default for SizeCounts {
    fn default() -> SizeCounts {
        SizeCounts { dense: vec![0; DENSE], nonzero: vec![0; DENSE / 64], far: BTreeMap::new() }
    }
}

impl SizeCounts {
    fn add(&mut self, size: i64) {
        match usize::try_from(size) {
            Ok(s) if s < DENSE => {
                self.dense[s] += 1;
                self.nonzero[s / 64] |= 1 << (s % 64);
            }
            _ => *self.far.entry(size).or_insert(0) += 1,
        }
    }

    fn remove(&mut self, size: i64) {
        match usize::try_from(size) {
            Ok(s) if s < DENSE => {
                self.dense[s] -= 1;
                if self.dense[s] == 0 {
                    self.nonzero[s / 64] &= !(1 << (s % 64));
                }
            }
            _ => {
                if let Some(n) = self.far.get_mut(&size) {
                    *n -= 1;
                    if *n == 0 {
                        self.far.remove(&size);
                    }
                }
            }
        }
    }

    /// (size, accounts) for every size held, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, u32)> + '_ {
        let dense = self.nonzero.iter().enumerate().flat_map(move |(w, &bits)| {
            let mut bits = bits;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let s = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                Some((s as i64, self.dense[s]))
            })
        });
        dense.chain(self.far.iter().map(|(&s, &n)| (s, n)))
    }
}

/// Sums over the accounts in the trigger index (a perpetual position and no option).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IndexTotals {
    /// Position sizes of longs ([0]) and shorts ([1]).
    pub sizes: [SizeCounts; 2],
    /// Sum of cash, in micro-units.
    pub cash: i128,
    /// Sum of signed positions, in lots.
    pub lots: i128,
}

impl IndexTotals {
    pub(crate) fn add(&mut self, cash: Money, q: i64) {
        self.sizes[usize::from(q < 0)].add(q.unsigned_abs() as i64);
        self.cash += i128::from(cash.micros());
        self.lots += i128::from(q);
    }

    pub(crate) fn remove(&mut self, cash: Money, q: i64) {
        self.sizes[usize::from(q < 0)].remove(q.unsigned_abs() as i64);
        self.cash -= i128::from(cash.micros());
        self.lots -= i128::from(q);
    }

    /// Sum of cash + q x `mark_ticks` x `tick_lot_value` over the index, in micro-units.
    pub(crate) fn equity(&self, mark_ticks: i64, tick_lot_value: Money) -> Result<i128> {
        let per_lot = i128::from(mark_ticks) * i128::from(tick_lot_value.micros());
        self.lots
            .checked_mul(per_lot)
            .and_then(|v| v.checked_add(self.cash))
            .ok_or(Error::overflow("equity over the trigger index"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_walk_every_size_held_in_order_across_the_dense_and_far_parts() {
        let mut c = SizeCounts::default();
        for s in [3, 3, 64, 0, DENSE as i64 - 1, DENSE as i64, 1 << 40, 3] {
            c.add(s);
        }
        c.remove(64);
        c.remove(1 << 40);
        let walked: Vec<(i64, u32)> = c.iter().collect();
        assert_eq!(walked, vec![(0, 1), (3, 3), (DENSE as i64 - 1, 1), (DENSE as i64, 1)]);
        for (s, n) in walked {
            for _ in 0..n {
                c.remove(s);
            }
        }
        assert_eq!(c, SizeCounts::default());
    }

    #[test]
    fn equity_is_cash_plus_lots_at_the_mark() {
        let mut t = IndexTotals::default();
        t.add(Money::from_micros(1_000), 5);
        t.add(Money::from_micros(-200), -2);
        // 800 + 3 lots x 10 ticks x 7 micro-units.
        assert_eq!(t.equity(10, Money::from_micros(7)).unwrap(), 800 + 210);
        t.remove(Money::from_micros(1_000), 5);
        assert_eq!(t.equity(10, Money::from_micros(7)).unwrap(), -200 - 140);
    }
}
