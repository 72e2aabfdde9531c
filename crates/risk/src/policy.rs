//! Margin policies: one trait, four implementations, each giving the initial and
//! maintenance requirement of a whole portfolio as integer money, rounded up.
//!
//! - [`FixedPolicy`]: fractions of notional with notional tiers in the "maintenance
//!   amount" form large perpetual venues publish (requirement = notional x rate of the
//!   tier - the tier's amount, the amounts making the requirement continuous in
//!   notional); short options pay premium plus a fraction of the underlying's notional,
//!   long options their premium. Positions are charged one by one: no hedge is seen.
//! - [`ScenarioPolicy`] (`var` and `es`): the measure of the portfolio loss over a
//!   [`ScenarioSet`], options fully revalued with Black-76 in each scenario.
//! - [`GridPolicy`] (`grid`, SPAN-like): the worst loss over moves of the underlying in
//!   [-move_max, move_max] x volatility up/same/down, plus extreme moves counted at a
//!   fraction, and at least the short-option minimum charge.
//!
//! Maintenance is a fraction of initial ([`Maintenance::Fraction`]), or, for the
//! scenario policies, the measure at its own confidence ([`Maintenance::Confidence`]).
//! Requirements are never negative (a portfolio that gains in every scenario needs 0),
//! and maintenance never exceeds initial. Floats cross into money once, through
//! `Money::ceil_from_f64`; a non-finite or overflowing figure is `Error::Overflow`.

