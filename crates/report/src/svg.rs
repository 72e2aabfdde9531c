//! Hand-written SVG charts: axes with "nice" ticks, time axes in hh:mm, log axes,
//! legends, lines, bars, shaded windows, scatter points and box plots.
//!
//! Why not a plotting crate: plotters' SVG backend measures text with system fonts
//! (fontconfig/freetype), which makes output depend on the machine and CI images. Here
//! every label is SVG `<text>` laid out by the browser, so the output is a pure function
//! of the data and byte-identical everywhere.
//!
//! Ordering rules: elements are drawn in the order they are added (later on top); legend
//! entries appear in insertion order. Numbers in the SVG are written with two decimals
//! (pixel coordinates) so output is stable.
//!
//! Known limitations: label collisions are avoided only by choosing few ticks (about
//! six a axis); long scatter labels may overlap when points are close.

use crate::human;
use std::fmt::Write as _;

/// The chart palette (colour-blind safe, Okabe-Ito).
pub const PALETTE: [&str; 8] =
    ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

/// Escapes text for SVG/HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A step of 1, 2 or 5 x 10^k such that `span / step` is close to `target` intervals.
pub fn nice_step(span: f64, target: usize) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Ticks at multiples of a nice step covering `[lo, hi]`: the first tick is at or below
/// `lo`, the last at or above `hi`, so the axis bounds are the outer ticks. A flat or
/// empty range is widened around its value.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (mut lo, mut hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    if hi < lo {
        std::mem::swap(&mut lo, &mut hi);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()).max(1.0) {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        lo -= pad;
        hi += pad;
    }
    let step = nice_step(hi - lo, target);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    // Multiply the integer index by the step (no accumulated additions) and snap tiny
    // residues to zero so `0` never prints as `-0.0000001`.
    (first..=last)
        .map(|i| {
            let v = i as f64 * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect()
}

/// Tick text for a value on an axis whose ticks are `step` apart, with the suffixes of
/// [`human::SUFFIXES`] (K, M, B, T, as the cards beside the chart print them) and only
/// the decimals the step needs.
pub fn format_tick(v: f64, step: f64) -> String {
    if v.abs() < step.abs() * 1e-9 || v == 0.0 {
        return "0".into();
    }
    let abs = v.abs().max(step.abs());
    // Thousands take a suffix only from 10,000: an axis up to 8,000 reads better in
    // whole numbers than in 2.0K steps.
    let (scale, suffix) =
        human::SUFFIXES.into_iter().find(|&(s, _)| abs >= s.max(1e4)).unwrap_or((1.0, ""));
    let scaled_step = step.abs() / scale;
    // The fewest decimals that write the step exactly (0.5 -> 1, 0.25 -> 2, 20 -> 0).
    let decimals = (0..6)
        .find(|&d| {
            let x = scaled_step * 10f64.powi(d as i32);
            (x - x.round()).abs() < 1e-6 * x.max(1.0)
        })
        .unwrap_or(6);
    let decimals = decimals.min(6);
    let text = format!("{:.*}", decimals, v / scale);
    let text = if text.starts_with('-') && text[1..].chars().all(|c| c == '0' || c == '.') {
        text[1..].to_string()
    } else {
        text
    };
    format!("{text}{suffix}")
}

/// Simulated seconds as `hh:mm` (or `Nd hh:mm` past a day; `hh:mm:ss` when `seconds`
/// is not a whole minute).
pub fn hhmm(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let days = total / 86_400;
    let h = (total % 86_400) / 3_600;
    let m = (total % 3_600) / 60;
    let s = total % 60;
    let clock = if s == 0 { format!("{h:02}:{m:02}") } else { format!("{h:02}:{m:02}:{s:02}") };
    if days > 0 { format!("{days}d {clock}") } else { clock }
}

/// (`YYYY-MM-DD`, `hh:mm`) in UTC of `seconds` after `origin_ns`.
pub fn utc_clock(origin_ns: u64, seconds: f64) -> (String, String) {
    let ns = origin_ns.saturating_add((seconds.max(0.0) * 1e9).round() as u64);
    let stamp = liqsim_core::time::format_timestamp(ns);
    let day = stamp.get(..10).unwrap_or("").to_string();
    let clock = stamp.get(11..16).unwrap_or("").to_string();
    (day, clock)
}

/// Time ticks at a round number of seconds, minutes or hours covering `[lo, hi]`.
pub fn time_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    const STEPS: [f64; 17] = [
        1.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10_800.0, 21_600.0, 43_200.0, 86_400.0,
    ];
    let span = (hi - lo).max(1.0);
    let raw = span / target.max(1) as f64;
    let step = STEPS
        .iter()
        .copied()
        .find(|&s| s >= raw)
        .unwrap_or_else(|| (raw / 86_400.0).ceil() * 86_400.0);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Decade ticks 10^a ..= 10^b covering `[lo, hi]` (both > 0).
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let lo = if lo > 0.0 && lo.is_finite() { lo } else { 1.0 };
    let hi = if hi > lo && hi.is_finite() { hi } else { lo * 10.0 };
    let a = lo.log10().floor() as i32;
    let b = (hi.log10().ceil() as i32).max(a + 1);
    (a..=b).map(|e| 10f64.powi(e)).collect()
}

