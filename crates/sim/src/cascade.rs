//! Cascade analysis from the recorded cause of each liquidation.
//!
//! The exchange records, for every liquidation, what moved the price that triggered it:
//! an exogenous move (the price process, a shock), or the fills of an earlier liquidation
//! (identified by its index). That link forms a forest: each exogenous liquidation is the
//! root of a cascade, and a liquidation's depth is its distance from the root.
//!
//! - depth: 0 for exogenous, parent's depth + 1 otherwise; `max_depth` is the longest chain;
//! - amplification: liquidated notional / notional liquidated by exogenous moves alone
//!   (1.0 means no knock-on liquidations; undefined when nothing was liquidated);
//! - waves: bursts of liquidations separated by quiet periods of at least
//!   [`CascadeConfig::quiet_gap`];
//! - cascade sizes: liquidations per cascade tree, as an HDR histogram.
//!
//! Records must be in event order (non-decreasing time), with every parent earlier than
//! its child; the kernel produces them that way, and a violation is an internal error.

use hdrhistogram::Histogram;
use liqsim_core::{Error, Money, Result, SimDuration, SimTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Long,
    Short,
}

/// What moved the price that triggered a liquidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Exogenous,
    /// The fills of the liquidation with this index (in the run's record order).
    Liquidation(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationRecord {
    pub time: SimTime,
    pub notional: Money,
    pub side: Side,
    pub cause: Cause,
}

#[derive(Debug, Clone, Copy)]
pub struct CascadeConfig {
    /// A gap of at least this long without liquidations ends a wave.
    pub quiet_gap: SimDuration,
}

impl Default for CascadeConfig {
    fn default() -> Self {
        CascadeConfig { quiet_gap: SimDuration::from_secs(300) }
    }
}

#[derive(Debug, Clone)]
pub struct CascadeReport {
    /// Depth of each record, in record order.
    pub depths: Vec<u32>,
    pub max_depth: u32,
    pub total_notional: Money,
    pub exogenous_notional: Money,
    /// `None` when nothing was liquidated.
    pub amplification: Option<f64>,
    pub waves: u32,
    /// Number of liquidations in each cascade tree (one value per exogenous root).
    pub cascade_sizes: Histogram<u64>,
    pub largest_cascade: u64,
}

/// The causal forest of a run's liquidations, grown one record at a time: the one place
/// a liquidation's depth is derived (the recorder grows it as liquidations happen, so a
/// depth is known at once; [`analyze`] grows one from a finished list).
#[derive(Debug, Clone, Default)]
pub struct Forest {
    depths: Vec<u32>,
    roots: Vec<u32>,
}

impl Forest {
    /// Adds the next record's cause; returns its depth and its tree's root.
    pub fn add(&mut self, cause: Cause) -> Result<(u32, u32)> {
        let index = self.depths.len();
        let (depth, root) = match cause {
            Cause::Exogenous => (0, index as u32),
            Cause::Liquidation(parent) => {
                let parent = parent as usize;
                if parent >= index {
                    return Err(Error::Internal(format!(
                        "liquidation {index} names liquidation {parent} as its cause, which is not earlier"
                    )));
                }
                (self.depths[parent] + 1, self.roots[parent])
            }
        };
        self.depths.push(depth);
        self.roots.push(root);
        Ok((depth, root))
    }

    pub fn depth(&self, index: usize) -> Option<u32> {
        self.depths.get(index).copied()
    }
}

pub fn analyze(records: &[LiquidationRecord], config: CascadeConfig) -> Result<CascadeReport> {
    let mut forest = Forest::default();
    let mut tree_sizes: Vec<u64> = vec![0; records.len()];
    let mut total = Money::ZERO;
    let mut exogenous = Money::ZERO;
    let mut waves = 0u32;
    let mut previous_time: Option<SimTime> = None;
    for (index, record) in records.iter().enumerate() {
        let (depth, root) = forest.add(record.cause)?;
        tree_sizes[root as usize] += 1;
        total = total.checked_add(record.notional)?;
        if depth == 0 {
            exogenous = exogenous.checked_add(record.notional)?;
        }
        match previous_time {
            Some(t) if record.time < t => {
                return Err(Error::Internal(format!(
                    "liquidation {index} is earlier than the one before it"
                )));
            }
            Some(t) if record.time.since(t) < config.quiet_gap => {}
            _ => waves += 1,
        }
        previous_time = Some(record.time);
    }
    let mut cascade_sizes =
        Histogram::<u64>::new(3).map_err(|e| Error::Internal(format!("histogram: {e}")))?;
    let mut largest = 0;
    for (index, &size) in tree_sizes.iter().enumerate() {
        if matches!(records[index].cause, Cause::Exogenous) {
            cascade_sizes.record(size).map_err(|e| Error::Internal(format!("histogram: {e}")))?;
            largest = largest.max(size);
        }
    }
    let amplification = if total.is_positive() {
        // Every chain starts at an exogenous liquidation, so a positive total implies a
        // positive exogenous notional unless notionals are zero, which the exchange never
        // records.
        (exogenous.is_positive()).then(|| total.micros() as f64 / exogenous.micros() as f64)
    } else {
        None
    };
    let depths = forest.depths;
    Ok(CascadeReport {
        max_depth: depths.iter().copied().max().unwrap_or(0),
        depths,
        total_notional: total,
        exogenous_notional: exogenous,
        amplification,
        waves,
        cascade_sizes,
        largest_cascade: largest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seconds: u64, notional: i64, cause: Cause) -> LiquidationRecord {
        LiquidationRecord {
            time: SimTime::from_nanos(seconds * 1_000_000_000),
            notional: Money::from_units(notional).unwrap(),
            side: Side::Long,
            cause,
        }
    }

    #[test]
    fn a_known_forest() {
        use Cause::*;
        // Two exogenous roots. Root 0 causes 1, which causes 2 and 3; 3 causes 5.
        // Root 4 (ten minutes later, a new wave) causes nothing.
        let records = [
            rec(0, 100, Exogenous),
            rec(1, 50, Liquidation(0)),
            rec(2, 25, Liquidation(1)),
            rec(2, 25, Liquidation(1)),
            rec(602, 200, Exogenous),
            rec(603, 10, Liquidation(3)),
        ];
        let r = analyze(&records, CascadeConfig::default()).unwrap();
        assert_eq!(r.depths, [0, 1, 2, 2, 0, 3]);
        assert_eq!(r.max_depth, 3);
        assert_eq!(r.total_notional, Money::from_units(410).unwrap());
        assert_eq!(r.exogenous_notional, Money::from_units(300).unwrap());
        assert_eq!(r.amplification, Some(410.0 / 300.0));
        // Record 5 at 603 s is one second after record 4, so it joins the second wave.
        assert_eq!(r.waves, 2);
        assert_eq!(r.largest_cascade, 5);
        assert_eq!(r.cascade_sizes.len(), 2);
        assert_eq!(r.cascade_sizes.max(), 5);
        assert_eq!(r.cascade_sizes.min(), 1);
    }

    #[test]
    fn nothing_liquidated() {
        let r = analyze(&[], CascadeConfig::default()).unwrap();
        assert_eq!((r.max_depth, r.waves, r.amplification, r.largest_cascade), (0, 0, None, 0));
    }

    #[test]
    fn malformed_records_are_internal_errors() {
        let forward = [rec(0, 1, Cause::Liquidation(0))];
        assert!(matches!(analyze(&forward, CascadeConfig::default()), Err(Error::Internal(_))));
        let backwards = [rec(5, 1, Cause::Exogenous), rec(4, 1, Cause::Exogenous)];
        assert!(matches!(analyze(&backwards, CascadeConfig::default()), Err(Error::Internal(_))));
    }
}
