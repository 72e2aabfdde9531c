//! Exact ledger units.
//!
//! - [`Money`]: micro-units (10^-6) of the quote currency, in an `i64` (about +/- 9.2e12
//!   quote units, ample for any exchange balance sheet).
//! - [`Price`]: an integer number of ticks of one instrument.
//! - [`Qty`]: an integer number of lots of one instrument; signed, so a short position is
//!   negative.
//! - [`ContractSpec`]: tick size and lot size of an instrument, and the exact money value
//!   of one tick on one lot, which turns `Price x Qty` into `Money` without rounding.
//!
//! Every operation that can leave the `i64` range is checked (products go through `i128`)
//! and reports [`Error::Overflow`]. Decimal text converts both ways exactly: parsing
//! rejects digits the unit cannot hold instead of rounding them away.

use crate::error::{Error, InputError, Result};
use std::fmt;

/// Micro-units per quote unit.
pub const MICROS_PER_UNIT: i64 = 1_000_000;
/// Nano-units of the base asset per base unit (lot sizes are given in these).
pub const NANOS_PER_UNIT: i64 = 1_000_000_000;

/// An amount of quote currency in micro-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    pub const ZERO: Money = Money(0);
    pub const MAX: Money = Money(i64::MAX);
    pub const MIN: Money = Money(i64::MIN);

    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    pub const fn micros(self) -> i64 {
        self.0
    }

    /// Whole quote units; overflow checked.
    pub fn from_units(units: i64) -> Result<Money> {
        units.checked_mul(MICROS_PER_UNIT).map(Money).ok_or(Error::overflow("money from units"))
    }

    pub fn checked_add(self, other: Money) -> Result<Money> {
        self.0.checked_add(other.0).map(Money).ok_or(Error::overflow("money sum"))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money> {
        self.0.checked_sub(other.0).map(Money).ok_or(Error::overflow("money difference"))
    }

    pub fn checked_neg(self) -> Result<Money> {
        self.0.checked_neg().map(Money).ok_or(Error::overflow("money negation"))
    }

    /// `self * count`, exact.
    pub fn checked_mul_int(self, count: i64) -> Result<Money> {
        self.0.checked_mul(count).map(Money).ok_or(Error::overflow("money product"))
    }

    /// `self * numerator / denominator` through i128, rounded toward negative infinity
    /// (floor). Use for pro-rata shares where the caller hands the remainder elsewhere.
    pub fn mul_div_floor(self, numerator: i64, denominator: i64) -> Result<Money> {
        if denominator == 0 {
            return Err(Error::Internal("mul_div_floor by zero".into()));
        }
        let product = i128::from(self.0) * i128::from(numerator);
        let denominator = i128::from(denominator);
        let truncated = product / denominator;
        let quotient = if product % denominator != 0 && ((product < 0) != (denominator < 0)) {
            truncated - 1
        } else {
            truncated
        };
        i64::try_from(quotient).map(Money).map_err(|_| Error::overflow("money pro-rata share"))
    }

    /// `self x rate` rounded up to the micro-unit, with `rate` taken to 12 decimal places
    /// (fee, funding and margin rates) so the product is exact integer arithmetic: an f64
    /// product would turn 6106.1 x 0.001 into 6.1061000000000005 and round it up.
    pub fn mul_rate_ceil(self, rate: f64) -> Result<Money> {
        self.mul_rate(rate, true)
    }

    /// As [`Money::mul_rate_ceil`], rounded down.
    pub fn mul_rate_floor(self, rate: f64) -> Result<Money> {
        self.mul_rate(rate, false)
    }

    fn mul_rate(self, rate: f64, up: bool) -> Result<Money> {
        self.mul_rate_e12(rate_e12(rate)?, up)
    }

    /// `self x scaled / 10^12`, rounded up or down: the form of [`Money::mul_rate_ceil`]
    /// for a rate already taken to 12 decimals with [`rate_e12`] (a loop over many
    /// accounts converts the rate once).
    pub fn mul_rate_e12(self, scaled: i64, up: bool) -> Result<Money> {
        const SCALE: i128 = 1_000_000_000_000;
        if let Some(m) = mul_scaled_unsigned(self.0, scaled, up) {
            return Ok(Money(m));
        }
        let product = i128::from(self.0) * i128::from(scaled);
        let quotient = product.div_euclid(SCALE);
        let rounded = if up && product.rem_euclid(SCALE) != 0 { quotient + 1 } else { quotient };
        i64::try_from(rounded).map(Money).map_err(|_| Error::overflow("money times rate"))
    }

    pub fn abs(self) -> Result<Money> {
        self.0.checked_abs().map(Money).ok_or(Error::overflow("money absolute value"))
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    pub fn min(self, other: Money) -> Money {
        Money(self.0.min(other.0))
    }

    pub fn max(self, other: Money) -> Money {
        Money(self.0.max(other.0))
    }

    /// In quote units as f64, for risk models and reports (never back into the ledger).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_UNIT as f64
    }

    /// A risk number (quote units, f64) as a requirement: rounded up to the next micro-unit,
    /// so a margin requirement is never understated by rounding.
    pub fn ceil_from_f64(units: f64) -> Result<Money> {
        f64_to_micros(units, f64::ceil)
    }

    /// Nearest micro-unit (ties away from zero); for prices and amounts that are not
    /// requirements.
    pub fn round_from_f64(units: f64) -> Result<Money> {
        f64_to_micros(units, f64::round)
    }

    /// Exact conversion of a decimal number as written (e.g. a TOML float `2_000_000.0`).
    /// The value's shortest round-trip text is parsed, so `0.1` is exactly 100_000 micros.
    pub fn from_f64_exact(units: f64) -> Result<Money> {
        if !units.is_finite() {
            return Err(Error::input(format!("{units} is not a finite amount")));
        }
        Money::from_decimal(&format!("{units}"))
    }

    /// Parses decimal text such as `-1234.5`, `0.000001` or `2_000_000`; at most 6 decimal
    /// places (a micro-unit); no exponent.
    pub fn from_decimal(text: &str) -> Result<Money> {
        parse_scaled(text, 6).map(Money).map_err(|e| e.into_error(text, "an amount of money"))
    }
}

