//! The kernel's world seen through `liqsim run --out`: a constructed liquidation ladder
//! that cascades through a thin book under a last-trade mark, the stylized facts of an
//! SVCJ index against a GBM one, and which side a crash in a long-heavy market liquidates.

use crate::support::{Scratch, liqsim};

/// A CSV file of the run's output directory: no field of these files is quoted.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &std::path::Path) -> Table {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().split(',').map(str::to_string).collect();
        let rows = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
        Table { header, rows }
    }

    fn column(&self, name: &str) -> Vec<&str> {
        let k = self
            .header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header));
        self.rows.iter().map(|r| r[k].as_str()).collect()
    }

    fn numbers(&self, name: &str) -> Vec<f64> {
        self.column(name).iter().map(|v| v.parse().unwrap()).collect()
    }
}

/// What `liqsim run --format json --out DIR` produced.
struct Run {
    summary: serde_json::Value,
    liquidations: Table,
    series: Table,
}

fn run(scenario: &str, seed: &str, extra: &[&str]) -> Run {
    let scratch = Scratch::new();
    let path = scratch.write("scenario.toml", scenario);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let mut args = vec!["run", path.to_str().unwrap(), "--seed", seed, "--format", "json"];
    args.extend_from_slice(&["--out", dir]);
    args.extend_from_slice(extra);
    let result = liqsim(&args);
    assert_eq!(result.code, 0, "{}", result.stderr);
    let summary: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(summary["conservation_error"], 0, "seed {seed}");
    Run {
        summary,
        liquidations: Table::read(&out.path().join("liquidations.csv")),
        series: Table::read(&out.path().join("timeseries.csv")),
    }
}

// The ladder. A last-trade mark does not move with the index: after the -2% jump the
// mark stays at the last print until someone trades. A momentum trader sells one lot
// into the maker's first bid; from then on each liquidation's sale walks the maker's
// bids, and its last fill is the mark that the next rung is checked against, within the
// same instant (the maker requotes only after the liquidation loop).

const PRICE: f64 = 60_000.0;
const JUMP: f64 = -0.02;
const MAINTENANCE: f64 = 0.02;
/// Every rung holds about 5 BTC; the maker's levels hold 2.6, so each rung's sale eats
/// 1.92 levels: after rung k the last print is bid level 2k, never near a level's edge
/// (1.92 k stays at least 0.08 levels from a whole number for k <= 5).
const RUNG_QTY: f64 = 5.0;
const LEVEL_SIZE: f64 = 2.6;
/// Distance between the maker's bid levels in the cascade, as a fraction of the price:
/// its 0.01% half-spread widened by realized volatility over 50%; the one-second -2%
/// jump lifts the 60-second EWMA of realized volatility to about 1460% (annualized), a
/// widening of 29.18.
const SPACING: f64 = 0.002918;
/// Each rung's trigger in level spacings below the post-jump price F: the momentum
/// print (level 1) crosses only the first; rung k's last fill (level 2k) crosses only
/// rung k + 1, whose trigger sits mid-way between level 2k - 2 and level 2k (rung 2:
/// between levels 1 and 2). Each trigger is at least half a spacing (0.15%) from the
/// prints around it.
const TRIGGERS: [f64; 5] = [-0.5, 1.5, 3.0, 5.0, 7.0];

/// The leverage of a long entered at `PRICE` whose maintenance trigger is `trigger`:
/// equity D + q (T - P) = m q T with D = q P / L gives 1 / L = 1 - (1 - m) T / P.
fn leverage_for(trigger: f64) -> f64 {
    1.0 / (1.0 - (1.0 - MAINTENANCE) * trigger / PRICE)
}

fn ladder() -> (String, Vec<f64>) {
    let mut text = format!(
        r#"name = "ladder"
duration = "3h"

[market]
initial_price = {PRICE}
tick_size = 0.5
process = {{ kind = "gbm", vol = 0.0001 }}
mark = {{ rule = "last" }}

[[market.shocks]]
at = "2h"
kind = "jump"
size = {JUMP}

[margin]
policy = "fixed"
fixed = {{ initial = 0.035, maintenance = {MAINTENANCE} }}

[liquidation]
partial = false
fee = 0.0

[fees]
maker = 0.0
taker = 0.0

[insurance_fund]
initial = 1000000.0

[[agents]]
kind = "market_maker"
deposit = {{ dist = "constant", value = 100000000.0 }}
spread = 0.0001
levels = 40
level_size = {LEVEL_SIZE}
pull_vol = 100.0

[[agents]]
kind = "momentum"
deposit = {{ dist = "constant", value = 100.0 }}
leverage = {{ dist = "constant", value = 1.0 }}
lookback = "5s"
latency = {{ dist = "constant", value = 0.0 }}
"#
    );
    let fair = PRICE * (1.0 + JUMP);
    let mut leverages = Vec::new();
    for x in TRIGGERS {
        let leverage = leverage_for(fair * (1.0 - x * SPACING));
        let deposit = RUNG_QTY * PRICE / leverage;
        text.push_str(&format!(
            r#"
[[agents]]
kind = "leveraged_trader"
deposit = {{ dist = "constant", value = {deposit:.2} }}
leverage = {{ dist = "constant", value = {leverage:.3} }}
long_fraction = 1.0
add_margin_probability = 0.0
"#
        ));
        leverages.push(leverage);
    }
    (text, leverages)
}

