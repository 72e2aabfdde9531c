//! liqsim-logs: a run's event logs as typed Arrow tables, written as Parquet (or CSV).
//!
//! One schema per log, defined once here and used by every writer (Parquet and CSV files
//! of `liqsim run --out`, the Python package's `pyarrow.Table`s), so a column means the
//! same thing everywhere:
//!
//! - `timeseries`: one row per metrics interval (see `liqsim-report`'s `timeseries.csv`);
//!   the index price is `index_price`, so no column is called `index`.
//! - `liquidations`: one row per liquidation step, with its cause, cascade depth, fill
//!   price, where the closed position went, the owner's group and its leverage, and
//!   whether the account was short an option (an option writer's liquidation).
//! - `trades`: every fill in a book, with maker and taker, their groups, and whether the
//!   taker's order was a liquidation's.
//! - `forced_closes`: ADL and the other closes of a liquidation's opposing positions.
//! - `funding`: each funding payment.
//! - `fund`: the insurance fund after each change.
//!
//! Types: times are `time_s` (Float64, simulated seconds from the start) and, in a dated
//! run (a replay, or a scenario with a `start`), `utc` (Timestamp, nanoseconds, UTC).
//! Prices, quantities (base units) and money (quote units) are Float64: the exact
//! figures are the summary's; these are for analysis. Accounts and groups are UInt32;
//! absent values are nulls, never NaN.
//!
//! Large logs are written in chunks of [`CHUNK_ROWS`] rows, so writing holds one chunk's
//! columns at a time beside the rows.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType, UInt32Type, UInt64Type};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use liqsim_core::{Error, InputError, Money, SimTime};
use liqsim_sim::eventlog::EventLog;
use liqsim_sim::{Outcome, Side};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Rows per record batch (and Parquet row group) of a large log.
pub const CHUNK_ROWS: usize = 1 << 20;

/// The logs' names, in writing order; the last four exist when the run kept its event
/// log.
pub const LOG_NAMES: [&str; 6] =
    ["timeseries", "liquidations", "trades", "forced_closes", "funding", "fund"];

/// A file format for the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Parquet,
    Csv,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

/// Columns of one table under construction.
struct Columns {
    utc_start: Option<u64>,
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl Columns {
    fn new(o: &Outcome) -> Columns {
        Columns { utc_start: o.start_utc_ns, fields: Vec::new(), arrays: Vec::new() }
    }

    fn push(&mut self, name: &str, array: ArrayRef, nullable: bool) {
        self.fields.push(Field::new(name, array.data_type().clone(), nullable));
        self.arrays.push(array);
    }

    /// `time_s`, and `utc` in a dated run.
    fn times(&mut self, times: impl Iterator<Item = SimTime> + Clone) -> Result<(), Error> {
        self.f64("time_s", times.clone().map(|t| t.as_seconds_f64()));
        if let Some(start) = self.utc_start {
            let utc = times
                .map(|t| {
                    start
                        .checked_add(t.nanos())
                        .and_then(|ns| i64::try_from(ns).ok())
                        .ok_or_else(|| Error::overflow("UTC time of a log row"))
                })
                .collect::<Result<Vec<i64>, Error>>()?;
            let array = TimestampNanosecondArray::from(utc).with_timezone("UTC");
            self.push("utc", Arc::new(array), false);
        }
        Ok(())
    }

    fn f64(&mut self, name: &str, values: impl Iterator<Item = f64>) {
        self.push(name, Arc::new(Float64Array::from_iter_values(values)), false);
    }

    /// NaN and infinities become nulls.
    fn f64_or_null(&mut self, name: &str, values: impl Iterator<Item = f64>) {
        let array: Float64Array = values.map(|v| v.is_finite().then_some(v)).collect();
        self.push(name, Arc::new(array), true);
    }

    fn money(&mut self, name: &str, values: impl Iterator<Item = Money>) {
        self.f64(name, values.map(Money::to_f64));
    }

    fn u32(&mut self, name: &str, values: impl Iterator<Item = u32>) {
        self.push(name, Arc::new(UInt32Array::from_iter_values(values)), false);
    }

    fn u32_or_null(&mut self, name: &str, values: impl Iterator<Item = Option<u32>>) {
        self.push(name, Arc::new(values.collect::<UInt32Array>()), true);
    }

    fn u64(&mut self, name: &str, values: impl Iterator<Item = u64>) {
        self.push(name, Arc::new(UInt64Array::from_iter_values(values)), false);
    }

    fn bool(&mut self, name: &str, values: impl Iterator<Item = bool>) {
        self.push(name, Arc::new(values.map(Some).collect::<BooleanArray>()), false);
    }

    fn text<'a>(&mut self, name: &str, values: impl Iterator<Item = &'a str>) {
        self.push(name, Arc::new(values.map(Some).collect::<StringArray>()), false);
    }