fn f64_to_micros(units: f64, round: fn(f64) -> f64) -> Result<Money> {
    if !units.is_finite() {
        return Err(Error::Internal(format!("non-finite amount {units}")));
    }
    let micros = round(units * MICROS_PER_UNIT as f64);
    // i64::MAX as f64 rounds up to 2^63, so compare with < on that bound.
    if micros >= i64::MAX as f64 || micros < i64::MIN as f64 {
        return Err(Error::overflow("money from a risk number"));
    }
    Ok(Money(micros as i64))
}

impl fmt::Display for Money {
    /// Decimal quote units with trailing zeros trimmed: `1234.5`, `-0.000001`, `7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&format_scaled(self.0, 6))
    }
}

/// A price in ticks of one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(i64);

impl Price {
    pub const ZERO: Price = Price(0);
    pub const MAX: Price = Price(i64::MAX);

    pub const fn from_ticks(ticks: i64) -> Price {
        Price(ticks)
    }

    pub const fn ticks(self) -> i64 {
        self.0
    }

    pub fn checked_add_ticks(self, ticks: i64) -> Result<Price> {
        self.0.checked_add(ticks).map(Price).ok_or(Error::overflow("price"))
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ticks", self.0)
    }
}

/// A quantity in lots of one instrument. Signed: positions are negative when short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qty(i64);

impl Qty {
    pub const ZERO: Qty = Qty(0);

    pub const fn from_lots(lots: i64) -> Qty {
        Qty(lots)
    }