/// How values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Seconds shown as hh:mm.
    Time,
    Log10,
}

/// An axis: its range is its outer ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    pub ticks: Vec<f64>,
    /// Label values by magnitude (an axis mirrored around zero: shorts below, longs above).
    pub mirror: bool,
    /// On a time axis of a dated run: UTC nanoseconds at 0 s, so ticks read as UTC
    /// clock times (with the date at the first tick and wherever the day changes).
    pub utc_origin_ns: Option<u64>,
}

impl Axis {
    /// A linear axis with nice ticks covering `[lo, hi]`.
    pub fn linear(label: &str, lo: f64, hi: f64) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            ticks: nice_ticks(lo, hi, 6),
            mirror: false,
            utc_origin_ns: None,
        }
    }

    /// A time axis (seconds) in hh:mm over exactly `[lo, hi]`: the data's extent, with
    /// round ticks inside it.
    pub fn time(label: &str, lo: f64, hi: f64) -> Axis {
        let hi = if hi > lo { hi } else { lo + 60.0 };
        let mut ticks: Vec<f64> =
            time_ticks(lo, hi, 8).into_iter().filter(|t| *t >= lo && *t <= hi).collect();
        // The ends are the range even when they are not round.
        if ticks.first().is_none_or(|t| *t > lo) {
            ticks.insert(0, lo);
        }
        if ticks.last().is_none_or(|t| *t < hi) {
            ticks.push(hi);
        }
        Axis { label: label.into(), scale: Scale::Time, ticks, mirror: false, utc_origin_ns: None }
    }

    /// A log axis with decade ticks covering `[lo, hi]`.
    pub fn log(label: &str, lo: f64, hi: f64) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Log10,
            ticks: log_ticks(lo, hi),
            mirror: false,
            utc_origin_ns: None,
        }
    }

    pub fn lo(&self) -> f64 {
        self.ticks.first().copied().unwrap_or(0.0)
    }

    pub fn hi(&self) -> f64 {
        self.ticks.last().copied().unwrap_or(1.0)
    }

    /// Position of `v` in [0, 1] along the axis (outside for values out of range).
    pub fn fraction(&self, v: f64) -> f64 {
        let (lo, hi, v) = match self.scale {
            Scale::Log10 => (self.lo().log10(), self.hi().log10(), v.max(1e-300).log10()),
            _ => (self.lo(), self.hi(), v),
        };
        if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }
    }

    /// This time axis in UTC from `origin_ns` (a dated run's start), when there is one.
    pub fn in_utc(mut self, origin_ns: Option<u64>) -> Axis {
        self.utc_origin_ns = origin_ns;
        if let Some(origin) = origin_ns {
            // Round in UTC, not in time since start: a run starting at 20:23 gets ticks
            // at 21:00, 22:00, ... rather than 21:23, 22:23.
            let offset = ((origin / 1_000_000_000) % 86_400) as f64;
            let (lo, hi) = (self.lo(), self.hi());
            let mut ticks: Vec<f64> = time_ticks(lo + offset, hi + offset, 8)
                .into_iter()
                .map(|t| t - offset)
                .filter(|t| *t >= lo && *t <= hi)
                .collect();
            if ticks.first().is_none_or(|t| *t > lo) {
                ticks.insert(0, lo);
            }
            if ticks.last().is_none_or(|t| *t < hi) {
                ticks.push(hi);
            }
            self.ticks = ticks;
        }
        self
    }

    fn tick_text(&self, v: f64) -> String {
        match self.scale {
            Scale::Time => match self.utc_origin_ns {
                Some(origin) => utc_clock(origin, v).1,
                None => hhmm(v),
            },
            Scale::Log10 => format_tick(v, v),
            Scale::Linear => {
                let step = if self.ticks.len() > 1 { self.ticks[1] - self.ticks[0] } else { 1.0 };
                format_tick(if self.mirror { v.abs() } else { v }, step)
            }
        }
    }

    /// Ticks with their text. On time axes the ends of the range are drawn even when
    /// they are not round, but labelled only when they are (a label like `02:58:20` next
    /// to `03:00` reads as clutter).
    fn labels(&self) -> Vec<(f64, String)> {
        let n = self.ticks.len();
        let step = if n >= 3 { self.ticks[n / 2] - self.ticks[n / 2 - 1] } else { 0.0 };
        self.ticks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                // Log axes label decades only (ends may be padded off a decade).
                self.scale != Scale::Log10 || {
                    let e = t.log10();
                    (e - e.round()).abs() < 1e-9
                }
            })
            .filter(|(i, t)| {
                if self.scale != Scale::Time || step <= 0.0 || (*i != 0 && *i != n - 1) {
                    return true;
                }
                let offset = self
                    .utc_origin_ns
                    .map_or(0.0, |origin| ((origin / 1_000_000_000) % 86_400) as f64);
                let k = (**t + offset) / step;
                (k - k.round()).abs() < 1e-9
            })
            .map(|(_, &t)| (t, self.tick_text(t)))
            .collect::<Vec<_>>()
            .into_iter()
            .scan(None, |last_day: &mut Option<String>, (t, text)| {
                // A dated axis names the day at its first label and where the day changes.
                let Some(origin) = self.utc_origin_ns.filter(|_| self.scale == Scale::Time) else {
                    return Some((t, text));
                };
                let (day, clock) = utc_clock(origin, t);
                let show = last_day.as_ref() != Some(&day);
                *last_day = Some(day.clone());
                Some((t, if show { format!("{day} {clock}") } else { clock }))
            })
            .collect()
    }
}

