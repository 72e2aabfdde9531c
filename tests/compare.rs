//! `liqsim compare`: common random numbers and known answers.

use crate::support::{Scratch, liqsim};

const BASE: &str = r#"name = "known-answer"
duration = "2h"
seed = 3

[market]
initial_price = 100.0
tick_size = 0.01
process = { kind = "gbm", vol = 0.000001 }

[margin]
policy = "fixed"
method = "monte_carlo"
scenarios = 200

[insurance_fund]
initial = 0.0

[[agents]]
kind = "market_maker"
count = 2
deposit = { dist = "constant", value = 1000000.0 }
level_size = 5.0
pull_vol = 100.0

[[agents]]
kind = "leveraged_trader"
count = 300
leverage = { dist = "lognormal", median = 20.0, sigma = 0.5, max = 100.0 }
long_fraction = 0.8
"#;

fn compare_json(text: &str, extra: &[&str]) -> serde_json::Value {
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", text);
    let mut args = vec!["compare", path.to_str().unwrap(), "--seeds", "3", "--format", "json"];
    args.extend_from_slice(extra);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn a_flat_market_leaves_no_bad_debt_under_any_policy() {
    // No --policies: every policy.
    let v = compare_json(BASE, &[]);
    for policy in liqsim_scenario::Policy::NAMES {
        assert_eq!(v["policies"][policy]["bad_debt"]["max"], 0.0, "{policy}: {v}");
    }
}

#[test]
fn a_jump_past_maintenance_hurts_the_thinner_margin_more() {
    // A -30% jump at 1h, beyond every account's maintenance, with no ADL, so losses past
    // bankruptcy are bad debt (market makers keep quoting, so positions can be closed). Fixed 1%/0.5% against grid (16% moves): the policy holding
    // more margin has less bad debt.
    let text = format!(
        "{BASE}\n[liquidation]\nadl = false\n\n[[market.shocks]]\nat = \"1h\"\nkind = \"jump\"\nsize = -0.3\n"
    );
    let v = compare_json(&text, &["--policies", "fixed,grid"]);
    let fixed = v["policies"]["fixed"]["bad_debt"]["mean"].as_f64().unwrap();
    let grid = v["policies"]["grid"]["bad_debt"]["mean"].as_f64().unwrap();
    let margin = |p: &str| v["policies"][p]["mean_initial_margin"]["mean"].as_f64().unwrap();
    assert!(margin("grid") > margin("fixed"), "{v}");
    assert!(grid < fixed, "grid {grid} vs fixed {fixed}");
    assert!(grid > 0.0, "the jump exceeds grid's 16% too: some bad debt remains");
}

#[test]
fn every_policy_sees_the_same_price_path() {
    // With no index impact the index is the fundamental, which depends only on the seed.
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", BASE);
    let mut series = Vec::new();
    for policy in ["es", "fixed", "grid"] {
        let dir = scratch.write(&format!("{policy}.keep"), "");
        std::fs::remove_file(&dir).unwrap();
        let out = liqsim(&[
            "run",
            path.to_str().unwrap(),
            "--policy",
            policy,
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
        let index: Vec<String> =
            csv.lines().map(|l| l.split(',').nth(1).unwrap_or("").to_string()).collect();
        series.push(index);
    }
    assert!(series[0].len() > 100);
    assert_eq!(series[0], series[1]);
    assert_eq!(series[0], series[2]);
}

#[test]
fn compare_is_identical_for_one_and_two_threads() {
    let a = compare_json(BASE, &["--policies", "es,fixed", "--threads", "1"]);
    let b = compare_json(BASE, &["--policies", "es,fixed", "--threads", "2"]);
    assert_eq!(a, b);
}

/// Each worker runs a whole world at a time: a thread count beyond 1024 (or zero) is
/// refused up front, for compare and sweep alike, naming the flag and its range.
#[test]
fn a_thread_count_out_of_range_is_refused() {
    for (command, threads) in [("compare", "5000"), ("compare", "0"), ("sweep", "5000")] {
        let dir = tempfile::tempdir().unwrap();
        let mut args =
            vec![command, "scenarios/quickstart.toml", "--seeds", "1", "--threads", threads];
        if command == "sweep" {
            args.extend(["--out", dir.path().to_str().unwrap()]);
        }
        let out = liqsim(&args);
        assert_eq!(out.code, 2, "{command} --threads {threads}: {}", out.stderr);
        assert!(
            out.stderr.contains("--threads") && out.stderr.contains("1..=1024"),
            "{}",
            out.stderr
        );
    }
}
