//! VaR and ES: sample estimators and closed forms.
//!
//! Sample ES uses the Acerbi-Tasche (2002) fractional-observation form, so the worst
//! n(1 - alpha) observations are averaged with the boundary observation counted by its
//! fraction: ES = (sum of the k worst + (n(1 - alpha) - k) x L_(k+1)) / (n (1 - alpha)),
//! k = floor(n (1 - alpha)). It is coherent on any sample (subadditive), which the plain
//! "mean of the tail observations" is not when n (1 - alpha) is fractional. The
//! selections use `select_nth_unstable`, not a sort: O(n).

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// VaR at `alpha` of a sample of losses (reorders `losses`).
pub fn var(losses: &mut [f64], alpha: f64) -> f64 {
    let n = losses.len();
    if n == 0 {
        return f64::NAN;
    }
    let rank = ((n as f64 * alpha).ceil() as usize).clamp(1, n);
    *losses.select_nth_unstable_by(rank - 1, f64::total_cmp).1
}

/// ES at `alpha` of a sample of losses (reorders `losses`).
pub fn es(losses: &mut [f64], alpha: f64) -> f64 {
    let n = losses.len();
    if n == 0 {
        return f64::NAN;
    }
    let tail = n as f64 * (1.0 - alpha);
    let k = (tail.floor() as usize).min(n - 1);
    if tail <= 0.0 {
        return losses.iter().copied().fold(f64::MIN, f64::max);
    }
    // Put the k worst losses at the end, the (k+1)-th worst just before them.
    let boundary_index = n - k - 1;
    let (_, boundary, worst) = losses.select_nth_unstable_by(boundary_index, f64::total_cmp);
    let boundary = *boundary;
    let sum: f64 = worst.iter().sum();
    (sum + (tail - k as f64) * boundary) / tail
}

/// VaR at `alpha` of weighted scenarios: the smallest loss l with (sum of the weights of
/// losses <= l) >= alpha (sum of all weights). Weights need not sum to 1; negative or
/// non-finite weights count as 0. Sorts a copy of the indices (weighted sets are built
/// once per refresh, not per account).
pub fn weighted_var(losses: &[f64], weights: &[f64], alpha: f64) -> f64 {
    weighted(losses, weights, alpha).0
}

/// ES at `alpha` of weighted scenarios, Acerbi-Tasche general form:
/// ES = (E[L 1{L > q}] + q (P(L <= q) - alpha)) / (1 - alpha), q the weighted VaR. With
/// equal weights it is exactly [`es`].
pub fn weighted_es(losses: &[f64], weights: &[f64], alpha: f64) -> f64 {
    weighted(losses, weights, alpha).1
}

fn weighted(losses: &[f64], weights: &[f64], alpha: f64) -> (f64, f64) {
    let n = losses.len().min(weights.len());
    let w = |i: usize| if weights[i].is_finite() && weights[i] > 0.0 { weights[i] } else { 0.0 };
    let total: f64 = (0..n).map(w).sum();
    if n == 0 || total <= 0.0 {
        return (f64::NAN, f64::NAN);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| losses[*a].total_cmp(&losses[*b]));
    let mut cumulative = 0.0;
    let mut q_at = n - 1;
    for (k, i) in order.iter().enumerate() {
        cumulative += w(*i) / total;
        // A relative tolerance so that 10 equal weights of 0.1 reach 0.9 at the 9th.
        if cumulative >= alpha - 1e-12 {
            q_at = k;
            break;
        }
    }
    let q = losses[order[q_at]];
    let at_or_below: f64 = order.iter().filter(|i| losses[**i] <= q).map(|i| w(*i) / total).sum();
    let above: f64 =
        order.iter().filter(|i| losses[**i] > q).map(|i| w(*i) / total * losses[*i]).sum();
    let tail = 1.0 - alpha;
    if tail <= 0.0 {
        return (q, losses[order[n - 1]]);
    }
    (q, (above + q * (at_or_below - alpha)) / tail)
}

