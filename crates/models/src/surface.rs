//! A volatility surface: per expiry a raw-SVI smile in log-moneyness, its level moved by
//! the current volatility state.
//!
//! Each slice gives the total implied variance at log-moneyness k = ln(K / F):
//! w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)) (Gatheral's raw SVI).
//! Slices are given at a reference volatility (the volatility of the price process when
//! the surface was calibrated); asked at a current volatility `v_now` (the process's
//! [`crate::PriceProcess::volatility`] times the scheduled shocks' multiplier), every total
//! variance is scaled by (v_now / reference)^2, so a volatility shock lifts the whole
//! surface while keeping the smile's shape.
//!
//! Between slices the total variance is interpolated linearly in t at fixed k (which
//! keeps it increasing in t when the slices are, so no calendar arbitrage is added);
//! before the first slice the first slice's implied volatility is used, after the last
//! the last one's.
//!
//! Validation: b >= 0, |rho| < 1, sigma > 0, a minimum total variance
//! a + b sigma sqrt(1 - rho^2) >= 0, Roger Lee's wing bound b (1 + |rho|) <= 4, strictly
//! increasing expiries. [`PUT_SKEW`] is the shape of the kernel's option chains. Known limitation: butterfly arbitrage inside a slice is not
//! checked beyond the wing bound.

use liqsim_core::{Error, InputError, Result};

/// Nanoseconds in the year option expiries are measured in (365.25 days).
pub const OPTION_YEAR_NANOS: f64 = 365.25 * 86_400e9;

/// The smile shape of a simulated option chain, the same at every expiry but for its
/// wing slope, which grows with the square root of time: put skew as crypto option
/// markets show it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmileShape {
    /// Wing slope per square root of a year.
    pub b_per_sqrt_year: f64,
    pub rho: f64,
    pub sigma: f64,
    /// The at-the-money volatility a chain's smile is built at is at least this.
    pub min_vol: f64,
}

/// The kernel's option chains' smile (and validation's check of it).
pub const PUT_SKEW: SmileShape =
    SmileShape { b_per_sqrt_year: 0.08, rho: -0.35, sigma: 0.15, min_vol: 0.05 };

impl SmileShape {
    /// The slice of an expiry `t_years` away at at-the-money volatility `atm_vol`.
    pub fn slice(&self, t_years: f64, atm_vol: f64) -> SviSlice {
        SviSlice::from_atm(
            t_years,
            atm_vol,
            self.b_per_sqrt_year * t_years.sqrt(),
            self.rho,
            self.sigma,
        )
    }
}

/// One expiry's raw-SVI parameters (total variance, at the surface's reference volatility).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SviSlice {
    pub t_years: f64,
    pub a: f64,
    pub b: f64,
    pub rho: f64,
    pub m: f64,
    pub sigma: f64,
}

impl SviSlice {
    /// A smile whose at-the-money implied volatility is `atm_vol`, with `skew` (rho) and
    /// wing slope `b`, centred at the money with curvature scale `sigma`.
    pub fn from_atm(t_years: f64, atm_vol: f64, b: f64, rho: f64, sigma: f64) -> SviSlice {
        let atm_variance = atm_vol * atm_vol * t_years;
        SviSlice { t_years, a: atm_variance - b * sigma, b, rho, m: 0.0, sigma }
    }

