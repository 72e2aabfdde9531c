//! Price processes in log price.
//!
//! Every process advances by [`PriceProcess::step`] over any interval, draws only from
//! the stream it is given, and returns the log return of the interval. Rates are per
//! [`RateUnit`]: `PerYear` (volatility 0.6 is 60% a year) or `PerDay` (volatility 0.03 is
//! 3% a day); a year is 365.25 days. `vol_scale` multiplies the diffusion volatility
//! (scheduled volatility shocks); jumps are not scaled.
//!
//! - GBM: exact: r = (mu - s^2 sigma^2 / 2) dt + s sigma sqrt(dt) Z.
//! - Merton: exact over a step: N ~ Poisson(lambda dt) jumps, their sum
//!   N m + delta sqrt(N) Z', drift compensated by lambda k, k = e^{m + delta^2/2} - 1,
//!   so E[S_t] = S_0 e^{mu t}.
//! - Kou: double-exponential jumps (up with probability p, sizes Exp(eta_up) and
//!   Exp(eta_down)), compensated by k = p eta_up/(eta_up - 1) + (1 - p) eta_down/(eta_down + 1) - 1.
//! - SVCJ (Eraker, Johannes and Polson 2003): d log S = (mu - v/2) dt + sqrt(v) dW1 + J_y dN,
//!   dv = kappa (theta - v) dt + sigma_v sqrt(v) dW2 + J_v dN, corr(dW1, dW2) = rho,
//!   J_v ~ Exp(mean jump_var_mean), J_y | J_v ~ N(jump_mean + jump_corr J_v, jump_vol^2).
//!   Euler with full truncation (v+ = max(v, 0) in drift and diffusion), so the variance
//!   used is never negative. Known limitation: Euler bias on coarse steps with large
//!   sigma_v; use steps of a minute or less for crash scenarios.
//! - GARCH(1,1)-t: a discrete-time model whose period is the step:
//!   sigma_t^2 = omega + alpha eps_{t-1}^2 + beta sigma_{t-1}^2, eps_t = sigma_t z_t with z_t
//!   Student-t scaled to unit variance. `omega` is a per-step variance (the unit does not
//!   apply to it); `drift` is per unit like the other processes'. `volatility()` annualizes
//!   the current per-step variance by the last step's length.
//!
//! Units, with both accepted: build with [`RateUnit::PerYear`] for annual figures (vol 0.8,
//! jump intensity 50 a year, SVCJ theta 0.64 a year) or [`RateUnit::PerDay`] for daily ones
//! (vol 0.042, 0.137 jumps a day, theta 0.00175 a day); a path is the same either way.
//!
//! Jump counts use an inverse-transform Poisson sampler written here: with lambda dt far
//! below 1 on every step and e^-lambda dt cached per step length, it costs one uniform per
//! step where statrs' sampler costs several; it is tested against statrs' pmf, and means
//! above 30 go to statrs. Exponential and normal draws are statrs' ziggurat samplers.

use liqsim_core::{InputError, Result, RngStream, SimDuration, SimTime};
use rand::RngExt;
use rand::distr::Distribution;
use statrs::distribution::{Exp, Normal, StudentsT};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    PerYear,
    PerDay,
}

impl RateUnit {
    /// Length of one unit in years.
    pub fn years(self) -> f64 {
        match self {
            RateUnit::PerYear => 1.0,
            RateUnit::PerDay => 1.0 / 365.25,
        }
    }
}

/// Validated parameters of a process, in its unit.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessSpec {
    Gbm {
        vol: f64,
        drift: f64,
    },
    Merton {
        vol: f64,
        drift: f64,
        jump_intensity: f64,
        jump_mean: f64,
        jump_vol: f64,
    },
    Kou {
        vol: f64,
        drift: f64,
        jump_intensity: f64,
        p_up: f64,
        eta_up: f64,
        eta_down: f64,
    },
    Svcj {
        drift: f64,
        kappa: f64,
        theta: f64,
        sigma_v: f64,
        rho: f64,
        v0: f64,
        jump_intensity: f64,
        jump_mean: f64,
        jump_vol: f64,
        jump_var_mean: f64,
        jump_corr: f64,
    },
    GarchT {
        omega: f64,
        alpha: f64,
        beta: f64,
        nu: f64,
        drift: f64,
    },
}

pub trait PriceProcess: std::fmt::Debug + Send {
    /// Log return over [now, now + dt].
    fn step(&mut self, now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64;
    /// Current diffusion volatility, annualized, before shocks.
    fn volatility(&self) -> f64;
}

/// A boxed process is a process, so wrappers such as [`crate::Shocked`] take either.
impl<P: PriceProcess + ?Sized> PriceProcess for Box<P> {
    fn step(&mut self, now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        (**self).step(now, dt, vol_scale, rng)
    }

