//! What margin is computed on: positions in perpetuals and European options on one
//! underlying, and the market view (forward, volatility, rate) they are valued at.
//!
//! Quantities are `f64` units of the underlying, signed (positive long, negative short):
//! an option of quantity q pays q times its payoff per unit, a perpetual of quantity q
//! gains q (F' - F). The caller converts lots with its `ContractSpec`
//! (`ContractSpec::qty_to_f64`), so this crate stays free of lot sizes; money comes back
//! only through `Money::ceil_from_f64` in the policies.
//!
//! A perpetual is valued at the forward (its mark); an option with Black-76 on the
//! forward, with its time to expiry in years. A scenario moves the forward by a log
//! return, the volatility by a relative shift (vol' = vol (1 + shift), at least 1% of
//! vol) and time by the horizon (options expiring within it pay their intrinsic value).
//! Limitation: one underlying and one volatility for all strikes (no smile).

use liqsim_models::{OptionKind, black76_greeks, black76_price};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Instrument {
    Perpetual,
    Option { kind: OptionKind, strike: f64, expiry_years: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub instrument: Instrument,
    /// Units of the underlying, signed.
    pub quantity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Market {
    /// Forward (mark) price of the underlying.
    pub forward: f64,
    /// Black-76 volatility per year.
    pub vol: f64,
    /// Continuously compounded rate per year.
    pub rate: f64,
}

/// A move of the market over a horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shock {
    pub log_return: f64,
    /// Relative volatility shift: vol' = vol (1 + vol_shift).
    pub vol_shift: f64,
    /// Time that passes, in years.
    pub horizon_years: f64,
}

impl Market {
    pub fn shocked(&self, shock: &Shock) -> Market {
        Market {
            forward: self.forward * shock.log_return.exp(),
            vol: (self.vol * (1.0 + shock.vol_shift)).max(0.01 * self.vol),
            rate: self.rate,
        }
    }
}

impl Instrument {
    /// Value of one unit at `market`, `elapsed_years` after now.
    pub fn value(&self, market: &Market, elapsed_years: f64) -> f64 {
        match *self {
            Instrument::Perpetual => market.forward,
            Instrument::Option { kind, strike, expiry_years } => black76_price(
                kind,
                market.forward,
                strike,
                market.vol,
                (expiry_years - elapsed_years).max(0.0),
                market.rate,
            ),
        }
    }

    /// P&L of one long unit from `market` now to the shocked market after the horizon.
    pub fn pnl(&self, market: &Market, shock: &Shock) -> f64 {
        self.value(&market.shocked(shock), shock.horizon_years) - self.value(market, 0.0)
    }

    /// (delta, gamma, vega) of one unit now: with respect to the forward, and per 1.00
    /// of volatility.
    pub fn greeks(&self, market: &Market) -> (f64, f64, f64) {
        match *self {
            Instrument::Perpetual => (1.0, 0.0, 0.0),
            Instrument::Option { kind, strike, expiry_years } => {
                let g = black76_greeks(
                    kind,
                    market.forward,
                    strike,
                    market.vol,
                    expiry_years,
                    market.rate,
                );
                (g.delta, g.gamma, g.vega)
            }
        }
    }

    /// (delta, gamma) of one unit with respect to the forward, now.
    pub fn delta_gamma(&self, market: &Market) -> (f64, f64) {
        let (delta, gamma, _) = self.greeks(market);
        (delta, gamma)
    }
}

/// P&L of a portfolio over one shock.
pub fn portfolio_pnl(positions: &[Position], market: &Market, shock: &Shock) -> f64 {
    positions.iter().map(|p| p.quantity * p.instrument.pnl(market, shock)).sum()
}

/// Value of a portfolio's options now (perpetuals are worth 0: their value is in P&L).
pub fn option_value(positions: &[Position], market: &Market) -> f64 {
    positions
        .iter()
        .filter(|p| matches!(p.instrument, Instrument::Option { .. }))
        .map(|p| p.quantity * p.instrument.value(market, 0.0))
        .sum()
}
