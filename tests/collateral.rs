//! Collateral through the CLI: every `[[collateral]]` key refused out of range with its
//! key, line and valid range; a depeg alone (the perpetual's price held) liquidating
//! holders whose positions did not move, under the checker after every event, its
//! liquidation logs (CSV and Parquet) flagging exactly those by collateral value; and a
//! run without collateral printing no collateral block.

use crate::support::{Scratch, liqsim};
use arrow_array::cast::AsArray;

/// A perpetual that barely moves, traders at 9x (10% initial, 8% maintenance) holding `share` of their deposit in
/// USDe, whose venue price follows `path` (TOML array of `{ at, price }`).
fn scenario(share: f64, path: &str) -> String {
    format!(
        r#"name = "collateral"
duration = "2h"
seed = 3

[market]
initial_price = 100.0
tick_size = 0.01
process = {{ kind = "gbm", vol = 0.01 }}

[[collateral]]
name = "USDe"
share = {share}
liquidation_discount = 0.02
haircuts = [{{ up_to = 1_000.0, rate = 0.05 }}, {{ rate = 0.1 }}]
path = {path}

[[agents]]
kind = "market_maker"
count = 2

[[agents]]
kind = "leveraged_trader"
count = 200
leverage = {{ dist = "constant", value = 9.0 }}
open_at_start = true

[margin]
policy = "fixed"
fixed.initial = 0.1
fixed.maintenance = 0.08
"#
    )
}

const DEPEG: &str = r#"[{ at = "0s", price = 1.0 }, { at = "30m", price = 1.0 }, { at = "35m", price = 0.5 }, { at = "1h", price = 0.5 }, { at = "1h5m", price = 1.0 }]"#;
const PEGGED: &str = r#"[{ at = "0s", price = 1.0 }]"#;

fn run(text: &str) -> serde_json::Value {
    run_with_log(text).0
}

/// The summary and the run's liquidations.csv; the Parquet log flags the same rows.
fn run_with_log(text: &str) -> (serde_json::Value, String) {
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", text);
    let dir = scratch.path().join("out");
    let args = ["run", path.to_str().unwrap(), "--format", "json", "--check", "--out"];
    let out = liqsim(&[&args[..], &[dir.to_str().unwrap()]].concat());
    assert_eq!(out.code, 0, "{}", out.stderr);
    let log = std::fs::read_to_string(dir.join("liquidations.csv")).unwrap();
    let header: Vec<&str> = log.lines().next().unwrap().split(',').collect();
    let flag = header.iter().position(|&h| h == "by_collateral").unwrap();
    let csv: Vec<bool> =
        log.lines().skip(1).map(|l| l.split(',').nth(flag) == Some("true")).collect();
    let parquet = crate::logs::read_parquet(&dir.join("liquidations.parquet"));
    let flags = parquet.column_by_name("by_collateral").unwrap().as_boolean();
    assert_eq!(flags.iter().map(Option::unwrap).collect::<Vec<_>>(), csv);
    (serde_json::from_str(&out.stdout).unwrap(), log)
}

/// The DEPEG path moves only over (30m, 35m] down and (1h, 1h5m] back up.
fn depeg_moves_at(time_s: f64) -> bool {
    (1800.0 < time_s && time_s <= 2100.0) || (3600.0 < time_s && time_s <= 3900.0)
}