    fn volatility(&self) -> f64 {
        (**self).volatility()
    }
}

impl ProcessSpec {
    /// Checks the parameters (in their unit) against what the step needs: an error names
    /// the parameter and the valid range. The scenario crate checks the same ranges with
    /// file positions; this is the guard for callers that build specs in code.
    pub fn validate(&self) -> Result<()> {
        fn check(name: &str, v: f64, ok: bool, expected: &str) -> Result<()> {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(InputError::new(format!("{name} = {v} is out of range"))
                    .key(name)
                    .expected(expected)
                    .into())
            }
        }
        match *self {
            ProcessSpec::Gbm { vol, drift } => {
                check("vol", vol, vol >= 0.0, ">= 0")?;
                check("drift", drift, true, "finite")
            }
            ProcessSpec::Merton { vol, drift, jump_intensity, jump_mean, jump_vol } => {
                check("vol", vol, vol >= 0.0, ">= 0")?;
                check("drift", drift, true, "finite")?;
                check("jump_intensity", jump_intensity, jump_intensity >= 0.0, ">= 0")?;
                check("jump_mean", jump_mean, jump_mean.abs() <= 5.0, "[-5, 5]")?;
                check("jump_vol", jump_vol, (0.0..=5.0).contains(&jump_vol), "[0, 5]")
            }
            ProcessSpec::Kou { vol, drift, jump_intensity, p_up, eta_up, eta_down } => {
                check("vol", vol, vol >= 0.0, ">= 0")?;
                check("drift", drift, true, "finite")?;
                check("jump_intensity", jump_intensity, jump_intensity >= 0.0, ">= 0")?;
                check("p_up", p_up, (0.0..=1.0).contains(&p_up), "[0, 1]")?;
                // eta_up > 1 keeps E[e^J] finite, which the drift compensator needs.
                check("eta_up", eta_up, eta_up > 1.0, "> 1")?;
                check("eta_down", eta_down, eta_down > 0.0, "> 0")
            }
            ProcessSpec::Svcj {
                drift,
                kappa,
                theta,
                sigma_v,
                rho,
                v0,
                jump_intensity,
                jump_mean,
                jump_vol,
                jump_var_mean,
                jump_corr,
            } => {
                check("drift", drift, true, "finite")?;
                check("kappa", kappa, kappa >= 0.0, ">= 0")?;
                check("theta", theta, theta >= 0.0, ">= 0")?;
                check("sigma_v", sigma_v, sigma_v >= 0.0, ">= 0")?;
                check("rho", rho, rho.abs() <= 1.0, "[-1, 1]")?;
                check("v0", v0, v0 >= 0.0, ">= 0")?;
                check("jump_intensity", jump_intensity, jump_intensity >= 0.0, ">= 0")?;
                check("jump_mean", jump_mean, jump_mean.abs() <= 5.0, "[-5, 5]")?;
                check("jump_vol", jump_vol, (0.0..=5.0).contains(&jump_vol), "[0, 5]")?;
                check("jump_var_mean", jump_var_mean, jump_var_mean >= 0.0, ">= 0")?;
                check("jump_corr", jump_corr, true, "finite")
            }
            ProcessSpec::GarchT { omega, alpha, beta, nu, drift } => {
                check("omega", omega, omega > 0.0, "> 0")?;
                check("alpha", alpha, alpha >= 0.0, ">= 0")?;
                check("beta", beta, beta >= 0.0, ">= 0")?;
                check("beta", alpha + beta, alpha + beta < 1.0, "alpha + beta < 1")?;
                // nu > 2 for a finite variance, which the unit-variance scaling needs.
                check("nu", nu, nu > 2.0, "> 2")?;
                check("drift", drift, true, "finite")
            }
        }
    }

