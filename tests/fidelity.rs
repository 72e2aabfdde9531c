//! Fidelity: the bundled replays and the calm day against published figures, under the
//! venue's own margin rule (the replays' tiered fixed schedules; for the calm day, the
//! fixed 100x rule the published shares were measured under). Each band and its source
//! is in scenarios/README.md ("Fidelity targets"). Each test prints every figure beside
//! its band. A figure the model does not meet yet is listed here as a known miss, with
//! the reason in scenarios/README.md: it is reported, not asserted, and a known miss that
//! comes inside its band fails the test until it is asserted again, so the list cannot
//! go stale. The replays' figures are means over five seeds, the calm day's over twenty:
//! slow in a debug build, so these are ignored in the ordinary run and CI runs them
//! (`cargo test --test main fidelity -- --ignored`).

use crate::support::{liqsim, repo_root};
use std::collections::BTreeMap;

struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    fn read(text: &str) -> Csv {
        let mut lines = text.lines();
        let header = lines.next().unwrap().split(',').map(str::to_string).collect();
        let rows = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
        Csv { header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
    }

    fn numbers(&self, name: &str) -> Vec<f64> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].parse().unwrap_or(0.0)).collect()
    }

    fn texts(&self, name: &str) -> Vec<String> {
        let c = self.col(name);
        self.rows.iter().map(|r| r[c].clone()).collect()
    }
}

struct Run {
    summary: serde_json::Value,
    liquidations: Csv,
    series: Csv,
}

