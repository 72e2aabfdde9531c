//! A constructed cascade with a known answer: a ladder of long accounts whose
//! liquidation prices sit one below another, and an index that each liquidation's
//! selling moves (log impact 0.02 per million of net flow), so that a -1.7% jump
//! liquidates the first and each liquidation's fills trigger the next.

use crate::support::{Scratch, liqsim};

/// One trader group of a single long account at `leverage` (10,000 deposit).
fn rung(leverage: f64) -> String {
    format!(
        r#"
[[agents]]
kind = "leveraged_trader"
deposit = {{ dist = "constant", value = 10000.0 }}
leverage = {{ dist = "constant", value = {leverage} }}
long_fraction = 1.0
add_margin_probability = 0.0
"#
    )
}

fn ladder(impact: f64) -> String {
    let mut text = format!(
        r#"name = "ladder"
duration = "3h"
seed = 1

[market]
initial_price = 60000.0
tick_size = 0.5
process = {{ kind = "gbm", vol = 0.0001 }}
index = {{ impact = {impact}, decay = "1s" }}
mark = {{ rule = "index" }}

[[market.shocks]]
at = "2h"
kind = "jump"
size = -0.017

[margin]
policy = "fixed"
fixed = {{ initial = 0.01, maintenance = 0.005 }}

[liquidation]
partial = false
fee = 0.0

[insurance_fund]
initial = 10000000.0

[[agents]]
kind = "market_maker"
count = 1
deposit = {{ dist = "constant", value = 100000000.0 }}
spread = 0.0001
levels = 200
level_size = 1.0
pull_vol = 100.0
"#
    );
    // 50x sits 1.5% above its liquidation, 40x 2%, 30x 2.8%, 24x 3.7%, 20x 4.5%.
    for leverage in [50.0, 40.0, 30.0, 24.0, 20.0] {
        text.push_str(&rung(leverage));
    }
    text
}

/// (account, caused_by, depth, notional) of one liquidation.
type Row = (u32, Option<u32>, u32, f64);

/// The liquidations of a ladder run, and its summary.
fn run(impact: f64, seed: &str) -> (Vec<Row>, serde_json::Value) {
    let scratch = Scratch::new();
    let path = scratch.write("ladder.toml", ladder(impact));
    let out_dir = tempfile::tempdir().unwrap();
    let out = liqsim(&[
        "run",
        path.to_str().unwrap(),
        "--seed",
        seed,
        "--format",
        "json",
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let csv = std::fs::read_to_string(out_dir.path().join("liquidations.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (account, caused_by, depth, notional) =
        (col("account"), col("caused_by"), col("depth"), col("notional"));
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[account].parse().unwrap(),
                f[caused_by].parse().ok(),
                f[depth].parse().unwrap(),
                f[notional].parse().unwrap(),
            )
        })
        .collect();
    (rows, serde_json::from_str(&out.stdout).unwrap())
}

#[test]
fn each_liquidation_of_the_ladder_triggers_the_next() {
    for seed in ["1", "2"] {
        let (rows, summary) = run(0.02, seed);
        // Account 0 is the market maker; the rungs are accounts 1..=5, highest leverage
        // first. Each is liquidated in turn, the first by the jump, each next one by the
        // one before it.
        let accounts: Vec<u32> = rows.iter().map(|r| r.0).collect();
        assert_eq!(accounts, [1, 2, 3, 4, 5], "seed {seed}");
        let causes: Vec<Option<u32>> = rows.iter().map(|r| r.1).collect();
        assert_eq!(causes, [None, Some(0), Some(1), Some(2), Some(3)], "seed {seed}");
        let depths: Vec<u32> = rows.iter().map(|r| r.2).collect();
        assert_eq!(depths, [0, 1, 2, 3, 4]);
        assert_eq!(summary["cascade"]["max_depth"], 4);
        // Amplification: all liquidated notional over what the jump alone liquidated.
        let total: f64 = rows.iter().map(|r| r.3).sum();
        let expected = total / rows[0].3;
        let reported = summary["cascade"]["amplification"].as_f64().unwrap();
        assert!((reported - expected).abs() < 1e-6, "{reported} vs {expected}");
        assert!(expected > 3.0, "five rungs of falling size: {expected}");
        assert_eq!(summary["conservation_error"], 0);
    }
}

#[test]
fn without_price_impact_the_jump_takes_only_the_first_rung() {
    let (rows, summary) = run(0.0, "1");
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [1]);
    assert_eq!(summary["cascade"]["max_depth"], 0);
    assert_eq!(summary["cascade"]["amplification"].as_f64(), Some(1.0));
}
