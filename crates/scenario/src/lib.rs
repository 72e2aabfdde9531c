//! liqsim-scenario: scenario files (TOML) -> a validated [`Scenario`].
//!
//! The only simulation-side crate that knows about serde and files. Loading has three
//! stages, so that every error can name the file, line, column and key path:
//! 1. read the file (missing, a directory, not UTF-8 text, empty: each its own message);
//! 2. parse the TOML with spans (toml_edit), apply `--set key.path=value` overrides, and
//!    deserialize into the strict raw types of [`raw`] (unknown keys, and keys of another
//!    kind, are errors);
//! 3. [`validate`]: defaults, ranges and cross-field rules (everything the kernel would
//!    refuse or ignore), errors by key path.
//!
//! A serde error comes with a span in the overridden text; its key path is found there
//! (extended by the key the message names when the span is only its table's: a missing
//! key), then its line in the original file. An error at a key that a `--set` override
//! wrote is reported against that `--set`, not against a line of the file.

pub mod locate;
pub mod model;
pub mod raw;
pub mod replay;
pub mod tagged;
pub mod to_sim;
pub mod validate;

pub use model::*;
pub use to_sim::{policy_config, sim_config};

use liqsim_core::{Error, InputError, Result};
use std::path::Path;
use toml_edit::{Document, DocumentMut};

/// Loads, overrides and validates the scenario at `path`.
pub fn load(path: &Path, overrides: &[String]) -> Result<Scenario> {
    let text = read_text(path)?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    load_str(&text, &path.display().to_string(), base_dir, overrides)
}

/// Like [`load`] for text already in memory; `source` names it in errors and `base_dir`
/// resolves relative data paths.
pub fn load_str(
    text: &str,
    source: &str,
    base_dir: &Path,
    overrides: &[String],
) -> Result<Scenario> {
    if text.trim().is_empty() {
        return Err(InputError::new("the file is empty")
            .source(source)
            .expected("a scenario in TOML: name, duration, [market], ...")
            .into());
    }
    let original = Document::parse(text.to_string()).map_err(|e| {
        let mut err =
            InputError::new(format!("TOML syntax error: {}", e.message().trim())).source(source);
        if let Some(span) = e.span() {
            let (line, column) = locate::line_col(text, span.start);
            err = err.at(line, column);
            if let Some(key) = key_of_line(text, line) {
                err = err.key(key);
            }
        }
        Error::from(err)
    })?;
    let applied = apply_overrides(&original, overrides)?;
    let located = Located { source, text, original: &original, overrides: &applied.paths };
    let raw: raw::RawScenario = toml::from_str(&applied.text).map_err(|e| {
        // Spans refer to the overridden text; find the key path there, then the line in the
        // original file (or the --set that wrote it).
        let doc = Document::parse(applied.text.clone()).ok();
        let path = e.span().and_then(|span| locate::path_at(doc.as_ref()?, span.start));
        let (message, expected) = split_expected(&readable_serde_message(e.message()));
        // A missing key has no span of its own (serde reports it at its table), and a key
        // that cannot be read in its own place (see `tagged`) neither: the message names
        // it, so the path goes on to the key.
        let path = match (key_named_in(&message), &doc) {
            (Some(key), Some(doc)) if path.as_deref().is_none_or(|p| at_table(doc, p, key)) => {
                Some(path.map_or_else(|| key.to_string(), |p| format!("{p}.{key}")))
            }
            _ => path,
        };
        let expected = expected
            .or_else(|| path.as_deref().and_then(|p| range_of(&applied.text, p, base_dir)))
            .or_else(|| expected_for_serde(&message));
        located
            .error(InputError::new(readable_types(&message)).expected_if(expected), path.as_deref())
    })?;
    validate::validate(raw, base_dir).map_err(|mut e| {
        if let Some(input) = e.as_input_mut()
            && input.source.is_none()
        {
            let path = input.key.clone();
            return located.error(std::mem::take(input), path.as_deref());
        }
        e
    })
}

/// The keys whose value is a data file, relative to the scenario file's folder.
const DATA_FILE_KEYS: [&[&str]; 2] = [&["market", "process", "file"], &["margin", "history"]];

