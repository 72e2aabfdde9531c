//! Replay of a real price history.
//!
//! `time_ns` is each bar's open time relative to the first bar (which opens at 0); a bar
//! ends where the next one opens, and the last one after the spacing of the two before
//! it. Bars need not be evenly spaced here (the CSV reader in the scenario crate demands
//! it for its own reasons). The replayed path starts at the first bar's open and passes
//! exactly through each bar's two extremes and then its close at the end of the bar: the
//! extreme nearer the open first (the usual reading of a bar: a bar that opens near its
//! high went up there before it fell), at times that give each leg of open -> extreme ->
//! extreme -> close a share of the bar proportional to its length in log price, on whole
//! seconds where the bar is long enough. A replay that only passed through closes would
//! never reach the lows that trigger a crash's liquidations. Between those knots, finer
//! steps follow a Brownian bridge toward the next knot, with the bar's volatility
//! estimated from its range (Parkinson: sigma^2 = ln(H/L)^2 / (4 ln 2) over the bar),
//! clamped inside the bar's low and high. After the last close the price stays there.
//!
//! Time only moves forward in a simulation, so the current bar is a cursor; a step that
//! starts before the cursor finds its bar by binary search. The bridge draws from the
//! stream it is given, so a replay is as reproducible as any other process; only the path
//! inside bars depends on the seed. Scheduled volatility shocks do not apply to a replay
//! (history is what it was); jumps from the shock schedule still add on top.

use crate::process::PriceProcess;
use liqsim_core::{Error, InputError, Result, RngStream, SimDuration, SimTime};
use rand::distr::Distribution;
use statrs::distribution::Normal;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub time_ns: u64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

#[derive(Debug, Clone)]
pub struct Replay {
    bars: Vec<Bar>,
    /// End of each bar (where its close is hit), in ns from the start.
    ends_ns: Vec<u64>,
    log_price: f64,
    /// Parkinson variance per nanosecond, per bar.
    variance_rate: Vec<f64>,
    /// Bar holding the current time.
    cursor: usize,
    /// (time, log price) the path passes through: each bar's two extremes and its close,
    /// in time order.
    knots: Vec<(u64, f64)>,
    /// The first knot after the current time.
    next_knot: usize,
}

/// A bar's knots: its extremes, the one nearer the open first, and its close at `end`,
/// each leg given a share of the bar proportional to its length in log price (a flat bar
/// splits evenly), on whole seconds when the bar is at least three seconds long, and
/// strictly after the previous knot when the bar has room (a bar under 3 ns may stack
/// knots on one time: the path then takes the last).
fn bar_knots(b: &Bar, end: u64) -> [(u64, f64); 3] {
    let (open, high, low, close) = (b.open.ln(), b.high.ln(), b.low.ln(), b.close.ln());
    let (first, second) = if high - open <= open - low { (high, low) } else { (low, high) };
    let legs = [(first - open).abs(), (second - first).abs(), (close - second).abs()];
    let total: f64 = legs.iter().sum();
    let span = end - b.time_ns;
    let second_ns = 1_000_000_000;
    let at = |share: f64| -> u64 {
        let offset = (span as f64 * share).round() as u64;
        if span >= 3 * second_ns {
            (offset + second_ns / 2) / second_ns * second_ns
        } else {
            offset
        }
    };
    let (s1, s2) = if total > 0.0 {
        (legs[0] / total, (legs[0] + legs[1]) / total)
    } else {
        (1.0 / 3.0, 2.0 / 3.0)
    };
    let (t1, t2) = if span >= 3 {
        let t1 = at(s1).clamp(1, span - 2);
        (t1, at(s2).clamp(t1 + 1, span - 1))
    } else {
        (span, span)
    };
    [(b.time_ns + t1, first), (b.time_ns + t2, second), (end, close)]
}

impl Replay {
    /// Checks the bars (at least two; the first opens at 0; strictly increasing times;
    /// finite positive prices; low <= open, close <= high); an error names the 0-based
    /// row.
    pub fn new(bars: Vec<Bar>) -> Result<Replay> {
        let bad = |row: usize, why: String| -> Error {
            InputError::new(format!("replay row {row}: {why}")).into()
        };
        if bars.len() < 2 {
            return Err(InputError::new(format!(
                "a replay needs at least 2 bars, got {}",
                bars.len()
            ))
            .into());
        }
        if bars[0].time_ns != 0 {
            return Err(bad(0, "the first bar must start at time 0".into()));
        }
        for (i, b) in bars.iter().enumerate() {
            let prices = [b.open, b.high, b.low, b.close];
            if prices.iter().any(|p| !p.is_finite() || *p <= 0.0) {
                return Err(bad(i, "prices must be finite and positive".into()));
            }
            if b.low > b.open.min(b.close) || b.high < b.open.max(b.close) {
                return Err(bad(i, "need low <= open, close <= high".into()));
            }
            if i > 0 && b.time_ns <= bars[i - 1].time_ns {
                return Err(bad(i, "bar times must be strictly increasing".into()));
            }
        }
        let n = bars.len();
        let last_spacing = bars[n - 1].time_ns - bars[n - 2].time_ns;
        let ends_ns: Vec<u64> = (0..n)
            .map(|i| {
                bars.get(i + 1)
                    .map_or(bars[n - 1].time_ns.saturating_add(last_spacing), |b| b.time_ns)
            })
            .collect();
        let variance_rate = bars
            .iter()
            .zip(&ends_ns)
            .map(|(b, end)| {
                (b.high / b.low).ln().powi(2) / (4.0 * 2f64.ln()) / (end - b.time_ns) as f64
            })
            .collect();
        let log_price = bars[0].open.ln();
        let knots = bars.iter().zip(&ends_ns).flat_map(|(b, &end)| bar_knots(b, end)).collect();
        Ok(Replay { bars, ends_ns, log_price, variance_rate, cursor: 0, knots, next_knot: 0 })
    }

