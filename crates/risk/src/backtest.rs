//! Backtests of VaR and ES forecasts: Kupiec's proportion of failures, Christoffersen's
//! independence and conditional coverage, and Acerbi and Szekely's Z2 for ES.
//!
//! Conventions: a breach ("failure", "exception") is a period whose realised loss is
//! strictly above the forecast VaR (or above the posted margin); `p = 1 - alpha` is the
//! expected breach rate. The likelihood-ratio statistics follow Kupiec (1995) and
//! Christoffersen (1998), with 0 ln 0 taken as 0 (so a sequence without breaches, or
//! without consecutive breaches, has a finite statistic); their p-values come from the
//! chi-squared limits (1 degree of freedom for POF and independence, 2 for conditional
//! coverage), which are asymptotic and rough for a few hundred periods with p = 1%.
//!
//! Z2 (Acerbi and Szekely 2014, "Backtesting Expected Shortfall"):
//! Z2 = 1 - sum_t L_t 1{L_t > VaR_t} / (T (1 - alpha) ES_t), in our loss convention. Its
//! expectation is 0 when the ES forecasts are right and it is negative when they are too
//! small. It has no closed-form distribution; as the paper does, the p-value is the
//! share of statistics simulated under the null (losses drawn from the forecast
//! distributions) that are at or below the observed one. The paper reports a 5% critical
//! value near -0.70 for T = 250 and alpha = 0.975, nearly the same for normal and
//! Student-t forecasts; the tests check ours against it.
//!
//! [`margin_coverage`] replays a price history: every `horizon` periods (non-overlapping)
//! it asks a policy for the initial requirement of a reference portfolio at that close,
//! and counts a breach when the portfolio's loss to the close `horizon` periods later
//! exceeds it. Options in the reference portfolio keep their time to expiry at each
//! test date (a constant-maturity position re-established each period) and are valued
//! at the configured volatility.
//!
//! Limitations: the tests assume one forecast per period and non-overlapping horizons;
//! breaches of overlapping multi-period horizons are autocorrelated by construction and
//! fail the independence test for that reason alone.

use crate::model::Requirements;
use crate::portfolio::{Market, Position, Shock, portfolio_pnl};
use liqsim_core::{Error, Result, RngStream};
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// A likelihood-ratio statistic and its asymptotic p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrTest {
    pub statistic: f64,
    pub p_value: f64,
}

fn chi2_test(statistic: f64, dof: f64) -> LrTest {
    let p_value = ChiSquared::new(dof).map(|c| 1.0 - c.cdf(statistic.max(0.0))).unwrap_or(f64::NAN);
    LrTest { statistic, p_value }
}

/// x ln(p) with 0 ln 0 = 0: the log-likelihood of `x` events of probability `p`.
fn xlogp(x: u64, p: f64) -> f64 {
    if x == 0 { 0.0 } else { x as f64 * p.ln() }
}

/// Log-likelihood of `ones` successes and `zeros` failures with success probability `p`.
fn bernoulli_ll(zeros: u64, ones: u64, p: f64) -> f64 {
    xlogp(zeros, 1.0 - p) + xlogp(ones, p)
}

/// Kupiec's proportion-of-failures test: `breaches` out of `periods` against the
/// expected rate `p`. LR = -2 ln[(1-p)^(T-N) p^N / ((1-N/T)^(T-N) (N/T)^N)], chi2(1).
pub fn kupiec_pof(breaches: u64, periods: u64, p: f64) -> LrTest {
    if periods == 0 || breaches > periods {
        return LrTest { statistic: f64::NAN, p_value: f64::NAN };
    }
    let zeros = periods - breaches;
    let observed = breaches as f64 / periods as f64;
    let lr = -2.0 * (bernoulli_ll(zeros, breaches, p) - bernoulli_ll(zeros, breaches, observed));
    chi2_test(lr, 1.0)
}

/// Transition counts of a hit sequence: n[i][j] = periods with hit j after hit i.
pub fn transitions(hits: &[bool]) -> [[u64; 2]; 2] {
    let mut n = [[0u64; 2]; 2];
    for w in hits.windows(2) {
        n[usize::from(w[0])][usize::from(w[1])] += 1;
    }
    n
}

/// Christoffersen's tests on a hit sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Christoffersen {
    /// Kupiec's POF on the whole sequence.
    pub unconditional: LrTest,
    /// First-order Markov independence, chi2(1).
    pub independence: LrTest,
    /// Conditional coverage: LR_uc + LR_ind, chi2(2).
    pub conditional: LrTest,
}