/// The scenario at `path` as a run with `overrides` sees it, as TOML text: the file with
/// every override written in, and its data files given by absolute path, so that running
/// the text from any folder without overrides runs the same scenario (same digest).
/// Comments and layout of the file are kept. Errors are those of [`load`].
pub fn resolved_text(path: &Path, overrides: &[String]) -> Result<String> {
    // Validating first gives the user the same error `load` would, with its line.
    load(path, overrides)?;
    let text = read_text(path)?;
    let source = path.display().to_string();
    let original = Document::parse(text).map_err(|e| {
        Error::from(InputError::new(format!("TOML syntax error: {e}")).source(&source))
    })?;
    let applied = apply_overrides(&original, overrides)?;
    let mut doc: DocumentMut = applied.text.parse().map_err(|e| {
        Error::from(InputError::new(format!("TOML syntax error: {e}")).source(&source))
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    for key in DATA_FILE_KEYS {
        let Some(value) = key.iter().try_fold(doc.as_item_mut(), |item, k| item.get_mut(*k)) else {
            continue;
        };
        let Some(relative) = value.as_str() else { continue };
        let joined = base_dir.join(relative);
        let absolute = std::fs::canonicalize(&joined).unwrap_or(joined);
        *value = toml_edit::value(absolute.display().to_string());
    }
    Ok(doc.to_string())
}

/// The largest regular file read whole (a minute history of ten years is about 0.3 GiB).
const MAX_FILE_BYTES: u64 = 2 << 30;
/// The most read from anything else (a pipe, a device), whose size is not known ahead.
const MAX_STREAM_BYTES: u64 = 64 << 20;

/// Reads a whole text file with errors a user can act on.
pub fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let source = path.display().to_string();
    let cannot = |e: std::io::Error| {
        Error::from(InputError::new(format!("cannot read: {e}")).source(&source))
    };
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if meta.is_dir() {
        return Err(InputError::new("is a directory, not a file").source(&source).into());
    }
    let limit = if meta.is_file() { MAX_FILE_BYTES } else { MAX_STREAM_BYTES };
    let too_large = || {
        Error::from(
            InputError::new(format!("is larger than the {} MiB read from it", limit >> 20))
                .source(&source),
        )
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let valid = std::str::from_utf8(&e.as_bytes()[..offset]).unwrap_or("");
        let (line, column) = locate::line_col(valid, valid.len());
        InputError::new(format!("not UTF-8 text (a binary file?): invalid byte at offset {offset}"))
            .source(&source)
            .at(line, column)
            .into()
    })
}

trait ExpectedIf {
    fn expected_if(self, expected: Option<String>) -> Self;
}

impl ExpectedIf for InputError {
    fn expected_if(self, expected: Option<String>) -> Self {
        match expected {
            Some(e) => self.expected(e),
            None => self,
        }
    }
}

/// The key path a TOML syntax error at `line` is about: the table of the last header
/// above it (or the header itself) and the key its line assigns, when there is one.
fn key_of_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let here = lines.get(line.checked_sub(1)?)?.trim();
    if let Some(table) = header(here) {
        return Some(table.to_string());
    }
    let key = here.split('=').next().map(str::trim).filter(|k| {
        !k.is_empty()
            && here.contains('=')
            && k.chars().all(|c| c.is_alphanumeric() || "_-.\"' ".contains(c))
    });
    let table = lines[..line - 1].iter().rev().find_map(|l| header(l));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t.to_string()),
        (None, None) => None,
    }
}

/// The table a `[table]` or `[[table]]` header line names.
fn header(line: &str) -> Option<&str> {
    let l = line.trim();
    let inner = l.strip_prefix("[[").and_then(|r| r.split("]]").next());
    inner.or_else(|| l.strip_prefix('[').and_then(|r| r.split(']').next())).map(str::trim)
}

/// serde says `i64` and `f64`; users read "an integer" and "a number".
fn readable_types(message: &str) -> String {
    message
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
}

/// The valid range of the number at `path`, as validation states it: found by validating
/// the document again with a value there that no range holds. `None` when validation
/// stops at another key first, or the key is no number.
fn range_of(applied: &str, path: &str, base_dir: &Path) -> Option<String> {
    let segments = locate::parse_path(path)?;
    for sentinel in [toml_edit::Value::from(f64::NAN), toml_edit::Value::from(i64::MIN)] {
        let mut doc: DocumentMut = applied.parse().ok()?;
        set_path(doc.as_item_mut(), &segments, sentinel).ok()?;
        let Ok(raw) = toml::from_str::<raw::RawScenario>(&doc.to_string()) else { continue };
        if let Err(Error::Input(e)) = validate::validate(raw, base_dir)
            && e.key.as_deref() == Some(path)
        {
            return e.expected.clone();
        }
    }
    None
}