    fn finish(self) -> Result<RecordBatch, Error> {
        let schema = Arc::new(Schema::new(self.fields));
        RecordBatch::try_new(schema, self.arrays)
            .map_err(|e| Error::Internal(format!("a log's columns: {e}")))
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Long => "long",
        Side::Short => "short",
    }
}

/// Rows `range` of the time series.
pub fn timeseries(o: &Outcome, range: Range<usize>) -> Result<RecordBatch, Error> {
    let rows = &o.series[range];
    let mut c = Columns::new(o);
    c.times(rows.iter().map(|r| r.time))?;
    c.f64("index_price", rows.iter().map(|r| r.index));
    c.f64("mark", rows.iter().map(|r| r.mark));
    c.f64_or_null("last", rows.iter().map(|r| r.last));
    c.f64_or_null("spread", rows.iter().map(|r| r.spread.unwrap_or(f64::NAN)));
    c.money("depth_1pct", rows.iter().map(|r| r.depth_1pct));
    c.f64("open_interest", rows.iter().map(|r| r.open_interest));
    c.money("volume", rows.iter().map(|r| r.volume));
    c.u64("liquidations_long", rows.iter().map(|r| r.liquidations_long));
    c.u64("liquidations_short", rows.iter().map(|r| r.liquidations_short));
    c.money("liquidated_notional_long", rows.iter().map(|r| r.liquidated_notional_long));
    c.money("liquidated_notional_short", rows.iter().map(|r| r.liquidated_notional_short));
    for (d, name) in
        ["liquidated_depth0", "liquidated_depth1", "liquidated_depth2", "liquidated_depth3plus"]
            .into_iter()
            .enumerate()
    {
        c.money(name, rows.iter().map(|r| r.liquidated_by_depth[d]));
    }
    c.money("insurance_fund", rows.iter().map(|r| r.insurance_fund));
    c.money("insurance_fund_low", rows.iter().map(|r| r.insurance_fund_low));
    c.money("bad_debt", rows.iter().map(|r| r.bad_debt));
    c.money("adl_notional", rows.iter().map(|r| r.adl_notional));
    c.money("socialized_loss", rows.iter().map(|r| r.socialized_loss));
    c.money("margin_required", rows.iter().map(|r| r.margin_required));
    c.money("margin_held", rows.iter().map(|r| r.margin_held));
    c.u64("accounts_below_maintenance", rows.iter().map(|r| r.accounts_below_maintenance));
    c.money("unpaid_loss", rows.iter().map(|r| r.unpaid_loss));
    c.bool("solvent", rows.iter().map(|r| r.solvent()));
    c.finish()
}

/// Rows `range` of the liquidation log; `id` is the row's number in the whole log, which
/// `caused_by` refers to.
pub fn liquidations(o: &Outcome, range: Range<usize>) -> Result<RecordBatch, Error> {
    let first = range.start as u64;
    let rows = &o.liquidation_log[range];
    let mut c = Columns::new(o);
    c.u64("id", (0..rows.len() as u64).map(|i| first + i));
    c.times(rows.iter().map(|r| r.time))?;
    c.u32("account", rows.iter().map(|r| r.account));
    c.u32_or_null("group", rows.iter().map(|r| r.group));
    c.text("side", rows.iter().map(|r| side_name(r.side)));
    c.f64("quantity", rows.iter().map(|r| r.quantity));
    c.money("notional", rows.iter().map(|r| r.notional));
    c.f64("mark", rows.iter().map(|r| r.mark));
    c.f64_or_null("bankruptcy_price", rows.iter().map(|r| r.bankruptcy_price));
    c.f64_or_null("fill_price", rows.iter().map(|r| r.fill_price));
    c.f64_or_null("leverage", rows.iter().map(|r| r.leverage));
    c.text(
        "cause",
        rows.iter().map(|r| if r.caused_by.is_some() { "cascade" } else { "exogenous" }),
    );
    c.u32_or_null("caused_by", rows.iter().map(|r| r.caused_by));
    c.u32("depth", rows.iter().map(|r| r.depth));
    c.money("bad_debt", rows.iter().map(|r| r.bad_debt));
    c.f64("book", rows.iter().map(|r| r.book));
    c.f64("backstop", rows.iter().map(|r| r.backstop));
    c.f64("engine", rows.iter().map(|r| r.engine));
    c.f64("mark_close", rows.iter().map(|r| r.mark_close));
    c.f64("adl", rows.iter().map(|r| r.adl));
    c.money("socialized", rows.iter().map(|r| r.socialized));
    c.money("shortfall", rows.iter().map(|r| r.shortfall));
    c.bool("short_options", rows.iter().map(|r| r.short_options));
    c.bool("by_collateral", rows.iter().map(|r| r.by_collateral));
    c.finish()
}

