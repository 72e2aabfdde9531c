//! European option prices and Greeks: Black-76 on a forward, Black-Scholes-Merton on spot
//! with a continuous dividend (or carry) yield.
//!
//! Greeks are plain partial derivatives: vega per 1.00 of volatility, rho per 1.00 of
//! rate, theta = dV/dt as calendar time passes (per year; the negative of dV/dT). For
//! Black-76, rho is taken holding the forward fixed, so rho = -T x price. At expiry or
//! zero volatility the price is the discounted intrinsic value and the Greeks are their
//! limits (delta a step function, gamma and vega zero), never NaN.

use statrs::function::erf::erfc;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    Call,
    Put,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Greeks {
    pub price: f64,
    pub delta: f64,
    pub gamma: f64,
    pub vega: f64,
    pub theta: f64,
    pub rho: f64,
}

/// Standard normal CDF through statrs' erfc (relative accuracy near machine precision
/// in both tails, where 1 - erf loses digits).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * FRAC_1_SQRT_2)
}

pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Black-76 price of a European option on a forward `forward`.
pub fn black76_price(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    vol: f64,
    t_years: f64,
    rate: f64,
) -> f64 {
    black76_greeks(kind, forward, strike, vol, t_years, rate).price
}

/// Black-76 price and Greeks (delta and gamma with respect to the forward).
pub fn black76_greeks(
    kind: OptionKind,
    forward: f64,
    strike: f64,
    vol: f64,
    t_years: f64,
    rate: f64,
) -> Greeks {
    let discount = (-rate * t_years).exp();
    let sqrt_t = t_years.max(0.0).sqrt();
    let total_vol = vol * sqrt_t;
    // NaN inputs land here too: every comparison with NaN is false.
    let positive = |x: f64| x > 0.0;
    if !positive(total_vol) || !positive(forward) || !positive(strike) {
        let intrinsic = match kind {
            OptionKind::Call => (forward - strike).max(0.0),
            OptionKind::Put => (strike - forward).max(0.0),
        };
        let in_the_money = intrinsic > 0.0;
        let delta = match kind {
            OptionKind::Call if in_the_money => discount,
            OptionKind::Put if in_the_money => -discount,
            _ => 0.0,
        };
        let price = discount * intrinsic;
        return Greeks {
            price,
            delta,
            gamma: 0.0,
            vega: 0.0,
            theta: rate * price,
            rho: -t_years * price,
        };
    }
    let d1 = ((forward / strike).ln() + 0.5 * total_vol * total_vol) / total_vol;
    let d2 = d1 - total_vol;
    let pdf = norm_pdf(d1);
    let (price, delta) = match kind {
        OptionKind::Call => {
            let nd1 = norm_cdf(d1);
            (discount * (forward * nd1 - strike * norm_cdf(d2)), discount * nd1)
        }
        OptionKind::Put => {
            let nmd1 = norm_cdf(-d1);
            (discount * (strike * norm_cdf(-d2) - forward * nmd1), -discount * nmd1)
        }
    };
    let gamma = discount * pdf / (forward * total_vol);
    let vega = discount * forward * pdf * sqrt_t;
    // dV/dT = -F e^{-rT} pdf vol / (2 sqrt T) + r V; theta is its negative.
    let theta = -discount * forward * pdf * vol / (2.0 * sqrt_t) + rate * price;
    Greeks { price, delta, gamma, vega, theta, rho: -t_years * price }
}

