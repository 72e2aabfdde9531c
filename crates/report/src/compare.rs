//! `liqsim compare` outputs: margin policies side by side over the same seeds, as a
//! table, CSV, JSON and `compare.html`.
//!
//! Statistics come from `liqsim_sweep::stats`: mean with a percentile-bootstrap 95%
//! interval (inside the data's range, so never negative for a non-negative quantity),
//! type-8 quantiles with p99 only from 100 seeds ("max of n" below), paired differences
//! against the first policy (common random numbers: the same seed gives the same price
//! path under every policy), and Wilson intervals for the probability that the insurance
//! fund is exhausted.
//!
//! The headline is the figure a margin policy is chosen by: bad debt per unit of margin
//! locked (mean bad debt over mean initial margin, its interval from resampling the seeds
//! jointly) beside P(fund exhausted).
//!
//! Ordering rules: policies in the order given; metrics in [`METRICS`] order; seeds in
//! run order. Known limitations: a metric that is absent for some seeds (amplification
//! with no liquidation, procyclicality with no pre-stress margin) is summarized over the
//! seeds where it exists, and its paired difference only when it exists for every seed.

use crate::html::{page, panel};
use crate::human::{self, fixed, plural};
use crate::json::Json;
use crate::run::{fund_drawdown, procyclicality};
use crate::svg::{Axis, Chart, PALETTE, Swatch, escape};
use liqsim_core::Money;
use liqsim_sim::Outcome;
use liqsim_sweep::stats::{Summary, paired_difference, proportion, summarize};
use statrs::statistics::{Data, OrderStatistics};
use std::fmt::Write as _;

/// The figures of one run that are compared across seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    pub seed: u64,
    pub bad_debt: Money,
    /// The insurance fund's fall from its start to its lowest point, not below zero. The
    /// fund is marked with the liquidation engine's inventory, so this is what the
    /// engine's losses and the bad debt it paid cost it, where `bad_debt` counts only
    /// losses beyond the accounts' bankruptcy.
    pub fund_drawdown: Money,
    pub fund_exhausted: bool,
    pub liquidation_count: u64,
    pub liquidated_notional: Money,
    pub adl_notional: Money,
    pub socialized_loss: Money,
    pub max_depth: u32,
    pub amplification: Option<f64>,
    pub mean_initial_margin: Money,
    pub peak_initial_margin: Money,
    pub procyclicality: Option<f64>,
}

impl RunFigures {
    pub fn from_outcome(o: &Outcome) -> RunFigures {
        RunFigures {
            seed: o.seed,
            bad_debt: o.bad_debt,
            fund_drawdown: fund_drawdown(o),
            fund_exhausted: o.fund_exhausted.is_some(),
            liquidation_count: o.liquidations.count,
            liquidated_notional: o.liquidations.notional,
            adl_notional: o.adl.notional,
            socialized_loss: o.socialized_loss,
            max_depth: o.cascade.max_depth,
            amplification: o.cascade.amplification,
            mean_initial_margin: o.margin.mean_initial,
            peak_initial_margin: o.margin.peak_initial,
            procyclicality: procyclicality(o),
        }
    }
}

/// One policy's runs, in seed order.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRuns {
    pub policy: String,
    pub runs: Vec<RunFigures>,
}

/// A comparison: every policy over the same seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub scenario: String,
    /// What money is quoted in, for the table and the page.
    pub quote_currency: String,
    pub seeds: Vec<u64>,
    pub policies: Vec<PolicyRuns>,
}

/// A probability with its 95% interval.
pub type Proportion = (f64, (f64, f64));
/// An estimate with an optional 95% interval.
pub type Estimate = (f64, Option<(f64, f64)>);

/// The unit of a metric in money: reports print the comparison's quote currency.
pub const MONEY: &str = "money";

/// A compared metric: name, unit, value of a run (absent when undefined for that run).
pub type Metric = (&'static str, &'static str, fn(&RunFigures) -> Option<f64>);

pub const METRICS: [Metric; 11] = [
    ("bad_debt", MONEY, |r| Some(r.bad_debt.to_f64())),
    ("fund_drawdown", MONEY, |r| Some(r.fund_drawdown.to_f64())),
    ("liquidated_notional", MONEY, |r| Some(r.liquidated_notional.to_f64())),
    ("liquidations", "count", |r| Some(r.liquidation_count as f64)),
    ("adl_notional", MONEY, |r| Some(r.adl_notional.to_f64())),
    ("socialized_loss", MONEY, |r| Some(r.socialized_loss.to_f64())),
    ("max_depth", "levels", |r| Some(f64::from(r.max_depth))),
    ("amplification", "ratio", |r| r.amplification),
    ("mean_initial_margin", MONEY, |r| Some(r.mean_initial_margin.to_f64())),
    ("peak_initial_margin", MONEY, |r| Some(r.peak_initial_margin.to_f64())),
    ("procyclicality", "ratio", |r| r.procyclicality),
];

