//! Grid expansion and shards.
//!
//! Order: grid points in row-major order over the axes as given (the last axis varies
//! fastest), and within a grid point the seeds in the order given. Run `index` is the
//! position in that order; it names the run's output file, so a resumed or sharded sweep
//! finds the same run under the same name.
//!
//! Shard `I/N` (0-based `I`) runs every run whose index is `I` modulo `N`: round-robin
//! keeps shards balanced when the cost of a run grows along the grid.

use liqsim_core::{Error, InputError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GridAxis {
    pub key: String,
    pub values: Vec<String>,
}

impl GridAxis {
    /// Parses `key=v1,v2,...`.
    pub fn parse(spec: &str) -> Result<GridAxis> {
        let bad = |message: String| -> Error {
            InputError::new(message)
                .source(format!("--grid {spec}"))
                .expected("--grid key.path=v1,v2,... with at least one value")
                .into()
        };
        let (key, values) = spec.split_once('=').ok_or_else(|| bad("no `=`".into()))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(bad("empty key".into()));
        }
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(bad("an empty value".into()));
        }
        for (i, v) in values.iter().enumerate() {
            if values[..i].contains(v) {
                return Err(bad(format!("value `{v}` appears twice")));
            }
        }
        Ok(GridAxis { key: key.to_string(), values })
    }
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSpec {
    /// Position in the whole sweep (all shards).
    pub index: usize,
    /// Index of the grid point.
    pub point: usize,
    /// `(key, value)` per axis, in axis order.
    pub overrides: Vec<(String, String)>,
    pub seed: u64,
}

/// Expands axes x seeds into runs. No axes means a single grid point.
pub fn expand(axes: &[GridAxis], seeds: &[u64]) -> Result<Vec<RunSpec>> {
    let points = axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.values.len()));
    let total = points.and_then(|p| p.checked_mul(seeds.len()));
    let (Some(points), Some(total)) = (points, total) else {
        return Err(Error::input("the grid is too large to enumerate"));
    };
    if total > 100_000_000 {
        return Err(InputError::new(format!("{total} runs"))
            .key("--grid")
            .expected("at most 100000000 runs (grid points x seeds)")
            .into());
    }
    let mut runs = Vec::with_capacity(total);
    for point in 0..points {
        let mut rest = point;
        let mut overrides = vec![(String::new(), String::new()); axes.len()];
        for (slot, axis) in overrides.iter_mut().zip(axes).rev() {
            let n = axis.values.len();
            *slot = (axis.key.clone(), axis.values[rest % n].clone());
            rest /= n;
        }
        for &seed in seeds {
            runs.push(RunSpec { index: runs.len(), point, overrides: overrides.clone(), seed });
        }
    }
    Ok(runs)
}

/// The `index`-th of `count` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || -> Error {
            InputError::new(format!("`{text}` is not a shard"))
                .source("--shard")
                .expected("I/N with 0 <= I < N <= 100000, e.g. 0/4")
                .into()
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > 100_000 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn contains(self, run: &RunSpec) -> bool {
        run.index % self.count == self.index
    }

    pub fn select(self, runs: &[RunSpec]) -> Vec<RunSpec> {
        runs.iter().filter(|r| self.contains(r)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn expansion_order_is_row_major_then_seeds() {
        let axes = [
            GridAxis::parse("margin.policy=es,var").unwrap(),
            GridAxis::parse("margin.confidence=0.99, 0.995, 0.999").unwrap(),
        ];
        let runs = expand(&axes, &[7, 8]).unwrap();
        assert_eq!(runs.len(), 12);
        let v = |r: &RunSpec| (r.overrides[0].1.clone(), r.overrides[1].1.clone(), r.seed, r.point);
        assert_eq!(v(&runs[0]), ("es".into(), "0.99".into(), 7, 0));
        assert_eq!(v(&runs[1]), ("es".into(), "0.99".into(), 8, 0));
        assert_eq!(v(&runs[2]), ("es".into(), "0.995".into(), 7, 1));
        assert_eq!(v(&runs[11]), ("var".into(), "0.999".into(), 8, 5));
        assert!(runs.iter().enumerate().all(|(i, r)| r.index == i));
        assert_eq!(expand(&[], &[1, 2, 3]).unwrap().len(), 3);
    }

    #[test]
    fn bad_specs() {
        for spec in ["nokey", "=1,2", "a=", "a=1,,2", "a=1,1"] {
            let e = GridAxis::parse(spec).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{spec}");
            assert!(e.to_string().contains("--grid"), "{e}");
        }
        for spec in ["1", "4/4", "-1/3", "a/b", "0/0", "1/2/3"] {
            let e = Shard::parse(spec).unwrap_err();
            assert!(e.to_string().contains("valid: I/N"), "{e}");
        }
        assert_eq!(Shard::parse(" 2 / 3 ").unwrap(), Shard { index: 2, count: 3 });
    }

    proptest! {
        #[test]
        fn shards_partition_the_runs(n_runs in 0usize..200, count in 1usize..12) {
            let runs = expand(&[], &(0..n_runs as u64).collect::<Vec<_>>()).unwrap();
            let mut seen = vec![0u32; n_runs];
            for index in 0..count {
                for r in (Shard { index, count }).select(&runs) {
                    seen[r.index] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
        }
    }
}