use crate::linear::Measure;
use crate::measures::{es, var, weighted_es, weighted_var};
use crate::portfolio::{Instrument, Market, Position, Shock, portfolio_pnl};
use crate::scenarios::ScenarioSet;
use liqsim_core::{Error, Money, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirements {
    pub initial: Money,
    pub maintenance: Money,
}

/// A margin policy: requirements of a portfolio at a market.
pub trait MarginPolicy {
    fn name(&self) -> &'static str;
    fn requirements(&self, positions: &[Position], market: &Market) -> Result<Requirements>;
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Maintenance {
    /// Maintenance = fraction x initial, fraction in (0, 1].
    Fraction(f64),
    /// Maintenance = the measure at this confidence (scenario policies only).
    Confidence(f64),
}

fn to_money(initial: f64, maintenance: f64) -> Result<Requirements> {
    let initial = initial.max(0.0);
    let maintenance = maintenance.clamp(0.0, initial);
    Ok(Requirements {
        initial: Money::ceil_from_f64(initial)?,
        maintenance: Money::ceil_from_f64(maintenance)?,
    })
}

fn check_unit(value: f64, what: &str, closed_at_zero: bool) -> Result<()> {
    let ok = value.is_finite() && value <= 1.0 && (value > 0.0 || closed_at_zero && value == 0.0);
    if ok {
        Ok(())
    } else {
        Err(Error::input(format!("{what} {value} is out of range (valid: [0, 1])")))
    }
}

/// One notional tier: applies to notionals up to `notional_max` (the last tier has no
/// upper bound, whatever its `notional_max`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    pub notional_max: f64,
    pub initial_rate: f64,
    pub maintenance_rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FixedPolicy {
    tiers: Vec<Tier>,
    /// (initial amount, maintenance amount) per tier.
    amounts: Vec<(f64, f64)>,
    short_option_initial_fraction: f64,
    short_option_maintenance_fraction: f64,
}

impl FixedPolicy {
    /// Tiers in increasing `notional_max` with non-decreasing rates, maintenance rate at
    /// most the initial rate. Short options: premium + fraction x forward x |quantity|.
    pub fn new(
        tiers: Vec<Tier>,
        short_option_initial_fraction: f64,
        short_option_maintenance_fraction: f64,
    ) -> Result<FixedPolicy> {
        if tiers.is_empty() {
            return Err(Error::input("fixed policy needs at least one tier"));
        }
        let mut amounts = Vec::with_capacity(tiers.len());
        let (mut im_amount, mut mm_amount) = (0.0, 0.0);
        for (k, t) in tiers.iter().enumerate() {
            check_unit(t.initial_rate, "initial_rate", false)?;
            check_unit(t.maintenance_rate, "maintenance_rate", false)?;
            if t.maintenance_rate > t.initial_rate {
                return Err(Error::input("maintenance_rate above initial_rate in a tier"));
            }
            if k > 0 {
                let prev = tiers[k - 1];
                let ordered = t.notional_max > prev.notional_max
                    && t.initial_rate >= prev.initial_rate
                    && t.maintenance_rate >= prev.maintenance_rate;
                if !ordered {
                    return Err(Error::input(
                        "tiers must have increasing notional_max and non-decreasing rates",
                    ));
                }
                // The amount keeps the requirement continuous at the tier boundary.
                im_amount += prev.notional_max * (t.initial_rate - prev.initial_rate);
                mm_amount += prev.notional_max * (t.maintenance_rate - prev.maintenance_rate);
            }
            amounts.push((im_amount, mm_amount));
        }
        check_unit(short_option_initial_fraction, "short_option_initial_fraction", true)?;
        check_unit(short_option_maintenance_fraction, "short_option_maintenance_fraction", true)?;
        Ok(FixedPolicy {
            tiers,
            amounts,
            short_option_initial_fraction,
            short_option_maintenance_fraction,
        })
    }

    /// (initial, maintenance) of a perpetual notional, "maintenance amount" form.
    pub fn tiered(&self, notional: f64) -> (f64, f64) {
        let k = self
            .tiers
            .iter()
            .position(|t| notional <= t.notional_max)
            .unwrap_or(self.tiers.len() - 1);
        let (t, (ia, ma)) = (self.tiers[k], self.amounts[k]);
        (notional * t.initial_rate - ia, notional * t.maintenance_rate - ma)
    }

    /// (initial amount, maintenance amount) of each tier, as a venue would publish them.
    pub fn amounts(&self) -> &[(f64, f64)] {
        &self.amounts
    }
}

impl MarginPolicy for FixedPolicy {
    fn name(&self) -> &'static str {
        "fixed"
    }

    fn requirements(&self, positions: &[Position], market: &Market) -> Result<Requirements> {
        let net_perp: f64 = positions
            .iter()
            .filter(|p| p.instrument == Instrument::Perpetual)
            .map(|p| p.quantity)
            .sum();
        let (mut im, mut mm) = self.tiered(net_perp.abs() * market.forward);
        for p in positions {
            if let Instrument::Option { .. } = p.instrument {
                let premium = p.instrument.value(market, 0.0) * p.quantity.abs();
                if p.quantity < 0.0 {
                    let underlying = market.forward * p.quantity.abs();
                    im += premium + self.short_option_initial_fraction * underlying;
                    mm += premium + self.short_option_maintenance_fraction * underlying;
                } else {
                    im += premium;
                    mm += premium;
                }
            }
        }
        to_money(im, mm)
    }
}

/// `var` or `es` over a scenario set.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioPolicy {
    pub set: ScenarioSet,
    pub measure: Measure,
    pub confidence: f64,
    pub maintenance: Maintenance,
}

impl ScenarioPolicy {
    /// Losses of the portfolio in each scenario, in scenario order.
    pub fn losses(&self, positions: &[Position], market: &Market) -> Vec<f64> {
        self.set.shocks.iter().map(|s| -portfolio_pnl(positions, market, s)).collect()
    }

    fn measure_at(&self, losses: &mut [f64], confidence: f64) -> f64 {
        match (self.set.weights.is_empty(), self.measure) {
            (true, Measure::Var) => var(losses, confidence),
            (true, Measure::Es) => es(losses, confidence),
            (false, Measure::Var) => weighted_var(losses, &self.set.weights, confidence),
            (false, Measure::Es) => weighted_es(losses, &self.set.weights, confidence),
        }
    }
}

impl MarginPolicy for ScenarioPolicy {
    fn name(&self) -> &'static str {
        match self.measure {
            Measure::Var => "var",
            Measure::Es => "es",
        }
    }

    fn requirements(&self, positions: &[Position], market: &Market) -> Result<Requirements> {
        if self.set.is_empty() {
            return Err(Error::input("scenario policy with an empty scenario set"));
        }
        let mut losses = self.losses(positions, market);
        let im = self.measure_at(&mut losses, self.confidence);
        let mm = match self.maintenance {
            Maintenance::Fraction(f) => f * im,
            Maintenance::Confidence(c) => self.measure_at(&mut losses, c),
        };
        to_money(im, mm)
    }
}

