//! Drawing parameters from [`Distribution`]s.
//!
//! The statrs distributions are built once per population ([`Sampler::new`]) and then
//! sampled per agent from the agent's own stream, so adding agents to one population
//! never changes what another population draws.

use crate::config::Distribution;
use liqsim_core::{Error, Result, RngStream};
use rand::distr::Distribution as _;

/// A ready-to-sample form of a [`Distribution`].
#[derive(Debug, Clone)]
pub enum Sampler {
    Constant(f64),
    LogNormal { inner: statrs::distribution::LogNormal, min: f64, max: f64 },
    Pareto { inner: statrs::distribution::Pareto, max: f64 },
    Uniform(statrs::distribution::Uniform),
}

impl Sampler {
    pub fn new(d: &Distribution) -> Result<Sampler> {
        let bad = |e: String| Error::Internal(format!("distribution {d:?}: {e}"));
        Ok(match *d {
            Distribution::Constant(v) => Sampler::Constant(v),
            // A zero sigma is a constant; statrs refuses a zero scale.
            Distribution::LogNormal { median, sigma: 0.0, .. } => Sampler::Constant(median),
            Distribution::LogNormal { median, sigma, min, max } => Sampler::LogNormal {
                inner: statrs::distribution::LogNormal::new(median.ln(), sigma)
                    .map_err(|e| bad(e.to_string()))?,
                min,
                max,
            },
            Distribution::Pareto { scale, shape, max } => Sampler::Pareto {
                inner: statrs::distribution::Pareto::new(scale, shape)
                    .map_err(|e| bad(e.to_string()))?,
                max,
            },
            Distribution::Uniform { min, max } if min == max => Sampler::Constant(min),
            Distribution::Uniform { min, max } => Sampler::Uniform(
                statrs::distribution::Uniform::new(min, max).map_err(|e| bad(e.to_string()))?,
            ),
        })
    }

    pub fn sample(&self, rng: &mut RngStream) -> f64 {
        match self {
            Sampler::Constant(v) => *v,
            Sampler::LogNormal { inner, min, max } => inner.sample(rng).clamp(*min, *max),
            Sampler::Pareto { inner, max } => inner.sample(rng).min(*max),
            Sampler::Uniform(inner) => inner.sample(rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_core::StreamId;

    fn draws(d: &Distribution, n: usize) -> Vec<f64> {
        let s = Sampler::new(d).unwrap();
        let mut rng = StreamId::named("test").rng(1);
        (0..n).map(|_| s.sample(&mut rng)).collect()
    }

    fn mean_and_se(x: &[f64]) -> (f64, f64) {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, (v / n).sqrt())
    }

    #[test]
    fn lognormal_log_moments() {
        // ln X ~ N(ln 10, 0.7): mean of ln X is ln 10, its sd 0.7.
        let x = draws(
            &Distribution::LogNormal { median: 10.0, sigma: 0.7, min: 0.0, max: f64::MAX },
            100_000,
        );
        let logs: Vec<f64> = x.iter().map(|v| v.ln()).collect();
        let (m, se) = mean_and_se(&logs);
        assert!((m - 10f64.ln()).abs() < 5.0 * se, "{m}");
        let sd =
            (logs.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (logs.len() as f64 - 1.0)).sqrt();
        // The sd of a sample sd is about sigma / sqrt(2n).
        assert!((sd - 0.7).abs() < 5.0 * 0.7 / (2.0 * logs.len() as f64).sqrt(), "{sd}");
    }

    #[test]
    fn caps_clamp_and_put_the_tail_at_the_cap() {
        // P(X > 20) for median 10, sigma 0.7 is 1 - Phi(ln 2 / 0.7) = 1 - Phi(0.99021) = 0.16104.
        let x = draws(
            &Distribution::LogNormal { median: 10.0, sigma: 0.7, min: 1.0, max: 20.0 },
            100_000,
        );
        assert!(x.iter().all(|&v| (1.0..=20.0).contains(&v)));
        let at_cap = x.iter().filter(|&&v| v == 20.0).count() as f64 / x.len() as f64;
        let se = (0.161 * 0.839 / x.len() as f64).sqrt();
        assert!((at_cap - 0.16104).abs() < 5.0 * se, "{at_cap}");
    }

    #[test]
    fn pareto_tail() {
        // P(X > 4 x scale) = 4^-1.5 = 0.125.
        let x = draws(&Distribution::Pareto { scale: 1000.0, shape: 1.5, max: f64::MAX }, 100_000);
        assert!(x.iter().all(|&v| v >= 1000.0));
        let tail = x.iter().filter(|&&v| v > 4000.0).count() as f64 / x.len() as f64;
        let se = (0.125 * 0.875 / x.len() as f64).sqrt();
        assert!((tail - 0.125).abs() < 5.0 * se, "{tail}");
    }

    #[test]
    fn uniform_and_constants() {
        let x = draws(&Distribution::Uniform { min: 2.0, max: 4.0 }, 50_000);
        let (m, se) = mean_and_se(&x);
        assert!((m - 3.0).abs() < 5.0 * se);
        assert!(x.iter().all(|&v| (2.0..4.0).contains(&v)));
        assert_eq!(draws(&Distribution::Constant(7.0), 3), [7.0; 3]);
        assert_eq!(
            draws(&Distribution::LogNormal { median: 5.0, sigma: 0.0, min: 1.0, max: 9.0 }, 2),
            [5.0; 2]
        );
        assert_eq!(draws(&Distribution::Uniform { min: 2.0, max: 2.0 }, 2), [2.0; 2]);
    }
}