/// What a legend entry looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swatch {
    Line,
    Dashed,
    Block,
    Dot,
}

/// One chart: a plot area with a bottom axis, a left axis and an optional right axis.
#[derive(Debug, Clone)]
pub struct Chart {
    pub id: String,
    pub title: String,
    pub width: f64,
    pub height: f64,
    pub x: Axis,
    pub y: Axis,
    pub y2: Option<Axis>,
    body: String,
    legend: Vec<(String, String, Swatch)>,
    category: Vec<(f64, String)>,
    /// Marks drawn (lines, bars, points); a chart with none is "empty".
    pub marks: usize,
    /// A short remark drawn at the right end of the title line, in grey.
    pub note: String,
    /// Pixel boxes (x0, y0, x1, y1) of point labels and labelled points already placed,
    /// so that the next label goes where it overlaps none of them.
    occupied: Vec<[f64; 4]>,
    /// The lowest and highest value drawn on the left axis, written on the SVG so that a
    /// test can tell an axis that leaves the data's range (a negative axis for data that
    /// never goes below zero).
    y_data: Option<(f64, f64)>,
    /// Leave the right axis' margin without a right axis, so that this chart's plot area
    /// lines up with a chart above or below it that has one.
    reserve_y2: bool,
}

const LEFT: f64 = 78.0;
const RIGHT: f64 = 24.0;
const RIGHT_WITH_Y2: f64 = 78.0;
const TOP: f64 = 58.0;
const BOTTOM: f64 = 52.0;

impl Chart {
    pub fn new(id: &str, title: &str, x: Axis, y: Axis) -> Chart {
        Chart {
            id: id.into(),
            title: title.into(),
            width: 1200.0,
            height: 340.0,
            x,
            y,
            y2: None,
            body: String::new(),
            legend: Vec::new(),
            occupied: Vec::new(),
            note: String::new(),
            y_data: None,
            category: Vec::new(),
            marks: 0,
            reserve_y2: false,
        }
    }

    pub fn with_size(mut self, width: f64, height: f64) -> Chart {
        self.width = width;
        self.height = height;
        self
    }

    pub fn with_y2(mut self, y2: Axis) -> Chart {
        self.y2 = Some(y2);
        self
    }

    /// The same plot area as a chart with a right axis, for charts stacked to share
    /// their time axis.
    pub fn with_y2_margin(mut self) -> Chart {
        self.reserve_y2 = true;
        self
    }

    fn right(&self) -> f64 {
        if self.y2.is_some() || self.reserve_y2 { RIGHT_WITH_Y2 } else { RIGHT }
    }

    fn plot_w(&self) -> f64 {
        (self.width - LEFT - self.right()).max(1.0)
    }

    fn plot_h(&self) -> f64 {
        (self.height - TOP - BOTTOM).max(1.0)
    }

