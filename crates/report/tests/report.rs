//! Report writers against the synthetic crash, comparison and sweep: every figure drawn
//! or written equals the input's, outputs are deterministic, and `write_fixtures` writes
//! the reports the browser test opens (into `$LIQSIM_REPORT_FIXTURES` when set).

use liqsim_core::{Money, SimTime};
use liqsim_report::compare::{METRICS, decision, five_numbers, safety_capital_points};
use liqsim_report::fixtures::{
    collateral_outcome, comparison, crash_outcome, options_replay_outcome, sweep_points,
};
use liqsim_report::html::{
    MAX_POINTS, cascade_points, collateral_liquidations_per_minute, collateral_off_peg,
    collateral_price_series, crash_window, liquidation_bins, liquidation_bins_in,
    liquidations_per_minute, loss_series, option_chain_chart, option_strikes, price_chart,
    price_series, run_charts, writer_liquidation_bins,
};
use liqsim_report::run::{LIQUIDATIONS_HEADER, RUN_FILES, SERIES_HEADER};
use liqsim_report::svg::Chart;
use liqsim_report::*;
use liqsim_sim::{OptionKind, OptionSeriesFigures, Outcome, SeriesState, Side};
use liqsim_sweep::stats::summarize;
use std::path::PathBuf;

fn empty_outcome() -> Outcome {
    let mut o = crash_outcome();
    o.series.clear();
    o.liquidation_log.clear();
    o.shocks.clear();
    o.cascade = Default::default();
    o.first_liquidation = None;
    o.first_adl = None;
    o.fund_exhausted = None;
    o
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("liqsim-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_fixture_is_a_crash_with_deep_cascades() {
    let o = crash_outcome();
    assert_eq!(o.series.len(), 1_440);
    assert_eq!(o.cascade.max_depth, 4);
    let depths: Vec<u32> = (0..=4).collect();
    assert!(depths.iter().all(|d| o.liquidation_log.iter().any(|l| l.depth == *d)));
    assert!(o.fund_exhausted.is_some() && o.insurance_fund.end == Money::ZERO);
    assert!(o.adl.count > 0 && o.socialized_loss.is_positive());
    let before = o.series[100].index;
    let after = o.series[125].index;
    assert!(after < before * 0.82, "{before} -> {after}");
    // Internal consistency the charts rely on: flows in the series sum to the log's.
    let long: i64 = o.series.iter().map(|r| r.liquidated_notional_long.micros()).sum();
    assert_eq!(long, o.liquidations.long_notional.micros());
    assert_eq!(o.series.last().unwrap().bad_debt, o.bad_debt);
}

#[test]
fn summary_json_has_every_contract_field_in_order() {
    let text = summary_json(&crash_outcome());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let paths = [
        "/scenario",
        "/seed",
        "/policy",
        "/digest",
        "/events",
        "/sim_seconds",
        "/liquidations/count",
        "/liquidations/notional",
        "/bad_debt",
        "/insurance_fund/start",
        "/insurance_fund/end",
        "/insurance_fund/min",
        "/adl/count",
        "/adl/notional",
        "/socialized_loss",
        "/cascade/max_depth",
        "/cascade/amplification",
        "/cascade/waves",
        "/solvent",
        "/conservation_error",
        "/margin/mean_initial",
        "/margin/peak_initial",
        "/first_liquidation_s",
        "/first_adl_s",
        "/fund_exhausted_s",
        "/cascade/size_counts",
        "/liquidations/long_notional",
    ];
    for p in paths {
        assert!(v.pointer(p).is_some(), "missing {p}");
    }
    assert_eq!(v["seed"], 7);
    assert_eq!(v["sim_seconds"].to_string(), "86400.000000");
    assert_eq!(v["cascade"]["max_depth"], 4);
    assert_eq!(v["solvent"], false);
    // Top-level keys in the documented order.
    let order = [
        "\"scenario\"",
        "\"seed\"",
        "\"policy\"",
        "\"digest\"",
        "\"events\"",
        "\"sim_seconds\"",
        "\"liquidations\"",
        "\"bad_debt\"",
        "\"insurance_fund\"",
        "\"adl\"",
        "\"socialized_loss\"",
        "\"cascade\"",
        "\"solvent\"",
        "\"conservation_error\"",
        "\"margin\"",
    ];
    let at: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}");
    assert!(text.ends_with("}\n"));
}

