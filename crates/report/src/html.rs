//! `report.html` of one run: a self-contained page (inline CSS and SVG, no script, no
//! network) that shows the crash, the cascade and the insurance fund at a glance.
//!
//! Each chart is built from a data-preparation function that reads the [`Outcome`]
//! (tested against the outcome's own figures), then drawn by [`crate::svg`]. Panels, top
//! to bottom: headline figures; price (index, mark, last) with shock windows shaded;
//! liquidated notional over time stacked by cause, long above and short below the axis;
//! insurance fund, cumulative bad debt, ADL and socialized loss; margin required vs held
//! with accounts below maintenance; book depth within 1% of mid and the spread; cascade
//! size distribution (log-log).
//!
//! Ordering rules: series are drawn in outcome order, downsampled deterministically to
//! at most [`MAX_POINTS`] points per line. Known limitations: the liquidation chart bins
//! the liquidation log into at most [`MAX_BINS`] bins, so bursts closer than one bin
//! merge; money is drawn as f64 (the headline and the CSV files carry the exact values).

use crate::human;
use crate::run::{procyclicality, units};
use crate::svg::{Axis, Chart, PALETTE, Swatch, downsample, escape, hhmm};
use liqsim_core::Money;
use liqsim_sim::{OptionKind, Outcome, SeriesState, ShockKind, Side};
use std::fmt::Write as _;

/// Most points drawn per line.
pub const MAX_POINTS: usize = 2_000;
/// Most time bins in the liquidation chart.
pub const MAX_BINS: usize = 240;

/// Colours of the cause buckets: exogenous, cascade depth 1, 2, 3+.
pub const CAUSE_COLORS: [&str; 4] = ["#7f7f7f", "#E69F00", "#D55E00", "#8B0000"];
pub const CAUSE_NAMES: [&str; 4] =
    ["exogenous", "cascade depth 1", "cascade depth 2", "cascade depth 3+"];

/// A named line: (time in simulated seconds, value or gap).
pub type Series = (String, Vec<(f64, Option<f64>)>);

fn series_of(o: &Outcome, name: &str, f: impl Fn(&liqsim_sim::SeriesRow) -> Option<f64>) -> Series {
    (name.to_string(), o.series.iter().map(|r| (r.time.as_seconds_f64(), f(r))).collect())
}

/// Index, mark and last price per metrics row.
pub fn price_series(o: &Outcome) -> [Series; 3] {
    [
        series_of(o, "index", |r| Some(r.index)),
        series_of(o, "mark", |r| Some(r.mark)),
        // A last trade is a price only in an interval that traded: carried flat across
        // quiet intervals it reads as a price the market never showed.
        series_of(o, "last trade", |r| r.volume.is_positive().then_some(r.last)),
    ]
}

/// Insurance fund, cumulative bad debt, cumulative ADL notional and cumulative
/// socialized loss, in quote units.
pub fn loss_series(o: &Outcome) -> [Series; 5] {
    [
        series_of(o, "insurance fund", |r| Some(units(r.insurance_fund))),
        series_of(o, "bad debt", |r| Some(units(r.bad_debt))),
        series_of(o, "ADL notional", |r| Some(units(r.adl_notional))),
        series_of(o, "socialized loss", |r| Some(units(r.socialized_loss))),
        series_of(o, "unpaid loss", |r| Some(units(r.unpaid_loss))),
    ]
}

/// Margin required and held (quote units), and accounts below maintenance (count).
pub fn margin_series(o: &Outcome) -> [Series; 3] {
    [
        series_of(o, "initial margin required", |r| Some(units(r.margin_required))),
        series_of(o, "margin held (equity)", |r| Some(units(r.margin_held))),
        series_of(o, "accounts below maintenance", |r| Some(r.accounts_below_maintenance as f64)),
    ]
}

/// Book depth within 1% of mid (quote units) and the spread (quote units; gaps where a
/// side of the book was empty).
pub fn liquidity_series(o: &Outcome) -> [Series; 2] {
    [
        series_of(o, "depth within 1% of mid", |r| Some(units(r.depth_1pct))),
        series_of(o, "bid-ask spread", |r| r.spread),
    ]
}

/// One time bin of the liquidation chart: notional by cause bucket (exogenous, depth 1,
/// 2, 3+) for each side, exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiquidationBin {
    pub start_s: u64,
    pub end_s: u64,
    pub long: [Money; 4],
    pub short: [Money; 4],
}

/// The liquidation log binned in time: bins of `width_s` seconds from 0, bin i holding
/// liquidations with `i x width <= t < (i + 1) x width`; only bins with a liquidation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiquidationBins {
    pub width_s: u64,
    pub bins: Vec<LiquidationBin>,
}

/// The smallest round bin width (1 s, 10 s, 1 min, 2, 5, 10, 15, 30 min, 1 h, ...) that
/// splits `span_s` seconds into at most `max_bins` bins.
pub fn bin_width_s(span_s: u64, max_bins: usize) -> u64 {
    const WIDTHS: [u64; 13] =
        [1, 10, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 86_400];
    let need = span_s.max(1).div_ceil(max_bins.max(1) as u64);
    WIDTHS.iter().copied().find(|&w| w >= need).unwrap_or(need.div_ceil(86_400) * 86_400)
}

/// Bins the whole liquidation log by time, side and cause bucket (at most [`MAX_BINS`]
/// bins over the run).
pub fn liquidation_bins(o: &Outcome) -> LiquidationBins {
    let duration = o.duration.nanos() / 1_000_000_000;
    liquidation_bins_in(o, 0, duration, MAX_BINS)
}