/// The statistics of one metric of one policy.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricStats {
    pub policy: String,
    pub metric: &'static str,
    pub summary: Summary,
    /// Against the first policy on the same seeds; `None` for the first policy.
    pub diff_vs_first: Option<Summary>,
}

/// Values of `metric` over a policy's runs where defined, and whether all were.
pub fn values(runs: &[RunFigures], metric: fn(&RunFigures) -> Option<f64>) -> (Vec<f64>, bool) {
    let v: Vec<f64> = runs.iter().filter_map(metric).collect();
    let complete = v.len() == runs.len();
    (v, complete)
}

impl Comparison {
    /// Statistics of every metric of every policy (metrics with no value are skipped).
    pub fn stats(&self) -> Vec<MetricStats> {
        let first = self.policies.first();
        let mut out = Vec::new();
        for pr in &self.policies {
            for (name, _, f) in METRICS {
                let (v, complete) = values(&pr.runs, f);
                let Some(summary) = summarize(&v) else { continue };
                let diff_vs_first = first.filter(|b| b.policy != pr.policy).and_then(|b| {
                    let (base, base_complete) = values(&b.runs, f);
                    (complete && base_complete).then(|| paired_difference(&v, &base)).flatten()
                });
                out.push(MetricStats {
                    policy: pr.policy.clone(),
                    metric: name,
                    summary,
                    diff_vs_first,
                });
            }
        }
        out
    }

    /// Per policy: (share of seeds with the fund exhausted, 95% Wilson interval).
    pub fn fund_exhaustion(&self) -> Vec<(String, Option<Proportion>)> {
        self.policies
            .iter()
            .map(|p| {
                (
                    p.policy.clone(),
                    proportion(&p.runs.iter().map(|r| r.fund_exhausted).collect::<Vec<_>>()),
                )
            })
            .collect()
    }
}

fn f6(v: f64) -> String {
    format!("{v:.6}")
}

fn ci(s: &Summary) -> (String, String) {
    s.ci95.map_or((String::new(), String::new()), |(lo, hi)| (f6(lo), f6(hi)))
}

/// Columns of the comparison CSV: one row per (policy, metric), then one
/// `fund_exhausted` row per policy whose `mean` is the probability and whose interval is
/// Wilson's.
pub const COMPARISON_HEADER: [&str; 13] = [
    "policy",
    "metric",
    "seeds",
    "mean",
    "ci95_low",
    "ci95_high",
    "median",
    "p95",
    "p99",
    "max",
    "diff_vs_first_mean",
    "diff_ci95_low",
    "diff_ci95_high",
];

/// CSV text of a field: quoted when it holds a comma, quote or line break.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

pub fn comparison_csv(c: &Comparison) -> String {
    let mut text = COMPARISON_HEADER.join(",") + "\n";
    let stats = c.stats();
    for pr in &c.policies {
        for s in stats.iter().filter(|s| s.policy == pr.policy) {
            let (lo, hi) = ci(&s.summary);
            let (dlo, dhi) = s.diff_vs_first.as_ref().map(ci).unwrap_or_default();
            let row = [
                csv_field(&s.policy),
                s.metric.to_string(),
                s.summary.n.to_string(),
                f6(s.summary.mean),
                lo,
                hi,
                f6(s.summary.median),
                f6(s.summary.p95),
                s.summary.p99.map(f6).unwrap_or_default(),
                f6(s.summary.max),
                s.diff_vs_first.map(|d| f6(d.mean)).unwrap_or_default(),
                dlo,
                dhi,
            ];
            text.push_str(&row.join(","));
            text.push('\n');
        }
        let flags: Vec<bool> = pr.runs.iter().map(|r| r.fund_exhausted).collect();
        if let Some((p, (lo, hi))) = proportion(&flags) {
            let row = [
                csv_field(&pr.policy),
                "fund_exhausted".into(),
                flags.len().to_string(),
                f6(p),
                f6(lo),
                f6(hi),
            ];
            text.push_str(&row.join(","));
            text.push_str(",,,,,,,\n");
        }
    }
    text
}

