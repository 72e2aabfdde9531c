//! `greeks`: portfolio margin from the net delta, gamma and vega of the whole portfolio.
//!
//! The formulation is the Basel Committee's "delta-plus" method for options (BCBS,
//! Amendment to the Capital Accord to incorporate market risks, 1996, rev. 2005, part
//! B.4): a portfolio's P&L for a move dF of the underlying and a shift dv of its
//! volatility is taken from its Taylor expansion,
//!
//!   P&L ~ delta x dF + 1/2 x gamma x dF^2 + vega x dv,
//!
//! the quadratic (delta-gamma) model of Hull, Options, Futures and Other Derivatives,
//! ch. "Value at Risk and Expected Shortfall", with the delta-plus method's vega term.
//! delta, gamma and vega are the portfolio's net Black-76 Greeks (per unit of the
//! forward, per unit of the forward squared, per 1.00 of volatility), each the sum of its
//! legs' quantity times the instrument's Greek, computed once per instrument at the
//! market and shared by every account. The requirement is the worst approximated loss
//! over the same grid as `grid` (moves of the underlying x relative volatility shifts of
//! +/- `vol_up`/`vol_down`, the delta-plus method's 25% by default, and an extreme move
//! counted at a fraction), at least the grid's minimum per short option, and at least
//! `delta_floor` of the gross delta notional (sum over legs of |quantity x delta| x F),
//! so that a delta-hedged book is never free.
//!
//! What it does not see, by construction: the expansion is local. A far
//! out-of-the-money short option has almost no delta or gamma at the current forward,
//! so a jump that carries the forward through its strike loses far more than the
//! quadratic says; full revaluation (`grid`, `es`, `var`) sees it. Time decay is left
//! out (conservative for short options). A perpetual is exactly linear: its rate is the
//! grid's.

use crate::hotpath::PnlMatrix;
use crate::model::{Leg, MarketState, Policy, Requirements};
use crate::policies::grid::{GridConfig, worst_over_grid};
use crate::portfolio::{Instrument, Market};
use crate::schedule::MarginSchedule;
use liqsim_core::Result;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GreeksConfig {
    /// The grid the expansion is evaluated over (its horizon is not used).
    pub grid: GridConfig,
    /// At least this fraction of the gross delta notional.
    pub delta_floor: f64,
}

impl Default for GreeksConfig {
    /// The grid's defaults (+/-16% in 9 steps, volatility +/-25%, +/-33% at 33%, 1%
    /// short-option minimum), a floor of 1% of the gross delta notional.
    fn default() -> GreeksConfig {
        GreeksConfig { grid: GridConfig::default(), delta_floor: 0.01 }
    }
}

/// Net Greeks of a portfolio.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NetGreeks {
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
}

#[derive(Debug)]
pub struct Greeks {
    config: GreeksConfig,
    /// (simple move, relative volatility shift, weight) per grid point.
    points: Vec<(f64, f64, f64)>,
    weights: Vec<f64>,
    /// Per instrument at the last prepare.
    greeks: Vec<NetGreeks>,
    matrix: PnlMatrix,
}

impl Greeks {
    pub fn new(config: GreeksConfig) -> Greeks {
        let points: Vec<(f64, f64, f64)> = config.grid.points().collect();
        let weights = points.iter().map(|p| p.2).collect();
        Greeks { config, points, weights, greeks: Vec::new(), matrix: PnlMatrix::default() }
    }

    /// The portfolio's net Greeks over the instruments last prepared.
    pub fn net(&self, legs: &[Leg]) -> NetGreeks {
        let mut net = NetGreeks::default();
        for leg in legs {
            let g = self.greeks[leg.row];
            net.delta += leg.quantity * g.delta;
            net.gamma += leg.quantity * g.gamma;
            net.vega += leg.quantity * g.vega;
        }
        net
    }
}