fn instrument(series: Option<u16>) -> String {
    series.map_or_else(|| "perpetual".to_string(), |s| format!("option-{s}"))
}

/// Rows `range` of the trades: `instrument` is `perpetual` or `option-N` (the option
/// chain's series N); `taker_side` is `buy` or `sell`; `liquidation` says the taker's
/// order was a liquidation's.
pub fn trades(o: &Outcome, log: &EventLog, range: Range<usize>) -> Result<RecordBatch, Error> {
    let rows = &log.trades[range];
    let spec = log.spec;
    let mut c = Columns::new(o);
    c.times(rows.iter().map(|r| r.time))?;
    let names: Vec<String> = rows.iter().map(|r| instrument(r.series)).collect();
    c.text("instrument", names.iter().map(String::as_str));
    c.f64("price", rows.iter().map(|r| spec.price_to_f64(r.price)));
    c.f64("quantity", rows.iter().map(|r| spec.qty_to_f64(r.qty)));
    c.money("notional", rows.iter().map(|r| r.notional));
    c.u32("maker", rows.iter().map(|r| r.maker.0));
    c.u32_or_null("maker_group", rows.iter().map(|r| log.group(r.maker)));
    c.u32("taker", rows.iter().map(|r| r.taker.0));
    c.u32_or_null("taker_group", rows.iter().map(|r| log.group(r.taker)));
    c.text("taker_side", rows.iter().map(|r| if r.taker_buys { "buy" } else { "sell" }));
    c.bool("liquidation", rows.iter().map(|r| r.liquidation));
    c.finish()
}

/// Rows `range` of the forced closes: `kind` is `adl` (at the bankruptcy price, or an
/// option holder's lots taken over), `mark_close` (at the mark while the fund pays) or
/// `backstop` (option lots the backstop took over); `liquidation` is the `id` of the liquidation it served.
pub fn forced_closes(
    o: &Outcome,
    log: &EventLog,
    range: Range<usize>,
) -> Result<RecordBatch, Error> {
    let rows = &log.forced_closes[range];
    let spec = log.spec;
    let mut c = Columns::new(o);
    c.times(rows.iter().map(|r| r.time))?;
    c.u32("account", rows.iter().map(|r| r.account.0));
    c.u32_or_null("group", rows.iter().map(|r| log.group(r.account)));
    let names: Vec<String> = rows.iter().map(|r| instrument(r.series)).collect();
    c.text("instrument", names.iter().map(String::as_str));
    c.text(
        "kind",
        rows.iter().map(|r| match (r.adl, r.series) {
            (true, _) => "adl",
            (false, None) => "mark_close",
            (false, Some(_)) => "backstop",
        }),
    );
    c.f64(
        "quantity",
        rows.iter().map(|r| spec.qty_to_f64(liqsim_core::Qty::from_lots(r.lots.abs()))),
    );
    c.money("notional", rows.iter().map(|r| r.notional));
    c.u64("liquidation", rows.iter().map(|r| r.liquidation));
    c.finish()
}

/// Rows `range` of the funding payments: `rate` per interval (positive: longs pay), and
/// `residual`, the rounding left to fee income.
pub fn funding(o: &Outcome, log: &EventLog, range: Range<usize>) -> Result<RecordBatch, Error> {
    let rows = &log.funding[range];
    let mut c = Columns::new(o);
    c.times(rows.iter().map(|r| r.time))?;
    c.f64("rate", rows.iter().map(|r| r.rate));
    c.money("residual", rows.iter().map(|r| r.residual));
    c.finish()
}

