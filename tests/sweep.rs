//! Sweep directories under faults: resumes from another spelling of the path or another
//! working directory, edited scenarios, edited, foreign, renamed and extra run files, a
//! second writer, a killed writer, and merges of mismatched shards.

use crate::support::{Output, liqsim_in, repo_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Small runs: the quickstart market with ten minutes and twenty traders.
const SMALL: [&str; 6] = [
    "--set",
    "duration=\"10m\"",
    "--set",
    "market.shocks[0].at=\"5m\"",
    "--set",
    "agents[1].count=20",
];

/// `liqsim sweep FILE` of the small quickstart over two fees and `seeds` seeds into `out`,
/// from `cwd`, with `extra` flags.
fn sweep(cwd: &Path, file: &str, out: &Path, seeds: &str, extra: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec!["sweep", file, "--grid", "liquidation.fee=0.005,0.01", "--seeds", seeds];
    args.extend(SMALL);
    args.extend(["--threads", "1", "--out", out]);
    args.extend(extra);
    liqsim_in(cwd, &args)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn run_file(out: &Path, index: usize) -> PathBuf {
    out.join("runs").join(format!("{index:08}.csv"))
}

/// A finished sweep of the small quickstart (4 runs), as the reference.
fn reference(root: &Path) -> PathBuf {
    let out = root.join("reference");
    let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("sweep complete: 4 runs"), "{}", r.stderr);
    out
}

#[test]
fn the_same_sweep_resumes_from_any_spelling_of_its_path_or_working_directory() {
    let root = tempfile::tempdir().unwrap();
    let reference = reference(root.path());
    let out = root.path().join("resumed");
    let r = sweep(&repo_root(), "./scenarios/quickstart.toml", &out, "2", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(run_file(&out, 1)).unwrap();
    std::fs::remove_file(out.join("runs.csv")).unwrap();
    // The same scenario from another working directory, by an absolute path.
    let absolute = repo_root().join("scenarios/quickstart.toml");
    let r = sweep(root.path(), absolute.to_str().unwrap(), &out, "2", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in ["sweep.json", "runs.csv", "summary.csv"] {
        assert_eq!(read(&reference.join(name)), read(&out.join(name)), "{name}");
    }
    assert!(!out.join("sweep.lock").exists(), "the lock is released at the end");
}

#[test]
fn a_scenario_edited_between_a_kill_and_a_resume_is_a_different_sweep() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("s.toml");
    let text = read(&repo_root().join("scenarios/quickstart.toml"));
    std::fs::write(&file, &text).unwrap();
    let out = root.path().join("out");
    let r = sweep(root.path(), "s.toml", &out, "2", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(&file, text.replace("initial = 250_000.0", "initial = 260_000.0")).unwrap();
    let r = sweep(root.path(), "s.toml", &out, "2", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("different sweep") && r.stderr.contains("out"), "{}", r.stderr);
    // Equivalent overrides are the same sweep: the identity is the resolved scenario.
    std::fs::write(&file, &text).unwrap();
    let r = sweep(root.path(), "s.toml", &out, "2", &["--set", "insurance_fund.initial=250000"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// Every way a run file can be wrong is refused with exit 2 naming the file, and
/// `--rerun-invalid` replaces it with the run it should have been.
#[test]
fn edited_foreign_renamed_and_extra_run_files_are_refused_then_rerun() {
    let root = tempfile::tempdir().unwrap();
    let reference = reference(root.path());
    // Another sweep's run file (three seeds instead of two), for the foreign case.
    let other = root.path().join("other");
    let r = sweep(&repo_root(), "scenarios/quickstart.toml", &other, "3", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    type Fault = fn(&Path, &Path);
    let faults: [(&str, Fault, &str); 6] = [
        (
            "bad debt edited",
            |out, _| {
                let path = run_file(out, 2);
                let text = read(&path);
                let mut fields: Vec<String> =
                    text.lines().next().unwrap().split(',').map(String::from).collect();
                // bad_debt, after index, point, the fee, seed, digest, events, the
                // liquidation count and notional.
                fields[8] = "123.000000".into();
                let rest = text.split_once('\n').unwrap().1;
                std::fs::write(&path, format!("{}\n{rest}", fields.join(","))).unwrap();
            },
            "changed since it was written",
        ),
        (
            "checksum line removed",
            |out, _| {
                let path = run_file(out, 2);
                let first = read(&path).lines().next().unwrap().to_string();
                std::fs::write(&path, format!("{first}\n")).unwrap();
            },
            "no checksum line",
        ),
        (
            "a run of another sweep",
            |out, other| {
                std::fs::copy(run_file(other, 3), run_file(out, 3)).unwrap();
            },
            "other inputs",
        ),
        (
            "a run renamed to another index",
            |out, _| {
                std::fs::copy(run_file(out, 0), run_file(out, 1)).unwrap();
            },
            "other inputs",
        ),
        (
            "a run beyond the sweep",
            |out, _| {
                std::fs::copy(run_file(out, 0), run_file(out, 99)).unwrap();
            },
            "beyond this sweep's 4 runs",
        ),
        (
            "a file that is no run",
            |out, _| {
                std::fs::write(out.join("runs").join("notes.csv"), "x\n").unwrap();
            },
            "not a run file",
        ),
    ];
    for (what, fault, message) in faults {
        let out = root.path().join("faulty");
        let _ = std::fs::remove_dir_all(&out);
        let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &[]);
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        std::fs::remove_file(out.join("runs.csv")).unwrap();
        fault(&out, &other);
        let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &[]);
        assert_eq!(r.code, 2, "{what}: {}", r.stderr);
        assert!(r.stderr.contains(message), "{what}: {}", r.stderr);
        assert!(r.stderr.contains("runs/") && r.stderr.contains("--rerun-invalid"), "{}", r.stderr);
        assert!(!r.stderr.contains("complete"), "{what}: {}", r.stderr);
        assert!(!out.join("runs.csv").exists(), "{what}: nothing is written from it");
        let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &["--rerun-invalid"]);
        assert_eq!(r.code, 0, "{what}: {}", r.stderr);
        assert!(r.stderr.contains("sweep complete"), "{what}: {}", r.stderr);
        for name in ["runs.csv", "summary.csv"] {
            assert_eq!(read(&reference.join(name)), read(&out.join(name)), "{what}: {name}");
        }
    }
}

#[test]
fn an_edited_manifest_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let out = reference(root.path());
    let manifest = out.join("sweep.json");
    std::fs::write(&manifest, read(&manifest).replace("\"0.01\"", "\"0.02\"")).unwrap();
    let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("sweep.json") && r.stderr.contains("changed"), "{}", r.stderr);
}

fn hostname() -> String {
    read(Path::new("/proc/sys/kernel/hostname")).trim().to_string()
}

#[test]
fn a_live_lock_keeps_a_second_writer_out_and_a_dead_ones_is_taken_over() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let reference = reference(root.path());
    let out = root.path().join("locked");
    std::fs::create_dir_all(&out).unwrap();
    // This test process is alive: its lock holds.
    let lock = out.join("sweep.lock");
    std::fs::write(&lock, format!("pid={} host={}\n", std::process::id(), hostname())).unwrap();
    let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("another liqsim is writing"), "{}", r.stderr);
    assert!(r.stderr.contains(&format!("process {}", std::process::id())), "{}", r.stderr);
    assert!(!out.join("sweep.json").exists(), "the refused writer wrote nothing");
    // A finished process has left no trace in /proc: its lock is stale.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(&lock, format!("pid={dead} host={}\n", hostname())).unwrap();
    let r = sweep(&repo_root(), "scenarios/quickstart.toml", &out, "2", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(read(&reference.join("runs.csv")), read(&out.join("runs.csv")));
    assert!(!lock.exists());
}

/// Two different sweeps started into one empty directory at the same moment: one of them
/// is refused (by the lock, or as a different sweep), and what is left is one sweep whose
/// every run file passes its checks.
#[test]
fn two_sweeps_started_into_one_directory_do_not_mix() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("shared");
    let spawn = |fee: &str| {
        let mut args: Vec<String> = [
            "sweep",
            "scenarios/quickstart.toml",
            "--grid",
            fee,
            "--seeds",
            "3",
            "--threads",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec();
        args.extend(SMALL.map(String::from));
        Command::new(env!("CARGO_BIN_EXE_liqsim"))
            .args(&args)
            .current_dir(repo_root())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn("liquidation.fee=0.005,0.01");
    let b = spawn("liquidation.fee=0.02,0.03");
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.contains(&Some(0)) && codes.contains(&Some(2)), "{codes:?}");
    let loser = if a.status.code() == Some(2) { &a } else { &b };
    let message = String::from_utf8_lossy(&loser.stderr);
    assert!(
        message.contains("another liqsim is writing") || message.contains("different sweep"),
        "{message}"
    );
    let fees: &[&str] =
        if a.status.code() == Some(0) { &["0.005", "0.01"] } else { &["0.02", "0.03"] };
    let runs = read(&out.join("runs.csv"));
    assert_eq!(runs.lines().count(), 1 + 6);
    for line in runs.lines().skip(1) {
        assert!(fees.contains(&line.split(',').nth(2).unwrap()), "{line} is not of {fees:?}");
    }
    assert!(fees.iter().all(|fee| read(&out.join("sweep.json")).contains(fee)));
}

#[test]
fn a_killed_sweep_resumes_to_the_same_files() {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("killed");
    let mut args: Vec<String> = [
        "sweep",
        "scenarios/quickstart.toml",
        "--grid",
        "liquidation.fee=0.005,0.01",
        "--seeds",
        "600",
        "--threads",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec();
    args.extend(SMALL.map(String::from));
    let mut child = Command::new(env!("CARGO_BIN_EXE_liqsim"))
        .args(&args)
        .current_dir(repo_root())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while std::fs::read_dir(out.join("runs")).map_or(0, |d| d.count()) < 3
        && start.elapsed().as_secs() < 60
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    if out.join("runs.csv").exists() {
        // It finished before the kill: nothing to resume on this machine.
        return;
    }
    assert!(out.join("sweep.lock").exists(), "a killed sweep leaves its lock");
    let resumed = liqsim_in(&repo_root(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let straight_out = root.path().join("straight");
    let last = args.len() - SMALL.len() - 1;
    args[last] = straight_out.to_str().unwrap().to_string();
    let straight = liqsim_in(&repo_root(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(straight.code, 0, "{}", straight.stderr);
    for name in ["sweep.json", "runs.csv", "summary.csv"] {
        assert_eq!(read(&straight_out.join(name)), read(&out.join(name)), "{name}");
    }
}

#[test]
fn merge_refuses_shards_of_two_scenario_versions_and_tampered_rows() {
    let root = tempfile::tempdir().unwrap();
    let reference = reference(root.path());
    let file = root.path().join("s.toml");
    let text = read(&repo_root().join("scenarios/quickstart.toml"));
    std::fs::write(&file, &text).unwrap();
    let shard = |i: usize| {
        let out = root.path().join(format!("shard{i}"));
        let r = sweep(root.path(), "s.toml", &out, "2", &["--shard", &format!("{i}/2")]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(r.stderr.contains(&format!("shard {i}/2 complete (2 of the sweep's 4 runs")));
        out
    };
    let s0 = shard(0);
    std::fs::write(&file, text.replace("initial = 250_000.0", "initial = 260_000.0")).unwrap();
    let s1_edited = shard(1);
    let merged = root.path().join("merged");
    let m = |dirs: &[&Path]| {
        let mut args = vec!["merge"];
        args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
        args.extend(["--out", merged.to_str().unwrap()]);
        liqsim_in(root.path(), &args)
    };
    let r = m(&[&s0, &s1_edited]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("different sweep") && r.stderr.contains("shard1"), "{}", r.stderr);
    std::fs::write(&file, &text).unwrap();
    std::fs::remove_dir_all(&s1_edited).unwrap();
    let s1 = shard(1);
    // A corrupted row in one shard.
    let path = run_file(&s1, 3);
    std::fs::write(&path, read(&path).replacen("\n# inputs", "9\n# inputs", 1)).unwrap();
    let r = m(&[&s0, &s1]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("00000003.csv") && r.stderr.contains("--rerun-invalid"),
        "{}",
        r.stderr
    );
    let _ = std::fs::remove_dir_all(&merged);
    let r = sweep(root.path(), "s.toml", &s1, "2", &["--shard", "1/2", "--rerun-invalid"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = m(&[&s0, &s1]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for name in ["sweep.json", "runs.csv", "summary.csv"] {
        assert_eq!(read(&reference.join(name)), read(&merged.join(name)), "{name}");
    }
}
