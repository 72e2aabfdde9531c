//! Horizon return sets from a price history.
//!
//! Historical: overlapping log returns over `horizon` observations of the closes.
//! Filtered historical (Barone-Adesi, Giannopoulos and Vosper 1999; Hull and White 1998):
//! each one-period return is divided by the EWMA volatility at its time and multiplied by
//! the current volatility, then aggregated over the horizon; `lambda` is the EWMA decay
//! (RiskMetrics uses 0.94 for daily data).
//!
//! [`ScenarioSet`] is what the policies consume: shocks (log return, relative volatility
//! shift, horizon) with optional weights. Historical and filtered sets take their
//! volatility shift from the EWMA volatility over the same window (vol at the end over
//! vol at the start, minus 1), the realised analogue of an implied-vol move; Monte Carlo
//! sets take both from a caller's generator, so any price process can be plugged in.
//! Scenario order is the order of the history (or of the draws): deterministic.
//!
//! Stress and anti-procyclicality (EMIR RTS 153/2013 art. 28 style): [`stressed_window`]
//! finds the most volatile stretch of a history; [`Apc`] floors a requirement at a
//! fraction of the stressed one and adds a buffer that is released in stress.

use crate::portfolio::Shock;
use liqsim_core::{RngStream, SimDuration, SimTime, StreamId};
use liqsim_models::{ProcessSpec, RateUnit};

/// One-period log returns of `closes`.
pub fn log_returns(closes: &[f64]) -> Vec<f64> {
    closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
}

/// EWMA variance before each return (the variance a forecaster had when it arrived),
/// seeded with the sample variance of the first 30 returns.
pub fn ewma_variances(returns: &[f64], lambda: f64) -> Vec<f64> {
    let seed_n = returns.len().clamp(1, 30);
    let mut v =
        returns[..seed_n.min(returns.len())].iter().map(|r| r * r).sum::<f64>() / seed_n as f64;
    let mut out = Vec::with_capacity(returns.len());
    for r in returns {
        out.push(v);
        v = lambda * v + (1.0 - lambda) * r * r;
    }
    out
}

/// EWMA variance after the last return.
pub fn ewma_last(returns: &[f64], lambda: f64) -> f64 {
    let v = ewma_variances(returns, lambda);
    match (v.last(), returns.last()) {
        (Some(v), Some(r)) => lambda * v + (1.0 - lambda) * r * r,
        _ => 0.0,
    }
}

/// Overlapping sums of `horizon` consecutive returns.
pub fn aggregate(returns: &[f64], horizon: usize) -> Vec<f64> {
    let horizon = horizon.max(1);
    if returns.len() < horizon {
        return Vec::new();
    }
    let mut sum: f64 = returns[..horizon].iter().sum();
    let mut out = vec![sum];
    for i in horizon..returns.len() {
        sum += returns[i] - returns[i - horizon];
        out.push(sum);
    }
    out
}

/// Filtered historical horizon returns, rescaled to the current volatility `sigma_now`
/// (per period).
pub fn filtered(returns: &[f64], lambda: f64, sigma_now: f64, horizon: usize) -> Vec<f64> {
    let variances = ewma_variances(returns, lambda);
    let rescaled: Vec<f64> = returns
        .iter()
        .zip(&variances)
        .map(|(r, v)| if *v > 0.0 { r / v.sqrt() * sigma_now } else { 0.0 })
        .collect();
    aggregate(&rescaled, horizon)
}

/// A set of horizon shocks, optionally weighted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScenarioSet {
    pub shocks: Vec<Shock>,
    /// One weight per shock, or empty for equal weights.
    pub weights: Vec<f64>,
}

impl ScenarioSet {
    pub fn len(&self) -> usize {
        self.shocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shocks.is_empty()
    }
}

/// Volatility shifts of each horizon window from the EWMA variances (before each return).
fn vol_shifts(variances: &[f64], horizon: usize) -> impl Iterator<Item = f64> + '_ {
    variances.windows(horizon + 1).map(move |w| {
        let (start, end) = (w[0], w[horizon]);
        if start > 0.0 { (end / start).sqrt() - 1.0 } else { 0.0 }
    })
}