#[test]
fn money_in_json_is_exact_beyond_f64() {
    let mut o = crash_outcome();
    // 2^53 + 1 micro-units: an f64 round trip would print ...740992.
    o.bad_debt = Money::from_micros(9_007_199_254_740_993);
    o.insurance_fund.min = Money::from_micros(-1);
    let text = summary_json(&o);
    assert!(text.contains("\"bad_debt\": 9007199254.740993,"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["bad_debt"].to_string(), "9007199254.740993");
    assert_eq!(v["insurance_fund"]["min"].to_string(), "-0.000001");
    assert_eq!(v["liquidations"]["notional"].to_string(), o.liquidations.notional.to_string());
}

#[test]
fn absent_values_are_null() {
    let o = empty_outcome();
    let v: serde_json::Value = serde_json::from_str(&summary_json(&o)).unwrap();
    for key in ["first_liquidation_s", "first_adl_s", "fund_exhausted_s"] {
        assert!(v[key].is_null(), "{key}");
    }
    assert!(v["cascade"]["amplification"].is_null());
    assert_eq!(v["cascade"]["size_counts"], serde_json::json!([]));
    let o = crash_outcome();
    let v: serde_json::Value = serde_json::from_str(&summary_json(&o)).unwrap();
    let first = o.first_liquidation.unwrap().as_seconds_f64();
    assert_eq!(v["first_liquidation_s"].to_string(), format!("{first:.6}"));
}

fn split(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|l| l.split(',').map(str::to_string).collect()).collect()
}

#[test]
fn timeseries_csv_has_a_row_per_interval_and_exact_money() {
    let o = crash_outcome();
    let rows = split(&timeseries_csv(&o));
    assert_eq!(rows.len(), o.series.len() + 1);
    assert_eq!(rows[0], SERIES_HEADER);
    assert!(rows.iter().all(|r| r.len() == SERIES_HEADER.len()));
    let col = |name: &str| SERIES_HEADER.iter().position(|h| *h == name).unwrap();
    for (r, s) in rows[1..].iter().zip(&o.series) {
        assert_eq!(r[col("insurance_fund")], s.insurance_fund.to_string());
        assert_eq!(r[col("insurance_fund_low")], s.insurance_fund_low.to_string());
        assert_eq!(
            Money::from_decimal(&r[col("liquidated_depth3plus")]).unwrap(),
            s.liquidated_by_depth[3]
        );
        assert_eq!(r[col("time_s")], format!("{:.6}", s.time.as_seconds_f64()));
        assert_eq!(r[col("spread")].is_empty(), s.spread.is_none());
        assert_eq!(r[col("unpaid_loss")], s.unpaid_loss.to_string());
        assert_eq!(r[col("solvent")], s.solvent().to_string());
    }
    assert!(o.series.iter().any(|s| s.spread.is_none()), "the fixture has gaps in the spread");
    assert!(rows[1..].iter().any(|r| r[col("solvent")] == "false"), "the fixture goes insolvent");
    assert!(rows[1..].iter().any(|r| r[col("solvent")] == "true"));
}

#[test]
fn liquidations_csv_has_cause_and_depth() {
    let o = crash_outcome();
    let rows = split(&liquidations_csv(&o));
    assert_eq!(rows.len(), o.liquidation_log.len() + 1);
    assert_eq!(rows[0], LIQUIDATIONS_HEADER);
    for (i, (r, l)) in rows[1..].iter().zip(&o.liquidation_log).enumerate() {
        assert_eq!(r[0], i.to_string());
        assert_eq!(r[3], if l.side == Side::Long { "long" } else { "short" });
        assert_eq!(r[8], if l.depth == 0 { "exogenous" } else { "cascade" });
        assert_eq!(r[9], l.caused_by.map(|c| c.to_string()).unwrap_or_default());
        assert_eq!(r[10], l.depth.to_string());
        assert_eq!(Money::from_decimal(&r[5]).unwrap(), l.notional);
        // A cause always precedes its effect and is one level shallower.
        if let Some(c) = l.caused_by {
            assert!((c as usize) < i && o.liquidation_log[c as usize].depth + 1 == l.depth);
        }
    }
}