    pub const fn lots(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Qty) -> Result<Qty> {
        self.0.checked_add(other.0).map(Qty).ok_or(Error::overflow("quantity sum"))
    }

    pub fn checked_sub(self, other: Qty) -> Result<Qty> {
        self.0.checked_sub(other.0).map(Qty).ok_or(Error::overflow("quantity difference"))
    }

    pub fn checked_neg(self) -> Result<Qty> {
        self.0.checked_neg().map(Qty).ok_or(Error::overflow("quantity negation"))
    }

    pub fn abs(self) -> Qty {
        Qty(self.0.saturating_abs())
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn signum(self) -> i64 {
        self.0.signum()
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lots", self.0)
    }
}

/// Tick size and lot size of an instrument.
///
/// `tick_size` is the quote amount one tick adds to the price of one base unit;
/// `lot_size_nanos` is one lot in nano-units of the base asset. Their product must be a
/// whole number of micro-units (checked in [`ContractSpec::new`]), so that
/// `price x qty` is exact money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractSpec {
    tick_size: Money,
    lot_size_nanos: i64,
    /// Money value of one tick on one lot.
    tick_lot_value: Money,
}

impl ContractSpec {
    pub fn new(tick_size: Money, lot_size_nanos: i64) -> Result<ContractSpec> {
        if tick_size.micros() <= 0 {
            return Err(InputError::new(format!("tick size {tick_size} is not positive"))
                .expected("a positive amount with at most 6 decimals")
                .into());
        }
        if lot_size_nanos <= 0 {
            return Err(InputError::new(format!(
                "lot size {lot_size_nanos} nano-units is not positive"
            ))
            .expected("a positive size with at most 9 decimals")
            .into());
        }
        let product = i128::from(tick_size.micros()) * i128::from(lot_size_nanos);
        if product % i128::from(NANOS_PER_UNIT) != 0 {
            return Err(InputError::new(format!(
                "tick size {tick_size} times lot size {} is not a whole number of micro-units",
                format_scaled(lot_size_nanos, 9)
            ))
            .expected("tick size x lot size a multiple of 0.000001")
            .into());
        }
        let tick_lot_value = i64::try_from(product / i128::from(NANOS_PER_UNIT))
            .map_err(|_| Error::overflow("tick value of one lot"))?;
        Ok(ContractSpec { tick_size, lot_size_nanos, tick_lot_value: Money(tick_lot_value) })
    }

    pub fn tick_size(&self) -> Money {
        self.tick_size
    }

    pub fn lot_size_nanos(&self) -> i64 {
        self.lot_size_nanos
    }

    pub fn tick_lot_value(&self) -> Money {
        self.tick_lot_value
    }

    /// Money value of `qty` at `price`: `ticks x lots x tick_lot_value`, exact.
    pub fn notional(&self, price: Price, qty: Qty) -> Result<Money> {
        let value = i128::from(price.0) * i128::from(qty.0) * i128::from(self.tick_lot_value.0);
        i64::try_from(value).map(Money).map_err(|_| Error::overflow("notional"))
    }

    /// P&L of holding `qty` (signed) while the price goes from `from` to `to`.
    pub fn pnl(&self, from: Price, to: Price, qty: Qty) -> Result<Money> {
        let ticks = i128::from(to.0) - i128::from(from.0);
        let value = ticks * i128::from(qty.0) * i128::from(self.tick_lot_value.0);
        i64::try_from(value).map(Money).map_err(|_| Error::overflow("profit and loss"))
    }

    /// Exact price from decimal text; must be a whole number of ticks.
    pub fn price_from_decimal(&self, text: &str) -> Result<Price> {
        let micros = Money::from_decimal(text)?;
        if micros.0 % self.tick_size.0 != 0 {
            return Err(InputError::new(format!(
                "price {text} is not a multiple of the tick size {}",
                self.tick_size
            ))
            .expected(format!("a multiple of {}", self.tick_size))
            .into());
        }
        Ok(Price(micros.0 / self.tick_size.0))
    }

