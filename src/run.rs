//! `liqsim run FILE`: run one scenario.

use crate::CliResult;
use liqsim_core::Error;
use liqsim_scenario::Scenario;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub file: PathBuf,
    /// Seed of the run (overrides the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Margin policy (overrides `margin.policy`).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(liqsim_scenario::Policy::NAMES))]
    pub policy: Option<String>,
    /// Override any scenario field: `--set margin.confidence=0.995` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Write summary.json, timeseries.csv, liquidations.csv, report.html, the event logs,
    /// provenance.json and the resolved scenario.toml here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Event logs written with `--out`: trades, liquidations, forced closes (ADL),
    /// funding, insurance fund and the time series, as Parquet (typed columns) or CSV;
    /// `none` writes only the CSV time series and liquidation log.
    #[arg(long, value_parser = ["parquet", "csv", "none"], default_value = "parquet")]
    pub logs: String,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Check every invariant (money conserved, book uncrossed, open interest balanced)
    /// after every event; slower, for tests and debugging.
    #[arg(long)]
    pub check: bool,
}

/// Loads the scenario with the command-line overrides: `--set` in order, then `--seed`
/// and `--policy`, which are overrides of `seed` and `margin.policy` and so pass the
/// same validation (an `es` run without a return history is refused either way).
pub fn load(args: &RunArgs) -> Result<Scenario, Error> {
    liqsim_scenario::load(&args.file, &overrides(args)).map_err(|e| {
        let e = match args.seed {
            Some(seed) => relabel(e, &format!("seed={seed}"), &format!("--seed {seed}")),
            None => e,
        };
        match &args.policy {
            Some(p) => relabel(e, &format!("margin.policy=\"{p}\""), &format!("--policy {p}")),
            None => e,
        }
    })
}

/// Every override of the run: `--set` in order, then `--seed` and `--policy`.
pub fn overrides(args: &RunArgs) -> Vec<String> {
    let mut overrides = args.overrides.clone();
    if let Some(seed) = args.seed {
        overrides.push(format!("seed={seed}"));
    }
    if let Some(policy) = &args.policy {
        overrides.push(format!("margin.policy=\"{policy}\""));
    }
    overrides
}

/// An error at an override that a flag stands for (`--seed 7` is `seed=7`) names the
/// flag the user wrote, not the override.
pub fn relabel(mut e: Error, set: &str, flag: &str) -> Error {
    if let Some(input) = e.as_input_mut()
        && input.source.as_deref() == Some(format!("--set {set}").as_str())
    {
        input.source = Some(flag.to_string());
    }
    e
}

pub fn run(args: &RunArgs) -> CliResult {
    let scenario = load(args)?;
    let started = std::time::Instant::now();
    let keep_log = args.out.is_some() && args.logs != "none";
    let (outcome, log) = crate::engine::run_with_progress(&scenario, args.check, keep_log)?;
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "{} events in {} ({:.0} events/s)",
        outcome.events,
        crate::progress::resources(started),
        outcome.events as f64 / wall.max(1e-9)
    );
    match args.format.as_str() {
        "json" => print!("{}", crate::output::summary_json(&outcome)),
        _ => print!("{}", render_table(&outcome)),
    }
    if let Some(dir) = &args.out {
        crate::output::write_run(dir, &outcome)?;
        let logs_started = std::time::Instant::now();
        let written = match args.logs.as_str() {
            "parquet" => liqsim_logs::write_logs(
                dir,
                &outcome,
                log.as_ref(),
                liqsim_logs::Format::Parquet,
                &[],
            )?,
            // liqsim-report has written the time series and the liquidations as CSV.
            "csv" => liqsim_logs::write_logs(
                dir,
                &outcome,
                log.as_ref(),
                liqsim_logs::Format::Csv,
                &["timeseries", "liquidations"],
            )?,
            _ => vec![],
        };
        if !written.is_empty() {
            eprintln!(
                "wrote {} in {:.2} s",
                written.join(", "),
                logs_started.elapsed().as_secs_f64()
            );
        }
        let input = crate::provenance::Input { file: &args.file, overrides: overrides(args) };
        let flags = serde_json::json!({
            "seed": outcome.seed,
            "policy": outcome.policy,
            "check": args.check,
            "digest": outcome.digest,
        });
        crate::provenance::write(dir, "run", &[input], flags)?;
    }
    Ok(())
}

fn seconds(t: Option<liqsim_core::SimTime>) -> String {
    t.map(|t| liqsim_core::SimDuration::from_nanos(t.nanos()).to_string())
        .unwrap_or_else(|| "-".into())
}

