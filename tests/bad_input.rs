//! Bad input gets a clear error and exit code 2, never a panic: each case asserts the
//! message names the key (or file position) and the valid range.

use crate::support::{Scratch, VALID, liqsim};
use proptest::prelude::*;

/// Runs `validate` (with extra args) on `text` and returns stderr, asserting exit code 2.
fn rejects(text: &str, extra: &[&str]) -> String {
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", text);
    let path = path.to_str().expect("utf-8 temp path");
    let mut args = vec!["run", path];
    args.extend_from_slice(extra);
    let out = liqsim(&args);
    assert_eq!(out.code, 2, "expected exit code 2; stderr: {}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "panic: {}", out.stderr);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    out.stderr
}

fn replace(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "test fixture lacks {from:?}");
    VALID.replacen(from, to, 1)
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(haystack.contains(needle), "{needle:?} not in {haystack:?}");
    }
}

#[test]
fn the_valid_fixture_is_valid() {
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", VALID);
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("ok "), "{}", out.stdout);
}

#[test]
fn syntax_error_names_line_and_column() {
    let e = rejects(&replace("tick_size = 0.01", "tick_size = = 0.01"), &[]);
    assert_contains(&e, &["s.toml:6:13", "TOML syntax error"]);
}

#[test]
fn unknown_key_is_named_with_the_accepted_ones() {
    let e = rejects(&replace("tick_size = 0.01", "tick_size = 0.01\ntick_sise = 0.01"), &[]);
    assert_contains(
        &e,
        &["s.toml:7:1", "key `market.tick_sise`", "unknown field `tick_sise`", "initial_price"],
    );
}

#[test]
fn wrong_type() {
    let e = rejects(&replace("count = 10", "count = \"ten\""), &[]);
    assert_contains(&e, &["s.toml:16:9", "key `agents[0].count`", "invalid type"]);
}

#[test]
fn missing_required_field() {
    let e = rejects(&replace("duration = \"1h\"\n", ""), &[]);
    assert_contains(&e, &["missing field `duration`", "valid: see scenarios/README.md"]);
}

#[test]
fn negative_price() {
    let e = rejects(&replace("initial_price = 100.0", "initial_price = -5.0"), &[]);
    assert_contains(
        &e,
        &[
            "s.toml:5:17",
            "key `market.initial_price`",
            "-5 is out of range",
            "valid: 0 < x <= 1000000000",
        ],
    );
}

#[test]
fn zero_price() {
    let e = rejects(&replace("initial_price = 100.0", "initial_price = 0.0"), &[]);
    assert_contains(&e, &["key `market.initial_price`", "0 is out of range", "valid: 0 < x"]);
}

#[test]
fn quote_currency_that_is_not_a_code() {
    for bad in ["\"\"", "\"US DOLLAR\"", "\"USD/T\"", "\"ABCDEFGHIJKLM\""] {
        let e = rejects(VALID, &["--set", &format!("market.quote_currency={bad}")]);
        assert_contains(
            &e,
            &["key `market.quote_currency`", "valid: 1 to 12 ASCII letters or digits"],
        );
    }
}

#[test]
fn tick_size_not_positive() {
    let e = rejects(&replace("tick_size = 0.01", "tick_size = 0.0"), &[]);
    assert_contains(&e, &["s.toml:6:13", "key `market.tick_size`", "valid: 0 < x"]);
}

#[test]
fn confidence_outside_the_unit_interval() {
    for bad in ["1.0", "0.0", "1.5", "-0.2"] {
        let e = rejects(&replace("confidence = 0.99", &format!("confidence = {bad}")), &[]);
        assert_contains(&e, &["s.toml:11:14", "key `margin.confidence`", "valid: 0 < x < 1"]);
    }
}

#[test]
fn malformed_duration() {
    let e = rejects(&replace("duration = \"1h\"", "duration = \"1 hour\""), &[]);
    assert_contains(&e, &["s.toml:2:12", "key `duration`", "valid: a duration such as"]);
    let e = rejects(&replace("duration = \"1h\"", "duration = \"6x\""), &[]);
    assert_contains(&e, &["unknown unit `x`"]);
}