impl Policy for Greeks {
    fn name(&self) -> &'static str {
        "greeks"
    }

    fn refresh(&mut self, _market: &MarketState) -> Result<MarginSchedule> {
        let g = &self.config.grid;
        let rate = g.linear_rate().max(self.config.delta_floor);
        Ok(MarginSchedule::flat_floored(rate, rate, g.maintenance_fraction, g.max_leverage))
    }

    fn prepare(&mut self, instruments: &[Instrument], market: &Market) {
        self.greeks.clear();
        self.greeks.extend(instruments.iter().map(|inst| {
            let (delta, gamma, vega) = inst.greeks(market);
            NetGreeks { delta, gamma, vega }
        }));
        // The expansion is linear in the Greeks, so each instrument's row over the grid
        // sums to the portfolio's: P&L = delta dF + gamma dF^2 / 2 + vega dv.
        let (f, vol) = (market.forward, market.vol);
        let (greeks, points) = (&self.greeks, &self.points);
        self.matrix.fill(instruments.len(), points.len(), |i, k| {
            let (g, (moved, vol_shift, _)) = (greeks[i], points[k]);
            let df = f * moved;
            g.delta * df + 0.5 * g.gamma * df * df + g.vega * vol * vol_shift
        });
    }

    fn requirements(
        &mut self,
        legs: &[Leg],
        market: &Market,
        _schedule: &MarginSchedule,
    ) -> Result<Requirements> {
        let g = &self.config.grid;
        let grid = worst_over_grid(
            &self.matrix,
            &self.weights,
            legs,
            market,
            g.short_option_min_fraction,
            g.maintenance_fraction,
        )?;
        let gross: f64 =
            legs.iter().map(|l| (l.quantity * self.greeks[l.row].delta).abs()).sum::<f64>();
        let floor = Requirements::from_f64(
            self.config.delta_floor * gross * market.forward,
            self.config.delta_floor * gross * market.forward * g.maintenance_fraction,
        )?;
        Ok(Requirements {
            initial: grid.initial.max(floor.initial),
            maintenance: grid.maintenance.max(floor.maintenance),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MarginModel, PolicyConfig};
    use crate::policies::tests::{MARKET, close, option, perp, strangle};
    use crate::portfolio::{Shock, portfolio_pnl};
    use liqsim_core::Money;
    use liqsim_models::OptionKind;

    fn models() -> (MarginModel, MarginModel) {
        let greeks = MarginModel::new(PolicyConfig::Greeks(GreeksConfig::default()), 0).unwrap();
        let grid = MarginModel::new(PolicyConfig::Grid(GridConfig::default()), 0).unwrap();
        (greeks, grid)
    }

    #[test]
    fn a_perpetual_is_linear_and_charged_as_on_the_grid() {
        let (mut greeks, mut grid) = models();
        let a = greeks.portfolio(&[perp(3.0)], &MARKET).unwrap();
        let b = grid.portfolio(&[perp(-3.0)], &MARKET).unwrap();
        close(a.initial, 14_400.0, 1e-6);
        assert_eq!(a, b);
        assert_eq!(greeks.schedule(), grid.schedule());
    }

    #[test]
    fn worked_example_short_strangle() {
        // Forward 30000, vol 60%, 30 days: net Greeks of the short 33000 call and 27000
        // put (from an independent Black-76): delta -0.077438, gamma -1.29858e-4, vega
        // -5,763.58. The worst point of the grid is +16% with volatility up 25%:
        // -0.077438 x 4800 - 1.29858e-4 x 4800^2 / 2 - 5763.58 x 0.6 x 0.25 = -2,732.21,
        // above full revaluation's 2,416.28 (a constant gamma overstates a strangle's
        // loss this far out).
        let (mut greeks, _) = models();
        let r = greeks.portfolio(&strangle(), &MARKET).unwrap();
        close(r.initial, 2_732.209_378, 1e-4);
        close(r.maintenance, 1_366.104_689, 1e-4);
    }

    #[test]
    fn the_expansion_misses_the_gap_risk_full_revaluation_sees() {
        // Ten short puts 30% out of the money: at the current forward their delta
        // (+0.154 net) and gamma (-7.508e-5) are small. Through a -30% jump the quadratic
        // says -1,386.4 - 3,040.9 = -4,427.3; revalued, the position loses 14,093.8.
        let far = [option(OptionKind::Put, 21_000.0, -10.0)];
        let instruments = [far[0].instrument];
        let mut policy = Greeks::new(GreeksConfig::default());
        policy.prepare(&instruments, &MARKET);
        let leg = Leg {
            instrument: far[0].instrument,
            row: 0,
            quantity: -10.0,
            value: Money::ZERO,
            underlying: Money::ZERO,
        };
        let net = policy.net(&[leg]);
        let df = -0.3 * MARKET.forward;
        let taylor = net.delta * df + 0.5 * net.gamma * df * df;
        let jump = Shock { log_return: 0.7f64.ln(), vol_shift: 0.0, horizon_years: 0.0 };
        let revalued = portfolio_pnl(&far, &MARKET, &jump);
        assert!((taylor + 4_427.3).abs() < 0.1, "{taylor}");
        assert!((revalued + 14_093.778).abs() < 1e-2, "{revalued}");
        // So the margin: the short-option minimum (1% of 300,000) is all the expansion
        // asks; full revaluation on the same grid asks 7,216.55 (its -33% point).
        let (mut greeks, mut grid) = models();
        let g = greeks.portfolio(&far, &MARKET).unwrap();
        let r = grid.portfolio(&far, &MARKET).unwrap();
        close(g.initial, 3000.0, 1e-6);
        close(r.initial, 7_216.549_472, 1e-4);
        // Near the money the two agree closely: 3,635.58 against 3,410.37.
        let atm = [option(OptionKind::Put, 30_000.0, -1.0)];
        let a = greeks.portfolio(&atm, &MARKET).unwrap().initial.to_f64();
        let b = grid.portfolio(&atm, &MARKET).unwrap().initial.to_f64();
        assert!((a - 3_635.583).abs() < 1e-2 && (b - 3_410.367).abs() < 1e-2, "{a} {b}");
    }

    #[test]
    fn the_delta_floor_binds_when_the_grid_asks_less() {
        // A floor of 50% of the gross delta notional: 3 long at 30000 pay 45,000, not the
        // grid's 14,400, and the perpetual's rate says the same.
        let config = GreeksConfig { delta_floor: 0.5, ..GreeksConfig::default() };
        let mut m = MarginModel::new(PolicyConfig::Greeks(config), 0).unwrap();
        let r = m.portfolio(&[perp(3.0)], &MARKET).unwrap();
        close(r.initial, 45_000.0, 1e-6);
        close(r.maintenance, 22_500.0, 1e-6);
        let MarginSchedule::Flat { long, short } = m.schedule().clone() else { panic!() };
        assert_eq!((long.initial, short.initial), (0.5, 0.5));
    }
}
