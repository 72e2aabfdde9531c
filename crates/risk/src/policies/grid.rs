//! `grid`: SPAN-like, the worst loss over a grid of moves of the underlying, each with
//! the volatility up, unchanged and down, plus an extreme move counted at a fraction, and
//! at least a minimum charge per short option. Options are fully revalued (Black-76) at
//! every grid point, over a P&L table every account shares.
//!
//! The perpetual's rate is the grid's worst loss per unit of notional in closed form: the
//! largest move, or the extreme move times its fraction, whichever is larger (volatility
//! does not move a perpetual); floored at the venue's leverage cap.

use crate::hotpath::PnlMatrix;
use crate::model::{Leg, MarketState, Policy, Requirements};
use crate::portfolio::{Instrument, Market, Shock};
use crate::scenarios::ScenarioSet;
use crate::schedule::MarginSchedule;
use liqsim_core::Result;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridConfig {
    /// Largest simple move of the underlying, e.g. 0.16.
    pub move_max: f64,
    /// Number of moves from -move_max to +move_max inclusive (odd includes 0).
    pub steps: usize,
    /// Relative volatility shifts up and down (with "unchanged" between).
    pub vol_up: f64,
    pub vol_down: f64,
    /// Extreme simple move, whose loss counts at `extreme_fraction`.
    pub extreme_move: f64,
    pub extreme_fraction: f64,
    /// Minimum charge per short option, as a fraction of forward x |quantity|.
    pub short_option_min_fraction: f64,
    /// Time that passes over the grid scenarios, in years.
    pub horizon_years: f64,
    pub maintenance_fraction: f64,
    /// The venue's leverage cap: the perpetual's initial rate is at least its inverse.
    pub max_leverage: f64,
}

impl Default for GridConfig {
    /// +/-16% in 9 steps, volatility +/-25%, +/-33% counted at 33%, 1% short-option
    /// minimum, one day, maintenance half of initial, 100x cap.
    fn default() -> GridConfig {
        GridConfig {
            move_max: 0.16,
            steps: 9,
            vol_up: 0.25,
            vol_down: 0.25,
            extreme_move: 0.33,
            extreme_fraction: 0.33,
            short_option_min_fraction: 0.01,
            horizon_years: 1.0 / 365.0,
            maintenance_fraction: 0.5,
            max_leverage: 100.0,
        }
    }
}

impl GridConfig {
    /// Each grid point: (simple move of the underlying, relative volatility shift, weight
    /// of its loss), moves outer, volatility up, same, down inner.
    pub fn points(&self) -> impl Iterator<Item = (f64, f64, f64)> + '_ {
        let steps = self.steps.max(2);
        let moves = (0..steps)
            .map(move |i| {
                (-self.move_max + 2.0 * self.move_max * i as f64 / (steps - 1) as f64, 1.0)
            })
            .chain([
                (-self.extreme_move, self.extreme_fraction),
                (self.extreme_move, self.extreme_fraction),
            ]);
        moves.flat_map(move |(m, w)| [self.vol_up, 0.0, -self.vol_down].map(|v| (m, v, w)))
    }

    /// Each grid point as a shock over the grid's horizon, with its weight.
    pub fn shocks(&self) -> impl Iterator<Item = (Shock, f64)> + '_ {
        self.points().map(|(m, vol_shift, w)| {
            (Shock { log_return: (1.0 + m).ln(), vol_shift, horizon_years: self.horizon_years }, w)
        })
    }

    /// The grid's worst loss per unit of a perpetual's notional, long or short.
    pub fn linear_rate(&self) -> f64 {
        self.move_max.max(self.extreme_move * self.extreme_fraction)
    }
}

