//! Margin rates of a linear position from a set of horizon log returns.
//!
//! A position of notional N loses N (1 - e^r) when long and N (e^r - 1) when short over a
//! scenario with log return r. Both are N times a rate that does not depend on the
//! account, so one VaR or ES per direction per refresh serves every account (the shared
//! scenario P&L vector of the design, for the single-instrument case).

use crate::measures::{es, var};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    Var,
    Es,
}

/// (long rate, short rate): the measure of the loss per unit of notional.
pub fn rates(returns: &[f64], alpha: f64, measure: Measure) -> (f64, f64) {
    // One `exp` per scenario serves both sides (it was a sixth of calm-baseline's time).
    let mut long = Vec::with_capacity(returns.len());
    let mut short = Vec::with_capacity(returns.len());
    for r in returns {
        let growth = r.exp();
        long.push(1.0 - growth);
        short.push(growth - 1.0);
    }
    let f = match measure {
        Measure::Var => var,
        Measure::Es => es,
    };
    (f(&mut long, alpha).max(0.0), f(&mut short, alpha).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_short_rates() {
        let returns = [-0.1, 0.0, 0.05, 0.2];
        // VaR at 0.75 of the long loss: losses 1-e^r = 0.0952, 0, -0.0513, -0.2214; the
        // 3rd smallest of 4 is 0.
        let (l, s) = rates(&returns, 0.75, Measure::Var);
        assert_eq!(l, 0.0);
        assert!((s - (0.05f64.exp() - 1.0)).abs() < 1e-15);
        // ES at 0.5: tail of 2 observations: long (0.0952 + 0) / 2.
        let (l, _) = rates(&returns, 0.5, Measure::Es);
        assert!((l - (1.0 - (-0.1f64).exp()) / 2.0).abs() < 1e-15);
    }
}
