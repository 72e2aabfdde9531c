//! Valid input at its extremes runs to the end with money conserved, or is refused by
//! validation (exit 2) naming the file, line, key and valid range: never exit 1.

use crate::support::{liqsim, repo_root};
use std::path::Path;

fn conservation_error(stdout: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout).expect("run --format json");
    v["conservation_error"].to_string()
}

/// Runs `file` with `sets` and asserts a clean finish with money conserved.
fn runs_conserving(file: &str, sets: &[String]) {
    let mut args = vec!["run", file, "--format", "json"];
    for s in sets {
        args.extend(["--set", s.as_str()]);
    }
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{sets:?}: {}", out.stderr);
    assert_eq!(conservation_error(&out.stdout), "0", "{sets:?}");
}

/// A crash of -85% to -99% and a +1,000% spike, under every policy and every way of
/// building margin scenarios: filtered history after a -85% jump rescales returns by tens
/// and prices a short's loss beyond any rate money can be multiplied by, which the
/// schedule caps.
#[test]
fn jumps_from_minus_99_percent_to_plus_1000_percent_run_under_every_policy_and_method() {
    for size in ["-0.85", "-0.99", "10.0"] {
        for policy in ["es", "var", "fixed", "grid", "greeks"] {
            for method in ["historical", "filtered_historical", "monte_carlo"] {
                runs_conserving(
                    "scenarios/vol-spike.toml",
                    &[
                        "duration=\"1h\"".into(),
                        format!("market.shocks=[{{kind=\"jump\", at=\"30m\", size={size}}}]"),
                        format!("margin.policy=\"{policy}\""),
                        format!("margin.method=\"{method}\""),
                        "agents[1].count=200".into(),
                    ],
                );
            }
        }
    }
}

/// A thousand accounts of 1e10 hold more than i64 micro-units between them.
#[test]
fn deposits_summing_past_the_i64_range_are_conserved() {
    runs_conserving(
        "scenarios/quickstart.toml",
        &[
            "duration=\"10m\"".into(),
            "market.shocks[0].at=\"5m\"".into(),
            "agents[1].count=1000".into(),
            "agents[1].deposit={dist=\"constant\", value=1e10}".into(),
        ],
    );
}

#[test]
fn svcj_jump_intensity_at_its_maximum_runs() {
    for policy in ["es", "fixed", "grid"] {
        runs_conserving(
            "scenarios/vol-spike.toml",
            &[
                "duration=\"1h\"".into(),
                "market.shocks=[]".into(),
                "market.process.jump_intensity=1e6".into(),
                format!("margin.policy=\"{policy}\""),
                "agents[1].count=200".into(),
            ],
        );
    }
}

/// A copy of a bundled data file with the prices of one row replaced.
fn with_row_prices(scratch: &Path, data: &str, name: &str, row: usize, price: &str) {
    let text = std::fs::read_to_string(repo_root().join("scenarios/data").join(data)).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut fields: Vec<String> = lines[row].split(',').map(String::from).collect();
    for f in &mut fields[1..5] {
        *f = price.to_string();
    }
    lines[row] = fields.join(",");
    std::fs::write(scratch.join(name), lines.join("\n") + "\n").unwrap();
}

const REPLAY: &str = "binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv";
const DAILY: &str = "binance_spot_btcusdt_1d_2017-08-17_2025-12-31.csv";

/// Black Thursday with its replay or its margin history replaced by `name`.
fn black_thursday_with(scratch: &Path, replay: Option<&str>, history: Option<&str>) -> String {
    let text =
        std::fs::read_to_string(repo_root().join("scenarios/black-thursday-2020.toml")).unwrap();
    let mut text = text;
    if let Some(r) = replay {
        text = text.replace(&format!("data/{REPLAY}"), r);
    }
    if let Some(h) = history {
        text = text.replace(&format!("data/{DAILY}"), h);
    }
    std::fs::create_dir_all(scratch.join("data")).unwrap();
    for data in [REPLAY, DAILY] {
        let copy = scratch.join("data").join(data);
        if !copy.exists() {
            std::fs::copy(repo_root().join("scenarios/data").join(data), copy).unwrap();
        }
    }
    let file = scratch.join("bt.toml");
    std::fs::write(&file, text).unwrap();
    file.display().to_string()
}

#[test]
fn prices_out_of_range_in_data_files_are_refused_by_validate_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path();
    // Line 12 of the file is data row 11 (after the header).
    let cases = [
        (Some("r.csv"), None, "1e300", "r.csv:12:2: key `market.process.file`: column `open`"),
        (Some("r.csv"), None, "1e9", "r.csv:12:3: key `market.process.file`: column `high`"),
        (None, Some("h.csv"), "1e12", "h.csv:12:2: key `margin.history`: column `open`"),
    ];
    for (replay, history, price, needle) in cases {
        let data = if replay.is_some() { REPLAY } else { DAILY };
        with_row_prices(scratch, data, replay.or(history).unwrap(), 11, price);
        let file = black_thursday_with(scratch, replay, history);
        let out = liqsim(&["validate", &file]);
        assert_eq!(out.code, 2, "{price}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{needle} not in {}", out.stderr);
        assert!(out.stderr.contains("(valid: "), "{}", out.stderr);
    }
    // A history only gives returns: a bar a hundred times the last one runs.
    with_row_prices(scratch, DAILY, "h.csv", 800, "1e9");
    let file = black_thursday_with(scratch, None, Some("h.csv"));
    for method in ["historical", "filtered_historical"] {
        runs_conserving(&file, &[format!("margin.method=\"{method}\"")]);
    }
}

/// Option writers under `es`/`var` with a jump volatility of 5: Monte Carlo draws price a
/// short option's loss beyond any amount of money; the requirement is capped at 100
/// times the underlying held, as the perpetual rates are.
#[test]
fn option_writers_under_a_jump_volatility_of_5_run_under_es_and_var() {
    for policy in ["es", "var"] {
        runs_conserving(
            "scenarios/perf-1m.toml",
            &[
                "duration=\"20m\"".into(),
                "margin_metrics_interval=\"5m\"".into(),
                "market.shocks[0].at=\"10m\"".into(),
                "market.process.jump_vol=5".into(),
                format!("margin.policy=\"{policy}\""),
                "agents[2].count=20".into(),
                "agents[3].count=20".into(),
            ],
        );
    }
}