/// The crash window `[start, end)` in seconds: from the whole minute one minute before the
/// first liquidation until 90% of the liquidated notional has happened plus a quarter of that
/// span (at least 30 minutes, at most the run); `None` without liquidations.
pub fn crash_window(o: &Outcome) -> Option<(u64, u64)> {
    let first = o.liquidation_log.first()?.time.nanos() / 1_000_000_000;
    let total: i128 = o.liquidation_log.iter().map(|l| i128::from(l.notional.micros())).sum();
    let mut running = 0i128;
    let mut t90 = first;
    for l in &o.liquidation_log {
        running += i128::from(l.notional.micros());
        t90 = l.time.nanos() / 1_000_000_000;
        if running * 10 >= total * 9 {
            break;
        }
    }
    // One minute of calm before the first liquidation, so the first bar is not on the axis.
    let start = first.saturating_sub(60) / 60 * 60;
    let span = (t90 - start + (t90 - start) / 4).max(1_800);
    let end = (start + span).div_ceil(60) * 60;
    let duration = (o.duration.nanos() / 1_000_000_000).max(end.min(start + 1));
    Some((start, end.min(duration.max(start + 60))))
}

/// Bins the liquidations with `start_s <= t < end_s` into round bins, at most `max_bins`.
pub fn liquidation_bins_in(
    o: &Outcome,
    start_s: u64,
    end_s: u64,
    max_bins: usize,
) -> LiquidationBins {
    let width_s = bin_width_s(end_s.saturating_sub(start_s), max_bins);
    let width_ns = width_s.saturating_mul(1_000_000_000).max(1);
    let (lo, hi) = (start_s.saturating_mul(1_000_000_000), end_s.saturating_mul(1_000_000_000));
    let mut bins: Vec<LiquidationBin> = Vec::new();
    for l in o.liquidation_log.iter().filter(|l| l.time.nanos() >= lo && l.time.nanos() < hi) {
        let i = l.time.nanos() / width_ns;
        let start_s = i * width_s;
        // The log is in event order, so bins arrive in time order.
        if bins.last().is_none_or(|b| b.start_s != start_s) {
            bins.push(LiquidationBin {
                start_s,
                end_s: start_s + width_s,
                long: [Money::ZERO; 4],
                short: [Money::ZERO; 4],
            });
        }
        if let Some(bin) = bins.last_mut() {
            let bucket = (l.depth as usize).min(3);
            let side = if l.side == Side::Long { &mut bin.long } else { &mut bin.short };
            // Saturation only guards the chart; exact totals live in the CSV files.
            side[bucket] =
                Money::from_micros(side[bucket].micros().saturating_add(l.notional.micros()));
        }
    }
    LiquidationBins { width_s, bins }
}

fn extent(series: &[&Series]) -> (f64, f64) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for s in series {
        for v in s.1.iter().filter_map(|p| p.1).filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if lo > hi { (0.0, 1.0) } else { (lo, hi) }
}

fn time_axis(o: &Outcome) -> Axis {
    let end =
        o.duration.as_seconds_f64().max(o.series.last().map_or(0.0, |r| r.time.as_seconds_f64()));
    match o.start_utc_ns {
        Some(_) => Axis::time("time (UTC)", 0.0, end).in_utc(o.start_utc_ns),
        None => Axis::time("simulated time since start (hh:mm)", 0.0, end),
    }
}

fn shock_color(kind: ShockKind) -> (&'static str, &'static str) {
    match kind {
        ShockKind::Jump => ("#D55E00", "price jump"),
        ShockKind::Volatility => ("#CC79A7", "volatility shock"),
        ShockKind::Drought => ("#56B4E9", "liquidity drought"),
    }
}

fn shade_shocks(chart: &mut Chart, o: &Outcome, legend: bool) {
    let mut seen: Vec<ShockKind> = Vec::new();
    for s in &o.shocks {
        let (color, name) = shock_color(s.kind);
        let (a, b) = (s.start.as_seconds_f64(), s.end.as_seconds_f64());
        chart.band(a, b, color, &format!("{name}: {} to {}", hhmm(a), hhmm(b)));
        if legend && !seen.contains(&s.kind) {
            seen.push(s.kind);
            chart.legend(color, &format!("{name} (shaded)"), Swatch::Block);
        }
    }
}

/// Whether every value of `s` is zero (or absent): such a line says nothing a caption
/// cannot, and drawn it lies on the axis looking like a broken recorder.
pub fn is_zero_throughout(s: &Series) -> bool {
    s.1.iter().all(|(_, v)| v.is_none_or(|v| v == 0.0))
}

/// Draws the lines that are not zero throughout; returns the names of those that are,
/// for the chart to state.
fn draw_lines(
    chart: &mut Chart,
    lines: &[&Series],
    colors: &[&str],
    right: &[bool],
) -> Vec<String> {
    let mut zero = Vec::new();
    for (i, s) in lines.iter().enumerate() {
        if is_zero_throughout(s) && !s.1.is_empty() {
            zero.push(s.0.clone());
            continue;
        }
        let color = colors.get(i).copied().unwrap_or(PALETTE[i % PALETTE.len()]);
        let r = right.get(i).copied().unwrap_or(false);
        chart.line(&s.0, &downsample(&s.1, MAX_POINTS), color, false, r);
    }
    zero
}

/// Names the series left out because they are zero throughout, in the chart's title.
fn note_zero(chart: &mut Chart, zero: &[String]) {
    if !zero.is_empty() {
        chart.note = format!("zero throughout, not drawn: {}", zero.join(", "));
    }
}

pub fn price_chart(o: &Outcome) -> Chart {
    let [index, mark, last] = price_series(o);
    let (lo, hi) = extent(&[&index, &mark, &last]);
    let mut c = Chart::new(
        "price",
        "Price: index, mark and last trade (shock windows shaded)",
        time_axis(o),
        Axis::linear(&format!("price ({} per base unit)", o.quote_currency), lo, hi),
    );
    shade_shocks(&mut c, o, true);
    let zero =
        draw_lines(&mut c, &[&last, &index, &mark], &[PALETTE[2], PALETTE[0], PALETTE[1]], &[]);
    note_zero(&mut c, &zero);
    c
}

pub fn liquidation_chart(o: &Outcome) -> Chart {
    draw_liquidations(
        o,
        "liquidations",
        "Liquidated notional over time by cause: long positions above the axis, short below",
        &liquidation_bins(o),
        time_axis(o),
    )
}