    /// Decimal text of a price; the exact inverse of [`Self::price_from_decimal`].
    pub fn price_to_decimal(&self, price: Price) -> Result<String> {
        let micros =
            price.0.checked_mul(self.tick_size.0).ok_or(Error::overflow("price in quote units"))?;
        Ok(format_scaled(micros, 6))
    }

    /// The tick nearest to a model price (quote units, f64). Ties go away from zero.
    pub fn price_from_f64(&self, price: f64) -> Result<Price> {
        if !price.is_finite() {
            return Err(Error::Internal(format!("non-finite price {price}")));
        }
        let ticks = (price * MICROS_PER_UNIT as f64 / self.tick_size.0 as f64).round();
        if ticks >= i64::MAX as f64 || ticks < i64::MIN as f64 {
            return Err(Error::overflow("price in ticks"));
        }
        Ok(Price(ticks as i64))
    }

    pub fn price_to_f64(&self, price: Price) -> f64 {
        price.0 as f64 * self.tick_size.0 as f64 / MICROS_PER_UNIT as f64
    }

    /// Exact quantity from decimal text in base units; must be a whole number of lots.
    pub fn qty_from_decimal(&self, text: &str) -> Result<Qty> {
        let nanos = parse_scaled(text, 9)
            .map_err(|e| e.into_error(text, "a quantity of the base asset"))?;
        if nanos % self.lot_size_nanos != 0 {
            return Err(InputError::new(format!(
                "quantity {text} is not a multiple of the lot size {}",
                format_scaled(self.lot_size_nanos, 9)
            ))
            .expected(format!("a multiple of {}", format_scaled(self.lot_size_nanos, 9)))
            .into());
        }
        Ok(Qty(nanos / self.lot_size_nanos))
    }

    pub fn qty_to_decimal(&self, qty: Qty) -> Result<String> {
        let nanos = qty
            .0
            .checked_mul(self.lot_size_nanos)
            .ok_or(Error::overflow("quantity in base units"))?;
        Ok(format_scaled(nanos, 9))
    }

    pub fn qty_to_f64(&self, qty: Qty) -> f64 {
        qty.0 as f64 * self.lot_size_nanos as f64 / NANOS_PER_UNIT as f64
    }
}

/// Why decimal text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    Empty,
    BadCharacter,
    TooManyDecimals,
    OutOfRange,
}

impl DecimalError {
    fn into_error(self, text: &str, what: &str) -> Error {
        let (message, expected) = match self {
            DecimalError::Empty => (format!("empty text is not {what}"), None),
            DecimalError::BadCharacter => {
                (format!("`{text}` is not {what}"), Some("digits with an optional sign and point"))
            }
            DecimalError::TooManyDecimals => {
                (format!("`{text}` has more decimal places than {what} can hold"), None)
            }
            DecimalError::OutOfRange => (format!("`{text}` is out of range for {what}"), None),
        };
        let mut e = InputError::new(message);
        if let Some(expected) = expected {
            e = e.expected(expected);
        }
        e.into()
    }
}

