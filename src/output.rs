//! What `liqsim run` prints and writes. The formats belong to liqsim-report (one writer
//! per format for run, compare and sweep): the JSON summary is a stable snapshot (money as
//! exact decimals, floats with six decimals, no wall-clock time, keys in contract order),
//! the CSVs are for pandas/polars, report.html is for people.

use liqsim_core::Error;
use liqsim_sim::Outcome;
use std::path::Path;

pub fn summary_json(o: &Outcome) -> String {
    liqsim_report::summary_json(o)
}

/// Writes summary.json, timeseries.csv, liquidations.csv and report.html into `dir`.
pub fn write_run(dir: &Path, o: &Outcome) -> Result<(), Error> {
    liqsim_report::write_run_dir(dir, o)
}
