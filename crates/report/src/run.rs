//! What `liqsim run` prints and writes: `summary.json`, `timeseries.csv`,
//! `liquidations.csv` and `report.html`.
//!
//! Every figure is read from the [`Outcome`], never recomputed, so the files and the
//! charts agree with the run by construction. Money is the exact decimal text of
//! [`Money`] (quote units, trailing zeros trimmed); floats have six decimals; absent
//! values are `null` in JSON and an empty field in CSV. Nothing reads the clock, so
//! the same outcome gives byte-identical files.
//!
//! Ordering rules: JSON keys in the documented order below; CSV rows in the outcome's
//! order (series by time, liquidations in event order). Known limitation: the CSV
//! writers quote nothing because every field is numeric or a fixed word.

use crate::json::Json;
use liqsim_core::{Error, InputError, Money, SimTime};
use liqsim_sim::{Outcome, Side};
use std::path::Path;

/// The files `liqsim run --out DIR` writes, in writing order.
pub const RUN_FILES: [&str; 4] =
    ["summary.json", "timeseries.csv", "liquidations.csv", "report.html"];

/// The insurance fund's fall from its start to its lowest point, not below zero (the fund
/// is marked with the liquidation engine's inventory).
pub fn fund_drawdown(o: &Outcome) -> Money {
    let f = o.insurance_fund;
    f.start.checked_sub(f.min).unwrap_or(Money::ZERO).max(Money::ZERO)
}

/// Peak over pre-stress initial margin of a constant small position (the peak-to-base
/// ratio of CCP procyclicality studies); absent when the pre-stress rate is zero.
pub fn procyclicality(o: &Outcome) -> Option<f64> {
    let m = o.margin;
    (m.pre_stress_rate > 0.0).then(|| m.peak_rate / m.pre_stress_rate)
}

