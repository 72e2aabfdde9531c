//! Numbers for people: what tables, terminal summaries and HTML reports print.
//!
//! Money shows two decimals with thousands separators and names its quote currency
//! (`185,738.10 USD`); large figures in cards and axes are compact (`21.14B`, `3.2M`,
//! `27.9K`); counts are integers with separators; a count and its noun agree (`1 wave`,
//! `2 waves`). Only what people read goes through here: JSON, CSV and Parquet keep exact
//! micro-units so that nothing downstream inherits a rounding.

use liqsim_core::Money;

/// `1234567.5` -> `1,234,567.5` (text of a decimal number; sign and fraction kept).
pub fn group_thousands(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A float with `decimals` decimals and separators; `-0.00` is written `0.00`.
pub fn fixed(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let text = format!("{v:.decimals$}");
    let text = match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    };
    group_thousands(&text)
}

/// Money as people read it: two decimals, separators, no currency (`185,738.10`).
/// Exact to the cent: the micro-units are rounded half away from zero, not via a float.
pub fn money_amount(m: Money) -> String {
    let micros = m.micros();
    let cents = (micros.unsigned_abs() + 5_000) / 10_000;
    let sign = if micros < 0 && cents > 0 { "-" } else { "" };
    group_thousands(&format!("{sign}{}.{:02}", cents / 100, cents % 100))
}

/// Money with its currency: `185,738.10 USD`.
pub fn money(m: Money, currency: &str) -> String {
    format!("{} {currency}", money_amount(m))
}

/// A float amount of money (a mean across seeds): `185,738.10 USD`.
pub fn money_f64(v: f64, currency: &str) -> String {
    format!("{} {currency}", fixed(v, 2))
}

/// The suffixes of large figures, largest first: the one table behind cards, tables and
/// chart axes, so a figure reads `21.1B` in a card and on the axis beside it.
pub const SUFFIXES: [(f64, &str); 4] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")];

/// A large figure in three significant digits with K, M, B or T: `21.1B`, `950K`, `12.5`.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let abs = v.abs();
    let (scale, suffix) =
        SUFFIXES.into_iter().find(|&(s, _)| abs >= s * 0.9995).unwrap_or((1.0, ""));
    let x = v / scale;
    let whole = suffix.is_empty() && abs == abs.round();
    let decimals = if whole || x.abs() >= 99.95 {
        0
    } else if x.abs() >= 9.995 {
        1
    } else {
        2
    };
    let text = format!("{x:.decimals$}");
    let text = match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    };
    format!("{text}{suffix}")
}

/// A small ratio with `digits` significant digits (`0.000882`, `9.37`, `1,234`); zero
/// is `0`. For figures that two fixed decimals would round to a misleading `0.00`.
pub fn significant(v: f64, digits: u32) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).clamp(0, 9) as usize;
    fixed(v, decimals)
}

/// Compact money with its currency: `21.1B USD`.
pub fn money_compact(v: f64, currency: &str) -> String {
    format!("{} {currency}", compact(v))
}

/// An integer count with separators: `1,234,567`.
pub fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A count and its noun, agreeing: `1 wave`, `2 waves`, `1,024 liquidations`.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// A share as a percentage with one decimal: `0.0731` -> `7.3%`.
pub fn percent(share: f64) -> String {
    if share.is_finite() { format!("{:.1}%", share * 100.0) } else { "n/a".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_two_decimals_separators_and_its_currency() {
        assert_eq!(money(Money::from_micros(185_738_099_119), "USD"), "185,738.10 USD");
        assert_eq!(
            money(Money::from_micros(21_141_634_481_014_500), "USDT"),
            "21,141,634,481.01 USDT"
        );
        assert_eq!(money_amount(Money::from_micros(-1_234_565_000)), "-1,234.57");
        assert_eq!(money_amount(Money::from_micros(-4_999)), "0.00");
        assert_eq!(money_amount(Money::ZERO), "0.00");
        assert_eq!(money_amount(Money::from_micros(113)), "0.00");
        assert_eq!(money_f64(-0.001, "USD"), "0.00 USD");
        assert_eq!(money_f64(1_234_567.891, "EUR"), "1,234,567.89 EUR");
    }

    #[test]
    fn compact_uses_k_m_b_t_and_three_significant_digits() {
        assert_eq!(compact(21_141_634_481.014_5), "21.1B");
        assert_eq!(compact(185_738.099_119), "186K");
        assert_eq!(compact(2_500_000.0), "2.50M");
        assert_eq!(compact(999.0), "999");
        assert_eq!(compact(999_999.0), "1.00M");
        assert_eq!(compact(12.5), "12.5");
        assert_eq!(compact(1.234), "1.23");
        assert_eq!(compact(-3_200_000.0), "-3.20M");
        assert_eq!(compact(4e12), "4.00T");
        assert_eq!(compact(0.0), "0");
    }

    #[test]
    fn counts_are_integers_and_nouns_agree() {
        assert_eq!(count(0), "0");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(plural(1, "wave", "waves"), "1 wave");
        assert_eq!(plural(0, "wave", "waves"), "0 waves");
        assert_eq!(plural(2_000, "liquidation", "liquidations"), "2,000 liquidations");
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(percent(0.0731), "7.3%");
        assert_eq!(significant(0.000_881_9, 3), "0.000882");
        assert_eq!(significant(9.374, 3), "9.37");
        assert_eq!(significant(1_234.6, 3), "1,235");
        assert_eq!(significant(0.0, 3), "0");
    }
}