/// SPAN-like scenario grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridPolicy {
    /// Largest simple move of the underlying, e.g. 0.16.
    pub move_max: f64,
    /// Number of moves from -move_max to +move_max inclusive (odd includes 0), e.g. 9.
    pub steps: usize,
    /// Relative volatility shifts up and down, e.g. 0.3 and 0.3 (with "same" = 0).
    pub vol_up: f64,
    pub vol_down: f64,
    /// Extreme simple move, e.g. 0.33, whose loss counts at `extreme_fraction`.
    pub extreme_move: f64,
    pub extreme_fraction: f64,
    /// Minimum charge per short option, as a fraction of forward x |quantity|.
    pub short_option_min_fraction: f64,
    /// Time that passes over the grid scenarios, in years.
    pub horizon_years: f64,
    pub maintenance_fraction: f64,
}

impl GridPolicy {
    /// +/-16% in 9 steps, vol +/-30%, +/-33% counted at 33%, 1% short-option minimum, one
    /// day, maintenance 50% of initial.
    pub const fn standard() -> GridPolicy {
        GridPolicy {
            move_max: 0.16,
            steps: 9,
            vol_up: 0.3,
            vol_down: 0.3,
            extreme_move: 0.33,
            extreme_fraction: 0.33,
            short_option_min_fraction: 0.01,
            horizon_years: 1.0 / 365.0,
            maintenance_fraction: 0.5,
        }
    }

    /// Each grid point: (shock, weight of its loss).
    pub fn shocks(&self) -> impl Iterator<Item = (Shock, f64)> + '_ {
        let steps = self.steps.max(2);
        let moves = (0..steps)
            .map(move |i| {
                (-self.move_max + 2.0 * self.move_max * i as f64 / (steps - 1) as f64, 1.0)
            })
            .chain([
                (-self.extreme_move, self.extreme_fraction),
                (self.extreme_move, self.extreme_fraction),
            ]);
        moves.flat_map(move |(m, w)| {
            [self.vol_up, 0.0, -self.vol_down].map(|vol_shift| {
                (
                    Shock {
                        log_return: (1.0 + m).ln(),
                        vol_shift,
                        horizon_years: self.horizon_years,
                    },
                    w,
                )
            })
        })
    }

    /// The worst weighted grid loss (0 if every point gains).
    pub fn worst_loss(&self, positions: &[Position], market: &Market) -> f64 {
        self.shocks().map(|(s, w)| -w * portfolio_pnl(positions, market, &s)).fold(0.0, f64::max)
    }
}

impl MarginPolicy for GridPolicy {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn requirements(&self, positions: &[Position], market: &Market) -> Result<Requirements> {
        let ok = self.move_max > 0.0
            && self.move_max < 1.0
            && self.extreme_move >= 0.0
            && self.extreme_move < 1.0
            && self.vol_down < 1.0;
        if !ok {
            return Err(Error::input("grid moves must be in (0, 1) and vol_down below 1"));
        }
        check_unit(self.maintenance_fraction, "maintenance_fraction", false)?;
        let minimum: f64 = positions
            .iter()
            .filter(|p| matches!(p.instrument, Instrument::Option { .. }) && p.quantity < 0.0)
            .map(|p| self.short_option_min_fraction * market.forward * p.quantity.abs())
            .sum();
        let im = self.worst_loss(positions, market).max(minimum);
        to_money(im, self.maintenance_fraction * im)
    }
}

#[cfg(test)]
mod tests {
    //! Worked examples. The option figures were computed independently of this crate
    //! (a separate Black-76 written from the textbook formula, rate 0): forward 30000,
    //! vol 60%, 30 days to expiry; call 33000 = 981.07815, put 27000 = 807.47055, put
    //! 30000 = 2056.18222.
    use super::*;
    use liqsim_models::OptionKind;

