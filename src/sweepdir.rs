//! What makes a sweep directory trustworthy: the sweep's identity, the run files'
//! checksums, and the lock that keeps a second writer out.
//!
//! - Identity: a hash of the resolved scenario (after `--set`, with data files by their
//!   content, not their path), the grid, the seeds and the liqsim version. The same
//!   sweep started from another directory, or with the scenario's path spelled another
//!   way, has the same identity; an edited scenario has another.
//! - A run file is its CSV row, then a trailer line `# inputs H content C`: `H` hashes
//!   the sweep's identity with the run's index, grid values and seed (what the run was
//!   computed from), `C` hashes the row and `H` (what was written). A file copied from
//!   another sweep, renamed to another index or edited fails one of the two.
//! - The lock (`sweep.lock`, created exclusively) holds the writer's process id and host.
//!   A lock left by a process that is gone from this same host is taken over; a lock from
//!   another host cannot be checked from here and is left for the user to remove.
//!
//! The hashes are the run digest's function ([`liqsim_sim::Digest`]): they catch edits,
//! copies and mix-ups, not a forger who recomputes them.

use crate::runrow::RunRow;
use liqsim_core::{Error, InputError};
use liqsim_scenario::Scenario;
use liqsim_sweep::{GridAxis, RunSpec};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Feeds formatted text into a digest without holding it all (a replay's Debug text can
/// be hundreds of megabytes). Words are cut from the byte stream, so the hash does not
/// depend on how the formatter splits its writes.
struct HashWriter {
    digest: liqsim_sim::Digest,
    pending: Vec<u8>,
    bytes: u64,
}

impl HashWriter {
    fn new() -> HashWriter {
        HashWriter { digest: liqsim_sim::Digest::new(), pending: Vec::with_capacity(8), bytes: 0 }
    }

    fn finish(mut self) -> String {
        let mut word = [0u8; 8];
        word[..self.pending.len()].copy_from_slice(&self.pending);
        self.digest.u64(u64::from_le_bytes(word));
        self.digest.u64(self.bytes);
        self.digest.to_string()
    }
}

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.bytes += s.len() as u64;
        for &b in s.as_bytes() {
            self.pending.push(b);
            if self.pending.len() == 8 {
                let mut word = [0u8; 8];
                word.copy_from_slice(&self.pending);
                self.digest.u64(u64::from_le_bytes(word));
                self.pending.clear();
            }
        }
        Ok(())
    }
}

/// Hash of a list of text parts (each length-prefixed, so the split between them counts).
pub fn hash_parts(parts: &[&str]) -> String {
    let mut d = liqsim_sim::Digest::new();
    for part in parts {
        d.bytes(part.as_bytes());
    }
    d.to_string()
}

/// Hash of the resolved scenario. A replay's path is left out: its rows are in the hash,
/// and the path depends on the working directory it was given from.
pub fn scenario_hash(scenario: &Scenario) -> String {
    let mut resolved = scenario.clone();
    if let liqsim_scenario::Process::Replay { file, .. } = &mut resolved.market.process {
        *file = PathBuf::new();
    }
    let mut w = HashWriter::new();
    // Writing into a hash cannot fail; a formatter error would only come from a Debug
    // implementation, and every one in the scenario is derived.
    let _ = write!(w, "{resolved:?}");
    w.finish()
}

