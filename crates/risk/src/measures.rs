//! VaR and ES: sample estimators and closed forms.
//!
//! Sample ES uses the Acerbi-Tasche (2002) fractional-observation form, so the worst
//! n(1 - alpha) observations are averaged with the boundary observation counted by its
//! fraction: ES = (sum of the k worst + (n(1 - alpha) - k) x L_(k+1)) / (n (1 - alpha)),
//! k = floor(n (1 - alpha)). It is coherent on any sample (subadditive), which the plain
//! "mean of the tail observations" is not when n (1 - alpha) is fractional.
//!
//! Selection, not sorting. Both estimators only need the m largest losses (VaR: the
//! m-th; ES: the k + 1 worst). When m is small against n (a 99% measure over 1,000
//! scenarios needs 11) one pass keeps the m largest seen so far in a small sorted
//! array, testing eight losses at a time against the smallest of them; otherwise
//! `select_nth_unstable` does it in O(n). Either way the result is the same value.
//!
//! Summation order: the k worst losses are summed in ascending order, so ES depends
//! only on the multiset of losses, never on how a selection left them ordered (that
//! order is an implementation detail of the standard library and may change with it).

use crate::linear::Measure;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
use std::cmp::Ordering;

/// Largest m for which the one-pass selection is used; beyond it (or when m is more than
/// a sixteenth of the sample) `select_nth_unstable` is cheaper.
pub(crate) const SMALL_TAIL: usize = 64;

pub(crate) fn small_tail(m: usize, n: usize) -> bool {
    m <= SMALL_TAIL && m * 16 <= n
}

/// How many of the largest of `n` losses `measure` at `alpha` needs (VaR: the m-th
/// largest; ES: the k + 1 largest); `None` when it needs none of them in this form.
pub(crate) fn needed(n: usize, alpha: f64, measure: Measure) -> Option<usize> {
    if n == 0 {
        return None;
    }
    match measure {
        Measure::Var => Some(n - ((n as f64 * alpha).ceil() as usize).clamp(1, n) + 1),
        Measure::Es => {
            let tail = n as f64 * (1.0 - alpha);
            (tail > 0.0).then(|| (tail.floor() as usize).min(n - 1) + 1)
        }
    }
}

/// The measure from the `needed` largest losses, sorted ascending.
pub(crate) fn from_largest(top: &[f64], n: usize, alpha: f64, measure: Measure) -> f64 {
    match measure {
        Measure::Var => top[0],
        Measure::Es => {
            let tail = n as f64 * (1.0 - alpha);
            let k = top.len() - 1;
            // The (k+1)-th worst counts by its fraction; the k worst are summed ascending.
            let sum: f64 = top[1..].iter().sum();
            (sum + (tail - k as f64) * top[0]) / tail
        }
    }
}

/// The m largest losses offered so far, ascending, for m <= [`SMALL_TAIL`].
pub(crate) struct Largest {
    top: [f64; SMALL_TAIL],
    m: usize,
    filled: usize,
}

impl Largest {
    pub(crate) fn new(m: usize) -> Largest {
        debug_assert!((1..=SMALL_TAIL).contains(&m));
        Largest { top: [0.0; SMALL_TAIL], m: m.clamp(1, SMALL_TAIL), filled: 0 }
    }

    /// Once m losses are in, the smallest of them: a loss below it by plain comparison is
    /// below it in the total order too and cannot enter.
    pub(crate) fn bar(&self) -> Option<f64> {
        (self.filled == self.m).then_some(self.top[0])
    }

    #[inline]
    pub(crate) fn offer(&mut self, x: f64) {
        let top = &mut self.top[..self.m];
        if self.filled < self.m {
            top[self.filled] = x;
            self.filled += 1;
            if self.filled == self.m {
                top.sort_unstable_by(f64::total_cmp);
            }
            return;
        }
        if x.total_cmp(&top[0]) != Ordering::Greater {
            return;
        }
        let mut at = 0;
        while at + 1 < top.len() && top[at + 1].total_cmp(&x) != Ordering::Greater {
            top[at] = top[at + 1];
            at += 1;
        }
        top[at] = x;
    }

