//! `sweep.html`: the safety-versus-capital frontier across a parameter grid.
//!
//! Each grid point is summarized over its seeds by bad debt p99 (type-8 quantile) and
//! the mean of the runs' mean initial margin; a point is on the frontier when no other
//! point has both lower-or-equal p99 bad debt and lower-or-equal margin with one strictly
//! lower ([`liqsim_sweep::frontier`]).
//!
//! Ordering rules: points in grid order (as the sweep numbers them). Known limitation:
//! with many grid points only frontier points carry a text label; the others have a
//! tooltip.

use crate::compare::{RunFigures, frontier_chart};
use crate::html::{group_thousands, page, panel};
use crate::svg::escape;
use liqsim_sweep::stats::{proportion, summarize};
use std::fmt::Write as _;

/// One grid point summarized over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// `(key, value)` of every grid axis at this point.
    pub params: Vec<(String, String)>,
    pub runs: usize,
    pub bad_debt_p99: f64,
    pub bad_debt_mean: f64,
    pub mean_initial_margin: f64,
    pub fund_exhaustion: f64,
}

impl SweepPoint {
    /// Summarizes the runs of one grid point; `None` when there are none.
    pub fn from_runs(params: Vec<(String, String)>, runs: &[RunFigures]) -> Option<SweepPoint> {
        let bad = summarize(&runs.iter().map(|r| r.bad_debt.to_f64()).collect::<Vec<_>>())?;
        let margin =
            summarize(&runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect::<Vec<_>>())?;
        let (exhausted, _) =
            proportion(&runs.iter().map(|r| r.fund_exhausted).collect::<Vec<_>>())?;
        Some(SweepPoint {
            params,
            runs: runs.len(),
            bad_debt_p99: bad.p99,
            bad_debt_mean: bad.mean,
            mean_initial_margin: margin.mean,
            fund_exhaustion: exhausted,
        })
    }

    /// `value, value` (the chart names the keys once).
    pub fn short_label(&self) -> String {
        self.params.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// `key=value, key=value`.
    pub fn label(&self) -> String {
        self.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    }
}

/// Which points are on the frontier of (bad debt p99, mean initial margin).
pub fn mark_frontier(points: &[SweepPoint]) -> Vec<bool> {
    liqsim_sweep::frontier(
        &points.iter().map(|p| (p.bad_debt_p99, p.mean_initial_margin)).collect::<Vec<_>>(),
    )
}

/// `sweep.html`: the frontier chart and the table of grid points.
pub fn sweep_html(scenario: &str, seeds: usize, points: &[SweepPoint]) -> String {
    let front = mark_frontier(points);
    let scatter: Vec<(String, f64, f64)> =
        points.iter().map(|p| (p.short_label(), p.mean_initial_margin, p.bad_debt_p99)).collect();
    let chart = frontier_chart(
        "frontier",
        "Safety vs capital across the grid: bad debt p99 against mean initial margin",
        &scatter,
        false,
    );
    let keys: Vec<&str> = points
        .first()
        .map(|p| p.params.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let caption = format!(
        "Each dot is one grid point summarized over its seeds; labels give {}. Green points are on the frontier (no other point has both less bad debt p99 and less margin); choose among them by how much bad debt you accept.",
        keys.join(", ")
    );
    let mut body = panel(&chart, &caption);
    body.push_str("<h2>Grid points</h2>\n<table>\n<tr><th>parameters</th><th>runs</th><th>bad debt mean</th><th>bad debt p99</th><th>mean initial margin</th><th>P(fund exhausted)</th><th>frontier</th></tr>\n");
    let fmt = |v: f64| group_thousands(&format!("{v:.2}"));
    for (p, f) in points.iter().zip(&front) {
        let _ = writeln!(
            body,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
            if *f { " class=\"front\"" } else { "" },
            escape(&p.label()),
            p.runs,
            fmt(p.bad_debt_mean),
            fmt(p.bad_debt_p99),
            fmt(p.mean_initial_margin),
            p.fund_exhaustion,
            if *f { "yes" } else { "" }
        );
    }
    body.push_str("</table>\n");
    let subtitle = format!("{} grid points × {seeds} seeds · money in quote units", points.len());
    page(&format!("liqsim sweep: {scenario}"), &escape(&subtitle), &body)
}