    /// The same process with its parameters restated from `from` units to `to` units:
    /// rates (drift, intensities, kappa, variances theta and v0, sigma_v, the variance
    /// jump mean) scale by c = to/from, volatilities by sqrt(c), and jump_corr (log price
    /// per unit of variance) by 1/c; jump sizes in log price and GARCH's per-step omega do
    /// not change. Both give the same path from the same stream.
    pub fn converted(&self, from: RateUnit, to: RateUnit) -> ProcessSpec {
        let c = to.years() / from.years();
        let root = c.sqrt();
        match *self {
            ProcessSpec::Gbm { vol, drift } => {
                ProcessSpec::Gbm { vol: vol * root, drift: drift * c }
            }
            ProcessSpec::Merton { vol, drift, jump_intensity, jump_mean, jump_vol } => {
                ProcessSpec::Merton {
                    vol: vol * root,
                    drift: drift * c,
                    jump_intensity: jump_intensity * c,
                    jump_mean,
                    jump_vol,
                }
            }
            ProcessSpec::Kou { vol, drift, jump_intensity, p_up, eta_up, eta_down } => {
                ProcessSpec::Kou {
                    vol: vol * root,
                    drift: drift * c,
                    jump_intensity: jump_intensity * c,
                    p_up,
                    eta_up,
                    eta_down,
                }
            }
            ProcessSpec::Svcj {
                drift,
                kappa,
                theta,
                sigma_v,
                rho,
                v0,
                jump_intensity,
                jump_mean,
                jump_vol,
                jump_var_mean,
                jump_corr,
            } => ProcessSpec::Svcj {
                drift: drift * c,
                kappa: kappa * c,
                theta: theta * c,
                sigma_v: sigma_v * c,
                rho,
                v0: v0 * c,
                jump_intensity: jump_intensity * c,
                jump_mean,
                jump_vol,
                jump_var_mean: jump_var_mean * c,
                jump_corr: jump_corr / c,
            },
            ProcessSpec::GarchT { omega, alpha, beta, nu, drift } => {
                ProcessSpec::GarchT { omega, alpha, beta, nu, drift: drift * c }
            }
        }
    }

    /// [`build`] after [`ProcessSpec::validate`].
    pub fn build_checked(&self, unit: RateUnit) -> Result<Box<dyn PriceProcess>> {
        self.validate()?;
        Ok(build(self, unit))
    }
}

/// Builds the process for `spec` with rates in `unit`. The spec is trusted (see
/// [`ProcessSpec::validate`]); out-of-range parameters give meaningless paths, not panics.
pub fn build(spec: &ProcessSpec, unit: RateUnit) -> Box<dyn PriceProcess> {
    let unit_years = unit.years();
    match *spec {
        ProcessSpec::Gbm { vol, drift } => {
            Box::new(JumpDiffusion::new(unit_years, vol, drift, Jumps::None))
        }
        ProcessSpec::Merton { vol, drift, jump_intensity, jump_mean, jump_vol } => {
            Box::new(JumpDiffusion::new(
                unit_years,
                vol,
                drift,
                Jumps::Normal { intensity: jump_intensity, mean: jump_mean, vol: jump_vol },
            ))
        }
        ProcessSpec::Kou { vol, drift, jump_intensity, p_up, eta_up, eta_down } => {
            Box::new(JumpDiffusion::new(
                unit_years,
                vol,
                drift,
                Jumps::DoubleExponential { intensity: jump_intensity, p_up, eta_up, eta_down },
            ))
        }
        ProcessSpec::Svcj { .. } => match Svcj::from_spec(spec, unit_years) {
            Some(p) => Box::new(p),
            None => Box::new(JumpDiffusion::new(unit_years, 0.0, 0.0, Jumps::None)),
        },
        ProcessSpec::GarchT { omega, alpha, beta, nu, drift } => {
            let persistence = (alpha + beta).min(1.0 - 1e-9);
            Box::new(GarchT {
                unit_years,
                omega,
                alpha,
                beta,
                drift,
                t_scale: ((nu - 2.0) / nu).max(0.0).sqrt(),
                innovations: StudentsT::new(0.0, 1.0, nu).ok(),
                variance: omega / (1.0 - persistence),
                last_shock: 0.0,
                last_dt_years: 1.0 / 86_400.0 / 365.25,
            })
        }
    }
}

#[inline]
fn standard_normal(rng: &mut RngStream) -> f64 {
    Normal::standard().sample(rng)
}

/// Exp(1) through statrs' ziggurat sampler.
#[inline]
fn standard_exponential(rng: &mut RngStream) -> f64 {
    Exp::new(1.0).map(|e| e.sample(rng)).unwrap_or(0.0)
}

/// Number of events of a Poisson variable with mean `mean`, by inverse transform.
pub fn poisson(mean: f64, rng: &mut RngStream) -> u64 {
    poisson_with_zero_mass(mean, (-mean).exp(), rng)
}

/// Above this mean the inverse transform walks too many terms (and e^-mean underflows
/// past 745): statrs' sampler takes over.
const POISSON_INVERSE_MAX_MEAN: f64 = 30.0;