/// Parses `[-+]digits[.digits]` (underscores between digits allowed, as in TOML) into an
/// integer scaled by 10^decimals, exactly.
pub fn parse_scaled(text: &str, decimals: u32) -> std::result::Result<i64, DecimalError> {
    let text = text.trim();
    let (negative, body) = match text.as_bytes().first() {
        None => return Err(DecimalError::Empty),
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
    };
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, f),
        None => (body, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return Err(DecimalError::BadCharacter);
    }
    let mut value: i128 = 0;
    let mut digits = 0usize;
    for c in whole.chars() {
        match c {
            '0'..='9' => {
                value = value * 10 + i128::from(c as u8 - b'0');
                digits += 1;
                if value > i128::from(i64::MAX) + 1 {
                    return Err(DecimalError::OutOfRange);
                }
            }
            '_' if digits > 0 => {}
            _ => return Err(DecimalError::BadCharacter),
        }
    }
    let mut scale_left = decimals;
    for c in fraction.chars() {
        match c {
            '0'..='9' => {
                let digit = i128::from(c as u8 - b'0');
                if scale_left == 0 {
                    // Trailing zeros beyond the unit's precision are harmless.
                    if digit != 0 {
                        return Err(DecimalError::TooManyDecimals);
                    }
                    continue;
                }
                value = value * 10 + digit;
                scale_left -= 1;
            }
            '_' => {}
            _ => return Err(DecimalError::BadCharacter),
        }
    }
    let value = value.checked_mul(10i128.pow(scale_left)).ok_or(DecimalError::OutOfRange)?;
    let value = if negative { -value } else { value };
    i64::try_from(value).map_err(|_| DecimalError::OutOfRange)
}

/// Decimal text of `value / 10^decimals`, trailing zeros trimmed.
pub fn format_scaled(value: i64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let magnitude = value.unsigned_abs();
    let whole = magnitude / scale;
    let fraction = magnitude % scale;
    let sign = if value < 0 { "-" } else { "" };
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let fraction = format!("{fraction:0width$}", width = decimals as usize);
    format!("{sign}{whole}.{}", fraction.trim_end_matches('0'))
}

/// A rate as an integer number of 10^-12 (the exact form money is multiplied by).
pub fn rate_e12(rate: f64) -> Result<i64> {
    let scaled = (rate * 1e12).round();
    if !scaled.is_finite() || scaled.abs() >= 9.0e18 {
        return Err(Error::overflow("rate"));
    }
    Ok(scaled as i64)
}

