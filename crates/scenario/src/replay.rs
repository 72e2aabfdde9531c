//! Reading a price history from CSV: `timestamp_utc,open,high,low,close[,...]`.
//!
//! The first line is a header; columns are found by name, so extra columns (trade counts)
//! are ignored and the order may vary. A `quote_volume` column (else `volume`) is kept as
//! each bar's activity, which traders' arrivals can follow. Timestamps are ISO-8601 UTC
//! (`2020-03-12T20:23:00Z`, fractional seconds allowed) and mark the bar's open. Rows must
//! be strictly increasing in time at one constant spacing: a gap or a duplicate is an
//! error, because a replay that silently bridged a missing hour would invent the price
//! path of that hour. Every error names the file, the line and the column (the field's
//! position in the row, and its name); the caller adds the scenario key that named the
//! file. Prices are at most [`MAX_PRICE`], the largest initial price a scenario takes.
//!
//! A bar's time is relative to the first row's (the kernel's clock starts at zero); the
//! first row's absolute time is kept beside the bars ([`History::first_utc_ns`]), because
//! a run must not read data from after its own start ([`closed_by`] cuts a history there).

use crate::model::{Bar, History};
pub use liqsim_core::time::{format_timestamp, parse_timestamp};
use liqsim_core::{Error, InputError, Result};
use std::path::Path;

const REQUIRED: [&str; 5] = ["timestamp_utc", "open", "high", "low", "close"];

/// The highest price a history may hold: `market.initial_price`'s bound.
pub const MAX_PRICE: f64 = 1e9;

/// The most a replayed price may rise above the replay's first open. Positions opened
/// near the start are worth up to this many times their notional at the top, and the
/// run's money (fund, fees, liquidated notional summed over every account) stays within
/// its exact range; a history read for margins only gives returns and has no such bound.
pub const MAX_REPLAY_RISE: f64 = 1000.0;

/// A price history for margins: every price positive and at most [`MAX_PRICE`].
pub fn load_bars(path: &Path) -> Result<History> {
    let source = path.display().to_string();
    let text = crate::read_text(path)?;
    parse_bars(&text, &source)
}

/// A history to replay: as [`load_bars`], and no price above [`MAX_REPLAY_RISE`] times
/// the first open.
pub fn load_replay(path: &Path) -> Result<History> {
    let source = path.display().to_string();
    let text = crate::read_text(path)?;
    parse(&text, &source, Some(MAX_REPLAY_RISE))
}

pub fn parse_bars(text: &str, source: &str) -> Result<History> {
    parse(text, source, None)
}