fn summary_json(s: &Summary) -> Json {
    Json::obj()
        .with("n", Json::int(s.n as u64))
        .with("mean", Json::fixed(s.mean, 6))
        .with(
            "ci95",
            s.ci95.map_or(Json::Null, |(lo, hi)| {
                Json::Array(vec![Json::fixed(lo, 6), Json::fixed(hi, 6)])
            }),
        )
        .with("std_dev", Json::fixed(s.std_dev, 6))
        .with("min", Json::fixed(s.min, 6))
        .with("median", Json::fixed(s.median, 6))
        .with("p95", Json::fixed(s.p95, 6))
        .with("p99", Json::opt(s.p99.map(|p| Json::fixed(p, 6))))
        .with("max", Json::fixed(s.max, 6))
}

/// `{ scenario, seeds: [..], policies: { <policy>: { <metric>: { n, mean, ci95, std_dev,
/// min, median, p95, p99, max, diff_vs_first }, fund_exhausted: { probability, ci95, n } } } }`.
pub fn comparison_json(c: &Comparison) -> String {
    let stats = c.stats();
    let exhaustion = c.fund_exhaustion();
    let mut policies = Json::obj();
    for (pr, (_, ex)) in c.policies.iter().zip(&exhaustion) {
        let mut entry = Json::obj();
        for s in stats.iter().filter(|s| s.policy == pr.policy) {
            entry = entry.with(
                s.metric,
                summary_json(&s.summary).with(
                    "diff_vs_first",
                    s.diff_vs_first.as_ref().map_or(Json::Null, summary_json),
                ),
            );
        }
        let ex_json = ex.map_or(Json::Null, |(p, (lo, hi))| {
            Json::obj()
                .with("probability", Json::fixed(p, 6))
                .with("ci95", Json::Array(vec![Json::fixed(lo, 6), Json::fixed(hi, 6)]))
                .with("n", Json::int(pr.runs.len() as u64))
        });
        policies = policies.with(&pr.policy, entry.with("fund_exhausted", ex_json));
    }
    Json::obj()
        .with("scenario", Json::str(&c.scenario))
        .with("seeds", Json::Array(c.seeds.iter().map(|s| Json::int(*s)).collect()))
        .with("policies", policies)
        .render()
}

/// Bad debt per unit of mean initial margin of one policy: (mean bad debt / mean
/// margin, its 95% percentile-bootstrap interval resampling seeds jointly); `None` when
/// the mean margin is not positive.
pub fn bad_debt_per_margin(runs: &[RunFigures]) -> Option<Estimate> {
    let bad: Vec<f64> = runs.iter().map(|r| r.bad_debt.to_f64()).collect();
    let margin: Vec<f64> = runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect();
    let ratio = |idx: &mut dyn Iterator<Item = usize>| {
        let (b, m) = idx.fold((0.0, 0.0), |(b, m), i| (b + bad[i], m + margin[i]));
        if m > 0.0 { b / m } else { f64::NAN }
    };
    let point = ratio(&mut (0..runs.len()));
    if !point.is_finite() {
        return None;
    }
    let ci = liqsim_sweep::stats::bootstrap(runs.len(), |idx| ratio(&mut idx.iter().copied()));
    Some((point, ci))
}

/// The decision headline, one entry per policy in order: (policy, bad debt per unit of
/// mean margin, P(fund exhausted), mean margin).
pub fn decision(c: &Comparison) -> Vec<(String, Option<Estimate>, Option<Proportion>, f64)> {
    c.policies
        .iter()
        .map(|p| {
            let margin = p.runs.iter().map(|r| r.mean_initial_margin.to_f64()).sum::<f64>()
                / p.runs.len().max(1) as f64;
            (
                p.policy.clone(),
                bad_debt_per_margin(&p.runs),
                proportion(&p.runs.iter().map(|r| r.fund_exhausted).collect::<Vec<_>>()),
                margin,
            )
        })
        .collect()
}

/// The policy with the least bad debt per unit of margin, and whether its interval lies
/// wholly below every other policy's (so the ranking is not noise).
pub fn safest(c: &Comparison) -> Option<(String, bool)> {
    let d = decision(c);
    let best = d
        .iter()
        .filter_map(|(p, e, _, _)| e.map(|e| (p, e)))
        .min_by(|a, b| a.1.0.total_cmp(&b.1.0))?;
    let clear = d.iter().filter(|(p, _, _, _)| p != best.0).all(|(_, e, _, _)| {
        match (best.1.1, e.and_then(|e| e.1)) {
            (Some((_, hi)), Some((lo, _))) => hi < lo,
            _ => false,
        }
    });
    Some((best.0.clone(), clear))
}