/// Historical simulation: overlapping `horizon_periods` log returns of `closes`, each
/// period `period_years` long. Vol shifts from an EWMA with `lambda`.
pub fn historical_set(
    closes: &[f64],
    horizon_periods: usize,
    period_years: f64,
    lambda: f64,
) -> ScenarioSet {
    let returns = log_returns(closes);
    build_set(&returns, &returns, horizon_periods, period_years, lambda)
}

/// Filtered historical simulation: returns rescaled to the current EWMA volatility.
pub fn filtered_set(
    closes: &[f64],
    horizon_periods: usize,
    period_years: f64,
    lambda: f64,
) -> ScenarioSet {
    let returns = log_returns(closes);
    let sigma_now = ewma_last(&returns, lambda).sqrt();
    let variances = ewma_variances(&returns, lambda);
    let rescaled: Vec<f64> = returns
        .iter()
        .zip(&variances)
        .map(|(r, v)| if *v > 0.0 { r / v.sqrt() * sigma_now } else { 0.0 })
        .collect();
    build_set(&rescaled, &returns, horizon_periods, period_years, lambda)
}

fn build_set(
    returns: &[f64],
    raw: &[f64],
    horizon_periods: usize,
    period_years: f64,
    lambda: f64,
) -> ScenarioSet {
    let h = horizon_periods.max(1);
    let horizon_years = h as f64 * period_years;
    let mut variances = ewma_variances(raw, lambda);
    variances.push(ewma_last(raw, lambda));
    let shocks = aggregate(returns, h)
        .into_iter()
        .zip(vol_shifts(&variances, h))
        .map(|(log_return, vol_shift)| Shock { log_return, vol_shift, horizon_years })
        .collect();
    ScenarioSet { shocks, weights: Vec::new() }
}

/// Monte Carlo: `count` draws of `generate(rng) -> (log return over the horizon, vol
/// shift)`, in draw order.
pub fn monte_carlo_set(
    count: usize,
    horizon_years: f64,
    rng: &mut RngStream,
    mut generate: impl FnMut(&mut RngStream) -> (f64, f64),
) -> ScenarioSet {
    let shocks = (0..count)
        .map(|_| {
            let (log_return, vol_shift) = generate(rng);
            Shock { log_return, vol_shift, horizon_years }
        })
        .collect();
    ScenarioSet { shocks, weights: Vec::new() }
}

/// `count` log returns of the process over `horizon`, each a fresh process stepped 24
/// times from the start, from the run's "margin-monte-carlo" stream of `seed`.
pub fn monte_carlo_returns(
    process: &ProcessSpec,
    unit: RateUnit,
    count: usize,
    horizon: SimDuration,
    seed: u64,
) -> Vec<f64> {
    let steps = 24u64;
    let dt = SimDuration::from_nanos((horizon.nanos() / steps).max(1));
    let mut rng = StreamId::named("margin-monte-carlo").rng(seed);
    let set = monte_carlo_set(count, horizon.as_years_f64(), &mut rng, |rng| {
        let mut p = liqsim_models::process::build(process, unit);
        let mut t = SimTime::START;
        let mut total = 0.0;
        for _ in 0..steps {
            total += p.step(t, dt, 1.0, rng);
            t = t.plus(dt);
        }
        (total, 0.0)
    });
    set.shocks.iter().map(|s| s.log_return).collect()
}

/// Start index (into `closes`) of the `window`-close stretch with the largest realised
/// variance of log returns; the first such stretch on ties. None if too short.
pub fn stressed_window(closes: &[f64], window: usize) -> Option<usize> {
    let returns = log_returns(closes);
    let w = window.checked_sub(1)?;
    if w == 0 || returns.len() < w {
        return None;
    }
    let mut sum: f64 = returns[..w].iter().map(|r| r * r).sum();
    let (mut best, mut best_sum) = (0, sum);
    for i in w..returns.len() {
        sum += returns[i] * returns[i] - returns[i - w] * returns[i - w];
        if sum > best_sum * (1.0 + 1e-12) {
            best_sum = sum;
            best = i + 1 - w;
        }
    }
    Some(best)
}