/// Rows `range` of the insurance fund's movements: `balance` after the change (marked
/// with the liquidation engine's inventory) and `change` from the row before (from the
/// fund's start for the first).
pub fn fund(o: &Outcome, log: &EventLog, range: Range<usize>) -> Result<RecordBatch, Error> {
    let before = match range.start.checked_sub(1) {
        Some(i) => log.fund[i].balance,
        None => o.insurance_fund.start,
    };
    let rows = &log.fund[range];
    let mut c = Columns::new(o);
    c.times(rows.iter().map(|r| r.time))?;
    c.money("balance", rows.iter().map(|r| r.balance));
    let previous = std::iter::once(before).chain(rows.iter().map(|r| r.balance));
    c.f64("change", rows.iter().zip(previous).map(|(r, p)| r.balance.to_f64() - p.to_f64()));
    c.finish()
}

/// How many rows the log `name` has, and the function that builds a chunk of it.
type Builder<'a> = Box<dyn Fn(Range<usize>) -> Result<RecordBatch, Error> + 'a>;

/// The logs of a run: the time series and liquidations always, the event logs when the
/// run kept them; each as (name, rows, builder of a row range).
pub fn logs<'a>(
    o: &'a Outcome,
    log: Option<&'a EventLog>,
) -> Vec<(&'static str, usize, Builder<'a>)> {
    let mut out: Vec<(&'static str, usize, Builder<'a>)> = vec![
        ("timeseries", o.series.len(), Box::new(move |r| timeseries(o, r))),
        ("liquidations", o.liquidation_log.len(), Box::new(move |r| liquidations(o, r))),
    ];
    if let Some(log) = log {
        out.push(("trades", log.trades.len(), Box::new(move |r| trades(o, log, r))));
        out.push((
            "forced_closes",
            log.forced_closes.len(),
            Box::new(move |r| forced_closes(o, log, r)),
        ));
        out.push(("funding", log.funding.len(), Box::new(move |r| funding(o, log, r))));
        out.push(("fund", log.fund.len(), Box::new(move |r| fund(o, log, r))));
    }
    out
}

/// The whole log as record batches of at most [`CHUNK_ROWS`] rows (one, empty, for an
/// empty log, so that its schema is known).
pub fn batches(rows: usize, build: &Builder) -> Result<Vec<RecordBatch>, Error> {
    chunks(rows).map(build).collect()
}

fn chunks(rows: usize) -> impl Iterator<Item = Range<usize>> {
    let count = rows.div_ceil(CHUNK_ROWS).max(1);
    (0..count).map(move |i| i * CHUNK_ROWS..((i + 1) * CHUNK_ROWS).min(rows))
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> Error {
    InputError::new(format!("cannot write: {e}")).source(path.display().to_string()).into()
}

/// Writes every log of the run into `dir` as `NAME.parquet` or `NAME.csv`, each to a
/// temporary name and renamed, so an interrupted run leaves no torn file; `skip` names
/// logs not to write (the CSVs `liqsim-report` already writes). Returns the files
/// written.
pub fn write_logs(
    dir: &Path,
    o: &Outcome,
    log: Option<&EventLog>,
    format: Format,
    skip: &[&str],
) -> Result<Vec<String>, Error> {
    let mut written = Vec::new();
    for (name, rows, build) in logs(o, log) {
        if skip.contains(&name) {
            continue;
        }
        let file = format!("{name}.{}", format.extension());
        let path = dir.join(&file);
        let tmp = dir.join(format!(".{file}.tmp{}", std::process::id()));
        let result = match format {
            Format::Parquet => write_parquet(&tmp, rows, &build),
            Format::Csv => write_csv(&tmp, rows, &build),
        };
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, &path).map_err(|e| write_error(&path, e))?;
        written.push(file);
    }
    Ok(written)
}

fn schema_of(build: &Builder) -> Result<SchemaRef, Error> {
    Ok(build(0..0)?.schema())
}