/// VaR of `mu + sigma T` with T a Student-t scaled to unit variance (nu > 2), so that
/// `sigma` is the standard deviation.
pub fn unit_t_var(alpha: f64, nu: f64, mu: f64, sigma: f64) -> f64 {
    if nu <= 2.0 {
        return f64::NAN;
    }
    t_var(alpha, nu, mu, sigma * ((nu - 2.0) / nu).sqrt())
}

/// ES of `mu + sigma T` with T a unit-variance Student-t (nu > 2).
pub fn unit_t_es(alpha: f64, nu: f64, mu: f64, sigma: f64) -> f64 {
    if nu <= 2.0 {
        return f64::NAN;
    }
    t_es(alpha, nu, mu, sigma * ((nu - 2.0) / nu).sqrt())
}

/// VaR of a normal loss with mean `mu` and standard deviation `sigma`.
pub fn normal_var(alpha: f64, mu: f64, sigma: f64) -> f64 {
    mu + sigma * Normal::standard().inverse_cdf(alpha)
}

/// ES of a normal loss: mu + sigma phi(z) / (1 - alpha), z = Phi^-1(alpha).
pub fn normal_es(alpha: f64, mu: f64, sigma: f64) -> f64 {
    let z = Normal::standard().inverse_cdf(alpha);
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    mu + sigma * pdf / (1.0 - alpha)
}

/// VaR of `mu + sigma T` with T standard Student-t with `nu` degrees of freedom.
pub fn t_var(alpha: f64, nu: f64, mu: f64, sigma: f64) -> f64 {
    StudentsT::new(0.0, 1.0, nu).map(|t| mu + sigma * t.inverse_cdf(alpha)).unwrap_or(f64::NAN)
}

