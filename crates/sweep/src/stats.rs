//! Statistics across seeds.
//!
//! Quantiles are statrs' `OrderStatistics::quantile`, the Hyndman-Fan type 8 estimator
//! (median-unbiased, continuous in the data). The 95% interval of a mean is a percentile
//! bootstrap: [`RESAMPLES`] resamples of the seeds with replacement, drawn from a fixed
//! seeded `rand_pcg` stream so that a report is reproducible to the digit. Unlike a
//! Student-t interval it follows skewed, bounded data (a bad debt that is zero in most
//! seeds and large in a few), and, being made of means of the data, it never leaves the
//! data's range: a non-negative quantity never gets a negative bound. It is absent for
//! fewer than two values. A p99 is only reported from [`MIN_SEEDS_FOR_P99`] seeds on:
//! below that a type-8 p99 is the sample maximum, and reports say "max of n" instead.
//! Policies compared on the same seeds are summarized by their paired differences, whose
//! interval is far tighter than the difference of two independent intervals because the
//! shared price path cancels.

use liqsim_core::StreamId;
use rand::RngExt;
use statrs::statistics::{Data, Distribution, Max, Min, OrderStatistics};

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2_000;
/// Fewest values whose p99 is an estimate rather than the maximum.
pub const MIN_SEEDS_FOR_P99: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Percentile-bootstrap 95% interval of the mean; `None` when n < 2.
    pub ci95: Option<(f64, f64)>,
    pub std_dev: f64,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    /// `None` below [`MIN_SEEDS_FOR_P99`] values, where it would be the maximum.
    pub p99: Option<f64>,
    pub max: f64,
}

impl Summary {
    /// The upper tail people can quote: (`p99`, value) from 100 values on, (`max of n`,
    /// maximum) below.
    pub fn tail(&self) -> (String, f64) {
        match self.p99 {
            Some(p) => ("p99".into(), p),
            None => (format!("max of {}", self.n), self.max),
        }
    }
}

/// The bootstrap's resamples of `n` indices: [`RESAMPLES`] rows of `n` indices each,
/// the same for every call with the same `n` (the stream is fixed, not the run's seed).
pub fn resample_indices(n: usize) -> Vec<Vec<usize>> {
    let mut rng = StreamId::named("stats.bootstrap").with_index(n as u64).rng(0);
    (0..RESAMPLES).map(|_| (0..n).map(|_| rng.random_range(0..n)).collect()).collect()
}

/// The 2.5% and 97.5% type-8 quantiles of `draws`; `None` when any is not finite.
pub fn percentile_interval(draws: Vec<f64>) -> Option<(f64, f64)> {
    if draws.is_empty() || draws.iter().any(|d| !d.is_finite()) {
        return None;
    }
    let mut data = Data::new(draws);
    Some((data.quantile(0.025), data.quantile(0.975)))
}

/// Percentile-bootstrap 95% interval of `statistic` over `n` paired observations: the
/// statistic gets the indices of one resample at a time. `None` for n < 2.
pub fn bootstrap(n: usize, statistic: impl Fn(&[usize]) -> f64) -> Option<(f64, f64)> {
    if n < 2 {
        return None;
    }
    percentile_interval(resample_indices(n).iter().map(|idx| statistic(idx)).collect())
}

/// The resampled means of `values` over `resamples` (one per row).
pub fn resampled_means(values: &[f64], resamples: &[Vec<usize>]) -> Vec<f64> {
    resamples
        .iter()
        .map(|idx| idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len().max(1) as f64)
        .collect()
}

/// Summary of `values`; `None` for an empty slice or any non-finite value.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mut data = Data::new(values.to_vec());
    let n = values.len();
    let mean = data.mean()?;
    let std_dev = if n > 1 { data.std_dev()? } else { 0.0 };
    let ci95 = if n > 1 {
        percentile_interval(resampled_means(values, &resample_indices(n)))
            // Rounding in the sums cannot push a bound past the data.
            .map(|(lo, hi)| (lo.max(data.min()), hi.min(data.max())))
    } else {
        None
    };
    Some(Summary {
        n,
        mean,
        ci95,
        std_dev,
        min: data.min(),
        median: data.median(),
        p95: data.quantile(0.95),
        p99: (n >= MIN_SEEDS_FOR_P99).then(|| data.quantile(0.99)),
        max: data.max(),
    })
}