/// Black-Scholes-Merton price and Greeks on spot with dividend yield `dividend`
/// (delta and gamma with respect to spot).
pub fn bsm_greeks(
    kind: OptionKind,
    spot: f64,
    strike: f64,
    vol: f64,
    t_years: f64,
    rate: f64,
    dividend: f64,
) -> Greeks {
    let forward = spot * ((rate - dividend) * t_years).exp();
    let carry = ((rate - dividend) * t_years).exp();
    let g = black76_greeks(kind, forward, strike, vol, t_years, rate);
    // Chain rule from forward to spot: dF/dS = e^{(r-q)T}.
    let delta = g.delta * carry;
    let gamma = g.gamma * carry * carry;
    // With spot fixed, the forward moves with T and r as well.
    let dprice_dforward = g.delta;
    let theta = g.theta - dprice_dforward * forward * (rate - dividend);
    let rho = g.rho + dprice_dforward * forward * t_years;
    Greeks { price: g.price, delta, gamma, vega: g.vega, theta, rho }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OptionKind::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn hull_bsm_example() {
        // Hull, Options, Futures and Other Derivatives, Example 15.6: S0 = 42, K = 40,
        // r = 10%, sigma = 20%, T = 0.5: c = 4.76, p = 0.81.
        let c = bsm_greeks(Call, 42.0, 40.0, 0.2, 0.5, 0.1, 0.0);
        let p = bsm_greeks(Put, 42.0, 40.0, 0.2, 0.5, 0.1, 0.0);
        assert!(close(c.price, 4.76, 0.005), "{}", c.price);
        assert!(close(p.price, 0.81, 0.005), "{}", p.price);
    }

    #[test]
    fn haug_black76_example() {
        // Haug, The Complete Guide to Option Pricing Formulas, Black-76 example: F = 19,
        // X = 19, T = 0.75, r = 10%, v = 28%: c = p = 1.7011.
        let c = black76_price(Call, 19.0, 19.0, 0.28, 0.75, 0.1);
        let p = black76_price(Put, 19.0, 19.0, 0.28, 0.75, 0.1);
        assert!(close(c, 1.7011, 5e-5), "{c}");
        assert!(close(p, 1.7011, 5e-5), "{p}");
    }

    #[test]
    fn hull_greeks_example() {
        // Hull, section 19: S0 = 49, K = 50, r = 5%, sigma = 20%, T = 0.3846 (20 weeks):
        // call delta 0.522, gamma 0.066, vega 12.1 (per 1.00 of vol), theta -4.31 per year,
        // rho 8.91 (per 1.00 of rate).
        let g = bsm_greeks(Call, 49.0, 50.0, 0.2, 0.3846, 0.05, 0.0);
        assert!(close(g.delta, 0.522, 0.0005), "{}", g.delta);
        assert!(close(g.gamma, 0.066, 0.0005), "{}", g.gamma);
        assert!(close(g.vega, 12.1, 0.05), "{}", g.vega);
        assert!(close(g.theta, -4.31, 0.005), "{}", g.theta);
        assert!(close(g.rho, 8.91, 0.005), "{}", g.rho);
    }

    #[test]
    fn haug_worked_examples() {
        // Haug, The Complete Guide to Option Pricing Formulas (2nd ed.), chapter 1-2
        // examples; b is the cost of carry, so the dividend yield is r - b.
        // Generalized BSM: S = 60, X = 65, T = 0.25, r = 8%, b = 8%, v = 30%: call 2.1334.
        let c = bsm_greeks(Call, 60.0, 65.0, 0.3, 0.25, 0.08, 0.0);
        assert!(close(c.price, 2.1334, 5e-5), "{}", c.price);
        // Delta on a futures option (b = 0): F = 105, X = 100, T = 0.5, r = 10%, v = 36%:
        // call 0.5946, put -0.3566.
        let c = black76_greeks(Call, 105.0, 100.0, 0.36, 0.5, 0.1);
        let p = black76_greeks(Put, 105.0, 100.0, 0.36, 0.5, 0.1);
        assert!(close(c.delta, 0.5946, 5e-5), "{}", c.delta);
        assert!(close(p.delta, -0.3566, 5e-5), "{}", p.delta);
        // Gamma: S = 55, X = 60, T = 0.75, r = 10%, b = 10%, v = 30%: 0.0278 (call or put).
        let g = bsm_greeks(Call, 55.0, 60.0, 0.3, 0.75, 0.1, 0.0);
        assert!(close(g.gamma, 0.0278, 5e-5), "{}", g.gamma);
        // Vega, same option: 18.9358.
        assert!(close(g.vega, 18.9358, 5e-5), "{}", g.vega);
        // Theta: S = 430, X = 405, T = 0.0833, r = 7%, b = 2%, v = 20%: put -31.1924.
        let p = bsm_greeks(Put, 430.0, 405.0, 0.2, 0.0833, 0.07, 0.05);
        assert!(close(p.theta, -31.1924, 5e-5), "{}", p.theta);
        // Rho: S = 72, X = 75, T = 1, r = 9%, b = 9%, v = 19%: call 38.7325.
        let c = bsm_greeks(Call, 72.0, 75.0, 0.19, 1.0, 0.09, 0.0);
        assert!(close(c.rho, 38.7325, 5e-5), "{}", c.rho);
    }

    #[test]
    fn put_call_parity() {
        for &(f, k, v, t) in
            &[(100.0, 80.0, 0.5, 0.1), (100.0, 130.0, 1.2, 2.0), (5.0, 5.0, 0.05, 0.01)]
        {
            let c = black76_price(Call, f, k, v, t, 0.03);
            let p = black76_price(Put, f, k, v, t, 0.03);
            assert!(close(c - p, (-0.03f64 * t).exp() * (f - k), 1e-10));
            let cs = bsm_greeks(Call, f, k, v, t, 0.03, 0.01).price;
            let ps = bsm_greeks(Put, f, k, v, t, 0.03, 0.01).price;
            assert!(close(cs - ps, f * (-0.01f64 * t).exp() - k * (-0.03f64 * t).exp(), 1e-10));
        }
    }

    #[test]
    fn greeks_match_finite_differences() {
        let (s, k, v, t, r, q) = (100.0, 95.0, 0.4, 0.7, 0.03, 0.01);
        for kind in [Call, Put] {
            let g = bsm_greeks(kind, s, k, v, t, r, q);
            let p = |s: f64, v: f64, t: f64, r: f64| bsm_greeks(kind, s, k, v, t, r, q).price;
            let h = 1e-4;
            assert!(close(g.delta, (p(s + h, v, t, r) - p(s - h, v, t, r)) / (2.0 * h), 1e-6));
            assert!(close(
                g.gamma,
                (p(s + h, v, t, r) - 2.0 * p(s, v, t, r) + p(s - h, v, t, r)) / (h * h),
                1e-4
            ));
            assert!(close(g.vega, (p(s, v + h, t, r) - p(s, v - h, t, r)) / (2.0 * h), 1e-5));
            assert!(close(g.theta, -(p(s, v, t + h, r) - p(s, v, t - h, r)) / (2.0 * h), 1e-5));
            assert!(close(g.rho, (p(s, v, t, r + h) - p(s, v, t, r - h)) / (2.0 * h), 1e-5));
            let b = black76_greeks(kind, s, k, v, t, r);
            let pb = |f: f64, r: f64| black76_price(kind, f, k, v, t, r);
            assert!(close(b.delta, (pb(s + h, r) - pb(s - h, r)) / (2.0 * h), 1e-6));
            assert!(close(b.rho, (pb(s, r + h) - pb(s, r - h)) / (2.0 * h), 1e-6));
        }
    }

    #[test]
    fn degenerate_inputs_give_intrinsic_value_not_nan() {
        let g = black76_greeks(Call, 110.0, 100.0, 0.0, 1.0, 0.05);
        assert!(close(g.price, 10.0 * (-0.05f64).exp(), 1e-12));
        let g = black76_greeks(Put, 110.0, 100.0, 0.3, 0.0, 0.05);
        assert_eq!(g.price, 0.0);
        assert!([g.delta, g.gamma, g.vega, g.theta, g.rho].iter().all(|x| x.is_finite()));
    }

    #[test]
    fn normal_cdf_against_statrs() {
        use statrs::distribution::{ContinuousCDF, Normal};
        let n = Normal::standard();
        for i in -80..=80 {
            let x = f64::from(i) / 8.0;
            let (a, b) = (norm_cdf(x), n.cdf(x));
            assert!((a - b).abs() <= 1e-15 + 1e-12 * b, "{x}: {a} vs {b}");
        }
    }

    proptest::proptest! {
        #[test]
        fn prices_stay_in_their_bounds_and_never_nan(
            f in 1e-3f64..1e6,
            moneyness in -3.0f64..3.0,
            vol in 0.0f64..5.0,
            t in 0.0f64..30.0,
            r in -0.1f64..0.3,
            q in -0.1f64..0.3,
        ) {
            let k = f * f64::exp(moneyness);
            for kind in [Call, Put] {
                let g = black76_greeks(kind, f, k, vol, t, r);
                let s = bsm_greeks(kind, f, k, vol, t, r, q);
                for x in [g.price, g.delta, g.gamma, g.vega, g.theta, g.rho, s.price, s.delta, s.gamma, s.vega, s.theta, s.rho] {
                    proptest::prop_assert!(x.is_finite());
                }
                let d = (-r * t).exp();
                let (intrinsic, upper) = match kind {
                    Call => ((f - k).max(0.0), f),
                    Put => ((k - f).max(0.0), k),
                };
                let slack = 1e-12 * (f + k);
                proptest::prop_assert!(g.price >= d * intrinsic - slack, "{} < {}", g.price, d * intrinsic);
                proptest::prop_assert!(g.price <= d * upper + slack);
                proptest::prop_assert!(g.gamma >= 0.0 && g.vega >= 0.0);
            }
        }

        #[test]
        fn implied_vol_reprices_or_refuses(
            f in 1.0f64..1e4,
            moneyness in -2.0f64..2.0,
            t in 1e-4f64..10.0,
            price_fraction in -0.1f64..1.1,
        ) {
            // Any price, including impossible ones: an error, or a volatility that
            // reproduces the price.
            let k = f * f64::exp(moneyness);
            let price = price_fraction * f;
            if let Ok(v) = crate::black76_implied_vol(Call, price, f, k, t, 0.0) {
                proptest::prop_assert!(v.is_finite() && v > 0.0);
                let back = black76_price(Call, f, k, v, t, 0.0);
                proptest::prop_assert!((back - price).abs() <= 1e-9 * f, "{back} vs {price}");
            }
        }
    }
}