#[test]
fn chart_data_equals_the_outcome() {
    let o = crash_outcome();
    let [index, mark, last] = price_series(&o);
    for (k, s) in o.series.iter().enumerate() {
        assert_eq!(index.1[k], (s.time.as_seconds_f64(), Some(s.index)));
        assert_eq!(mark.1[k].1, Some(s.mark));
        assert_eq!(last.1[k].1, Some(s.last));
    }
    let losses = loss_series(&o);
    assert_eq!(losses[1].1.last().unwrap().1, Some(o.bad_debt.to_f64()));
    assert_eq!(losses[0].1.last().unwrap().1, Some(o.insurance_fund.end.to_f64()));
    let unpaid = o.series.last().unwrap().unpaid_loss.to_f64();
    assert!(unpaid > 0.0, "the fixture leaves a loss unpaid");
    assert_eq!(losses[4].1.last().unwrap().1, Some(unpaid));
    // Liquidation bins hold every liquidation once: totals by side and by cause equal the
    // outcome's and the series', exactly.
    let bins = liquidation_bins(&o);
    assert_eq!(bins.width_s, 600, "24 h in at most 240 bins of a round width: 10 min");
    let side_total = |f: fn(&liqsim_report::html::LiquidationBin) -> &[Money; 4]| -> i64 {
        bins.bins.iter().flat_map(|b| f(b).iter()).map(|m| m.micros()).sum()
    };
    assert_eq!(side_total(|b| &b.long), o.liquidations.long_notional.micros());
    assert_eq!(side_total(|b| &b.short), o.liquidations.short_notional.micros());
    for depth in 0..4 {
        let from_bins: i64 =
            bins.bins.iter().map(|b| b.long[depth].micros() + b.short[depth].micros()).sum();
        let from_series: i64 = o.series.iter().map(|r| r.liquidated_by_depth[depth].micros()).sum();
        assert_eq!(from_bins, from_series, "depth bucket {depth}");
    }
    let points = cascade_points(&o);
    assert_eq!(points.len(), o.cascade.size_counts.len());
    let total: f64 = points.iter().map(|(s, n)| s * n).sum();
    assert_eq!(total, o.liquidations.count as f64, "cascade sizes add up to every liquidation");
}