#[test]
fn zero_duration() {
    let e = rejects(&replace("duration = \"1h\"", "duration = \"0s\""), &[]);
    assert_contains(&e, &["key `duration`", "out of range", "valid: 1s to"]);
}

#[test]
fn agent_count_zero_or_absurd() {
    for bad in ["0", "10000001", "-3"] {
        let e = rejects(&replace("count = 10", &format!("count = {bad}")), &[]);
        assert_contains(
            &e,
            &["s.toml:16:9", "key `agents[0].count`", "valid: 1 <= count <= 10000000"],
        );
    }
}

#[test]
fn empty_file() {
    let e = rejects("  \n\n", &[]);
    assert_contains(&e, &["s.toml", "the file is empty"]);
}

#[test]
fn binary_garbage() {
    let scratch = Scratch::new();
    let path = scratch.write("g.toml", [0x7fu8, 0x45, 0x4c, 0x46, 0xff, 0xfe, 0x00, 0x01]);
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert_contains(&out.stderr, &["g.toml:1:5", "not UTF-8 text"]);
}

#[test]
fn missing_file() {
    let out = liqsim(&["validate", "scenarios/no-such-scenario.toml"]);
    assert_eq!(out.code, 2);
    assert_contains(&out.stderr, &["scenarios/no-such-scenario.toml", "cannot read"]);
}

#[test]
fn directory_instead_of_a_file() {
    let out = liqsim(&["validate", "scenarios"]);
    assert_eq!(out.code, 2);
    assert_contains(&out.stderr, &["scenarios: is a directory"]);
}

#[test]
fn set_on_an_unknown_path() {
    let e = rejects(VALID, &["--set", "margin.confidance=0.9"]);
    assert_contains(
        &e,
        &["--set margin.confidance=0.9", "unknown field `confidance`", "confidence"],
    );
}

#[test]
fn set_with_a_value_of_the_wrong_type() {
    let e = rejects(VALID, &["--set", "margin.confidence=high"]);
    assert_contains(
        &e,
        &["--set margin.confidence=high", "key `margin.confidence`", "invalid type"],
    );
}

#[test]
fn set_with_a_value_out_of_range() {
    let e = rejects(VALID, &["--set", "agents[0].count=0"]);
    assert_contains(&e, &["--set agents[0].count=0", "valid: 1 <= count <= 10000000"]);
}

#[test]
fn set_without_equals() {
    let e = rejects(VALID, &["--set", "margin.confidence"]);
    assert_contains(&e, &["--set margin.confidence", "no `=`", "valid: --set key.path=value"]);
}

#[test]
fn unknown_process_and_foreign_parameter() {
    let e = rejects(&replace("kind = \"gbm\"", "kind = \"heston\""), &[]);
    assert_contains(
        &e,
        &[
            "key `market.process.kind`",
            "unknown process `heston`",
            "valid: one of gbm, merton, kou, svcj, garch_t, replay",
        ],
    );
    let e = rejects(&replace("vol = 0.5", "vol = 0.5, kappa = 2.0"), &[]);
    assert_contains(&e, &["key `market.process.kappa`", "not a parameter of the `gbm` process"]);
}

#[test]
fn an_unknown_key_of_a_process_kind_names_its_full_path_and_line() {
    let e = rejects(&replace("vol = 0.5 }", "vol = 0.5, jump_vol = 0.1 }"), &[]);
    assert_contains(
        &e,
        &[
            "s.toml:7:38",
            "key `market.process.jump_vol`",
            "not a parameter of the `gbm` process",
            "valid: keys of `gbm`: kind, units, vol, drift",
        ],
    );
}

#[test]
fn a_key_of_another_agent_kind_is_refused_with_the_valid_keys() {
    let e = rejects(&replace("count = 10", "count = 10\nspread = 0.001"), &[]);
    assert_contains(
        &e,
        &[
            "s.toml:17:1",
            "key `agents[0].spread`",
            "not a parameter of the `leveraged_trader` agent kind",
            "valid: keys of `leveraged_trader`: kind, count, deposit, leverage",
        ],
    );
    // The same through --set, reported against the --set.
    let e = rejects(VALID, &["--set", "agents[0].pull_vol=3"]);
    assert_contains(&e, &["--set agents[0].pull_vol=3", "key `agents[0].pull_vol`"]);
}