fn run(scenario: &str, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["run", scenario, "--format", "json", "--out", dir.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    Run {
        summary: serde_json::from_str(&out.stdout).unwrap(),
        liquidations: Csv::read(&read("liquidations.csv")),
        series: Csv::read(&read("timeseries.csv")),
    }
}

/// Figures against their bands; panics listing every failure.
#[derive(Default)]
struct Check {
    lines: Vec<String>,
    failures: usize,
}

impl Check {
    fn within(&mut self, what: &str, value: f64, low: f64, high: f64) {
        let ok = (low..=high).contains(&value);
        self.failures += usize::from(!ok);
        let mark = if ok { "ok  " } else { "MISS" };
        self.lines.push(format!("{mark} {what}: {value:.3} (published band {low}..{high})"));
    }

    /// A figure the model does not meet yet (scenarios/README.md says why): reported,
    /// and a failure once it comes inside its band, so that it is asserted again.
    fn known_miss(&mut self, what: &str, value: f64, low: f64, high: f64) {
        let met = (low..=high).contains(&value);
        self.failures += usize::from(met);
        let mark = if met { "MET, assert it again:" } else { "MISS (known)" };
        self.lines.push(format!("{mark} {what}: {value:.3} (published band {low}..{high})"));
    }

    fn done(self, title: &str) {
        let report = format!("{title}\n{}", self.lines.join("\n"));
        eprintln!("{report}");
        assert_eq!(self.failures, 0, "{report}");
    }
}

fn figure(v: &serde_json::Value, path: &[&str]) -> f64 {
    path.iter().fold(v, |v, k| &v[*k]).as_f64().unwrap_or(f64::NAN)
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Liquidated notional per UTC minute (`YYYY-MM-DDTHH:MM`).
fn per_minute(r: &Run) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (utc, n) in r.liquidations.texts("utc").iter().zip(r.liquidations.numbers("notional")) {
        *out.entry(utc[..16].to_string()).or_insert(0.0) += n;
    }
    out
}

/// The replays' figures are the means over these seeds (the scenario's own seed is the
/// snapshots'): a band met at one seed and missed at the next is not met.
const REPLAY_SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// Each figure's mean over the replay seeds, with its range in the label.
fn over_seeds(scenario: &str, figures: impl Fn(&Run) -> Vec<f64>) -> Vec<(f64, String)> {
    let per_seed: Vec<Vec<f64>> = REPLAY_SEEDS
        .iter()
        .map(|seed| figures(&run(scenario, &["--seed", &seed.to_string()])))
        .collect();
    (0..per_seed[0].len())
        .map(|k| {
            let values: Vec<f64> = per_seed.iter().map(|f| f[k]).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let low = values.iter().copied().fold(f64::INFINITY, f64::min);
            let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (mean, format!("mean of {} seeds, range {low:.3}-{high:.3}", values.len()))
        })
        .collect()
}

#[test]
#[ignore = "slow in a debug build (5 runs): CI runs it with -- --ignored"]
fn october_2025_against_published_figures() {
    let f = over_seeds("scenarios/oct-2025-deleveraging.toml", |r| {
        let v = &r.summary;
        let minutes = per_minute(r);
        let total: f64 = minutes.values().sum();
        let cascade: f64 = minutes
            .iter()
            .filter(|(m, _)| m.as_str() >= "2025-10-10T20:50" && m.as_str() < "2025-10-10T21:25")
            .map(|(_, n)| n)
            .sum();
        vec![
            figure(v, &["liquidations", "per_peak_open_interest"]),
            figure(v, &["open_interest", "fall_from_peak"]),
            figure(v, &["liquidations", "long_share"]),
            cascade / total,
        ]
    });
    let mut c = Check::default();
    let label = |what: &str, k: usize| format!("{what} ({})", f[k].1);
    c.within(&label("liquidated notional / peak open interest", 0), f[0].0, 0.04, 0.25);
    // Market-wide band; BTC's own fall (about 19%) is what the runs come close to.
    c.known_miss(&label("open interest fall from peak", 1), f[1].0, 0.25, 0.60);
    c.within(&label("long share of liquidated notional", 2), f[2].0, 0.75, 0.95);
    c.within(&label("share of liquidated notional in 20:50-21:25 UTC", 3), f[3].0, 0.40, 1.0);
    c.done("10 October 2025 under the venue's rule");
}

#[test]
#[ignore = "slow in a debug build (5 runs): CI runs it with -- --ignored"]
fn black_thursday_against_published_figures() {
    // Per-minute liquidated notional against the replayed minutes' quote volume.
    let data = std::fs::read_to_string(
        repo_root().join("scenarios/data/binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv"),
    )
    .unwrap();
    let data = Csv::read(&data);
    let stamps = data.texts("timestamp_utc");
    let volume = data.numbers("quote_volume");
    let f = over_seeds("scenarios/black-thursday-2020.toml", |r| {
        let v = &r.summary;
        let liquidated = per_minute(r);
        let sim: Vec<f64> =
            stamps.iter().map(|s| liquidated.get(&s[..16]).copied().unwrap_or(0.0)).collect();
        vec![
            figure(v, &["open_interest", "fall_from_peak"]),
            figure(v, &["liquidations", "long_share"]),
            pearson(&sim, &volume),
        ]
    });
    let mut c = Check::default();
    let label = |what: &str, k: usize| format!("{what} ({})", f[k].1);
    c.within(&label("open interest fall from peak", 0), f[0].0, 0.25, 0.65);
    c.within(&label("long share of liquidated notional", 1), f[1].0, 0.80, 1.0);
    c.known_miss(
        &label("correlation of liquidated notional with quote volume, per minute", 2),
        f[2].0,
        0.6,
        1.0,
    );
    c.done("Black Thursday under the venue's rule");
}

#[test]
#[ignore = "slow in a debug build (20 runs): CI runs it with -- --ignored"]
fn calm_baseline_against_published_figures() {
    let seeds = 20;
    let (mut long, mut short, mut both) = (0.0, 0.0, 0);
    for seed in 1..=seeds {
        // The published shares were measured under BitMEX's fixed rule (up to 100x); the
        // scenario's own policy is es.
        let seed = seed.to_string();
        let r = run("scenarios/calm-baseline.toml", &["--seed", &seed, "--policy", "fixed"]);
        // Daily liquidated notional by side over the day's mean open interest notional.
        let oi = r.series.numbers("open_interest");
        let mark = r.series.numbers("mark");
        let mean_oi = oi.iter().zip(&mark).map(|(q, p)| q * p).sum::<f64>() / oi.len() as f64;
        let sides = r.liquidations.texts("side");
        let notional = r.liquidations.numbers("notional");
        let side = |s: &str| -> f64 {
            sides.iter().zip(&notional).filter(|(x, _)| *x == s).map(|(_, n)| n).sum::<f64>()
        };
        let (l, s) = (side("long") / mean_oi, side("short") / mean_oi);
        long += l / f64::from(seeds);
        short += s / f64::from(seeds);
        both += u32::from(l > 0.0 && s > 0.0);
    }
    let mut c = Check::default();
    c.within("long liquidations, share of open interest a day", long, 0.01, 0.07);
    c.within("short liquidations, share of open interest a day", short, 0.005, 0.04);
    c.within(
        "days with both sides liquidated, share",
        f64::from(both) / f64::from(seeds),
        0.5,
        1.0,
    );
    c.done("calm-baseline over 20 seeds");
}