/// The run summary: one JSON object, keys in this order: `scenario`, `seed`, `policy`,
/// `digest`, `events`, `accounts_checked`, `sim_seconds`, `liquidations { count (steps),
/// accounts (distinct), notional, long_count, long_notional, short_count, short_notional,
/// long_share (of notional), per_peak_open_interest (liquidated notional over the peak
/// open interest's), shortfall (what the perpetual closes cost against the mark at each
/// trigger), shortfall_bps (of the notional closed at those marks) }`, `open_interest {
/// pre_stress (null without a shock), pre_stress_notional, peak, peak_notional, peak_s,
/// trough (the lowest after the peak), trough_notional, end, end_notional,
/// fall_from_peak }` (base units, and notional at the mark when observed; observed after
/// every price step), `bad_debt`, `insurance_fund { start,
/// end, min }`, `adl { count, notional, mark_count, mark_notional, backstop_count,
/// backstop_notional, engine_count, engine_notional }` (count and notional: every forced
/// reduction of another account, at the bankruptcy price or at the mark; `mark_*` those
/// at the mark; `backstop_*` and `engine_*` what they took over), `socialized_loss`,
/// `cascade { max_depth,
/// amplification, waves, largest, size_counts: [[size, count], ...] }`, `solvent`,
/// `conservation_error`, `margin { mean_initial, peak_initial, pre_stress_initial,
/// pre_stress_rate, peak_rate, procyclicality (peak_rate over pre_stress_rate) }`, `first_liquidation_s`, `first_adl_s`, `fund_exhausted_s`,
/// `series_rows`, `liquidation_rows`, `leverage_bands: [{ from, to, long_opened,
/// long_liquidated, short_opened, short_liquidated }]` (`to` null for the open band),
/// `options { series, premium_volume, settled, open_interest }`; with collateral only,
/// `collateral { assets, liquidations_by_collateral, liquidations_by_position,
/// collateral_share (of the liquidations), bad_debt_by_collateral, converted }`.
pub fn summary_json(o: &Outcome) -> String {
    let l = &o.liquidations;
    let oi = &o.open_interest;
    let c = &o.cascade;
    let json = Json::obj()
        .with("scenario", Json::str(&o.scenario))
        .with("seed", Json::int(o.seed))
        .with("policy", Json::str(&o.policy))
        .with("digest", Json::str(&o.digest))
        .with("events", Json::int(o.events))
        .with("accounts_checked", Json::int(o.accounts_checked))
        .with("sim_seconds", Json::fixed(o.duration.as_seconds_f64(), 6))
        .with(
            "liquidations",
            Json::obj()
                .with("count", Json::int(l.count))
                .with("accounts", Json::int(l.accounts))
                .with("notional", Json::money(l.notional))
                .with("long_count", Json::int(l.long_count))
                .with("long_notional", Json::money(l.long_notional))
                .with("short_count", Json::int(l.short_count))
                .with("short_notional", Json::money(l.short_notional))
                .with(
                    "long_share",
                    Json::opt(ratio(l.long_notional, l.notional).map(|r| Json::fixed(r, 6))),
                )
                .with(
                    "per_peak_open_interest",
                    Json::opt(ratio(l.notional, oi.peak.notional).map(|r| Json::fixed(r, 6))),
                )
                .with("shortfall", Json::money(l.shortfall))
                .with(
                    "shortfall_bps",
                    Json::opt(
                        ratio(l.shortfall, l.shortfall_base).map(|r| Json::fixed(r * 1e4, 3)),
                    ),
                ),
        )
        .with(
            "open_interest",
            Json::obj()
                .with("pre_stress", Json::opt(oi.pre_stress.map(|p| Json::fixed(p.units, 6))))
                .with(
                    "pre_stress_notional",
                    Json::opt(oi.pre_stress.map(|p| Json::money(p.notional))),
                )
                .with("peak", Json::fixed(oi.peak.units, 6))
                .with("peak_notional", Json::money(oi.peak.notional))
                .with(
                    "peak_s",
                    Json::fixed(
                        oi.peak_time.since(liqsim_core::SimTime::START).as_seconds_f64(),
                        6,
                    ),
                )
                .with("trough", Json::fixed(oi.trough.units, 6))
                .with("trough_notional", Json::money(oi.trough.notional))
                .with("end", Json::fixed(oi.end.units, 6))
                .with("end_notional", Json::money(oi.end.notional))
                .with("fall_from_peak", Json::opt(fall_from_peak(o).map(|r| Json::fixed(r, 6)))),
        )
        .with("bad_debt", Json::money(o.bad_debt))
        .with(
            "insurance_fund",
            Json::obj()
                .with("start", Json::money(o.insurance_fund.start))
                .with("end", Json::money(o.insurance_fund.end))
                .with("min", Json::money(o.insurance_fund.min)),
        )
        .with(
            "adl",
            Json::obj()
                .with("count", Json::int(o.adl.count))
                .with("notional", Json::money(o.adl.notional))
                .with("mark_count", Json::int(o.adl.mark_count))
                .with("mark_notional", Json::money(o.adl.mark_notional))
                .with("backstop_count", Json::int(o.adl.backstop_count))
                .with("backstop_notional", Json::money(o.adl.backstop_notional))
                .with("engine_count", Json::int(o.adl.engine_count))
                .with("engine_notional", Json::money(o.adl.engine_notional)),
        )
        .with("socialized_loss", Json::money(o.socialized_loss))
        .with(
            "cascade",
            Json::obj()
                .with("max_depth", Json::int(c.max_depth))
                .with("amplification", Json::opt(c.amplification.map(|a| Json::fixed(a, 6))))
                .with("waves", Json::int(c.waves))
                .with("largest", Json::int(c.largest))
                .with(
                    "size_counts",
                    Json::Array(
                        c.size_counts
                            .iter()
                            .map(|&(s, n)| Json::Array(vec![Json::int(s), Json::int(n)]))
                            .collect(),
                    ),
                ),
        )
        .with("solvent", Json::Bool(o.solvent))
        .with("conservation_error", Json::money(o.conservation_error))
        .with(
            "margin",
            Json::obj()
                .with("mean_initial", Json::money(o.margin.mean_initial))
                .with("peak_initial", Json::money(o.margin.peak_initial))
                .with("pre_stress_initial", Json::money(o.margin.pre_stress_initial))
                .with("pre_stress_rate", Json::fixed(o.margin.pre_stress_rate, 6))
                .with("peak_rate", Json::fixed(o.margin.peak_rate, 6))
                .with("procyclicality", Json::opt(procyclicality(o).map(|p| Json::fixed(p, 6)))),
        )
        .with("first_liquidation_s", Json::seconds(o.first_liquidation))
        .with("first_adl_s", Json::seconds(o.first_adl))
        .with("fund_exhausted_s", Json::seconds(o.fund_exhausted))
        .with("series_rows", Json::int(o.series.len() as u64))
        .with("liquidation_rows", Json::int(o.liquidation_log.len() as u64))
        .with(
            "leverage_bands",
            Json::Array(
                o.leverage_bands
                    .iter()
                    .map(|b| {
                        Json::obj()
                            .with("from", Json::fixed(b.from, 1))
                            .with("to", Json::opt(b.to.is_finite().then(|| Json::fixed(b.to, 1))))
                            .with("long_opened", Json::int(b.long_opened))
                            .with("long_liquidated", Json::int(b.long_liquidated))
                            .with("short_opened", Json::int(b.short_opened))
                            .with("short_liquidated", Json::int(b.short_liquidated))
                    })
                    .collect(),
            ),
        )
        .with(
            "options",
            Json::obj()
                .with("series", Json::int(o.options.series))
                .with("premium_volume", Json::money(o.options.premium_volume))
                .with("settled", Json::money(o.options.settled))
                .with("open_interest", Json::fixed(o.options.open_interest, 6)),
        );
    match &o.collateral {
        // A run without collateral prints exactly what it printed before collateral existed.
        None => json.render(),
        Some(c) => {
            let total = c.liquidations_by_collateral + c.liquidations_by_position;
            let share = (total > 0).then(|| c.liquidations_by_collateral as f64 / total as f64);
            json.with(
                "collateral",
                Json::obj()
                    .with("assets", Json::Array(c.assets.iter().map(|a| Json::str(a)).collect()))
                    .with("liquidations_by_collateral", Json::int(c.liquidations_by_collateral))
                    .with("liquidations_by_position", Json::int(c.liquidations_by_position))
                    .with("collateral_share", Json::opt(share.map(|s| Json::fixed(s, 6))))
                    .with("bad_debt_by_collateral", Json::money(c.bad_debt_by_collateral))
                    .with("converted", Json::money(c.converted)),
            )
            .render()
        }
    }
}

