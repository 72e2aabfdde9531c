//! Options in the world: writers liquidated when volatility reprices the chain, cash
//! settlement at expiry with every invariant checked after every event, and option
//! holders margined under every policy.

use crate::support::{Scratch, liqsim};

const EXPIRING: &str = r#"name = "expiring-chain"
duration = "3h"
seed = 4

[market]
initial_price = 60000.0
tick_size = 0.5
process = { kind = "gbm", vol = 0.8 }

[[market.shocks]]
at = "1h30m"
kind = "jump"
size = -0.08

[[instruments]]
kind = "perpetual"
symbol = "PERP"

[[instruments]]
kind = "option_chain"
symbol = "OPT"
expiries = ["2h", "1d"]
strikes = [0.9, 1.0, 1.1]

[margin]
policy = "fixed"
method = "monte_carlo"
scenarios = 300

[insurance_fund]
initial = 100000.0

[[agents]]
kind = "market_maker"
count = 2
deposit = { dist = "constant", value = 5000000.0 }

[[agents]]
kind = "option_market_maker"
count = 1
deposit = { dist = "constant", value = 5000000.0 }

[[agents]]
kind = "option_writer"
count = 60
leverage = { dist = "lognormal", median = 5.0, sigma = 0.5, max = 20.0 }
wake = "10m"

[[agents]]
kind = "option_buyer"
count = 40
wake = "10m"
"#;

fn run(text: &str, extra: &[&str]) -> serde_json::Value {
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", text);
    let mut args = vec!["run", path.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap()
}

#[test]
fn an_expiring_chain_settles_with_every_invariant_after_every_event() {
    // --check runs the exchange's checker after every event: cash conserved, each
    // series' long and short lots equal, the settlement pool back at zero after expiry.
    let v = run(EXPIRING, &["--check"]);
    assert_eq!(v["conservation_error"], 0);
    let o = &v["options"];
    // 2 expiries x 3 strikes x call and put.
    assert_eq!(o["series"], 12);
    assert!(o["premium_volume"].as_f64().unwrap() > 1000.0, "{o}");
    // The 2h puts finished in the money after the -8% jump: shorts paid longs.
    assert!(o["settled"].as_f64().unwrap() > 0.0, "{o}");
}

#[test]
fn option_holders_are_margined_under_every_policy() {
    let mut margins = Vec::new();
    for policy in liqsim_scenario::Policy::NAMES {
        let v = run(EXPIRING, &["--policy", policy]);
        assert_eq!(v["conservation_error"], 0, "{policy}");
        assert_eq!(v["policy"], policy);
        margins.push(v["margin"]["mean_initial"].as_f64().unwrap());
    }
    assert!(margins.iter().all(|m| *m > 0.0), "{margins:?}");
    // The policies differ: the same book is charged as many different amounts.
    let mut sorted = margins.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    assert_eq!(sorted.len(), liqsim_scenario::Policy::NAMES.len(), "{margins:?}");
}

#[test]
fn a_volatility_shock_liquidates_option_writers_before_the_price_moves() {
    let dir = tempfile::tempdir().unwrap();
    let out = liqsim(&[
        "run",
        "scenarios/options-gamma-squeeze.toml",
        "--set",
        "agents[2].count=600",
        "--set",
        "agents[3].count=300",
        "--set",
        "agents[4].count=1000",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows = std::fs::read_to_string(dir.path().join("liquidations.csv")).unwrap();
    let times: Vec<(f64, f64)> = rows
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].parse().unwrap(), f[6].parse().unwrap())
        })
        .collect();
    // The volatility window opens at 10h, the jump comes at 12h.
    let (vol_start, jump) = (36_000.0, 43_200.0);
    assert!(times.iter().all(|(t, _)| *t >= vol_start), "a liquidation before the shock");
    let repriced: Vec<_> = times.iter().filter(|(t, _)| *t < jump).collect();
    assert!(repriced.len() >= 10, "{} liquidations between the shocks", repriced.len());
    // Those first ones came with the price within 3% of where it started.
    let first_mark = repriced[0].1;
    assert!((first_mark / 60_000.0 - 1.0).abs() < 0.03, "mark {first_mark}");
}