/// The liquidation chart over [`crash_window`], in finer bins.
pub fn crash_liquidation_chart(o: &Outcome) -> Chart {
    let (start, end) = crash_window(o).unwrap_or((0, (o.duration.nanos() / 1_000_000_000).max(60)));
    draw_liquidations(
        o,
        "liquidations-crash",
        &format!(
            "The cascade up close, {} to {}: liquidated notional by cause",
            clock(o, start as f64),
            clock(o, end as f64)
        ),
        &liquidation_bins_in(o, start, end, 120),
        match o.start_utc_ns {
            Some(_) => Axis::time("time (UTC)", start as f64, end as f64).in_utc(o.start_utc_ns),
            None => Axis::time("simulated time since start (hh:mm)", start as f64, end as f64),
        },
    )
}

fn draw_liquidations(o: &Outcome, id: &str, title: &str, bins: &LiquidationBins, x: Axis) -> Chart {
    let total = |side: &[Money; 4]| side.iter().map(|m| units(*m)).sum::<f64>();
    let top = bins.bins.iter().map(|b| total(&b.long)).fold(0.0, f64::max);
    let bottom = bins.bins.iter().map(|b| total(&b.short)).fold(0.0, f64::max);
    let width = if bins.width_s.is_multiple_of(60) {
        format!("{} min", bins.width_s / 60)
    } else {
        format!("{} s", bins.width_s)
    };
    let mut y = Axis::linear(&format!("notional per {width} ({})", o.quote_currency), -bottom, top);
    y.mirror = true;
    let mut c = Chart::new(id, title, x, y).with_size(1200.0, 380.0);
    shade_shocks(&mut c, o, false);
    for (color, name) in CAUSE_COLORS.iter().zip(CAUSE_NAMES) {
        c.legend(color, name, Swatch::Block);
    }
    for bin in &bins.bins {
        let (x0, x1) = (bin.start_s as f64, bin.end_s as f64);
        for (sign, side, label) in [(1.0, &bin.long, "long"), (-1.0, &bin.short, "short")] {
            let mut base = 0.0;
            for (k, m) in side.iter().enumerate() {
                let v = units(*m);
                if v <= 0.0 {
                    continue;
                }
                let title =
                    format!("{} to {}: {label} {}: {m}", hhmm(x0), hhmm(x1), CAUSE_NAMES[k]);
                c.bar(x0, x1, sign * base, sign * (base + v), CAUSE_COLORS[k], &title);
                base += v;
            }
        }
    }
    c.hline(0.0, "#333");
    c
}

/// How many times larger than the rest a series must be to get its own (right) axis:
/// on a shared one, the rest would be flattened onto zero.
pub const DWARFING_RATIO: f64 = 10.0;

pub fn loss_chart(o: &Outcome) -> Chart {
    let [fund, bad, adl, social, unpaid] = loss_series(o);
    let low = series_of(o, "fund, lowest in interval", |r| Some(units(r.insurance_fund_low)));
    let cur = &o.quote_currency;
    let (lo, hi) = extent(&[&fund, &low, &bad, &social, &unpaid]);
    let (_, adl_hi) = extent(&[&adl]);
    let adl_apart = adl_hi > DWARFING_RATIO * hi.abs().max(lo.abs()).max(1.0);
    let mut c = Chart::new(
        "losses",
        "Losses: insurance fund; cumulative bad debt, ADL, socialized and unpaid loss",
        time_axis(o),
        Axis::linear(cur, lo.min(0.0), if adl_apart { hi } else { hi.max(adl_hi) }),
    );
    if adl_apart {
        c = c.with_y2(Axis::linear(&format!("ADL notional ({cur}, right axis)"), 0.0, adl_hi));
    }
    shade_shocks(&mut c, o, false);
    let zero = draw_lines(
        &mut c,
        &[&fund, &bad, &adl, &social, &unpaid],
        &[PALETTE[2], PALETTE[1], PALETTE[3], PALETTE[6], PALETTE[4]],
        &[false, false, adl_apart, false, false],
    );
    // The lowest balance of each interval, dashed, where it dipped below the sample:
    // the fund's true extremes, not only what the samples caught.
    if low.1.iter().zip(&fund.1).any(|(l, f)| l.1 < f.1) {
        c.line(&low.0, &downsample(&low.1, MAX_POINTS), PALETTE[2], true, false);
    }
    note_zero(&mut c, &zero);
    c
}

pub fn margin_chart(o: &Outcome) -> Chart {
    let [required, held, below] = margin_series(o);
    let (lo, hi) = extent(&[&required, &held]);
    let (_, below_hi) = extent(&[&below]);
    let below_drawn = !is_zero_throughout(&below);
    let mut c = Chart::new(
        "margin",
        if below_drawn {
            "Margin: initial margin required vs held, and accounts below maintenance (right axis)"
        } else {
            "Margin: initial margin required vs held"
        },
        time_axis(o),
        Axis::linear(&o.quote_currency, lo.min(0.0), hi),
    );
    if below_drawn {
        c = c.with_y2(Axis::linear("accounts below maintenance", 0.0, below_hi.max(1.0)));
    }
    shade_shocks(&mut c, o, false);
    let zero = draw_lines(
        &mut c,
        &[&required, &held, &below],
        &[PALETTE[0], PALETTE[2], PALETTE[1]],
        &[false, false, true],
    );
    note_zero(&mut c, &zero);
    c
}

pub fn liquidity_chart(o: &Outcome) -> Chart {
    let [depth, spread] = liquidity_series(o);
    let (_, depth_hi) = extent(&[&depth]);
    let (_, spread_hi) = extent(&[&spread]);
    let mut c = Chart::new(
        "liquidity",
        "Liquidity: resting notional within 1% of mid, and the bid-ask spread (right axis)",
        time_axis(o),
        Axis::linear(&format!("depth within 1% of mid ({})", o.quote_currency), 0.0, depth_hi),
    )
    .with_y2(Axis::linear(&format!("spread ({})", o.quote_currency), 0.0, spread_hi));
    shade_shocks(&mut c, o, false);
    draw_lines(&mut c, &[&depth, &spread], &[PALETTE[0], PALETTE[1]], &[false, true]);
    c
}

