//! Black-76 implied volatility (and Black-Scholes-Merton through the forward).
//!
//! The solver works on the undiscounted out-of-the-money option (a call above the
//! forward, a put below; parity converts an in-the-money quote), because an
//! in-the-money price carries its intrinsic value and would lose the time value's digits.
//! The unknown is the total volatility w = vol sqrt(t):
//!
//! 1. An initial guess from the Brenner-Subrahmanyam / Corrado-Miller rational
//!    approximation, clamped into the bracket.
//! 2. Newton steps on ln(price) (well conditioned deep out of the money, where the price
//!    itself is tiny and flat in w), kept inside a bracket [lo, hi] that every evaluation
//!    shrinks; a step leaving the bracket becomes a bisection. This always converges.
//!
//! A price at or below the intrinsic value, at or above the upper bound (the forward for
//! a call, the strike for a put, discounted), or not finite, has no implied volatility:
//! that is an [`Error::Input`], never NaN.
//!
//! Known limitation: out-of-the-money time value below about 1e-300 of the strike cannot
//! be resolved (f64 underflow) and is reported as below intrinsic value.

use crate::options::{OptionKind, norm_cdf, norm_pdf};
use liqsim_core::{Error, InputError, Result};

/// Total volatility above which an option is worth its upper bound to f64 precision.
const W_MAX: f64 = 40.0;

/// Implied Black-76 volatility of `price` (discounted at `rate`) for an option on
/// `forward`.
pub fn black76_implied_vol(
    kind: OptionKind,
    price: f64,
    forward: f64,
    strike: f64,
    t_years: f64,
    rate: f64,
) -> Result<f64> {
    let invalid = |what: &str, value: f64, expected: &str| -> Error {
        InputError::new(format!("{what} {value} is out of range"))
            .key(what)
            .expected(expected)
            .into()
    };
    if !(forward.is_finite() && forward > 0.0) {
        return Err(invalid("forward", forward, "a finite number > 0"));
    }
    if !(strike.is_finite() && strike > 0.0) {
        return Err(invalid("strike", strike, "a finite number > 0"));
    }
    if !(t_years.is_finite() && t_years > 0.0) {
        return Err(invalid("t", t_years, "a time to expiry in years > 0"));
    }
    if !rate.is_finite() {
        return Err(invalid("rate", rate, "a finite number"));
    }
    if !price.is_finite() {
        return Err(invalid("price", price, "a finite number"));
    }
    let discount = (-rate * t_years).exp();
    let undiscounted = price / discount;
    let (intrinsic, upper) = match kind {
        OptionKind::Call => ((forward - strike).max(0.0), forward),
        OptionKind::Put => ((strike - forward).max(0.0), strike),
    };
    if undiscounted <= intrinsic || undiscounted >= upper {
        return Err(InputError::new(format!(
            "no volatility gives the price {price}: it must lie strictly between the discounted intrinsic value {} and the discounted upper bound {}",
            intrinsic * discount,
            upper * discount
        ))
        .key("price")
        .into());
    }
    // Out-of-the-money side by parity: c - p = F - K.
    let otm_call = forward <= strike;
    let time_value = match (kind, otm_call) {
        (OptionKind::Call, true) | (OptionKind::Put, false) => undiscounted,
        (OptionKind::Call, false) => undiscounted - (forward - strike),
        (OptionKind::Put, true) => undiscounted - (strike - forward),
    };
    if time_value <= 0.0 {
        return Err(InputError::new(format!(
            "no volatility gives the price {price}: its time value is not positive"
        ))
        .key("price")
        .into());
    }
    let w = solve_total_vol(time_value, forward, strike, otm_call);
    Ok(w / t_years.sqrt())
}

/// Implied Black-Scholes-Merton volatility of `price` on `spot` with dividend yield
/// `dividend`.
pub fn bsm_implied_vol(
    kind: OptionKind,
    price: f64,
    spot: f64,
    strike: f64,
    t_years: f64,
    rate: f64,
    dividend: f64,
) -> Result<f64> {
    let forward = spot * ((rate - dividend) * t_years).exp();
    black76_implied_vol(kind, price, forward, strike, t_years, rate)
}

/// Undiscounted out-of-the-money price at total volatility `w`, and its derivative.
fn otm_price(forward: f64, strike: f64, w: f64, call: bool) -> (f64, f64) {
    let d1 = (forward / strike).ln() / w + 0.5 * w;
    let d2 = d1 - w;
    let price = if call {
        forward * norm_cdf(d1) - strike * norm_cdf(d2)
    } else {
        strike * norm_cdf(-d2) - forward * norm_cdf(-d1)
    };
    (price, forward * norm_pdf(d1))
}