    fn saw_y(&mut self, v: f64) {
        if v.is_finite() {
            self.y_data = Some(self.y_data.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
        }
    }

    /// Pixel x of data value `v`.
    pub fn px(&self, v: f64) -> f64 {
        LEFT + self.x.fraction(v) * self.plot_w()
    }

    /// Pixel y of data value `v` on the left (or, with `right`, the right) axis.
    pub fn py(&self, v: f64, right: bool) -> f64 {
        let axis = if right { self.y2.as_ref().unwrap_or(&self.y) } else { &self.y };
        TOP + (1.0 - axis.fraction(v)) * self.plot_h()
    }

    pub fn legend(&mut self, color: &str, label: &str, swatch: Swatch) {
        self.legend.push((color.into(), label.into(), swatch));
    }

    /// A polyline through `points`; `None` y values break the line. `data-series` names
    /// the series so tests and readers can find it.
    pub fn line(
        &mut self,
        name: &str,
        points: &[(f64, Option<f64>)],
        color: &str,
        dashed: bool,
        right: bool,
    ) {
        let mut d = String::new();
        let mut pen_down = false;
        let mut drawn = 0;
        let mut all_zero = true;
        for &(x, y) in points {
            match y {
                Some(y) if y.is_finite() && x.is_finite() => {
                    all_zero &= y == 0.0;
                    if !right {
                        self.saw_y(y);
                    }
                    let cmd = if pen_down { 'L' } else { 'M' };
                    let _ = write!(d, "{cmd}{:.2},{:.2}", self.px(x), self.py(y, right));
                    pen_down = true;
                    drawn += 1;
                }
                _ => pen_down = false,
            }
        }
        if drawn == 0 {
            return;
        }
        let dash = if dashed { r#" stroke-dasharray="6,4""# } else { "" };
        let _ = writeln!(
            self.body,
            r#"<path class="series" data-series="{}" d="{d}" data-zero="{all_zero}" fill="none" stroke="{color}" stroke-width="1.8" stroke-linejoin="round"{dash}/>"#,
            escape(name)
        );
        self.marks += 1;
        self.legend(color, name, if dashed { Swatch::Dashed } else { Swatch::Line });
    }

    /// A filled rectangle between data coordinates (x0, y0) and (x1, y1) on the left axis.
    pub fn bar(&mut self, x0: f64, x1: f64, y0: f64, y1: f64, color: &str, title: &str) {
        self.saw_y(y0);
        self.saw_y(y1);
        let (a, b) = (self.px(x0), self.px(x1));
        let (c, d) = (self.py(y0, false), self.py(y1, false));
        let _ = writeln!(
            self.body,
            r#"<rect class="bar" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{color}"><title>{}</title></rect>"#,
            a.min(b),
            c.min(d),
            (b - a).abs().max(0.8),
            (d - c).abs(),
            escape(title)
        );
        self.marks += 1;
    }

    /// A full-height shaded band between x0 and x1 (a shock window); a zero-width window
    /// is drawn as a dashed vertical line. Shading is context, not a mark.
    pub fn band(&mut self, x0: f64, x1: f64, color: &str, title: &str) {
        let (a, b) = (self.px(x0).max(LEFT), self.px(x1).min(LEFT + self.plot_w()));
        if b < a {
            return;
        }
        if b - a < 1.5 {
            let _ = writeln!(
                self.body,
                r#"<line class="band" x1="{a:.2}" x2="{a:.2}" y1="{TOP:.2}" y2="{:.2}" stroke="{color}" stroke-width="2" stroke-dasharray="4,3"><title>{}</title></line>"#,
                TOP + self.plot_h(),
                escape(title)
            );
        } else {
            let _ = writeln!(
                self.body,
                r#"<rect class="band" x="{a:.2}" y="{TOP:.2}" width="{:.2}" height="{:.2}" fill="{color}" fill-opacity="0.18"><title>{}</title></rect>"#,
                b - a,
                self.plot_h(),
                escape(title)
            );
        }
    }

    /// A point with an optional label beside it.
    pub fn point(
        &mut self,
        x: f64,
        y: f64,
        color: &str,
        radius: f64,
        title: &str,
        label: Option<&str>,
    ) {
        self.saw_y(y);
        let (cx, cy) = (self.px(x), self.py(y, false));
        let _ = writeln!(
            self.body,
            r##"<circle class="point" cx="{cx:.2}" cy="{cy:.2}" r="{radius:.1}" fill="{color}" fill-opacity="0.85" stroke="#fff" stroke-width="0.8"><title>{}</title></circle>"##,
            escape(title)
        );
        if let Some(label) = label {
            self.occupied.push([cx - radius, cy - radius, cx + radius, cy + radius]);
            let (x, y, anchor) = self.label_place(cx, cy, radius, label);
            let _ = writeln!(
                self.body,
                r#"<text class="point-label" x="{x:.2}" y="{y:.2}" font-size="11" text-anchor="{anchor}" fill="{color}">{}</text>"#,
                escape(label)
            );
        }
        self.marks += 1;
    }

    /// Where the label of the point at pixel (cx, cy) goes: the first of eight places
    /// around it (right, left, above, below and the diagonals) that stays inside the plot
    /// and overlaps no label placed before; the right (or, in the right quarter, the left)
    /// when every place is taken. Returns (x, baseline y, text-anchor).
    fn label_place(
        &mut self,
        cx: f64,
        cy: f64,
        radius: f64,
        label: &str,
    ) -> (f64, f64, &'static str) {
        // 11 px system-ui: about 6.2 px a character, 11 px tall.
        let w = label.chars().count() as f64 * 6.2;
        let h = 11.0;
        let gap = radius + 3.0;
        let (x0, x1, y0, y1) = (LEFT, LEFT + self.plot_w(), TOP, TOP + self.plot_h());
        let right_first = cx <= LEFT + self.plot_w() * 0.75;
        let mut candidates: Vec<(f64, f64, &'static str)> = vec![
            (cx + gap, cy - gap, "start"),
            (cx - gap, cy - gap, "end"),
            (cx + gap, cy + gap + h, "start"),
            (cx - gap, cy + gap + h, "end"),
            (cx, cy - gap - 2.0, "middle"),
            (cx, cy + gap + h + 2.0, "middle"),
            (cx + gap, cy + h / 2.0 - 1.0, "start"),
            (cx - gap, cy + h / 2.0 - 1.0, "end"),
        ];
        if !right_first {
            candidates.swap(0, 1);
            candidates.swap(2, 3);
        }
        let bbox = |&(x, y, anchor): &(f64, f64, &str)| -> [f64; 4] {
            let left = match anchor {
                "start" => x,
                "end" => x - w,
                _ => x - w / 2.0,
            };
            [left, y - h + 1.0, left + w, y + 2.0]
        };
        let overlaps =
            |a: &[f64; 4], b: &[f64; 4]| a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
        let chosen = candidates
            .iter()
            .find(|c| {
                let b = bbox(c);
                b[0] >= x0
                    && b[2] <= x1
                    && b[1] >= y0
                    && b[3] <= y1
                    && !self.occupied.iter().any(|o| overlaps(o, &b))
            })
            .copied()
            .unwrap_or(candidates[0]);
        self.occupied.push(bbox(&chosen));
        chosen
    }

    /// A vertical box plot centred on category x (whiskers min..max, box q1..q3, median).
    pub fn boxplot(&mut self, x: f64, half_width: f64, five: [f64; 5], color: &str, title: &str) {
        let [lo, q1, med, q3, hi] = five;
        self.saw_y(lo);
        self.saw_y(hi);
        let (l, r, c) = (self.px(x - half_width), self.px(x + half_width), self.px(x));
        let y = |v: f64| self.py(v, false);
        let _ = writeln!(
            self.body,
            concat!(
                r#"<g class="box"><title>{}</title>"#,
                r#"<line x1="{c:.2}" x2="{c:.2}" y1="{:.2}" y2="{:.2}" stroke="{color}" stroke-width="1.5"/>"#,
                r#"<line x1="{c:.2}" x2="{c:.2}" y1="{:.2}" y2="{:.2}" stroke="{color}" stroke-width="1.5"/>"#,
                r#"<rect x="{l:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{color}" fill-opacity="0.25" stroke="{color}" stroke-width="1.5"/>"#,
                r#"<line x1="{l:.2}" x2="{r:.2}" y1="{:.2}" y2="{:.2}" stroke="{color}" stroke-width="3"/>"#,
                r#"<line x1="{:.2}" x2="{:.2}" y1="{:.2}" y2="{:.2}" stroke="{color}" stroke-width="1.5"/>"#,
                r#"<line x1="{:.2}" x2="{:.2}" y1="{:.2}" y2="{:.2}" stroke="{color}" stroke-width="1.5"/></g>"#
            ),
            escape(title),
            y(hi),
            y(q3),
            y(q1),
            y(lo),
            y(q3),
            (r - l).max(1.0),
            (y(q1) - y(q3)).abs().max(1.0),
            y(med),
            y(med),
            (l + c) / 2.0,
            (r + c) / 2.0,
            y(hi),
            y(hi),
            (l + c) / 2.0,
            (r + c) / 2.0,
            y(lo),
            y(lo),
            c = c,
            l = l,
            r = r,
            color = color,
        );
        self.marks += 1;
    }

    /// A vertical interval (e.g. a 95% confidence interval) at x with caps.
    pub fn errorbar(&mut self, x: f64, lo: f64, hi: f64, color: &str, title: &str) {
        self.saw_y(lo);
        self.saw_y(hi);
        let (c, a, b) = (self.px(x), self.py(lo, false), self.py(hi, false));
        let _ = writeln!(
            self.body,
            r#"<path class="errorbar" d="M{:.2},{a:.2}L{:.2},{a:.2}M{c:.2},{a:.2}L{c:.2},{b:.2}M{:.2},{b:.2}L{:.2},{b:.2}" fill="none" stroke="{color}" stroke-width="1.6"><title>{}</title></path>"#,
            c - 6.0,
            c + 6.0,
            c - 6.0,
            c + 6.0,
            escape(title)
        );
    }

    /// A horizontal reference line at `y` (e.g. zero), not counted as a mark.
    pub fn hline(&mut self, y: f64, color: &str) {
        let yy = self.py(y, false);
        let _ = writeln!(
            self.body,
            r#"<line x1="{LEFT:.2}" x2="{:.2}" y1="{yy:.2}" y2="{yy:.2}" stroke="{color}" stroke-width="1"/>"#,
            LEFT + self.plot_w()
        );
    }

    /// Text at data coordinates, centred.
    pub fn text(&mut self, x: f64, y: f64, text: &str, size: f64) {
        let _ = writeln!(
            self.body,
            r##"<text x="{:.2}" y="{:.2}" font-size="{size:.0}" text-anchor="middle" fill="#333">{}</text>"##,
            self.px(x),
            self.py(y, false),
            escape(text)
        );
    }

    /// Custom tick labels on the x axis (categories); replaces the numeric ones.
    pub fn category_labels(&mut self, labels: &[(f64, String)]) {
        self.x.scale = Scale::Linear;
        self.category = labels.to_vec();
    }

    /// The SVG document. A chart without marks shows a "no data" note instead of an
    /// empty plot, so an empty chart is never mistaken for a calm run.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let (w, h) = (self.width, self.height);
        let (pw, ph) = (self.plot_w(), self.plot_h());
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" id="{}" class="chart" data-marks="{}" data-x-scale="{}" data-y-axis="{} {}" data-y-data="{}" viewBox="0 0 {w:.0} {h:.0}" width="100%" role="img" aria-label="{}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">"#,
            escape(&self.id),
            self.marks,
            match self.x.scale {
                Scale::Time => "time",
                Scale::Log10 => "log",
                Scale::Linear => "linear",
            },
            self.y.lo(),
            self.y.hi(),
            self.y_data.map_or_else(String::new, |(lo, hi)| format!("{lo} {hi}")),
            escape(&self.title)
        );
        let _ = writeln!(s, r##"<rect x="0" y="0" width="{w:.0}" height="{h:.0}" fill="#fff"/>"##);
        let _ = writeln!(
            s,
            r##"<text x="{LEFT:.0}" y="22" font-size="16" font-weight="600" fill="#111">{}</text>"##,
            escape(&self.title)
        );
        if !self.note.is_empty() {
            // Bottom left, clear of the title, the legend and the centred axis title.
            let _ = writeln!(
                s,
                r##"<text x="8" y="{:.0}" font-size="11" fill="#666">{}</text>"##,
                h - 10.0,
                escape(&self.note)
            );
        }
        // Grid and ticks.
        let grid = "#e3e3e3";
        for (t, label) in self.y.labels() {
            let y = self.py(t, false);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT:.2}" x2="{:.2}" y1="{y:.2}" y2="{y:.2}" stroke="{grid}"/><text x="{:.2}" y="{:.2}" font-size="12" text-anchor="end" fill="#444">{}</text>"##,
                LEFT + pw,
                LEFT - 6.0,
                y + 4.0,
                escape(&label)
            );
        }
        if let Some(y2) = &self.y2 {
            for (t, label) in y2.labels() {
                let y = self.py(t, true);
                let _ = writeln!(
                    s,
                    r##"<text x="{:.2}" y="{:.2}" font-size="12" fill="#444">{}</text>"##,
                    LEFT + pw + 6.0,
                    y + 4.0,
                    escape(&label)
                );
            }
        }
        let x_labels =
            if self.category.is_empty() { self.x.labels() } else { self.category.clone() };
        for (t, label) in x_labels {
            let x = self.px(t);
            // A label at an end of the axis would be cut by the edge of the picture:
            // anchor it at its end (or start) instead of its middle.
            let half = label.chars().count() as f64 * 3.4;
            let anchor = if x + half > w - 2.0 {
                "end"
            } else if x - half < 2.0 {
                "start"
            } else {
                "middle"
            };
            let _ = writeln!(
                s,
                r##"<line x1="{x:.2}" x2="{x:.2}" y1="{TOP:.2}" y2="{:.2}" stroke="{grid}"/><text x="{x:.2}" y="{:.2}" font-size="12" text-anchor="{anchor}" fill="#444">{}</text>"##,
                TOP + ph,
                TOP + ph + 17.0,
                escape(&label)
            );
        }
        s.push_str(&self.body);
        // Frame and axis titles on top of the data.
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT:.2}" y="{TOP:.2}" width="{pw:.2}" height="{ph:.2}" fill="none" stroke="#888"/>"##
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.2}" y="{:.2}" font-size="13" text-anchor="middle" fill="#222">{}</text>"##,
            LEFT + pw / 2.0,
            h - 10.0,
            escape(&self.x.label)
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate(16,{:.2}) rotate(-90)" font-size="13" text-anchor="middle" fill="#222">{}</text>"##,
            TOP + ph / 2.0,
            escape(&self.y.label)
        );
        if let Some(y2) = &self.y2 {
            let _ = writeln!(
                s,
                r##"<text transform="translate({:.2},{:.2}) rotate(90)" font-size="13" text-anchor="middle" fill="#222">{}</text>"##,
                w - 14.0,
                TOP + ph / 2.0,
                escape(&y2.label)
            );
        }
        if self.marks == 0 {
            let _ = writeln!(
                s,
                r##"<text x="{:.2}" y="{:.2}" font-size="15" text-anchor="middle" fill="#777">no data: nothing of this kind happened in this run</text>"##,
                LEFT + pw / 2.0,
                TOP + ph / 2.0
            );
        }
        // Legend: one row above the plot area.
        let mut lx = LEFT;
        let ly = 42.0;
        for (color, label, swatch) in &self.legend {
            let mark = match swatch {
                Swatch::Line => format!(
                    r#"<line x1="{lx:.2}" x2="{:.2}" y1="{ly:.2}" y2="{ly:.2}" stroke="{color}" stroke-width="2.5"/>"#,
                    lx + 18.0
                ),
                Swatch::Dashed => format!(
                    r#"<line x1="{lx:.2}" x2="{:.2}" y1="{ly:.2}" y2="{ly:.2}" stroke="{color}" stroke-width="2.5" stroke-dasharray="5,3"/>"#,
                    lx + 18.0
                ),
                Swatch::Block => format!(
                    r#"<rect x="{lx:.2}" y="{:.2}" width="18" height="10" fill="{color}" fill-opacity="0.7"/>"#,
                    ly - 5.0
                ),
                Swatch::Dot => {
                    format!(r#"<circle cx="{:.2}" cy="{ly:.2}" r="5" fill="{color}"/>"#, lx + 9.0)
                }
            };
            let _ = writeln!(
                s,
                r##"<g class="legend">{mark}<text x="{:.2}" y="{:.2}" font-size="12" fill="#222">{}</text></g>"##,
                lx + 23.0,
                ly + 4.0,
                escape(label)
            );
            lx += 23.0 + 6.8 * label.chars().count() as f64 + 18.0;
        }
        s.push_str("</svg>\n");
        s
    }
}

