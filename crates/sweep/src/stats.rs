//! Statistics across seeds.
//!
//! Quantiles are statrs' `OrderStatistics::quantile`, the Hyndman-Fan type 8 estimator
//! (median-unbiased, continuous in the data). The 95% confidence interval of the mean is
//! Student-t: mean +/- t(0.975, n-1) x s / sqrt(n), with s the sample standard deviation;
//! it is absent for fewer than two values. Policies compared on the same seeds are
//! summarized by their paired differences, whose interval is far tighter than the
//! difference of two independent intervals because the shared price path cancels.

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::{Data, Distribution, Max, Min, OrderStatistics};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// 95% confidence interval of the mean; `None` when n < 2.
    pub ci95: Option<(f64, f64)>,
    pub std_dev: f64,
    pub min: f64,
    pub median: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
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
        let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).ok()?.inverse_cdf(0.975);
        let half = t * std_dev / (n as f64).sqrt();
        Some((mean - half, mean + half))
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
        p99: data.quantile(0.99),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sample() {
        // 1..=10: mean 5.5, s = sqrt(55/6) = 3.02765; t(0.975, 9) = 2.262157.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&v).unwrap();
        assert_eq!(s.mean, 5.5);
        assert!((s.std_dev - 3.027_650_354).abs() < 1e-9);
        let (lo, hi) = s.ci95.unwrap();
        let half = 2.262_157_163 * 3.027_650_354 / 10f64.sqrt();
        assert!((lo - (5.5 - half)).abs() < 1e-8 && (hi - (5.5 + half)).abs() < 1e-8, "{lo} {hi}");
        assert_eq!(s.median, 5.5);
        assert_eq!((s.min, s.max), (1.0, 10.0));
        // Type 8: h = (n + 1/3) p + 1/3 = 10.1333 for p = 0.95 -> the max for n = 10.
        assert_eq!(s.p95, 10.0);
        assert_eq!(s.p99, 10.0);
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