/// (cascade size, number of cascades) points of the log-log chart: the outcome's size
/// counts with both coordinates positive.
pub fn cascade_points(o: &Outcome) -> Vec<(f64, f64)> {
    o.cascade
        .size_counts
        .iter()
        .filter(|(s, n)| *s > 0 && *n > 0)
        .map(|&(s, n)| (s as f64, n as f64))
        .collect()
}

pub fn cascade_chart(o: &Outcome) -> Chart {
    let points = cascade_points(o);
    let xmax = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let ymax = points.iter().map(|p| p.1).fold(1.0, f64::max);
    // Half a decade of room at each end, so a dot at 1 or at the maximum sits inside the
    // frame instead of half under it; only decades are labelled.
    let padded = |label: &str, hi: f64| {
        let mut axis = Axis::log(label, 1.0, hi);
        axis.ticks.insert(0, 10f64.powf(-0.3));
        if let Some(top) = axis.ticks.last().copied()
            && hi > top / 2.0
        {
            axis.ticks.push(top * 2.0);
        }
        axis
    };
    let mut c = Chart::new(
        "cascades",
        "Cascade size distribution (log-log): how many cascades had N liquidations",
        padded("cascade size (liquidations in one causal tree)", xmax),
        padded("number of cascades", ymax),
    )
    .with_size(1200.0, 380.0);
    for &(s, n) in &points {
        c.point(s, n, PALETTE[5], 5.0, &format!("{s} liquidations: {n} cascades"), None);
    }
    c
}

/// Option series grouped by strike (the chain's expiries summed): one row per strike, in
/// ascending order, with calls' and puts' states at the three moments the outcome keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct StrikeRow {
    pub strike: f64,
    /// `[before the stress, at the chain's peak value, at the end]`.
    pub calls: [SeriesState; 3],
    pub puts: [SeriesState; 3],
}

/// What [`option_strikes`] sums per strike: open interest, and the open positions'
/// value at the mark (a state's `mark` is then that value, its `open_interest` the units).
pub fn option_strikes(o: &Outcome) -> Vec<StrikeRow> {
    let mut strikes: Vec<f64> = o.option_series.iter().map(|s| s.strike).collect();
    strikes.sort_by(f64::total_cmp);
    strikes.dedup();
    strikes
        .into_iter()
        .map(|strike| {
            let mut row = StrikeRow {
                strike,
                calls: [SeriesState::default(); 3],
                puts: [SeriesState::default(); 3],
            };
            for s in o.option_series.iter().filter(|s| s.strike == strike) {
                let side = if s.kind == OptionKind::Call { &mut row.calls } else { &mut row.puts };
                for (sum, state) in side.iter_mut().zip([s.pre_stress, s.peak, s.end]) {
                    sum.open_interest += state.open_interest;
                    sum.mark += state.value();
                }
            }
            row
        })
        .collect()
}

/// When the outcome's pre-stress option state was taken: the last sample at or before
/// the first shock, or the first sample without one (as the recorder keeps it).
fn pre_stress_time(o: &Outcome) -> f64 {
    let shock = o.shocks.iter().map(|s| s.start).min();
    let rows = o.series.iter().map(|r| r.time);
    let time = match shock {
        Some(shock) => rows.rev().find(|t| *t <= shock),
        None => None,
    };
    time.or_else(|| o.series.first().map(|r| r.time)).map_or(0.0, |t| t.as_seconds_f64())
}