/// The sentence under the headline: which policy is safest per unit of margin, and how
/// sure the seeds make that.
pub fn verdict(c: &Comparison) -> String {
    let d = decision(c);
    let zero: Vec<&str> = d
        .iter()
        .filter(|(_, e, _, _)| e.is_some_and(|e| e.0 == 0.0))
        .map(|(p, _, _, _)| p.as_str())
        .collect();
    if zero.len() > 1 {
        return format!(
            "{} left no bad debt in any seed: among them, weigh P(fund exhausted) against the margin they lock.",
            zero.join(", ")
        );
    }
    match safest(c) {
        Some((best, true)) => format!(
            "Safest per unit of margin: {best} (its interval lies below every other policy's)."
        ),
        Some((best, false)) => format!(
            "Lowest per unit of margin: {best}, but its interval overlaps another policy's: more seeds (--until-width) are needed to rank them."
        ),
        None => "No policy locked any margin.".into(),
    }
}

fn per_thousand(e: &Option<Estimate>, currency: &str) -> String {
    e.map_or_else(
        || "-".into(),
        |(v, ci)| {
            let ci = ci.map_or_else(String::new, |(lo, hi)| {
                format!(
                    " [{}, {}]",
                    human::significant(lo * 1e3, 3),
                    human::significant(hi * 1e3, 3)
                )
            });
            format!("{} {currency}{ci}", human::significant(v * 1e3, 3))
        },
    )
}

fn probability(e: &Option<Proportion>) -> String {
    e.map_or_else(|| "-".into(), |(p, (lo, hi))| format!("{p:.2} [{lo:.2}, {hi:.2}]"))
}

/// The table people read: first the decision headline (bad debt per 1,000 of margin
/// locked and P(fund exhausted), with intervals), then one line per policy with the
/// figures behind it.
pub fn comparison_table(c: &Comparison) -> String {
    let cur = c.quote_currency.as_str();
    let n = c.seeds.len();
    let mut lines = vec![format!(
        "Bad debt per 1,000 {cur} of margin locked, and the chance the insurance fund runs out ({}, {} per policy):",
        c.scenario,
        plural(n as u64, "seed", "seeds")
    )];
    lines.push(format!(
        "{:<7}  {:>38}  {:>20}  {:>16}",
        "policy", "bad debt per 1,000 margin [95%]", "P(fund out) [95%]", "mean margin"
    ));
    for (policy, ratio, ex, margin) in decision(c) {
        lines.push(format!(
            "{:<7}  {:>38}  {:>20}  {:>16}",
            policy,
            per_thousand(&ratio, cur),
            probability(&ex),
            human::money_compact(margin, cur)
        ));
    }
    lines.push(verdict(c));
    lines.push(String::new());
    let stats = c.stats();
    let stat = |policy: &str, metric: &str| {
        stats.iter().find(|s| s.policy == policy && s.metric == metric).cloned()
    };
    let tail_name =
        stat(&c.policies.first().map_or(String::new(), |p| p.policy.clone()), "bad_debt")
            .map_or_else(|| "max".into(), |s| s.summary.tail().0);
    lines.push(format!(
        "{:<7} {:>12} {:>12} {:>28} {:>13} {:>12} {:>12} {:>13}",
        "policy",
        "bad debt",
        format!("bd {tail_name}"),
        "paired diff [95%]",
        "fund drawdown",
        "mean margin",
        "peak margin",
        "cascade depth"
    ));
    for pr in &c.policies {
        let bad = stat(&pr.policy, "bad_debt");
        let drawdown = stat(&pr.policy, "fund_drawdown");
        let margin = stat(&pr.policy, "mean_initial_margin");
        let peak = stat(&pr.policy, "peak_initial_margin");
        let depth = stat(&pr.policy, "max_depth");
        let m = |s: &Option<MetricStats>, f: fn(&Summary) -> f64| {
            s.as_ref().map_or_else(|| "-".into(), |s| human::compact(f(&s.summary)))
        };
        let diff = bad.as_ref().and_then(|s| s.diff_vs_first).map_or_else(
            || "(base)".into(),
            |d| {
                let ci = d.ci95.map_or_else(String::new, |(lo, hi)| {
                    format!(" [{}, {}]", human::compact(lo), human::compact(hi))
                });
                format!("{}{ci}", signed(d.mean))
            },
        );
        lines.push(format!(
            "{:<7} {:>12} {:>12} {:>28} {:>13} {:>12} {:>12} {:>13}",
            pr.policy,
            m(&bad, |s| s.mean),
            m(&bad, |s| s.tail().1),
            diff,
            m(&drawdown, |s| s.mean),
            m(&margin, |s| s.mean),
            m(&peak, |s| s.max),
            depth.map_or_else(|| "-".into(), |s| format!("{:.1}", s.summary.mean)),
        ));
    }
    lines.push(format!(
        "Money in {cur}, means over seeds unless named. bd {tail_name}: the largest bad debt of the seeds{}. Paired diff: mean bad debt minus the first policy's on the same seeds, bootstrap 95% interval. Fund drawdown: mean fall of the insurance fund (marked with the liquidation engine's inventory) from its start to its lowest. Cascade depth: mean over seeds of the longest chain of liquidations each caused by the one before (0: none caused another).",
        if n >= liqsim_sweep::stats::MIN_SEEDS_FOR_P99 { " (p99 from 100 seeds on)" } else { "; a p99 needs at least 100 seeds" }
    ));
    lines.join("\n") + "\n"
}