/// Keeps at most `max_points` points of a series, deterministically: the series is cut
/// into equal buckets by index and each bucket keeps its first point, its minimum and its
/// maximum (in their original order), so spikes and crashes survive downsampling.
pub fn downsample(points: &[(f64, Option<f64>)], max_points: usize) -> Vec<(f64, Option<f64>)> {
    if points.len() <= max_points || max_points < 4 {
        return points.to_vec();
    }
    let buckets = max_points / 3;
    let n = points.len();
    let mut out = Vec::with_capacity(max_points + 1);
    for b in 0..buckets {
        let (start, end) = (b * n / buckets, ((b + 1) * n / buckets).min(n));
        if start >= end {
            continue;
        }
        let bucket = &points[start..end];
        let mut keep = vec![0usize];
        let finite = bucket.iter().enumerate().filter_map(|(i, p)| p.1.map(|y| (i, y)));
        let mut min: Option<(usize, f64)> = None;
        let mut max: Option<(usize, f64)> = None;
        for (i, y) in finite {
            if min.is_none_or(|(_, m)| y < m) {
                min = Some((i, y));
            }
            if max.is_none_or(|(_, m)| y > m) {
                max = Some((i, y));
            }
        }
        keep.extend(min.map(|m| m.0));
        keep.extend(max.map(|m| m.0));
        // A gap (None) inside the bucket must still break the line.
        if let Some(gap) = bucket.iter().position(|p| p.1.is_none()) {
            keep.push(gap);
        }
        keep.sort_unstable();
        keep.dedup();
        out.extend(keep.into_iter().map(|i| bucket[i]));
    }
    if out.last() != points.last() {
        out.extend(points.last().copied());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_1_2_5_decades() {
        assert_eq!(nice_step(100.0, 5), 20.0);
        assert_eq!(nice_step(1.0, 10), 0.1);
        assert_eq!(nice_step(47.0, 6), 10.0);
        assert_eq!(nice_step(2_300_000.0, 6), 500_000.0);
        assert_eq!(nice_step(0.0, 6), 1.0);
    }

    #[test]
    fn nice_ticks_cover_the_range_with_round_numbers() {
        assert_eq!(
            nice_ticks(47_812.0, 60_350.0, 6),
            [45_000.0, 50_000.0, 55_000.0, 60_000.0, 65_000.0]
        );
        assert_eq!(
            nice_ticks(47_812.0, 60_350.0, 10),
            [
                46_000.0, 48_000.0, 50_000.0, 52_000.0, 54_000.0, 56_000.0, 58_000.0, 60_000.0,
                62_000.0
            ]
        );
        assert_eq!(nice_ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(-3.0, 7.0, 5), [-4.0, -2.0, 0.0, 2.0, 4.0, 6.0, 8.0]);
        // A flat series still gets an axis around its value.
        let flat = nice_ticks(5.0, 5.0, 5);
        assert!(flat.first().unwrap() < &5.0 && flat.last().unwrap() > &5.0, "{flat:?}");
        assert_eq!(nice_ticks(0.0, 0.0, 5), [-1.0, -0.5, 0.0, 0.5, 1.0]);
        for (lo, hi) in [(0.013, 0.92), (1e-6, 3e-6), (-5e8, 2e9), (123.0, 124.0)] {
            let t = nice_ticks(lo, hi, 6);
            assert!(t[0] <= lo && *t.last().unwrap() >= hi, "{lo} {hi} {t:?}");
            assert!((3..=13).contains(&t.len()), "{lo} {hi} {t:?}");
        }
    }

    #[test]
    fn tick_text_is_short_and_exact_to_the_step() {
        assert_eq!(format_tick(60_000.0, 2_000.0), "60K");
        assert_eq!(format_tick(8_000.0, 2_000.0), "8000");
        assert_eq!(format_tick(1_500_000.0, 500_000.0), "1.5M");
        assert_eq!(format_tick(2_000_000.0, 500_000.0), "2.0M");
        assert_eq!(format_tick(2_000_000.0, 250_000.0), "2.00M");
        assert_eq!(format_tick(1_750_000.0, 250_000.0), "1.75M");
        assert_eq!(format_tick(0.4, 0.2), "0.4");
        assert_eq!(format_tick(0.6000000000000001, 0.2), "0.6");
        assert_eq!(format_tick(0.25, 0.05), "0.25");
        assert_eq!(format_tick(-0.0, 0.5), "0");
        assert_eq!(format_tick(0.0, 500_000.0), "0");
        assert_eq!(format_tick(120.0, 20.0), "120");
        assert_eq!(format_tick(3e9, 1e9), "3B");
        assert_eq!(format_tick(2.5e12, 5e11), "2.5T");
    }

    #[test]
    fn time_is_hh_mm() {
        assert_eq!(hhmm(0.0), "00:00");
        assert_eq!(hhmm(7_200.0), "02:00");
        assert_eq!(hhmm(5_430.0), "01:30:30");
        assert_eq!(hhmm(90_000.0), "1d 01:00");
        assert_eq!(
            time_ticks(0.0, 86_400.0, 8),
            (0..=8).map(|i| f64::from(i) * 10_800.0).collect::<Vec<_>>()
        );
        assert_eq!(
            time_ticks(0.0, 3_600.0, 8),
            (0..=6).map(|i| f64::from(i) * 600.0).collect::<Vec<_>>()
        );
        let axis = Axis::time("t", 60.0, 86_400.0);
        assert_eq!((axis.lo(), axis.hi()), (60.0, 86_400.0));
        let labels: Vec<String> = axis.labels().into_iter().map(|l| l.1).collect();
        assert_eq!(
            labels,
            ["03:00", "06:00", "09:00", "12:00", "15:00", "18:00", "21:00", "1d 00:00"]
        );
        let labels: Vec<String> =
            Axis::time("t", 0.0, 10_700.0).labels().into_iter().map(|l| l.1).collect();
        assert_eq!(labels, ["00:00", "00:30", "01:00", "01:30", "02:00", "02:30"]);
    }

    #[test]
    fn log_ticks_are_decades() {
        assert_eq!(log_ticks(1.0, 250.0), [1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(log_ticks(3.0, 3.0), [1.0, 10.0, 100.0]);
        assert_eq!(log_ticks(1.0, 1.0), [1.0, 10.0]);
        let axis = Axis::log("n", 1.0, 1000.0);
        assert!((axis.fraction(10.0) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn pixels_map_linearly_onto_the_plot_area() {
        let c = Chart::new("c", "t", Axis::linear("x", 0.0, 10.0), Axis::linear("y", 0.0, 100.0));
        assert_eq!(c.px(0.0), LEFT);
        assert_eq!(c.px(10.0), 1200.0 - RIGHT);
        assert_eq!(c.py(100.0, false), TOP);
        assert_eq!(c.py(0.0, false), 340.0 - BOTTOM);
        assert!((c.px(5.0) - (LEFT + (1200.0 - LEFT - RIGHT) / 2.0)).abs() < 1e-9);
    }

    #[test]
    fn empty_charts_say_so_and_lines_break_at_gaps() {
        let mut c =
            Chart::new("c", "t", Axis::linear("x", 0.0, 10.0), Axis::linear("y", 0.0, 10.0));
        assert!(c.render().contains("no data"));
        c.line(
            "s",
            &[(0.0, Some(1.0)), (1.0, None), (2.0, Some(3.0)), (3.0, Some(4.0))],
            "#000",
            false,
            false,
        );
        let svg = c.render();
        assert!(!svg.contains("no data"));
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(d.matches('M').count(), 2, "{d}");
        assert_eq!(d.matches('L').count(), 1, "{d}");
        c.line("none", &[(0.0, None)], "#000", false, false);
        assert_eq!(c.marks, 1);
    }

    #[test]
    fn downsampling_keeps_extremes_and_ends() {
        let pts: Vec<(f64, Option<f64>)> = (0..10_000)
            .map(|i| (f64::from(i), Some(if i == 4_321 { -50.0 } else { f64::from(i % 7) })))
            .collect();
        let d = downsample(&pts, 2_000);
        assert!(d.len() <= 2_001, "{}", d.len());
        assert!(d.contains(&(4_321.0, Some(-50.0))));
        assert_eq!(d.first(), pts.first());
        assert_eq!(d.last(), pts.last());
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(downsample(&pts[..100], 2_000), pts[..100].to_vec());
        assert_eq!(downsample(&pts, 2_000), d);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
