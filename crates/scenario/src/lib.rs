//! liqsim-scenario: scenario files (TOML) -> a validated [`Scenario`].
//!
//! The only simulation-side crate that knows about serde and files. Loading has three
//! stages, so that every error can name the file, line, column and key path:
//! 1. read the file (missing, a directory, not UTF-8 text, empty: each its own message);
//! 2. parse the TOML with spans (toml_edit), apply `--set key.path=value` overrides, and
//!    deserialize into the strict raw structs of [`raw`] (unknown keys are errors);
//! 3. [`validate`]: defaults, ranges and cross-field rules, errors by key path.
//!
//! An error at a key that a `--set` override wrote is reported against that `--set`, not
//! against a line of the file.

pub mod locate;
pub mod model;
pub mod raw;
pub mod replay;
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
        }
        Error::from(err)
    })?;
    let applied = apply_overrides(&original, overrides)?;
    let located = Located { source, text, original: &original, overrides: &applied.paths };
    let raw: raw::RawScenario = toml::from_str(&applied.text).map_err(|e| {
        // Spans refer to the overridden text; find the key path there, then the line in the
        // original file (or the --set that wrote it).
        let path = e.span().and_then(|span| {
            let doc = Document::parse(applied.text.clone()).ok()?;
            locate::path_at(&doc, span.start)
        });
        let message = readable_serde_message(e.message());
        located.error(
            InputError::new(message).expected_if(expected_for_serde(e.message())),
            path.as_deref(),
        )
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

/// Reads a whole text file with errors a user can act on.
pub fn read_text(path: &Path) -> Result<String> {
    let source = path.display().to_string();
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::from(InputError::new(format!("cannot read: {e}")).source(&source)))?;
    if meta.is_dir() {
        return Err(InputError::new("is a directory, not a file").source(&source).into());
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Error::from(InputError::new(format!("cannot read: {e}")).source(&source)))?;
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
            let overridden = self.overrides.iter().find(|(p, _)| {
                p == path
                    || path.starts_with(&format!("{p}."))
                    || path.starts_with(&format!("{p}["))
                    || p.starts_with(&format!("{path}."))
            });
            if let Some((p, value)) = overridden {
                err.source = Some(format!("--set {p}={value}"));
                return err.into();
            }
            // An unknown key is best shown at the key; anything else at its value.
            let prefer_key = err.message.starts_with("unknown field");
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
    Ok(Applied { text: doc.to_string(), paths })
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
                if let Item::Table(back) = as_item {
                    *t = back;
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