#[test]
fn a_constructed_ladder_cascades_in_order() {
    let (scenario, leverages) = ladder();
    // Account 0 is the maker, 1 the momentum trader, 2.. the rungs: highest leverage first.
    assert!(leverages.windows(2).all(|w| w[0] > w[1]), "{leverages:?}");
    let rungs: Vec<String> = (2..2 + leverages.len()).map(|a| a.to_string()).collect();
    for seed in ["1", "2"] {
        let r = run(&scenario, seed, &[]);
        let l = &r.liquidations;
        assert_eq!(l.column("account"), rungs, "seed {seed}: ladder order");
        assert!(l.column("side").iter().all(|s| *s == "long"));
        let causes = l.column("caused_by");
        assert_eq!(causes, ["", "0", "1", "2", "3"], "seed {seed}: each caused by the one before");
        assert_eq!(l.column("cause")[0], "exogenous");
        assert_eq!(l.column("depth"), ["0", "1", "2", "3", "4"], "seed {seed}");
        assert_eq!(r.summary["cascade"]["max_depth"], leverages.len() - 1, "seed {seed}");
        // One instant, the second after the jump: the momentum trader sold in between.
        let times = l.numbers("time_s");
        assert!(times.iter().all(|t| *t == 7201.0), "seed {seed}: {times:?}");
        // Each rung was checked against the last fill of the one before, lower each time,
        // and every sale stayed above its bankruptcy price.
        let marks = l.numbers("mark");
        assert!(marks.windows(2).all(|w| w[1] < w[0]), "seed {seed}: {marks:?}");
        assert_eq!(r.summary["bad_debt"], 0, "seed {seed}");
        // Amplification: all liquidated notional over what the exogenous move liquidated.
        let notional = l.numbers("notional");
        let exogenous: f64 =
            notional.iter().zip(&causes).filter(|(_, c)| c.is_empty()).map(|(n, _)| n).sum();
        let expected = notional.iter().sum::<f64>() / exogenous;
        let reported = r.summary["cascade"]["amplification"].as_f64().unwrap();
        assert!((reported - expected).abs() < 2e-6, "seed {seed}: {reported} vs {expected}");
        assert!(expected > 4.8, "five rungs of about the same size: {expected}");
    }
    // The control: with the index as mark nothing prints the next rung's trigger, and the
    // jump alone takes the first rung only.
    let r = run(&scenario, "1", &["--set", "market.mark.rule=index"]);
    assert_eq!(r.liquidations.column("account"), ["2"]);
    assert_eq!(r.summary["cascade"]["amplification"].as_f64(), Some(1.0));
}

/// 1-minute log returns of the index over four simulated days of `process`, with a
/// handful of agents (the index is the process's: no impact configured).
fn minute_returns(process: &str, seed: &str) -> Vec<f64> {
    let scenario = format!(
        r#"name = "returns"
duration = "4d"

[market]
initial_price = 60000.0
tick_size = 0.5
process = {process}

[[agents]]
kind = "market_maker"

[[agents]]
kind = "leveraged_trader"
count = 10
"#
    );
    let index = run(&scenario, seed, &[]).series.numbers("index_price");
    assert_eq!(index.len(), 4 * 1440, "one sample a minute");
    index.windows(2).map(|w| (w[1] / w[0]).ln()).collect()
}

/// (excess kurtosis, autocorrelations of squared returns at lags 1..=5).
fn tails_and_clustering(r: &[f64]) -> (f64, Vec<f64>) {
    let n = r.len() as f64;
    let mean = r.iter().sum::<f64>() / n;
    let squares: Vec<f64> = r.iter().map(|x| (x - mean).powi(2)).collect();
    let variance = squares.iter().sum::<f64>() / n;
    let kurtosis = squares.iter().map(|s| s * s).sum::<f64>() / n / (variance * variance) - 3.0;
    let spread: f64 = squares.iter().map(|s| (s - variance).powi(2)).sum();
    let acf = (1..=5)
        .map(|lag| {
            squares.windows(lag + 1).map(|w| (w[0] - variance) * (w[lag] - variance)).sum::<f64>()
                / spread
        })
        .collect();
    (kurtosis, acf)
}