fn signed(v: f64) -> String {
    let text = human::compact(v);
    if v > 0.0 { format!("+{text}") } else { text }
}

/// Five-number summary for a box plot: min, first quartile, median, third quartile,
/// max (type-8 quantiles, as `liqsim_sweep::stats`).
pub fn five_numbers(values: &[f64]) -> Option<[f64; 5]> {
    let s = summarize(values)?;
    let mut data = Data::new(values.to_vec());
    Some([s.min, data.quantile(0.25), s.median, data.quantile(0.75), s.max])
}

fn category_axis(label: &str, n: usize) -> Axis {
    let mut a = Axis::linear(label, -0.5, n as f64 - 0.5);
    a.ticks = vec![-0.5, n as f64 - 0.5];
    a
}

fn policy_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Fewest seeds for which a box plot says more than the seeds themselves; below it each
/// seed is a dot and nothing is summarized away (two groups of outcomes stay visible).
pub const MIN_SEEDS_FOR_BOXES: usize = 30;

/// Bad debt across seeds, one column per policy: every seed a dot (spread sideways so
/// equal values stay visible) with the mean and its 95% interval beside, and from
/// [`MIN_SEEDS_FOR_BOXES`] seeds on a box of quartiles behind them.
pub fn bad_debt_boxes(c: &Comparison) -> Chart {
    let n = c.policies.len();
    let seeds = c.seeds.len();
    let all: Vec<f64> =
        c.policies.iter().flat_map(|p| p.runs.iter().map(|r| r.bad_debt.to_f64())).collect();
    let hi = all.iter().copied().fold(0.0, f64::max);
    let boxes = seeds >= MIN_SEEDS_FOR_BOXES;
    let title = if boxes {
        "Bad debt across seeds, per margin policy (box: quartiles, whiskers: min and max, dots: seeds, bar: mean and 95% interval)"
    } else {
        "Bad debt of every seed, per margin policy (dots: seeds; bar: mean and its 95% interval)"
    };
    let mut chart = Chart::new(
        "bad-debt",
        title,
        category_axis("margin policy", n),
        Axis::linear(&format!("bad debt per run ({})", c.quote_currency), 0.0, hi.max(1.0)),
    )
    .with_size(1200.0, 380.0);
    let labels: Vec<(f64, String)> =
        c.policies.iter().enumerate().map(|(i, p)| (i as f64, p.policy.clone())).collect();
    chart.category_labels(&labels);
    for (i, p) in c.policies.iter().enumerate() {
        let v: Vec<f64> = p.runs.iter().map(|r| r.bad_debt.to_f64()).collect();
        if boxes && let Some(five) = five_numbers(&v) {
            let title = format!(
                "{}: min {}, q1 {}, median {}, q3 {}, max {}",
                p.policy,
                fixed(five[0], 2),
                fixed(five[1], 2),
                fixed(five[2], 2),
                fixed(five[3], 2),
                fixed(five[4], 2)
            );
            chart.boxplot(i as f64, 0.18, five, policy_color(i), &title);
        }
        for (k, r) in p.runs.iter().enumerate() {
            // Deterministic sideways spread so equal values stay visible.
            let dx = ((k % 9) as f64 - 4.0) * 0.03;
            chart.point(
                i as f64 + dx,
                r.bad_debt.to_f64(),
                policy_color(i),
                3.0,
                &format!("seed {}: {}", r.seed, human::money(r.bad_debt, &c.quote_currency)),
                None,
            );
        }
        if let Some(s) = summarize(&v) {
            let x = i as f64 + 0.3;
            if let Some((lo, hi)) = s.ci95 {
                chart.errorbar(
                    x,
                    lo,
                    hi,
                    "#222",
                    &format!(
                        "{}: mean {}, 95% interval {} to {}",
                        p.policy,
                        fixed(s.mean, 2),
                        fixed(lo, 2),
                        fixed(hi, 2)
                    ),
                );
            }
            chart.point(
                x,
                s.mean,
                "#222",
                3.5,
                &format!("{}: mean {}", p.policy, fixed(s.mean, 2)),
                None,
            );
        }
    }
    chart
}

