//! `sweep.html`: the safety-versus-capital frontier across a parameter grid.
//!
//! Each grid point is summarized over its seeds by mean bad debt (with its bootstrap
//! interval), its tail (p99 from 100 seeds on, "max of n" below) and the mean of the
//! runs' mean initial margin. Grid points run on the same seeds, so a point is dominated
//! only when another has no more of both means and is lower on one of them by more
//! than the seeds' noise: the paired difference's 95% interval excludes zero
//! ([`liqsim_sweep::frontier_paired`]).
//!
//! Ordering rules: points in grid order (as the sweep numbers them). Known limitation:
//! with many grid points only frontier points carry a text label; the others have a
//! tooltip.

use crate::compare::{FrontierPoint, RunFigures, frontier_chart};
use crate::html::{page, panel};
use crate::human::{self, plural};
use crate::svg::escape;
use liqsim_sweep::stats::{proportion, summarize};
use std::fmt::Write as _;

/// One grid point summarized over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// `(key, value)` of every grid axis at this point.
    pub params: Vec<(String, String)>,
    pub runs: usize,
    /// Bad debt and mean initial margin of every seed, in seed order.
    pub bad_debt_seeds: Vec<f64>,
    pub margin_seeds: Vec<f64>,
    pub bad_debt_mean: f64,
    pub bad_debt_ci: Option<(f64, f64)>,
    /// (`p99` or `max of n`, value).
    pub bad_debt_tail: (String, f64),
    pub mean_initial_margin: f64,
    pub fund_exhaustion: f64,
}

impl SweepPoint {
    /// Summarizes the runs of one grid point; `None` when there are none.
    pub fn from_runs(params: Vec<(String, String)>, runs: &[RunFigures]) -> Option<SweepPoint> {
        SweepPoint::from_seeds(
            params,
            runs.iter().map(|r| r.bad_debt.to_f64()).collect(),
            runs.iter().map(|r| r.mean_initial_margin.to_f64()).collect(),
            &runs.iter().map(|r| r.fund_exhausted).collect::<Vec<_>>(),
        )
    }

    /// Summarizes per-seed bad debt, margin and fund exhaustion; `None` when empty.
    pub fn from_seeds(
        params: Vec<(String, String)>,
        bad_debt_seeds: Vec<f64>,
        margin_seeds: Vec<f64>,
        exhausted: &[bool],
    ) -> Option<SweepPoint> {
        let bad = summarize(&bad_debt_seeds)?;
        let margin = summarize(&margin_seeds)?;
        let (fund_exhaustion, _) = proportion(exhausted)?;
        Some(SweepPoint {
            params,
            runs: bad_debt_seeds.len(),
            bad_debt_seeds,
            margin_seeds,
            bad_debt_mean: bad.mean,
            bad_debt_ci: bad.ci95,
            bad_debt_tail: bad.tail(),
            mean_initial_margin: margin.mean,
            fund_exhaustion,
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

/// Which points are on the frontier of (mean bad debt, mean initial margin), dominance
/// decided on paired differences over the common seeds.
pub fn mark_frontier(points: &[SweepPoint]) -> Vec<bool> {
    liqsim_sweep::frontier_paired(
        &points
            .iter()
            .map(|p| (p.bad_debt_seeds.clone(), p.margin_seeds.clone()))
            .collect::<Vec<_>>(),
    )
}

/// `sweep.html`: the frontier chart and the table of grid points.
pub fn sweep_html(scenario: &str, seeds: usize, currency: &str, points: &[SweepPoint]) -> String {
    let front = mark_frontier(points);
    let scatter: Vec<FrontierPoint> = points
        .iter()
        .zip(&front)
        .map(|(p, f)| FrontierPoint {
            label: p.short_label(),
            margin: p.mean_initial_margin,
            bad_debt: p.bad_debt_mean,
            bad_debt_ci: p.bad_debt_ci,
            on_frontier: *f,
        })
        .collect();
    let chart = frontier_chart(
        "frontier",
        "Safety vs capital across the grid: mean bad debt against mean initial margin",
        &scatter,
        false,
        currency,
    );
    let keys: Vec<&str> = points
        .first()
        .map(|p| p.params.iter().map(|(k, _)| k.as_str()).collect())
        .unwrap_or_default();
    let caption = format!(
        "Each dot is one grid point summarized over its seeds, with the 95% interval of its mean bad debt; labels give {}. Green points are on the frontier: no other point has both less bad debt and less margin by more than the seeds' noise (the paired difference's interval excludes zero). Choose among them by how much bad debt you accept.",
        keys.join(", ")
    );
    let mut body = panel(&chart, &caption);
    let tail_name = points.first().map_or_else(|| "max".into(), |p| p.bad_debt_tail.0.clone());
    let _ = writeln!(
        body,
        "<h2>Grid points</h2>\n<table>\n<tr><th>parameters</th><th>runs</th><th>bad debt mean [95%]</th><th>bad debt {}</th><th>mean initial margin</th><th>P(fund exhausted)</th><th>frontier</th></tr>",
        escape(&tail_name)
    );
    for (p, f) in points.iter().zip(&front) {
        let ci = p.bad_debt_ci.map_or_else(String::new, |(lo, hi)| {
            format!(" [{}, {}]", human::compact(lo), human::compact(hi))
        });
        let _ = writeln!(
            body,
            "<tr{}><td>{}</td><td>{}</td><td>{}{ci}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
            if *f { " class=\"front\"" } else { "" },
            escape(&p.label()),
            p.runs,
            human::compact(p.bad_debt_mean),
            human::compact(p.bad_debt_tail.1),
            human::compact(p.mean_initial_margin),
            p.fund_exhaustion,
            if *f { "yes" } else { "" }
        );
    }
    body.push_str("</table>\n");
    let subtitle = format!(
        "{} × {} · money in {currency}; K, M, B: thousands, millions, billions",
        plural(points.len() as u64, "grid point", "grid points"),
        plural(seeds as u64, "seed", "seeds")
    );
    page(&format!("liqsim sweep: {scenario}"), &escape(&subtitle), &body)
}