/// Summary of `a[i] - b[i]`; `None` when lengths differ or as [`summarize`].
pub fn paired_difference(a: &[f64], b: &[f64]) -> Option<Summary> {
    if a.len() != b.len() {
        return None;
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    summarize(&d)
}

/// Share of `flags` that are true, with a 95% Wilson score interval (good at 0 and 1,
/// where the normal approximation collapses).
pub fn proportion(flags: &[bool]) -> Option<(f64, (f64, f64))> {
    if flags.is_empty() {
        return None;
    }
    let n = flags.len() as f64;
    let p = flags.iter().filter(|&&f| f).count() as f64 / n;
    let z: f64 = 1.959_963_984_540_054;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some((p, ((centre - half).max(0.0), (centre + half).min(1.0))))
}

/// Marks the points on the lower-left frontier of (risk, cost): a point is on it when no
/// other point has both coordinates lower or equal and at least one strictly lower. Used
/// for "least bad debt for the margin locked": risk = bad debt p99, cost = mean margin.
/// Points with a non-finite coordinate are never on the frontier.
pub fn frontier(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(risk, cost)| {
            risk.is_finite()
                && cost.is_finite()
                && !points.iter().any(|&(r, c)| {
                    r.is_finite()
                        && c.is_finite()
                        && r <= risk
                        && c <= cost
                        && (r < risk || c < cost)
                })
        })
        .collect()
}

/// A point's (mean risk, mean cost, resampled mean risks, resampled mean costs).
type Prepared = (f64, f64, Vec<f64>, Vec<f64>);

