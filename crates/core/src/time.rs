//! Simulated time.
//!
//! [`SimTime`] counts nanoseconds since the start of a run; [`SimDuration`] is a span of
//! nanoseconds. Nothing in liqsim reads a wall clock: time only moves when the event
//! kernel pops the next event.
//!
//! Durations are written as one or more `<number><unit>` parts: `250ms`, `5s`, `6h`,
//! `7d`, `1h30m`, `1.5h`. Units: `ns`, `us`, `ms`, `s`, `m` (minutes), `h`, `d`, `w`.
//! A part may have a decimal fraction as long as the total is a whole nanosecond.

use crate::error::{InputError, Result};
use crate::units::parse_scaled;
use std::fmt;

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// A point on the simulated clock: nanoseconds since the run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimTime(u64);

/// A span of simulated time in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(u64);

impl SimTime {
    pub const START: SimTime = SimTime(0);

    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(nanos)
    }

    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at the end of representable time (about 584 years).
    pub fn plus(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }

    pub fn as_seconds_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SECOND as f64
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_nanos(nanos: u64) -> SimDuration {
        SimDuration(nanos)
    }

    pub const fn from_secs(secs: u64) -> SimDuration {
        SimDuration(secs * NANOS_PER_SECOND)
    }

    pub const fn from_millis(millis: u64) -> SimDuration {
        SimDuration(millis * 1_000_000)
    }

    pub const fn nanos(self) -> u64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn as_seconds_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SECOND as f64
    }

    /// In years of 365.25 days, the unit of annualized volatilities and rates.
    pub fn as_years_f64(self) -> f64 {
        self.as_seconds_f64() / SECONDS_PER_YEAR
    }

    /// Parses text such as `250ms`, `6h`, `1h30m` or `1.5d`. Zero is allowed here;
    /// callers that need a positive span check for it, with their own key in the message.
    pub fn parse(text: &str) -> Result<SimDuration> {
        const EXPECTED: &str =
            "a duration such as 250ms, 5s, 6h, 7d or 1h30m (units ns, us, ms, s, m, h, d, w)";
        let bad = |why: String| InputError::new(why).expected(EXPECTED);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("empty duration".into()).into());
        }
        let mut rest = trimmed;
        let mut total: u128 = 0;
        while !rest.is_empty() {
            let number_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            if number_len == 0 {
                return Err(bad(format!("`{text}`: expected a number at `{rest}`")).into());
            }
            let number = &rest[..number_len];
            rest = &rest[number_len..];
            let unit_len = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let unit_nanos: u128 = match unit {
                "ns" => 1,
                "us" | "µs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" | "min" => 60 * 1_000_000_000,
                "h" => 3_600 * 1_000_000_000,
                "d" => 86_400 * 1_000_000_000,
                "w" => 7 * 86_400 * 1_000_000_000,
                "" => return Err(bad(format!("`{text}`: the number {number} has no unit")).into()),
                other => return Err(bad(format!("`{text}`: unknown unit `{other}`")).into()),
            };
            let scaled = parse_scaled(number, 9).map_err(|_| {
                bad(format!("`{text}`: `{number}` is not a number of at most 9 decimals"))
            })?;
            let nanos_times_1e9 = u128::try_from(scaled).unwrap_or(0) * unit_nanos;
            if !nanos_times_1e9.is_multiple_of(1_000_000_000) {
                return Err(bad(format!("`{text}` is not a whole number of nanoseconds")).into());
            }
            total += nanos_times_1e9 / 1_000_000_000;
            if total > u128::from(u64::MAX) {
                return Err(bad(format!("`{text}` is too long")).into());
            }
        }
        Ok(SimDuration(total as u64))
    }
}

impl fmt::Display for SimDuration {
    /// The shortest text [`SimDuration::parse`] reads back to the same value: `1h30m`, `250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.pad("0s");
        }
        const UNITS: [(&str, u64); 7] = [
            ("d", 86_400 * NANOS_PER_SECOND),
            ("h", 3_600 * NANOS_PER_SECOND),
            ("m", 60 * NANOS_PER_SECOND),
            ("s", NANOS_PER_SECOND),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ];
        let mut rest = self.0;
        let mut text = String::new();
        for (unit, nanos) in UNITS {
            let count = rest / nanos;
            if count > 0 {
                text.push_str(&format!("{count}{unit}"));
                rest -= count * nanos;
            }
        }
        f.pad(&text)
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{}", SimDuration(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(text: &str) -> u64 {
        SimDuration::parse(text).unwrap().nanos() / NANOS_PER_SECOND
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(SimDuration::parse("250ms").unwrap().nanos(), 250_000_000);
        assert_eq!(secs("5s"), 5);
        assert_eq!(secs("6h"), 21_600);
        assert_eq!(secs("7d"), 604_800);
        assert_eq!(secs("1h30m"), 5_400);
        assert_eq!(secs("1.5h"), 5_400);
        assert_eq!(secs("2w"), 1_209_600);
        assert_eq!(SimDuration::parse("1ns").unwrap().nanos(), 1);
        assert_eq!(SimDuration::parse("0s").unwrap().nanos(), 0);
    }

    #[test]
    fn rejects_malformed_text_with_the_reason() {
        for (text, needle) in [
            ("", "empty"),
            ("6", "no unit"),
            ("6x", "unknown unit `x`"),
            ("h", "expected a number"),
            ("-5s", "expected a number"),
            ("0.5ns", "whole number of nanoseconds"),
            ("1000000000w", "too long"),
            ("1.2.3s", "not a number"),
        ] {
            let e = SimDuration::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
            assert!(e.contains("valid:"), "{text:?}: {e}");
        }
    }

    #[test]
    fn years() {
        let year = SimDuration::parse("365.25d").unwrap();
        assert!((year.as_years_f64() - 1.0).abs() < 1e-15);
    }

    proptest! {
        #[test]
        fn display_round_trips(nanos in any::<u64>()) {
            let d = SimDuration::from_nanos(nanos);
            prop_assert_eq!(SimDuration::parse(&d.to_string()).unwrap(), d);
        }
    }
}
