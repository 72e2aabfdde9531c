//! The event logs of `run --out`: typed Parquet tables (CSV on request) that agree with
//! the run's summary, and that cannot change the run.

use crate::support::{Scratch, liqsim};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use std::path::Path;

pub(crate) fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(1 << 30).build().unwrap();
    let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    assert!(batches.len() <= 1, "{}: a small run's log is one chunk", path.display());
    batches.pop().unwrap_or_else(|| RecordBatch::new_empty(schema))
}

fn f64s(batch: &RecordBatch, name: &str) -> Vec<f64> {
    let column = batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
    column.as_primitive::<Float64Type>().values().to_vec()
}

fn texts(batch: &RecordBatch, name: &str) -> Vec<String> {
    let column = batch.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
    column.as_string::<i32>().iter().map(|s| s.unwrap_or("").to_string()).collect()
}

fn run(dir: &Path, file: &str, extra: &[&str]) -> serde_json::Value {
    let out = dir.display().to_string();
    let mut args = vec!["run", file, "--format", "json", "--out", &out];
    args.extend_from_slice(extra);
    let run = liqsim(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn parquet_logs_agree_with_the_summary() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("out");
    // Fixed margin on the quickstart runs into ADL, so every log has rows.
    let summary = run(&dir, "scenarios/quickstart.toml", &["--policy", "fixed"]);

    let series = read_parquet(&dir.join("timeseries.parquet"));
    assert_eq!(series.num_rows(), 240, "4 hours sampled every minute");
    let names: Vec<String> =
        series.schema().fields().iter().map(|f| f.name().to_string()).collect();
    assert!(!names.iter().any(|n| n == "index"), "{names:?}");
    assert!(names.iter().any(|n| n == "index_price"), "{names:?}");
    assert!(!names.iter().any(|n| n == "utc"), "an undated run has no UTC column");

    let liquidations = read_parquet(&dir.join("liquidations.parquet"));
    assert_eq!(liquidations.num_rows() as u64, summary["liquidations"]["count"].as_u64().unwrap());
    let notional: f64 = f64s(&liquidations, "notional").iter().sum();
    let expected = summary["liquidations"]["notional"].as_f64().unwrap();
    assert!((notional - expected).abs() < 1e-6 * expected, "{notional} vs {expected}");
    for name in ["fill_price", "leverage", "group", "book", "engine", "adl", "depth"] {
        assert!(liquidations.column_by_name(name).is_some(), "no {name}");
    }
    // Without collateral, no liquidation is one by collateral value.
    let by_collateral = liquidations.column_by_name("by_collateral").unwrap().as_boolean();
    assert_eq!(by_collateral.true_count(), 0);

    // What the liquidations sent into the book is what the trades flagged as theirs.
    let trades = read_parquet(&dir.join("trades.parquet"));
    let flagged = trades.column_by_name("liquidation").unwrap().as_boolean().clone();
    let quantity = f64s(&trades, "quantity");
    let into_book: f64 =
        quantity.iter().enumerate().filter(|(i, _)| flagged.value(*i)).map(|(_, q)| q).sum();
    let book: f64 = f64s(&liquidations, "book").iter().sum();
    assert!(book > 0.0);
    assert!((into_book - book).abs() < 1e-6 * book, "trades {into_book} vs liquidations {book}");
    assert!(texts(&trades, "instrument").iter().all(|i| i == "perpetual"));
    let maker_groups = trades.column_by_name("maker_group").unwrap();
    assert!(maker_groups.null_count() < trades.num_rows(), "makers belong to a group");

    let forced = read_parquet(&dir.join("forced_closes.parquet"));
    let kinds = texts(&forced, "kind");
    let adl = kinds.iter().filter(|k| *k == "adl").count() as u64;
    assert!(adl > 0);
    assert_eq!(adl, summary["adl"]["count"].as_u64().unwrap());
    let served = forced.column_by_name("liquidation").unwrap().as_primitive::<UInt64Type>();
    let last = served.values().iter().max().copied().unwrap();
    assert!(last < liquidations.num_rows() as u64, "every close serves a logged liquidation");

    let fund = read_parquet(&dir.join("fund.parquet"));
    let balance = f64s(&fund, "balance");
    let end = summary["insurance_fund"]["end"].as_f64().unwrap();
    assert!((balance.last().unwrap() - end).abs() < 1e-6, "{balance:?} ends at {end}");
    let changes: f64 = f64s(&fund, "change").iter().sum();
    let start = summary["insurance_fund"]["start"].as_f64().unwrap();
    assert!((start + changes - end).abs() < 1e-3, "changes add up to the fund's move");

    // Each interval's low is the lowest balance the fund log saw in it (or the sampled
    // balance at its end, when that is lower or nothing moved the fund in between).
    let (fund_time, series_time) = (f64s(&fund, "time_s"), f64s(&series, "time_s"));
    let (sampled, low) = (f64s(&series, "insurance_fund"), f64s(&series, "insurance_fund_low"));
    let mut dipped = 0;
    let mut from = f64::NEG_INFINITY;
    for (i, &to) in series_time.iter().enumerate() {
        assert!(low[i] <= sampled[i], "row {i}: low {} above the fund {}", low[i], sampled[i]);
        let logged = fund_time
            .iter()
            .zip(&balance)
            .filter(|(t, _)| **t > from && **t <= to)
            .map(|(_, b)| *b)
            .fold(f64::INFINITY, f64::min);
        assert_eq!(low[i], logged.min(sampled[i]), "row {i} ({from} s, {to} s]");
        dipped += usize::from(low[i] < sampled[i]);
        from = to;
    }
    assert!(dipped > 0, "the fund recovered within some interval: a sample alone misses it");

    let funding = read_parquet(&dir.join("funding.parquet"));
    assert_eq!(funding.num_rows(), 0, "no funding in a four-hour run with 8-hour funding");
    assert!(funding.column_by_name("rate").is_some(), "an empty log keeps its schema");
}

#[test]
fn a_replay_dates_its_rows_in_utc() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("out");
    let small = ["--set", "duration=\"30m\"", "--set", "agents[1].count=300"];
    run(&dir, "scenarios/black-thursday-2020.toml", &small);
    let series = read_parquet(&dir.join("timeseries.parquet"));
    let utc = series.column_by_name("utc").expect("a UTC column in a replay");
    assert_eq!(
        utc.data_type(),
        &arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, Some("UTC".into()))
    );
    let utc = utc.as_primitive::<arrow_array::types::TimestampNanosecondType>().values();
    let time_s = f64s(&series, "time_s");
    assert_eq!(utc.len(), 30);
    for i in 1..utc.len() {
        let apart_ns = ((time_s[i] - time_s[i - 1]) * 1e9).round() as i64;
        assert_eq!(utc[i] - utc[i - 1], apart_ns, "row {i}");
    }
    // Black Thursday's replay starts on 12 March 2020 (UTC); the CSV says the same.
    let day_ns = 86_400 * 1_000_000_000i64;
    assert_eq!(utc[0] / day_ns, 18_333, "days from 1970-01-01 to 2020-03-12");
    let csv = std::fs::read_to_string(dir.join("timeseries.csv")).unwrap();
    let text = csv.lines().nth(1).unwrap().rsplit(',').next().unwrap().to_string();
    assert!(text.starts_with("2020-03-12"), "{text}");
}

