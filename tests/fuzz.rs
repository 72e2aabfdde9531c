//! Mutation fuzzing of the scenario loader and the run: every bundled scenario, cut to a
//! few minutes and a few dozen accounts, mutated by a seeded generator (values of another
//! type, extremes, deleted and duplicated keys and tables, unknown keys, truncated text,
//! corrupted CSV data), and run through the binary. Every mutant must exit 0 with money
//! conserved, or 2 with a message that names a key or a file and line: never 1 (an
//! internal failure), never a panic, never a hang.
//!
//! `LIQSIM_FUZZ_MUTANTS` sets how many mutants (default 1200) and `LIQSIM_FUZZ_SEED` the
//! generator's seed (default 1); a failure prints the seed, the mutant's number and its
//! scenario text, which reproduce it.
//!
//! Beside the mutants, every number of every shortened scenario goes to each bound of its
//! valid range, as validation's own message states it; `LIQSIM_FUZZ_POLICIES` lists
//! policies to repeat that under.

use crate::support::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use toml::{Table, Value};

/// SplitMix64: a seeded generator with no dependency, the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// How long a mutant may run: a shortened scenario takes well under a second in release.
const DEADLINE: Duration = Duration::from_secs(60);

/// A bundled scenario cut to 20 minutes and at most 20 accounts a group, with its data
/// paths made absolute (mutants live in a scratch directory).
fn shortened(path: &Path) -> Table {
    let text = std::fs::read_to_string(path).unwrap();
    let mut t: Table = toml::from_str(&text).unwrap();
    t.insert("duration".into(), Value::String("20m".into()));
    t.insert("metrics_interval".into(), Value::String("1m".into()));
    if t.contains_key("margin_metrics_interval") {
        t.insert("margin_metrics_interval".into(), Value::String("5m".into()));
    }
    let data = |v: &mut Value| {
        if let Value::String(s) = v {
            *s = repo_root().join("scenarios").join(&*s).display().to_string();
        }
    };
    if let Some(Value::Table(market)) = t.get_mut("market") {
        if let Some(Value::Table(process)) = market.get_mut("process")
            && let Some(file) = process.get_mut("file")
        {
            data(file);
        }
        if let Some(Value::Array(shocks)) = market.get_mut("shocks") {
            for shock in shocks {
                if let Value::Table(s) = shock {
                    s.insert("at".into(), Value::String("10m".into()));
                    if s.contains_key("duration") {
                        s.insert("duration".into(), Value::String("5m".into()));
                    }
                }
            }
        }
    }
    if let Some(Value::Table(margin)) = t.get_mut("margin")
        && let Some(history) = margin.get_mut("history")
    {
        data(history);
    }
    if let Some(Value::Array(agents)) = t.get_mut("agents") {
        for agent in agents {
            if let Value::Table(a) = agent {
                let count = a.get("count").and_then(Value::as_integer).unwrap_or(1);
                a.insert("count".into(), Value::Integer(count.min(20)));
                for key in ["arrival", "hold"] {
                    if a.contains_key(key) {
                        a.insert(key.into(), Value::String("10m".into()));
                    }
                }
            }
        }
    }
    t
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every path to a value (leaves and tables alike), in the table's own order.
fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Table(t) => {
            for (k, v) in t {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn get_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut v = value;
    for step in path {
        v = match (step, v) {
            (Step::Key(k), Value::Table(t)) => t.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Removes the value at `path` from its parent table or array.
fn remove(root: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else { return };
    match (last, get_mut(root, parent)) {
        (Step::Key(k), Some(Value::Table(t))) => {
            t.remove(k);
        }
        (Step::Index(i), Some(Value::Array(a))) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

fn extreme_number(rng: &mut Rng) -> Value {
    let floats = [
        0.0,
        -1.0,
        0.5,
        1e-300,
        1e300,
        -1e300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e9,
        1e12,
        1e-9,
        2.0,
        0.999_999,
        1.000_001,
        -0.99,
        100.0,
    ];
    let integers = [0, -1, 1, i64::MAX, i64::MIN, 1_000_000_000, 10_000_001, 3];
    if rng.below(2) == 0 {
        Value::Float(*rng.pick(&floats))
    } else {
        Value::Integer(*rng.pick(&integers))
    }
}

fn extreme_text(rng: &mut Rng) -> Value {
    let texts = [
        "",
        "0s",
        "1ns",
        "-5m",
        "99999999d",
        "1x",
        "1e3h",
        "abc",
        "es",
        "replay",
        "nan",
        "24h",
        "2026-13-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "\u{0}",
        "é",
        "data/none.csv",
        "/dev/null",
        "/",
    ];
    Value::String(rng.pick(&texts).to_string())
}

fn other_type(rng: &mut Rng, original: &Value) -> Value {
    let mut choices = vec![
        Value::String("text".into()),
        Value::Boolean(true),
        Value::Integer(7),
        Value::Float(7.5),
        Value::Array(vec![Value::Integer(1), Value::Integer(2)]),
        Value::Array(vec![]),
        Value::Table(Table::new()),
    ];
    choices.retain(|c| c.type_str() != original.type_str());
    rng.pick(&choices).clone()
}

/// What the mutant is, as text and the CSV files it reads.
struct Mutant {
    what: String,
    scenario: Vec<u8>,
    /// (file name, contents) written beside the scenario; the scenario names them.
    csv: Option<(String, String)>,
}

const CSV_REPLAY: &str = "binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv";
const CSV_DAILY: &str = "binance_spot_btcusdt_1d_2017-08-17_2025-12-31.csv";

/// A corruption of one CSV text.
fn corrupt_csv(rng: &mut Rng, text: &str) -> (String, String) {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let row = 1 + rng.below(lines.len().saturating_sub(1).clamp(1, 60));
    let field = rng.below(5);
    let garbage = ["", "abc", "-1", "0", "1e300", "1e-300", "nan", "inf", "1e9", "1,2", "\"x"];
    let kind = rng.below(9);
    let what = match kind {
        0 => {
            let mut f: Vec<String> = lines[row].split(',').map(String::from).collect();
            let g = rng.pick(&garbage).to_string();
            if let Some(slot) = f.get_mut(field) {
                *slot = g.clone();
            }
            lines[row] = f.join(",");
            format!("row {row} field {field} = {g:?}")
        }
        1 => {
            let other = (row + 1).min(lines.len() - 1);
            lines.swap(row, other);
            format!("rows {row} and {} swapped", row + 1)
        }
        2 => {
            let dup = lines[row].clone();
            lines.insert(row, dup);
            format!("row {row} duplicated")
        }
        3 => {
            lines.truncate(row);
            format!("cut after row {row}")
        }
        4 => {
            let cut = lines[row].len() / 2;
            lines[row].truncate(cut);
            format!("row {row} cut mid-line")
        }
        5 => {
            let mut f: Vec<String> = lines[0].split(',').map(String::from).collect();
            f.remove(field.min(f.len() - 1));
            lines[0] = f.join(",");
            format!("header column {field} removed")
        }
        6 => {
            lines.insert(row, String::new());
            format!("blank line at {row}")
        }
        7 => {
            let f: Vec<String> = lines[row].split(',').map(String::from).collect();
            let scaled: Vec<String> = f
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    if (1..5).contains(&i) {
                        format!("{}", x.parse::<f64>().unwrap_or(1.0) * 1e6)
                    } else {
                        x.clone()
                    }
                })
                .collect();
            lines[row] = scaled.join(",");
            format!("row {row} prices x 1e6")
        }
        _ => {
            lines.truncate(1);
            "header only".into()
        }
    };
    (lines.join("\n") + "\n", what)
}

/// One change to the document: an extreme, a value of another type, a deletion, a
/// duplicate or an unknown key.
fn mutate_value(rng: &mut Rng, root: &mut Value, what: &mut String) {
    let mut all = Vec::new();
    paths(root, &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let path = rng.pick(&all).clone();
    let path_text = path
        .iter()
        .map(|s| match s {
            Step::Key(k) => format!(".{k}"),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect::<String>();
    match rng.below(6) {
        0 | 1 => {
            if let Some(v) = get_mut(root, &path) {
                let new = match v {
                    Value::String(_) => extreme_text(rng),
                    _ => extreme_number(rng),
                };
                *what += &format!("{path_text} = {new}; ");
                *v = new;
            }
        }
        2 => {
            if let Some(v) = get_mut(root, &path) {
                let new = other_type(rng, v);
                *what += &format!("{path_text} = {new} (another type); ");
                *v = new;
            }
        }
        3 => {
            remove(root, &path);
            *what += &format!("{path_text} deleted; ");
        }
        4 => {
            // A second copy of a table in an array (an agent group, a shock, an
            // instrument), or of an array element.
            let parent = &path[..path.len().saturating_sub(1)];
            if let Some(Value::Array(a)) = get_mut(root, parent)
                && let Some(Step::Index(i)) = path.last()
            {
                let copy = a[*i].clone();
                a.push(copy);
                *what += &format!("{path_text} duplicated; ");
            } else if let Some(Value::Table(t)) = get_mut(root, &path) {
                t.insert("unknown_key".into(), Value::Integer(1));
                *what += &format!("{path_text}.unknown_key added; ");
            }
        }
        _ => {
            if let Some(v) = get_mut(root, &path) {
                let new = extreme_number(rng);
                *what += &format!("{path_text} = {new} (number); ");
                *v = new;
            }
        }
    }
}

/// One to three changes to the document, then, one time in three, a change to its text
/// or its data file (a duplicated line, a truncation, a corrupted CSV).
fn mutate(rng: &mut Rng, base: &Table, name: &str) -> Mutant {
    let mut root = Value::Table(base.clone());
    let mut what = format!("{name}: ");
    let mut csv = None;
    for _ in 0..1 + rng.below(3) {
        mutate_value(rng, &mut root, &mut what);
    }
    let kind = if rng.below(3) == 0 { 6 + rng.below(3) } else { 0 };
    let mut text = toml::to_string(&root).unwrap_or_default();
    match kind {
        6 => {
            // A key written twice: the second line of a `key = value` pair repeated.
            let lines: Vec<&str> = text.lines().collect();
            let candidates: Vec<usize> =
                (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
            if !candidates.is_empty() {
                let at = *rng.pick(&candidates);
                let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                out.insert(at + 1, lines[at].to_string());
                what += &format!("line {} duplicated: {}", at + 1, lines[at]);
                text = out.join("\n") + "\n";
            }
        }
        7 => {
            let mut cut = 1 + rng.below(text.len().saturating_sub(1).max(1));
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            what += &format!("truncated at byte {cut} of {}", text.len());
            text.truncate(cut);
        }
        8 => {
            let uses = |f: &str| text.contains(f);
            let file = if uses(CSV_REPLAY) {
                Some(CSV_REPLAY)
            } else if uses(CSV_DAILY) {
                Some(CSV_DAILY)
            } else {
                None
            };
            match file {
                Some(f) => {
                    let original =
                        std::fs::read_to_string(repo_root().join("scenarios/data").join(f))
                            .unwrap();
                    let (corrupted, how) = corrupt_csv(rng, &original);
                    let absolute = repo_root().join("scenarios/data").join(f);
                    text = text.replace(&absolute.display().to_string(), "corrupt.csv");
                    what += &format!("{f}: {how}");
                    csv = Some(("corrupt.csv".to_string(), corrupted));
                }
                None => {
                    // No data file: bytes that are no UTF-8 in a string instead.
                    let mut bytes = text.into_bytes();
                    let at = rng.below(bytes.len());
                    bytes.insert(at, 0xff);
                    return Mutant { what: what + "a 0xff byte inserted", scenario: bytes, csv };
                }
            }
        }
        _ => {}
    }
    Mutant { what, scenario: text.into_bytes(), csv }
}

#[derive(Debug, Default)]
struct Tally {
    exit0: usize,
    exit2: usize,
    failures: Vec<String>,
}

/// Runs `liqsim COMMAND s.toml --set ...` on the mutant written into `sub`: its exit
/// code, stdout and stderr, or why it did not exit.
fn spawn(
    sub: &Path,
    m: &Mutant,
    command: &str,
    sets: &[String],
) -> Result<(Option<i32>, String, String), String> {
    std::fs::create_dir_all(sub).unwrap();
    let file = sub.join("s.toml");
    std::fs::write(&file, &m.scenario).unwrap();
    if let Some((name, text)) = &m.csv {
        std::fs::write(sub.join(name), text).unwrap();
    }
    let mut args = vec![command.to_string(), file.to_str().unwrap().to_string()];
    for set in sets {
        args.extend(["--set".to_string(), set.clone()]);
    }
    if command == "run" {
        args.extend(["--format".to_string(), "json".to_string()]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_liqsim"))
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no exit after {DEADLINE:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(sub);
    Ok((
        status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Exit 0 with money conserved, or exit 2 naming a key or a file:line.
fn judge(result: Result<(Option<i32>, String, String), String>) -> Result<i32, String> {
    let (code, stdout, stderr) = result?;
    match code {
        Some(0) => {
            let v: serde_json::Value = serde_json::from_str(&stdout)
                .map_err(|e| format!("exit 0 without a JSON summary ({e}): {stdout}"))?;
            let error = v["conservation_error"].to_string();
            if error != "0" {
                return Err(format!("conservation_error {error}"));
            }
            Ok(0)
        }
        Some(2) => {
            let names_key = stderr.contains("key `");
            let names_line = stderr
                .split([' ', '\n'])
                .any(|w| w.split(':').nth(1).is_some_and(|l| l.parse::<u64>().is_ok()));
            if names_key || names_line {
                Ok(2)
            } else {
                Err(format!("exit 2 naming neither a key nor a file:line: {stderr}"))
            }
        }
        other => Err(format!("exit {other:?}: {stderr}")),
    }
}

fn run_mutant(dir: &Path, index: usize, m: &Mutant) -> Result<i32, String> {
    judge(spawn(&dir.join(format!("m{index}")), m, "run", &[]))
}

fn check(dir: &Path, m: &Mutant, sets: &[String]) -> Result<i32, String> {
    judge(spawn(&dir.join("bounds"), m, "run", sets))
}

/// What `validate` says of the mutant with `sets`.
fn run_with_sets(dir: &Path, m: &Mutant, sets: &[String]) -> String {
    spawn(&dir.join("bounds"), m, "validate", sets).map(|(_, _, e)| e).unwrap_or_default()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[test]
fn mutants_of_the_bundled_scenarios_exit_0_conserving_or_2_naming_the_place() {
    let seed = env_number("LIQSIM_FUZZ_SEED", 1);
    let count = env_number("LIQSIM_FUZZ_MUTANTS", 1200) as usize;
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let bases: Vec<(String, Table)> = files
        .iter()
        .map(|f| (f.file_name().unwrap().to_string_lossy().into_owned(), shortened(f)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    // The shortened scenarios themselves run: the mutants start from valid input.
    for (i, (name, base)) in bases.iter().enumerate() {
        let m = Mutant {
            what: name.clone(),
            scenario: toml::to_string(base).unwrap().into(),
            csv: None,
        };
        assert_eq!(run_mutant(dir.path(), 100_000 + i, &m), Ok(0), "{name} shortened");
    }
    let mut rng = Rng(seed);
    let mutants: Vec<Mutant> = (0..count)
        .map(|i| {
            let (name, base) = &bases[i % bases.len()];
            mutate(&mut rng, base, name)
        })
        .collect();
    let start = Instant::now();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let mutants = &mutants;
                let dir = dir.path();
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    for (i, m) in mutants.iter().enumerate().skip(w).step_by(workers) {
                        match run_mutant(dir, i, m) {
                            Ok(0) => tally.exit0 += 1,
                            Ok(_) => tally.exit2 += 1,
                            Err(why) => tally.failures.push(format!(
                                "mutant {i} (seed {seed}): {}: {why}\n--- scenario ---\n{}",
                                m.what,
                                String::from_utf8_lossy(&m.scenario)
                            )),
                        }
                    }
                    tally
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let exit0: usize = tallies.iter().map(|t| t.exit0).sum();
    let exit2: usize = tallies.iter().map(|t| t.exit2).sum();
    let failures: Vec<&String> = tallies.iter().flat_map(|t| &t.failures).collect();
    eprintln!(
        "fuzz: {count} mutants (seed {seed}): {exit0} exit 0, {exit2} exit 2, {} failures in {:.1} s",
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), {
        let shown: Vec<&str> = failures.iter().take(5).map(|s| s.as_str()).collect();
        shown.join("\n\n")
    });
    // The generator reaches both sides: runs that finish and refusals.
    assert!(exit0 > count / 20 && exit2 > count / 20, "{exit0} exit 0, {exit2} exit 2");
}

/// The key path of `path` as `--set` takes it (`agents[1].count`).
fn set_path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Keys whose documented maximum is a size, not a stress: ten million accounts run for
/// minutes in gigabytes, whatever else the scenario says.
const SIZES: [&str; 1] = ["count"];

/// Every number in every bundled scenario (shortened) set to each bound of its valid
/// range, as validation states it: the run finishes with money conserved, or the value
/// is refused (an exclusive bound) naming the key.
#[test]
fn every_numeric_key_at_its_documented_bounds_runs_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    // Each scenario's own policy; `LIQSIM_FUZZ_POLICIES=es,var/historical,...` adds
    // others, each with its scenario method when one is given.
    let mut policies: Vec<Option<String>> = vec![None];
    if let Ok(list) = std::env::var("LIQSIM_FUZZ_POLICIES") {
        policies.extend(list.split(',').map(|p| Some(p.trim().to_string())));
    }
    let (mut runs, mut exit0, mut exit2) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let base = shortened(file);
        let text = toml::to_string(&base).unwrap();
        let root = Value::Table(base);
        let mut all = Vec::new();
        paths(&root, &mut Vec::new(), &mut all);
        for path in all {
            let mut root = root.clone();
            let Some(value) = get_mut(&mut root, &path) else { continue };
            let integer = match value {
                Value::Integer(_) => true,
                Value::Float(_) => false,
                _ => continue,
            };
            let key = set_path_text(&path);
            if SIZES.iter().any(|s| key.ends_with(s)) {
                continue;
            }
            // The range, from validation's refusal of a value no range holds.
            let probe = if integer { i64::MIN.to_string() } else { "nan".into() };
            let m = Mutant { what: String::new(), scenario: text.clone().into_bytes(), csv: None };
            let refusal = run_with_sets(dir.path(), &m, &[format!("{key}={probe}")]);
            let Some(valid) = refusal.split("(valid: ").nth(1) else { continue };
            let bounds: Vec<f64> = valid
                .split(|c: char| c.is_whitespace() || c == ')' || c == ',')
                .filter_map(|w| w.parse::<f64>().ok())
                .filter(|b| b.is_finite())
                .collect();
            for bound in bounds {
                let value = if integer && bound.fract() == 0.0 && bound.abs() < 9e18 {
                    format!("{}", bound as i64)
                } else {
                    format!("{bound:e}")
                };
                for policy in &policies {
                    let mut sets = vec![format!("{key}={value}")];
                    if let Some(p) = policy {
                        // `es/historical`: a policy and its way of building scenarios.
                        let (p, method) =
                            p.split_once('/').map_or((p.as_str(), None), |(p, m)| (p, Some(m)));
                        sets.push(format!("margin.policy=\"{p}\""));
                        if let Some(m) = method {
                            sets.push(format!("margin.method=\"{m}\""));
                        }
                    }
                    runs += 1;
                    match check(dir.path(), &m, &sets) {
                        Ok(0) => exit0 += 1,
                        Ok(_) => exit2 += 1,
                        Err(why) => failures.push(format!("{name} --set {sets:?}: {why}")),
                    }
                }
            }
        }
    }
    eprintln!("bounds: {runs} runs: {exit0} exit 0, {exit2} exit 2, {} failures", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(exit0 > runs / 3, "{exit0} of {runs} runs finished");
}