/// Bars with 95% intervals per policy: `value(policy) -> (estimate, interval)`.
fn interval_bars(
    c: &Comparison,
    id: &str,
    title: &str,
    y_label: &str,
    value: &dyn Fn(&PolicyRuns) -> Option<Estimate>,
    width: f64,
) -> Chart {
    let n = c.policies.len();
    let vals: Vec<Option<Estimate>> = c.policies.iter().map(value).collect();
    let hi =
        vals.iter().flatten().map(|(v, ci)| ci.map_or(*v, |c| c.1.max(*v))).fold(0.0, f64::max);
    let mut chart = Chart::new(
        id,
        title,
        category_axis("margin policy", n),
        // All zero: a unit axis, not one around zero that shows negative values.
        Axis::linear(y_label, 0.0, if hi > 0.0 { hi } else { 1.0 }),
    )
    .with_size(width, 340.0);
    let labels: Vec<(f64, String)> =
        c.policies.iter().enumerate().map(|(i, p)| (i as f64, p.policy.clone())).collect();
    chart.category_labels(&labels);
    for (i, (p, v)) in c.policies.iter().zip(&vals).enumerate() {
        if let Some((est, ci)) = v {
            let x = i as f64;
            chart.bar(
                x - 0.3,
                x + 0.3,
                0.0,
                *est,
                policy_color(i),
                &format!("{}: {}", p.policy, fixed(*est, 4)),
            );
            if let Some((lo, hi)) = ci {
                chart.errorbar(
                    x,
                    *lo,
                    *hi,
                    "#222",
                    &format!("95% interval {} to {}", fixed(*lo, 4), fixed(*hi, 4)),
                );
            }
        }
    }
    chart
}

/// Probability that the insurance fund is exhausted, per policy, with Wilson intervals.
pub fn exhaustion_chart(c: &Comparison) -> Chart {
    interval_bars(
        c,
        "fund-exhaustion",
        "P(insurance fund exhausted), 95% Wilson interval",
        "share of seeds",
        &|p| {
            proportion(&p.runs.iter().map(|r| r.fund_exhausted).collect::<Vec<_>>())
                .map(|(v, ci)| (v, Some(ci)))
        },
        590.0,
    )
}

/// Bad debt per 1,000 of mean margin locked, per policy, with bootstrap intervals: the
/// headline of the comparison.
pub fn decision_chart(c: &Comparison) -> Chart {
    interval_bars(
        c,
        "bad-debt-per-margin",
        &format!("Bad debt per 1,000 {} of margin, 95% interval", c.quote_currency),
        &format!("{} of bad debt per 1,000 of margin", c.quote_currency),
        &|p| {
            bad_debt_per_margin(&p.runs)
                .map(|(v, ci)| (v * 1e3, ci.map(|(lo, hi)| (lo * 1e3, hi * 1e3))))
        },
        590.0,
    )
}

/// Mean initial margin per policy, with bootstrap intervals.
pub fn margin_bars(c: &Comparison) -> Chart {
    interval_bars(
        c,
        "mean-margin",
        "Mean initial margin locked, 95% interval",
        &c.quote_currency,
        &|p| {
            summarize(&p.runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect::<Vec<_>>())
                .map(|s| (s.mean, s.ci95))
        },
        1200.0,
    )
}

/// A point of a safety-vs-capital scatter.
#[derive(Debug, Clone, PartialEq)]
pub struct FrontierPoint {
    pub label: String,
    /// Mean over seeds of the run's mean initial margin.
    pub margin: f64,
    /// Mean bad debt over seeds, with its 95% interval.
    pub bad_debt: f64,
    pub bad_debt_ci: Option<(f64, f64)>,
    /// No other point is lower on both, by more than the seeds' noise
    /// ([`liqsim_sweep::frontier_paired`]).
    pub on_frontier: bool,
}

