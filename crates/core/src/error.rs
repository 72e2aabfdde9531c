//! The project's one error type.
//!
//! Bad user input (a scenario file, a flag, a CSV row) becomes [`Error::Input`], which
//! carries where the problem is (file, line, column, key path) and what would have been
//! valid, so the CLI can print one line a user can act on and exit with code 2. Everything
//! else (an overflow, a broken invariant) exits with code 1.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user gave something liqsim cannot accept.
    #[error("{0}")]
    Input(Box<InputError>),
    /// An exact integer computation left the i64 range. `what` names the quantity.
    #[error("arithmetic overflow computing {what}")]
    Overflow { what: &'static str },
    /// A broken internal invariant: a bug in liqsim, never the user's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Process exit code for this error: 2 for bad input, 1 for internal failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) => 2,
            Error::Overflow { .. } | Error::Internal(_) => 1,
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(Box::new(InputError::new(message)))
    }

    pub fn overflow(what: &'static str) -> Self {
        Error::Overflow { what }
    }

    /// The input error inside, if this is one (to add context on the way up).
    pub fn as_input_mut(&mut self) -> Option<&mut InputError> {
        match self {
            Error::Input(e) => Some(e),
            _ => None,
        }
    }

    /// Adds the source name (a file path, `--set`, a flag) unless one is already set.
    pub fn in_source(mut self, source: impl Into<String>) -> Self {
        if let Some(e) = self.as_input_mut()
            && e.source.is_none()
        {
            e.source = Some(source.into());
        }
        self
    }

    /// Adds the key path unless one is already set.
    pub fn at_key(mut self, key: impl Into<String>) -> Self {
        if let Some(e) = self.as_input_mut()
            && e.key.is_none()
        {
            e.key = Some(key.into());
        }
        self
    }
}

impl From<InputError> for Error {
    fn from(e: InputError) -> Self {
        Error::Input(Box::new(e))
    }
}

/// What is wrong with a piece of input, and where.
///
/// Rendered as `FILE:LINE:COLUMN: key `a.b`: MESSAGE (valid: RANGE)`, leaving out the
/// parts that are unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InputError {
    /// File path, or a label such as `--set` or `--seed` for command-line input.
    pub source: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Dotted key path in the scenario (`margin.confidence`) or CSV column name.
    pub key: Option<String>,
    pub message: String,
    /// The valid range or the accepted values.
    pub expected: Option<String>,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        InputError { message: message.into(), ..Default::default() }
    }

    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// A line without a column (a whole CSV row).
    pub fn line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote_location = false;
        if let Some(source) = &self.source {
            write!(f, "{source}")?;
            wrote_location = true;
        }
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            wrote_location = true;
        }
        if wrote_location {
            write!(f, ": ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(expected) = &self.expected {
            write!(f, " (valid: {expected})")?;
        }
        Ok(())
    }
}

impl std::error::Error for InputError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_part_in_order() {
        let e = InputError::new("1.5 is out of range")
            .source("s.toml")
            .at(4, 14)
            .key("margin.confidence")
            .expected("0 < x < 1");
        assert_eq!(
            e.to_string(),
            "s.toml:4:14: key `margin.confidence`: 1.5 is out of range (valid: 0 < x < 1)"
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::input("x").exit_code(), 2);
        assert_eq!(Error::overflow("notional").exit_code(), 1);
        assert_eq!(Error::Internal("x".into()).exit_code(), 1);
    }

    #[test]
    fn context_is_added_once() {
        let e = Error::input("bad").at_key("a.b").at_key("c").in_source("f.toml");
        assert_eq!(e.to_string(), "f.toml: key `a.b`: bad");
    }
}