/// The worst weighted loss over a table's scenarios, at least the short-option minimum:
/// the grid's requirement, whatever valued the table.
pub(crate) fn worst_over_grid(
    matrix: &PnlMatrix,
    weights: &[f64],
    legs: &[Leg],
    market: &Market,
    short_option_min_fraction: f64,
    maintenance_fraction: f64,
) -> Result<Requirements> {
    let mut worst = 0.0f64;
    for (k, weight) in weights.iter().enumerate().take(matrix.scenarios()) {
        let mut pnl = 0.0;
        for leg in legs {
            pnl += leg.quantity * matrix.row(leg.row)[k];
        }
        worst = worst.max(-weight * pnl);
    }
    let minimum: f64 = legs
        .iter()
        .filter(|l| l.is_short_option())
        .map(|l| short_option_min_fraction * market.forward * -l.quantity)
        .sum();
    let im = worst.max(minimum).min(crate::model::loss_cap(legs));
    Requirements::from_f64(im, im * maintenance_fraction)
}

#[derive(Debug)]
pub struct Grid {
    config: GridConfig,
    set: ScenarioSet,
    matrix: PnlMatrix,
}

impl Grid {
    pub fn new(config: GridConfig) -> Grid {
        let mut set = ScenarioSet::default();
        for (shock, weight) in config.shocks() {
            set.shocks.push(shock);
            set.weights.push(weight);
        }
        Grid { config, set, matrix: PnlMatrix::default() }
    }
}

impl Policy for Grid {
    fn name(&self) -> &'static str {
        "grid"
    }

    fn refresh(&mut self, _market: &MarketState) -> Result<MarginSchedule> {
        let c = &self.config;
        let rate = c.linear_rate();
        Ok(MarginSchedule::flat_floored(rate, rate, c.maintenance_fraction, c.max_leverage))
    }

    fn prepare(&mut self, instruments: &[Instrument], market: &Market) {
        self.matrix.refresh(instruments, market, &self.set);
    }

    fn requirements(
        &mut self,
        legs: &[Leg],
        market: &Market,
        _schedule: &MarginSchedule,
    ) -> Result<Requirements> {
        let c = &self.config;
        worst_over_grid(
            &self.matrix,
            &self.set.weights,
            legs,
            market,
            c.short_option_min_fraction,
            c.maintenance_fraction,
        )
    }
}

#[cfg(test)]
mod tests {
    //! Worked examples (option figures from an independent Black-76, see `fixed`).
    use super::*;
    use crate::model::{MarginModel, PolicyConfig};
    use crate::policies::tests::{MARKET, close, hedged, option, perp, strangle};
    use crate::portfolio::portfolio_pnl;
    use liqsim_models::OptionKind;

    fn model() -> MarginModel {
        MarginModel::new(PolicyConfig::Grid(GridConfig::default()), 0).unwrap()
    }

    #[test]
    fn worked_examples() {
        let g = GridConfig::default();
        assert_eq!(g.shocks().count(), 33);
        let mut m = model();
        // 3 long: worst at -16%: 3 x 30000 x 0.16 = 14400 (the -33% extreme counts 0.33 x
        // 29700 = 9801); maintenance half. The perpetual's rate is the same 16%.
        let r = m.portfolio(&[perp(3.0)], &MARKET).unwrap();
        close(r.initial, 14_400.0, 1e-6);
        close(r.maintenance, 7200.0, 1e-6);
        assert_eq!(g.linear_rate(), 0.16);
        // Short strangle: worst at +16% with vol up 25%.
        let r = m.portfolio(&strangle(), &MARKET).unwrap();
        close(r.initial, 2_416.275_114, 1e-5);
        // Hedged: far below the legs' sum (4800 for the perpetual alone).
        let h = m.portfolio(&hedged(), &MARKET).unwrap();
        close(h.initial, 1_921.155_244, 1e-5);
        let put = m.portfolio(&hedged()[1..], &MARKET).unwrap();
        close(put.initial, 1_812.124_532, 1e-5);
        // A far out-of-the-money short put loses at most 45.78 on the grid: the 1%
        // minimum charge of 300 applies.
        let far = [option(OptionKind::Put, 15_000.0, -1.0)];
        let worst =
            g.shocks().map(|(s, w)| -w * portfolio_pnl(&far, &MARKET, &s)).fold(0.0, f64::max);
        assert!((worst - 45.777_486).abs() < 1e-5, "{worst}");
        close(m.portfolio(&far, &MARKET).unwrap().initial, 300.0, 1e-6);
    }
}