/// [`poisson`] with P(N = 0) = e^-mean given, so a process stepping on a fixed interval
/// computes the exponential once.
#[inline]
fn poisson_with_zero_mass(mean: f64, zero_mass: f64, rng: &mut RngStream) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > POISSON_INVERSE_MAX_MEAN {
        let draw = statrs::distribution::Poisson::new(mean).map(|d| -> f64 { d.sample(rng) });
        // The count is a non-negative integer held in an f64; validated means stay far
        // below 2^53.
        return draw.map(|n| n as u64).unwrap_or(0);
    }
    let u: f64 = rng.random();
    let mut p = zero_mass;
    let mut cumulative = p;
    let mut k = 0u64;
    // With mean <= 30 the mass past 1000 terms is far below f64 resolution.
    while u > cumulative && k < 1000 {
        k += 1;
        p *= mean / k as f64;
        cumulative += p;
    }
    k
}

/// Quantities that depend only on the step length, recomputed when it changes (the
/// simulation steps on a fixed interval, so in steady state never).
#[derive(Debug, Clone, Copy)]
struct StepCache {
    dt_nanos: u64,
    /// Step in the process's rate unit.
    dt: f64,
    sqrt_dt: f64,
    jump_mean_count: f64,
    zero_jump_mass: f64,
}

impl StepCache {
    fn empty() -> StepCache {
        StepCache {
            dt_nanos: u64::MAX,
            dt: 0.0,
            sqrt_dt: 0.0,
            jump_mean_count: 0.0,
            zero_jump_mass: 1.0,
        }
    }

    #[inline]
    fn update(&mut self, dt: SimDuration, unit_years: f64, intensity: f64) {
        if dt.nanos() != self.dt_nanos {
            self.dt_nanos = dt.nanos();
            self.dt = dt.as_years_f64() / unit_years;
            self.sqrt_dt = self.dt.sqrt();
            self.jump_mean_count = intensity * self.dt;
            self.zero_jump_mass = (-self.jump_mean_count).exp();
        }
    }

    #[inline]
    fn jumps(&self, rng: &mut RngStream) -> u64 {
        poisson_with_zero_mass(self.jump_mean_count, self.zero_jump_mass, rng)
    }
}

#[derive(Debug, Clone, Copy)]
enum Jumps {
    None,
    Normal { intensity: f64, mean: f64, vol: f64 },
    DoubleExponential { intensity: f64, p_up: f64, eta_up: f64, eta_down: f64 },
}

impl Jumps {
    /// The jump intensity and k = E[e^J] - 1.
    fn compensator(self) -> (f64, f64) {
        match self {
            Jumps::None => (0.0, 0.0),
            Jumps::Normal { intensity, mean, vol } => {
                (intensity, (mean + 0.5 * vol * vol).exp() - 1.0)
            }
            Jumps::DoubleExponential { intensity, p_up, eta_up, eta_down } => (
                intensity,
                p_up * eta_up / (eta_up - 1.0) + (1.0 - p_up) * eta_down / (eta_down + 1.0) - 1.0,
            ),
        }
    }
}

#[derive(Debug, Clone)]
struct JumpDiffusion {
    unit_years: f64,
    vol: f64,
    drift: f64,
    jumps: Jumps,
    intensity: f64,
    /// E[e^J] - 1: the drift gives up intensity x k so that E[S_t] = S_0 e^{drift t}.
    k: f64,
    cache: StepCache,
}

impl JumpDiffusion {
    fn new(unit_years: f64, vol: f64, drift: f64, jumps: Jumps) -> JumpDiffusion {
        let (intensity, k) = jumps.compensator();
        JumpDiffusion { unit_years, vol, drift, jumps, intensity, k, cache: StepCache::empty() }
    }
}

impl PriceProcess for JumpDiffusion {
    fn step(&mut self, _now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        self.cache.update(dt, self.unit_years, self.intensity);
        let StepCache { dt, sqrt_dt, .. } = self.cache;
        let sigma = self.vol * vol_scale;
        let mut r = (self.drift - 0.5 * sigma * sigma - self.intensity * self.k) * dt
            + sigma * sqrt_dt * standard_normal(rng);
        match self.jumps {
            Jumps::None => {}
            Jumps::Normal { mean, vol, .. } => {
                let n = self.cache.jumps(rng);
                if n > 0 {
                    let n = n as f64;
                    r += n * mean + vol * n.sqrt() * standard_normal(rng);
                }
            }
            Jumps::DoubleExponential { p_up, eta_up, eta_down, .. } => {
                for _ in 0..self.cache.jumps(rng) {
                    let u: f64 = rng.random();
                    let e = standard_exponential(rng);
                    r += if u < p_up { e / eta_up } else { -e / eta_down };
                }
            }
        }
        r
    }

    fn volatility(&self) -> f64 {
        self.vol / self.unit_years.sqrt()
    }
}

