//! Reading a price history from CSV: `timestamp_utc,open,high,low,close[,...]`.
//!
//! The first line is a header; columns are found by name, so extra columns (volume, trade
//! counts) are ignored and the order may vary. Timestamps are ISO-8601 UTC
//! (`2020-03-12T20:23:00Z`, fractional seconds allowed) and mark the bar's open. Rows must
//! be strictly increasing in time at one constant spacing: a gap or a duplicate is an
//! error, because a replay that silently bridged a missing hour would invent the price
//! path of that hour. Every error names the file, the line and the column.

use crate::model::Bar;
use liqsim_core::{Error, InputError, Result};
use std::path::Path;

const REQUIRED: [&str; 5] = ["timestamp_utc", "open", "high", "low", "close"];

pub fn load_bars(path: &Path) -> Result<Vec<Bar>> {
    let source = path.display().to_string();
    let text = crate::read_text(path)?;
    parse_bars(&text, &source)
}

pub fn parse_bars(text: &str, source: &str) -> Result<Vec<Bar>> {
    let fail = |line: usize, column: &str, message: String| -> Error {
        InputError::new(message).source(source).at(line, 1).key(column).into()
    };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            Error::from(
                InputError::new(format!("cannot read the CSV header: {e}")).source(source).at(1, 1),
            )
        })?
        .clone();
    let mut columns = [0usize; 5];
    for (slot, name) in columns.iter_mut().zip(REQUIRED) {
        *slot = headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::from(
                InputError::new(format!(
                    "missing column `{name}` (header is `{}`)",
                    headers.iter().collect::<Vec<_>>().join(",")
                ))
                .source(source)
                .at(1, 1)
                .expected("a header with timestamp_utc,open,high,low,close"),
            )
        })?;
    }
    let mut bars: Vec<Bar> = Vec::new();
    let mut first_ns: Option<u64> = None;
    let mut spacing: Option<u64> = None;
    let mut record = csv::StringRecord::new();
    loop {
        let line_before = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(line_before);
                return Err(fail(line, "row", format!("bad CSV row: {e}")));
            }
        }
        let line = record.position().map(|p| p.line() as usize).unwrap_or(line_before);
        let field = |i: usize| record.get(columns[i]).unwrap_or("").trim();
        let stamp = field(0);
        let time = parse_timestamp(stamp).ok_or_else(|| {
            Error::from(
                InputError::new(format!("`{stamp}` is not a timestamp"))
                    .source(source)
                    .at(line, 1)
                    .key("timestamp_utc")
                    .expected("ISO-8601 UTC such as 2020-03-12T20:23:00Z"),
            )
        })?;
        let mut prices = [0.0f64; 4];
        for (k, price) in prices.iter_mut().enumerate() {
            let text = field(k + 1);
            *price = text.parse::<f64>().ok().filter(|p| p.is_finite() && *p > 0.0).ok_or_else(
                || {
                    Error::from(
                        InputError::new(format!("`{text}` is not a positive price"))
                            .source(source)
                            .at(line, 1)
                            .key(REQUIRED[k + 1])
                            .expected("a finite number > 0"),
                    )
                },
            )?;
        }
        let [open, high, low, close] = prices;
        if low > open.min(close) || high < open.max(close) || low > high {
            return Err(fail(
                line,
                "low",
                format!(
                    "inconsistent bar: open {open}, high {high}, low {low}, close {close} (need low <= open, close <= high)"
                ),
            ));
        }
        let first = *first_ns.get_or_insert(time);
        if let Some(prev) = bars.last() {
            let prev_ns = prev.time_ns + first;
            if time <= prev_ns {
                return Err(fail(
                    line,
                    "timestamp_utc",
                    format!(
                        "timestamp `{stamp}` is not after the previous row's: rows must be in increasing time order"
                    ),
                ));
            }
            let step = time - prev_ns;
            match spacing {
                None => spacing = Some(step),
                Some(s) if s != step => {
                    return Err(fail(
                        line,
                        "timestamp_utc",
                        format!(
                            "gap: `{stamp}` is {}s after the previous row, the file's spacing is {}s",
                            step / 1_000_000_000,
                            s / 1_000_000_000
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        bars.push(Bar { time_ns: time - first, open, high, low, close });
    }
    if bars.len() < 2 {
        return Err(InputError::new(format!(
            "{} data rows; a replay needs at least 2",
            bars.len()
        ))
        .source(source)
        .into());
    }
    Ok(bars)
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
    if !(1..=12).contains(&month)
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
    let seconds = days as u64 * 86_400 + hour * 3_600 + minute * 60 + second;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        // 2020-03-12T20:23:00Z = 1584044580 s (checked with `date -u -d ... +%s`).
        assert_eq!(parse_timestamp("2020-03-12T20:23:00Z"), Some(1_584_044_580_000_000_000));
        assert_eq!(parse_timestamp("2020-03-12 20:23:00.5Z"), Some(1_584_044_580_500_000_000));
        assert!(parse_timestamp("2024-02-29T00:00:00Z").is_some());
        assert_eq!(parse_timestamp("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2020-13-01T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2020-03-12T20:23:00"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn reads_bars_relative_to_the_first() {
        let csv = "timestamp_utc,open,high,low,close,volume\n2020-03-12T20:23:00Z,10,12,9,11,5\n2020-03-12T20:24:00Z,11,11.5,10,10.5,1\n";
        let bars = parse_bars(csv, "x.csv").unwrap();
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[1].time_ns, 60_000_000_000);
        assert_eq!(bars[1].close, 10.5);
    }

    #[test]
    fn errors_name_line_and_column() {
        let head = "timestamp_utc,open,high,low,close\n";
        let cases = [
            (
                format!("{head}2020-03-12T20:23:00Z,10,12,9,11\n2020-03-12T20:22:00Z,10,12,9,11\n"),
                "x.csv:3:1: key `timestamp_utc`: timestamp",
            ),
            (
                format!("{head}2020-03-12T20:23:00Z,10,12,9,abc\n"),
                "x.csv:2:1: key `close`: `abc` is not a positive price",
            ),
            (
                format!("{head}2020-03-12T20:23:00Z,10,12,9,13\n"),
                "x.csv:2:1: key `low`: inconsistent bar",
            ),
            (
                format!(
                    "{head}2020-03-12T20:23:00Z,10,12,9,11\n2020-03-12T20:24:00Z,10,12,9,11\n2020-03-12T20:26:00Z,10,12,9,11\n"
                ),
                "x.csv:4:1: key `timestamp_utc`: gap",
            ),
            ("time,open,high,low,close\n".to_string(), "missing column `timestamp_utc`"),
            (format!("{head}2020-03-12T20:23:00Z,10,12,9\n"), "x.csv:2:1: key `row`: bad CSV row"),
            (format!("{head}2020-03-12T20:23:00Z,10,12,9,11\n"), "1 data rows"),
        ];
        for (text, needle) in cases {
            let e = parse_bars(&text, "x.csv").unwrap_err().to_string();
            assert!(e.contains(needle), "{needle:?} not in {e:?}");
        }
    }
}