#[test]
fn a_second_perpetual_is_refused() {
    let text = format!(
        "{VALID}\n[[instruments]]\nkind = \"perpetual\"\nsymbol = \"A\"\n\n[[instruments]]\nkind = \"perpetual\"\nsymbol = \"B\"\n"
    );
    let e = rejects(&text, &[]);
    assert_contains(
        &e,
        &[
            "s.toml:23:8",
            "key `instruments[1].kind`",
            "the kernel runs one perpetual",
            "valid: one instrument with kind = \"perpetual\"",
        ],
    );
}

const OPTION_CHAIN: &str = "\n[[instruments]]\nkind = \"perpetual\"\nsymbol = \"P\"\n\n[[instruments]]\nkind = \"option_chain\"\nsymbol = \"O\"\nexpiries = [\"7d\"]\nstrikes = [0.9, 1.0]\n";

#[test]
fn an_option_chain_the_smile_cannot_price_is_refused_by_validate() {
    let text = format!("{VALID}{OPTION_CHAIN}");
    let scratch = Scratch::new();
    let path = scratch.write("s.toml", &text);
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A one-minute expiry, or a process volatility below about 0.074 for a week.
    let e = rejects(&text.replace("[\"7d\"]", "[\"1m\"]"), &[]);
    assert_contains(
        &e,
        &[
            "s.toml:25:13",
            "key `instruments[1].expiries[0]`",
            "negative minimum total variance",
            "valid: an expiry of at least",
        ],
    );
    let e = rejects(&text, &["--set", "market.process.vol=0.07"]);
    assert_contains(
        &e,
        &["key `instruments[1].expiries[0]`", "or a process volatility of at least 0.0741"],
    );
}

