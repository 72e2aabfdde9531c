//! Horizon return sets from a price history.
//!
//! Historical: overlapping log returns over `horizon` observations of the closes.
//! Filtered historical (Barone-Adesi, Giannopoulos and Vosper 1999; Hull and White 1998):
//! each one-period return is divided by the EWMA volatility at its time and multiplied by
//! the current volatility, then aggregated over the horizon; `lambda` is the EWMA decay
//! (RiskMetrics uses 0.94 for daily data).

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

#[cfg(test)]
mod tests {
    use super::*;

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
