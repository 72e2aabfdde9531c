//! Replay of a real price history.
//!
//! Bars are evenly spaced; `time_ns` is each bar's open time relative to the first bar.
//! The replayed path starts at the first bar's open and passes exactly through every
//! close at the end of its bar (time_ns + spacing). Between those knots, finer steps
//! follow a Brownian bridge toward the next close, with the bar's volatility estimated
//! from its range (Parkinson: sigma^2 = ln(H/L)^2 / (4 ln 2) over the bar), and clamped
//! inside the bar's low and high. After the last close the price stays there.
//!
//! The bridge draws from the stream it is given, so a replay is as reproducible as any
//! other process; only the path inside bars depends on the seed.

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
    spacing_ns: u64,
    log_price: f64,
    /// Per nanosecond, per bar.
    variance_rate: Vec<f64>,
}

impl Replay {
    /// Checks the bars (at least two, evenly spaced from 0, positive, low <= open, close
    /// <= high); an error names the 0-based row.
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
        let spacing_ns = bars[1].time_ns;
        if spacing_ns == 0 {
            return Err(bad(1, "bars must be strictly increasing in time".into()));
        }
        for (i, b) in bars.iter().enumerate() {
            let prices = [b.open, b.high, b.low, b.close];
            if prices.iter().any(|p| !p.is_finite() || *p <= 0.0) {
                return Err(bad(i, "prices must be finite and positive".into()));
            }
            if b.low > b.open.min(b.close) || b.high < b.open.max(b.close) {
                return Err(bad(i, "need low <= open, close <= high".into()));
            }
            if b.time_ns != i as u64 * spacing_ns {
                return Err(bad(i, format!("bars must be evenly spaced {spacing_ns} ns apart")));
            }
        }
        let variance_rate = bars
            .iter()
            .map(|b| (b.high / b.low).ln().powi(2) / (4.0 * 2f64.ln()) / spacing_ns as f64)
            .collect();
        let log_price = bars[0].open.ln();
        Ok(Replay { bars, spacing_ns, log_price, variance_rate })
    }

    pub fn first_price(&self) -> f64 {
        self.bars[0].open
    }

    /// Time of the last close, relative to the start.
    pub fn span(&self) -> SimDuration {
        SimDuration::from_nanos(self.bars.len() as u64 * self.spacing_ns)
    }

    pub fn price(&self) -> f64 {
        self.log_price.exp()
    }
}

impl PriceProcess for Replay {
    fn step(&mut self, now: SimTime, dt: SimDuration, _vol_scale: f64, rng: &mut RngStream) -> f64 {
        let start = self.log_price;
        let end_time = now.nanos().saturating_add(dt.nanos());
        let mut t = now.nanos();
        while t < end_time {
            let bar = (t / self.spacing_ns) as usize;
            let Some(b) = self.bars.get(bar) else { break };
            let knot = (bar as u64 + 1) * self.spacing_ns;
            let to = end_time.min(knot);
            if to == knot {
                self.log_price = b.close.ln();
            } else {
                let (elapsed, left) = ((to - t) as f64, (knot - t) as f64);
                let target = b.close.ln();
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
        // Average of the bars' range volatility, annualized; a replay has no model state.
        let mean_rate = self.variance_rate.iter().sum::<f64>() / self.variance_rate.len() as f64;
        (mean_rate * 1e9 * liqsim_core::time::SECONDS_PER_YEAR).sqrt()
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

    #[test]
    fn bad_bars_name_the_row() {
        let mut b = bars();
        b[2].low = 99.0;
        assert!(Replay::new(b).unwrap_err().to_string().contains("row 2"));
        let mut b = bars();
        b[1].time_ns += 1;
        assert!(Replay::new(b).unwrap_err().to_string().contains("row 2"));
        assert!(Replay::new(bars()[..1].to_vec()).is_err());
    }
}