/// The points of the safety-vs-capital scatter, one per policy, with the frontier
/// decided on paired differences over the common seeds.
pub fn safety_capital_points(c: &Comparison) -> Vec<FrontierPoint> {
    let series: Vec<(Vec<f64>, Vec<f64>)> = c
        .policies
        .iter()
        .map(|p| {
            (
                p.runs.iter().map(|r| r.bad_debt.to_f64()).collect(),
                p.runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect(),
            )
        })
        .collect();
    let front = liqsim_sweep::frontier_paired(&series);
    c.policies
        .iter()
        .zip(&series)
        .zip(front)
        .filter_map(|((p, (bad, margin)), on_frontier)| {
            let b = summarize(bad)?;
            let m = summarize(margin)?;
            Some(FrontierPoint {
                label: p.policy.clone(),
                margin: m.mean,
                bad_debt: b.mean,
                bad_debt_ci: b.ci95,
                on_frontier,
            })
        })
        .collect()
}

/// A safety-vs-capital scatter: x = mean initial margin, y = mean bad debt with its
/// interval, frontier points green and labelled, dominated points grey (labelled too
/// with `label_all`). Both axes start at zero or above: neither quantity can be
/// negative. Shared by compare (a few policies: all labelled) and sweep (a grid:
/// frontier only).
pub fn frontier_chart(
    id: &str,
    title: &str,
    points: &[FrontierPoint],
    label_all: bool,
    currency: &str,
) -> Chart {
    let (xlo, xhi) = points
        .iter()
        .map(|p| p.margin)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let yhi = points
        .iter()
        .map(|p| p.bad_debt_ci.map_or(p.bad_debt, |c| c.1.max(p.bad_debt)))
        .fold(0.0, f64::max);
    let pad = ((xhi - xlo) * 0.08).max(xhi.abs() * 0.02);
    // Padding stops at zero rather than inventing negative margin.
    let (xlo, xhi) =
        if xlo.is_finite() { ((xlo - pad).max(xlo.min(0.0)), xhi + pad) } else { (0.0, 1.0) };
    let mut x_axis = Axis::linear(
        &format!("mean initial margin locked ({currency}) — lower is cheaper for traders"),
        xlo,
        xhi,
    );
    // Nice ticks round outwards; below zero they would draw an impossible range.
    if xlo >= 0.0 {
        x_axis.ticks.retain(|t| *t >= 0.0);
    }
    let mut chart = Chart::new(
        id,
        title,
        x_axis,
        Axis::linear(
            &format!("mean bad debt across seeds ({currency})"),
            0.0,
            (yhi * 1.08).max(1.0),
        ),
    )
    .with_size(1200.0, 440.0);
    let mut frontier_pts: Vec<(f64, f64)> =
        points.iter().filter(|p| p.on_frontier).map(|p| (p.margin, p.bad_debt)).collect();
    frontier_pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if frontier_pts.len() > 1 {
        let line: Vec<(f64, Option<f64>)> = frontier_pts.iter().map(|p| (p.0, Some(p.1))).collect();
        chart.line(
            "frontier (nothing has less bad debt and less margin beyond the seeds' noise)",
            &line,
            "#009E73",
            true,
            false,
        );
        chart.marks -= 1;
    }
    for p in points {
        let color = if p.on_frontier { "#009E73" } else { "#9a9a9a" };
        if let Some((lo, hi)) = p.bad_debt_ci {
            chart.errorbar(
                p.margin,
                lo,
                hi,
                color,
                &format!("{}: bad debt 95% interval {} to {}", p.label, fixed(lo, 2), fixed(hi, 2)),
            );
        }
    }
    for p in points {
        let title = format!(
            "{}: mean margin {}, mean bad debt {}{}",
            p.label,
            human::money_f64(p.margin, currency),
            human::money_f64(p.bad_debt, currency),
            if p.on_frontier { " (frontier)" } else { "" }
        );
        if p.on_frontier {
            chart.point(p.margin, p.bad_debt, "#009E73", 6.0, &title, Some(&p.label));
        } else {
            chart.point(
                p.margin,
                p.bad_debt,
                "#9a9a9a",
                4.5,
                &title,
                if label_all { Some(&p.label) } else { None },
            );
        }
    }
    chart.legend("#009E73", "on the frontier", Swatch::Dot);
    chart.legend("#9a9a9a", "dominated beyond the noise", Swatch::Dot);
    chart
}