/// serde names the raw structs (`struct RawProcess`); users think in tables.
fn readable_serde_message(message: &str) -> String {
    let mut text = message.trim().replace('\n', " ");
    while let Some(start) = text.find("struct Raw") {
        let name_start = start + "struct ".len();
        let end = text[name_start..]
            .find(|c: char| !c.is_alphanumeric() && c != '_')
            .map_or(text.len(), |e| name_start + e);
        text.replace_range(start..end, "a table");
    }
    text
}

/// serde's lists of accepted keys or values (`..., expected one of `a`, `b``, and the
/// same from [`tagged`]) become the "valid" part of the error, without the backticks.
fn split_expected(message: &str) -> (String, Option<String>) {
    const MARK: &str = ", expected ";
    let Some(at) = message.rfind(MARK) else { return (message.to_string(), None) };
    let list = &message[at + MARK.len()..];
    let expected = if list.starts_with("one of ") || list.starts_with('`') {
        list.replace('`', "")
    } else if list.starts_with("keys of ") {
        list.to_string()
    } else {
        return (message.to_string(), None);
    };
    (message[..at].to_string(), Some(expected))
}

/// The key a serde message is about, when it names one: a missing key, or an unknown
/// one (serde's own message or [`tagged`]'s).
fn key_named_in(message: &str) -> Option<&str> {
    let after = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .or_else(|| message.strip_prefix('`').filter(|m| m.contains("` is not a parameter of")))?;
    after.find('`').map(|end| &after[..end])
}

/// Whether the error's span was only that of the table at `path` around `key`. An unknown
/// key that is a table itself (`[market.extra]`) has its own span, and its path already
/// ends in the key.
fn at_table(doc: &Document<String>, path: &str, key: &str) -> bool {
    let own = locate::parse_path(path)
        .and_then(|segments| segments.last().cloned())
        .is_some_and(|last| last == locate::Segment::Key(key.to_string()));
    !own && locate::is_table(doc, path)
}

/// An unknown key is best shown at the key; anything else at its value.
fn is_unknown_key(message: &str) -> bool {
    message.starts_with("unknown field") || message.contains("` is not a parameter of")
}

/// serde's messages already list the accepted keys or type; this only adds a hint where
/// they do not say what to write.
fn expected_for_serde(message: &str) -> Option<String> {
    if message.contains("missing field") {
        Some("see scenarios/README.md for the required keys".into())
    } else {
        None
    }
}

struct Located<'a> {
    source: &'a str,
    text: &'a str,
    original: &'a Document<String>,
    overrides: &'a [(String, String)],
}

impl Located<'_> {
    fn error(&self, mut err: InputError, path: Option<&str>) -> Error {
        if let Some(path) = path {
            err.key = Some(path.to_string());
            // The last override of a key is the one in force.
            let overridden = self.overrides.iter().rev().find(|(p, _)| {
                p == path
                    || path.starts_with(&format!("{p}."))
                    || path.starts_with(&format!("{p}["))
                    || p.starts_with(&format!("{path}."))
                    // A new kind asks for keys of its own: their errors are the --set's.
                    || p.rsplit_once('.').is_some_and(|(table, key)| {
                        is_tag(key) && path.starts_with(&format!("{table}."))
                    })
            });
            if let Some((p, value)) = overridden {
                err.source = Some(format!("--set {p}={value}"));
                return err.into();
            }
            let prefer_key = is_unknown_key(&err.message);
            if let Some(span) = locate::span_of_path(self.original, path, prefer_key) {
                let (line, column) = locate::line_col(self.text, span.start);
                err.line = Some(line);
                err.column = Some(column);
            }
        }
        err.source = Some(self.source.to_string());
        err.into()
    }
}

struct Applied {
    text: String,
    /// (canonical key path, value text) of each override, in order.
    paths: Vec<(String, String)>,
}

