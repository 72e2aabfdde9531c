//! Every output folder names its inputs: `provenance.json` (version, commit, command line,
//! overrides, scenario hash) and the resolved scenario, whose run reproduces the digest.

use crate::support::{Scratch, liqsim, liqsim_in};

fn digest_of(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).expect("summary JSON");
    v["digest"].as_str().expect("digest").to_string()
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("provenance.json written");
    serde_json::from_str(&text).expect("provenance.json is JSON")
}

/// Runs `file` with `flags` into a fresh folder, then runs the folder's `scenario.toml`
/// with no flags from another directory: the digests must agree.
fn resolved_run_reproduces(file: &str, flags: &[&str]) {
    let scratch = Scratch::new();
    let out = scratch.path().join("out");
    let out_str = out.display().to_string();
    let mut args = vec!["run", file, "--format", "json", "--out", &out_str];
    args.extend_from_slice(flags);
    let first = liqsim(&args);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let resolved = out.join("scenario.toml");
    let again =
        liqsim_in(scratch.path(), &["run", &resolved.display().to_string(), "--format", "json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        digest_of(&first.stdout),
        digest_of(&again.stdout),
        "{file} {flags:?}: the resolved scenario runs another simulation"
    );
    let p = read_json(&out.join("provenance.json"));
    assert_eq!(p["command"], "run");
    assert_eq!(p["liqsim"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!p["liqsim"]["commit"].as_str().unwrap_or("").is_empty(), "{p}");
    assert_eq!(p["flags"]["digest"].as_str(), Some(digest_of(&first.stdout).as_str()));
    let line: Vec<&str> =
        p["command_line"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(&line[1..], &args[..], "the command line as given");
    let scenario = &p["scenarios"][0];
    assert_eq!(scenario["file"], file);
    assert_eq!(scenario["resolved"], "scenario.toml");
    assert_eq!(scenario["hash"].as_str().map(str::len), Some(32), "{p}");
}

#[test]
fn a_run_folder_reproduces_its_digest_from_the_resolved_scenario() {
    resolved_run_reproduces(
        "scenarios/quickstart.toml",
        &["--seed", "11", "--policy", "fixed", "--set", "agents[1].count=500"],
    );
}

#[test]
fn a_replay_folder_names_its_data_files_so_it_runs_from_anywhere() {
    resolved_run_reproduces(
        "scenarios/black-thursday-2020.toml",
        &["--set", "duration=\"20m\"", "--set", "agents[1].count=300"],
    );
}

#[test]
fn overrides_are_recorded_and_written_into_the_resolved_scenario() {
    let scratch = Scratch::new();
    let out = scratch.path().join("out");
    let run = liqsim(&[
        "run",
        "scenarios/quickstart.toml",
        "--seed",
        "5",
        "--set",
        "liquidation.fee=0.0125",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let p = read_json(&out.join("provenance.json"));
    assert_eq!(
        p["scenarios"][0]["overrides"],
        serde_json::json!(["liquidation.fee=0.0125", "seed=5"])
    );
    assert_eq!(p["flags"]["seed"], 5);
    let resolved: toml::Table = std::fs::read_to_string(out.join("scenario.toml"))
        .expect("scenario.toml")
        .parse()
        .expect("the resolved scenario is TOML");
    assert_eq!(resolved["seed"].as_integer(), Some(5));
    assert_eq!(resolved["liquidation"]["fee"].as_float(), Some(0.0125));
}

#[test]
fn compare_and_sweep_folders_carry_provenance() {
    let scratch = Scratch::new();
    let compare = scratch.path().join("compare");
    let sweep = scratch.path().join("sweep");
    let sets = ["--set", "agents[1].count=200", "--set", "duration=\"3h\""];
    let mut args = vec!["compare", "scenarios/quickstart.toml", "--policies", "es,fixed"];
    let compare_out = compare.display().to_string();
    args.extend_from_slice(&["--seeds", "2", "--out", &compare_out]);
    args.extend_from_slice(&sets);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p = read_json(&compare.join("provenance.json"));
    assert_eq!(p["command"], "compare");
    assert_eq!(p["flags"]["policies"], serde_json::json!(["es", "fixed"]));
    assert_eq!(p["flags"]["seeds"], serde_json::json!([7, 8]));
    assert!(compare.join("scenario.toml").is_file());

    let sweep_out = sweep.display().to_string();
    let mut args =
        vec!["sweep", "scenarios/quickstart.toml", "--grid", "liquidation.fee=0.005,0.01"];
    args.extend_from_slice(&["--seeds", "1", "--out", &sweep_out]);
    args.extend_from_slice(&sets);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let p = read_json(&sweep.join("provenance.json"));
    assert_eq!(p["command"], "sweep");
    assert_eq!(p["flags"]["grid"], serde_json::json!(["liquidation.fee=0.005,0.01"]));
    let resolved: toml::Table =
        std::fs::read_to_string(sweep.join("scenario.toml")).unwrap().parse().unwrap();
    assert_eq!(resolved["duration"].as_str(), Some("3h"));
}