#[derive(Debug, Clone)]
struct Svcj {
    unit_years: f64,
    drift: f64,
    kappa: f64,
    theta: f64,
    sigma_v: f64,
    rho: f64,
    /// sqrt(1 - rho^2), for the second, correlated normal.
    rho_complement: f64,
    v: f64,
    intensity: f64,
    jump_mean: f64,
    jump_vol: f64,
    jump_var_mean: f64,
    jump_corr: f64,
    cache: StepCache,
}

impl Svcj {
    /// The SVCJ process of `spec`, or None when `spec` is another model.
    fn from_spec(spec: &ProcessSpec, unit_years: f64) -> Option<Svcj> {
        let ProcessSpec::Svcj {
            drift,
            kappa,
            theta,
            sigma_v,
            rho,
            v0,
            jump_intensity,
            jump_mean,
            jump_vol,
            jump_var_mean,
            jump_corr,
        } = *spec
        else {
            return None;
        };
        Some(Svcj {
            unit_years,
            drift,
            kappa,
            theta,
            sigma_v,
            rho,
            rho_complement: (1.0 - rho * rho).max(0.0).sqrt(),
            v: v0,
            intensity: jump_intensity,
            jump_mean,
            jump_vol,
            jump_var_mean,
            jump_corr,
            cache: StepCache::empty(),
        })
    }
}

impl PriceProcess for Svcj {
    fn step(&mut self, _now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        self.cache.update(dt, self.unit_years, self.intensity);
        let StepCache { dt, sqrt_dt, .. } = self.cache;
        // Full truncation: the variance used in drift and diffusion is max(v, 0), while v
        // itself may dip below zero and come back through the mean reversion.
        let v = self.v.max(0.0);
        let sqrt_v = v.sqrt();
        let z1 = standard_normal(rng);
        let z2 = self.rho * z1 + self.rho_complement * standard_normal(rng);
        let scaled_v = v * vol_scale * vol_scale;
        let mut r = (self.drift - 0.5 * scaled_v) * dt + sqrt_v * vol_scale * sqrt_dt * z1;
        let mut next_v =
            self.v + self.kappa * (self.theta - v) * dt + self.sigma_v * sqrt_v * sqrt_dt * z2;
        for _ in 0..self.cache.jumps(rng) {
            let jump_v = self.jump_var_mean * standard_exponential(rng);
            next_v += jump_v;
            r += self.jump_mean + self.jump_corr * jump_v + self.jump_vol * standard_normal(rng);
        }
        self.v = next_v;
        r
    }

    fn volatility(&self) -> f64 {
        (self.v.max(0.0) / self.unit_years).sqrt()
    }
}

#[derive(Debug, Clone)]
struct GarchT {
    unit_years: f64,
    omega: f64,
    alpha: f64,
    beta: f64,
    drift: f64,
    /// sqrt((nu - 2) / nu): scales a standard Student-t to unit variance.
    t_scale: f64,
    /// None only for an unvalidated nu; the step then draws normal innovations.
    innovations: Option<StudentsT>,
    variance: f64,
    last_shock: f64,
    last_dt_years: f64,
}

impl PriceProcess for GarchT {
    fn step(&mut self, _now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        self.variance =
            self.omega + self.alpha * self.last_shock * self.last_shock + self.beta * self.variance;
        let z = match &self.innovations {
            Some(t) => t.sample(rng) * self.t_scale,
            None => standard_normal(rng),
        };
        let shock = self.variance.sqrt() * z;
        self.last_shock = shock;
        self.last_dt_years = dt.as_years_f64();
        self.drift * self.last_dt_years / self.unit_years
            - 0.5 * self.variance * vol_scale * vol_scale
            + shock * vol_scale
    }