#[test]
fn synthetic_returns_have_fat_tails_and_volatility_clustering() {
    // Daily units: variance mean-reverting over about 6 hours with a volatility of
    // variance of its own size, variance jumps with the price jumps (5 a day, 0.4%).
    let svcj = r#"{ kind = "svcj", units = "day", kappa = 4.0, theta = 0.0009, sigma_v = 0.15, rho = -0.5, v0 = 0.0009, jump_intensity = 5.0, jump_mean = 0.0, jump_vol = 0.004, jump_var_mean = 0.002 }"#;
    let gbm = r#"{ kind = "gbm", vol = 0.6 }"#;
    for seed in ["1", "2"] {
        let r = minute_returns(svcj, seed);
        // A zero autocorrelation over n returns has a standard error of 1 / sqrt(n).
        let noise = 3.0 / (r.len() as f64).sqrt();
        let (kurtosis, acf) = tails_and_clustering(&r);
        assert!(kurtosis > 1.0, "seed {seed}: SVCJ excess kurtosis {kurtosis}");
        let clustering = acf.iter().sum::<f64>() / acf.len() as f64;
        assert!(clustering > noise.max(0.05), "seed {seed}: SVCJ clustering {acf:?}");
        assert!(acf.iter().all(|a| *a > noise), "seed {seed}: SVCJ clustering {acf:?}");

        let control = minute_returns(gbm, seed);
        assert_eq!(control.len(), r.len());
        let (kurtosis, acf) = tails_and_clustering(&control);
        assert!(kurtosis.abs() < 0.5, "seed {seed}: GBM excess kurtosis {kurtosis}");
        let clustering = acf.iter().sum::<f64>() / acf.len() as f64;
        assert!(clustering.abs() < noise, "seed {seed}: GBM clustering {acf:?}");
    }
}

#[test]
fn a_crash_in_a_long_heavy_market_liquidates_mostly_longs() {
    // Real volatility (80% a year) so that high-leverage shorts are liquidated too before
    // the jump, and the comparison is between two non-zero numbers.
    let scenario = r#"name = "crash"
duration = "6h"

[market]
initial_price = 60000.0
tick_size = 0.5
process = { kind = "gbm", vol = 0.8 }

[[market.shocks]]
at = "3h"
kind = "jump"
size = -0.15

[margin]
policy = "fixed"

[insurance_fund]
initial = 1000000.0

[[agents]]
kind = "market_maker"
count = 2
deposit = { dist = "constant", value = 5000000.0 }
spread = 0.0004
levels = 20
level_size = 1.0

[[agents]]
kind = "leveraged_trader"
count = 2000
deposit = { dist = "lognormal", median = 2000.0, sigma = 1.0, max = 200000.0 }
leverage = { dist = "lognormal", median = 15.0, sigma = 0.7, max = 100.0 }
long_fraction = 0.85
"#;
    for seed in ["1", "2"] {
        let r = run(scenario, seed, &[]);
        let totals = &r.summary["liquidations"];
        let number = |key: &str| totals[key].as_f64().unwrap();
        let (long, short) = (number("long_count"), number("short_count"));
        let (long_notional, short_notional) = (number("long_notional"), number("short_notional"));
        assert!(short > 0.0, "seed {seed}: no short was liquidated, the ratio says nothing");
        assert!(long > 5.0 * short, "seed {seed}: {long} long, {short} short");
        assert!(
            long_notional > 5.0 * short_notional,
            "seed {seed}: {long_notional} long, {short_notional} short"
        );
        // The CSV agrees with the summary, and the longs went in the crash.
        let l = &r.liquidations;
        let sides = l.column("side");
        let longs = sides.iter().filter(|s| **s == "long").count();
        assert_eq!(longs as f64, long, "seed {seed}");
        assert_eq!(sides.len() as f64, long + short, "seed {seed}");
        let csv_long_notional: f64 = l
            .numbers("notional")
            .iter()
            .zip(&sides)
            .filter(|(_, s)| **s == "long")
            .map(|(n, _)| n)
            .sum();
        assert!((csv_long_notional / long_notional - 1.0).abs() < 1e-9, "seed {seed}");
        let times = l.numbers("time_s");
        let after_jump = sides.iter().zip(&times).filter(|(s, t)| **s == "long" && **t >= 10_800.0);
        assert!(after_jump.count() as f64 > 0.75 * long, "seed {seed}: longs not in the crash");
    }
}
