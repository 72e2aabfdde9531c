//! Real-history replays: the simulated index passes exactly through every real close,
//! and the runs tell the story of their day (high-leverage longs wiped out in March 2020,
//! auto-deleveraging in October 2025).

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

/// (opened, liquidated) of longs and of shorts with leverage of at least `from`.
fn leverage_share(summary: &serde_json::Value, from: f64, to: f64) -> ((u64, u64), (u64, u64)) {
    let mut long = (0, 0);
    let mut short = (0, 0);
    for band in summary["leverage_bands"].as_array().unwrap() {
        let lo = band["from"].as_f64().unwrap();
        if lo < from || lo >= to {
            continue;
        }
        long.0 += band["long_opened"].as_u64().unwrap();
        long.1 += band["long_liquidated"].as_u64().unwrap();
        short.0 += band["short_opened"].as_u64().unwrap();
        short.1 += band["short_liquidated"].as_u64().unwrap();
    }
    (long, short)
}

fn run_summary(scenario: &str) -> serde_json::Value {
    let out = liqsim(&["run", scenario, "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn black_thursday_liquidates_most_high_leverage_longs() {
    let v = run_summary("scenarios/black-thursday-2020.toml");
    let ((long_opened, long_liquidated), (short_opened, short_liquidated)) =
        leverage_share(&v, 20.0, f64::INFINITY);
    // Enough of them for the share to mean something (the book at the start survived the
    // day's first -25% at low leverage; the high-leverage ones arrive through the night).
    assert!(long_opened > 300, "{long_opened} high-leverage longs opened");
    let long_share = long_liquidated as f64 / long_opened as f64;
    // BTC fell about 50% in a day: a 20x long is gone after 5% against it. High-leverage
    // shorts die too on the day's 2-5% rebounds, but far fewer of them.
    assert!(long_share > 0.85, "{long_liquidated} of {long_opened} high-leverage longs");
    assert!(
        long_liquidated > 4 * short_liquidated,
        "{long_liquidated} high-leverage longs vs {short_liquidated} of {short_opened} shorts"
    );
    let ((low_opened, low_liquidated), _) = leverage_share(&v, 1.0, 5.0);
    assert!(
        (low_liquidated as f64 / low_opened.max(1) as f64) < long_share,
        "low-leverage longs fared no better than high-leverage ones"
    );
    assert_eq!(v["conservation_error"], 0);
}

#[test]
fn october_2025_deleverages_winners_with_a_small_fund() {
    let v = run_summary("scenarios/oct-2025-deleveraging.toml");
    assert!(v["adl"]["count"].as_u64().unwrap() > 0, "ADL never fired: {v}");
    assert!(v["first_adl_s"].is_number());
    let ((long_opened, long_liquidated), _) = leverage_share(&v, 20.0, f64::INFINITY);
    assert!(
        long_liquidated * 2 > long_opened,
        "{long_liquidated} of {long_opened} high-leverage longs liquidated"
    );
    assert_eq!(v["conservation_error"], 0);
}

#[test]
fn october_2025_exhausts_the_small_fund_in_the_cascade_even_with_a_large_fee() {
    let v = run_summary("scenarios/oct-2025-deleveraging.toml");
    let exhausted = v["fund_exhausted_s"].as_f64().expect("the fund runs out");
    // The replay starts at 16:00Z; the cascade ran from 20:50Z to 21:25Z.
    let cascade = 4.8 * 3600.0..5.5 * 3600.0;
    assert!(cascade.contains(&exhausted), "exhausted at {exhausted} s");
    let first_adl = v["first_adl_s"].as_f64().unwrap();
    assert!(first_adl >= 4.8 * 3600.0, "ADL at {first_adl} s, before the cascade");
    let out = liqsim(&[
        "run",
        "scenarios/oct-2025-deleveraging.toml",
        "--set",
        "liquidation.fee=0.0125",
        "--format",
        "json",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let fed: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    // The fund carries the liquidation engine's inventory, which the thin book cannot
    // take in the cascade: its loss at the mark is far beyond what even a 1.25% fee
    // brings in, so the fund still runs out in the cascade and the engine is deleveraged.
    let fed_exhausted = fed["fund_exhausted_s"].as_f64().expect("the fund still runs out");
    assert!(cascade.contains(&fed_exhausted), "exhausted at {fed_exhausted} s");
    assert!(fed["adl"]["count"].as_u64().unwrap() > 0);
    assert!(fed["adl"]["engine_count"].as_u64().unwrap() > 0);
    assert_eq!(fed["conservation_error"], 0);
}

/// A replay dates its outputs: every row of the time series and of the liquidation log
/// carries its UTC time, the replay's first row (2020-03-12T20:23:00Z) plus `time_s`.
/// An undated run leaves the column empty.
#[test]
fn a_replay_dates_its_rows_in_utc() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let out = liqsim(&[
        "run",
        "scenarios/black-thursday-2020.toml",
        "--set",
        "agents[1].count=500",
        "--out",
        path,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let utc_of = |seconds: f64| {
        let s = 20 * 3600 + 23 * 60 + seconds as u64;
        let (day, s) = (12 + s / 86_400, s % 86_400);
        format!("2020-03-{day:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
    };
    for file in ["timeseries.csv", "liquidations.csv"] {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let (time, utc) = (
            header.iter().position(|h| *h == "time_s").unwrap(),
            header.iter().position(|h| *h == "utc").unwrap(),
        );
        let mut rows = 0;
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            let seconds: f64 = f[time].parse().unwrap();
            assert_eq!(seconds.fract(), 0.0, "{file}: {line}");
            assert_eq!(f[utc], utc_of(seconds), "{file}: {line}");
            rows += 1;
        }
        assert!(rows > 0, "{file} has no rows");
    }
    let out = liqsim(&["run", "scenarios/quickstart.toml", "--out", path]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(dir.path().join("liquidations.csv")).unwrap();
    assert!(text.lines().skip(1).all(|l| l.ends_with(',')), "an undated run has no utc");
}