    fn volatility(&self) -> f64 {
        (self.variance / self.last_dt_years).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_core::StreamId;

    fn returns(spec: &ProcessSpec, unit: RateUnit, dt: SimDuration, n: usize) -> Vec<f64> {
        let mut p = build(spec, unit);
        let mut rng = StreamId::named("test").rng(42);
        let mut t = SimTime::START;
        (0..n)
            .map(|_| {
                let r = p.step(t, dt, 1.0, &mut rng);
                t = t.plus(dt);
                r
            })
            .collect()
    }

    fn moments(x: &[f64]) -> (f64, f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (n - 1.0);
        let k = x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / n / (v * v);
        (m, v, k)
    }

    /// Asserts the sample mean and variance of `x` are within 5 standard errors of the
    /// closed forms; the variance's standard error uses the sample kurtosis.
    fn assert_mean_var(x: &[f64], mean: f64, var: f64) {
        let n = x.len() as f64;
        let (m, v, k) = moments(x);
        let se_mean = (var / n).sqrt();
        let se_var = var * ((k - 1.0) / n).sqrt();
        assert!((m - mean).abs() < 5.0 * se_mean, "mean {m} vs {mean} (se {se_mean})");
        assert!((v - var).abs() < 5.0 * se_var, "var {v} vs {var} (se {se_var})");
    }

    const HOUR: SimDuration = SimDuration::from_secs(3600);

    #[test]
    fn gbm_moments() {
        let dt = HOUR.as_years_f64();
        let x =
            returns(&ProcessSpec::Gbm { vol: 0.8, drift: 0.1 }, RateUnit::PerYear, HOUR, 200_000);
        assert_mean_var(&x, (0.1 - 0.32) * dt, 0.64 * dt);
    }

    #[test]
    fn gbm_per_day_equals_per_year() {
        let daily = 0.8 / 365.25f64.sqrt();
        let a = returns(&ProcessSpec::Gbm { vol: 0.8, drift: 0.0 }, RateUnit::PerYear, HOUR, 1000);
        let b = returns(&ProcessSpec::Gbm { vol: daily, drift: 0.0 }, RateUnit::PerDay, HOUR, 1000);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn merton_moments_and_jump_frequency() {
        // Per day: lambda = 2 jumps, m = -0.02, delta = 0.05, sigma = 0.03.
        let (lambda, m, delta, sigma) = (2.0, -0.02, 0.05, 0.03);
        let spec = ProcessSpec::Merton {
            vol: sigma,
            drift: 0.0,
            jump_intensity: lambda,
            jump_mean: m,
            jump_vol: delta,
        };
        let dt = 1.0 / 24.0;
        let x = returns(&spec, RateUnit::PerDay, HOUR, 200_000);
        let k = (m + 0.5 * delta * delta).exp() - 1.0;
        let mean = (-0.5 * sigma * sigma - lambda * k + lambda * m) * dt;
        let var = (sigma * sigma + lambda * (m * m + delta * delta)) * dt;
        assert_mean_var(&x, mean, var);
        // Excess kurtosis of the jump-diffusion is positive.
        assert!(moments(&x).2 > 3.5);
    }

    #[test]
    fn poisson_sampler_matches_statrs() {
        use statrs::distribution::{Discrete, Poisson};
        let mean = 0.7;
        let n = 200_000;
        let mut rng = StreamId::named("poisson").rng(1);
        let mut counts = [0u64; 8];
        for _ in 0..n {
            counts[(poisson(mean, &mut rng) as usize).min(7)] += 1;
        }
        let pmf = Poisson::new(mean).unwrap();
        for (k, &c) in counts.iter().enumerate().take(5) {
            let p = pmf.pmf(k as u64);
            let se = (p * (1.0 - p) / n as f64).sqrt();
            assert!((c as f64 / n as f64 - p).abs() < 5.0 * se, "k={k}");
        }
    }

    #[test]
    fn kou_moments() {
        // Per year: lambda = 50, p = 0.3, eta_up = 20, eta_down = 10, sigma = 0.5.
        let (lambda, p, e1, e2, sigma) = (50.0, 0.3, 20.0, 10.0, 0.5);
        let spec = ProcessSpec::Kou {
            vol: sigma,
            drift: 0.0,
            jump_intensity: lambda,
            p_up: p,
            eta_up: e1,
            eta_down: e2,
        };
        let day = SimDuration::from_secs(86_400);
        let dt = day.as_years_f64();
        let x = returns(&spec, RateUnit::PerYear, day, 200_000);
        let k = p * e1 / (e1 - 1.0) + (1.0 - p) * e2 / (e2 + 1.0) - 1.0;
        let jump_mean = p / e1 - (1.0 - p) / e2;
        let jump_second = 2.0 * p / (e1 * e1) + 2.0 * (1.0 - p) / (e2 * e2);
        let mean = (-0.5 * sigma * sigma - lambda * k + lambda * jump_mean) * dt;
        let var = (sigma * sigma + lambda * jump_second) * dt;
        assert_mean_var(&x, mean, var);
    }

    #[test]
    fn svcj_variance_stays_non_negative_and_reverts_to_theta() {
        // Per day; no jumps, so the long-run mean of v is theta.
        let spec = ProcessSpec::Svcj {
            drift: 0.0,
            kappa: 2.0,
            theta: 0.0016,
            sigma_v: 0.05,
            rho: -0.5,
            v0: 0.01,
            jump_intensity: 0.0,
            jump_mean: 0.0,
            jump_vol: 0.0,
            jump_var_mean: 0.0,
            jump_corr: 0.0,
        };
        let mut p = Svcj::from_spec(&spec, RateUnit::PerDay.years()).unwrap();
        let mut rng = StreamId::named("svcj").rng(3);
        let dt = SimDuration::from_secs(3600);
        let mut sum = 0.0;
        let n = 200_000;
        for i in 0..n + 2000 {
            p.step(SimTime::START, dt, 1.0, &mut rng);
            assert!(p.v.max(0.0) >= 0.0 && p.volatility() >= 0.0);
            if i >= 2000 {
                sum += p.v.max(0.0);
            }
        }
        let mean = sum / n as f64;
        assert!((mean - 0.0016).abs() < 0.0016 * 0.05, "long-run variance {mean}");
    }

    #[test]
    fn svcj_jumps_raise_variance_and_move_price() {
        let spec = ProcessSpec::Svcj {
            drift: 0.0,
            kappa: 0.05,
            theta: 0.0016,
            sigma_v: 0.0,
            rho: 0.0,
            v0: 0.0016,
            jump_intensity: 24.0,
            jump_mean: -0.01,
            jump_vol: 0.0,
            jump_var_mean: 0.004,
            jump_corr: -2.0,
        };
        // 24 jumps a day on hourly steps: about one jump per step. Mean jump in log price:
        // jump_mean + jump_corr x jump_var_mean = -0.018.
        let x = returns(&spec, RateUnit::PerDay, HOUR, 20_000);
        let mean = x.iter().sum::<f64>() / x.len() as f64;
        assert!(mean < -0.01, "{mean}");
    }

    #[test]
    fn garch_t_has_fat_tails_and_volatility_clustering() {
        let spec = ProcessSpec::GarchT { omega: 1e-6, alpha: 0.1, beta: 0.85, nu: 5.0, drift: 0.0 };
        let x = returns(&spec, RateUnit::PerYear, SimDuration::from_secs(60), 200_000);
        let (m, _, kurt) = moments(&x);
        assert!(kurt > 4.0, "kurtosis {kurt}");
        let abs: Vec<f64> = x.iter().map(|r| (r - m).abs()).collect();
        let am = abs.iter().sum::<f64>() / abs.len() as f64;
        let cov: f64 = abs.windows(2).map(|w| (w[0] - am) * (w[1] - am)).sum::<f64>();
        let var: f64 = abs.iter().map(|a| (a - am).powi(2)).sum::<f64>();
        let ac = cov / var;
        // Independent returns would give |ac| < 5/sqrt(n) = 0.011.
        assert!(ac > 0.05, "autocorrelation of |r| {ac}");
        // Unconditional variance omega / (1 - alpha - beta) = 2e-5 per step.
        let var_r = x.iter().map(|r| (r - m).powi(2)).sum::<f64>() / x.len() as f64;
        assert!((var_r - 2e-5).abs() < 2e-5 * 0.15, "{var_r}");
    }

    #[test]
    fn same_seed_same_path() {
        let spec = ProcessSpec::Merton {
            vol: 0.6,
            drift: 0.0,
            jump_intensity: 100.0,
            jump_mean: -0.01,
            jump_vol: 0.02,
        };
        assert_eq!(
            returns(&spec, RateUnit::PerYear, HOUR, 500),
            returns(&spec, RateUnit::PerYear, HOUR, 500)
        );
    }

    #[test]
    fn merton_jump_frequency_matches_lambda() {
        // Jumps of exactly -5% against a diffusion of 0.01% per step: a step holds a jump
        // when its return is below -2.5%.
        let (lambda, n) = (3.0, 400_000usize);
        let spec = ProcessSpec::Merton {
            vol: 0.0001 * 24f64.sqrt(),
            drift: 0.0,
            jump_intensity: lambda,
            jump_mean: -0.05,
            jump_vol: 0.0,
        };
        let x = returns(&spec, RateUnit::PerDay, HOUR, n);
        let p = 1.0 - (-lambda / 24.0f64).exp();
        let hits = x.iter().filter(|r| **r < -0.025).count() as f64 / n as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        assert!((hits - p).abs() < 5.0 * se, "{hits} vs {p}");
    }

    #[test]
    fn large_poisson_means_follow_statrs() {
        // Means above the inverse-transform limit go to statrs: mean and variance both 50.
        let mut rng = StreamId::named("poisson-large").rng(5);
        let n = 100_000;
        let xs: Vec<f64> = (0..n).map(|_| poisson(50.0, &mut rng) as f64).collect();
        let (m, v, _) = moments(&xs);
        assert!((m - 50.0).abs() < 5.0 * (50.0 / n as f64).sqrt(), "{m}");
        assert!((v - 50.0).abs() < 5.0 * 50.0 * (2.0 / n as f64).sqrt(), "{v}");
        // Past e^-745 the inverse transform could not start: still the right scale.
        assert!((poisson(1e6, &mut rng) as f64 - 1e6).abs() < 5e3);
    }

    #[test]
    fn svcj_with_jumps_reverts_to_the_jump_adjusted_mean() {
        // Per day: E[v] = theta + lambda x jump_var_mean / kappa = 0.0016 + 0.5 x 0.002 / 5.
        let spec = ProcessSpec::Svcj {
            drift: 0.0,
            kappa: 5.0,
            theta: 0.0016,
            sigma_v: 0.02,
            rho: -0.7,
            v0: 0.0018,
            jump_intensity: 0.5,
            jump_mean: -0.02,
            jump_vol: 0.01,
            jump_var_mean: 0.002,
            jump_corr: -1.0,
        };
        let mut p = Svcj::from_spec(&spec, RateUnit::PerDay.years()).unwrap();
        let mut rng = StreamId::named("svcj-jumps").rng(11);
        let n = 400_000;
        let mut sum = 0.0;
        for _ in 0..n {
            p.step(SimTime::START, HOUR, 1.0, &mut rng);
            assert!(p.volatility() >= 0.0 && p.volatility().is_finite());
            sum += p.v.max(0.0);
        }
        let expected = 0.0016 + 0.5 * 0.002 / 5.0;
        let mean = sum / n as f64;
        // Jumps arrive about 0.5 x 16 700 days = 8 300 times: the mean of their
        // contribution has a relative error near 1 / sqrt(8 300); 10% is about 9 of those.
        assert!((mean - expected).abs() < 0.1 * expected, "{mean} vs {expected}");
    }

    #[test]
    fn validate_names_the_parameter() {
        let bad = ProcessSpec::GarchT { omega: 1e-6, alpha: 0.2, beta: 0.85, nu: 5.0, drift: 0.0 };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("beta") && e.contains("alpha + beta < 1"), "{e}");
        let bad = ProcessSpec::Kou {
            vol: 0.5,
            drift: 0.0,
            jump_intensity: 1.0,
            p_up: 0.5,
            eta_up: 0.9,
            eta_down: 5.0,
        };
        assert!(bad.validate().unwrap_err().to_string().contains("eta_up"));
        assert!(
            ProcessSpec::Gbm { vol: f64::NAN, drift: 0.0 }
                .build_checked(RateUnit::PerYear)
                .is_err()
        );
        assert!(ProcessSpec::Gbm { vol: 0.5, drift: 0.0 }.build_checked(RateUnit::PerDay).is_ok());
    }

    #[test]
    fn per_day_and_per_year_give_the_same_path() {
        let specs = [
            ProcessSpec::Merton {
                vol: 0.6,
                drift: 0.1,
                jump_intensity: 300.0,
                jump_mean: -0.02,
                jump_vol: 0.03,
            },
            ProcessSpec::Kou {
                vol: 0.6,
                drift: 0.1,
                jump_intensity: 300.0,
                p_up: 0.4,
                eta_up: 30.0,
                eta_down: 20.0,
            },
            ProcessSpec::Svcj {
                drift: 0.05,
                kappa: 4.0,
                theta: 0.5,
                sigma_v: 0.9,
                rho: -0.6,
                v0: 0.4,
                jump_intensity: 300.0,
                jump_mean: -0.01,
                jump_vol: 0.02,
                jump_var_mean: 0.2,
                jump_corr: -0.05,
            },
            ProcessSpec::GarchT { omega: 1e-7, alpha: 0.1, beta: 0.85, nu: 6.0, drift: 0.2 },
        ];
        for spec in specs {
            let daily = spec.converted(RateUnit::PerYear, RateUnit::PerDay);
            let back = daily.converted(RateUnit::PerDay, RateUnit::PerYear);
            let a = returns(&spec, RateUnit::PerYear, HOUR, 2000);
            let b = returns(&daily, RateUnit::PerDay, HOUR, 2000);
            let c = returns(&back, RateUnit::PerYear, HOUR, 2000);
            for ((x, y), z) in a.iter().zip(&b).zip(&c) {
                assert!((x - y).abs() < 1e-12 && (x - z).abs() < 1e-12, "{spec:?}: {x} {y} {z}");
            }
            // The jump models' paths hold jumps, so the equality covers them.
            let garch = matches!(spec, ProcessSpec::GarchT { .. });
            assert!(garch || a.iter().any(|r| r.abs() > 0.01), "{spec:?}");
        }
    }
}