/// Applies `key.path=value` overrides to a copy of the document. A value is read as a TOML
/// value (`0.99`, `true`, `"text"`, `[1, 2]`, `{ dist = "constant", value = 5 }`); text
/// that is not valid TOML is taken as a string, so `--set margin.policy=es` works unquoted.
fn apply_overrides(original: &Document<String>, overrides: &[String]) -> Result<Applied> {
    let mut doc: DocumentMut = original.clone().into_mut();
    let mut paths = Vec::new();
    for spec in overrides {
        let bad = |message: String| -> Error {
            InputError::new(message)
                .source(format!("--set {spec}"))
                .expected("--set key.path=value, e.g. --set margin.confidence=0.995")
                .into()
        };
        let (path, value_text) =
            spec.split_once('=').ok_or_else(|| bad("no `=` in the override".into()))?;
        let segments = locate::parse_path(path.trim())
            .ok_or_else(|| bad(format!("`{path}` is not a key path")))?;
        let canonical = locate::render_path(&segments);
        let value: toml_edit::Value =
            value_text.trim().parse().unwrap_or_else(|_| toml_edit::Value::from(value_text.trim()));
        set_path(doc.as_item_mut(), &segments, value)
            .map_err(|why| bad(format!("cannot set `{canonical}`: {why}")))?;
        paths.push((canonical, value_text.trim().to_string()));
    }
    tags_first(doc.as_item_mut());
    Ok(Applied { text: doc.to_string(), paths })
}

/// Moves the tag (`kind`, `dist`) to the front of every table, so that serde meets it
/// before the keys that depend on it and streams them with their spans (see [`tagged`]).
/// Errors are mapped back to the original file by key path, so the order is free here.
fn tags_first(item: &mut toml_edit::Item) {
    use toml_edit::Item;
    match item {
        Item::Table(t) => tags_first_in_table(t),
        Item::ArrayOfTables(a) => a.iter_mut().for_each(tags_first_in_table),
        Item::Value(v) => tags_first_in_value(v),
        Item::None => {}
    }
}

fn is_tag(key: &str) -> bool {
    use tagged::Tagged;
    [
        raw::RawProcess::TAG,
        raw::RawShock::TAG,
        raw::RawInstrument::TAG,
        raw::RawAgents::TAG,
        raw::RawDistribution::TAG,
    ]
    .contains(&key)
}

fn tags_first_in_table(t: &mut toml_edit::Table) {
    // Stable: only the tag moves.
    t.sort_values_by(|a, _, b, _| is_tag(b.get()).cmp(&is_tag(a.get())));
    for (_, child) in t.iter_mut() {
        tags_first(child);
    }
}

fn tags_first_in_value(v: &mut toml_edit::Value) {
    match v {
        toml_edit::Value::InlineTable(t) => {
            t.sort_values_by(|a, _, b, _| is_tag(b.get()).cmp(&is_tag(a.get())));
            for (_, child) in t.iter_mut() {
                tags_first_in_value(child);
            }
        }
        toml_edit::Value::Array(a) => a.iter_mut().for_each(tags_first_in_value),
        _ => {}
    }
}

fn set_path(
    item: &mut toml_edit::Item,
    segments: &[locate::Segment],
    value: toml_edit::Value,
) -> std::result::Result<(), String> {
    use locate::Segment;
    use toml_edit::Item;
    let Some((first, rest)) = segments.split_first() else {
        *item = Item::Value(value);
        return Ok(());
    };
    match first {
        Segment::Key(k) => {
            if item.is_none() {
                *item = Item::Table(toml_edit::Table::new());
            }
            let table = item
                .as_table_like_mut()
                .ok_or_else(|| format!("`{k}` is inside a value that is not a table"))?;
            if table.get(k).is_none() {
                let fresh = if rest.is_empty() {
                    Item::Value(value.clone())
                } else {
                    Item::Table(toml_edit::Table::new())
                };
                table.insert(k, fresh);
                if rest.is_empty() {
                    return Ok(());
                }
            }
            let child = table.get_mut(k).ok_or_else(|| format!("`{k}` could not be created"))?;
            // Inline tables hold values, not items; convert so the walk can continue.
            if let Item::Value(toml_edit::Value::InlineTable(_)) = child
                && !rest.is_empty()
            {
                let inline = std::mem::take(child);
                if let Item::Value(toml_edit::Value::InlineTable(t)) = inline {
                    *child = Item::Table(t.into_table());
                }
            }
            set_path(child, rest, value)
        }
        Segment::Index(i) => match item {
            Item::ArrayOfTables(a) => {
                let len = a.len();
                let t = a
                    .get_mut(*i)
                    .ok_or_else(|| format!("index {i} is past the end ({len} entries)"))?;
                let mut as_item = Item::Table(std::mem::take(t));
                let result = set_path(&mut as_item, rest, value);
                match as_item {
                    Item::Table(back) => *t = back,
                    // The whole entry replaced: `--set market.shocks[0]={ kind = "jump", ... }`.
                    Item::Value(toml_edit::Value::InlineTable(inline)) => *t = inline.into_table(),
                    _ => return Err(format!("[{i}] is a table: its value must be one")),
                }
                result
            }
            Item::Value(v @ toml_edit::Value::Array(_)) => set_value_path(v, segments, value),
            _ => Err(format!("[{i}]: not an array")),
        },
    }
}