/// The (x, y) pixel pairs of a path's `d` attribute.
fn path_points(d: &str) -> Option<Vec<(f64, f64)>> {
    d.split(['M', 'L'])
        .filter(|s| !s.is_empty())
        .map(|p| {
            let (x, y) = p.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_price_line_in_the_svg_is_the_index_series() {
    let o = crash_outcome();
    let chart = price_chart(&o);
    let svg = chart.render();
    let path = svg.split("data-series=\"index\" d=\"").nth(1).unwrap().split('"').next().unwrap();
    let pts = path_points(path).unwrap();
    assert_eq!(pts.len(), o.series.len());
    // Invert the axes and compare with the data (2-decimal pixels -> tolerance).
    let (x0, x1) = (chart.px(0.0), chart.px(86_400.0));
    let (lo, hi) = (chart.y.lo(), chart.y.hi());
    let (y_lo, y_hi) = (chart.py(lo, false), chart.py(hi, false));
    let value_per_px = (hi - lo) / (y_lo - y_hi);
    for ((px, py), s) in pts.iter().zip(&o.series) {
        let t = (px - x0) / (x1 - x0) * 86_400.0;
        let v = lo + (y_lo - py) * value_per_px;
        assert!((t - s.time.as_seconds_f64()).abs() < 86_400.0 / (x1 - x0) * 0.006, "{t}");
        assert!((v - s.index).abs() <= value_per_px * 0.006, "{v} vs {}", s.index);
    }
}

#[test]
fn liquidation_bars_add_up_to_the_liquidated_notional() {
    let o = crash_outcome();
    let charts = run_charts(&o);
    assert_eq!(charts[2].0.id, "liquidations");
    let svg = charts[2].0.render();
    // Each bar's tooltip carries its exact notional after the last ": ".
    let mut long = Money::ZERO;
    let mut short = Money::ZERO;
    for title in svg.split("<title>").skip(1).map(|t| t.split("</title>").next().unwrap()) {
        if !title.contains("cascade") && !title.contains("exogenous") {
            continue;
        }
        let amount = Money::from_decimal(title.rsplit(": ").next().unwrap()).unwrap();
        if title.contains(" long ") {
            long = long.checked_add(amount).unwrap();
        } else {
            short = short.checked_add(amount).unwrap();
        }
    }
    assert_eq!(long, o.liquidations.long_notional);
    assert_eq!(short, o.liquidations.short_notional);
}

#[test]
fn the_crash_window_holds_most_of_the_liquidated_notional() {
    let o = crash_outcome();
    let (start, end) = crash_window(&o).unwrap();
    assert_eq!(start, 7_140, "a minute before the first liquidation (02:00:03)");
    assert!(end > start + 1_800 && end <= 86_400, "{end}");
    let inside: i64 = o
        .liquidation_log
        .iter()
        .filter(|l| l.time.nanos() >= start * 1_000_000_000 && l.time.nanos() < end * 1_000_000_000)
        .map(|l| l.notional.micros())
        .sum();
    assert!(inside * 10 >= o.liquidations.notional.micros() * 9);
    let bins = liquidation_bins_in(&o, start, end, 120);
    assert!(bins.bins.len() <= 120 && bins.width_s <= 60, "{}", bins.width_s);
    let binned: i64 =
        bins.bins.iter().flat_map(|b| b.long.iter().chain(&b.short)).map(|m| m.micros()).sum();
    assert_eq!(binned, inside);
    assert!(crash_window(&empty_outcome()).is_none());
}

#[test]
fn run_report_is_self_contained_and_every_chart_has_data() {
    let o = crash_outcome();
    for (chart, _) in run_charts(&o) {
        assert!(chart.marks > 0, "chart {} is empty", chart.id);
    }
    let html = run_report_html(&o);
    assert_eq!(html.matches("<svg ").count(), 7);
    assert!(!html.contains("<script"));
    assert!(!html.contains("https://"));
    assert_eq!(html.matches("http://").count(), 7, "only the SVG namespace");
    // The fixture is dated (2020-03-12T00:00Z): its time axes read in UTC, naming the day
    // at the first tick and where it changes.
    assert!(html.contains(">2020-03-12 00:00</text>"), "UTC axis");
    assert!(html.contains(">2020-03-13 00:00</text>") && !html.contains("1d 00:00"));
    assert!(html.contains("time (UTC)"));
    // Headline figures are the outcome's, to the cent, with the currency.
    assert!(html.contains(&liqsim_report::human::money(o.bad_debt, "USD")));
    assert!(html.contains(&o.digest));
    assert!(html.len() < 1_500_000, "{} bytes", html.len());
    // An empty run still renders, and says its charts are empty rather than drawing nothing.
    let empty = run_report_html(&empty_outcome());
    assert_eq!(empty.matches("<svg ").count(), 7);
    assert!(empty.matches("no data").count() >= 3);
}

#[test]
fn long_series_are_downsampled_to_the_cap() {
    let mut o = crash_outcome();
    let base = o.series.clone();
    o.series = (0..5_760)
        .map(|i| {
            let mut r = base[i / 4];
            r.time = SimTime::from_nanos((i as u64 + 1) * 15_000_000_000);
            r
        })
        .collect();
    let svg = price_chart(&o).render();
    let path = svg.split("data-series=\"index\" d=\"").nth(1).unwrap().split('"').next().unwrap();
    let n = path_points(path).unwrap().len();
    assert!(n <= MAX_POINTS + 1 && n > MAX_POINTS / 2, "{n}");
}

#[test]
fn outputs_are_byte_identical_across_calls() {
    let (a, b) = (crash_outcome(), crash_outcome());
    assert_eq!(summary_json(&a), summary_json(&b));
    assert_eq!(timeseries_csv(&a), timeseries_csv(&b));
    assert_eq!(liquidations_csv(&a), liquidations_csv(&b));
    assert_eq!(run_report_html(&a), run_report_html(&b));
    assert_eq!(compare_html(&comparison()), compare_html(&comparison()));
    assert_eq!(comparison_json(&comparison()), comparison_json(&comparison()));
    assert_eq!(
        sweep_html("s", 20, "USD", &sweep_points()),
        sweep_html("s", 20, "USD", &sweep_points())
    );
}

#[test]
fn comparison_statistics_are_the_sweep_crate_statistics() {
    let c = comparison();
    let stats = c.stats();
    let es_bad: Vec<f64> = c.policies[0].runs.iter().map(|r| r.bad_debt.to_f64()).collect();
    let s = stats.iter().find(|s| s.policy == "es" && s.metric == "bad_debt").unwrap();
    assert_eq!(s.summary, summarize(&es_bad).unwrap());
    assert!(s.diff_vs_first.is_none());
    let fixed = stats.iter().find(|s| s.policy == "fixed" && s.metric == "bad_debt").unwrap();
    let d = fixed.diff_vs_first.unwrap();
    assert!(d.mean > 0.0, "fixed has more bad debt than es on the same seeds");
    let csv = comparison_csv(&c);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + c.policies.len() * (METRICS.len() + 1));
    assert!(lines.iter().all(|l| l.split(',').count() == 13), "{csv}");
    assert!(
        lines.contains(&format!("es,bad_debt,20,{:.6},", s.summary.mean).as_str())
            || csv.contains(&format!("es,bad_debt,20,{:.6},", s.summary.mean))
    );
    let v: serde_json::Value = serde_json::from_str(&comparison_json(&c)).unwrap();
    assert_eq!(v["seeds"].as_array().unwrap().len(), 20);
    // Twenty seeds have no p99 (it would be their maximum): null, and "max of 20" in the table.
    assert!(v["policies"]["es"]["bad_debt"]["p99"].is_null());
    assert_eq!(v["policies"]["es"]["bad_debt"]["max"].to_string(), format!("{:.6}", s.summary.max));
    let p = &v["policies"]["fixed"]["fund_exhausted"];
    let prob: f64 = p["probability"].to_string().parse().unwrap();
    let count = c.policies[2].runs.iter().filter(|r| r.fund_exhausted).count();
    assert_eq!(prob, count as f64 / 20.0);
    let table = comparison_table(&c);
    // Headline: title, header, a line per policy, the verdict; a blank line; then the
    // detail: header, a line per policy, the legend.
    assert_eq!(table.lines().count(), 3 + c.policies.len() + 1 + 2 + c.policies.len());
    assert!(table.lines().nth(2).unwrap().starts_with("es ") && table.contains("(base)"));
    assert!(table.contains("bd max of 20") && !table.contains("bd p99"), "{table}");
    for (policy, ratio, _, _) in decision(&c) {
        let (v, (lo, hi)) = ratio.map(|(v, ci)| (v, ci.unwrap())).unwrap();
        assert!(lo <= v && v <= hi, "{policy}: {lo} {v} {hi}");
        // Bad debt per 1,000 of margin, three significant digits, with the currency.
        let shown = liqsim_report::human::significant(v * 1e3, 3);
        assert!(table.contains(&format!("{shown} USD [")), "{policy}: {table}");
    }
}

#[test]
fn compare_page_draws_every_policy() {
    let c = comparison();
    let html = compare_html(&c);
    assert_eq!(html.matches("<svg ").count(), 5);
    // Twenty seeds: every seed is a dot, no box hides how they split.
    assert_eq!(html.matches("class=\"box\"").count(), 0);
    assert!(html.contains("Which policy is safest per unit of margin locked"));
    for p in &c.policies {
        assert!(html.contains(&format!(">{}</text>", p.policy)), "{}", p.policy);
    }
    let points = safety_capital_points(&c);
    assert_eq!(points.len(), 4);
    let five = five_numbers(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
    // Type 8 quartiles of 1..7: h = (7 + 1/3) p + 1/3 -> 2.1667 and 5.8333.
    assert_eq!((five[0], five[2], five[4]), (1.0, 4.0, 7.0));
    assert!(
        (five[1] - 13.0 / 6.0).abs() < 1e-12 && (five[3] - 35.0 / 6.0).abs() < 1e-12,
        "{five:?}"
    );
}

#[test]
fn frontier_marks_exactly_the_points_no_other_beats_beyond_the_noise() {
    let points = sweep_points();
    let marked = mark_frontier(&points);
    let series: Vec<(Vec<f64>, Vec<f64>)> =
        points.iter().map(|p| (p.bad_debt_seeds.clone(), p.margin_seeds.clone())).collect();
    assert_eq!(marked, liqsim_sweep::frontier_paired(&series));
    // A point lower on both means does not dominate by itself: only beyond the noise.
    let naive = liqsim_sweep::frontier(
        &points.iter().map(|p| (p.bad_debt_mean, p.mean_initial_margin)).collect::<Vec<_>>(),
    );
    for (m, n) in marked.iter().zip(&naive) {
        assert!(*m || !*n, "a point on the naive frontier is never dominated beyond the noise");
    }
    let on = marked.iter().filter(|m| **m).count();
    assert!(on >= 2 && on < points.len(), "the fixture has frontier and dominated points: {on}");
    let html = sweep_html("synthetic-crash", 20, "USD", &points);
    for (p, m) in points.iter().zip(&marked) {
        let label = format!(">{}</text>", p.short_label());
        assert_eq!(
            html.contains(&label),
            *m,
            "frontier points, and only they, are labelled: {}",
            p.label()
        );
    }
    assert_eq!(html.matches("class=\"front\"").count(), marked.iter().filter(|m| **m).count());
}

#[test]
fn sweep_point_summarizes_its_runs() {
    let c = comparison();
    let runs = &c.policies[1].runs;
    let p = SweepPoint::from_runs(vec![("margin.policy".into(), "var".into())], runs).unwrap();
    let bad: Vec<f64> = runs.iter().map(|r| r.bad_debt.to_f64()).collect();
    let s = summarize(&bad).unwrap();
    assert_eq!((p.bad_debt_mean, p.bad_debt_ci), (s.mean, s.ci95));
    assert_eq!(p.bad_debt_tail, ("max of 20".to_string(), s.max));
    assert_eq!(p.label(), "margin.policy=var");
    assert!(SweepPoint::from_runs(vec![], &[]).is_none());
}

#[test]
fn run_dir_is_written_atomically_with_every_file() {
    let o = crash_outcome();
    let dir = temp_dir("run");
    write_run_dir(&dir, &o).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = RUN_FILES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(names, expected, "no temporary files left behind");
    assert_eq!(std::fs::read_to_string(dir.join("summary.json")).unwrap(), summary_json(&o));
    assert_eq!(std::fs::read_to_string(dir.join("report.html")).unwrap(), run_report_html(&o));
    // Writing again replaces the files with the same bytes.
    write_run_dir(&dir, &o).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("timeseries.csv")).unwrap(), timeseries_csv(&o));
    let _ = std::fs::remove_dir_all(&dir);
    // A directory that cannot be created is an input error (exit code 2), not a panic.
    let blocked = temp_dir("blocked");
    std::fs::write(&blocked, "a file").unwrap();
    let e = write_run_dir(&blocked.join("sub"), &o).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    let _ = std::fs::remove_file(&blocked);
}

/// The quickstart scenario run by the kernel, rendered: the report of a real outcome
/// has every chart drawn and its files agree with the outcome.
fn quickstart() -> Result<Outcome, liqsim_core::Error> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/quickstart.toml");
    let scenario = liqsim_scenario::load(&path, &[])?;
    liqsim_sim::run(liqsim_scenario::sim_config(&scenario)?)
}