#[test]
fn logs_change_nothing_in_the_run_and_csv_is_an_option() {
    let scratch = Scratch::new();
    let (a, b) = (scratch.path().join("a"), scratch.path().join("b"));
    let with_csv = run(&a, "scenarios/quickstart.toml", &["--policy", "fixed", "--logs", "csv"]);
    let without = run(&b, "scenarios/quickstart.toml", &["--policy", "fixed", "--logs", "none"]);
    assert_eq!(with_csv, without, "the same summary and digest with and without logs");
    assert!(!b.join("trades.csv").exists() && !b.join("trades.parquet").exists());
    let trades = std::fs::read_to_string(a.join("trades.csv")).unwrap();
    let header = trades.lines().next().unwrap();
    assert_eq!(
        header,
        "time_s,instrument,price,quantity,notional,maker,maker_group,taker,taker_group,\
         taker_side,liquidation"
    );
    let adl = std::fs::read_to_string(a.join("forced_closes.csv")).unwrap();
    let rows = adl.lines().skip(1).filter(|l| l.contains(",adl,")).count() as u64;
    assert_eq!(rows, with_csv["adl"]["count"].as_u64().unwrap());
    let series = std::fs::read_to_string(a.join("timeseries.csv")).unwrap();
    assert!(series.starts_with("time_s,index_price,"), "{}", &series[..40]);
    let liquidations = std::fs::read_to_string(a.join("liquidations.csv")).unwrap();
    assert!(liquidations.starts_with("id,time_s,"), "{}", &liquidations[..40]);
}

#[test]
fn compare_and_sweep_keep_each_runs_series_on_request() {
    let scratch = Scratch::new();
    let (compare, sweep) = (scratch.path().join("c"), scratch.path().join("s"));
    let (c, s) = (compare.display().to_string(), sweep.display().to_string());
    let small = ["--set", "agents[1].count=200", "--set", "duration=\"3h\""];
    let mut args = vec!["compare", "scenarios/quickstart.toml", "--policies", "es,fixed"];
    args.extend_from_slice(&["--seeds", "2", "--out", &c, "--keep-series"]);
    args.extend_from_slice(&small);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in ["es-seed7", "es-seed8", "fixed-seed7", "fixed-seed8"] {
        let series = read_parquet(&compare.join("series").join(format!("{name}.parquet")));
        assert_eq!(series.num_rows(), 180, "{name}: 3 hours sampled every minute");
    }
    let mut args =
        vec!["sweep", "scenarios/quickstart.toml", "--grid", "liquidation.fee=0.005,0.01"];
    args.extend_from_slice(&["--seeds", "1", "--out", &s, "--keep-series"]);
    args.extend_from_slice(&small);
    let out = liqsim(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let kept: Vec<String> = std::fs::read_dir(sweep.join("series"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(kept, ["00000000.parquet", "00000001.parquet"]);
}