    /// Offers a block of losses. A NaN or a tie fails the plain test and goes to the exact
    /// one; the plain test has no branch per loss, so the common case (nothing enters) is
    /// cheap.
    #[inline]
    pub(crate) fn offer_block(&mut self, block: &[f64]) {
        let Some(bar) = self.bar() else {
            for x in block {
                self.offer(*x);
            }
            return;
        };
        if block.iter().fold(true, |below, x| below & (*x < bar)) {
            return;
        }
        for x in block {
            // The bar only rises within the block, so a loss below the first bar stays out.
            if x.partial_cmp(&bar) != Some(Ordering::Less) {
                self.offer(*x);
            }
        }
    }

    /// The m largest, ascending (all offered if fewer).
    pub(crate) fn sorted(&mut self) -> &[f64] {
        let top = &mut self.top[..self.filled];
        if self.filled < self.m {
            top.sort_unstable_by(f64::total_cmp);
        }
        top
    }
}

/// The `m` largest losses (by `total_cmp`), sorted ascending; `losses` may be reordered.
fn largest<'a>(losses: &'a mut [f64], m: usize, small: &'a mut Largest) -> &'a [f64] {
    let n = losses.len();
    if !small_tail(m, n) {
        losses.select_nth_unstable_by(n - m, f64::total_cmp);
        let tail = &mut losses[n - m..];
        tail.sort_unstable_by(f64::total_cmp);
        return tail;
    }
    let mut blocks = losses.chunks_exact(8);
    for block in &mut blocks {
        small.offer_block(block);
    }
    for x in blocks.remainder() {
        small.offer(*x);
    }
    small.sorted()
}

/// VaR at `alpha` of a sample of losses (reorders `losses`).
pub fn var(losses: &mut [f64], alpha: f64) -> f64 {
    let n = losses.len();
    let Some(m) = needed(n, alpha, Measure::Var) else { return f64::NAN };
    if small_tail(m, n) {
        largest(losses, m, &mut Largest::new(m))[0]
    } else {
        *losses.select_nth_unstable_by(n - m, f64::total_cmp).1
    }
}

/// ES at `alpha` of a sample of losses (reorders `losses`).
pub fn es(losses: &mut [f64], alpha: f64) -> f64 {
    let n = losses.len();
    if n == 0 {
        return f64::NAN;
    }
    let Some(m) = needed(n, alpha, Measure::Es) else {
        return losses.iter().copied().fold(f64::MIN, f64::max);
    };
    let mut small = Largest::new(m.min(SMALL_TAIL));
    from_largest(largest(losses, m, &mut small), n, alpha, Measure::Es)
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

    /// ES and VaR from a full sort: the definition the selections must reproduce bit for bit.
    fn sorted_reference(losses: &[f64], alpha: f64) -> (f64, f64) {
        let mut sorted = losses.to_vec();
        sorted.sort_unstable_by(f64::total_cmp);
        let n = sorted.len();
        let rank = ((n as f64 * alpha).ceil() as usize).clamp(1, n);
        let tail = n as f64 * (1.0 - alpha);
        let k = (tail.floor() as usize).min(n - 1);
        let sum: f64 = sorted[n - k..].iter().sum();
        (sorted[rank - 1], (sum + (tail - k as f64) * sorted[n - k - 1]) / tail)
    }

    proptest! {
        #[test]
        fn selections_equal_a_full_sort(
            // Few distinct values so ties, signed zeros and runs are common; some samples
            // sorted or reversed (the one-pass selection's worst case).
            raw in prop::collection::vec(prop_oneof![
                8 => (-20i32..20).prop_map(|v| f64::from(v) * 0.25),
                1 => Just(-0.0f64),
                1 => -1e6f64..1e6,
                1 => Just(f64::NAN),
            ], 1..2500),
            order in 0u8..3,
            alpha in prop_oneof![Just(0.99), Just(0.975), Just(0.95), Just(0.5), 0.001f64..0.9999],
        ) {
            let mut losses = raw.clone();
            match order {
                1 => losses.sort_unstable_by(f64::total_cmp),
                2 => losses.sort_unstable_by(|a, b| b.total_cmp(a)),
                _ => {}
            }
            let (v, e) = sorted_reference(&losses, alpha);
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            let (v2, e2) = (var(&mut losses.clone(), alpha), es(&mut losses.clone(), alpha));
            prop_assert!(same(v2, v), "VaR {} against {}", v2, v);
            prop_assert!(same(e2, e), "ES {} against {}", e2, e);
        }

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