/// Snappy-compressed Parquet, one row group per chunk.
pub fn write_parquet(path: &Path, rows: usize, build: &Builder) -> Result<(), Error> {
    use parquet::arrow::ArrowWriter;
    use parquet::basic::Compression;
    use parquet::file::properties::WriterProperties;
    let file = std::fs::File::create(path).map_err(|e| write_error(path, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(CHUNK_ROWS))
        .build();
    let mut writer =
        ArrowWriter::try_new(std::io::BufWriter::new(file), schema_of(build)?, Some(props))
            .map_err(|e| write_error(path, e))?;
    for range in chunks(rows) {
        writer.write(&build(range)?).map_err(|e| write_error(path, e))?;
    }
    writer.close().map_err(|e| write_error(path, e))?;
    Ok(())
}

/// CSV with a header row: nulls are empty fields, booleans `true`/`false`, `utc` as
/// `YYYY-MM-DDTHH:MM:SS.fffZ`-style text.
pub fn write_csv(path: &Path, rows: usize, build: &Builder) -> Result<(), Error> {
    let file = std::fs::File::create(path).map_err(|e| write_error(path, e))?;
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let schema = schema_of(build)?;
    w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
        .map_err(|e| write_error(path, e))?;
    let mut record = Vec::with_capacity(schema.fields().len());
    for range in chunks(rows) {
        let batch = build(range)?;
        for row in 0..batch.num_rows() {
            record.clear();
            for column in batch.columns() {
                record.push(cell(column, row));
            }
            w.write_record(&record).map_err(|e| write_error(path, e))?;
        }
    }
    w.flush().map_err(|e| write_error(path, e))?;
    Ok(())
}

fn cell(column: &ArrayRef, row: usize) -> String {
    if column.is_null(row) {
        return String::new();
    }
    match column.data_type() {
        DataType::Float64 => column.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::UInt32 => column.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => column.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Boolean => column.as_boolean().value(row).to_string(),
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            let ns = column.as_primitive::<TimestampNanosecondType>().value(row);
            u64::try_from(ns).map(liqsim_core::time::format_timestamp).unwrap_or_default()
        }
        other => format!("<{other}>"),
    }
}

/// One row per run, for comparisons and sweeps: `labels` are text columns first (policy,
/// grid values), then the run's figures (money in quote units, `amplification` null when
/// nothing was liquidated by an exogenous move).
pub fn outcomes(labels: &[(&str, Vec<String>)], runs: &[Outcome]) -> Result<RecordBatch, Error> {
    let mut c = Columns { utc_start: None, fields: Vec::new(), arrays: Vec::new() };
    for (name, values) in labels {
        if values.len() != runs.len() {
            return Err(Error::Internal(format!(
                "{name}: {} labels, {} runs",
                values.len(),
                runs.len()
            )));
        }
        c.text(name, values.iter().map(String::as_str));
    }
    c.text("scenario", runs.iter().map(|o| o.scenario.as_str()));
    c.u64("seed", runs.iter().map(|o| o.seed));
    c.text("policy", runs.iter().map(|o| o.policy.as_str()));
    c.text("digest", runs.iter().map(|o| o.digest.as_str()));
    c.u64("events", runs.iter().map(|o| o.events));
    c.u64("liquidations", runs.iter().map(|o| o.liquidations.count));
    c.money("liquidated_notional", runs.iter().map(|o| o.liquidations.notional));
    c.money("bad_debt", runs.iter().map(|o| o.bad_debt));
    c.money("insurance_fund_start", runs.iter().map(|o| o.insurance_fund.start));
    c.money("insurance_fund_end", runs.iter().map(|o| o.insurance_fund.end));
    c.money("insurance_fund_min", runs.iter().map(|o| o.insurance_fund.min));
    c.u64("adl_count", runs.iter().map(|o| o.adl.count));
    c.money("adl_notional", runs.iter().map(|o| o.adl.notional));
    c.money("socialized_loss", runs.iter().map(|o| o.socialized_loss));
    c.u32("cascade_max_depth", runs.iter().map(|o| o.cascade.max_depth));
    c.f64_or_null(
        "cascade_amplification",
        runs.iter().map(|o| o.cascade.amplification.unwrap_or(f64::NAN)),
    );
    c.u32("cascade_waves", runs.iter().map(|o| o.cascade.waves));
    c.bool("solvent", runs.iter().map(|o| o.solvent));
    c.money("mean_initial_margin", runs.iter().map(|o| o.margin.mean_initial));
    c.money("peak_initial_margin", runs.iter().map(|o| o.margin.peak_initial));
    c.money("conservation_error", runs.iter().map(|o| o.conservation_error));
    c.finish()
}