/// `a / b` for positive `b`.
fn ratio(a: Money, b: Money) -> Option<f64> {
    b.is_positive().then(|| a.to_f64() / b.to_f64())
}

/// The share of the peak open interest gone at the trough after it.
pub fn fall_from_peak(o: &Outcome) -> Option<f64> {
    let oi = &o.open_interest;
    (oi.peak.units > 0.0).then(|| 1.0 - oi.trough.units / oi.peak.units)
}

/// The UTC time of simulated time `t` in a dated run (RFC 3339, nanoseconds when there
/// are any); empty in an undated one.
fn utc(o: &Outcome, t: SimTime) -> String {
    o.start_utc_ns
        .and_then(|start| start.checked_add(t.nanos()))
        .map(liqsim_core::time::format_timestamp)
        .unwrap_or_default()
}

fn f6(x: f64) -> String {
    if x.is_finite() { format!("{x:.6}") } else { String::new() }
}

/// Columns of `timeseries.csv`, one row per metrics interval (the row's `time_s` is the
/// end of the interval in simulated seconds). Prices in quote units per base unit; money
/// in quote units (exact decimals); `open_interest` in base units. Flows over the
/// interval: `volume`, `liquidations_*`, `liquidated_*`. Stocks at the end of it:
/// `insurance_fund`, `insurance_fund_low` (the fund's lowest balance at any moment of
/// the interval, recorded as it happened: a dip the interval recovered from shows here
/// and not in `insurance_fund`), cumulative `bad_debt`, `adl_notional`, `socialized_loss`,
/// `margin_required`, `margin_held`, `accounts_below_maintenance`. `spread` is empty
/// when a side of the book is empty; `utilization` is margin required / held (empty when
/// nothing is held); cumulative `unpaid_loss` is the claim nobody paid, and `solvent`
/// (true/false) says the fund is not negative and nothing is unpaid; `utc` is the end of
/// the interval in UTC in a dated run (a replay, or a scenario with a `start`), empty
/// otherwise.
pub const SERIES_HEADER: [&str; 28] = [
    "time_s",
    "index_price",
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
    "insurance_fund_low",
    "bad_debt",
    "adl_notional",
    "socialized_loss",
    "margin_required",
    "margin_held",
    "accounts_below_maintenance",
    "utilization",
    "unpaid_loss",
    "solvent",
    "utc",
];