/// Christoffersen (1998): independence of breaches against a first-order Markov chain,
/// and conditional coverage (right rate and independence together).
pub fn christoffersen(hits: &[bool], p: f64) -> Christoffersen {
    let breaches = hits.iter().filter(|h| **h).count() as u64;
    let unconditional = kupiec_pof(breaches, hits.len() as u64, p);
    let n = transitions(hits);
    let (n00, n01, n10, n11) = (n[0][0], n[0][1], n[1][0], n[1][1]);
    let total = n00 + n01 + n10 + n11;
    let ratio = |a: u64, b: u64| if a + b == 0 { 0.0 } else { b as f64 / (a + b) as f64 };
    let pi = ratio(n00 + n10, n01 + n11);
    let pi01 = ratio(n00, n01);
    let pi11 = ratio(n10, n11);
    let lr_ind = if total == 0 {
        0.0
    } else {
        -2.0 * (bernoulli_ll(n00 + n10, n01 + n11, pi)
            - bernoulli_ll(n00, n01, pi01)
            - bernoulli_ll(n10, n11, pi11))
    };
    let independence = chi2_test(lr_ind, 1.0);
    let conditional = chi2_test(unconditional.statistic + lr_ind, 2.0);
    Christoffersen { unconditional, independence, conditional }
}

/// One period's forecast: VaR and ES of the loss at the backtested level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    pub var: f64,
    pub es: f64,
}

/// Acerbi-Szekely Z2 of realised `losses` against `forecasts` at level `alpha`.
pub fn z2(losses: &[f64], forecasts: &[Forecast], alpha: f64) -> f64 {
    let t = losses.len().min(forecasts.len());
    if t == 0 {
        return f64::NAN;
    }
    let tail = t as f64 * (1.0 - alpha);
    let sum: f64 =
        losses.iter().zip(forecasts).filter(|(l, f)| **l > f.var).map(|(l, f)| l / f.es).sum();
    1.0 - sum / tail
}

/// Z2 with its simulated p-value: `draw(t, rng)` is a loss from period t's forecast
/// distribution (the null); `simulations` samples of the whole sequence are drawn.
/// The p-value is P(Z2_null <= Z2_observed), counting the observed one (so it is never
/// 0, as in a Monte Carlo test).
pub fn z2_test(
    losses: &[f64],
    forecasts: &[Forecast],
    alpha: f64,
    simulations: usize,
    rng: &mut RngStream,
    mut draw: impl FnMut(usize, &mut RngStream) -> f64,
) -> (f64, f64) {
    let observed = z2(losses, forecasts, alpha);
    let mut scratch = vec![0.0; forecasts.len()];
    let mut at_or_below = 1usize;
    for _ in 0..simulations {
        for (t, x) in scratch.iter_mut().enumerate() {
            *x = draw(t, rng);
        }
        if z2(&scratch, forecasts, alpha) <= observed {
            at_or_below += 1;
        }
    }
    (observed, at_or_below as f64 / (simulations + 1) as f64)
}

/// How to replay a history for [`margin_coverage`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoverageConfig {
    /// Closes before the first test date (the policy's first look-back).
    pub window: usize,
    /// Periods between a requirement and the loss it must cover (and between tests).
    pub horizon_periods: usize,
    /// Length of one period in years.
    pub period_years: f64,
    /// Volatility and rate the options are valued at.
    pub vol: f64,
    pub rate: f64,
    /// The policy's confidence: the expected breach rate is 1 - confidence.
    pub confidence: f64,
}

/// Outcome of a margin-coverage backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// One entry per test date: loss beyond the requirement.
    pub hits: Vec<bool>,
    pub breaches: u64,
    /// Largest loss in excess of the requirement (0 if none).
    pub worst_shortfall: f64,
    pub kupiec: LrTest,
    pub christoffersen: Christoffersen,
}