/// The human summary of a run: one figure a line, money to the cent with its currency
/// (the exact micro-units are in `--format json` and the files of `--out`).
pub fn render_table(o: &liqsim_sim::Outcome) -> String {
    use liqsim_report::human::{count, money as money_in, plural};
    let cur = o.quote_currency.as_str();
    let money = |m: liqsim_core::Money| money_in(m, cur);
    let amplification =
        o.cascade.amplification.map(|a| format!("{a:.3}")).unwrap_or_else(|| "-".into());
    let mut rows: Vec<(&str, String)> = vec![
        ("scenario", o.scenario.clone()),
        ("seed", o.seed.to_string()),
        ("policy", o.policy.clone()),
        ("digest", o.digest.clone()),
        ("events", count(o.events)),
        ("simulated", o.duration.to_string()),
        (
            "liquidations",
            format!(
                "{} ({} long, {} short) on {}",
                count(o.liquidations.count),
                count(o.liquidations.long_count),
                count(o.liquidations.short_count),
                plural(o.liquidations.accounts, "account", "accounts")
            ),
        ),
        ("liquidated notional", money(o.liquidations.notional)),
        (
            "shortfall",
            match ratio(o.liquidations.shortfall, o.liquidations.shortfall_base) {
                Some(r) => {
                    format!(
                        "{} ({:.1} bp against the marks)",
                        money(o.liquidations.shortfall),
                        r * 1e4
                    )
                }
                None => "-".into(),
            },
        ),
        (
            "open interest",
            format!(
                "peak {:.3} ({}), trough after it {:.3}, end {:.3}",
                o.open_interest.peak.units,
                money(o.open_interest.peak.notional),
                o.open_interest.trough.units,
                o.open_interest.end.units
            ),
        ),
        ("bad debt", money(o.bad_debt)),
        (
            "insurance fund",
            format!(
                "{} -> {} (min {})",
                money(o.insurance_fund.start),
                money(o.insurance_fund.end),
                money(o.insurance_fund.min)
            ),
        ),
        (
            "ADL",
            format!(
                "{}, notional {}",
                plural(o.adl.count, "close", "closes"),
                money(o.adl.notional)
            ),
        ),
        (
            "engine took",
            format!(
                "{}, notional {}",
                plural(o.adl.engine_count, "take", "takes"),
                money(o.adl.engine_notional)
            ),
        ),
        ("socialized loss", money(o.socialized_loss)),
        (
            "cascade",
            format!(
                "max depth {}, amplification {amplification}, {}, largest {}",
                o.cascade.max_depth,
                plural(u64::from(o.cascade.waves), "wave", "waves"),
                plural(o.cascade.largest, "liquidation", "liquidations")
            ),
        ),
        ("first liquidation", seconds(o.first_liquidation)),
        ("first ADL", seconds(o.first_adl)),
        ("fund exhausted", seconds(o.fund_exhausted)),
        (
            "initial margin",
            format!("mean {}, peak {}", money(o.margin.mean_initial), money(o.margin.peak_initial)),
        ),
        ("solvent", if o.solvent { "yes".into() } else { "no".into() }),
        ("conservation error", format!("{} micro-units", o.conservation_error.micros())),
    ];
    // Beside the other places a liquidation's remainder can go, when it went there.
    let after_engine =
        rows.iter().position(|(k, _)| *k == "engine took").map_or(rows.len(), |i| i + 1);
    if o.adl.mark_count > 0 {
        rows.insert(
            after_engine,
            (
                "closed at mark",
                format!(
                    "{}, notional {}",
                    plural(o.adl.mark_count, "close", "closes"),
                    money(o.adl.mark_notional)
                ),
            ),
        );
    }
    if o.adl.backstop_count > 0 {
        rows.insert(
            after_engine,
            (
                "backstop took",
                format!(
                    "{}, notional {}",
                    plural(o.adl.backstop_count, "take", "takes"),
                    money(o.adl.backstop_notional)
                ),
            ),
        );
    }
    if o.options.series > 0 {
        let x = &o.options;
        rows.push((
            "options",
            format!(
                "{}, premium traded {}, settled {}, open interest {:.3}",
                plural(x.series, "series", "series"),
                money(x.premium_volume),
                money(x.settled),
                x.open_interest
            ),
        ));
    }
    if let Some(c) = &o.collateral {
        rows.push((
            "collateral",
            format!(
                "{}: {} caused by collateral value, {} by position losses; their bad debt {}, \
                 desk paid {}",
                c.assets.join(", "),
                plural(c.liquidations_by_collateral, "liquidation", "liquidations"),
                count(c.liquidations_by_position),
                money(c.bad_debt_by_collateral),
                money(c.converted)
            ),
        ));
    }
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

/// `a / b` for positive `b`.
fn ratio(a: liqsim_core::Money, b: liqsim_core::Money) -> Option<f64> {
    b.is_positive().then(|| a.to_f64() / b.to_f64())
}