/// The frontier when every point ran on the same seeds: `points[k]` is (risk per seed,
/// cost per seed), seeds in the same order for every point. Point `a` dominates `b` only
/// when `a`'s mean is no higher on both coordinates and, on at least one of them, the
/// 95% bootstrap interval of the paired difference `b - a` lies above zero: a lead
/// inside the noise of the seeds dominates nothing. Every point's resampled means share
/// one set of resamples, so a pair costs [`RESAMPLES`] subtractions.
/// Points with differing seed counts or a non-finite value are never on the frontier.
pub fn frontier_paired(points: &[(Vec<f64>, Vec<f64>)]) -> Vec<bool> {
    let n = points.first().map_or(0, |p| p.0.len());
    let usable = |p: &(Vec<f64>, Vec<f64>)| {
        n > 0 && p.0.len() == n && p.1.len() == n && p.0.iter().chain(&p.1).all(|v| v.is_finite())
    };
    let resamples = resample_indices(n);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / n.max(1) as f64;
    let prepared: Vec<Option<Prepared>> = points
        .iter()
        .map(|p| {
            usable(p).then(|| {
                (
                    mean(&p.0),
                    mean(&p.1),
                    resampled_means(&p.0, &resamples),
                    resampled_means(&p.1, &resamples),
                )
            })
        })
        .collect();
    let surely_above_zero = |worse: &[f64], better: &[f64]| {
        n >= 2
            && percentile_interval(worse.iter().zip(better).map(|(w, b)| w - b).collect())
                .is_some_and(|(lo, _)| lo > 0.0)
    };
    prepared
        .iter()
        .map(|b| {
            let Some((b_risk, b_cost, b_risks, b_costs)) = b else { return false };
            !prepared.iter().flatten().any(|(a_risk, a_cost, a_risks, a_costs)| {
                a_risk <= b_risk
                    && a_cost <= b_cost
                    && (surely_above_zero(b_risks, a_risks) || surely_above_zero(b_costs, a_costs))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sample() {
        // 1..=10: mean 5.5, s = sqrt(55/6) = 3.02765.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&v).unwrap();
        assert_eq!(s.mean, 5.5);
        assert!((s.std_dev - 3.027_650_354).abs() < 1e-9);
        // The bootstrap's standard error is s x sqrt((n - 1) / n) / sqrt(n) = 0.9083, so
        // its percentile interval is about 5.5 -/+ 1.96 x 0.9083 = [3.72, 7.28] (the
        // Student-t one is [3.33, 7.67]: the bootstrap is narrower for small n).
        let (lo, hi) = s.ci95.unwrap();
        assert!((lo - 3.72).abs() < 0.15 && (hi - 7.28).abs() < 0.15, "{lo} {hi}");
        assert_eq!(s.median, 5.5);
        assert_eq!((s.min, s.max), (1.0, 10.0));
        // Type 8: h = (n + 1/3) p + 1/3 = 10.1333 for p = 0.95 -> the max for n = 10.
        assert_eq!(s.p95, 10.0);
        // Ten values have no p99 of their own: the tail is the maximum, named so.
        assert_eq!(s.p99, None);
        assert_eq!(s.tail(), ("max of 10".to_string(), 10.0));
    }

    #[test]
    fn p99_from_a_hundred_values() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        // h = (100 + 1/3) x 0.99 + 1/3 = 99.663 -> 99 + 0.663 x (100 - 99).
        let s = summarize(&v).unwrap();
        assert!((s.p99.unwrap() - 99.663_333).abs() < 1e-5, "{:?}", s.p99);
        assert_eq!(s.tail().0, "p99");
    }

    /// A sample whose values are the normal quantiles at (i + 1/2) / n: mean 0, standard
    /// deviation close to 1, no randomness in the test itself.
    fn normal_sample(n: usize, mean: f64, sd: f64) -> Vec<f64> {
        use statrs::distribution::{ContinuousCDF, Normal};
        let z = Normal::new(0.0, 1.0).unwrap();
        (0..n).map(|i| mean + sd * z.inverse_cdf((i as f64 + 0.5) / n as f64)).collect()
    }

    #[test]
    fn for_many_values_the_bootstrap_matches_normal_theory() {
        // n = 400: the mean's interval is mean +/- 1.96 s / sqrt(n) = 10 +/- 0.4851 for
        // s = 2.4753 (sample sd of the quantile sample), to within resampling noise.
        let v = normal_sample(400, 10.0, 2.5);
        let s = summarize(&v).unwrap();
        let half = 1.959_964 * s.std_dev / 20.0;
        let (lo, hi) = s.ci95.unwrap();
        assert!((lo - (s.mean - half)).abs() < 0.05 * half, "{lo} vs {}", s.mean - half);
        assert!((hi - (s.mean + half)).abs() < 0.05 * half, "{hi} vs {}", s.mean + half);
    }

    #[test]
    fn intervals_of_a_non_negative_quantity_stay_non_negative() {
        // Bad debt of five seeds: zero in four, large in one. Student-t gives
        // 100,000 -/+ 2.776 x 223,607 / sqrt(5) = [-177,640, 377,640]; the bootstrap
        // stays inside [0, 500,000].
        let v = [0.0, 0.0, 500_000.0, 0.0, 0.0];
        let (lo, hi) = summarize(&v).unwrap().ci95.unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 100_000.0 && hi <= 500_000.0, "{hi}");
        let d = summarize(&[0.0, 0.0, 1.0, 2.0, 0.0, 0.0]).unwrap();
        assert!(d.ci95.unwrap().0 >= 0.0);
    }

    #[test]
    fn coverage_on_a_skewed_distribution() {
        // 300 samples of 40 exponential(1) values (true mean 1): the 95% interval should
        // hold the true mean in about 95% of them; percentile intervals undercover a
        // little on skewed data, so accept 0.88 to 0.99.
        let mut rng = StreamId::named("test.coverage").rng(1);
        let trials = 300;
        let mut covered = 0;
        for _ in 0..trials {
            let v: Vec<f64> = (0..40).map(|_| -(1.0 - rng.random::<f64>()).ln()).collect();
            let (lo, hi) = summarize(&v).unwrap().ci95.unwrap();
            covered += usize::from(lo <= 1.0 && 1.0 <= hi);
        }
        let share = covered as f64 / trials as f64;
        assert!((0.88..=0.99).contains(&share), "coverage {share}");
    }

    #[test]
    fn resampling_is_reproducible() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        assert_eq!(summarize(&v), summarize(&v));
        let ratio = |idx: &[usize]| idx.iter().map(|&i| v[i]).sum::<f64>() / idx.len() as f64;
        assert_eq!(bootstrap(v.len(), ratio), bootstrap(v.len(), ratio));
        assert_eq!(bootstrap(1, ratio), None);
    }

    #[test]
    fn frontier_dominance_needs_a_difference_beyond_the_noise() {
        // Same margin; bad debt of b exceeds a's by 37 on a base of about 2M in seeds
        // where a moves by +/- 100k: noise, so neither dominates.
        let base: Vec<f64> = (0..6).map(|i| 2.0e6 + 1.0e5 * f64::from(i % 3) - 1.0e5).collect();
        let noisy: Vec<f64> = base
            .iter()
            .enumerate()
            .map(|(i, x)| x + if i % 2 == 0 { 150.0 } else { -76.0 })
            .collect();
        let margin = vec![1.0e6; 6];
        let points = [(base.clone(), margin.clone()), (noisy, margin.clone())];
        assert_eq!(frontier_paired(&points), [true, true]);
        // c is worse than a by 50k in every seed: a dominates c.
        let worse: Vec<f64> = base.iter().map(|x| x + 5.0e4).collect();
        let points = [(base.clone(), margin.clone()), (worse, margin.clone())];
        assert_eq!(frontier_paired(&points), [true, false]);
        // Cheaper but riskier: a trade-off, both on the frontier.
        let cheaper = vec![0.9e6; 6];
        let riskier: Vec<f64> = base.iter().map(|x| x + 5.0e4).collect();
        assert_eq!(frontier_paired(&[(base, margin), (riskier, cheaper)]), [true, true]);
        assert!(frontier_paired(&[]).is_empty());
    }

    #[test]
    fn type_8_quantile_interpolates() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        // h = (100 + 1/3) x 0.95 + 1/3 = 95.65 -> 95 + 0.65 x (96 - 95).
        assert!((summarize(&v).unwrap().p95 - 95.65).abs() < 1e-9);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[1.0, f64::NAN]).is_none());
        let one = summarize(&[3.0]).unwrap();
        assert_eq!((one.mean, one.ci95, one.std_dev), (3.0, None, 0.0));
        assert!(paired_difference(&[1.0], &[1.0, 2.0]).is_none());
    }

    #[test]
    fn paired_differences_cancel_the_common_part() {
        // b = a + 1 exactly: the difference is constant, its interval has zero width.
        let a = [10.0, 50.0, 20.0, 90.0];
        let b = [11.0, 51.0, 21.0, 91.0];
        let d = paired_difference(&a, &b).unwrap();
        assert_eq!(d.mean, -1.0);
        assert_eq!(d.ci95, Some((-1.0, -1.0)));
        // Unpaired, the interval of a alone is tens of units wide.
        let (lo, hi) = summarize(&a).unwrap().ci95.unwrap();
        assert!(hi - lo > 20.0, "{lo} {hi}");
    }

    #[test]
    fn frontier_marks_non_dominated_points() {
        let points = [
            (5.0, 1.0),
            (3.0, 2.0),
            (4.0, 3.0),
            (1.0, 5.0),
            (1.0, 6.0),
            (3.0, 2.0),
            (f64::NAN, 0.0),
        ];
        // (4,3) is dominated by (3,2); (1,6) by (1,5); equal points both stay.
        assert_eq!(frontier(&points), [true, true, false, true, false, true, false]);
        assert!(frontier(&[]).is_empty());
    }

    #[test]
    fn wilson_interval() {
        // 0 of 20: p = 0, upper bound z^2/(n + z^2) = 3.8415/23.8415 = 0.16113.
        let (p, (lo, hi)) = proportion(&[false; 20]).unwrap();
        assert_eq!((p, lo), (0.0, 0.0));
        assert!((hi - 0.161_125).abs() < 1e-5, "{hi}");
        let (p, _) = proportion(&[true, false, true, true]).unwrap();
        assert_eq!(p, 0.75);
        assert!(proportion(&[]).is_none());
    }
}
