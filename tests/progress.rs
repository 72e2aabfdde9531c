//! Progress shows where nobody watches a terminal: plain lines on stderr for run, compare,
//! sweep and calibrate, a resume saying what it found done, wall time and peak memory.

use crate::support::{Scratch, liqsim};

const SMALL: [&str; 4] = ["--set", "agents[1].count=200", "--set", "duration=\"3h\""];

#[test]
fn a_single_run_reports_simulated_time_wall_time_and_peak_memory() {
    let mut args = vec!["run", "scenarios/quickstart.toml"];
    args.extend_from_slice(&SMALL);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // stderr is a pipe here, so progress is plain lines; the last one is the whole run.
    assert!(out.stderr.contains("quickstart: 10800/10800 simulated s (100%)"), "{}", out.stderr);
    assert!(out.stderr.contains("s wall, peak memory "), "{}", out.stderr);
    assert!(!out.stdout.contains("simulated s ("), "progress leaked to stdout");
}

#[test]
fn compare_prints_plain_progress_when_stderr_is_not_a_terminal() {
    let mut args = vec!["compare", "scenarios/quickstart.toml", "--policies", "es,fixed"];
    args.extend_from_slice(&["--seeds", "2"]);
    args.extend_from_slice(&SMALL);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("quickstart: 4/4 runs (100%)"), "{}", out.stderr);
    assert!(out.stderr.contains("compare: "), "{}", out.stderr);
    assert!(out.stderr.contains("peak memory"), "{}", out.stderr);
}

#[test]
fn a_resumed_sweep_says_how_many_runs_it_found_done() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("sweep");
    let dir_text = dir.display().to_string();
    let sweep = |shard: Option<&str>| {
        let mut args = vec!["sweep", "scenarios/quickstart.toml"];
        args.extend_from_slice(&["--grid", "liquidation.fee=0.005,0.01", "--seeds", "2"]);
        args.extend_from_slice(&["--out", &dir_text]);
        args.extend_from_slice(&SMALL);
        if let Some(shard) = shard {
            args.extend_from_slice(&["--shard", shard]);
        }
        liqsim(&args)
    };
    let first = sweep(Some("1/2"));
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(!first.stderr.contains("resuming"), "{}", first.stderr);
    let second = sweep(None);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stderr.contains("resuming: 2 of 4 runs found done"), "{}", second.stderr);
    assert!(second.stderr.contains("quickstart: 2/2 runs (100%)"), "{}", second.stderr);
    assert!(second.stderr.contains("sweep complete: 4 runs"), "{}", second.stderr);
}

#[test]
fn progress_can_be_turned_off() {
    let mut args = vec!["run", "scenarios/quickstart.toml"];
    args.extend_from_slice(&SMALL);
    let out = crate::support::liqsim_with_env(&args, &[("LIQSIM_PROGRESS", "off")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("simulated s ("), "{}", out.stderr);
    assert!(out.stderr.contains("peak memory"), "{}", out.stderr);
}
