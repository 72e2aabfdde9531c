//! A small JSON text builder with keys in insertion order and numbers written exactly as
//! given.
//!
//! Why not serde_json: its map sorts keys unless the workspace-wide `preserve_order`
//! feature is on (which would change every other JSON output), and money must be the
//! exact decimal text of [`Money`]'s Display, never an f64 round trip. Output is pretty
//! printed with two-space indentation and a final newline, like `serde_json`'s pretty
//! printer, so files diff well.
//!
//! Ordering rules: keys appear in the order they are added. Known limitation: no
//! duplicate-key check (the writers here use fixed key lists).

use liqsim_core::{Money, SimTime};

/// A JSON value under construction.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// Number text, already valid JSON (e.g. `1234.5`, `-0.000001`, `7`).
    Number(String),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn obj() -> Json {
        Json::Object(Vec::new())
    }

    /// Adds `key: value` to an object (no effect on other values).
    pub fn with(mut self, key: &str, value: Json) -> Json {
        if let Json::Object(fields) = &mut self {
            fields.push((key.to_string(), value));
        }
        self
    }

    pub fn int(v: impl Into<i128>) -> Json {
        Json::Number(v.into().to_string())
    }

    /// Exact decimal quote units from [`Money`]'s Display.
    pub fn money(m: Money) -> Json {
        Json::Number(m.to_string())
    }

    /// A float with a fixed number of decimals; `null` when not finite.
    pub fn fixed(v: f64, decimals: usize) -> Json {
        if v.is_finite() {
            let text = format!("{v:.decimals$}");
            // `-0.000000` is valid JSON but reads as a sign error in a snapshot.
            if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
                Json::Number(text[1..].to_string())
            } else {
                Json::Number(text)
            }
        } else {
            Json::Null
        }
    }

    pub fn opt(v: Option<Json>) -> Json {
        v.unwrap_or(Json::Null)
    }

    /// Simulated seconds with six decimals, or null.
    pub fn seconds(t: Option<SimTime>) -> Json {
        t.map_or(Json::Null, |t| Json::fixed(t.as_seconds_f64(), 6))
    }

    pub fn str(s: &str) -> Json {
        Json::Str(s.to_string())
    }

    /// The pretty-printed text with a final newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::Str(s) => quote(out, s),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(fields) if fields.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                // Arrays of scalars stay on one line: [size, count] pairs, intervals.
                if items.iter().all(|i| !matches!(i, Json::Array(_) | Json::Object(_))) {
                    out.push('[');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        item.write(out, indent);
                    }
                    out.push(']');
                    return;
                }
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    pad(out, indent + 1);
                    item.write(out, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            Json::Object(fields) => {
                out.push_str("{\n");
                for (i, (k, v)) in fields.iter().enumerate() {
                    pad(out, indent + 1);
                    quote(out, k);
                    out.push_str(": ");
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < fields.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_insertion_order_with_exact_numbers() {
        let v = Json::obj()
            .with("z", Json::money(Money::from_micros(-1)))
            .with("a", Json::Array(vec![Json::int(1), Json::Null]))
            .with("s", Json::str("q\"\n\u{1}"))
            .with("f", Json::fixed(-0.0000001, 6))
            .with("nan", Json::fixed(f64::NAN, 6))
            .with("o", Json::obj().with("b", Json::Bool(true)));
        assert_eq!(
            v.render(),
            "{\n  \"z\": -0.000001,\n  \"a\": [1, null],\n  \"s\": \"q\\\"\\n\\u0001\",\n  \"f\": 0.000000,\n  \"nan\": null,\n  \"o\": {\n    \"b\": true\n  }\n}\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&v.render()).unwrap();
        assert_eq!(parsed["s"], "q\"\n\u{1}");
    }
}
