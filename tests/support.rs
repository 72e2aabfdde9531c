//! Running the built `liqsim` binary and writing scratch scenario files.

use std::path::PathBuf;
use std::process::Command;

#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `liqsim` with `args` from the repository root.
pub fn liqsim(args: &[&str]) -> Output {
    liqsim_with_env(args, &[])
}

/// The same with extra environment variables.
pub fn liqsim_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_in(&repo_root(), args, env)
}

/// `liqsim` with `args` from the directory `dir`.
pub fn liqsim_in(dir: &std::path::Path, args: &[&str]) -> Output {
    run_in(dir, args, &[])
}

fn run_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_liqsim"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .expect("the liqsim binary runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory holding files for one test.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().expect("a temporary directory") }
    }

    pub fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }
}

/// A small valid scenario to mutate in tests.
pub const VALID: &str = r#"name = "t"
duration = "1h"

[market]
initial_price = 100.0
tick_size = 0.01
process = { kind = "gbm", vol = 0.5 }

[margin]
policy = "es"
confidence = 0.99
method = "monte_carlo"

[[agents]]
kind = "leveraged_trader"
count = 10
"#;
