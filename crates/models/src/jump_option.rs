//! European options under Merton's (1976) jump-diffusion: a Poisson-weighted series of
//! Black-76 prices.
//!
//! Conditioned on n jumps before expiry, log S_T is normal with variance
//! vol^2 t + n jump_vol^2 and the conditional forward is
//! F_n = S e^{(r - q - lambda k) t + n (jump_mean + jump_vol^2 / 2)}, k = e^{jump_mean + jump_vol^2/2} - 1,
//! so the price is e^{-r t} sum_n P(N = n) Black(F_n, K, sigma_n). This is the same
//! model as the `Merton` price process (jumps compensated, log jump ~ N(jump_mean, jump_vol^2)).
//!
//! Greeks: delta, gamma, vega (with respect to the diffusion volatility) and rho are
//! sums of the terms' exact derivatives (the Poisson weights depend on neither spot,
//! volatility nor rate). Theta is a central finite difference in t (step 1e-5 years, or
//! t/4 when t is shorter), because the weights, the forwards and the variances all move
//! with t.
//!
//! The series runs over n within lambda t -/+ (12 sqrt(lambda t) + 25), outside which the
//! Poisson tails are below 1e-20; the weights are computed in logs, so a large lambda t does
//! not underflow.

use crate::options::{Greeks, OptionKind, black76_greeks};
use statrs::function::gamma::ln_gamma;

/// Jumps of the Merton model: `intensity` per year, log jump size normal with mean
/// `jump_mean` and standard deviation `jump_vol`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MertonJumps {
    pub intensity: f64,
    pub jump_mean: f64,
    pub jump_vol: f64,
}

impl MertonJumps {
    /// Haug's parameterization: total volatility `total_vol`, of whose variance the
    /// fraction `gamma` comes from jumps, and jumps whose mean price factor is 1. Returns
    /// the diffusion volatility and the jumps.
    pub fn from_haug(total_vol: f64, intensity: f64, gamma: f64) -> (f64, MertonJumps) {
        let jump_vol = total_vol * (gamma / intensity).sqrt();
        let diffusion = total_vol * (1.0 - gamma).sqrt();
        (diffusion, MertonJumps { intensity, jump_mean: -0.5 * jump_vol * jump_vol, jump_vol })
    }
}

#[allow(clippy::too_many_arguments)] // the Black-Scholes inputs plus the jumps, as in the literature
/// Price under Merton's jump-diffusion on `spot` with dividend yield `dividend`.
pub fn merton_price(
    kind: OptionKind,
    spot: f64,
    strike: f64,
    vol: f64,
    t_years: f64,
    rate: f64,
    dividend: f64,
    jumps: MertonJumps,
) -> f64 {
    series(kind, spot, strike, vol, t_years, rate, dividend, jumps).price
}

#[allow(clippy::too_many_arguments)]
/// Price and Greeks under Merton's jump-diffusion (see the module doc for how each Greek
/// is computed).
pub fn merton_greeks(
    kind: OptionKind,
    spot: f64,
    strike: f64,
    vol: f64,
    t_years: f64,
    rate: f64,
    dividend: f64,
    jumps: MertonJumps,
) -> Greeks {
    let mut g = series(kind, spot, strike, vol, t_years, rate, dividend, jumps);
    if t_years > 0.0 {
        let h = (t_years / 4.0).min(1e-5);
        let up = series(kind, spot, strike, vol, t_years + h, rate, dividend, jumps).price;
        let down = series(kind, spot, strike, vol, t_years - h, rate, dividend, jumps).price;
        g.theta = -(up - down) / (2.0 * h);
    }
    g
}

