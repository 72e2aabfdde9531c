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
//!   Student-t scaled to unit variance. `omega` is a per-step variance; the unit does not
//!   apply.
//!
//! Jump counts use an inverse-transform Poisson sampler written here: with lambda dt far
//! below 1 on every step, it costs one uniform per step where constructing a statrs
//! Poisson each step would cost more; it is tested against statrs' pmf.

use liqsim_core::{RngStream, SimDuration, SimTime};
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

/// Builds the process for `spec` with rates in `unit`.
pub fn build(spec: &ProcessSpec, unit: RateUnit) -> Box<dyn PriceProcess> {
    let unit_years = unit.years();
    match *spec {
        ProcessSpec::Gbm { vol, drift } => {
            Box::new(JumpDiffusion { unit_years, vol, drift, jumps: Jumps::None })
        }
        ProcessSpec::Merton { vol, drift, jump_intensity, jump_mean, jump_vol } => {
            Box::new(JumpDiffusion {
                unit_years,
                vol,
                drift,
                jumps: Jumps::Normal { intensity: jump_intensity, mean: jump_mean, vol: jump_vol },
            })
        }
        ProcessSpec::Kou { vol, drift, jump_intensity, p_up, eta_up, eta_down } => {
            Box::new(JumpDiffusion {
                unit_years,
                vol,
                drift,
                jumps: Jumps::DoubleExponential {
                    intensity: jump_intensity,
                    p_up,
                    eta_up,
                    eta_down,
                },
            })
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
        } => Box::new(Svcj {
            unit_years,
            drift,
            kappa,
            theta,
            sigma_v,
            rho,
            v: v0,
            intensity: jump_intensity,
            jump_mean,
            jump_vol,
            jump_var_mean,
            jump_corr,
        }),
        ProcessSpec::GarchT { omega, alpha, beta, nu, drift } => Box::new(GarchT {
            omega,
            alpha,
            beta,
            drift,
            t_scale: ((nu - 2.0) / nu).sqrt(),
            nu,
            variance: omega / (1.0 - alpha - beta),
            last_shock: 0.0,
            last_dt_years: 1.0 / 86_400.0 / 365.25,
        }),
    }
}

fn standard_normal(rng: &mut RngStream) -> f64 {
    Normal::standard().sample(rng)
}

/// Number of events of a Poisson variable with mean `mean`, by inverse transform.
pub fn poisson(mean: f64, rng: &mut RngStream) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let u: f64 = rng.random();
    let mut p = (-mean).exp();
    let mut cumulative = p;
    let mut k = 0u64;
    // Past 1e3 terms the remaining mass is far below f64 resolution for the intensities
    // validated scenarios allow per step.
    while u > cumulative && k < 1000 {
        k += 1;
        p *= mean / k as f64;
        cumulative += p;
    }
    k
}

#[derive(Debug, Clone, Copy)]
enum Jumps {
    None,
    Normal { intensity: f64, mean: f64, vol: f64 },
    DoubleExponential { intensity: f64, p_up: f64, eta_up: f64, eta_down: f64 },
}

impl Jumps {
    /// k = E[e^J] - 1 and the jump intensity.
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
}

impl PriceProcess for JumpDiffusion {
    fn step(&mut self, _now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        let dt = dt.as_years_f64() / self.unit_years;
        let sigma = self.vol * vol_scale;
        let (intensity, k) = self.jumps.compensator();
        let mut r = (self.drift - 0.5 * sigma * sigma - intensity * k) * dt
            + sigma * dt.sqrt() * standard_normal(rng);
        match self.jumps {
            Jumps::None => {}
            Jumps::Normal { intensity, mean, vol } => {
                let n = poisson(intensity * dt, rng);
                if n > 0 {
                    let n = n as f64;
                    r += n * mean + vol * n.sqrt() * standard_normal(rng);
                }
            }
            Jumps::DoubleExponential { intensity, p_up, eta_up, eta_down } => {
                for _ in 0..poisson(intensity * dt, rng) {
                    let u: f64 = rng.random();
                    let e: f64 = -(1.0 - rng.random::<f64>()).ln();
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
    v: f64,
    intensity: f64,
    jump_mean: f64,
    jump_vol: f64,
    jump_var_mean: f64,
    jump_corr: f64,
}

impl PriceProcess for Svcj {
    fn step(&mut self, _now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        let dt = dt.as_years_f64() / self.unit_years;
        let v = self.v.max(0.0);
        let z1 = standard_normal(rng);
        let z2 = self.rho * z1 + (1.0 - self.rho * self.rho).sqrt() * standard_normal(rng);
        let sqrt_dt = dt.sqrt();
        let scaled_v = v * vol_scale * vol_scale;
        let mut r = (self.drift - 0.5 * scaled_v) * dt + scaled_v.sqrt() * sqrt_dt * z1;
        let mut next_v =
            self.v + self.kappa * (self.theta - v) * dt + self.sigma_v * v.sqrt() * sqrt_dt * z2;
        for _ in 0..poisson(self.intensity * dt, rng) {
            let jump_v = if self.jump_var_mean > 0.0 {
                Exp::new(1.0 / self.jump_var_mean).map(|e| e.sample(rng)).unwrap_or(0.0)
            } else {
                0.0
            };
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
    omega: f64,
    alpha: f64,
    beta: f64,
    drift: f64,
    nu: f64,
    t_scale: f64,
    variance: f64,
    last_shock: f64,
    last_dt_years: f64,
}

impl PriceProcess for GarchT {
    fn step(&mut self, _now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        self.variance =
            self.omega + self.alpha * self.last_shock * self.last_shock + self.beta * self.variance;
        let z =
            StudentsT::new(0.0, 1.0, self.nu).map(|t| t.sample(rng)).unwrap_or(0.0) * self.t_scale;
        let shock = self.variance.sqrt() * z;
        self.last_shock = shock;
        self.last_dt_years = dt.as_years_f64();
        self.drift * self.last_dt_years - 0.5 * self.variance * vol_scale * vol_scale
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
        let mut p = Svcj::from_spec(&spec);
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

    impl Svcj {
        fn from_spec(spec: &ProcessSpec) -> Svcj {
            match *spec {
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
                } => Svcj {
                    unit_years: RateUnit::PerDay.years(),
                    drift,
                    kappa,
                    theta,
                    sigma_v,
                    rho,
                    v: v0,
                    intensity: jump_intensity,
                    jump_mean,
                    jump_vol,
                    jump_var_mean,
                    jump_corr,
                },
                _ => unreachable!(),
            }
        }
    }
}