/// Replays `closes` for the reference `positions`; `requirement(history, market)` is the
/// policy, given the closes up to and including the test date.
pub fn margin_coverage(
    closes: &[f64],
    positions: &[Position],
    config: &CoverageConfig,
    mut requirement: impl FnMut(&[f64], &Market) -> Result<Requirements>,
) -> Result<Coverage> {
    let h = config.horizon_periods.max(1);
    if closes.iter().any(|c| !(c.is_finite() && *c > 0.0)) {
        return Err(Error::input("closes must be finite and positive"));
    }
    if config.window == 0 || closes.len() < config.window + h {
        return Err(Error::input(format!(
            "{} closes are too few for a window of {} and a horizon of {h}",
            closes.len(),
            config.window
        )));
    }
    let mut hits = Vec::new();
    let mut worst_shortfall = 0.0f64;
    let mut t = config.window - 1;
    while t + h < closes.len() {
        let market = Market { forward: closes[t], vol: config.vol, rate: config.rate };
        let required = requirement(&closes[..=t], &market)?.initial.to_f64();
        let shock = Shock {
            log_return: (closes[t + h] / closes[t]).ln(),
            vol_shift: 0.0,
            horizon_years: h as f64 * config.period_years,
        };
        let loss = -portfolio_pnl(positions, &market, &shock);
        hits.push(loss > required);
        worst_shortfall = worst_shortfall.max(loss - required);
        t += h;
    }
    let p = 1.0 - config.confidence;
    let breaches = hits.iter().filter(|b| **b).count() as u64;
    Ok(Coverage {
        kupiec: kupiec_pof(breaches, hits.len() as u64, p),
        christoffersen: christoffersen(&hits, p),
        breaches,
        worst_shortfall,
        hits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measures::{normal_es, normal_var};
    use liqsim_core::StreamId;
    use rand::distr::Distribution;
    use statrs::distribution::Normal;

    #[test]
    fn kupiec_non_rejection_regions_match_the_published_table() {
        // Kupiec (1995), as tabulated in Jorion, Value at Risk, Table 6-2: at 95%
        // confidence the POF test does not reject N failures in T when N lies strictly
        // inside these bounds. The table prints "N < 7" for p = 1%, T = 255; the statistic
        // also rejects N = 0 there (LR = -2 ln 0.99^255 = 5.126 > 3.841), so 0 is a bound.
        let table = [
            (0.01, 255, Some(0), 7),
            (0.01, 510, Some(1), 11),
            (0.01, 1000, Some(4), 17),
            (0.025, 255, Some(2), 12),
            (0.025, 510, Some(6), 21),
            (0.025, 1000, Some(15), 36),
            (0.05, 255, Some(6), 21),
            (0.05, 510, Some(16), 36),
            (0.05, 1000, Some(37), 65),
        ];
        for (p, periods, low, high) in table {
            let lo = low.map_or(0, |l: u64| l + 1);
            for n in lo..high {
                let t = kupiec_pof(n, periods, p);
                assert!(t.p_value > 0.05, "p {p} T {periods} N {n}: {t:?}");
            }
            assert!(kupiec_pof(high, periods, p).p_value < 0.05, "p {p} T {periods} N {high}");
            if let Some(l) = low {
                assert!(kupiec_pof(l, periods, p).p_value < 0.05, "p {p} T {periods} N {l}");
            }
        }
        // Exactly the expected count: LR = 0, p-value 1.
        let t = kupiec_pof(10, 1000, 0.01);
        assert!(t.statistic.abs() < 1e-12 && (t.p_value - 1.0).abs() < 1e-12);
    }

    #[test]
    fn christoffersen_clustered_breaches() {
        // 250 days at p = 4%, breaches on days 40-42, 100-101 and 200-204 (a textbook
        // clustering exercise): 10 breaches = 4% of 250, so LR_uc = 0, but the runs give
        // n01 = 3, n11 = 7, n10 = 3, n00 = 236 and independence is rejected.
        let mut hits = vec![false; 250];
        for day in [40, 41, 42, 100, 101, 200, 201, 202, 203, 204] {
            hits[day - 1] = true;
        }
        assert_eq!(transitions(&hits), [[236, 3], [3, 7]]);
        let c = christoffersen(&hits, 0.04);
        assert!(c.unconditional.statistic.abs() < 1e-12);
        // By hand: ln L0 = 239 ln(239/249) + 10 ln(10/249) = -41.94534;
        // ln L1 = 236 ln(236/239) + 3 ln(3/239) + 3 ln 0.3 + 7 ln 0.7 = -22.22321.
        let ll0 = 239.0 * (239.0f64 / 249.0).ln() + 10.0 * (10.0f64 / 249.0).ln();
        let ll1 = 236.0 * (236.0f64 / 239.0).ln()
            + 3.0 * (3.0f64 / 239.0).ln()
            + 3.0 * 0.3f64.ln()
            + 7.0 * 0.7f64.ln();
        assert!((c.independence.statistic - 2.0 * (ll1 - ll0)).abs() < 1e-9);
        assert!((c.independence.statistic - 39.444).abs() < 0.01, "{c:?}");
        assert!(c.independence.p_value < 1e-9);
        assert!((c.conditional.statistic - c.independence.statistic).abs() < 1e-9);
        // The same ten breaches spread out evenly: independence is not rejected.
        let spread: Vec<bool> = (0..250).map(|d| d % 25 == 12).collect();
        let s = christoffersen(&spread, 0.04);
        assert!(s.independence.p_value > 0.05, "{s:?}");
    }

    #[test]
    fn no_breaches_gives_finite_statistics() {
        let c = christoffersen(&[false; 100], 0.01);
        // -2 ln(0.99^100) = 2.010067.
        assert!((c.unconditional.statistic - 2.010_067).abs() < 1e-6);
        assert_eq!(c.independence.statistic, 0.0);
        assert!(c.conditional.p_value > 0.3);
    }

    #[test]
    fn z2_critical_value_matches_acerbi_szekely() {
        // Standard normal forecasts, T = 250, alpha = 0.975: the simulated 5% quantile of
        // Z2 under the null is near -0.70 (Acerbi and Szekely 2014, Table 2). With 4000
        // simulations the 5% quantile's standard error is about 0.02.
        let alpha = 0.975;
        let f = Forecast { var: normal_var(alpha, 0.0, 1.0), es: normal_es(alpha, 0.0, 1.0) };
        let forecasts = vec![f; 250];
        let normal = Normal::standard();
        let mut rng = StreamId::named("z2").rng(5);
        let mut stats: Vec<f64> = (0..4000)
            .map(|_| {
                let l: Vec<f64> = (0..250).map(|_| normal.sample(&mut rng)).collect();
                z2(&l, &forecasts, alpha)
            })
            .collect();
        let q05 = crate::measures::var(&mut stats.iter().map(|z| -z).collect::<Vec<_>>(), 0.95);
        assert!((-q05 + 0.70).abs() < 0.08, "5% quantile {}", -q05);
        let mean = stats.iter().sum::<f64>() / stats.len() as f64;
        // Mean 0 under the null; sd of Z2 is about 0.35 here, so 5 s.e. = 0.03.
        assert!(mean.abs() < 0.03, "{mean}");
        stats.clear();

        // Losses twice as wide as forecast: Z2 far below 0 and a tiny p-value.
        let wide: Vec<f64> = (0..250).map(|_| 2.0 * normal.sample(&mut rng)).collect();
        let (z, p) = z2_test(&wide, &forecasts, alpha, 999, &mut rng, |_, r| normal.sample(r));
        assert!(z < -0.7 && p < 0.01, "{z} {p}");
        // Losses from the forecast: p-value not small.
        let right: Vec<f64> = (0..250).map(|_| normal.sample(&mut rng)).collect();
        let (_, p) = z2_test(&right, &forecasts, alpha, 999, &mut rng, |_, r| normal.sample(r));
        assert!(p > 0.01, "{p}");
    }

    #[test]
    fn margin_coverage_of_var_and_thin_fixed_margin() {
        use crate::linear::Measure;
        use crate::model::{MarginModel, PolicyConfig};
        use crate::policies::fixed::FixedConfig;
        use crate::policies::scenario::{ScenarioConfig, ScenarioSource};
        use crate::portfolio::Instrument;
        use crate::scenarios::historical_set;
        // 2000 days of a lognormal price with 3% daily volatility.
        let normal = Normal::standard();
        let mut rng = StreamId::named("coverage").rng(11);
        let mut closes = vec![100.0];
        for _ in 0..2000 {
            let last = closes[closes.len() - 1];
            closes.push(last * (0.03 * normal.sample(&mut rng)).exp());
        }
        let position = [Position { instrument: Instrument::Perpetual, quantity: 10.0 }];
        let config = CoverageConfig {
            window: 500,
            horizon_periods: 1,
            period_years: 1.0 / 365.0,
            vol: 0.6,
            rate: 0.0,
            confidence: 0.99,
        };
        let var = |history: &[f64], market: &Market| {
            let recent = &history[history.len() - 500..];
            let config = ScenarioConfig {
                measure: Measure::Var,
                confidence: 0.99,
                maintenance_fraction: 0.5,
                source: ScenarioSource::Set(historical_set(recent, 1, 1.0 / 365.0, 0.94)),
                apc: None,
                max_leverage: 1000.0,
                horizon_years: 1.0 / 365.0,
            };
            MarginModel::new(PolicyConfig::Scenario(config), 0)?.portfolio(&position, market)
        };
        let c = margin_coverage(&closes, &position, &config, var).unwrap();
        assert_eq!(c.hits.len(), 1501);
        // About 15 breaches expected; the POF test does not reject.
        assert!((5..=30).contains(&c.breaches), "{c:?}");
        assert!(c.kupiec.p_value > 0.01, "{:?}", c.kupiec);
        // A flat 2% margin on a 3%-a-day asset is breached when the log return is below
        // ln 0.98 = -0.0202, that is 0.673 sd: P = 25.0%, far above 1%, so rejected.
        let mut fixed =
            MarginModel::new(PolicyConfig::Fixed(FixedConfig::flat(0.02, 0.01, 0.1)), 0).unwrap();
        let c = margin_coverage(&closes, &position, &config, |_, m| fixed.portfolio(&position, m))
            .unwrap();
        let rate = c.breaches as f64 / c.hits.len() as f64;
        // 25% with a binomial s.e. of 1.1%: 5 s.e. either side.
        assert!((rate - 0.250).abs() < 0.056, "{rate}");
        assert!(c.kupiec.p_value < 1e-10 && c.worst_shortfall > 0.0);
        assert!(margin_coverage(&closes[..10], &position, &config, var).is_err());
    }
}