/// `money x scaled / 10^12` rounded up (or down) for non-negative operands, in u64 limbs
/// of 10^6 so that every division is by a constant (a multiplication), not a 128-bit
/// division: margin and fee rates are applied millions of times per run. `None` when an
/// operand is negative or a partial product would overflow (the caller's i128 path).
fn mul_scaled_unsigned(money: i64, scaled: i64, up: bool) -> Option<i64> {
    const M: u64 = 1_000_000;
    if money < 0 || scaled < 0 {
        return None;
    }
    let (m, s) = (money as u64, scaled as u64);
    let (mh, ml, sh, sl) = (m / M, m % M, s / M, s % M);
    // m x s = mh sh 10^12 + (mh sl + ml sh) 10^6 + ml sl
    let high = mh.checked_mul(sh)?;
    let cross = mh.checked_mul(sl)?.checked_add(ml.checked_mul(sh)?)?;
    let low = ml * sl;
    let rest = (cross % M) * M + low; // < 2 x 10^12
    let quotient = high.checked_add(cross / M)?.checked_add(rest / (M * M))?;
    let exact = rest.is_multiple_of(M * M);
    let rounded = if up && !exact { quotient.checked_add(1)? } else { quotient };
    i64::try_from(rounded).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> ContractSpec {
        // 0.5 quote per tick, 0.001 base per lot: one tick on one lot is 500 micros.
        ContractSpec::new(Money::from_micros(500_000), 1_000_000).unwrap()
    }

    #[test]
    fn decimal_parsing_is_exact() {
        assert_eq!(Money::from_decimal("1234.5").unwrap().micros(), 1_234_500_000);
        assert_eq!(Money::from_decimal("-0.000001").unwrap().micros(), -1);
        assert_eq!(Money::from_decimal("2_000_000").unwrap().micros(), 2_000_000_000_000);
        assert_eq!(Money::from_decimal("+.5").unwrap().micros(), 500_000);
        assert_eq!(Money::from_decimal("1.2500000").unwrap().micros(), 1_250_000);
        assert!(Money::from_decimal("0.0000001").is_err());
        assert!(Money::from_decimal("1e6").is_err());
        assert!(Money::from_decimal("").is_err());
        assert!(Money::from_decimal("-").is_err());
        assert!(Money::from_decimal("9223372036854.775808").is_err());
        assert_eq!(Money::from_decimal("9223372036854.775807").unwrap(), Money::MAX);
        assert_eq!(Money::from_decimal("-9223372036854.775808").unwrap(), Money::MIN);
    }

    #[test]
    fn display_reads_naturally() {
        assert_eq!(Money::from_micros(1_234_500_000).to_string(), "1234.5");
        assert_eq!(Money::from_micros(-1).to_string(), "-0.000001");
        assert_eq!(Money::from_micros(7_000_000).to_string(), "7");
        assert_eq!(Money::MIN.to_string(), "-9223372036854.775808");
    }

    #[test]
    fn f64_conversions() {
        assert_eq!(Money::from_f64_exact(0.1).unwrap().micros(), 100_000);
        assert_eq!(Money::from_f64_exact(2_000_000.0).unwrap().micros(), 2_000_000_000_000);
        assert_eq!(Money::ceil_from_f64(1.0000001).unwrap().micros(), 1_000_001);
        assert_eq!(Money::ceil_from_f64(-1.0000009).unwrap().micros(), -1_000_000);
        assert!(Money::ceil_from_f64(1e20).is_err());
        assert!(Money::from_f64_exact(f64::NAN).is_err());
    }

    #[test]
    fn overflow_is_an_error_never_a_wrap() {
        assert!(matches!(
            Money::MAX.checked_add(Money::from_micros(1)),
            Err(Error::Overflow { .. })
        ));
        assert!(Money::MIN.checked_sub(Money::from_micros(1)).is_err());
        assert!(Money::MIN.checked_neg().is_err());
        assert!(Money::MIN.abs().is_err());
        let s = spec();
        assert!(s.notional(Price::from_ticks(i64::MAX), Qty::from_lots(2)).is_err());
        assert!(
            s.pnl(Price::from_ticks(i64::MIN), Price::from_ticks(i64::MAX), Qty::from_lots(1))
                .is_err()
        );
    }

    #[test]
    fn contract_spec_values() {
        let s = spec();
        assert_eq!(s.tick_lot_value().micros(), 500);
        let p = s.price_from_decimal("60000.5").unwrap();
        assert_eq!(p.ticks(), 120_001);
        assert_eq!(s.price_to_decimal(p).unwrap(), "60000.5");
        assert!(s.price_from_decimal("60000.25").is_err());
        let q = s.qty_from_decimal("1.234").unwrap();
        assert_eq!(q.lots(), 1234);
        assert_eq!(s.qty_to_decimal(q).unwrap(), "1.234");
        assert!(s.qty_from_decimal("0.0005").is_err());
        // 60000.5 x 1.234 = 74040.617
        assert_eq!(s.notional(p, q).unwrap().to_string(), "74040.617");
        assert_eq!(s.price_from_f64(60000.74).unwrap().ticks(), 120_001);
        assert_eq!(s.price_from_f64(60000.76).unwrap().ticks(), 120_002);
    }

    #[test]
    fn contract_spec_rejects_inexact_values() {
        // 0.000001 tick x 0.1 lot = 1e-7: not a whole micro-unit.
        assert!(ContractSpec::new(Money::from_micros(1), 100_000_000).is_err());
        assert!(ContractSpec::new(Money::ZERO, 1).is_err());
        assert!(ContractSpec::new(Money::from_micros(1), 0).is_err());
    }

    #[test]
    fn rates_multiply_exactly() {
        let n = Money::from_decimal("6106.1").unwrap();
        assert_eq!(n.mul_rate_ceil(0.001).unwrap(), Money::from_decimal("6.1061").unwrap());
        assert_eq!(n.mul_rate_floor(0.001).unwrap(), Money::from_decimal("6.1061").unwrap());
        let odd = Money::from_micros(1001);
        assert_eq!(odd.mul_rate_ceil(0.5).unwrap().micros(), 501);
        assert_eq!(odd.mul_rate_floor(0.5).unwrap().micros(), 500);
        assert_eq!(Money::from_micros(-1001).mul_rate_ceil(0.5).unwrap().micros(), -500);
        assert_eq!(odd.mul_rate_ceil(-0.5).unwrap().micros(), -500);
        assert!(Money::MAX.mul_rate_ceil(2.0).is_err());
        assert!(odd.mul_rate_ceil(f64::NAN).is_err());
    }

    #[test]
    fn mul_div_floor_rounds_down() {
        let m = Money::from_micros(10);
        assert_eq!(m.mul_div_floor(1, 3).unwrap().micros(), 3);
        assert_eq!(Money::from_micros(-10).mul_div_floor(1, 3).unwrap().micros(), -4);
        assert_eq!(m.mul_div_floor(1, -3).unwrap().micros(), -4);
        assert!(Money::MAX.mul_div_floor(3, 2).is_err());
        assert!(m.mul_div_floor(1, 0).is_err());
    }

    proptest! {
        #[test]
        fn rate_products_match_the_128_bit_reference(
            micros in prop_oneof![0i64..1_000_000_000_000, any::<i64>()],
            rate in prop_oneof![0.0f64..1.0, -1.0f64..1.0, 0.0f64..100.0],
            up in any::<bool>(),
        ) {
            let m = Money::from_micros(micros);
            let fast = if up { m.mul_rate_ceil(rate) } else { m.mul_rate_floor(rate) };
            let exact = i128::from(micros) * (rate * 1e12).round() as i128;
            let q = exact.div_euclid(1_000_000_000_000)
                + i128::from(up && exact.rem_euclid(1_000_000_000_000) != 0);
            match fast {
                Ok(v) => prop_assert_eq!(i128::from(v.micros()), q),
                Err(_) => prop_assert!(i64::try_from(q).is_err()),
            }
        }

        #[test]
        fn money_text_round_trips(micros in any::<i64>()) {
            let m = Money::from_micros(micros);
            prop_assert_eq!(Money::from_decimal(&m.to_string()).unwrap(), m);
        }

        #[test]
        fn money_sum_is_exact_or_overflow(a in any::<i64>(), b in any::<i64>()) {
            let exact = i128::from(a) + i128::from(b);
            match Money::from_micros(a).checked_add(Money::from_micros(b)) {
                Ok(sum) => prop_assert_eq!(i128::from(sum.micros()), exact),
                Err(_) => prop_assert!(exact > i128::from(i64::MAX) || exact < i128::from(i64::MIN)),
            }
        }

        #[test]
        fn notional_is_exact_or_overflow(ticks in any::<i64>(), lots in any::<i32>()) {
            let s = spec();
            let exact = i128::from(ticks) * i128::from(lots) * 500;
            match s.notional(Price::from_ticks(ticks), Qty::from_lots(i64::from(lots))) {
                Ok(n) => prop_assert_eq!(i128::from(n.micros()), exact),
                Err(_) => prop_assert!(i64::try_from(exact).is_err()),
            }
        }

        #[test]
        fn price_text_round_trips(ticks in -1_000_000_000_000i64..1_000_000_000_000) {
            let s = spec();
            let p = Price::from_ticks(ticks);
            prop_assert_eq!(s.price_from_decimal(&s.price_to_decimal(p).unwrap()).unwrap(), p);
        }

        #[test]
        fn qty_text_round_trips(lots in -1_000_000_000_000i64..1_000_000_000_000) {
            let s = spec();
            let q = Qty::from_lots(lots);
            prop_assert_eq!(s.qty_from_decimal(&s.qty_to_decimal(q).unwrap()).unwrap(), q);
        }
    }
}