    const F: f64 = 30_000.0;
    const T: f64 = 30.0 / 365.0;
    const MARKET: Market = Market { forward: F, vol: 0.6, rate: 0.0 };

    fn option(kind: OptionKind, strike: f64, quantity: f64) -> Position {
        Position { instrument: Instrument::Option { kind, strike, expiry_years: T }, quantity }
    }
    fn perp(quantity: f64) -> Position {
        Position { instrument: Instrument::Perpetual, quantity }
    }
    fn strangle() -> Vec<Position> {
        vec![option(OptionKind::Call, 33_000.0, -1.0), option(OptionKind::Put, 27_000.0, -1.0)]
    }
    fn hedged() -> Vec<Position> {
        vec![perp(1.0), option(OptionKind::Put, 30_000.0, 1.0)]
    }
    /// Requirement in units, asserting it is `expected` rounded up to the micro-unit
    /// (within `tol` for figures that went through an option price).
    fn close(m: Money, expected: f64, tol: f64) {
        let x = m.to_f64();
        assert!(x >= expected - tol && x <= expected + tol + 1e-6, "{x} vs {expected}");
    }

    fn fixed() -> FixedPolicy {
        let tiers = vec![
            Tier { notional_max: 50_000.0, initial_rate: 0.02, maintenance_rate: 0.01 },
            Tier { notional_max: 250_000.0, initial_rate: 0.04, maintenance_rate: 0.02 },
            Tier { notional_max: f64::INFINITY, initial_rate: 0.10, maintenance_rate: 0.05 },
        ];
        FixedPolicy::new(tiers, 0.15, 0.075).unwrap()
    }

    #[test]
    fn fixed_worked_examples() {
        let p = fixed();
        // Amounts: tier 2 = 50000 x (0.04 - 0.02) = 1000 (initial), 50000 x 0.01 = 500
        // (maintenance); tier 3 adds 250000 x 0.06 = 15000 and 250000 x 0.03 = 7500.
        let expected = [(0.0, 0.0), (1000.0, 500.0), (16_000.0, 8000.0)];
        for (a, e) in p.amounts().iter().zip(expected) {
            assert!((a.0 - e.0).abs() < 1e-9 && (a.1 - e.1).abs() < 1e-9, "{a:?}");
        }
        // Continuous at the boundaries.
        for b in [50_000.0, 250_000.0] {
            let (a, c) = (p.tiered(b - 1e-6), p.tiered(b + 1e-6));
            assert!((a.0 - c.0).abs() < 1e-6 && (a.1 - c.1).abs() < 1e-6);
        }
        // 3 long at 30000: notional 90000, tier 2: 3600 - 1000, 1800 - 500.
        let r = p.requirements(&[perp(3.0)], &MARKET).unwrap();
        assert_eq!(
            (r.initial, r.maintenance),
            (Money::from_units(2600).unwrap(), Money::from_units(1300).unwrap())
        );
        // Short strangle: premiums 1788.54870 + 15% (7.5%) of 2 x 30000.
        let r = p.requirements(&strangle(), &MARKET).unwrap();
        close(r.initial, 1_788.548_699 + 9000.0, 1e-5);
        close(r.maintenance, 1_788.548_699 + 4500.0, 1e-5);
        // Hedged book: charged leg by leg, so exactly the sum of the legs.
        let h = p.requirements(&hedged(), &MARKET).unwrap();
        let a = p.requirements(&hedged()[..1], &MARKET).unwrap();
        let b = p.requirements(&hedged()[1..], &MARKET).unwrap();
        close(h.initial, 600.0 + 2_056.182_215, 1e-5);
        assert!(h.initial.micros().abs_diff(a.initial.micros() + b.initial.micros()) <= 1);
        assert!(FixedPolicy::new(vec![], 0.1, 0.1).is_err());
    }

    /// Ten shocks, simple moves -10% .. +8%, vol up twice the fall, one day.
    fn set() -> ScenarioSet {
        let moves = [-0.10, -0.06, -0.04, -0.02, 0.0, 0.01, 0.02, 0.03, 0.05, 0.08];
        let shocks = moves
            .iter()
            .map(|m: &f64| Shock {
                log_return: (1.0 + m).ln(),
                vol_shift: -2.0 * m,
                horizon_years: 1.0 / 365.0,
            })
            .collect();
        ScenarioSet { shocks, weights: Vec::new() }
    }