#[test]
fn a_margin_history_too_short_for_the_horizon_is_refused_by_validate() {
    let scratch = Scratch::new();
    let mut csv = String::from(HEAD);
    for m in 0..30 {
        csv.push_str(&format!("2020-03-12T20:{m:02}:00Z,10,12,9,11,1\n"));
    }
    scratch.write("h.csv", csv);
    let text = replace("method = \"monte_carlo\"", "method = \"historical\"\nhistory = \"h.csv\"")
        .replacen("duration", "start = \"2020-03-12T21:00:00Z\"\nduration", 1);
    let path = scratch.write("s.toml", text);
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_contains(
        &out.stderr,
        &[
            "s.toml:14:11",
            "key `margin.history`",
            "30 of the history's 30 rows closed by the run's start 2020-03-12T21:00:00Z",
            "29 returns, too few for a horizon of 1440 periods of 1m",
            "or margin.horizon of at most 19m",
        ],
    );
    let out = liqsim(&["validate", path.to_str().unwrap(), "--set", "margin.horizon=19m"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A start before most of it leaves fewer rows; the message says how many.
    let out = liqsim(&[
        "validate",
        path.to_str().unwrap(),
        "--set",
        "margin.horizon=10m",
        "--set",
        "start=\"2020-03-12T20:15:00Z\"",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_contains(
        &out.stderr,
        &[
            "key `margin.history`",
            "15 of the history's 30 rows closed by the run's start 2020-03-12T20:15:00Z",
            "(the file runs from 2020-03-12T20:00:00Z to 2020-03-12T20:29:00Z): 14 returns",
            "valid: a history with at least 21 rows closed by the run's start at this horizon",
        ],
    );
}

/// Twenty daily rows, 2020-03-01 to 2020-03-20, as a scratch margin history of VALID
/// under a historical method; `start` is put before `duration` when given.
fn daily_history_scenario(scratch: &Scratch, start: Option<&str>) -> std::path::PathBuf {
    let mut csv = String::from(HEAD);
    for day in 1..=20 {
        csv.push_str(&format!("2020-03-{day:02}T00:00:00Z,10,12,9,11,1\n"));
    }
    scratch.write("d.csv", csv);
    let mut text = replace(
        "method = \"monte_carlo\"",
        "method = \"filtered_historical\"\nhorizon = \"1d\"\nhistory = \"d.csv\"",
    );
    if let Some(start) = start {
        text = text.replacen("duration", &format!("start = \"{start}\"\nduration"), 1);
    }
    scratch.write("s.toml", text)
}

#[test]
fn a_parametric_run_reading_a_history_without_a_start_is_refused_by_validate() {
    let scratch = Scratch::new();
    let path = daily_history_scenario(&scratch, None);
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_contains(
        &out.stderr,
        &[
            "s.toml: key `start`",
            "`es` with method `filtered_historical` reads margin.history, and this parametric \
             run has no start: the history is cut at the run's start",
            "valid: start = \"2020-03-21T00:00:00Z\" (an RFC 3339 time in UTC",
        ],
    );
    // The fixed policy reads no history and needs no start.
    let out = liqsim(&["validate", path.to_str().unwrap(), "--set", "margin.policy=fixed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), format!("ok {}", path.display()));
}

#[test]
fn validate_prints_the_history_rows_a_run_reads_and_the_last_date() {
    let scratch = Scratch::new();
    // 20:23 on the 15th: the 14th's bar closed at midnight, the 15th's has not.
    let path = daily_history_scenario(&scratch, Some("2020-03-15T20:23:00Z"));
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "ok {} (margin history: 14 rows, the last dated 2020-03-14T00:00:00Z, before the \
             start 2020-03-15T20:23:00Z)",
            path.display()
        )
    );
    // A day earlier, a row fewer; under Monte Carlo nothing reads it and nothing is said.
    let earlier = ["--set", "start=\"2020-03-14T20:23:00Z\""];
    let out = liqsim(&[&["validate", path.to_str().unwrap()][..], &earlier].concat());
    assert!(out.stdout.contains("(margin history: 13 rows, the last dated 2020-03-13T00:00:00Z"));
    let mc = ["--set", "margin.method=monte_carlo"];
    let out = liqsim(&[&["validate", path.to_str().unwrap()][..], &mc].concat());
    assert_eq!(out.stdout.trim(), format!("ok {}", path.display()));
    // The bundled Black Thursday replay under es reads the daily history to 2020-03-11.
    let out =
        liqsim(&["validate", "scenarios/black-thursday-2020.toml", "--set", "margin.policy=es"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        "ok scenarios/black-thursday-2020.toml (margin history: 938 rows, the last dated \
         2020-03-11T00:00:00Z, before the start 2020-03-12T20:23:00Z)"
    );
}

#[test]
fn jump_that_would_zero_the_price() {
    let text = format!("{VALID}\n[[market.shocks]]\nat = \"30m\"\nkind = \"jump\"\nsize = -1.0\n");
    // The shock table comes after [[agents]] in this text; TOML still puts it under market.
    let e = rejects(&text, &[]);
    assert_contains(&e, &["key `market.shocks[0].size`", "valid: -1 < x <= 10"]);
}

fn replay_scenario(csv_name: &str) -> String {
    VALID.replace("initial_price = 100.0\n", "").replace(
        "process = { kind = \"gbm\", vol = 0.5 }",
        &format!("process = {{ kind = \"replay\", file = \"{csv_name}\" }}"),
    )
}

#[test]
fn replay_csv_missing() {
    let e = rejects(&replay_scenario("nowhere.csv"), &[]);
    assert_contains(&e, &["nowhere.csv", "cannot read"]);
}

fn replay_error(csv: &str) -> String {
    let scratch = Scratch::new();
    scratch.write("h.csv", csv);
    let path = scratch.write("s.toml", replay_scenario("h.csv"));
    let out = liqsim(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    out.stderr
}

const HEAD: &str = "timestamp_utc,open,high,low,close,volume\n";

#[test]
fn replay_csv_bad_row() {
    let e = replay_error(&format!(
        "{HEAD}2020-03-12T20:23:00Z,10,12,9,11,1\n2020-03-12T20:24:00Z,10,12,9,n/a,1\n"
    ));
    assert_contains(
        &e,
        &[
            "h.csv:3:5",
            "key `market.process.file`",
            "column `close`: `n/a` is not a price",
            "valid: a number 0 < x <= 1e9",
        ],
    );
}

#[test]
fn replay_csv_out_of_order() {
    let e = replay_error(&format!(
        "{HEAD}2020-03-12T20:23:00Z,10,12,9,11,1\n2020-03-12T20:22:00Z,10,12,9,11,1\n"
    ));
    assert_contains(
        &e,
        &[
            "h.csv:3:1",
            "key `market.process.file`",
            "column `timestamp_utc`",
            "increasing time order",
        ],
    );
}

#[test]
fn replay_csv_gap_and_missing_column() {
    let e = replay_error(&format!(
        "{HEAD}2020-03-12T20:23:00Z,10,12,9,11,1\n2020-03-12T20:24:00Z,10,12,9,11,1\n2020-03-12T20:30:00Z,10,12,9,11,1\n"
    ));
    assert_contains(&e, &["h.csv:4:1", "gap"]);
    let e = replay_error("time,open,high,low,close\n2020-03-12T20:23:00Z,10,12,9,11\n");
    assert_contains(&e, &["h.csv:1: key `market.process.file`", "missing column `timestamp_utc`"]);
}

#[test]
fn bad_flags_exit_2() {
    let out = liqsim(&["run"]);
    assert_eq!(out.code, 2);
    let out = liqsim(&["frobnicate"]);
    assert_eq!(out.code, 2);
    let out = liqsim(&["run", "scenarios/quickstart.toml", "--seed", "minus-one"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--seed"), "{}", out.stderr);
    let out = liqsim(&["run", "scenarios/quickstart.toml", "--policy", "cheapest"]);
    assert_eq!(out.code, 2);
    assert_contains(&out.stderr, &["cheapest", "es", "var", "fixed", "grid"]);
}

fn toml_line() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "name",
        "duration",
        "seed",
        "market",
        "tick_size",
        "initial_price",
        "process",
        "kind",
        "vol",
        "confidence",
        "policy",
        "count",
        "agents",
        "shocks",
        "at",
        "size",
        "leverage",
        "dist",
        "x",
    ]);
    let values = prop::sample::select(vec![
        "1",
        "-1",
        "0",
        "1e308",
        "\"1h\"",
        "\"\"",
        "\"gbm\"",
        "true",
        "[1, 2]",
        "{ kind = \"gbm\" }",
        "0.5",
        "nan",
        "inf",
        "\"replay\"",
        "9223372036854775807",
        "[[]]",
        "{",
        "\"0s\"",
    ]);
    let headers = prop::sample::select(vec![
        "[market]",
        "[[agents]]",
        "[margin]",
        "[market.process]",
        "[[market.shocks]]",
        "[a.b.c]",
        "",
    ]);
    prop_oneof![
        (keys, values).prop_map(|(k, v)| format!("{k} = {v}")),
        headers.prop_map(str::to_string),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = liqsim_scenario::load_str(&text, "fuzz.toml", std::path::Path::new("."), &[]);
    }

    #[test]
    fn random_toml_never_panics(lines in prop::collection::vec(toml_line(), 0..30), prefix in any::<bool>()) {
        let mut text = lines.join("\n");
        if prefix {
            // Start from a valid scenario so deeper validation paths are reached.
            text = format!("{VALID}\n{text}");
        }
        let _ = liqsim_scenario::load_str(&text, "fuzz.toml", std::path::Path::new("."), &[]);
    }

    #[test]
    fn random_overrides_never_panic(key in "[a-z_.\\[\\]0-9]{0,30}", value in ".{0,20}") {
        let spec = format!("{key}={value}");
        let _ = liqsim_scenario::load_str(VALID, "fuzz.toml", std::path::Path::new("."), &[spec]);
    }
}

#[test]
fn set_reaches_inside_inline_arrays_and_names_tables_plainly() {
    let tiers =
        "[margin.fixed]\ntiers = [{ notional_max = 1000.0, initial = 0.02, maintenance = 0.01 }]\n";
    let text = format!("{VALID}{tiers}");
    let e = rejects(&text, &["--set", "margin.fixed.tiers[0].initial=3"]);
    assert_contains(
        &e,
        &["--set margin.fixed.tiers[0].initial=3", "3 is out of range", "valid: 0 < x <= 1"],
    );
    let e = rejects(VALID, &["--set", "market.process=5"]);
    assert_contains(&e, &["expected a table"]);
    assert!(!e.contains("Raw"), "{e}");
}

/// One step of a key path into a parsed scenario.
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn render(path: &[Step]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) if s.is_empty() => s.push_str(k),
            Step::Key(k) => s.push_str(&format!(".{k}")),
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The key path of every table in `t` (the top level too, as an empty path).
fn table_paths(t: &toml::Table, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(path.clone());
    for (k, v) in t {
        path.push(Step::Key(k.clone()));
        match v {
            toml::Value::Table(inner) => table_paths(inner, path, out),
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        path.push(Step::Index(i));
                        table_paths(inner, path, out);
                        path.pop();
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

fn table_at<'a>(t: &'a mut toml::Table, path: &[Step]) -> &'a mut toml::Table {
    let next = match path {
        [] => return t,
        [Step::Key(k), Step::Index(i), rest @ ..] => {
            (t.get_mut(k).and_then(|v| v.as_array_mut()?.get_mut(*i)), rest)
        }
        [Step::Key(k), rest @ ..] => (t.get_mut(k), rest),
        [Step::Index(_), ..] => (None, path),
    };
    match next {
        (Some(toml::Value::Table(inner)), rest) => table_at(inner, rest),
        _ => panic!("{} is not a table", render(path)),
    }
}

/// The kinds and the keys of each kind for a tagged table at `path` (by its tag key and
/// where it sits), from the scenario crate's own types.
type Keys = fn(&str) -> &'static [&'static str];

fn kinds_at(
    path: &str,
    table: &toml::Table,
) -> Option<(&'static str, &'static [&'static str], Keys)> {
    use liqsim_scenario::raw::*;
    use liqsim_scenario::tagged::Tagged;
    if table.contains_key(RawDistribution::TAG) {
        return Some((RawDistribution::TAG, RawDistribution::KINDS, RawDistribution::keys));
    }
    if !table.contains_key("kind") {
        return None;
    }
    Some(if path == "market.process" {
        (RawProcess::TAG, RawProcess::KINDS, RawProcess::keys)
    } else if path.starts_with("market.shocks[") {
        (RawShock::TAG, RawShock::KINDS, RawShock::keys)
    } else if path.starts_with("instruments[") {
        (RawInstrument::TAG, RawInstrument::KINDS, RawInstrument::keys)
    } else {
        (RawAgents::TAG, RawAgents::KINDS, RawAgents::keys)
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Remove one key of one table.
    Drop { table: prop::sample::Index, key: prop::sample::Index },
    /// Add a key (maybe of another kind) to a tagged table.
    Insert { table: prop::sample::Index, key: &'static str },
    /// Give a tagged table another kind (or one that does not exist).
    Rekind { table: prop::sample::Index, kind: prop::sample::Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let keys = prop::sample::select(vec![
        "spread",
        "kappa",
        "median",
        "size",
        "expiries",
        "vol",
        "count",
        "at",
        "file",
        "units",
        "symbol",
        "leverage",
        "pull_vol",
        "wake",
        "bogus_key",
    ]);
    prop_oneof![
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(table, key)| Mutation::Drop { table, key }),
        (any::<prop::sample::Index>(), keys)
            .prop_map(|(table, key)| Mutation::Insert { table, key }),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(table, kind)| Mutation::Rekind { table, kind }),
    ]
}

fn library() -> Vec<std::path::PathBuf> {
    let dir = crate::support::repo_root().join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A bundled scenario with one key dropped, an unknown key added to a kind's table,
    /// or a kind changed: `validate` accepts it or refuses it with exit code 2 and a key
    /// path, never 1 and never a panic.
    #[test]
    fn mutated_scenarios_are_accepted_or_refused_with_a_key(
        file in prop::sample::select(library()),
        m in mutation(),
    ) {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut doc: toml::Table = text.parse().unwrap();
        // Data paths are relative to the scenario; the mutant lives elsewhere.
        let data = file.parent().unwrap();
        if let Some(toml::Value::Table(p)) =
            doc.get_mut("market").and_then(|m| m.get_mut("process"))
            && let Some(toml::Value::String(f)) = p.get_mut("file")
        {
            *f = data.join(&*f).display().to_string();
        }
        if let Some(toml::Value::Table(m)) = doc.get_mut("margin")
            && let Some(toml::Value::String(f)) = m.get_mut("history")
        {
            *f = data.join(&*f).display().to_string();
        }
        let mut paths = Vec::new();
        table_paths(&doc, &mut Vec::new(), &mut paths);
        let tagged: Vec<Vec<Step>> = paths
            .iter()
            .filter(|p| kinds_at(&render(p), table_at(&mut doc.clone(), p)).is_some())
            .cloned()
            .collect();
        // The key path the error must name, when the mutation makes the file invalid
        // for certain; None when it may stay valid.
        let must_name: Option<String> = match &m {
            Mutation::Drop { table, key } => {
                let path = table.get(&paths);
                let t = table_at(&mut doc, path);
                let keys: Vec<String> = t.keys().cloned().collect();
                if !keys.is_empty() {
                    t.remove(key.get(&keys));
                }
                None
            }
            Mutation::Insert { table, key } => {
                let path = table.get(&tagged);
                let name = render(path);
                let t = table_at(&mut doc, path);
                let (tag, _, keys) = kinds_at(&name, t).unwrap();
                let kind = t[tag].as_str().unwrap().to_string();
                let foreign = !keys(&kind).contains(key) && *key != tag;
                t.insert(key.to_string(), toml::Value::Float(1.5));
                foreign.then(|| format!("{name}.{key}"))
            }
            Mutation::Rekind { table, kind } => {
                let path = table.get(&tagged);
                let name = render(path);
                let t = table_at(&mut doc, path);
                let (tag, kinds, _) = kinds_at(&name, t).unwrap();
                let mut choices: Vec<&str> = kinds.to_vec();
                choices.push("no_such_kind");
                let new = kind.get(&choices);
                t.insert(tag.to_string(), toml::Value::String(new.to_string()));
                (*new == "no_such_kind").then(|| format!("{name}.{tag}"))
            }
        };
        let scratch = Scratch::new();
        let mutant = scratch.write("mutant.toml", toml::to_string(&doc).unwrap());
        let out = liqsim(&["validate", mutant.to_str().unwrap()]);
        let context = format!("{} {m:?}\n{}", file.display(), out.stderr);
        prop_assert!(!out.stderr.contains("panicked"), "panic: {}", context);
        prop_assert!(out.code == 0 || out.code == 2, "exit code {}: {}", out.code, context);
        if out.code == 2 {
            prop_assert!(out.stderr.contains("key `"), "no key path: {}", context);
        }
        if let Some(key) = must_name {
            prop_assert_eq!(out.code, 2, "accepted: {}", context);
            prop_assert!(out.stderr.contains(&format!("key `{key}`")), "{key} not named: {}", context);
        }
    }
}

/// A replay file that never ends (a device) is read no further than 64 MiB and refused,
/// naming the file, instead of filling the memory.
#[cfg(unix)]
#[test]
fn a_replay_from_an_endless_device_is_refused() {
    let text = replace("initial_price = 100.0\n", "").replace(
        "process = { kind = \"gbm\", vol = 0.5 }",
        "process = { kind = \"replay\", file = \"/dev/zero\" }",
    );
    assert_contains(&rejects(&text, &[]), &["/dev/zero", "larger than the 64 MiB read from it"]);
}

#[test]
fn arrivals_by_volume_need_a_replay_with_volumes() {
    let text = replace(
        "kind = \"leveraged_trader\"\ncount = 10",
        "kind = \"leveraged_trader\"\ncount = 10\narrival_profile = \"volume\"",
    );
    let e = rejects(&text, &[]);
    assert_contains(&e, &["arrival_profile", "quote_volume", "uniform"]);
    let e = rejects(&replace("count = 10", "count = 10\narrival_profile = \"busy\""), &[]);
    assert_contains(&e, &["arrival_profile", "uniform", "volume"]);
}

/// Ten million market makers would need about 20 GB of ladders: refused at the key.
#[test]
fn market_makers_are_capped_at_ten_thousand() {
    let text = format!("{VALID}\n[[agents]]\nkind = \"market_maker\"\ncount = 10000000\n");
    let e = rejects(&text, &[]);
    assert_contains(&e, &["agents[1].count", "market_maker", "1 <= count <= 10000 "]);
}