#[test]
fn the_quickstart_report_draws_the_real_run() {
    let o = quickstart().unwrap();
    assert_eq!(split(&timeseries_csv(&o)).len(), o.series.len() + 1);
    assert_eq!(split(&liquidations_csv(&o)).len(), o.liquidation_log.len() + 1);
    let v: serde_json::Value = serde_json::from_str(&summary_json(&o)).unwrap();
    assert_eq!(v["digest"], o.digest.as_str());
    assert_eq!(v["bad_debt"].to_string(), o.bad_debt.to_string());
    let charts = run_charts(&o);
    for (chart, _) in &charts[..1] {
        assert!(chart.marks > 0, "{}", chart.id);
    }
    let [index, ..] = price_series(&o);
    assert_eq!(index.1.len(), o.series.len());
    let bins = liquidation_bins(&o);
    let binned: i64 =
        bins.bins.iter().flat_map(|b| b.long.iter().chain(&b.short)).map(|m| m.micros()).sum();
    assert_eq!(binned, o.liquidations.notional.micros());
}

/// Writes the synthetic run, compare and sweep reports and the quickstart scenario's run
/// report for the browser test into `$LIQSIM_REPORT_FIXTURES` (or a temporary
/// directory, to check they are written).
#[test]
fn write_fixtures() {
    let dir = std::env::var_os("LIQSIM_REPORT_FIXTURES")
        .map_or_else(|| temp_dir("fixtures"), PathBuf::from);
    let o = crash_outcome();
    write_run_dir(&dir.join("run"), &o).unwrap();
    let c = comparison();
    std::fs::write(dir.join("compare.html"), compare_html(&c)).unwrap();
    std::fs::write(dir.join("comparison.csv"), comparison_csv(&c)).unwrap();
    std::fs::write(dir.join("comparison.json"), comparison_json(&c)).unwrap();
    std::fs::write(
        dir.join("sweep.html"),
        sweep_html("synthetic-crash", 20, "USD", &sweep_points()),
    )
    .unwrap();
    write_run_dir(&dir.join("quickstart"), &quickstart().unwrap()).unwrap();
    write_run_dir(&dir.join("options-replay"), &options_replay_outcome()).unwrap();
    write_run_dir(&dir.join("collateral"), &collateral_outcome()).unwrap();
    for f in [
        "run/report.html",
        "run/summary.json",
        "compare.html",
        "sweep.html",
        "quickstart/report.html",
        "options-replay/report.html",
        "collateral/report.html",
    ] {
        let len = std::fs::metadata(dir.join(f)).unwrap().len();
        assert!(len > 1_000, "{f}: {len} bytes");
    }
}

