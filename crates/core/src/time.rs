//! Simulated time.
//!
//! [`SimTime`] counts nanoseconds since the start of a run; [`SimDuration`] is a span of
//! nanoseconds. Nothing in liqsim reads a wall clock: time only moves when the event
//! kernel pops the next event.
//!
//! Durations are written as one or more `<number><unit>` parts: `250ms`, `5s`, `6h`,
//! `7d`, `1h30m`, `1.5h`. Units: `ns`, `us`, `ms`, `s`, `m` (minutes), `h`, `d`, `w`.
//! A part may have a decimal fraction as long as the total is a whole nanosecond.
//!
//! Dated data (replays, margin histories, a run's start) is in UTC nanoseconds since
//! 1970-01-01T00:00:00Z, read and written as RFC 3339 ([`parse_timestamp`],
//! [`format_timestamp`]).

use crate::error::{InputError, Result};
use crate::units::parse_scaled;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::num::NonZeroU64;

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
pub const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

/// A point on the simulated clock: nanoseconds since the run started, up to
/// `u64::MAX - 1` (about 584 years).
///
/// Stored as nanoseconds + 1 so that `Option<SimTime>` takes 8 bytes, not 16: agents keep
/// two optional times each (a pending wake, a holding time), 16 bytes an account at ten
/// million accounts. Order, equality, `Debug` and `Hash` are those of the nanoseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SimTime(NonZeroU64);

impl fmt::Debug for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimTime").field(&self.nanos()).finish()
    }
}

impl Hash for SimTime {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nanos().hash(state);
    }
}

impl Default for SimTime {
    fn default() -> SimTime {
        SimTime::START
    }
}

/// A span of simulated time in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SimDuration(u64);

impl SimTime {
    pub const START: SimTime = SimTime::from_nanos(0);

    /// The time `nanos` after the start, saturating at the end of representable time.
    pub const fn from_nanos(nanos: u64) -> SimTime {
        SimTime(NonZeroU64::MIN.saturating_add(nanos))
    }

    pub const fn nanos(self) -> u64 {
        self.0.get() - 1
    }

    /// `self + d`, saturating at the end of representable time (about 584 years).
    pub fn plus(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }

    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.get().saturating_sub(earlier.0.get()))
    }

    pub fn as_seconds_f64(self) -> f64 {
        self.nanos() as f64 / NANOS_PER_SECOND as f64
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
        write!(f, "t+{}", SimDuration(self.nanos()))
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of nanoseconds since 1970-01-01T00:00:00Z, with the fraction of
/// a second when there is one: the form [`parse_timestamp`] reads and the CSVs use.
pub fn format_timestamp(utc_ns: u64) -> String {
    let seconds = utc_ns / 1_000_000_000;
    let nanos = utc_ns % 1_000_000_000;
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    let (hour, minute, second) = (of_day / 3_600, of_day % 3_600 / 60, of_day % 60);
    let fraction = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}").trim_end_matches('0').to_string()
    };
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z")
}

/// Nanoseconds since 1970-01-01T00:00:00Z of `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (a space
/// may stand for `T`). Dates before 1970 are refused (no history of interest is that old).
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z').or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once(['T', ' '])?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let mut t = time.splitn(3, ':');
    let hour: u64 = t.next()?.parse().ok()?;
    let minute: u64 = t.next()?.parse().ok()?;
    let seconds_text = t.next()?;
    let (whole, fraction) = seconds_text.split_once('.').unwrap_or((seconds_text, ""));
    let second: u64 = whole.parse().ok()?;
    // Four-digit years, as ISO 8601 writes them: a longer one would overflow the day count.
    if !(0..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    if fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos_fraction: u64 =
        if fraction.is_empty() { 0 } else { format!("{fraction:0<9}").parse().ok()? };
    let days = days_from_civil(year, month, day);
    if days < 0 {
        return None;
    }
    let seconds = (days as u64).checked_mul(86_400)? + hour * 3_600 + minute * 60 + second;
    seconds.checked_mul(1_000_000_000)?.checked_add(nanos_fraction)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm,
/// the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    /// Years past four digits are refused rather than overflowing the day count (a
    /// fuzzed CSV found `attempt to multiply with overflow` here; release builds wrapped).
    #[test]
    fn a_timestamp_beyond_year_9999_is_not_a_timestamp() {
        assert_eq!(parse_timestamp("2100-01-01T00:00:00Z"), Some(4_102_444_800_000_000_000));
        // Past 2554 the nanoseconds overflow u64: refused too, not wrapped.
        for text in [
            "9999-12-31T23:59:59Z",
            "10000-01-01T00:00:00Z",
            "213503982334601-03-12T20:23:00Z",
            "9223372036854775807-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
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

    #[test]
    fn an_optional_time_is_one_word_and_times_keep_their_order_and_text() {
        assert_eq!(std::mem::size_of::<Option<SimTime>>(), 8);
        let (a, b) = (SimTime::from_nanos(0), SimTime::from_nanos(7));
        assert!(a < b && a == SimTime::START && a == SimTime::default());
        assert_eq!((b.nanos(), b.since(a).nanos(), a.since(b).nanos()), (7, 7, 0));
        assert_eq!(format!("{b:?}"), "SimTime(7)");
        let end = SimTime::from_nanos(u64::MAX);
        assert_eq!(end.nanos(), u64::MAX - 1);
        assert_eq!(end.plus(SimDuration::from_secs(1)), end);
    }
}