/// ES of `mu + sigma T`: sigma (nu + t^2) / (nu - 1) f(t) / (1 - alpha), t = F^-1(alpha)
/// (McNeil, Frey and Embrechts, Quantitative Risk Management, Example 2.19); nu > 1.
pub fn t_es(alpha: f64, nu: f64, mu: f64, sigma: f64) -> f64 {
    use statrs::distribution::Continuous;
    let Ok(t) = StudentsT::new(0.0, 1.0, nu) else { return f64::NAN };
    let q = t.inverse_cdf(alpha);
    mu + sigma * t.pdf(q) * (nu + q * q) / ((nu - 1.0) * (1.0 - alpha))
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_core::StreamId;
    use proptest::prelude::*;
    use rand::distr::Distribution;
    use statrs::distribution::Normal;

    #[test]
    fn closed_forms_against_published_values() {
        // Standard normal: VaR 99% = 2.326348, ES 99% = 2.665214; ES 97.5% = 2.337803.
        assert!((normal_var(0.99, 0.0, 1.0) - 2.326_348).abs() < 1e-6);
        assert!((normal_es(0.99, 0.0, 1.0) - 2.665_214).abs() < 1e-6);
        assert!((normal_es(0.975, 0.0, 1.0) - 2.337_803).abs() < 1e-6);
        // Student-t, 4 degrees of freedom: quantile 0.99 = 3.746947.
        assert!((t_var(0.99, 4.0, 0.0, 1.0) - 3.746_947).abs() < 1e-6);
        // The t ES converges to the normal one as nu grows.
        assert!((t_es(0.99, 1e6, 0.0, 1.0) - normal_es(0.99, 0.0, 1.0)).abs() < 1e-4);
    }

    /// Five asymptotic standard errors of the VaR and ES estimators at `alpha` for a
    /// sample `draws` whose density at the quantile is `pdf_q`: VaR sqrt(a (1 - a) / n) /
    /// f(q); ES sqrt((Var(L | L > q) + a (ES - q)^2) / (n (1 - a))) (Yamai and Yoshiba
    /// 2002), the tail variance estimated from the sample itself.
    fn five_se(draws: &[f64], alpha: f64, pdf_q: f64, q: f64, es_true: f64) -> (f64, f64) {
        let n = draws.len() as f64;
        let tail: Vec<f64> = draws.iter().copied().filter(|x| *x > q).collect();
        let m = tail.iter().sum::<f64>() / tail.len() as f64;
        let tail_var = tail.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / tail.len() as f64;
        let se_var = (alpha * (1.0 - alpha) / n).sqrt() / pdf_q;
        let se_es = ((tail_var + alpha * (es_true - q).powi(2)) / (n * (1.0 - alpha))).sqrt();
        (5.0 * se_var, 5.0 * se_es)
    }

    #[test]
    fn sample_estimators_converge_to_closed_forms() {
        use statrs::distribution::Continuous;
        // Normal and t(3, 4, 5, 10), alpha 0.95 / 0.975 / 0.99, at n = 10^4 and 1.6 10^5:
        // each estimate within 5 standard errors, and the bound 4 times tighter at the
        // larger n (the error shrinks like 1/sqrt(n)).
        let dists: [(f64, &str); 5] =
            [(0.0, "normal"), (3.0, "t3"), (4.0, "t4"), (5.0, "t5"), (10.0, "t10")];
        for (index, (nu, name)) in dists.iter().enumerate() {
            let mut rng = StreamId::named("converge").with_index(index as u64).rng(1);
            let draws: Vec<f64> = if *nu == 0.0 {
                let d = Normal::standard();
                (0..160_000).map(|_| d.sample(&mut rng)).collect()
            } else {
                let d = StudentsT::new(0.0, 1.0, *nu).unwrap();
                (0..160_000).map(|_| d.sample(&mut rng)).collect()
            };
            for alpha in [0.95, 0.975, 0.99] {
                let (q, e, pdf) = if *nu == 0.0 {
                    let q = normal_var(alpha, 0.0, 1.0);
                    (q, normal_es(alpha, 0.0, 1.0), Normal::standard().pdf(q))
                } else {
                    let q = t_var(alpha, *nu, 0.0, 1.0);
                    (q, t_es(alpha, *nu, 0.0, 1.0), StudentsT::new(0.0, 1.0, *nu).unwrap().pdf(q))
                };
                let mut previous = None;
                for n in [10_000, 160_000] {
                    let sample = &draws[..n];
                    let (tol_var, tol_es) = five_se(sample, alpha, pdf, q, e);
                    let v = var(&mut sample.to_vec(), alpha);
                    let s = es(&mut sample.to_vec(), alpha);
                    assert!(
                        (v - q).abs() < tol_var,
                        "{name} {alpha} n {n}: VaR {v} vs {q} +/- {tol_var}"
                    );
                    assert!(
                        (s - e).abs() < tol_es,
                        "{name} {alpha} n {n}: ES {s} vs {e} +/- {tol_es}"
                    );
                    if let Some((pv, pe)) = previous {
                        assert!(tol_var < 0.3 * pv && tol_es < 0.5 * pe, "{name} {alpha}: bounds");
                    }
                    previous = Some((tol_var, tol_es));
                }
            }
        }
    }

    #[test]
    fn fractional_observation_es() {
        // n = 10, alpha = 0.85: tail 1.5 observations: (10 + 0.5 x 9) / 1.5 = 9.6667.
        let mut losses: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((es(&mut losses, 0.85) - 14.5 / 1.5).abs() < 1e-12);
        assert_eq!(var(&mut losses, 0.85), 9.0);
    }

    #[test]
    fn var_is_not_subadditive_es_is() {
        // Two independent loans, each losing 100 with probability 0.04 (else 0): alone,
        // VaR 95% is 0; together the chance of some loss is 0.0784 > 5%, so VaR 95% of
        // the sum is 100 > 0 + 0. Exact distribution on 10000 equally likely states.
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in 0..100 {
            for j in 0..100 {
                a.push(if i < 4 { 100.0 } else { 0.0 });
                b.push(if j < 4 { 100.0 } else { 0.0 });
            }
        }
        let mut sum: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_eq!(var(&mut a.clone(), 0.95) + var(&mut b.clone(), 0.95), 0.0);
        assert_eq!(var(&mut sum.clone(), 0.95), 100.0);
        assert!(es(&mut sum, 0.95) <= es(&mut a, 0.95) + es(&mut b, 0.95));
    }

    #[test]
    fn weighted_measures() {
        // Equal weights reproduce the plain estimators, for fractional tails too.
        let losses: Vec<f64> = (1..=10).map(f64::from).collect();
        let ones = vec![1.0; 10];
        for alpha in [0.5, 0.85, 0.9, 0.95] {
            assert_eq!(weighted_var(&losses, &ones, alpha), var(&mut losses.clone(), alpha));
            let (a, b) = (weighted_es(&losses, &ones, alpha), es(&mut losses.clone(), alpha));
            assert!((a - b).abs() < 1e-12, "alpha {alpha}: {a} {b}");
        }
        // Weight 0.8 on a loss of 0, 0.2 on a loss of 10: at 0.85 both VaR and ES are 10;
        // at 0.7 the VaR is 0 (0.8 >= 0.7).
        let l = [0.0, 10.0];
        let w = [0.8, 0.2];
        assert_eq!(weighted_var(&l, &w, 0.85), 10.0);
        assert!((weighted_es(&l, &w, 0.85) - 10.0).abs() < 1e-12);
        assert_eq!(weighted_var(&l, &w, 0.7), 0.0);
        // q = 0, P(L <= 0) = 0.8: ES = (0.2 x 10 + 0 x 0.1) / 0.3 = 6.667.
        assert!((weighted_es(&l, &w, 0.7) - 2.0 / 0.3).abs() < 1e-12);
    }

    #[test]
    fn unit_variance_t() {
        // t(4) scaled to variance 1: quantile 0.99 = 3.746947 x sqrt(2/4) = 2.649526.
        assert!((unit_t_var(0.99, 4.0, 0.0, 1.0) - 3.746_947 * 0.5f64.sqrt()).abs() < 1e-6);
        // A unit-variance t has a lower 95% VaR than the normal but a higher 99.9% one.
        assert!(unit_t_var(0.95, 4.0, 0.0, 1.0) < normal_var(0.95, 0.0, 1.0));
        assert!(unit_t_var(0.999, 4.0, 0.0, 1.0) > normal_var(0.999, 0.0, 1.0));
        assert!(unit_t_es(0.99, 2.0, 0.0, 1.0).is_nan());
        // Sample of a unit-variance t(5): its standard deviation is 1 (5 s.e. bound).
        let dist = StudentsT::new(0.0, (3.0f64 / 5.0).sqrt(), 5.0).unwrap();
        let mut rng = StreamId::named("unit-t").rng(3);
        let mut draws: Vec<f64> = (0..100_000).map(|_| dist.sample(&mut rng)).collect();
        let e = es(&mut draws, 0.975);
        assert!((e - unit_t_es(0.975, 5.0, 0.0, 1.0)).abs() < 0.05, "{e}");
    }

    proptest! {
        #[test]
        fn sample_es_is_subadditive(pairs in prop::collection::vec((-100.0f64..100.0, -100.0f64..100.0), 1..300), alpha in 0.5f64..0.999) {
            let mut x: Vec<f64> = pairs.iter().map(|p| p.0).collect();
            let mut y: Vec<f64> = pairs.iter().map(|p| p.1).collect();
            let mut s: Vec<f64> = pairs.iter().map(|p| p.0 + p.1).collect();
            let lhs = es(&mut s, alpha);
            let rhs = es(&mut x, alpha) + es(&mut y, alpha);
            prop_assert!(lhs <= rhs + 1e-9 * (1.0 + rhs.abs()), "{} > {}", lhs, rhs);
        }
    }
}