#[test]
fn a_depeg_alone_liquidates_holders_and_every_ledger_stays_exact() {
    let (v, log) = run_with_log(&scenario(0.6, DEPEG));
    let c = &v["collateral"];
    assert_eq!(c["assets"][0], "USDe");
    let by_collateral = c["liquidations_by_collateral"].as_u64().unwrap();
    // The log flags exactly the liquidations the summary counts as by collateral, each at
    // a time the collateral's price moved.
    let mut lines = log.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|&h| h == name).unwrap();
    let (time, flag) = (column("time_s"), column("by_collateral"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let flagged: Vec<f64> =
        rows.iter().filter(|r| r[flag] == "true").map(|r| r[time].parse().unwrap()).collect();
    assert_eq!(flagged.len() as u64, by_collateral, "{c}");
    assert!(rows.iter().all(|r| r[flag] == "true" || r[flag] == "false"));
    for &t in &flagged {
        assert!(depeg_moves_at(t), "a liquidation by collateral at {t} s, the price held");
    }
    // A 9x trader holds about 97% of its deposit in equity at the start (60% of it in
    // USDe, 5% off), against maintenance of 8% x 9 = 72%; USDe at 0.5 leaves about
    // 40% + 60% x 0.5 x 0.95 = 68.5%: holders go on the depeg's way down, the
    // perpetual's price barely moving.
    // 89 of them at this seed; the perpetual liquidates nobody.
    assert!(by_collateral > 50, "{c}");
    assert_eq!(c["liquidations_by_position"], 0);
    assert!(c["converted"].as_f64().unwrap() > 0.0, "{c}");
    assert_eq!(v["conservation_error"], 0);
    // Held at 1.00, the same traders are not liquidated by collateral at all.
    let v = run(&scenario(0.6, PEGGED));
    assert_eq!(v["collateral"]["liquidations_by_collateral"], 0);
    assert_eq!(v["collateral"]["converted"], 0);
}

#[test]
fn a_run_without_collateral_prints_no_collateral_block() {
    let text = scenario(0.6, PEGGED);
    let start = text.find("[[collateral]]").unwrap();
    let end = text.find("[[agents]]").unwrap();
    let v = run(&format!("{}{}", &text[..start], &text[end..]));
    assert!(v.get("collateral").is_none(), "{v}");
}

/// (replace this, with that, the error names these).
const BAD: &[(&str, &str, &[&str])] = &[
    ("share = 0.6", "share = 1.5", &["s.toml:12:9", "collateral[0].share", "0 <= x <= 1"]),
    (
        "liquidation_discount = 0.02",
        "liquidation_discount = 0.9",
        &["collateral[0].liquidation_discount", "0 <= x <= 0.5"],
    ),
    (
        "{ rate = 0.1 }",
        "{ up_to = 5.0, rate = 0.1 }",
        &["collateral[0].haircuts[1].up_to", "no up_to on the last"],
    ),
    (
        "{ up_to = 1_000.0, rate = 0.05 }",
        "{ rate = 0.05 }",
        &["collateral[0].haircuts[0].up_to", "upper edge"],
    ),
    ("rate = 0.1 }", "rate = 1.1 }", &["collateral[0].haircuts[1].rate", "0 <= x <= 1"]),
    ("at = \"35m\"", "at = \"30m\"", &["collateral[0].path[2].at", "strictly increasing"]),
    (
        "price = 0.5 }, { at = \"1h\"",
        "price = 150.0 }, { at = \"1h\"",
        &["collateral[0].path[2].price", "100 times"],
    ),
    (
        "{ at = \"0s\", price = 1.0 }, { at = \"30m\"",
        "{ at = \"0s\", price = 0.0 }, { at = \"30m\"",
        &["collateral[0].path[0].price", "0.01 <= x"],
    ),
    ("at = \"1h5m\"", "at = \"400d\"", &["collateral[0].path[4].at", "out of range"]),
    ("name = \"USDe\"", "name = \"US De\"", &["collateral[0].name", "no spaces"]),
    ("share = 0.6", "share = 0.6\nprice = 1.0", &["collateral[0].price", "either price or"]),
    (
        "open_at_start = true",
        "open_at_start = true\nmargin_mode = \"isolated\"\nposition_share = 0.5",
        &["agents[1].margin_mode", "cross"],
    ),
];

#[test]
fn collateral_keys_out_of_range_name_key_line_and_range() {
    let valid = scenario(0.6, DEPEG);
    for (from, to, needles) in BAD {
        assert!(valid.contains(from), "fixture lacks {from:?}");
        let scratch = Scratch::new();
        let path = scratch.write("s.toml", valid.replacen(from, to, 1));
        let out = liqsim(&["validate", path.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{to}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        for n in *needles {
            assert!(out.stderr.contains(n), "{to}: {n:?} not in {}", out.stderr);
        }
    }
    // Two assets whose shares add up past 1.
    let two = valid.replacen(
        "[[agents]]",
        "[[collateral]]\nname = \"BTC\"\nshare = 0.5\nprice = 60000.0\n\n[[agents]]",
        1,
    );
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", &two);
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("collateral[1].share"), "{}", out.stderr);
    assert!(out.stderr.contains("summing to at most 1"), "{}", out.stderr);
}
