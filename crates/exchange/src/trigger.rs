//! Liquidation-trigger index: accounts ordered by the price at which they may fall below
//! maintenance, so a price move visits only the accounts whose trigger it crosses.
//!
//! Two ordered sets keyed by (trigger ticks, account id): `below` for accounts at risk
//! when the price falls to or under their trigger (net long), `above` for accounts at
//! risk when it rises to or over it (net short). An account may sit in both (an option
//! portfolio with a safe bracket on each side). Where the trigger comes from is the
//! margin policy's business (exact for a linear portfolio, a conservative bracket for
//! options); the index only orders.
//!
//! Ordering: [`TriggerIndex::crossed`] returns `below` hits from the highest trigger down,
//! then `above` hits from the lowest up, ties by account id: a fixed order every run.
//! Known limitation: a trigger is only as fresh as its last [`TriggerIndex::set`]; the
//! caller re-keys accounts whose balance or positions change.

use crate::exchange::AccountId;
use liqsim_core::Price;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default)]
pub struct TriggerIndex {
    below: BTreeSet<(i64, u32)>,
    above: BTreeSet<(i64, u32)>,
    keys: Vec<(Option<i64>, Option<i64>)>,
}

impl TriggerIndex {
    pub fn new() -> TriggerIndex {
        TriggerIndex::default()
    }

    /// Sets (replaces) an account's triggers; `None` removes that side.
    pub fn set(&mut self, account: AccountId, below: Option<Price>, above: Option<Price>) {
        let i = account.0 as usize;
        if self.keys.len() <= i {
            self.keys.resize(i + 1, (None, None));
        }
        let (old_below, old_above) = self.keys[i];
        if let Some(k) = old_below {
            self.below.remove(&(k, account.0));
        }
        if let Some(k) = old_above {
            self.above.remove(&(k, account.0));
        }
        let new = (below.map(Price::ticks), above.map(Price::ticks));
        if let Some(k) = new.0 {
            self.below.insert((k, account.0));
        }
        if let Some(k) = new.1 {
            self.above.insert((k, account.0));
        }
        self.keys[i] = new;
    }

    pub fn remove(&mut self, account: AccountId) {
        self.set(account, None, None);
    }

    pub fn len(&self) -> usize {
        self.below.len() + self.above.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Accounts whose trigger `price` crosses, into `out` (cleared first). Returns the
    /// number of index entries visited, which is exactly the number returned: the ranges
    /// start at the crossing point, so safe accounts are never touched.
    pub fn crossed(&self, price: Price, out: &mut Vec<AccountId>) -> usize {
        out.clear();
        let p = price.ticks();
        out.extend(self.below.range((p, 0)..).rev().map(|&(_, a)| AccountId(a)));
        out.extend(self.above.range(..=(p, u32::MAX)).map(|&(_, a)| AccountId(a)));
        out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work of a tick is the number of crossed accounts, whatever the number of
    /// safe ones: 10 accounts at risk among 10, 1,000 and 100,000.
    #[test]
    fn work_per_tick_does_not_grow_with_safe_accounts() {
        for safe in [10u32, 1_000, 100_000] {
            let mut index = TriggerIndex::new();
            // At-risk longs trigger at 95..=104, safe longs far below (50), safe shorts
            // far above (200).
            for i in 0..10u32 {
                index.set(AccountId(i), Some(Price::from_ticks(95 + i64::from(i))), None);
            }
            for i in 0..safe {
                let a = AccountId(10 + i);
                if i % 2 == 0 {
                    index.set(a, Some(Price::from_ticks(50)), None);
                } else {
                    index.set(a, None, Some(Price::from_ticks(200)));
                }
            }
            let mut out = Vec::new();
            // A fall to 100 crosses the triggers 100..=104: five accounts, highest first.
            let visited = index.crossed(Price::from_ticks(100), &mut out);
            assert_eq!(visited, 5);
            assert_eq!(
                out,
                vec![AccountId(9), AccountId(8), AccountId(7), AccountId(6), AccountId(5)]
            );
            assert_eq!(index.len(), 10 + safe as usize);
        }
    }

    #[test]
    fn rekeying_replaces_and_both_sides_work() {
        let mut index = TriggerIndex::new();
        let a = AccountId(3);
        index.set(a, Some(Price::from_ticks(90)), Some(Price::from_ticks(110)));
        let mut out = Vec::new();
        assert_eq!(index.crossed(Price::from_ticks(100), &mut out), 0);
        assert_eq!(index.crossed(Price::from_ticks(110), &mut out), 1);
        assert_eq!(index.crossed(Price::from_ticks(90), &mut out), 1);
        index.set(a, Some(Price::from_ticks(80)), None);
        assert_eq!(index.crossed(Price::from_ticks(90), &mut out), 0);
        assert_eq!(index.crossed(Price::from_ticks(200), &mut out), 0);
        index.remove(a);
        assert!(index.is_empty());
    }
}
