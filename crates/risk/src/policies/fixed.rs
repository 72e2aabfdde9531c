//! `fixed`: fractions of notional, as large perpetual venues charge.
//!
//! The perpetual pays its schedule's rate on its notional: one rate pair, or notional
//! tiers (leverage brackets) in the "maintenance amount" form venues publish
//! (requirement = notional x rate of the tier - the tier's amount, the amounts making the
//! requirement continuous in notional). A short option pays its premium plus a fraction
//! of the underlying's notional, a long option its premium. Legs are charged one by one:
//! no hedge is seen. Every figure is exact integer money from the exact values of the
//! legs; nothing here goes through a float.
//!
//! The requirement moves with the price only through the legs' values, so the safe
//! range is the linear problem of the whole charge: a short option's premium charge
//! doubles its P&L, a long's cancels it, and the fractions act like perpetual exposure.

use crate::hotpath::{Trigger, trigger};
use crate::model::{Leg, MarketState, Policy, Requirements};
use crate::portfolio::{Instrument, Market, Position};
use crate::schedule::{MarginSchedule, Rates};
use liqsim_core::{Money, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct FixedConfig {
    /// Rates of the perpetual: flat, or notional brackets.
    pub schedule: MarginSchedule,
    /// A short option's charge beyond its premium, as a fraction of the underlying's
    /// notional, at initial and at maintenance.
    pub short_option_initial: f64,
    pub short_option_maintenance: f64,
}

impl FixedConfig {
    /// Initial rate of the perpetual without tiers.
    pub const INITIAL: f64 = 0.01;
    /// Short options' initial fraction; maintenance keeps the perpetual's ratio.
    pub const SHORT_OPTION_FRACTION: f64 = 0.15;

    /// Flat rates, short options at `short_option_fraction` of the underlying (initial)
    /// and that times maintenance / initial (maintenance).
    pub fn flat(initial: f64, maintenance: f64, short_option_fraction: f64) -> FixedConfig {
        let ratio = if initial > 0.0 { maintenance / initial } else { 0.5 };
        let rates = Rates { initial, maintenance };
        FixedConfig {
            schedule: MarginSchedule::Flat { long: rates, short: rates },
            short_option_initial: short_option_fraction,
            short_option_maintenance: short_option_fraction * ratio,
        }
    }
}

impl Default for FixedConfig {
    /// 1% initial, half of it maintenance, short options 15% of the underlying.
    fn default() -> FixedConfig {
        FixedConfig::flat(Self::INITIAL, Self::INITIAL / 2.0, Self::SHORT_OPTION_FRACTION)
    }
}

#[derive(Debug)]
pub struct Fixed {
    config: FixedConfig,
}

impl Fixed {
    pub fn new(config: FixedConfig) -> Fixed {
        Fixed { config }
    }
}

impl Policy for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }

    fn refresh(&mut self, _market: &MarketState) -> Result<MarginSchedule> {
        Ok(self.config.schedule.clone())
    }

    /// Time cannot hurt: a long option's decay lowers its equity and its premium charge
    /// alike, a short's raises the one and lowers the other; volatility moves are met by
    /// the kernel's own pass.
    fn moves_between_refreshes(&self) -> bool {
        false
    }

    fn uses_table(&self) -> bool {
        false
    }

    fn prepare(&mut self, _instruments: &[Instrument], _market: &Market) {}

    fn requirements(
        &mut self,
        legs: &[Leg],
        _market: &Market,
        schedule: &MarginSchedule,
    ) -> Result<Requirements> {
        let (mut im, mut mm) = (Money::ZERO, Money::ZERO);
        for leg in legs {
            match leg.instrument {
                Instrument::Perpetual => {
                    let long = leg.quantity > 0.0;
                    im = im.checked_add(schedule.requirement(leg.value, long, false)?)?;
                    mm = mm.checked_add(schedule.requirement(leg.value, long, true)?)?;
                }
                Instrument::Option { .. } => {
                    im = im.checked_add(leg.value)?;
                    mm = mm.checked_add(leg.value)?;
                    if leg.quantity < 0.0 {
                        let u = leg.underlying;
                        im = im.checked_add(u.mul_rate_ceil(self.config.short_option_initial)?)?;
                        mm =
                            mm.checked_add(u.mul_rate_ceil(self.config.short_option_maintenance)?)?;
                    }
                }
            }
        }
        Ok(Requirements { initial: im, maintenance: mm })
    }

    fn safe_range(
        &mut self,
        legs: &[Leg],
        market: &Market,
        excess: f64,
        schedule: &MarginSchedule,
        _table_forward: f64,
        positions: &mut Vec<Position>,
    ) -> Result<Trigger> {
        positions.clear();
        let mut linear = 0.0;
        for leg in legs {
            let mut quantity = leg.quantity;
            match leg.instrument {
                Instrument::Perpetual => {
                    let notional = leg.value.to_f64();
                    let rate = if notional > 0.0 {
                        schedule.requirement(leg.value, quantity > 0.0, true)?.to_f64() / notional
                    } else {
                        0.0
                    };
                    linear -= rate * quantity.abs();
                }
                Instrument::Option { .. } if quantity < 0.0 => {
                    linear -= self.config.short_option_maintenance * -quantity;
                    quantity *= 2.0;
                }
                Instrument::Option { .. } => quantity = 0.0,
            }
            positions.push(Position { instrument: leg.instrument, quantity });
        }
        positions.push(Position { instrument: Instrument::Perpetual, quantity: linear });
        Ok(trigger(positions, market, excess))
    }
}