    pub fn first_price(&self) -> f64 {
        self.bars[0].open
    }

    /// Time of the last close, relative to the start.
    pub fn span(&self) -> SimDuration {
        SimDuration::from_nanos(self.ends_ns[self.ends_ns.len() - 1])
    }

    pub fn price(&self) -> f64 {
        self.log_price.exp()
    }

    /// Index of the bar holding time `t` (ns), or None past the last close.
    fn bar_at(&mut self, t: u64) -> Option<usize> {
        if t < self.bars[self.cursor].time_ns {
            self.cursor = self.ends_ns.partition_point(|end| *end <= t);
        }
        while self.cursor < self.bars.len() && self.ends_ns[self.cursor] <= t {
            self.cursor += 1;
        }
        if self.cursor == self.bars.len() {
            self.cursor -= 1;
            return None;
        }
        Some(self.cursor)
    }
}

impl PriceProcess for Replay {
    fn step(&mut self, now: SimTime, dt: SimDuration, _vol_scale: f64, rng: &mut RngStream) -> f64 {
        let start = self.log_price;
        let end_time = now.nanos().saturating_add(dt.nanos());
        let mut t = now.nanos();
        while t < end_time {
            let Some(bar) = self.bar_at(t) else { break };
            let b = self.bars[bar];
            if self.next_knot > 0 && self.knots[self.next_knot - 1].0 > t {
                self.next_knot = self.knots.partition_point(|k| k.0 <= t);
            }
            while self.next_knot < self.knots.len() && self.knots[self.next_knot].0 <= t {
                self.next_knot += 1;
            }
            let Some(&(knot, target)) = self.knots.get(self.next_knot) else { break };
            let to = end_time.min(knot);
            if to == knot {
                // Knots stacked on one time (a bar too short to space them): the last.
                while self.next_knot < self.knots.len() && self.knots[self.next_knot].0 == knot {
                    self.log_price = self.knots[self.next_knot].1;
                    self.next_knot += 1;
                }
            } else {
                let (elapsed, left) = ((to - t) as f64, (knot - t) as f64);
                let mean = self.log_price + (target - self.log_price) * elapsed / left;
                let sd = (self.variance_rate[bar] * elapsed * (left - elapsed) / left).sqrt();
                let z: f64 = Normal::standard().sample(rng);
                self.log_price = (mean + sd * z).clamp(b.low.ln(), b.high.ln());
            }
            t = to;
        }
        self.log_price - start
    }

