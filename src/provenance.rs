//! How an output folder was made: `provenance.json` and the resolved scenario beside the
//! results, written by every command that writes a folder (`run`, `compare`, `sweep`,
//! `calibrate`, `target`).
//!
//! `provenance.json` names the liqsim version and the commit it was built from, the
//! command line, and per scenario file: the path given, the hash of the scenario after
//! overrides (the sweep identity's hash: data files by content, not path), and the file
//! its resolved text was written to. The resolved text is the scenario file with the
//! overrides written in and its data files by absolute path, so `liqsim run` of it, with
//! no flags, gives the digest of the run it came from. Flags that a command expands into
//! many runs (`--seeds`, `--policies`, `--grid`) stay flags: they are in the JSON, and
//! the resolved scenario is the one every run started from.

use liqsim_core::Error;
use serde_json::{Value, json};
use std::path::Path;

/// The liqsim version and the commit it was built from (`unknown` outside git).
pub fn version() -> Value {
    json!({ "version": env!("CARGO_PKG_VERSION"), "commit": env!("LIQSIM_COMMIT") })
}

/// One scenario file of a command and the overrides that every one of its runs shares.
#[derive(Debug)]
pub struct Input<'a> {
    pub file: &'a Path,
    pub overrides: Vec<String>,
}

/// Writes `provenance.json` and one resolved scenario per input (`scenario.toml`, or
/// `scenario-1.toml`, ... for several) into `dir`; `flags` are the command's own settings
/// (seed, policy, seeds, grid, ...), recorded as given.
pub fn write(dir: &Path, command: &str, inputs: &[Input], flags: Value) -> Result<(), Error> {
    let mut scenarios = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let scenario = liqsim_scenario::load(input.file, &input.overrides)?;
        let resolved = liqsim_scenario::resolved_text(input.file, &input.overrides)?;
        let name = if inputs.len() == 1 {
            "scenario.toml".to_string()
        } else {
            format!("scenario-{}.toml", i + 1)
        };
        let header = format!(
            "# Resolved by liqsim {} (commit {}) from {}{}.\n# `liqsim run {name}` runs it \
             as it was run.\n\n",
            env!("CARGO_PKG_VERSION"),
            env!("LIQSIM_COMMIT"),
            input.file.display(),
            if input.overrides.is_empty() {
                String::new()
            } else {
                format!(" with --set {}", input.overrides.join(" --set "))
            },
        );
        crate::sweep::write_atomic(&dir.join(&name), &(header + &resolved))?;
        scenarios.push(json!({
            "file": input.file.display().to_string(),
            "name": scenario.name,
            "overrides": input.overrides,
            "hash": crate::sweepdir::scenario_hash(&scenario),
            "resolved": name,
        }));
    }
    let provenance = json!({
        "liqsim": version(),
        "command": command,
        "command_line": std::env::args().collect::<Vec<_>>(),
        "scenarios": scenarios,
        "flags": flags,
    });
    let text = serde_json::to_string_pretty(&provenance).unwrap_or_default() + "\n";
    crate::sweep::write_atomic(&dir.join("provenance.json"), &text)
}