fn parse(text: &str, source: &str, max_rise: Option<f64>) -> Result<History> {
    // Errors name the field by its position in the row and by its name.
    let fail = |line: usize, field: usize, message: String| -> Error {
        InputError::new(message).source(source).at(line, field + 1).into()
    };
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| {
            Error::from(
                InputError::new(format!("cannot read the CSV header: {e}")).source(source).line(1),
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
                .line(1)
                .expected("a header with timestamp_utc,open,high,low,close"),
            )
        })?;
    }
    let activity_column = ["quote_volume", "volume"]
        .iter()
        .find_map(|name| headers.iter().position(|h| h.trim() == *name).map(|c| (c, *name)));
    let mut activity: Vec<f64> = Vec::new();
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
                return Err(InputError::new(format!("bad CSV row: {e}"))
                    .source(source)
                    .line(line)
                    .expected(format!("{} fields in every row, as in the header", headers.len()))
                    .into());
            }
        }
        let line = record.position().map(|p| p.line() as usize).unwrap_or(line_before);
        let field = |i: usize| record.get(columns[i]).unwrap_or("").trim();
        let stamp = field(0);
        let time = parse_timestamp(stamp).ok_or_else(|| {
            Error::from(
                InputError::new(format!("column `timestamp_utc`: `{stamp}` is not a timestamp"))
                    .source(source)
                    .at(line, columns[0] + 1)
                    .expected("ISO-8601 UTC such as 2020-03-12T20:23:00Z"),
            )
        })?;
        let mut prices = [0.0f64; 4];
        for (k, price) in prices.iter_mut().enumerate() {
            let text = field(k + 1);
            *price = text
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p > 0.0 && *p <= MAX_PRICE)
                .ok_or_else(|| {
                    Error::from(
                        InputError::new(format!(
                            "column `{}`: `{text}` is not a price",
                            REQUIRED[k + 1]
                        ))
                        .source(source)
                        .at(line, columns[k + 1] + 1)
                        .expected(format!("a number 0 < x <= {MAX_PRICE:e}")),
                    )
                })?;
        }
        let [open, high, low, close] = prices;
        let first_open = bars.first().map_or(open, |b| b.open);
        if let Some(rise) = max_rise
            && high > first_open * rise
        {
            return Err(InputError::new(format!(
                "column `high`: {high} is more than {rise} times the first open ({first_open})"
            ))
            .source(source)
            .at(line, columns[2] + 1)
            .expected(format!("a replay whose prices stay at most {rise} times its first open"))
            .into());
        }
        if low > open.min(close) || high < open.max(close) || low > high {
            return Err(fail(
                line,
                columns[3],
                format!(
                    "column `low`: inconsistent bar: open {open}, high {high}, low {low}, close {close} (need low <= open, close <= high)"
                ),
            ));
        }
        let first = *first_ns.get_or_insert(time);
        if let Some(prev) = bars.last() {
            let prev_ns = prev.time_ns + first;
            if time <= prev_ns {
                return Err(fail(
                    line,
                    columns[0],
                    format!(
                        "column `timestamp_utc`: timestamp `{stamp}` is not after the previous row's: rows must be in increasing time order"
                    ),
                ));
            }
            let step = time - prev_ns;
            match spacing {
                None => spacing = Some(step),
                Some(s) if s != step => {
                    return Err(fail(
                        line,
                        columns[0],
                        format!(
                            "column `timestamp_utc`: gap: `{stamp}` is {}s after the previous row, the file's spacing is {}s",
                            step / 1_000_000_000,
                            s / 1_000_000_000
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some((column, name)) = activity_column {
            let text = record.get(column).unwrap_or("").trim();
            let volume = text.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0);
            activity.push(volume.ok_or_else(|| {
                Error::from(
                    InputError::new(format!("`{text}` is not a volume"))
                        .source(source)
                        .at(line, column + 1)
                        .key(name)
                        .expected("a finite number >= 0"),
                )
            })?);
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
    // At least two rows, so a first time was recorded.
    let first_utc_ns = first_ns.unwrap_or(0);
    Ok(History { first_utc_ns, bars, activity })
}

/// How many of `history`'s bars had closed by `start_utc_ns`: the length of the prefix a
/// run starting then may read.
///
/// A row's timestamp is its bar's open, and its close is known only one spacing later, so
/// a bar is kept when `open + spacing <= start`: a daily bar opening at 2020-03-12T00:00Z
/// closes at 2020-03-13T00:00Z and is not yet known to a run starting at 20:23Z on the
/// 12th, while the bar of the 11th, closed at midnight, is. A bar whose close falls exactly
/// on the start is kept (its close is the last price before the run's first). Rows are
/// evenly spaced (checked when read), so the kept ones are a prefix.
pub fn closed_by(history: &History, start_utc_ns: u64) -> usize {
    let bars = history.bars.as_slice();
    let spacing = match bars {
        [first, second, ..] => second.time_ns - first.time_ns,
        // A single bar has no spacing to know its close by; none is known before it.
        _ => return 0,
    };
    bars.partition_point(|b| {
        history
            .first_utc_ns
            .checked_add(b.time_ns)
            .and_then(|open| open.checked_add(spacing))
            .is_some_and(|close| close <= start_utc_ns)
    })
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
        let history = parse_bars(csv, "x.csv").unwrap();
        assert_eq!(history.first_utc_ns, 1_584_044_580_000_000_000);
        let bars = history.bars;
        assert_eq!(bars.len(), 2);
        assert_eq!(bars[1].time_ns, 60_000_000_000);
        assert_eq!(bars[1].close, 10.5);
    }

    #[test]
    fn timestamps_format_as_they_are_read() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2020-02-29T23:59:59Z",
            "2020-03-12T20:23:00Z",
            "2025-12-31T00:00:00Z",
            "2100-03-01T00:00:00.5Z",
            "2026-01-01T00:00:00.000000001Z",
        ] {
            let ns = parse_timestamp(text).unwrap();
            assert_eq!(format_timestamp(ns), text);
        }
    }

    /// Daily bars of 9 to 13 March 2020: which of them a run starting at `start` may read.
    #[test]
    fn a_history_is_cut_at_the_last_bar_closed_by_the_start() {
        let mut csv = String::from("timestamp_utc,open,high,low,close\n");
        for day in 9..=13 {
            csv.push_str(&format!("2020-03-{day:02}T00:00:00Z,10,12,9,11\n"));
        }
        let history = parse_bars(&csv, "d.csv").unwrap();
        let kept = |start: &str| closed_by(&history, parse_timestamp(start).unwrap());
        // Black Thursday's replay starts at 20:23Z on the 12th: the bar of the 12th opened
        // that midnight but closes only at the next, so the 11th's is the last one kept.
        assert_eq!(kept("2020-03-12T20:23:00Z"), 3);
        // A close exactly at the start is known; a nanosecond earlier the 11th's is not.
        assert_eq!(kept("2020-03-12T00:00:00Z"), 3);
        assert_eq!(kept("2020-03-11T23:59:59.999999999Z"), 2);
        assert_eq!(kept("2020-03-10T00:00:00Z"), 1);
        // A row dated at the start is dropped, and so is everything before the first close.
        assert_eq!(kept("2020-03-09T00:00:00Z"), 0);
        assert_eq!(kept("2017-01-01T00:00:00Z"), 0);
        // After the last close, the whole file.
        assert_eq!(kept("2020-03-14T00:00:00Z"), 5);
        assert_eq!(kept("2026-01-01T00:00:00Z"), 5);
    }

    #[test]
    fn errors_name_line_and_column() {
        let head = "timestamp_utc,open,high,low,close\n";
        let cases = [
            (
                format!("{head}2020-03-12T20:23:00Z,10,12,9,11\n2020-03-12T20:22:00Z,10,12,9,11\n"),
                "x.csv:3:1: column `timestamp_utc`: timestamp",
            ),
            (
                format!("{head}2020-03-12T20:23:00Z,10,12,9,abc\n"),
                "x.csv:2:5: column `close`: `abc` is not a price",
            ),
            (
                format!("{head}2020-03-12T20:23:00Z,10,12,9,13\n"),
                "x.csv:2:4: column `low`: inconsistent bar",
            ),
            (
                format!(
                    "{head}2020-03-12T20:23:00Z,10,12,9,11\n2020-03-12T20:24:00Z,10,12,9,11\n2020-03-12T20:26:00Z,10,12,9,11\n"
                ),
                "x.csv:4:1: column `timestamp_utc`: gap",
            ),
            ("time,open,high,low,close\n".to_string(), "missing column `timestamp_utc`"),
            (format!("{head}2020-03-12T20:23:00Z,10,12,9\n"), "x.csv:2: bad CSV row"),
            (format!("{head}2020-03-12T20:23:00Z,10,1e12,9,11\n"), "x.csv:2:3: column `high`"),
            (
                "open,high,low,close,timestamp_utc\n10,12,9,11,2020-03-12T20:23:00Z,\n".into(),
                "x.csv:2: bad CSV row",
            ),
            (
                "open,high,low,close,timestamp_utc\n10,12,9,11,yesterday\n".into(),
                "x.csv:2:5: column `timestamp_utc`",
            ),
            (format!("{head}2020-03-12T20:23:00Z,10,12,9,11\n"), "1 data rows"),
        ];
        for (text, needle) in cases {
            let e = parse_bars(&text, "x.csv").unwrap_err().to_string();
            assert!(e.contains(needle), "{needle:?} not in {e:?}");
        }
    }

    /// The traded volume is kept per bar, `quote_volume` before `volume`; a bad one is
    /// named by line, column and key.
    #[test]
    fn volumes_are_kept_and_checked() {
        let head = "timestamp_utc,open,high,low,close,volume,quote_volume\n";
        let rows = "2020-03-12T20:23:00Z,10,12,9,11,2,21.5\n2020-03-12T20:24:00Z,11,12,10,11,1,0\n";
        let h = parse_bars(&format!("{head}{rows}"), "x.csv").unwrap();
        assert_eq!(h.activity, vec![21.5, 0.0]);
        let plain = "timestamp_utc,open,high,low,close\n2020-03-12T20:23:00Z,10,12,9,11\n2020-03-12T20:24:00Z,11,12,10,11\n";
        assert!(parse_bars(plain, "x.csv").unwrap().activity.is_empty());
        let bad = format!("{head}{}", rows.replace("21.5", "-1"));
        let e = parse_bars(&bad, "x.csv").unwrap_err().to_string();
        assert!(e.contains("x.csv:2:7: key `quote_volume`: `-1` is not a volume"), "{e}");
    }
}