/// The three moments of the option charts: (legend, colour).
fn option_moments(o: &Outcome) -> [(String, &'static str); 3] {
    let peak = o.option_peak_time.map_or(0.0, |t| t.as_seconds_f64());
    [
        (format!("before the stress ({})", clock(o, pre_stress_time(o))), "#9CC7E4"),
        (format!("when the writers owed most ({})", clock(o, peak)), "#0072B2"),
        (format!("end of run ({})", clock(o, o.duration.as_seconds_f64())), "#173A5E"),
    ]
}

/// Open interest (`value` false) or the open positions' value at the mark (`value` true)
/// by strike: calls above the axis, puts below, three bars a side per strike.
///
/// Why three moments and not only the end: a risk analyst needs the exposure the writers
/// carried into the stress, what it was worth at the worst moment for them (the sample
/// at which the chain's open value, what the writers owe, peaked) and what is left
/// after the liquidations; the end alone hides the positions the stress closed, and the
/// moment of the largest price drawdown misses a volatility spike that reprices the chain
/// while the price stands still.
pub fn option_chain_chart(o: &Outcome, value: bool) -> Chart {
    let rows = option_strikes(o);
    let pick = |s: &SeriesState| if value { s.mark } else { s.open_interest };
    let top = rows.iter().flat_map(|r| r.calls.iter().map(pick)).fold(0.0, f64::max);
    let bottom = rows.iter().flat_map(|r| r.puts.iter().map(pick)).fold(0.0, f64::max);
    let mut expiries: Vec<u64> =
        o.option_series.iter().map(|s| s.expiry.nanos() / 1_000_000_000).collect();
    expiries.sort_unstable();
    expiries.dedup();
    let expiries: Vec<String> =
        expiries.iter().map(|&e| liqsim_core::SimDuration::from_secs(e).to_string()).collect();
    let (id, title, label) = if value {
        (
            "option-value",
            "Options' premium by strike: value of the open positions at the mark",
            format!("value at the mark ({})", o.quote_currency),
        )
    } else {
        (
            "option-open-interest",
            "Option open interest by strike",
            "open interest (base units)".into(),
        )
    };
    let n = rows.len().max(1) as f64;
    let x = Axis {
        label: format!(
            "strike ({} per base unit); expiries {} summed",
            o.quote_currency,
            expiries.join(", ")
        ),
        scale: crate::svg::Scale::Linear,
        ticks: vec![-0.5, n - 0.5],
        mirror: false,
        utc_origin_ns: None,
    };
    let mut y = Axis::linear(&format!("{label}: calls ↑, puts ↓"), -bottom, top);
    y.mirror = true;
    let mut c = Chart::new(id, &format!("{title}: calls above the axis, puts below"), x, y)
        .with_size(1200.0, 380.0);
    let moments = option_moments(o);
    for (name, color) in &moments {
        c.legend(color, name, Swatch::Block);
    }
    let labels: Vec<(f64, String)> =
        rows.iter().enumerate().map(|(i, r)| (i as f64, human::fixed(r.strike, 0))).collect();
    c.category_labels(&labels);
    let unit = if value { o.quote_currency.as_str() } else { "units" };
    for (i, r) in rows.iter().enumerate() {
        for (sign, states, kind) in [(1.0, &r.calls, "calls"), (-1.0, &r.puts, "puts")] {
            for (m, (state, (name, color))) in states.iter().zip(&moments).enumerate() {
                let v = pick(state);
                if v <= 0.0 {
                    continue;
                }
                let x0 = i as f64 - 0.39 + m as f64 * 0.26;
                let tip = format!(
                    "{kind} at {}, {name}: {} {unit}",
                    human::fixed(r.strike, 0),
                    human::fixed(v, if value { 2 } else { 3 })
                );
                c.bar(x0, x0 + 0.24, 0.0, sign * v, color, &tip);
            }
        }
    }
    c.hline(0.0, "#333");
    if !o.liquidation_log.iter().any(|l| l.short_options) {
        c.note = "no option writer was liquidated in this run".into();
    }
    c
}

/// Liquidations of accounts short an option, binned over the run: (bin start s, bin end
/// s, count, notional).
pub fn writer_liquidation_bins(o: &Outcome) -> (u64, Vec<(u64, u64, u64, Money)>) {
    let duration = o.duration.nanos() / 1_000_000_000;
    let width = bin_width_s(duration, MAX_BINS);
    let bins = duration.div_ceil(width).max(1);
    let mut out: Vec<(u64, u64, u64, Money)> =
        (0..bins).map(|i| (i * width, (i + 1) * width, 0, Money::ZERO)).collect();
    for l in o.liquidation_log.iter().filter(|l| l.short_options) {
        let i = ((l.time.nanos() / 1_000_000_000) / width).min(bins - 1) as usize;
        let bin = &mut out[i];
        bin.2 += 1;
        // Saturation only guards the chart; exact totals live in the CSV files.
        bin.3 = Money::from_micros(bin.3.micros().saturating_add(l.notional.micros()));
    }
    (width, out)
}

pub fn writer_liquidation_chart(o: &Outcome) -> Chart {
    let (width, bins) = writer_liquidation_bins(o);
    let per =
        if width.is_multiple_of(60) { format!("{} min", width / 60) } else { format!("{width} s") };
    let top = bins.iter().map(|b| units(b.3)).fold(0.0, f64::max);
    let most = bins.iter().map(|b| b.2).max().unwrap_or(0) as f64;
    let mut c = Chart::new(
        "option-writers",
        &format!(
            "Option writers liquidated: notional (bars) and count (line, right axis) per {per}"
        ),
        time_axis(o),
        Axis::linear(&format!("notional per {per} ({})", o.quote_currency), 0.0, top),
    )
    .with_y2(Axis::linear(&format!("liquidations per {per}"), 0.0, most.max(1.0)));
    shade_shocks(&mut c, o, true);
    c.legend(PALETTE[2], "notional liquidated", Swatch::Block);
    for &(x0, x1, n, m) in bins.iter().filter(|b| b.2 > 0) {
        let title = format!(
            "{} to {}: {}, {}",
            clock(o, x0 as f64),
            clock(o, x1 as f64),
            human::plural(n, "liquidation", "liquidations"),
            human::money(m, &o.quote_currency)
        );
        c.bar(x0 as f64, x1 as f64, 0.0, units(m), PALETTE[2], &title);
    }
    let counts: Vec<(f64, Option<f64>)> =
        bins.iter().map(|b| ((b.0 + b.1) as f64 / 2.0, Some(b.2 as f64))).collect();
    c.line("liquidations (count)", &downsample(&counts, MAX_POINTS), PALETTE[6], false, true);
    c
}

/// Liquidations per minute over the run: (minute start s, count, notional), one entry
/// per minute from the start to the end of the run.
pub fn liquidations_per_minute(o: &Outcome) -> Vec<(u64, u64, Money)> {
    let minutes = (o.duration.nanos() / 1_000_000_000).div_ceil(60).max(1);
    let mut out: Vec<(u64, u64, Money)> = (0..minutes).map(|i| (i * 60, 0, Money::ZERO)).collect();
    for l in &o.liquidation_log {
        let i = ((l.time.nanos() / 1_000_000_000) / 60).min(minutes - 1) as usize;
        out[i].1 += 1;
        out[i].2 = Money::from_micros(out[i].2.micros().saturating_add(l.notional.micros()));
    }
    out
}

/// The replayed market's real traded volume per bar, drawn at each bar's middle.
pub fn replay_volume_chart(o: &Outcome) -> Chart {
    let points: Vec<(f64, Option<f64>)> = o
        .replay_volume
        .iter()
        .map(|b| ((b.start.as_seconds_f64() + b.end.as_seconds_f64()) / 2.0, Some(b.volume)))
        .collect();
    let top = points.iter().filter_map(|p| p.1).fold(0.0, f64::max);
    let mut c = Chart::new(
        "replay-volume",
        "The real market: traded volume per minute in the replayed file",
        time_axis(o),
        Axis::linear(&format!("traded per minute ({})", o.quote_currency), 0.0, top),
    )
    .with_size(1200.0, 300.0)
    .with_y2_margin();
    shade_shocks(&mut c, o, false);
    c.line("real traded volume", &downsample(&points, MAX_POINTS), PALETTE[6], false, false);
    c
}

/// The simulation's liquidations per minute on the same axis as [`replay_volume_chart`]:
/// notional as bars, count as a line on the right axis.
pub fn replay_liquidation_chart(o: &Outcome) -> Chart {
    let minutes = liquidations_per_minute(o);
    let top = minutes.iter().map(|m| units(m.2)).fold(0.0, f64::max);
    let most = minutes.iter().map(|m| m.1).max().unwrap_or(0) as f64;
    let mut c = Chart::new(
        "replay-liquidations",
        "The simulation: liquidations per minute, notional (bars) and count (line, right axis)",
        time_axis(o),
        Axis::linear(&format!("liquidated per minute ({})", o.quote_currency), 0.0, top),
    )
    .with_y2(Axis::linear("liquidations per minute", 0.0, most.max(1.0)))
    .with_size(1200.0, 300.0);
    shade_shocks(&mut c, o, false);
    c.legend(PALETTE[0], "notional liquidated", Swatch::Block);
    for &(start, n, m) in minutes.iter().filter(|m| m.1 > 0) {
        let title = format!(
            "{}: {}, {}",
            clock(o, start as f64),
            human::plural(n, "liquidation", "liquidations"),
            human::money(m, &o.quote_currency)
        );
        c.bar(start as f64, start as f64 + 60.0, 0.0, units(m), PALETTE[0], &title);
    }
    let counts: Vec<(f64, Option<f64>)> =
        minutes.iter().map(|m| (m.0 as f64 + 30.0, Some(m.1 as f64))).collect();
    c.line("liquidations (count)", &downsample(&counts, MAX_POINTS), PALETTE[6], false, true);
    c
}

/// Liquidations per minute of a run with collateral, by what found them: (minute start
/// s, by collateral value, by position loss), one entry per minute of the run.
pub fn collateral_liquidations_per_minute(o: &Outcome) -> Vec<(u64, u64, u64)> {
    let minutes = (o.duration.nanos() / 1_000_000_000).div_ceil(60).max(1);
    let mut out: Vec<(u64, u64, u64)> = (0..minutes).map(|i| (i * 60, 0, 0)).collect();
    for l in &o.liquidation_log {
        let i = ((l.time.nanos() / 1_000_000_000) / 60).min(minutes - 1) as usize;
        if l.by_collateral {
            out[i].1 += 1;
        } else {
            out[i].2 += 1;
        }
    }
    out
}

/// Each collateral asset's sampled venue price as a line named after the asset.
pub fn collateral_price_series(o: &Outcome) -> Vec<Series> {
    let Some(c) = &o.collateral else { return Vec::new() };
    c.venue_prices
        .iter()
        .enumerate()
        .map(|(k, path)| {
            let name = c.assets.get(k).cloned().unwrap_or_else(|| format!("asset {k}"));
            let points = path.iter().map(|&(t, p)| (t.as_seconds_f64(), Some(p.to_f64())));
            (name, points.collect())
        })
        .collect()
}

/// The sampled intervals `[from, to)` in seconds over which some collateral asset's venue
/// price was away from its first sample (a depeg and its recovery).
pub fn collateral_off_peg(o: &Outcome) -> Vec<(f64, f64)> {
    let series = collateral_price_series(o);
    let mut times: Vec<f64> = series.iter().flat_map(|s| s.1.iter().map(|p| p.0)).collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let off = |t: f64| {
        series.iter().any(|s| {
            let first = s.1.first().and_then(|p| p.1);
            s.1.iter().find(|p| p.0 == t).is_some_and(|p| p.1 != first)
        })
    };
    let mut out: Vec<(f64, f64)> = Vec::new();
    let mut from: Option<f64> = None;
    let mut last = 0.0;
    for &t in &times {
        match (off(t), from) {
            // Off at this sample: it moved within the interval that ends here.
            (true, None) => from = Some(last),
            (false, Some(f)) => {
                out.push((f, t));
                from = None;
            }
            _ => {}
        }
        last = t;
    }
    if let Some(f) = from {
        out.push((f, last));
    }
    out
}

fn shade_off_peg(chart: &mut Chart, o: &Outcome, legend: bool) {
    const COLOR: &str = "#D55E00";
    for (a, b) in collateral_off_peg(o) {
        let title =
            format!("collateral off its starting price: {} to {}", clock(o, a), clock(o, b));
        chart.band(a, b, COLOR, &title);
    }
    if legend && !collateral_off_peg(o).is_empty() {
        chart.legend(COLOR, "collateral off its starting price (shaded)", Swatch::Block);
    }
}

/// Each collateral asset's venue price over the run, on the run's time axis.
pub fn collateral_price_chart(o: &Outcome) -> Chart {
    let series = collateral_price_series(o);
    let refs: Vec<&Series> = series.iter().collect();
    let (lo, hi) = extent(&refs);
    // A price that never moved still gets an axis around it.
    let pad = if hi - lo > 1e-9 { 0.0 } else { 0.05 * hi.abs().max(1e-6) };
    let mut c = Chart::new(
        "collateral-price",
        "Collateral: each asset's price on the venue (what margin values it at, before haircuts)",
        time_axis(o),
        Axis::linear(&format!("venue price ({} per unit)", o.quote_currency), lo - pad, hi + pad),
    )
    .with_size(1200.0, 300.0);
    // Only the collateral's own window is shaded: the price chart shows the shocks, and
    // two overlapping tints would read as a third.
    shade_off_peg(&mut c, o, true);
    // Black first: the shading is vermillion and the page's other lines blue and orange.
    const ORDER: [usize; 6] = [6, 0, 2, 3, 5, 4];
    let colors: Vec<&str> = (0..refs.len()).map(|i| PALETTE[ORDER[i % ORDER.len()]]).collect();
    draw_lines(&mut c, &refs, &colors, &[]);
    if refs.iter().all(|s| s.1.is_empty()) {
        c.note = "no price sample in this run".into();
    }
    c
}

/// Liquidations per minute split by what found them, on the same axis as
/// [`collateral_price_chart`]: by position loss below, by collateral value stacked on it
/// and marked with a dot, so that a single one shows among hundreds.
pub fn collateral_liquidation_chart(o: &Outcome) -> Chart {
    const BY_COLLATERAL: &str = "#D55E00";
    const BY_POSITION: &str = "#0072B2";
    let minutes = collateral_liquidations_per_minute(o);
    let most = minutes.iter().map(|m| m.1 + m.2).max().unwrap_or(0) as f64;
    let mut c = Chart::new(
        "collateral-liquidations",
        "Liquidations per minute by cause: collateral value (the collateral price moved, the mark did not) or position loss",
        time_axis(o),
        Axis::linear("liquidations per minute", 0.0, most.max(1.0) * 1.08),
    )
    .with_size(1200.0, 300.0);
    shade_off_peg(&mut c, o, false);
    c.legend(BY_POSITION, "by position loss", Swatch::Block);
    c.legend(
        BY_COLLATERAL,
        "by collateral value (a dot marks each minute with one)",
        Swatch::Block,
    );
    for &(start, by_collateral, by_position) in minutes.iter().filter(|m| m.1 + m.2 > 0) {
        let (x0, x1) = (start as f64, start as f64 + 60.0);
        let at = clock(o, x0);
        if by_position > 0 {
            let title = format!("{at}: by position loss: {by_position}");
            c.bar(x0, x1, 0.0, by_position as f64, BY_POSITION, &title);
        }
        if by_collateral > 0 {
            let top = (by_position + by_collateral) as f64;
            let title = format!("{at}: by collateral value: {by_collateral}");
            c.bar(x0, x1, by_position as f64, top, BY_COLLATERAL, &title);
            c.point(x0 + 30.0, top + most.max(1.0) * 0.03, BY_COLLATERAL, 3.5, &title, None);
        }
    }
    let by_collateral: u64 = minutes.iter().map(|m| m.1).sum();
    let all: u64 = minutes.iter().map(|m| m.1 + m.2).sum();
    c.note = format!(
        "{} of {} by collateral value",
        human::count(by_collateral),
        human::plural(all, "liquidation", "liquidations")
    );
    c
}

pub use crate::human::group_thousands;

/// `hh:mm` of simulated second `t`: UTC in a dated run, time since start otherwise.
fn clock(o: &Outcome, t: f64) -> String {
    match o.start_utc_ns {
        Some(origin) => {
            let (day, clock) = crate::svg::utc_clock(origin, t);
            format!("{} {clock} UTC", day.get(5..).unwrap_or(&day))
        }
        None => hhmm(t),
    }
}

/// When `t` happened: UTC date and time in a dated run, time since start otherwise.
fn when(o: &Outcome, t: Option<liqsim_core::SimTime>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| match o.start_utc_ns {
            Some(origin) => {
                let (day, clock) = crate::svg::utc_clock(origin, t.as_seconds_f64());
                format!("{day} {clock} UTC")
            }
            None => hhmm(t.as_seconds_f64()),
        },
    )
}