fn solve_total_vol(target: f64, forward: f64, strike: f64, call: bool) -> f64 {
    let (mut lo, mut hi) = (0.0f64, W_MAX);
    let mut w = initial_guess(target, forward, strike, call).clamp(1e-8, W_MAX * 0.5);
    let ln_target = target.ln();
    for _ in 0..200 {
        let (p, vega) = otm_price(forward, strike, w, call);
        if p > target {
            hi = w;
        } else {
            lo = w;
        }
        if (p - target).abs() <= 1e-15 * target || hi - lo <= 1e-15 * hi {
            return w;
        }
        // Newton on ln(price): f = ln p - ln target, f' = vega / p.
        let next =
            if p > 0.0 && vega > 0.0 { w - (p.ln() - ln_target) * p / vega } else { f64::NAN };
        w = if next.is_finite() && next > lo && next < hi { next } else { 0.5 * (lo + hi) };
    }
    w
}

/// Corrado-Miller (1996) quadratic approximation in undiscounted call terms, falling
/// back to Brenner-Subrahmanyam's sqrt(2 pi) c / F when its discriminant is negative.
fn initial_guess(time_value: f64, forward: f64, strike: f64, otm_call: bool) -> f64 {
    let call = if otm_call { time_value } else { time_value + forward - strike };
    let half_gap = 0.5 * (forward - strike);
    let root_2pi = (2.0 * std::f64::consts::PI).sqrt();
    let a = call - half_gap;
    let disc = a * a - (forward - strike).powi(2) / std::f64::consts::PI;
    let w = if disc >= 0.0 {
        root_2pi / (forward + strike) * (a + disc.sqrt())
    } else {
        root_2pi * time_value / forward
    };
    if w.is_finite() && w > 0.0 { w } else { 0.2 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{black76_price, bsm_greeks};
    use OptionKind::*;

    #[test]
    fn round_trip_over_moneyness_expiry_and_vol() {
        let forward = 100.0;
        // Largest error as a multiple of the resolution the price allows.
        let mut worst = 0.0f64;
        let mut checked = 0;
        for &k in &[20.0, 50.0, 80.0, 95.0, 100.0, 105.0, 125.0, 200.0, 500.0] {
            for &t in &[1.0 / 365.25 / 24.0, 1.0 / 365.25, 0.05, 0.25, 1.0, 5.0] {
                for &v in &[0.01, 0.1, 0.3, 0.8, 1.5, 3.0] {
                    for kind in [Call, Put] {
                        let price = black76_price(kind, forward, k, v, t, 0.05);
                        let discount = (-0.05f64 * t).exp();
                        let intrinsic = match kind {
                            Call => (forward - k).max(0.0),
                            Put => (k - forward).max(0.0),
                        };
                        // Time value below f64 resolution of the price carries no
                        // information about the volatility.
                        if price / discount - intrinsic <= 1e-12 * forward {
                            continue;
                        }
                        let iv = black76_implied_vol(kind, price, forward, k, t, 0.05).unwrap();
                        // What the price's last bits can tell: a price known to a few
                        // ulps fixes the volatility to about that over vega.
                        let vega =
                            crate::options::black76_greeks(kind, forward, k, v, t, 0.05).vega;
                        let resolution = 1e-10 + 8.0 * f64::EPSILON * price / (vega * v);
                        worst = worst.max((iv - v).abs() / v / resolution);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 350, "{checked}");
        assert!(worst < 1.0, "worst error {worst} x the price's resolution");
    }

    #[test]
    fn bsm_round_trip_hull() {
        // Hull's example 15.6 call at 4.7594 back to 20%.
        let c = bsm_greeks(Call, 42.0, 40.0, 0.2, 0.5, 0.1, 0.0).price;
        let iv = bsm_implied_vol(Call, c, 42.0, 40.0, 0.5, 0.1, 0.0).unwrap();
        assert!((iv - 0.2).abs() < 1e-12, "{iv}");
    }

    #[test]
    fn prices_outside_the_bounds_are_errors_not_nan() {
        let d = (-0.05f64).exp();
        // Below intrinsic value.
        assert!(black76_implied_vol(Call, 9.0 * d, 110.0, 100.0, 1.0, 0.05).is_err());
        // Above the forward.
        assert!(black76_implied_vol(Call, 111.0 * d, 110.0, 100.0, 1.0, 0.05).is_err());
        // Put above the strike, negative and NaN prices, zero time.
        assert!(black76_implied_vol(Put, 100.0 * d, 110.0, 100.0, 1.0, 0.05).is_err());
        assert!(black76_implied_vol(Put, -1.0, 110.0, 100.0, 1.0, 0.05).is_err());
        assert!(black76_implied_vol(Put, f64::NAN, 110.0, 100.0, 1.0, 0.05).is_err());
        assert!(black76_implied_vol(Put, 1.0, 110.0, 100.0, 0.0, 0.05).is_err());
        let e = black76_implied_vol(Call, 0.0, 100.0, 100.0, 1.0, 0.0).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