#[cfg(test)]
mod tests {
    //! Worked examples. Option figures were computed independently of this crate (a
    //! separate Black-76 from the textbook formula, rate 0): forward 30000, vol 60%, 30
    //! days to expiry; call 33000 = 981.07815, put 27000 = 807.47055, put 30000 =
    //! 2056.18222.
    use super::*;
    use crate::model::{MarginModel, PolicyConfig};
    use crate::policies::tests::{F, MARKET, close, hedged, perp, strangle};

    fn model() -> MarginModel {
        let r = |i: f64, m: f64| Rates { initial: i, maintenance: m };
        let units = |u: i64| Money::from_units(u).unwrap();
        let schedule = MarginSchedule::brackets(&[
            (units(50_000), r(0.02, 0.01)),
            (units(250_000), r(0.04, 0.02)),
            (units(1_000_000_000), r(0.10, 0.05)),
        ])
        .unwrap();
        let config =
            FixedConfig { schedule, short_option_initial: 0.15, short_option_maintenance: 0.075 };
        MarginModel::new(PolicyConfig::Fixed(config), 0).unwrap()
    }

    #[test]
    fn worked_examples() {
        let mut m = model();
        // Amounts: tier 2 = 50000 x (0.04 - 0.02) = 1000 (initial), 50000 x 0.01 = 500
        // (maintenance); tier 3 adds 250000 x 0.06 = 15000 and 250000 x 0.03 = 7500.
        let MarginSchedule::Brackets(b) = m.schedule().clone() else { panic!("brackets") };
        let amounts: Vec<(f64, f64)> =
            b.iter().map(|b| (b.initial_amount.to_f64(), b.maintenance_amount.to_f64())).collect();
        assert_eq!(amounts, [(0.0, 0.0), (1000.0, 500.0), (16_000.0, 8000.0)]);
        // 3 long at 30000: notional 90000, tier 2: 3600 - 1000, 1800 - 500.
        let r = m.portfolio(&[perp(3.0)], &MARKET).unwrap();
        assert_eq!((r.initial.to_f64(), r.maintenance.to_f64()), (2600.0, 1300.0));
        // Short strangle: premiums 1788.54870 + 15% (7.5%) of 2 x 30000.
        let r = m.portfolio(&strangle(), &MARKET).unwrap();
        close(r.initial, 1_788.548_699 + 9000.0, 1e-5);
        close(r.maintenance, 1_788.548_699 + 4500.0, 1e-5);
        // Hedged book: charged leg by leg, so exactly the sum of the legs.
        let h = m.portfolio(&hedged(), &MARKET).unwrap();
        let a = m.portfolio(&hedged()[..1], &MARKET).unwrap();
        let b = m.portfolio(&hedged()[1..], &MARKET).unwrap();
        close(h.initial, 600.0 + 2_056.182_215, 1e-5);
        assert_eq!(h.initial, a.initial.checked_add(b.initial).unwrap());
        assert_eq!(F, 30_000.0);
    }

    #[test]
    fn the_safe_range_follows_the_whole_charge() {
        // 3 long at 30000 with 1000 of equity above maintenance: at the effective
        // maintenance rate r = 1300 / 90000, equity - maintenance moves by 3 (1 - r) per
        // unit of price, so it reaches 0 at 30000 - 1000 / (3 (1 - r)).
        let mut m = model();
        m.portfolio(&[perp(3.0)], &MARKET).unwrap();
        let legs = [Leg {
            instrument: Instrument::Perpetual,
            row: 0,
            quantity: 3.0,
            value: Money::from_units(90_000).unwrap(),
            underlying: Money::from_units(90_000).unwrap(),
        }];
        let t = m.safe_range(&legs, 30_000.0, 0.6, 1000.0).unwrap();
        let rate = 1300.0 / 90_000.0;
        let expected = 30_000.0 - 1000.0 / (3.0 * (1.0 - rate));
        assert!((t.lower - expected).abs() < 1e-6, "{t:?} {expected}");
        assert_eq!(t.upper, f64::INFINITY);
    }
}