/// The headline figures as (label, value, note) in display order.
pub fn headline(o: &Outcome) -> Vec<(&'static str, String, String)> {
    let l = &o.liquidations;
    let f = &o.insurance_fund;
    let cur = o.quote_currency.as_str();
    let money = |m: Money| human::money(m, cur);
    vec![
        (
            "liquidations",
            human::count(l.count),
            format!("{} long, {} short", human::count(l.long_count), human::count(l.short_count)),
        ),
        (
            "liquidated notional",
            money(l.notional),
            format!("long {}, short {}", money(l.long_notional), money(l.short_notional)),
        ),
        ("bad debt", money(o.bad_debt), "losses beyond liquidated accounts' equity".into()),
        (
            "insurance fund",
            format!("{} → {}", human::money_amount(f.start), money(f.end)),
            format!("minimum {}; exhausted at {}", money(f.min), when(o, o.fund_exhausted)),
        ),
        (
            "ADL",
            human::plural(o.adl.count, "close", "closes"),
            format!("notional {}; first at {}", money(o.adl.notional), when(o, o.first_adl)),
        ),
        ("socialized loss", money(o.socialized_loss), String::new()),
        (
            "cascade",
            format!("max depth {}", o.cascade.max_depth),
            format!(
                "amplification {}, {}, largest {}",
                o.cascade.amplification.map_or_else(|| "n/a".into(), |a| format!("{a:.2}×")),
                human::plural(u64::from(o.cascade.waves), "wave", "waves"),
                human::plural(o.cascade.largest, "liquidation", "liquidations")
            ),
        ),
        ("first liquidation", when(o, o.first_liquidation), String::new()),
        (
            "initial margin",
            format!("mean {}", money(o.margin.mean_initial)),
            format!(
                "peak {}; peak / pre-stress {}",
                money(o.margin.peak_initial),
                procyclicality(o).map_or_else(|| "n/a".into(), |p| format!("{p:.2}"))
            ),
        ),
        (
            "solvent",
            if o.solvent { "yes".into() } else { "no".into() },
            format!("conservation error {} micro-units", o.conservation_error.micros()),
        ),
    ]
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;background:#f4f5f7;color:#111}\
main{max-width:1240px;margin:0 auto;padding:16px 20px 40px}\
h1{font-size:24px;margin:8px 0 2px}h2{font-size:18px;margin:26px 0 6px}\
.sub{color:#555;margin:0 0 14px;font-size:14px}\
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:10px}\
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 10px}\
.card .k{font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}\
.card .v{font-size:19px;font-weight:600;margin:2px 0}.card .n{font-size:12px;color:#555}\
.panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px 8px;margin:12px 0}\
.panel p{font-size:13px;color:#444;margin:4px 8px 6px}\
table{border-collapse:collapse;background:#fff;font-size:12px;width:100%}\
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}th{background:#eef0f3}\
td:first-child,th:first-child{text-align:left}.front{font-weight:600}\
code{font-size:12px}";

/// A whole page around `body`.
pub fn page(title: &str, subtitle: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n{body}</main>\n</body>\n</html>\n",
        escape(title),
        escape(title),
        subtitle
    )
}

/// A chart with its caption in a panel.
pub fn panel(chart: &Chart, caption: &str) -> String {
    format!("<section class=\"panel\">\n{}<p>{}</p>\n</section>\n", chart.render(), escape(caption))
}

/// Every chart of the run report, in page order, with its caption.
pub fn run_charts(o: &Outcome) -> Vec<(Chart, &'static str)> {
    run_panels(o)
        .into_iter()
        .flat_map(|(charts, caption)| charts.into_iter().map(move |c| (c, caption)))
        .collect()
}

/// The run report's panels in page order: the charts drawn together, and their caption.
/// An options run adds the chain and its writers' liquidations; a replay with traded
/// volumes adds the real market's volume above the simulated liquidations; a run with
/// collateral adds its assets' venue prices above its liquidations split by cause.
pub fn run_panels(o: &Outcome) -> Vec<(Vec<Chart>, &'static str)> {
    let mut panels: Vec<(Vec<Chart>, &'static str)> =
        base_charts(o).into_iter().map(|(c, caption)| (vec![c], caption)).collect();
    if !o.replay_volume.is_empty() {
        let mut charts = vec![replay_volume_chart(o)];
        if o.liquidation_log.is_empty() {
            charts[0].note = "no liquidation in the simulated run".into();
        } else {
            charts.push(replay_liquidation_chart(o));
        }
        panels.insert(
            3,
            (
                charts,
                "Above, what the real market traded each minute (the replayed file's quote volume, else its volume); below, what the simulation liquidated in the same minutes, on the same UTC axis. If the simulated cascade is timed like the real one, the liquidation bars rise in the minutes the real volume spikes; liquidations well before or after the spike mean the simulated market broke at another moment, or for another reason, than the real one.",
            ),
        );
    }
    if o.collateral.is_some() {
        let at = if o.replay_volume.is_empty() { 3 } else { 4 };
        panels.insert(
            at.min(panels.len()),
            (
                vec![collateral_price_chart(o), collateral_liquidation_chart(o)],
                "Above, each collateral asset's price on the venue, sampled at each metrics interval, shaded where it is off its starting price. Below, the liquidations of each minute by what found them: by collateral value (vermillion, with a dot) when a collateral price move left a holder below maintenance at an unchanged mark; by position loss (blue) when a perpetual price step, funding or an expiry did, cascades included. Whether the depeg adds liquidations beyond those the price fall causes shows as vermillion in the shaded minutes: blue bars there are accounts the price fall reached first, though their collateral's fall may have brought them closer to it.",
            ),
        );
    }
    if !o.option_series.is_empty() {
        let charts = vec![option_chain_chart(o, false), option_chain_chart(o, true)];
        let chain_caption = "Each strike has three bars a side: light, the positions written going into the stress; blue, when the chain's open value (what the writers owe) peaked; dark, what is left at the end. Calls above the axis, puts below; the chain's expiries are summed per strike. Premium that grows from light to blue at unchanged open interest is the stress repricing the writers' short options. Open interest that stays from blue to dark while writers were liquidated was taken over (by the backstop or opposing holders), not closed; open interest falls only when positions are closed or expire.";
        panels.push((charts, chain_caption));
        // Without a writer liquidated the chart would be empty: the chain's note says so.
        if o.liquidation_log.iter().any(|l| l.short_options) {
            panels.push((
                vec![writer_liquidation_chart(o)],
                "Liquidations of accounts short an option (writers), whatever else they held. Writers liquidated inside a volatility window before the price moved were closed by the repricing of their options, not by the move.",
            ));
        }
    }
    panels
}

fn base_charts(o: &Outcome) -> Vec<(Chart, &'static str)> {
    vec![
        (
            price_chart(o),
            "Index is the spot reference, mark the price margin is computed at, last the perpetual's last trade in each interval that traded (a gap: nothing traded). Last trading away from the index during a shock is selling or buying pressure on the perpetual, liquidations among it.",
        ),
        (
            crash_liquidation_chart(o),
            "The same liquidations over the crash window in finer bins: the colours climbing from grey to dark red show each wave of liquidations triggering the next.",
        ),
        (
            liquidation_chart(o),
            "Grey bars were triggered by exogenous price moves; orange to dark red by the fills of earlier liquidations (cascade depth 1, 2, 3 and more). Hover a bar for its exact notional.",
        ),
        (
            loss_chart(o),
            "The dashed line is the fund's lowest balance within each interval, recorded when it happened. Bad debt is first paid by the insurance fund; once the fund is exhausted, profitable opposing positions are deleveraged (ADL), what remains is socialized over accounts in profit, and what nobody pays is the unpaid loss (the exchange is insolvent while it is above zero).",
        ),
        (
            margin_chart(o),
            "Margin held is the equity of accounts with positions; where it falls towards the requirement, accounts drop below maintenance and are liquidated. Accounts below maintenance are counted at each sample; liquidation closes them within the price step, so the count is usually zero.",
        ),
        (
            liquidity_chart(o),
            "Market makers pull quotes in stress: depth collapsing and the spread widening is how liquidations turn into a cascade.",
        ),
        (
            cascade_chart(o),
            "A straight line on log-log axes means a heavy (power-law-like) tail: most cascades are small, a few are very large.",
        ),
    ]
}

/// The self-contained run report.
pub fn run_report_html(o: &Outcome) -> String {
    let mut body = String::from("<div class=\"cards\">\n");
    for (k, v, n) in headline(o) {
        let _ = writeln!(
            body,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"v\">{}</div><div class=\"n\">{}</div></div>",
            escape(k),
            escape(&v),
            escape(&n)
        );
    }
    body.push_str("</div>\n");
    for (charts, caption) in run_panels(o) {
        body.push_str("<section class=\"panel\">\n");
        for chart in &charts {
            body.push_str(&chart.render());
        }
        let _ = writeln!(body, "<p>{}</p>\n</section>", escape(caption));
    }
    let subtitle = format!(
        "seed {} · margin policy <b>{}</b> · {} simulated{} · {} events · digest <code>{}</code> · money in {}",
        o.seed,
        escape(&o.policy),
        escape(&o.duration.to_string()),
        o.start_utc_ns.map_or_else(String::new, |origin| {
            let (day, clock) = crate::svg::utc_clock(origin, 0.0);
            format!(" from {day} {clock} UTC")
        }),
        human::count(o.events),
        escape(&o.digest),
        escape(&o.quote_currency)
    );
    page(&format!("liqsim run: {}", o.scenario), &subtitle, &body)
}
