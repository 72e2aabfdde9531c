//! `liqsim compare` outputs: margin policies side by side over the same seeds, as a
//! table, CSV, JSON and `compare.html`.
//!
//! Statistics come from `liqsim_sweep::stats`: mean with a Student-t 95% interval,
//! type-8 quantiles, paired differences against the first policy (common random
//! numbers: the same seed gives the same price path under every policy), and Wilson
//! intervals for the probability that the insurance fund is exhausted.
//!
//! Ordering rules: policies in the order given; metrics in [`METRICS`] order; seeds in
//! run order. Known limitations: a metric that is absent for some seeds (amplification
//! with no liquidation, procyclicality with no pre-stress margin) is summarized over the
//! seeds where it exists, and its paired difference only when it exists for every seed.

use crate::html::{page, panel};
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
    pub seeds: Vec<u64>,
    pub policies: Vec<PolicyRuns>,
}

/// A probability with its 95% interval.
pub type Proportion = (f64, (f64, f64));
/// An estimate with an optional 95% interval.
pub type Estimate = (f64, Option<(f64, f64)>);

/// A compared metric: name, unit, value of a run (absent when undefined for that run).
pub type Metric = (&'static str, &'static str, fn(&RunFigures) -> Option<f64>);

pub const METRICS: [Metric; 11] = [
    ("bad_debt", "quote units", |r| Some(r.bad_debt.to_f64())),
    ("fund_drawdown", "quote units", |r| Some(r.fund_drawdown.to_f64())),
    ("liquidated_notional", "quote units", |r| Some(r.liquidated_notional.to_f64())),
    ("liquidations", "count", |r| Some(r.liquidation_count as f64)),
    ("adl_notional", "quote units", |r| Some(r.adl_notional.to_f64())),
    ("socialized_loss", "quote units", |r| Some(r.socialized_loss.to_f64())),
    ("max_depth", "levels", |r| Some(f64::from(r.max_depth))),
    ("amplification", "ratio", |r| r.amplification),
    ("mean_initial_margin", "quote units", |r| Some(r.mean_initial_margin.to_f64())),
    ("peak_initial_margin", "quote units", |r| Some(r.peak_initial_margin.to_f64())),
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

    fn stat(&self, policy: &str, metric: &str) -> Option<MetricStats> {
        self.stats().into_iter().find(|s| s.policy == policy && s.metric == metric)
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
                f6(s.summary.p99),
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
        .with("p99", Json::fixed(s.p99, 6))
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

/// The table people read: one line per policy with the headline figures.
pub fn comparison_table(c: &Comparison) -> String {
    let head = format!(
        "{:<7} {:>15} {:>15} {:>15} {:>16} {:>15} {:>15} {:>15} {:>6}",
        "policy",
        "bad debt mean",
        "bad debt p99",
        "paired diff",
        "P(fund out)",
        "fund drawdown",
        "mean margin",
        "peak margin",
        "depth"
    );
    let mut lines = vec![head];
    let ex = c.fund_exhaustion();
    for (pr, (_, e)) in c.policies.iter().zip(&ex) {
        let bad = c.stat(&pr.policy, "bad_debt");
        let drawdown = c.stat(&pr.policy, "fund_drawdown");
        let margin = c.stat(&pr.policy, "mean_initial_margin");
        let peak = c.stat(&pr.policy, "peak_initial_margin");
        let depth = c.stat(&pr.policy, "max_depth");
        let m = |s: &Option<MetricStats>, f: fn(&Summary) -> f64| {
            s.as_ref().map_or_else(|| "-".into(), |s| format!("{:.2}", f(&s.summary)))
        };
        let diff = bad
            .as_ref()
            .and_then(|s| s.diff_vs_first)
            .map_or_else(|| "(base)".into(), |d| format!("{:+.2}", d.mean));
        let p = e.map_or_else(|| "-".into(), |(p, (lo, hi))| format!("{p:.2} [{lo:.2},{hi:.2}]"));
        lines.push(format!(
            "{:<7} {:>15} {:>15} {:>15} {:>16} {:>15} {:>15} {:>15} {:>6}",
            pr.policy,
            m(&bad, |s| s.mean),
            m(&bad, |s| s.p99),
            diff,
            p,
            m(&drawdown, |s| s.mean),
            m(&margin, |s| s.mean),
            m(&peak, |s| s.max),
            depth.map_or_else(|| "-".into(), |s| format!("{:.1}", s.summary.mean)),
        ));
    }
    lines.push(format!(
        "{} seeds per policy; bad debt and margin in quote units; paired diff: mean bad debt minus the first policy's on the same seeds; P(fund out) with its 95% Wilson interval; fund drawdown: mean fall of the insurance fund (marked with the liquidation engine's inventory) from its start to its lowest",
        c.seeds.len()
    ));
    lines.join("\n") + "\n"
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

/// Box plots of bad debt across seeds, one per policy, with every seed drawn as a dot.
pub fn bad_debt_boxes(c: &Comparison) -> Chart {
    let n = c.policies.len();
    let all: Vec<f64> =
        c.policies.iter().flat_map(|p| p.runs.iter().map(|r| r.bad_debt.to_f64())).collect();
    let hi = all.iter().copied().fold(0.0, f64::max);
    let mut chart = Chart::new(
        "bad-debt",
        "Bad debt across seeds, per margin policy (box: quartiles, whiskers: min and max, dots: seeds)",
        category_axis("margin policy", n),
        Axis::linear("bad debt per run (quote units)", 0.0, hi),
    )
    .with_size(1200.0, 380.0);
    let labels: Vec<(f64, String)> =
        c.policies.iter().enumerate().map(|(i, p)| (i as f64, p.policy.clone())).collect();
    chart.category_labels(&labels);
    for (i, p) in c.policies.iter().enumerate() {
        let v: Vec<f64> = p.runs.iter().map(|r| r.bad_debt.to_f64()).collect();
        if let Some(five) = five_numbers(&v) {
            let title = format!(
                "{}: min {:.2}, q1 {:.2}, median {:.2}, q3 {:.2}, max {:.2}",
                p.policy, five[0], five[1], five[2], five[3], five[4]
            );
            chart.boxplot(i as f64, 0.25, five, policy_color(i), &title);
        }
        for (k, r) in p.runs.iter().enumerate() {
            // Deterministic horizontal spread so equal values stay visible.
            let dx = ((k % 9) as f64 - 4.0) * 0.035;
            chart.point(
                i as f64 + 0.32 + dx.abs(),
                r.bad_debt.to_f64(),
                policy_color(i),
                2.5,
                &format!("seed {}: {}", r.seed, r.bad_debt),
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
) -> Chart {
    let n = c.policies.len();
    let vals: Vec<Option<Estimate>> = c.policies.iter().map(value).collect();
    let hi =
        vals.iter().flatten().map(|(v, ci)| ci.map_or(*v, |c| c.1.max(*v))).fold(0.0, f64::max);
    let mut chart =
        Chart::new(id, title, category_axis("margin policy", n), Axis::linear(y_label, 0.0, hi))
            .with_size(590.0, 340.0);
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
                &format!("{}: {est:.4}", p.policy),
            );
            if let Some((lo, hi)) = ci {
                chart.errorbar(x, *lo, *hi, "#222", &format!("95% interval {lo:.4} to {hi:.4}"));
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
    )
}

/// Mean initial margin per policy, with t intervals.
pub fn margin_bars(c: &Comparison) -> Chart {
    interval_bars(
        c,
        "mean-margin",
        "Mean initial margin locked, 95% interval",
        "quote units",
        &|p| {
            summarize(&p.runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect::<Vec<_>>())
                .map(|s| (s.mean, s.ci95))
        },
    )
}

/// (policy, mean initial margin, bad debt p99) points of the safety-vs-capital scatter.
pub fn safety_capital_points(c: &Comparison) -> Vec<(String, f64, f64)> {
    c.policies
        .iter()
        .filter_map(|p| {
            let m = summarize(
                &p.runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect::<Vec<_>>(),
            )?;
            let b = summarize(&p.runs.iter().map(|r| r.bad_debt.to_f64()).collect::<Vec<_>>())?;
            Some((p.policy.clone(), m.mean, b.p99))
        })
        .collect()
}

/// A safety-vs-capital scatter: x = mean initial margin, y = bad debt p99, frontier
/// points green and labelled, dominated points grey (labelled too with `label_all`).
/// Shared by compare (a few policies: all labelled) and sweep (a grid: frontier only).
pub fn frontier_chart(
    id: &str,
    title: &str,
    points: &[(String, f64, f64)],
    label_all: bool,
) -> Chart {
    let front = liqsim_sweep::frontier(&points.iter().map(|p| (p.2, p.1)).collect::<Vec<_>>());
    let xs = points.iter().map(|p| p.1);
    let ys = points.iter().map(|p| p.2);
    let (xlo, xhi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let yhi = ys.fold(0.0, f64::max);
    let pad = ((xhi - xlo) * 0.08).max(xhi.abs() * 0.02);
    let (xlo, xhi) = if xlo.is_finite() { (xlo - pad, xhi + pad) } else { (0.0, 1.0) };
    let mut chart = Chart::new(
        id,
        title,
        Axis::linear(
            "mean initial margin locked (quote units) — lower is cheaper for traders",
            xlo,
            xhi,
        ),
        Axis::linear("bad debt p99 across seeds (quote units)", 0.0, yhi * 1.08),
    )
    .with_size(1200.0, 440.0);
    let mut frontier_pts: Vec<(f64, f64)> =
        points.iter().zip(&front).filter(|(_, f)| **f).map(|(p, _)| (p.1, p.2)).collect();
    frontier_pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    if frontier_pts.len() > 1 {
        let line: Vec<(f64, Option<f64>)> = frontier_pts.iter().map(|p| (p.0, Some(p.1))).collect();
        chart.line(
            "frontier (no point has both less bad debt and less margin)",
            &line,
            "#009E73",
            true,
            false,
        );
        chart.marks -= 1;
    }
    for (p, f) in points.iter().zip(&front) {
        let title = format!(
            "{}: mean margin {:.2}, bad debt p99 {:.2}{}",
            p.0,
            p.1,
            p.2,
            if *f { " (frontier)" } else { "" }
        );
        if *f {
            chart.point(p.1, p.2, "#009E73", 6.0, &title, Some(&p.0));
        } else {
            chart.point(
                p.1,
                p.2,
                "#9a9a9a",
                4.5,
                &title,
                if label_all { Some(&p.0) } else { None },
            );
        }
    }
    chart.legend("#009E73", "on the frontier", Swatch::Dot);
    chart.legend("#9a9a9a", "dominated", Swatch::Dot);
    chart
}

/// `compare.html`: statistics table, bad debt box plots, fund exhaustion probability,
/// mean margin, and the safety-vs-capital scatter.
pub fn compare_html(c: &Comparison) -> String {
    let mut table = String::new();
    table.push_str("<h2>Statistics across seeds</h2>\n<p class=\"sub\">Mean with its Student-t 95% interval; quantiles are type 8; the paired difference is against the first policy on the same seeds.</p>\n<table>\n<tr><th>policy</th><th>metric</th><th>unit</th><th>n</th><th>mean [95% CI]</th><th>median</th><th>p95</th><th>p99</th><th>max</th><th>paired diff vs first [95% CI]</th></tr>\n");
    let fmt = |v: f64| crate::html::group_thousands(&format!("{v:.2}"));
    let stats = c.stats();
    for pr in &c.policies {
        for s in stats.iter().filter(|s| s.policy == pr.policy) {
            let unit = METRICS.iter().find(|m| m.0 == s.metric).map_or("", |m| m.1);
            let sm = &s.summary;
            let ci =
                sm.ci95.map_or_else(String::new, |(lo, hi)| format!(" [{}, {}]", fmt(lo), fmt(hi)));
            let diff = s.diff_vs_first.map_or_else(
                || "—".into(),
                |d| {
                    format!(
                        "{}{}",
                        fmt(d.mean),
                        d.ci95.map_or_else(String::new, |(lo, hi)| format!(
                            " [{}, {}]",
                            fmt(lo),
                            fmt(hi)
                        ))
                    )
                },
            );
            let _ = writeln!(
                table,
                "<tr><td>{}</td><td>{}</td><td>{unit}</td><td>{}</td><td>{}{ci}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&pr.policy),
                s.metric,
                sm.n,
                fmt(sm.mean),
                fmt(sm.median),
                fmt(sm.p95),
                fmt(sm.p99),
                fmt(sm.max),
                escape(&diff)
            );
        }
    }
    for (policy, e) in c.fund_exhaustion() {
        if let Some((p, (lo, hi))) = e {
            let _ = writeln!(
                table,
                "<tr><td>{}</td><td>fund_exhausted</td><td>probability</td><td>{}</td><td>{p:.3} [{lo:.3}, {hi:.3}] (Wilson)</td><td></td><td></td><td></td><td></td><td></td></tr>",
                escape(&policy),
                c.seeds.len()
            );
        }
    }
    table.push_str("</table>\n");
    let mut body = String::new();
    body.push_str(&panel(&bad_debt_boxes(c), "Each policy ran on the same seeds (the same price paths), so the boxes differ because of the policy alone."));
    body.push_str("<div style=\"display:grid;grid-template-columns:1fr 1fr;gap:12px\">\n");
    body.push_str(&panel(&exhaustion_chart(c), "Share of seeds in which the insurance fund ran out; the interval is Wilson's, valid at 0 and 1."));
    body.push_str(&panel(
        &margin_bars(c),
        "Time-average of total initial margin required: the capital the policy locks.",
    ));
    body.push_str("</div>\n");
    body.push_str(&panel(
        &frontier_chart("safety-capital", "Safety vs capital: bad debt p99 against mean initial margin, per policy", &safety_capital_points(c), true),
        "Down and to the left is better. Green points are on the frontier: no other policy has both less bad debt (p99) and less margin.",
    ));
    body.push_str(&table);
    let subtitle = format!(
        "{} policies × {} seeds (common random numbers) · money in quote units",
        c.policies.len(),
        c.seeds.len()
    );
    page(&format!("liqsim compare: {}", c.scenario), &escape(&subtitle), &body)
}