    #[test]
    fn var_and_es_worked_examples() {
        let es_policy = ScenarioPolicy {
            set: set(),
            measure: Measure::Es,
            confidence: 0.8,
            maintenance: Maintenance::Confidence(0.7),
        };
        let var_policy = ScenarioPolicy {
            measure: Measure::Var,
            maintenance: Maintenance::Fraction(0.5),
            ..es_policy.clone()
        };
        // 3 long: losses 90000 x (-move): worst two 9000 and 5400: ES 0.8 = 7200; ES 0.7 =
        // (9000 + 5400 + 3600) / 3 = 6000; VaR 0.8 = the 8th smallest loss = 3600.
        let r = es_policy.requirements(&[perp(3.0)], &MARKET).unwrap();
        close(r.initial, 7200.0, 1e-6);
        close(r.maintenance, 6000.0, 1e-6);
        let r = var_policy.requirements(&[perp(3.0)], &MARKET).unwrap();
        close(r.initial, 3600.0, 1e-6);
        close(r.maintenance, 1800.0, 1e-6);
        // Short strangle, fully revalued: losses 907.6708 (-10%) and 405.5050 (-6%).
        let r = es_policy.requirements(&strangle(), &MARKET).unwrap();
        close(r.initial, 656.587_915, 1e-5);
        close(r.maintenance, 507.557_002, 1e-5);
        let r = var_policy.requirements(&strangle(), &MARKET).unwrap();
        close(r.initial, 209.495_174, 1e-5);
        // Hedged book: ES 797.5719, far below perp (2400) + put (1041.4034) alone.
        let h = es_policy.requirements(&hedged(), &MARKET).unwrap();
        let a = es_policy.requirements(&hedged()[..1], &MARKET).unwrap();
        let b = es_policy.requirements(&hedged()[1..], &MARKET).unwrap();
        close(h.initial, 797.571_908, 1e-5);
        close(a.initial, 2400.0, 1e-6);
        close(b.initial, 1_041.403_420, 1e-5);
        assert!(h.initial.to_f64() < 0.5 * (a.initial.to_f64() + b.initial.to_f64()));
        // An empty portfolio needs nothing; an empty set is refused.
        let r = es_policy.requirements(&[], &MARKET).unwrap();
        assert_eq!((r.initial, r.maintenance), (Money::ZERO, Money::ZERO));
        let empty = ScenarioPolicy { set: ScenarioSet::default(), ..es_policy.clone() };
        assert!(empty.requirements(&[perp(1.0)], &MARKET).is_err());
    }

    #[test]
    fn grid_worked_examples() {
        let g = GridPolicy::standard();
        assert_eq!(g.shocks().count(), 33);
        // 3 long: worst at -16%: 3 x 30000 x 0.16 = 14400 (the -33% extreme counts 0.33 x
        // 29700 = 9801); maintenance half.
        let r = g.requirements(&[perp(3.0)], &MARKET).unwrap();
        close(r.initial, 14_400.0, 1e-6);
        close(r.maintenance, 7200.0, 1e-6);
        // Short strangle: worst at +16% with vol up 30%.
        let r = g.requirements(&strangle(), &MARKET).unwrap();
        close(r.initial, 2_577.964_803, 1e-5);
        // Hedged: 1954.8288 (at -16%, vol down), against 4800 + 1864.3949 for the legs.
        let h = g.requirements(&hedged(), &MARKET).unwrap();
        close(h.initial, 1_954.828_830, 1e-5);
        close(g.requirements(&hedged()[1..], &MARKET).unwrap().initial, 1_864.394_943, 1e-5);
        // A far out-of-the-money short put loses at most 53.43 on the grid: the 1% minimum
        // charge of 300 applies.
        let far = [option(OptionKind::Put, 15_000.0, -1.0)];
        assert!((g.worst_loss(&far, &MARKET) - 53.427_048).abs() < 1e-4);
        close(g.requirements(&far, &MARKET).unwrap().initial, 300.0, 1e-6);
    }
}