/// The sweep's identity from the hash of its scenario, its grid and its seeds.
pub fn sweep_id(scenario_hash: &str, axes: &[GridAxis], seeds: &[u64]) -> String {
    let mut parts = vec!["liqsim sweep".to_string(), env!("CARGO_PKG_VERSION").into()];
    parts.push(scenario_hash.into());
    for axis in axes {
        parts.push(format!("axis {} of {}", axis.key, axis.values.len()));
        parts.extend(axis.values.iter().cloned());
    }
    parts.push(format!("seeds {}", seeds.len()));
    parts.extend(seeds.iter().map(u64::to_string));
    hash_parts(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

/// What run `spec` of the sweep `id` is computed from.
pub fn inputs_hash(id: &str, spec: &RunSpec) -> String {
    let mut parts = vec![id.to_string(), spec.index.to_string(), spec.point.to_string()];
    for (key, value) in &spec.overrides {
        parts.push(key.clone());
        parts.push(value.clone());
    }
    parts.push(spec.seed.to_string());
    hash_parts(&parts.iter().map(String::as_str).collect::<Vec<_>>())
}

const TRAILER: &str = "# inputs ";

/// A run file's text: the row's CSV line and the trailer of checksums.
pub fn run_file_text(inputs: &str, row_line: &str) -> String {
    let content = hash_parts(&[row_line, inputs]);
    format!("{row_line}{TRAILER}{inputs} content {content}\n")
}

pub fn run_file(dir: &Path, index: usize) -> PathBuf {
    dir.join("runs").join(format!("{index:08}.csv"))
}

/// A run file that passed every check.
#[derive(Debug)]
pub struct VerifiedRun {
    pub row: RunRow,
    /// The file's whole text, to copy as it is.
    pub text: String,
}

/// A file in `runs/` that is not a run of this sweep as it was written.
#[derive(Debug)]
pub struct InvalidRun {
    pub path: PathBuf,
    pub why: String,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// By run index.
    pub runs: Vec<VerifiedRun>,
    pub invalid: Vec<InvalidRun>,
}

/// Reads and checks every file in `dir/runs` against the sweep `id` and its `runs`.
/// Temporary files of an interrupted write (names starting with a dot) are skipped.
pub fn scan(dir: &Path, id: &str, runs: &[RunSpec], grid_len: usize) -> Result<Scan, Error> {
    let runs_dir = dir.join("runs");
    let io = |e: std::io::Error| {
        Error::from(
            InputError::new(format!("cannot read: {e}")).source(runs_dir.display().to_string()),
        )
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&runs_dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    paths.sort();
    let mut out = Scan::default();
    for path in paths {
        match check_run(&path, id, runs, grid_len) {
            Ok(run) => out.runs.push(run),
            Err(why) => out.invalid.push(InvalidRun { path, why }),
        }
    }
    Ok(out)
}

fn check_run(
    path: &Path,
    id: &str,
    runs: &[RunSpec],
    grid_len: usize,
) -> Result<VerifiedRun, String> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let index = name
        .strip_suffix(".csv")
        .filter(|stem| stem.len() == 8 && stem.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|stem| stem.parse::<usize>().ok())
        .ok_or("is not a run file (run files are named NNNNNNNN.csv)")?;
    let spec = runs
        .get(index)
        .ok_or_else(|| format!("names run {index}, beyond this sweep's {} runs", runs.len()))?;
    let text = liqsim_scenario::read_text(path).map_err(|e| e.to_string())?;
    let (row_line, trailer) = match text.find(TRAILER) {
        Some(at) => text.split_at(at),
        None => return Err("has no checksum line (not written by this version of liqsim)".into()),
    };
    let mut words = trailer.trim_end_matches('\n').split(' ');
    let (Some("#"), Some("inputs"), Some(inputs), Some("content"), Some(content), None) =
        (words.next(), words.next(), words.next(), words.next(), words.next(), words.next())
    else {
        return Err("has a malformed checksum line".into());
    };
    if hash_parts(&[row_line, inputs]) != content {
        return Err("has been changed since it was written (its content checksum differs)".into());
    }
    if inputs != inputs_hash(id, spec) {
        return Err(format!(
            "was computed for other inputs than run {index} of this sweep (from another \
             sweep, another version of the scenario, or renamed)"
        ));
    }
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(row_line.as_bytes());
    let record = reader.records().next().and_then(|r| r.ok()).ok_or("has no readable row")?;
    let fields: Vec<String> = record.iter().map(str::to_string).collect();
    let row =
        RunRow::parse(&fields, grid_len, &path.display().to_string()).map_err(|e| e.to_string())?;
    if row.index != index || row.point != spec.point || row.seed != spec.seed {
        return Err(format!("holds run {} (point {}, seed {})", row.index, row.point, row.seed));
    }
    Ok(VerifiedRun { row, text })
}

/// The error for the first invalid run file, with how to get past it.
pub fn invalid_error(invalid: &[InvalidRun], remedy: &str) -> Error {
    let first = &invalid[0];
    let others = match invalid.len() {
        1 => String::new(),
        n => format!(" ({} other run files fail too)", n - 1),
    };
    InputError::new(format!("{}{others}", first.why))
        .source(first.path.display().to_string())
        .expected(remedy)
        .into()
}

/// This machine's name, to tell a lock held here from one held elsewhere.
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` still runs on this host; `None` where that cannot be told.
fn alive(pid: u32) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    Some(Path::new(&format!("/proc/{pid}")).exists())
}

/// The exclusive right to write a sweep directory; released when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    contents: String,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Only our own lock is removed: one taken over meanwhile belongs to its new holder.
        if std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.contents) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

pub const LOCK_FILE: &str = "sweep.lock";

/// The holder of `dir`'s lock, when a live (or uncheckable) one holds it.
pub fn holder(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
    let (pid, lock_host) = parse_lock(&text);
    let stale = lock_host.as_deref() == Some(host().as_str()) && pid.and_then(alive) == Some(false);
    (!stale).then(|| describe(pid, lock_host.as_deref()))
}

fn parse_lock(text: &str) -> (Option<u32>, Option<String>) {
    let mut pid = None;
    let mut lock_host = None;
    for word in text.split_whitespace() {
        if let Some(p) = word.strip_prefix("pid=") {
            pid = p.parse().ok();
        } else if let Some(h) = word.strip_prefix("host=") {
            lock_host = Some(h.to_string());
        }
    }
    (pid, lock_host)
}

fn describe(pid: Option<u32>, lock_host: Option<&str>) -> String {
    match (pid, lock_host) {
        (Some(pid), Some(h)) => format!("process {pid} on {h}"),
        _ => "a process whose lock file is unreadable".into(),
    }
}

/// Takes `dir`'s lock, taking over one whose holder is gone from this host.
pub fn lock(dir: &Path) -> Result<Lock, Error> {
    let path = dir.join(LOCK_FILE);
    let source = path.display().to_string();
    let contents = format!("pid={} host={}\n", std::process::id(), host());
    let io = |e: std::io::Error| {
        Error::from(InputError::new(format!("cannot create the lock: {e}")).source(&source))
    };
    // Two attempts: the second after removing a stale lock.
    for _ in 0..2 {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut file) => {
                use std::io::Write;
                file.write_all(contents.as_bytes()).map_err(io)?;
                return Ok(Lock { path, contents });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Some(who) = holder(dir) {
                    return Err(InputError::new(format!(
                        "another liqsim is writing this directory ({who})"
                    ))
                    .source(dir.display().to_string())
                    .expected(format!(
                        "one writer at a time: wait for it, or if it no longer runs, delete {source}"
                    ))
                    .into());
                }
                // Its process is gone: a killed sweep. The directory is ours to resume.
                std::fs::remove_file(&path).map_err(io)?;
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(InputError::new("another liqsim took the lock at the same moment")
        .source(dir.display().to_string())
        .expected("one writer at a time")
        .into())
}