    fn volatility(&self) -> f64 {
        // The current bar's range volatility, annualized.
        (self.variance_rate[self.cursor] * 1e9 * liqsim_core::time::SECONDS_PER_YEAR).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_core::StreamId;

    fn bars() -> Vec<Bar> {
        let minute = 60_000_000_000;
        vec![
            Bar { time_ns: 0, open: 100.0, high: 102.0, low: 99.0, close: 101.0 },
            Bar { time_ns: minute, open: 101.0, high: 101.5, low: 95.0, close: 96.0 },
            Bar { time_ns: 2 * minute, open: 96.0, high: 97.0, low: 90.0, close: 91.5 },
        ]
    }

    #[test]
    fn hits_every_close_exactly_and_stays_in_the_bar() {
        let mut r = Replay::new(bars()).unwrap();
        let mut rng = StreamId::named("replay").rng(9);
        let dt = SimDuration::from_secs(7); // does not divide the minute: knots fall mid-step
        let mut t = SimTime::START;
        let mut x = 100f64.ln();
        while t < SimTime::from_nanos(180_000_000_000) {
            x += r.step(t, dt, 1.0, &mut rng);
            t = t.plus(dt);
            assert!((x - r.log_price).abs() < 1e-12);
            let bar = ((t.nanos() - 1) / 60_000_000_000) as usize;
            let b = bars()[bar.min(2)];
            assert!(r.price() >= b.low * (1.0 - 1e-12) && r.price() <= b.high * (1.0 + 1e-12));
        }
        // Steps of 60 s land on every knot.
        let mut r = Replay::new(bars()).unwrap();
        let mut t = SimTime::START;
        for expected in [101.0, 96.0, 91.5, 91.5] {
            r.step(t, SimDuration::from_secs(60), 1.0, &mut rng);
            t = t.plus(SimDuration::from_secs(60));
            assert_eq!(r.price(), f64::exp(f64::ln(expected)));
        }
    }

    #[test]
    fn a_step_across_a_knot_passes_through_it() {
        let mut r = Replay::new(bars()).unwrap();
        let mut rng = StreamId::named("replay").rng(1);
        r.step(SimTime::START, SimDuration::from_secs(50), 1.0, &mut rng);
        // 50 s -> 60 s is the knot, and the step goes to 70 s, inside bar 1.
        r.step(SimTime::from_nanos(50_000_000_000), SimDuration::from_secs(20), 1.0, &mut rng);
        assert!(r.price() <= 101.5 && r.price() >= 95.0);
    }

    /// One-second steps through one-minute bars reach every bar's high and low exactly,
    /// the one nearer the open first, and never leave the bar's range.
    #[test]
    fn the_path_visits_each_bar_s_extremes_nearer_one_first() {
        let mut r = Replay::new(bars()).unwrap();
        let mut rng = StreamId::named("replay").rng(3);
        let mut path = Vec::new();
        for s in 0..180u64 {
            r.step(
                SimTime::from_nanos(s * 1_000_000_000),
                SimDuration::from_secs(1),
                1.0,
                &mut rng,
            );
            path.push(r.price());
        }
        for (k, b) in bars().iter().enumerate() {
            let minute = &path[k * 60..(k + 1) * 60];
            let hit = |p: f64| minute.iter().position(|&x| (x - p).abs() < 1e-9 * p);
            let (high, low) = (hit(b.high).unwrap(), hit(b.low).unwrap());
            // Bar 0 opens at 100 between 99 and 102: low first; bars 1 and 2 open at
            // their highs' side: high first.
            assert_eq!(high < low, k > 0, "bar {k}: high at {high}s, low at {low}s");
            assert!(
                minute.iter().all(|&x| x >= b.low * (1.0 - 1e-12) && x <= b.high * (1.0 + 1e-12))
            );
        }
    }

    #[test]
    fn bad_bars_name_the_row() {
        let mut b = bars();
        b[2].low = 99.0;
        assert!(Replay::new(b).unwrap_err().to_string().contains("row 2"));
        let mut b = bars();
        b[2].time_ns = b[1].time_ns;
        assert!(Replay::new(b).unwrap_err().to_string().contains("row 2"));
        let mut b = bars();
        b[0].close = 0.0;
        assert!(Replay::new(b).unwrap_err().to_string().contains("row 0"));
        let mut b = bars();
        b[1].high = 100.0;
        let e = Replay::new(b).unwrap_err();
        assert!(e.to_string().contains("row 1"));
        assert_eq!(e.exit_code(), 2);
        assert!(Replay::new(bars()[..1].to_vec()).is_err());
    }

    #[test]
    fn uneven_bars_hit_every_close_at_its_time() {
        let s = 1_000_000_000u64;
        let bars = vec![
            Bar { time_ns: 0, open: 50.0, high: 55.0, low: 49.0, close: 54.0 },
            Bar { time_ns: 60 * s, open: 54.0, high: 54.5, low: 40.0, close: 41.0 },
            Bar { time_ns: 90 * s, open: 41.0, high: 47.0, low: 41.0, close: 46.5 },
            Bar { time_ns: 200 * s, open: 46.5, high: 48.0, low: 45.0, close: 47.0 },
        ];
        let mut r = Replay::new(bars.clone()).unwrap();
        assert_eq!(r.span(), SimDuration::from_secs(310));
        let mut rng = StreamId::named("replay-uneven").rng(4);
        let closes = [(60, 54.0), (90, 41.0), (200, 46.5), (310, 47.0)];
        let mut t = 0u64;
        let mut next = 0;
        // One-second steps: every close time is a step end.
        while t < 320 {
            r.step(SimTime::from_nanos(t * s), SimDuration::from_secs(1), 1.0, &mut rng);
            t += 1;
            if next < closes.len() && t == closes[next].0 {
                assert_eq!(r.price(), f64::ln(closes[next].1).exp(), "close at {t}s");
                next += 1;
            } else if next < closes.len() {
                let b = bars[next];
                assert!(r.price() >= b.low * (1.0 - 1e-12) && r.price() <= b.high * (1.0 + 1e-12));
            }
        }
        assert_eq!(next, closes.len());
        assert!(r.volatility() > 0.0 && r.volatility().is_finite());
    }
}