/// `compare.html`: the decision headline (bad debt per unit of margin and P(fund
/// exhausted)), bad debt of every seed, mean margin, the safety-vs-capital scatter and
/// the statistics table.
pub fn compare_html(c: &Comparison) -> String {
    let cur = c.quote_currency.as_str();
    let n = c.seeds.len();
    let mut head = String::new();
    head.push_str("<h2>Which policy is safest per unit of margin locked</h2>\n<table class=\"decision\">\n<tr><th>policy</th><th>bad debt per 1,000 of margin [95%]</th><th>P(fund exhausted) [95%]</th><th>mean margin</th></tr>\n");
    let best = safest(c);
    for (policy, ratio, ex, margin) in decision(c) {
        let is_best = best.as_ref().is_some_and(|b| b.0 == policy);
        let _ = writeln!(
            head,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if is_best { " class=\"front\"" } else { "" },
            escape(&policy),
            escape(&per_thousand(&ratio, cur)),
            escape(&probability(&ex)),
            escape(&human::money_compact(margin, cur))
        );
    }
    head.push_str("</table>\n");
    let verdict = escape(&verdict(c));
    let _ = writeln!(
        head,
        "<p class=\"sub\">{verdict} Bad debt per 1,000 {cur} of margin is mean bad debt over mean initial margin; its 95% interval resamples the seeds (bootstrap); P(fund exhausted) has Wilson's.</p>"
    );
    let mut table = String::new();
    let _ = writeln!(
        table,
        "<h2>Statistics across seeds</h2>\n<p class=\"sub\">Mean with its 95% bootstrap interval; the tail is the p99 from 100 seeds on, the largest of the {n} seeds below; the paired difference is against the first policy on the same seeds. Money in {cur}; K, M, B: thousands, millions, billions.</p>"
    );
    table.push_str("<table class=\"stats\">\n<tr><th>policy</th><th>metric</th><th>unit</th><th>mean [95%]</th><th>median</th><th>tail</th><th>paired diff vs first [95%]</th></tr>\n");
    let stats = c.stats();
    for pr in &c.policies {
        for s in stats.iter().filter(|s| s.policy == pr.policy) {
            let unit = METRICS.iter().find(|m| m.0 == s.metric).map_or("", |m| m.1);
            let unit = if unit == MONEY { cur } else { unit };
            let sm = &s.summary;
            let ci = sm.ci95.map_or_else(String::new, |(lo, hi)| {
                format!(" [{}, {}]", human::compact(lo), human::compact(hi))
            });
            let diff = s.diff_vs_first.map_or_else(
                || "—".into(),
                |d| {
                    format!(
                        "{}{}",
                        signed(d.mean),
                        d.ci95.map_or_else(String::new, |(lo, hi)| format!(
                            " [{}, {}]",
                            human::compact(lo),
                            human::compact(hi)
                        ))
                    )
                },
            );
            let (tail_name, tail) = sm.tail();
            let _ = writeln!(
                table,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{ci}</td><td>{}</td><td>{} ({tail_name})</td><td>{}</td></tr>",
                escape(&pr.policy),
                s.metric.replace('_', " "),
                escape(unit),
                human::compact(sm.mean),
                human::compact(sm.median),
                human::compact(tail),
                escape(&diff)
            );
        }
    }
    for (policy, e) in c.fund_exhaustion() {
        if let Some((p, (lo, hi))) = e {
            let _ = writeln!(
                table,
                "<tr><td>{}</td><td>fund exhausted</td><td>probability</td><td>{p:.3} [{lo:.3}, {hi:.3}] (Wilson)</td><td></td><td></td><td></td></tr>",
                escape(&policy),
            );
        }
    }
    table.push_str("</table>\n");
    let mut body = head;
    body.push_str("<div style=\"display:grid;grid-template-columns:1fr 1fr;gap:12px\">\n");
    body.push_str(&panel(&decision_chart(c), "Mean bad debt over mean initial margin: what each unit of capital locked leaves uncovered. Lower is safer per unit of margin."));
    body.push_str(&panel(&exhaustion_chart(c), "Share of seeds in which the insurance fund ran out; the interval is Wilson's, valid at 0 and 1."));
    body.push_str("</div>\n");
    body.push_str(&panel(&bad_debt_boxes(c), "Each policy ran on the same seeds (the same price paths), so the columns differ because of the policy alone. Every seed is shown: outcomes that split into groups stay visible."));
    body.push_str(&panel(
        &margin_bars(c),
        "Time-average of total initial margin required: the capital the policy locks.",
    ));
    body.push_str(&panel(
        &frontier_chart("safety-capital", "Safety vs capital: mean bad debt against mean initial margin, per policy", &safety_capital_points(c), true, cur),
        "Down and to the left is better; bars are 95% intervals. A policy is dominated only when another has no more of both and its lead on one of them is beyond the noise of the seeds (the paired difference's interval excludes zero).",
    ));
    body.push_str(&table);
    let subtitle = format!(
        "{} × {} (common random numbers) · money in {cur}",
        plural(c.policies.len() as u64, "policy", "policies"),
        plural(n as u64, "seed", "seeds"),
    );
    page(&format!("liqsim compare: {}", c.scenario), &escape(&subtitle), &body)
}
