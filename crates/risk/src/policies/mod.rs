//! The margin policies, one file each, every one behind [`crate::model::Policy`]:
//!
//! - [`fixed`]: fractions of notional with notional tiers (leverage brackets) as large
//!   perpetual venues publish them; options at premium plus a fraction of the underlying
//!   for short options.
//! - [`scenario`]: `var` and `es` of the portfolio's loss over a scenario set
//!   (historical, filtered historical, Monte Carlo), options fully revalued.
//! - [`grid`]: SPAN-like, the worst loss over moves of the underlying x volatility
//!   shifts, options fully revalued, with a short-option minimum.
//! - [`greeks`]: the grid's scenarios, the portfolio's P&L approximated from its net
//!   delta, gamma and vega (the delta-gamma-vega Taylor expansion).

pub mod fixed;
pub mod greeks;
pub mod grid;
pub mod scenario;

#[cfg(test)]
pub(crate) mod tests {
    //! The market and portfolios of the worked examples.
    use crate::portfolio::{Instrument, Market, Position};
    use liqsim_core::Money;
    use liqsim_models::OptionKind;

    pub const F: f64 = 30_000.0;
    pub const T: f64 = 30.0 / 365.0;
    pub const MARKET: Market = Market { forward: F, vol: 0.6, rate: 0.0 };

    pub fn option(kind: OptionKind, strike: f64, quantity: f64) -> Position {
        Position { instrument: Instrument::Option { kind, strike, expiry_years: T }, quantity }
    }
    pub fn perp(quantity: f64) -> Position {
        Position { instrument: Instrument::Perpetual, quantity }
    }
    pub fn strangle() -> Vec<Position> {
        vec![option(OptionKind::Call, 33_000.0, -1.0), option(OptionKind::Put, 27_000.0, -1.0)]
    }
    pub fn hedged() -> Vec<Position> {
        vec![perp(1.0), option(OptionKind::Put, 30_000.0, 1.0)]
    }
    /// Requirement in units, asserting it is `expected` rounded up to the micro-unit
    /// (within `tol` for figures that went through an option price).
    pub fn close(m: Money, expected: f64, tol: f64) {
        let x = m.to_f64();
        assert!(x >= expected - tol && x <= expected + tol + 1e-6, "{x} vs {expected}");
    }
}