/// Anti-procyclicality: requirement = max(base, floor_fraction x stressed) x (1 + buffer
/// not released), where the buffer (e.g. 0.25) is released by `released` in [0, 1]
/// (1 in full stress).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Apc {
    pub floor_fraction: f64,
    pub buffer: f64,
}

impl Apc {
    pub fn apply(&self, base: f64, stressed: f64, released: f64) -> f64 {
        let floored = base.max(self.floor_fraction * stressed);
        floored * (1.0 + self.buffer * (1.0 - released.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_core::StreamId;

    #[test]
    fn sets_carry_returns_vol_shifts_and_horizon() {
        let closes = [100.0, 110.0, 99.0, 99.0, 120.0];
        let set = historical_set(&closes, 2, 1.0 / 365.0, 0.9);
        assert_eq!(set.len(), 3);
        assert!((set.shocks[0].log_return - (99.0f64 / 100.0).ln()).abs() < 1e-12);
        assert!((set.shocks[2].log_return - (120.0f64 / 99.0).ln()).abs() < 1e-12);
        assert!((set.shocks[0].horizon_years - 2.0 / 365.0).abs() < 1e-15);
        // EWMA variance before return 0, after return 1: vol shift = ratio of vols - 1.
        let r = log_returns(&closes);
        let v = ewma_variances(&r, 0.9);
        assert!((set.shocks[0].vol_shift - ((v[2] / v[0]).sqrt() - 1.0)).abs() < 1e-12);
        let last = (ewma_last(&r, 0.9) / v[2]).sqrt() - 1.0;
        assert!((set.shocks[2].vol_shift - last).abs() < 1e-12);
        let mut rng = StreamId::named("mc").rng(1);
        let mc = monte_carlo_set(4, 0.5, &mut rng, |_| (0.1, -0.2));
        assert_eq!(mc.len(), 4);
        assert_eq!(mc.shocks[3], Shock { log_return: 0.1, vol_shift: -0.2, horizon_years: 0.5 });
    }

    #[test]
    fn stressed_window_and_apc() {
        let mut closes = vec![100.0; 50];
        for (i, c) in closes.iter_mut().enumerate().skip(20).take(10) {
            *c = if i % 2 == 0 { 90.0 } else { 110.0 };
        }
        // Returns 20..29 are the wild ones: the 11-close window starting at close 19 or 20.
        let start = stressed_window(&closes, 11).unwrap();
        assert!((19..=20).contains(&start), "{start}");
        assert_eq!(stressed_window(&closes, 100), None);
        let apc = Apc { floor_fraction: 0.25, buffer: 0.25 };
        assert_eq!(apc.apply(10.0, 100.0, 0.0), 25.0 * 1.25);
        assert_eq!(apc.apply(30.0, 100.0, 1.0), 30.0);
        assert_eq!(apc.apply(30.0, 100.0, 0.5), 30.0 * 1.125);
    }

    #[test]
    fn aggregation_and_ewma() {
        assert_eq!(aggregate(&[1.0, 2.0, 3.0, 4.0], 2), [3.0, 5.0, 7.0]);
        assert!(aggregate(&[1.0], 2).is_empty());
        let r = [0.01, -0.02, 0.03];
        let v = ewma_variances(&r, 0.9);
        let seed = (0.0001 + 0.0004 + 0.0009) / 3.0;
        assert!((v[0] - seed).abs() < 1e-15);
        assert!((v[1] - (0.9 * seed + 0.1 * 0.0001)).abs() < 1e-15);
        assert!((ewma_last(&r, 0.9) - (0.9 * v[2] + 0.1 * 0.0009)).abs() < 1e-15);
    }

    #[test]
    fn filtering_rescales_to_the_current_volatility() {
        // A calm half then a wild half: filtered returns all take the current volatility.
        let returns: Vec<f64> = (0..400)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 } * if i < 200 { 0.01 } else { 0.05 })
            .collect();
        let f = filtered(&returns, 0.94, 0.02, 1);
        let tail_sd = (f[300..].iter().map(|x| x * x).sum::<f64>() / 100.0).sqrt();
        assert!((tail_sd - 0.02).abs() < 0.002, "{tail_sd}");
    }
}