#[allow(clippy::too_many_arguments)]
fn series(
    kind: OptionKind,
    spot: f64,
    strike: f64,
    vol: f64,
    t_years: f64,
    rate: f64,
    dividend: f64,
    jumps: MertonJumps,
) -> Greeks {
    let t = t_years.max(0.0);
    let mean = jumps.intensity.max(0.0) * t;
    let log_jump_growth = jumps.jump_mean + 0.5 * jumps.jump_vol * jumps.jump_vol;
    let k = log_jump_growth.exp_m1();
    let base_forward = spot * ((rate - dividend - jumps.intensity.max(0.0) * k) * t).exp();
    let spread = 12.0 * mean.sqrt() + 25.0;
    let (first, last) = if mean > 0.0 {
        ((mean - spread).max(0.0) as u64, (mean + spread).ceil() as u64)
    } else {
        (0, 0)
    };
    let mut out = Greeks { price: 0.0, delta: 0.0, gamma: 0.0, vega: 0.0, theta: 0.0, rho: 0.0 };
    for n in first..=last {
        let nf = n as f64;
        let weight =
            if mean > 0.0 { (-mean + nf * mean.ln() - ln_gamma(nf + 1.0)).exp() } else { 1.0 };
        if weight < 1e-300 {
            continue;
        }
        let variance =
            vol * vol + if t > 0.0 { nf * jumps.jump_vol * jumps.jump_vol / t } else { 0.0 };
        let sigma_n = variance.sqrt();
        let forward = base_forward * (nf * log_jump_growth).exp();
        let b = black76_greeks(kind, forward, strike, sigma_n, t, rate);
        let dforward_dspot = forward / spot;
        out.price += weight * b.price;
        out.delta += weight * b.delta * dforward_dspot;
        out.gamma += weight * b.gamma * dforward_dspot * dforward_dspot;
        if sigma_n > 0.0 {
            out.vega += weight * b.vega * vol / sigma_n;
        }
        // The forward grows with r at fixed spot; Black-76's rho holds the forward fixed.
        out.rho += weight * (b.rho + b.delta * forward * t);
        out.theta += weight * b.theta;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::bsm_greeks;
    use OptionKind::*;

    #[test]
    fn haug_merton_table() {
        // Haug, The Complete Guide to Option Pricing Formulas, Merton (1976) jump-diffusion
        // table: S = 100, r = 8%, b = r, total vol 25%; (strike, t, lambda, gamma, call).
        // Rows where Haug's 11-term truncation had not converged are left out.
        let rows = [
            (80.0, 0.10, 1.0, 0.25, 20.67),
            (90.0, 0.25, 1.0, 0.25, 12.74),
            (100.0, 0.10, 1.0, 0.25, 3.42),
            (100.0, 0.25, 5.0, 0.25, 5.96),
            (110.0, 0.50, 1.0, 0.25, 4.67),
            (120.0, 0.25, 10.0, 0.25, 0.62),
            (100.0, 0.10, 1.0, 0.75, 2.70),
            (100.0, 0.50, 1.0, 0.75, 8.24),
            (110.0, 0.25, 1.0, 0.50, 1.93),
            (120.0, 0.25, 5.0, 0.75, 0.71),
        ];
        for (strike, t, lambda, gamma, expected) in rows {
            let (vol, jumps) = MertonJumps::from_haug(0.25, lambda, gamma);
            let c = merton_price(Call, 100.0, strike, vol, t, 0.08, 0.0, jumps);
            assert!(
                (c - expected).abs() <= 0.005 + 1e-9,
                "K={strike} t={t} l={lambda} g={gamma}: {c}"
            );
        }
    }

    #[test]
    fn no_jumps_is_black_scholes_and_parity_holds() {
        let none = MertonJumps { intensity: 0.0, jump_mean: -0.1, jump_vol: 0.2 };
        let a = merton_greeks(Put, 100.0, 90.0, 0.3, 0.7, 0.03, 0.01, none);
        let b = bsm_greeks(Put, 100.0, 90.0, 0.3, 0.7, 0.03, 0.01);
        for (x, y) in [
            (a.price, b.price),
            (a.delta, b.delta),
            (a.gamma, b.gamma),
            (a.vega, b.vega),
            (a.rho, b.rho),
        ] {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        assert!((a.theta - b.theta).abs() < 1e-5);
        let jumps = MertonJumps { intensity: 3.0, jump_mean: -0.08, jump_vol: 0.15 };
        let c = merton_price(Call, 100.0, 90.0, 0.3, 0.7, 0.03, 0.01, jumps);
        let p = merton_price(Put, 100.0, 90.0, 0.3, 0.7, 0.03, 0.01, jumps);
        let parity = 100.0 * (-0.01f64 * 0.7).exp() - 90.0 * (-0.03f64 * 0.7).exp();
        assert!((c - p - parity).abs() < 1e-10);
    }

    #[test]
    fn greeks_match_finite_differences() {
        let jumps = MertonJumps { intensity: 2.0, jump_mean: -0.1, jump_vol: 0.2 };
        let (s, k, v, t, r, q) = (100.0, 105.0, 0.35, 0.6, 0.04, 0.02);
        for kind in [Call, Put] {
            let g = merton_greeks(kind, s, k, v, t, r, q, jumps);
            let p = |s: f64, v: f64, r: f64| merton_price(kind, s, k, v, t, r, q, jumps);
            let h = 1e-4;
            assert!((g.delta - (p(s + h, v, r) - p(s - h, v, r)) / (2.0 * h)).abs() < 1e-6);
            let fd_gamma = (p(s + h, v, r) - 2.0 * p(s, v, r) + p(s - h, v, r)) / (h * h);
            assert!((g.gamma - fd_gamma).abs() < 1e-4);
            assert!((g.vega - (p(s, v + h, r) - p(s, v - h, r)) / (2.0 * h)).abs() < 1e-5);
            assert!((g.rho - (p(s, v, r + h) - p(s, v, r - h)) / (2.0 * h)).abs() < 1e-5);
            let pt = |t: f64| merton_price(kind, s, k, v, t, r, q, jumps);
            assert!((g.theta + (pt(t + 1e-3) - pt(t - 1e-3)) / 2e-3).abs() < 1e-3, "{}", g.theta);
        }
    }

    #[test]
    fn huge_intensity_does_not_underflow() {
        let jumps = MertonJumps { intensity: 5000.0, jump_mean: 0.0, jump_vol: 0.005 };
        let g = merton_greeks(Call, 100.0, 100.0, 0.2, 1.0, 0.0, 0.0, jumps);
        // Many small jumps act like extra diffusion: variance 0.04 + 5000 x 0.005^2 = 0.165.
        let bs = bsm_greeks(Call, 100.0, 100.0, 0.165f64.sqrt(), 1.0, 0.0, 0.0);
        assert!((g.price - bs.price).abs() < 0.05, "{} vs {}", g.price, bs.price);
        assert!([g.price, g.delta, g.gamma, g.vega, g.theta, g.rho].iter().all(|x| x.is_finite()));
    }

    #[test]
    fn series_price_matches_monte_carlo_of_the_merton_process() {
        // The option formula and the price process are the same model: simulate S_T
        // exactly in one step under the risk-neutral drift r - q and average the payoff.
        use crate::process::{ProcessSpec, RateUnit, build};
        use liqsim_core::{SimDuration, SimTime, StreamId};
        let (s0, k, vol, r, q) = (100.0, 95.0, 0.4, 0.03, 0.01);
        let jumps = MertonJumps { intensity: 4.0, jump_mean: -0.1, jump_vol: 0.15 };
        let dt = SimDuration::from_secs(7_889_400); // 0.25 of a 365.25-day year
        let t = dt.as_years_f64();
        let spec = ProcessSpec::Merton {
            vol,
            drift: r - q,
            jump_intensity: jumps.intensity,
            jump_mean: jumps.jump_mean,
            jump_vol: jumps.jump_vol,
        };
        let mut p = build(&spec, RateUnit::PerYear);
        let mut rng = StreamId::named("merton-mc").rng(17);
        let n = 200_000;
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for _ in 0..n {
            let payoff = (k - s0 * p.step(SimTime::START, dt, 1.0, &mut rng).exp()).max(0.0);
            sum += payoff;
            sum_sq += payoff * payoff;
        }
        let mean = sum / n as f64;
        let se = ((sum_sq / n as f64 - mean * mean) / n as f64).sqrt();
        let mc = (-r * t).exp() * mean;
        let exact = merton_price(Put, s0, k, vol, t, r, q, jumps);
        assert!((mc - exact).abs() < 5.0 * se, "mc {mc} vs series {exact} (se {se})");
    }
}