    /// Total implied variance at log-moneyness `k`.
    pub fn total_variance(&self, k: f64) -> f64 {
        let x = k - self.m;
        (self.a + self.b * (self.rho * x + (x * x + self.sigma * self.sigma).sqrt())).max(0.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VolSurface {
    slices: Vec<SviSlice>,
    reference_vol: f64,
}

impl VolSurface {
    pub fn new(slices: Vec<SviSlice>, reference_vol: f64) -> Result<VolSurface> {
        let bad = |i: usize, key: &str, why: String, expected: &str| -> Error {
            InputError::new(format!("slice {i}: {why}")).key(key).expected(expected).into()
        };
        if !(reference_vol.is_finite() && reference_vol > 0.0) {
            return Err(InputError::new(format!("reference volatility {reference_vol}"))
                .key("reference_vol")
                .expected("a finite number > 0")
                .into());
        }
        if slices.is_empty() {
            return Err(InputError::new("a surface needs at least one expiry").into());
        }
        for (i, s) in slices.iter().enumerate() {
            let finite = [s.t_years, s.a, s.b, s.rho, s.m, s.sigma].iter().all(|x| x.is_finite());
            if !finite {
                return Err(bad(i, "slice", "parameters must be finite".into(), "finite numbers"));
            }
            if s.t_years <= 0.0 {
                return Err(bad(i, "t", format!("expiry {}", s.t_years), "> 0 years"));
            }
            if i > 0 && s.t_years <= slices[i - 1].t_years {
                return Err(bad(i, "t", "expiries must increase".into(), "strictly increasing"));
            }
            if s.b < 0.0 {
                return Err(bad(i, "b", format!("b = {}", s.b), ">= 0"));
            }
            if s.rho.abs() >= 1.0 {
                return Err(bad(i, "rho", format!("rho = {}", s.rho), "-1 < rho < 1"));
            }
            if s.sigma <= 0.0 {
                return Err(bad(i, "sigma", format!("sigma = {}", s.sigma), "> 0"));
            }
            if s.a + s.b * s.sigma * (1.0 - s.rho * s.rho).sqrt() < 0.0 {
                return Err(bad(
                    i,
                    "a",
                    "the minimum total variance is negative".into(),
                    "a + b sigma sqrt(1 - rho^2) >= 0",
                ));
            }
            if s.b * (1.0 + s.rho.abs()) > 4.0 {
                return Err(bad(
                    i,
                    "b",
                    "the wings are steeper than Lee's bound".into(),
                    "b (1 + |rho|) <= 4",
                ));
            }
        }
        Ok(VolSurface { slices, reference_vol })
    }

    pub fn slices(&self) -> &[SviSlice] {
        &self.slices
    }

    /// Total implied variance at log-moneyness `k` and expiry `t_years`, at the reference
    /// volatility.
    pub fn total_variance(&self, k: f64, t_years: f64) -> f64 {
        let first = self.slices[0];
        let last = self.slices[self.slices.len() - 1];
        if t_years <= first.t_years {
            return first.total_variance(k) * t_years.max(0.0) / first.t_years;
        }
        if t_years >= last.t_years {
            return last.total_variance(k) * t_years / last.t_years;
        }
        let i = self.slices.partition_point(|s| s.t_years <= t_years);
        let (lo, hi) = (self.slices[i - 1], self.slices[i]);
        let f = (t_years - lo.t_years) / (hi.t_years - lo.t_years);
        lo.total_variance(k) * (1.0 - f) + hi.total_variance(k) * f
    }

    /// Implied volatility for strike `strike` on `forward` at expiry `t_years` when the
    /// market's current volatility is `current_vol` (annualized).
    pub fn implied_vol(&self, forward: f64, strike: f64, t_years: f64, current_vol: f64) -> f64 {
        let t = t_years.max(1e-12);
        let k = (strike / forward).ln();
        let scale = (current_vol / self.reference_vol).max(0.0);
        (self.total_variance(k, t) / t).sqrt() * scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface() -> VolSurface {
        VolSurface::new(
            vec![
                SviSlice::from_atm(7.0 / 365.0, 0.7, 0.1, -0.4, 0.1),
                SviSlice::from_atm(30.0 / 365.0, 0.6, 0.2, -0.3, 0.2),
                SviSlice::from_atm(0.5, 0.55, 0.3, -0.2, 0.3),
            ],
            0.6,
        )
        .unwrap()
    }

    #[test]
    fn atm_level_skew_and_scaling_with_the_volatility_state() {
        let s = surface();
        let t = 30.0 / 365.0;
        assert!((s.implied_vol(100.0, 100.0, t, 0.6) - 0.6).abs() < 1e-12);
        // Negative rho: puts (low strikes) carry more volatility than calls.
        assert!(s.implied_vol(100.0, 80.0, t, 0.6) > s.implied_vol(100.0, 120.0, t, 0.6));
        // A doubled volatility state doubles every implied volatility.
        for strike in [50.0, 90.0, 100.0, 150.0] {
            let a = s.implied_vol(100.0, strike, 0.2, 0.6);
            let b = s.implied_vol(100.0, strike, 0.2, 1.2);
            assert!((b - 2.0 * a).abs() < 1e-12);
        }
    }

    #[test]
    fn total_variance_interpolates_between_slices() {
        let s = surface();
        let (t0, t1) = (30.0 / 365.0, 0.5);
        let mid = 0.5 * (t0 + t1);
        let w = s.total_variance(0.1, mid);
        let expected =
            0.5 * (s.slices()[1].total_variance(0.1) + s.slices()[2].total_variance(0.1));
        assert!((w - expected).abs() < 1e-15);
        // Flat implied volatility past the ends.
        assert!(
            (s.implied_vol(100.0, 110.0, 2.0, 0.6) - s.implied_vol(100.0, 110.0, 0.5, 0.6)).abs()
                < 1e-12
        );
    }

    #[test]
    fn invalid_slices_are_rejected() {
        let ok = SviSlice::from_atm(0.1, 0.5, 0.2, -0.3, 0.2);
        assert!(VolSurface::new(vec![SviSlice { rho: 1.0, ..ok }], 0.5).is_err());
        assert!(VolSurface::new(vec![SviSlice { b: -0.1, ..ok }], 0.5).is_err());
        assert!(VolSurface::new(vec![SviSlice { a: -1.0, ..ok }], 0.5).is_err());
        assert!(VolSurface::new(vec![SviSlice { b: 3.5, ..ok }], 0.5).is_err());
        assert!(VolSurface::new(vec![ok, ok], 0.5).is_err());
        assert!(VolSurface::new(vec![ok], 0.0).is_err());
        assert!(VolSurface::new(vec![], 0.5).is_err());
    }
}
