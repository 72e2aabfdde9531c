//! Between byte spans in a TOML text and dotted key paths (`agents[1].leverage.max`).
//!
//! serde reports a span, validation reports a key path; users want both a line and a key.
//! The toml_edit document keeps the spans of every key and value, so a path finds its line
//! and a span finds its path.

use std::ops::Range;
use toml_edit::{Document, Item, Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` (or `a.b.2.c`) into segments; `None` if malformed.
pub fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        // Only `a[0]`-style parts may have an empty name (and never the first part).
        if name.is_empty() && (out.is_empty() || rest.is_empty()) {
            return None;
        }
        if !name.is_empty() {
            if name.bytes().all(|b| b.is_ascii_digit()) && !out.is_empty() {
                out.push(Segment::Index(name.parse().ok()?));
            } else if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                out.push(Segment::Key(name.to_string()));
            } else {
                return None;
            }
        }
        while !rest.is_empty() {
            let close = rest.find(']')?;
            out.push(Segment::Index(rest[1..close].parse().ok()?));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return None;
            }
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

pub fn render_path(segments: &[Segment]) -> String {
    let mut s = String::new();
    for seg in segments {
        match seg {
            Segment::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Segment::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

enum Node<'a> {
    Item(&'a Item),
    Table(&'a Table),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn of_item(item: &'a Item) -> Node<'a> {
        match item {
            Item::Table(t) => Node::Table(t),
            Item::Value(v) => Node::Value(v),
            other => Node::Item(other),
        }
    }

    fn span(&self) -> Option<Range<usize>> {
        match self {
            Node::Value(v) => v.span(),
            Node::Table(t) => t.span(),
            Node::Item(_) => None,
        }
    }

    fn child(&self, seg: &Segment) -> Option<(Option<Range<usize>>, Node<'a>)> {
        match (self, seg) {
            (Node::Table(t), Segment::Key(k)) => {
                t.get_key_value(k).map(|(key, item)| (key.span(), Node::of_item(item)))
            }
            (Node::Value(Value::InlineTable(t)), Segment::Key(k)) => {
                t.get_key_value(k).map(|(key, v)| (key.span(), Node::of_item(v)))
            }
            (Node::Item(Item::ArrayOfTables(a)), Segment::Index(i)) => {
                a.get(*i).map(|t| (t.span(), Node::Table(t)))
            }
            (Node::Value(Value::Array(a)), Segment::Index(i)) => {
                a.get(*i).map(|v| (v.span(), Node::Value(v)))
            }
            _ => None,
        }
    }
}

/// The span of the deepest existing part of `path`: the value itself when present (or
/// its key, with `prefer_key`), else the nearest enclosing table or key that exists.
pub fn span_of_path(doc: &Document<String>, path: &str, prefer_key: bool) -> Option<Range<usize>> {
    let segments = parse_path(path)?;
    let mut node = Node::Table(doc.as_table());
    let mut best: Option<Range<usize>> = None;
    for seg in &segments {
        let Some((key_span, next)) = node.child(seg) else { break };
        best =
            if prefer_key { key_span.or(next.span()) } else { next.span().or(key_span) }.or(best);
        node = next;
    }
    best
}

/// Whether `path` names a table (standard, inline or an entry of an array of tables).
pub fn is_table(doc: &Document<String>, path: &str) -> bool {
    let Some(segments) = parse_path(path) else { return false };
    let mut node = Node::Table(doc.as_table());
    for seg in &segments {
        let Some((_, next)) = node.child(seg) else { return false };
        node = next;
    }
    matches!(node, Node::Table(_) | Node::Value(Value::InlineTable(_)))
}

/// The key path of the deepest key or value whose span contains `offset`.
pub fn path_at(doc: &Document<String>, offset: usize) -> Option<String> {
    let mut path = Vec::new();
    walk_table(doc.as_table(), offset, &mut path).then(|| render_path(&path))
}

fn contains(span: Option<Range<usize>>, offset: usize) -> bool {
    span.is_some_and(|s| s.start <= offset && offset < s.end.max(s.start + 1))
}

fn walk_table(t: &Table, offset: usize, path: &mut Vec<Segment>) -> bool {
    for (k, item) in t.iter() {
        let key_span = t.key(k).and_then(|key| key.span());
        path.push(Segment::Key(k.to_string()));
        if walk_item(item, offset, path) || contains(key_span, offset) {
            return true;
        }
        path.pop();
    }
    false
}

fn walk_item(item: &Item, offset: usize, path: &mut Vec<Segment>) -> bool {
    match item {
        Item::Value(v) => walk_value(v, offset, path),
        Item::Table(t) => walk_table(t, offset, path) || contains(t.span(), offset),
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                path.push(Segment::Index(i));
                if walk_table(t, offset, path) || contains(t.span(), offset) {
                    return true;
                }
                path.pop();
            }
            false
        }
        Item::None => false,
    }
}

fn walk_value(v: &Value, offset: usize, path: &mut Vec<Segment>) -> bool {
    match v {
        Value::InlineTable(t) => {
            for (k, value) in t.iter() {
                let key_span = t.key(k).and_then(|key| key.span());
                path.push(Segment::Key(k.to_string()));
                if walk_value(value, offset, path) || contains(key_span, offset) {
                    return true;
                }
                path.pop();
            }
            contains(v.span(), offset)
        }
        Value::Array(a) => {
            for (i, value) in a.iter().enumerate() {
                path.push(Segment::Index(i));
                if walk_value(value, offset, path) {
                    return true;
                }
                path.pop();
            }
            contains(v.span(), offset)
        }
        _ => contains(v.span(), offset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name = \"x\"\n[market]\ntick_size = 0.5\nprocess = { kind = \"gbm\", vol = 0.6 }\n[[agents]]\nkind = \"a\"\n[[agents]]\nkind = \"b\"\ncount = 5\n";

    #[test]
    fn paths_parse_both_ways() {
        let p = parse_path("agents[1].leverage.max").unwrap();
        assert_eq!(p, parse_path("agents.1.leverage.max").unwrap());
        assert_eq!(render_path(&p), "agents[1].leverage.max");
        assert!(parse_path("").is_none());
        assert!(parse_path("a..b").is_none());
        assert!(parse_path("a[x]").is_none());
        assert!(parse_path("a b").is_none());
    }

    #[test]
    fn path_to_line() {
        let doc = Document::parse(DOC.to_string()).unwrap();
        let at = |p: &str| span_of_path(&doc, p, false).map(|s| line_col(DOC, s.start));
        assert_eq!(at("market.tick_size"), Some((3, 13)));
        assert_eq!(at("market.process.vol"), Some((4, 33)));
        assert_eq!(at("agents[1].count"), Some((9, 9)));
        // A missing key points at the deepest part that exists.
        assert_eq!(at("agents[1].leverage").map(|(l, _)| l), Some(7));
        let key = span_of_path(&doc, "market.process.vol", true).map(|s| line_col(DOC, s.start));
        assert_eq!(key, Some((4, 27)));
    }

    #[test]
    fn span_to_path() {
        let doc = Document::parse(DOC.to_string()).unwrap();
        let offset = DOC.find("count").unwrap();
        assert_eq!(path_at(&doc, offset).as_deref(), Some("agents[1].count"));
        let offset = DOC.find("0.6").unwrap();
        assert_eq!(path_at(&doc, offset).as_deref(), Some("market.process.vol"));
    }
}