fn chart_ids(o: &Outcome) -> Vec<String> {
    run_charts(o).into_iter().map(|(c, _)| c.id).collect()
}

/// Asserts chart `upper` is followed by `lower`, a minute at the same pixel in both (one
/// may have a right axis the other lacks) and both on a UTC time axis; returns `upper`'s
/// position.
fn stacked_on_one_utc_axis<T>(charts: &[(Chart, T)], upper: &str, lower: &str) -> usize {
    let Some(at) = charts.iter().position(|(c, _)| c.id == upper) else {
        panic!("no chart {upper}");
    };
    assert_eq!(charts[at + 1].0.id, lower);
    for t in [0.0, 7_200.0, 86_400.0] {
        assert_eq!(charts[at].0.px(t), charts[at + 1].0.px(t), "{t} s");
    }
    for (chart, _) in &charts[at..at + 2] {
        let svg = chart.render();
        assert!(
            svg.contains(r#"data-x-scale="time""#) && svg.contains("time (UTC)"),
            "{}",
            chart.id
        );
    }
    at
}

/// The numbers after the last ": " of every bar's tooltip, and its text before; `None`
/// for a bar whose tooltip is missing or does not end in a number.
fn bar_tips(svg: &str) -> Vec<Option<(String, f64)>> {
    svg.split("<rect class=\"bar\"")
        .skip(1)
        .map(|bar| {
            let tip = bar.split("<title>").nth(1)?.split("</title>").next()?;
            let (text, value) = tip.rsplit_once(": ")?;
            let value = value.split(' ').next()?.replace(',', "");
            Some((text.to_string(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn the_option_chain_is_the_outcomes_series_summed_by_strike() {
    let o = options_replay_outcome();
    let rows = option_strikes(&o);
    assert_eq!(rows.len(), 5, "five strikes, two expiries each summed");
    assert!(rows.windows(2).all(|w| w[0].strike < w[1].strike));
    for (moment, pick) in [
        (0, (|s: &OptionSeriesFigures| s.pre_stress) as fn(&OptionSeriesFigures) -> SeriesState),
        (1, |s| s.peak),
        (2, |s| s.end),
    ] {
        let units: f64 = o.option_series.iter().map(|s| pick(s).open_interest).sum();
        let value: f64 = o.option_series.iter().map(|s| pick(s).value()).sum();
        let drawn_units: f64 =
            rows.iter().map(|r| r.calls[moment].open_interest + r.puts[moment].open_interest).sum();
        let drawn_value: f64 =
            rows.iter().map(|r| r.calls[moment].mark + r.puts[moment].mark).sum();
        assert!((units - drawn_units).abs() < 1e-9 * units, "{moment}: {units} vs {drawn_units}");
        assert!((value - drawn_value).abs() < 1e-9 * value, "{moment}: {value} vs {drawn_value}");
    }
    // Calls above the axis, puts below: every bar's tooltip names its side, and the calls'
    // bars add up to the calls' open interest at the three moments (to the 3 decimals
    // printed).
    let svg = option_chain_chart(&o, false).render();
    let tips: Vec<(String, f64)> =
        bar_tips(&svg).into_iter().map(|t| t.expect("a bar's tooltip ends in a number")).collect();
    assert_eq!(tips.len(), 5 * 2 * 3, "three moments a side per strike");
    let calls: f64 = tips.iter().filter(|t| t.0.starts_with("calls")).map(|t| t.1).sum();
    let expected: f64 = o
        .option_series
        .iter()
        .filter(|s| s.kind == OptionKind::Call)
        .map(|s| s.pre_stress.open_interest + s.peak.open_interest + s.end.open_interest)
        .sum();
    assert!((calls - expected).abs() < 15.0 * 5e-4, "{calls} vs {expected}");
    let ids = chart_ids(&o);
    for id in ["option-open-interest", "option-value", "option-writers"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    let plain = chart_ids(&crash_outcome());
    assert!(!plain.iter().any(|i| i.starts_with("option") || i.starts_with("replay")), "{plain:?}");
}

#[test]
fn writer_liquidations_are_those_of_accounts_short_an_option() {
    let o = options_replay_outcome();
    let flagged: Vec<_> = o.liquidation_log.iter().filter(|l| l.short_options).collect();
    assert!(!flagged.is_empty() && flagged.len() < o.liquidation_log.len());
    let (width, bins) = writer_liquidation_bins(&o);
    assert_eq!(bins.len() as u64 * width, 86_400);
    assert_eq!(bins.iter().map(|b| b.2).sum::<u64>(), flagged.len() as u64);
    let notional: i64 = flagged.iter().map(|l| l.notional.micros()).sum();
    assert_eq!(bins.iter().map(|b| b.3.micros()).sum::<i64>(), notional);
    // Without a writer liquidated there is no chart to leave empty; the chain says so.
    let mut calm = o.clone();
    calm.liquidation_log.iter_mut().for_each(|l| l.short_options = false);
    assert!(!chart_ids(&calm).iter().any(|i| i == "option-writers"));
    assert_eq!(
        option_chain_chart(&calm, false).note,
        "no option writer was liquidated in this run"
    );
}

#[test]
fn a_replay_draws_the_real_volume_above_the_simulated_liquidations_in_utc() {
    let o = options_replay_outcome();
    let minutes = liquidations_per_minute(&o);
    assert_eq!(minutes.len(), 24 * 60);
    assert_eq!(minutes.iter().map(|m| m.1).sum::<u64>(), o.liquidations.count);
    assert_eq!(minutes.iter().map(|m| m.2.micros()).sum::<i64>(), o.liquidations.notional.micros());
    let charts = run_charts(&o);
    let at = stacked_on_one_utc_axis(&charts, "replay-volume", "replay-liquidations");
    for (chart, _) in &charts[at..at + 2] {
        assert!(chart.render().contains("2020-03-12 "), "{}: the axis names the day", chart.id);
    }
    // The two share one panel, so the eye compares them on one axis.
    let html = liqsim_report::html::run_report_html(&o);
    let section = html.split("<section").find(|s| s.contains(r#"id="replay-volume""#)).unwrap();
    assert!(section.contains(r#"id="replay-liquidations""#));
    // No volume, no panel.
    assert!(!chart_ids(&crash_outcome()).iter().any(|i| i == "replay-volume"));
}

#[test]
fn a_run_with_collateral_draws_its_price_above_its_liquidations_by_cause() {
    let o = collateral_outcome();
    let c = o.collateral.as_ref().unwrap();
    assert!(c.liquidations_by_collateral > 0 && c.liquidations_by_position > 0, "{c:?}");
    let minutes = collateral_liquidations_per_minute(&o);
    assert_eq!(minutes.len(), 24 * 60);
    assert_eq!(minutes.iter().map(|m| m.1).sum::<u64>(), c.liquidations_by_collateral);
    assert_eq!(minutes.iter().map(|m| m.2).sum::<u64>(), c.liquidations_by_position);
    // The depeg: 1.00 until the jump at 02:00, 0.65 from 02:05, back at 1.00 by 02:40.
    let prices = collateral_price_series(&o);
    assert_eq!(prices.len(), 1);
    assert_eq!(prices[0].0, "USDe");
    let values: Vec<f64> = prices[0].1.iter().filter_map(|p| p.1).collect();
    assert_eq!(values.len(), o.series.len());
    assert_eq!(values.iter().copied().fold(f64::INFINITY, f64::min), 0.65);
    assert_eq!((values[0], values[values.len() - 1]), (1.0, 1.0));
    // Off its peg from the sample before the first moved one to the first back at 1.00.
    assert_eq!(collateral_off_peg(&o), vec![(7_200.0, 9_600.0)]);
    let charts = run_charts(&o);
    let at = stacked_on_one_utc_axis(&charts, "collateral-price", "collateral-liquidations");
    // The bars add up to the two counts, by their tooltips.
    let svg = charts[at + 1].0.render();
    let tips: Vec<(String, f64)> =
        bar_tips(&svg).into_iter().map(|t| t.expect("a bar's tooltip ends in a number")).collect();
    let sum =
        |cause: &str| -> f64 { tips.iter().filter(|t| t.0.ends_with(cause)).map(|t| t.1).sum() };
    assert_eq!(sum("by collateral value") as u64, c.liquidations_by_collateral);
    assert_eq!(sum("by position loss") as u64, c.liquidations_by_position);
    assert_eq!(
        tips.len(),
        minutes.iter().map(|m| usize::from(m.1 > 0) + usize::from(m.2 > 0)).sum::<usize>()
    );
    // One panel, so the eye reads the liquidations against the price.
    let html = liqsim_report::html::run_report_html(&o);
    let section = html.split("<section").find(|s| s.contains(r#"id="collateral-price""#)).unwrap();
    assert!(section.contains(r#"id="collateral-liquidations""#));
    // No collateral, no panel.
    assert!(!chart_ids(&crash_outcome()).iter().any(|i| i.starts_with("collateral")));
}
