//! Stylized facts of synthetic runs: GARCH-t minute returns have fat tails and clustered
//! volatility; GBM minute returns have neither.

use crate::support::{Scratch, liqsim};

/// 1-minute log returns of the index over five simulated days of `process`.
fn minute_returns(process: &str, seed: &str) -> Vec<f64> {
    let text = format!(
        r#"name = "stylized"
duration = "5d"
[market]
initial_price = 60000.0
tick_size = 0.5
step = "1m"
process = {process}
[[agents]]
kind = "market_maker"
[[agents]]
kind = "leveraged_trader"
count = 10
"#
    );
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", text);
    let dir = tempfile::tempdir().unwrap();
    let out = liqsim(&[
        "run",
        path.to_str().unwrap(),
        "--seed",
        seed,
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let series = std::fs::read_to_string(dir.path().join("timeseries.csv")).unwrap();
    let mut lines = series.lines();
    let index = lines.next().unwrap().split(',').position(|h| h == "index_price").unwrap();
    let prices: Vec<f64> =
        lines.map(|l| l.split(',').nth(index).unwrap().parse().unwrap()).collect();
    prices.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
}

/// (excess kurtosis, mean autocorrelation of squared returns at lags 1..=5).
fn facts(r: &[f64]) -> (f64, f64) {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let kurtosis = r.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n / (var * var) - 3.0;
    let sq: Vec<f64> = r.iter().map(|x| (x - mean).powi(2)).collect();
    let sq_mean = sq.iter().sum::<f64>() / n;
    let denom: f64 = sq.iter().map(|s| (s - sq_mean).powi(2)).sum();
    let acf = |lag: usize| {
        (0..sq.len() - lag).map(|i| (sq[i] - sq_mean) * (sq[i + lag] - sq_mean)).sum::<f64>()
            / denom
    };
    (kurtosis, (1..=5).map(acf).sum::<f64>() / 5.0)
}

#[test]
fn garch_t_minute_returns_are_fat_tailed_and_clustered_and_gbm_ones_are_not() {
    let garch = r#"{ kind = "garch_t", units = "day", omega = 0.00008, alpha = 0.1, beta = 0.85, nu = 4.0 }"#;
    for seed in ["3", "4"] {
        let r = minute_returns(garch, seed);
        // Five days of minutes: a zero autocorrelation has standard error 1/sqrt(n).
        let noise = 1.0 / (r.len() as f64).sqrt();
        let (kurtosis, clustering) = facts(&r);
        assert!(kurtosis > 2.0, "seed {seed}: excess kurtosis {kurtosis}");
        assert!(
            clustering > 3.0 * noise,
            "seed {seed}: squared-return autocorrelation {clustering}"
        );
        let (kurtosis, clustering) = facts(&minute_returns(r#"{ kind = "gbm", vol = 0.6 }"#, seed));
        assert!(kurtosis.abs() < 0.5, "seed {seed}: GBM excess kurtosis {kurtosis}");
        assert!(clustering.abs() < 3.0 * noise, "seed {seed}: GBM clustering {clustering}");
    }
}
