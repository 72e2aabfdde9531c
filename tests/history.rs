//! Real-history replays: the simulated index passes exactly through every real close.

use crate::support::{liqsim, repo_root};

fn closes(csv: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(repo_root().join(csv)).unwrap();
    text.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().parse().unwrap()).collect()
}

fn replayed_index(scenario: &str) -> Vec<(f64, f64)> {
    let dir = tempfile::tempdir().unwrap();
    let out = liqsim(&[
        "run",
        scenario,
        "--set",
        "agents[1].count=500",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let series = std::fs::read_to_string(dir.path().join("timeseries.csv")).unwrap();
    series
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().parse().unwrap(), f.next().unwrap().parse().unwrap())
        })
        .collect()
}

fn assert_hits_every_close(scenario: &str, csv: &str) {
    let closes = closes(csv);
    let index = replayed_index(scenario);
    assert!(index.len() > 400, "{scenario}: {} samples", index.len());
    for (time_s, value) in index {
        // The bar opening at minute k closes at minute k + 1.
        let bar = (time_s / 60.0).round() as usize - 1;
        let close = closes[bar];
        assert!(
            (value - close).abs() <= 1e-6 * close,
            "{scenario} at {time_s} s: index {value}, real close {close}"
        );
    }
}

#[test]
fn black_thursday_replays_the_real_closes() {
    assert_hits_every_close(
        "scenarios/black-thursday-2020.toml",
        "scenarios/data/binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv",
    );
}

#[test]
fn october_2025_replays_the_real_closes() {
    assert_hits_every_close(
        "scenarios/oct-2025-deleveraging.toml",
        "scenarios/data/binance_usdm_btcusdt_perp_1m_2025-10-10.csv",
    );
}