pub fn timeseries_csv(o: &Outcome) -> String {
    let mut text = SERIES_HEADER.join(",");
    text.push('\n');
    for r in &o.series {
        let utilization = if r.margin_held.is_positive() {
            f6(r.margin_required.micros() as f64 / r.margin_held.micros() as f64)
        } else {
            String::new()
        };
        let fields = [
            f6(r.time.as_seconds_f64()),
            f6(r.index),
            f6(r.mark),
            f6(r.last),
            r.spread.map(f6).unwrap_or_default(),
            r.depth_1pct.to_string(),
            f6(r.open_interest),
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
            r.insurance_fund_low.to_string(),
            r.bad_debt.to_string(),
            r.adl_notional.to_string(),
            r.socialized_loss.to_string(),
            r.margin_required.to_string(),
            r.margin_held.to_string(),
            r.accounts_below_maintenance.to_string(),
            utilization,
            r.unpaid_loss.to_string(),
            r.solvent().to_string(),
            utc(o, r.time),
        ];
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// Columns of `liquidations.csv`, one row per liquidation in event order: `id` (the
/// row's number, which `caused_by` refers to), `time_s`, `account`, `side` (`long` or
/// `short`: the position liquidated), `quantity` (base units), `notional` (quote units),
/// `mark` (when triggered), `bankruptcy_price` (empty for an account holding only
/// options), `cause` (`exogenous` or `cascade`),
/// `caused_by` (index of the causing liquidation, empty when exogenous), `depth` (0 for
/// exogenous, else one more than its cause), `bad_debt` (loss beyond the account's equity),
/// then where the closed perpetual went in base units (`book`, `backstop`, `engine`,
/// `mark_close`, `adl`), `socialized` (loss shared over accounts in profit), `fill_price` (average price
/// the perpetual fetched; empty when none was closed), `shortfall` (its cost against
/// `mark`, positive when worse), `group` (index of the owner's `[[agents]]` group; empty
/// for the backstop), `leverage` (perpetual notional over equity at the trigger; empty at
/// or below zero equity), `short_options` (true when the account was short an option at
/// the trigger: an option writer's liquidation), `by_collateral` (true when a collateral
/// asset's price move found it at an unchanged mark; always false in a run without
/// collateral), `utc` (the time in UTC in a dated run: a replay, or a scenario
/// with a `start`; empty otherwise).
pub const LIQUIDATIONS_HEADER: [&str; 25] = [
    "id",
    "time_s",
    "account",
    "side",
    "quantity",
    "notional",
    "mark",
    "bankruptcy_price",
    "cause",
    "caused_by",
    "depth",
    "bad_debt",
    "book",
    "backstop",
    "engine",
    "mark_close",
    "adl",
    "socialized",
    "fill_price",
    "shortfall",
    "group",
    "leverage",
    "short_options",
    "by_collateral",
    "utc",
];

pub fn side_name(side: Side) -> &'static str {
    match side {
        Side::Long => "long",
        Side::Short => "short",
    }
}

pub fn liquidations_csv(o: &Outcome) -> String {
    let mut text = LIQUIDATIONS_HEADER.join(",");
    text.push('\n');
    for (i, l) in o.liquidation_log.iter().enumerate() {
        let fields = [
            i.to_string(),
            f6(l.time.as_seconds_f64()),
            l.account.to_string(),
            side_name(l.side).to_string(),
            format!("{:.9}", l.quantity),
            l.notional.to_string(),
            f6(l.mark),
            f6(l.bankruptcy_price),
            if l.caused_by.is_some() { "cascade" } else { "exogenous" }.to_string(),
            l.caused_by.map(|c| c.to_string()).unwrap_or_default(),
            l.depth.to_string(),
            l.bad_debt.to_string(),
            format!("{:.9}", l.book),
            format!("{:.9}", l.backstop),
            format!("{:.9}", l.engine),
            format!("{:.9}", l.mark_close),
            format!("{:.9}", l.adl),
            l.socialized.to_string(),
            f6(l.fill_price),
            l.shortfall.to_string(),
            l.group.map(|g| g.to_string()).unwrap_or_default(),
            f6(l.leverage),
            l.short_options.to_string(),
            l.by_collateral.to_string(),
            utc(o, l.time),
        ];
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, then
/// a rename, so a reader never sees half a file and an interrupted write leaves the old
/// one.
pub fn write_atomic(path: &Path, contents: &str) -> Result<(), Error> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let io = |e: std::io::Error| {
        Error::from(
            InputError::new(format!("cannot write: {e}")).source(path.display().to_string()),
        )
    };
    // A full disk fails the write part way: the partial temporary file is of no use.
    std::fs::write(&tmp, contents).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// Creates `dir` if needed and writes every file of [`RUN_FILES`] into it atomically.
pub fn write_run_dir(dir: &Path, o: &Outcome) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::from(
            InputError::new(format!("cannot create: {e}")).source(dir.display().to_string()),
        )
    })?;
    let texts =
        [summary_json(o), timeseries_csv(o), liquidations_csv(o), crate::html::run_report_html(o)];
    for (name, text) in RUN_FILES.iter().zip(texts) {
        write_atomic(&dir.join(name), &text)?;
    }
    Ok(())
}

/// Money as f64 quote units, for charts only.
pub fn units(m: Money) -> f64 {
    m.to_f64()
}
