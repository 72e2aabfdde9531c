//! The linear fast path of margin: requirement rates per unit of perpetual notional, in
//! the form the exchange charges perpetual-only accounts and keys its bankruptcy-price
//! trigger index with. Every policy's [`crate::model::MarginModel`] hands the exchange
//! one of these at each refresh; the integer arithmetic of a requirement (notional x
//! rate rounded up, minus a bracket's amount) lives here, once.

use liqsim_core::{Money, Result};

/// Initial and maintenance requirement as fractions of notional.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rates {
    pub initial: f64,
    pub maintenance: f64,
}

/// A leverage bracket in the "maintenance amount" form: requirement = notional x rate -
/// amount, where the amounts make the requirement continuous across brackets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bracket {
    pub notional_max: Money,
    pub rates: Rates,
    pub initial_amount: Money,
    pub maintenance_amount: Money,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MarginSchedule {
    /// One rate pair per direction (risk-based policies give longs and shorts their own).
    Flat {
        long: Rates,
        short: Rates,
    },
    Brackets(Vec<Bracket>),
}

impl MarginSchedule {
    /// Brackets from (notional cap, rates), computing the continuity amounts.
    pub fn brackets(tiers: &[(Money, Rates)]) -> Result<MarginSchedule> {
        let mut out: Vec<Bracket> = Vec::with_capacity(tiers.len());
        for &(cap, rates) in tiers {
            let (initial_amount, maintenance_amount) = match out.last() {
                None => (Money::ZERO, Money::ZERO),
                Some(prev) => {
                    // Continuity at the previous cap C: C x r_prev - a_prev = C x r - a.
                    let c = prev.notional_max.to_f64();
                    let ia =
                        prev.initial_amount.to_f64() + c * (rates.initial - prev.rates.initial);
                    let ma = prev.maintenance_amount.to_f64()
                        + c * (rates.maintenance - prev.rates.maintenance);
                    (Money::round_from_f64(ia)?, Money::round_from_f64(ma)?)
                }
            };
            out.push(Bracket { notional_max: cap, rates, initial_amount, maintenance_amount });
        }
        Ok(MarginSchedule::Brackets(out))
    }

    /// Initial margin per unit of notional of a small position on the more demanding
    /// side: what a constant one-lot portfolio is charged, so its path over a run is the
    /// policy's procyclicality with the population's changes taken out.
    pub fn small_position_initial(&self) -> f64 {
        match self {
            MarginSchedule::Flat { long, short } => long.initial.max(short.initial),
            MarginSchedule::Brackets(b) => b.first().map_or(0.0, |b| b.rates.initial),
        }
    }

    /// The highest maintenance rate in force (the trigger index's query widens by it).
    pub fn highest_maintenance(&self) -> f64 {
        match self {
            MarginSchedule::Flat { long, short } => long.maintenance.max(short.maintenance),
            MarginSchedule::Brackets(b) => {
                b.iter().map(|b| b.rates.maintenance).fold(0.0, f64::max)
            }
        }
    }

    /// Requirement for `notional` (positive) held long or short.
    pub fn requirement(&self, notional: Money, long: bool, maintenance: bool) -> Result<Money> {
        match self {
            MarginSchedule::Flat { long: l, short: s } => {
                let r = if long { l } else { s };
                let rate = if maintenance { r.maintenance } else { r.initial };
                notional.mul_rate_ceil(rate)
            }
            MarginSchedule::Brackets(brackets) => {
                let b = brackets.iter().find(|b| notional <= b.notional_max).or(brackets.last());
                let Some(b) = b else { return Ok(Money::ZERO) };
                let (rate, amount) = if maintenance {
                    (b.rates.maintenance, b.maintenance_amount)
                } else {
                    (b.rates.initial, b.initial_amount)
                };
                Ok(notional.mul_rate_ceil(rate)?.checked_sub(amount)?.max(Money::ZERO))
            }
        }
    }
}

/// The highest requirement per unit of notional a risk-based schedule charges: a short
/// loses that much only if the price rises a hundredfold within the margin horizon.
/// Scenario sets can price a short's loss far beyond it (filtered history after a -90%
/// jump rescales returns by tens, and `exp` of that is astronomic, or infinite), but no
/// account posts a hundred times its position, so past it the liquidations are the same,
/// and the requirement of the largest position stays within money's range.
pub const MAX_RATE: f64 = 100.0;

impl MarginSchedule {
    /// One rate per direction, at most [`MAX_RATE`], each at least 1 / `max_leverage` (a venue never lets an
    /// account past its leverage cap), maintenance `maintenance_fraction` of initial.
    pub fn flat_floored(
        long: f64,
        short: f64,
        maintenance_fraction: f64,
        max_leverage: f64,
    ) -> MarginSchedule {
        let floor = 1.0 / max_leverage;
        let rates = |r: f64| {
            let initial = r.max(floor).min(MAX_RATE);
            Rates { initial, maintenance: initial * maintenance_fraction }
        };
        MarginSchedule::Flat { long: rates(long), short: rates(short) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_based_rates_are_capped_so_money_can_be_multiplied_by_them() {
        let s = MarginSchedule::flat_floored(f64::INFINITY, 1e9, 0.5, 100.0);
        let MarginSchedule::Flat { long, short } = &s else { panic!("flat") };
        assert_eq!((long.initial, long.maintenance), (MAX_RATE, MAX_RATE * 0.5));
        assert_eq!(short.initial, MAX_RATE);
        // The largest position's requirement stays money.
        let notional = Money::from_micros(i64::MAX / 1000);
        assert!(s.requirement(notional, true, false).is_ok());
        // Below the cap nothing moves; the leverage floor still applies.
        let s = MarginSchedule::flat_floored(0.2, 0.001, 0.5, 100.0);
        let MarginSchedule::Flat { long, short } = &s else { panic!("flat") };
        assert_eq!((long.initial, short.initial), (0.2, 0.01));
    }
}
