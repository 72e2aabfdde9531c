//! What `liqsim run` prints and writes: the JSON summary (a stable snapshot: money as
//! exact decimals, floats with six decimals, no wall-clock time), the time series and the
//! liquidation log as CSV for pandas/polars.

use crate::runrow::csv_line;
use crate::sweep::write_atomic;
use liqsim_core::{Error, InputError, Money, SimTime};
use liqsim_sim::{Outcome, cascade::Side};
use serde_json::{Value, json};
use std::path::Path;

/// An exact decimal JSON number.
fn number(text: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(text).map(Value::Number).unwrap_or(Value::Null)
}

fn money(m: Money) -> Value {
    number(&m.to_string())
}

fn fixed(x: f64) -> Value {
    if x.is_finite() { number(&format!("{x:.6}")) } else { Value::Null }
}

fn seconds(t: Option<SimTime>) -> Value {
    t.map_or(Value::Null, |t| fixed(t.as_seconds_f64()))
}

pub fn summary_json(o: &Outcome) -> String {
    let value = json!({
        "scenario": o.scenario,
        "seed": o.seed,
        "policy": o.policy,
        "digest": o.digest,
        "events": o.events,
        "sim_seconds": fixed(o.duration.as_seconds_f64()),
        "liquidations": {
            "count": o.liquidations.count,
            "notional": money(o.liquidations.notional),
            "long_count": o.liquidations.long_count,
            "long_notional": money(o.liquidations.long_notional),
            "short_count": o.liquidations.short_count,
            "short_notional": money(o.liquidations.short_notional),
        },
        "bad_debt": money(o.bad_debt),
        "insurance_fund": {
            "start": money(o.insurance_fund.start),
            "end": money(o.insurance_fund.end),
            "min": money(o.insurance_fund.min),
        },
        "adl": { "count": o.adl.count, "notional": money(o.adl.notional) },
        "socialized_loss": money(o.socialized_loss),
        "cascade": {
            "max_depth": o.cascade.max_depth,
            "amplification": o.cascade.amplification.map_or(Value::Null, fixed),
            "waves": o.cascade.waves,
            "largest": o.cascade.largest,
            "sizes": o.cascade.size_counts.iter().map(|(s, c)| json!([s, c])).collect::<Vec<_>>(),
        },
        "solvent": o.solvent,
        "conservation_error": money(o.conservation_error),
        "margin": {
            "mean_initial": money(o.margin.mean_initial),
            "peak_initial": money(o.margin.peak_initial),
            "pre_stress_initial": money(o.margin.pre_stress_initial),
        },
        "first_liquidation_s": seconds(o.first_liquidation),
        "first_adl_s": seconds(o.first_adl),
        "fund_exhausted_s": seconds(o.fund_exhausted),
    });
    format!("{}\n", serde_json::to_string_pretty(&value).unwrap_or_default())
}

pub const SERIES_HEADER: [&str; 24] = [
    "time_s",
    "index",
    "mark",
    "last",
    "spread",
    "depth_1pct",
    "open_interest",
    "volume",
    "liquidations_long",
    "liquidations_short",
    "liquidated_notional_long",
    "liquidated_notional_short",
    "liquidated_depth0",
    "liquidated_depth1",
    "liquidated_depth2",
    "liquidated_depth3plus",
    "insurance_fund",
    "bad_debt",
    "adl_notional",
    "socialized_loss",
    "margin_required",
    "margin_held",
    "accounts_below_maintenance",
    "utilization",
];

pub fn timeseries_csv(o: &Outcome) -> Result<String, Error> {
    let f = |x: f64| format!("{x:.6}");
    let mut text = csv_line(&SERIES_HEADER.map(String::from))?;
    for r in &o.series {
        let utilization = if r.margin_held.is_positive() {
            r.margin_required.to_f64() / r.margin_held.to_f64()
        } else {
            0.0
        };
        let row = vec![
            f(r.time.as_seconds_f64()),
            f(r.index),
            f(r.mark),
            f(r.last),
            r.spread.map(f).unwrap_or_default(),
            r.depth_1pct.to_string(),
            f(r.open_interest),
            r.volume.to_string(),
            r.liquidations_long.to_string(),
            r.liquidations_short.to_string(),
            r.liquidated_notional_long.to_string(),
            r.liquidated_notional_short.to_string(),
            r.liquidated_by_depth[0].to_string(),
            r.liquidated_by_depth[1].to_string(),
            r.liquidated_by_depth[2].to_string(),
            r.liquidated_by_depth[3].to_string(),
            r.insurance_fund.to_string(),
            r.bad_debt.to_string(),
            r.adl_notional.to_string(),
            r.socialized_loss.to_string(),
            r.margin_required.to_string(),
            r.margin_held.to_string(),
            r.accounts_below_maintenance.to_string(),
            f(utilization),
        ];
        text.push_str(&csv_line(&row)?);
    }
    Ok(text)
}

pub const LIQUIDATIONS_HEADER: [&str; 10] = [
    "index",
    "time_s",
    "account",
    "side",
    "quantity",
    "notional",
    "mark",
    "bankruptcy_price",
    "caused_by",
    "depth",
];

pub fn liquidations_csv(o: &Outcome) -> Result<String, Error> {
    let f = |x: f64| format!("{x:.6}");
    let mut text = csv_line(&LIQUIDATIONS_HEADER.map(String::from))?;
    for (i, l) in o.liquidation_log.iter().enumerate() {
        let row = vec![
            i.to_string(),
            f(l.time.as_seconds_f64()),
            l.account.to_string(),
            match l.side {
                Side::Long => "long".into(),
                Side::Short => "short".into(),
            },
            format!("{:.9}", l.quantity),
            l.notional.to_string(),
            f(l.mark),
            f(l.bankruptcy_price),
            l.caused_by.map(|c| c.to_string()).unwrap_or_default(),
            l.depth.to_string(),
        ];
        text.push_str(&csv_line(&row)?);
    }
    Ok(text)
}

/// Writes summary.json, timeseries.csv, liquidations.csv and report.html into `dir`.
pub fn write_run(dir: &Path, o: &Outcome) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::from(
            InputError::new(format!("cannot create: {e}")).source(dir.display().to_string()),
        )
    })?;
    write_atomic(&dir.join("summary.json"), &summary_json(o))?;
    write_atomic(&dir.join("timeseries.csv"), &timeseries_csv(o)?)?;
    write_atomic(&dir.join("liquidations.csv"), &liquidations_csv(o)?)?;
    write_atomic(&dir.join("report.html"), &liqsim_report::run_report_html(o))?;
    Ok(())
}
