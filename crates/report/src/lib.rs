//! liqsim-report: what people read after a run, a comparison or a sweep.
//!
//! - [`run`]: `summary.json`, `timeseries.csv`, `liquidations.csv` and the atomic
//!   writer of a `run --out DIR` directory.
//! - [`html`]: `report.html`, one self-contained page of SVG charts of one run.
//! - [`compare`]: policies side by side over seeds: table, CSV, JSON and `compare.html`.
//! - [`sweep`]: the safety-versus-capital frontier across a grid, `sweep.html`.
//! - [`svg`]: the chart toolkit (nice ticks, hh:mm time axes, log axes, legends).
//! - [`json`]: ordered JSON text with exact decimal numbers.
//! - [`fixtures`]: a synthetic crash outcome, comparison and sweep, for tests, the
//!   browser test and examples.
//!
//! Every writer is a pure function of its input: no clock, no randomness, no hash
//! order, so the same input gives byte-identical output. Only [`run::write_run_dir`] and
//! [`run::write_atomic`] touch the file system.

pub mod compare;
pub mod fixtures;
pub mod html;
pub mod human;
pub mod json;
pub mod run;
pub mod svg;
pub mod sweep;

pub use compare::{
    Comparison, PolicyRuns, RunFigures, compare_html, comparison_csv, comparison_json,
    comparison_table,
};
pub use html::run_report_html;
pub use run::{
    fund_drawdown, liquidations_csv, procyclicality, summary_json, timeseries_csv, write_atomic,
    write_run_dir,
};
pub use sweep::{SweepPoint, mark_frontier, sweep_html};