/// Like [`set_path`] inside a value (an inline array or inline table), which must stay
/// inline so the file keeps its shape.
fn set_value_path(
    target: &mut toml_edit::Value,
    segments: &[locate::Segment],
    value: toml_edit::Value,
) -> std::result::Result<(), String> {
    use locate::Segment;
    let Some((first, rest)) = segments.split_first() else {
        *target = value;
        return Ok(());
    };
    match (first, target) {
        (Segment::Index(i), toml_edit::Value::Array(a)) => {
            let len = a.len();
            let slot = a
                .get_mut(*i)
                .ok_or_else(|| format!("index {i} is past the end ({len} entries)"))?;
            set_value_path(slot, rest, value)
        }
        (Segment::Key(k), toml_edit::Value::InlineTable(t)) => {
            if rest.is_empty() {
                t.insert(k, value);
                return Ok(());
            }
            let child = t.get_mut(k).ok_or_else(|| format!("`{k}` does not exist"))?;
            set_value_path(child, rest, value)
        }
        (Segment::Index(i), _) => Err(format!("[{i}]: not an array")),
        (Segment::Key(k), _) => Err(format!("`{k}` is inside a value that is not a table")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"name = "t"
duration = "1h"

[market]
initial_price = 100.0
tick_size = 0.01
process = { kind = "gbm", vol = 0.5 }

[margin]
policy = "es"
method = "monte_carlo"

[[agents]]
kind = "leveraged_trader"
count = 10
"#;

    const CHAIN: &str = r#"
[[instruments]]
kind = "perpetual"
symbol = "P"

[[instruments]]
kind = "option_chain"
symbol = "O"
expiries = ["7d", "30d"]
strikes = [0.9, 1.0]
"#;

    /// The bundled library's folder, so that `data/...` paths resolve.
    fn scenarios_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
    }

    fn load(text: &str, overrides: &[&str]) -> Result<Scenario> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        load_str(text, "s.toml", &scenarios_dir(), &overrides)
    }

    /// The error as the CLI prints it.
    fn error(text: &str, overrides: &[&str]) -> String {
        match load(text, overrides) {
            Ok(_) => panic!("accepted: {text}\n{overrides:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn assert_contains(haystack: &str, needles: &[&str]) {
        for needle in needles {
            assert!(haystack.contains(needle), "{needle:?} not in {haystack:?}");
        }
    }

    #[test]
    fn the_fixtures_are_valid() {
        load(VALID, &[]).unwrap();
        load(&format!("{VALID}{CHAIN}"), &[]).unwrap();
    }

    #[test]
    fn an_unknown_key_of_a_process_names_its_full_path_and_line() {
        let text = VALID.replace("vol = 0.5 }", "vol = 0.5, jump_vol = 0.1 }");
        let e = error(&text, &[]);
        assert_contains(
            &e,
            &[
                "s.toml:7:38: key `market.process.jump_vol`",
                "`jump_vol` is not a parameter of the `gbm` process",
                "valid: keys of `gbm`: kind, units, vol, drift",
            ],
        );
        // The same as a standard table, the key on its own line after the tag.
        let text = VALID.replace(
            "process = { kind = \"gbm\", vol = 0.5 }",
            "[market.process]\nvol = 0.5\nkind = \"gbm\"\njump_vol = 0.1",
        );
        let e = error(&text, &[]);
        assert_contains(&e, &["s.toml:10:1: key `market.process.jump_vol`"]);
    }

    #[test]
    fn a_key_of_another_agent_kind_is_refused_with_the_keys_of_this_one() {
        let text = VALID.replace("count = 10", "count = 10\nspread = 0.001");
        let e = error(&text, &[]);
        assert_contains(
            &e,
            &[
                "s.toml:16:1: key `agents[0].spread`",
                "`spread` is not a parameter of the `leveraged_trader` agent kind",
                "valid: keys of `leveraged_trader`: kind, count, deposit, leverage,",
            ],
        );
        assert!(!e.contains("pull_vol"), "{e}");
        // Written before the tag, a key still has its own line and type error.
        let text = VALID.replace(
            "kind = \"leveraged_trader\"\ncount = 10",
            "count = \"ten\"\nkind = \"leveraged_trader\"",
        );
        assert_contains(
            &error(&text, &[]),
            &["s.toml:14:9: key `agents[0].count`", "invalid type"],
        );
    }

    #[test]
    fn an_unknown_key_in_a_distribution_and_an_unknown_kind() {
        let text = VALID.replace(
            "count = 10",
            "count = 10\nleverage = { dist = \"constant\", value = 5, median = 3 }",
        );
        assert_contains(
            &error(&text, &[]),
            &[
                "s.toml:16:44: key `agents[0].leverage.median`",
                "valid: keys of `constant`: dist, value",
            ],
        );
        let text = VALID.replace("kind = \"leveraged_trader\"", "kind = \"whale\"");
        assert_contains(
            &error(&text, &[]),
            &[
                "s.toml:14:8: key `agents[0].kind`",
                "unknown agent kind `whale`",
                "one of leveraged_trader,",
            ],
        );
        let text = VALID.replace("kind = \"leveraged_trader\"\n", "");
        assert_contains(
            &error(&text, &[]),
            &["key `agents[0].kind`", "missing field `kind`", "valid: one of leveraged_trader,"],
        );
    }

    #[test]
    fn errors_at_an_overridden_key_are_the_sets() {
        let e = error(VALID, &["agents[0].spread=0.1"]);
        assert_contains(
            &e,
            &["--set agents[0].spread=0.1: key `agents[0].spread`", "not a parameter"],
        );
        let e = error(VALID, &["market.process.kind=merton"]);
        assert_contains(
            &e,
            &["--set market.process.kind=merton: key `market.process.jump_intensity`", "missing"],
        );
    }

    #[test]
    fn a_second_perpetual_or_option_chain_is_refused() {
        let perps = "\n[[instruments]]\nkind = \"perpetual\"\nsymbol = \"A\"\n\n[[instruments]]\nkind = \"perpetual\"\nsymbol = \"B\"\n";
        let e = error(&format!("{VALID}{perps}"), &[]);
        assert_contains(
            &e,
            &[
                "s.toml:22:8: key `instruments[1].kind`",
                "the kernel runs one perpetual",
                "valid: one instrument with kind = \"perpetual\"",
            ],
        );
        let chain = "\n[[instruments]]\nkind = \"option_chain\"\nsymbol = \"O2\"\nexpiries = [\"7d\"]\nstrikes = [1.0]\n";
        let e = error(&format!("{VALID}{CHAIN}{chain}"), &[]);
        assert_contains(&e, &["key `instruments[2].kind`", "the kernel runs one option chain"]);
    }

    #[test]
    fn an_option_chain_whose_smile_would_have_negative_variance_is_refused() {
        let text = format!("{VALID}{CHAIN}").replace("[\"7d\", \"30d\"]", "[\"7d\", \"1m\"]");
        let e = error(&text, &[]);
        assert_contains(
            &e,
            &[
                "s.toml:24:19: key `instruments[1].expiries[1]`",
                "negative minimum total variance",
                "valid: an expiry of at least 4m52s at this volatility",
            ],
        );
        let e = error(&format!("{VALID}{CHAIN}"), &["market.process.vol=0.07"]);
        assert_contains(&e, &["key `instruments[1].expiries[0]`", "volatility of at least 0.0741"]);
        // A volatility shock in force at the start lifts the smile as the kernel's does.
        let shock = "\n[[market.shocks]]\nkind = \"vol\"\nat = \"0s\"\nduration = \"1h\"\nmultiplier = 2.0\n";
        load(&format!("{VALID}{CHAIN}{shock}"), &["market.process.vol=0.07"]).unwrap();
    }

    /// The smile check repeats the kernel's construction (its constants are private
    /// there): the kernel and validation agree on every chain here.
    #[test]
    fn validate_refuses_what_the_kernel_would() {
        let base = load(&format!("{VALID}{CHAIN}"), &[]).unwrap();
        for vol in [0.03, 0.06, 0.074, 0.0742, 0.2, 0.5, 2.0] {
            for expiry in ["1m", "4m51s", "4m53s", "1h", "1d", "7d", "8d19h", "30d", "366d"] {
                let set_vol = format!("market.process.vol={vol}");
                let set_expiry = format!("instruments[1].expiries=[\"{expiry}\"]");
                let validated = load(&format!("{VALID}{CHAIN}"), &[&set_vol, &set_expiry]);
                let mut cfg = sim_config(&base).unwrap();
                cfg.process = liqsim_sim::config::ProcessConfig::Parametric {
                    unit: RateUnit::PerYear,
                    spec: ProcessSpec::Gbm { vol, drift: 0.0 },
                };
                if let Some(chain) = cfg.options.as_mut() {
                    chain.expiries = vec![liqsim_core::SimDuration::parse(expiry).unwrap()];
                }
                let kernel = liqsim_sim::World::new(cfg);
                assert_eq!(
                    validated.is_ok(),
                    kernel.is_ok(),
                    "vol {vol}, expiry {expiry}: validation {:?}, kernel {:?}",
                    validated.err().map(|e| e.to_string()),
                    kernel.err().map(|e| e.to_string())
                );
            }
        }
    }

    #[test]
    fn option_agents_need_an_option_chain() {
        let text = format!("{VALID}\n[[agents]]\nkind = \"option_buyer\"\n");
        let e = error(&text, &[]);
        assert_contains(
            &e,
            &[
                "s.toml:18:8: key `agents[1].kind`",
                "`option_buyer` agents trade options",
                "option_chain",
            ],
        );
        load(&format!("{text}{CHAIN}"), &[]).unwrap();
    }

    /// The minute bars of 2020-03-12 20:23Z to 2020-03-13 03:30Z (428 rows) as a margin
    /// history.
    const MINUTES: &str = "margin.history=data/binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv";
    /// The bundled daily history, 2017-08-17 to 2025-12-31 (3059 rows).
    const DAYS: &str = "margin.history=data/binance_spot_btcusdt_1d_2017-08-17_2025-12-31.csv";

    #[test]
    fn a_margin_history_too_short_for_the_horizon_is_refused() {
        let after = "start=\"2021-01-01T00:00:00Z\"";
        let e = error(VALID, &["margin.method=historical", MINUTES, after]);
        assert_contains(
            &e,
            &[
                "key `margin.history`",
                "428 of the history's 428 rows closed by the run's start 2021-01-01T00:00:00Z \
                 (the file runs from 2020-03-12T20:23:00Z to 2020-03-13T03:30:00Z): 427 returns, \
                 too few for a horizon of 1440 periods of 1m",
                "valid: a history with at least 1451 rows closed by the run's start at this \
                 horizon, or margin.horizon of at most 6h57m",
            ],
        );
        load(VALID, &["margin.method=historical", MINUTES, after, "margin.horizon=6h57m"]).unwrap();
        // Monte Carlo and the fixed policy do not read the history, and need no start.
        load(VALID, &[MINUTES]).unwrap();
        load(VALID, &["margin.method=historical", MINUTES, "margin.policy=fixed"]).unwrap();
    }

    #[test]
    fn a_parametric_run_that_reads_a_history_needs_a_start() {
        for method in ["historical", "filtered_historical"] {
            let e = error(VALID, &[&format!("margin.method={method}"), DAYS]);
            assert_contains(
                &e,
                &[
                    "s.toml: key `start`",
                    &format!("`es` with method `{method}` reads margin.history"),
                    "has no start: the history is cut at the run's start so that no margin \
                     reads data from after it",
                    "valid: start = \"2026-01-01T00:00:00Z\" (an RFC 3339 time in UTC",
                ],
            );
        }
        // Monte Carlo reads it only for the anti-procyclicality floor.
        let e = error(VALID, &[DAYS, "margin.apc.floor=true"]);
        assert_contains(
            &e,
            &["key `start`", "`es` with the anti-procyclicality floor (margin.apc.floor) reads"],
        );
        // Without any history the floor has nothing to read.
        let e = error(VALID, &["margin.apc.floor=true"]);
        assert_contains(&e, &["key `margin.apc.floor`", "and there is none"]);
        // A start that is not a UTC time.
        let e = error(VALID, &[DAYS, "margin.method=historical", "start=\"2026-01-01T00:00:00\""]);
        assert_contains(
            &e,
            &[
                "key `start`",
                "`2026-01-01T00:00:00` is not a UTC date and time",
                "valid: an RFC 3339 time in UTC, such as start = \"2025-10-09T00:00:00Z\"",
            ],
        );
    }

    #[test]
    fn a_margin_history_is_cut_at_the_start() {
        let history = |start: &str| -> History {
            let s = load(VALID, &[DAYS, &format!("start=\"{start}\"")]).unwrap();
            s.margin.history.unwrap()
        };
        // The whole file is history the day after its last row.
        let all = history("2026-01-01T00:00:00Z");
        assert_eq!(all.bars.len(), 3059);
        assert_eq!(replay::format_timestamp(all.last_utc_ns()), "2025-12-31T00:00:00Z");
        // A start during 2025-12-31 has not seen that day close.
        let cut = history("2025-12-31T23:59:59Z");
        assert_eq!(cut.bars.len(), 3058);
        assert_eq!(replay::format_timestamp(cut.last_utc_ns()), "2025-12-30T00:00:00Z");
        assert_eq!(cut.bars[..], all.bars[..3058]);
        // A start before the file's first close leaves nothing a run may read; the fixed
        // policy here reads none, so that is no error.
        let none = load(VALID, &[DAYS, "margin.policy=fixed", "start=\"2017-08-17T12:00:00Z\""]);
        assert!(none.unwrap().margin.history.is_none());
    }

    #[test]
    fn a_start_that_leaves_too_few_rows_names_how_many_remain() {
        let set = |start: &str| format!("start=\"{start}\"");
        let e = error(VALID, &[DAYS, "margin.method=historical", &set("2017-08-20T00:00:00Z")]);
        assert_contains(
            &e,
            &[
                "key `margin.history`",
                "3 of the history's 3059 rows closed by the run's start 2017-08-20T00:00:00Z \
                 (the file runs from 2017-08-17T00:00:00Z to 2025-12-31T00:00:00Z): 2 returns, \
                 too few for a horizon of 1 period of 1d",
                "valid: a history with at least 12 rows closed by the run's start at this horizon",
            ],
        );
        // Before the first row: none remain.
        let e = error(VALID, &[DAYS, "margin.method=historical", &set("2017-01-01T00:00:00Z")]);
        assert_contains(&e, &["0 of the history's 3059 rows closed by the run's start"]);
        // The minute history cut at midnight keeps 20:23 to 23:59 (217 rows): enough for an
        // hour's horizon, not for four.
        let midnight = set("2020-03-13T00:00:00Z");
        let four =
            error(VALID, &[MINUTES, "margin.method=historical", &midnight, "margin.horizon=4h"]);
        assert_contains(
            &four,
            &["217 of the history's 428 rows", "or margin.horizon of at most 3h26m"],
        );
        let s = load(VALID, &[MINUTES, "margin.method=historical", &midnight, "margin.horizon=1h"]);
        assert_eq!(s.unwrap().margin.history.unwrap().bars.len(), 217);
    }

    #[test]
    fn a_replay_starts_at_its_first_row_and_is_not_its_own_history() {
        let text = VALID.replace("initial_price = 100.0\n", "").replace(
            "process = { kind = \"gbm\", vol = 0.5 }",
            "process = { kind = \"replay\", file = \"data/binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv\" }",
        );
        let historical = "margin.method=historical";
        let e = error(&text, &[historical]);
        assert_contains(
            &e,
            &[
                "key `margin.history`",
                "`es` with method `historical` reads a margin history and this replay has none",
                "at or after the run's start (2020-03-12T20:23:00Z)",
                "valid: margin.history = \"data/FILE.csv\"",
            ],
        );
        let s = load(&text, &[historical, DAYS]).unwrap();
        assert_eq!(s.start_utc_ns, replay::parse_timestamp("2020-03-12T20:23:00Z"));
        let history = s.margin.history.unwrap();
        assert_eq!(history.bars.len(), 938);
        assert_eq!(replay::format_timestamp(history.last_utc_ns()), "2020-03-11T00:00:00Z");
        // A start with a replay is its first row's time, or refused with both.
        load(&text, &[historical, DAYS, "start=\"2020-03-12T20:23:00Z\""]).unwrap();
        let e = error(&text, &[historical, DAYS, "start=\"2020-03-12T00:00:00Z\""]);
        assert_contains(
            &e,
            &[
                "key `start`",
                "start 2020-03-12T00:00:00Z is not the replay's first row, 2020-03-12T20:23:00Z",
                "valid: start = \"2020-03-12T20:23:00Z\", or no start",
            ],
        );
        // The fixed policy reads no history: a replay without one is fine.
        load(&text, &["margin.policy=fixed"]).unwrap();
    }

    #[test]
    fn monte_carlo_needs_a_parametric_process() {
        let text = VALID.replace("initial_price = 100.0\n", "").replace(
            "process = { kind = \"gbm\", vol = 0.5 }",
            "process = { kind = \"replay\", file = \"data/binance_usdm_btcusdt_perp_1m_2020-03-12_13.csv\" }",
        );
        let e = error(&text, &[]);
        assert_contains(
            &e,
            &[
                "s.toml:10:10: key `margin.method`",
                "Monte Carlo scenarios need a parametric process",
            ],
        );
        load(&text, &["margin.policy=grid"]).unwrap();
    }
}
