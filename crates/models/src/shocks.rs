//! Scheduled shocks over any price process.
//!
//! - A jump of `size` (a fraction: -0.2 is -20%) applies in the step that starts at or
//!   before its time and ends after it: steps cover [t, t + dt).
//! - A volatility window multiplies the diffusion volatility by `multiplier` while
//!   active; overlapping windows multiply.
//! - A drought window scales market makers' quoting capacity to `liquidity` (0..1); the
//!   agents read it. Overlapping droughts take the smallest.
//!
//! [`Shocked`] puts a schedule over any [`PriceProcess`]; the simulation kernel may also
//! call [`Shocks::vol_scale`] and [`Shocks::log_jumps`] itself, to the same effect.

use crate::process::PriceProcess;
use liqsim_core::{InputError, Result, RngStream, SimDuration, SimTime};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shock {
    Jump { at: SimTime, size: f64 },
    Volatility { start: SimTime, end: SimTime, multiplier: f64 },
    Drought { start: SimTime, end: SimTime, liquidity: f64 },
}

#[derive(Debug, Clone, Default)]
pub struct Shocks {
    list: Vec<Shock>,
}

impl Shock {
    /// Checks the shock's figures: a jump above -100%, a non-negative volatility
    /// multiplier, a liquidity factor in [0, 1], windows with start before end.
    pub fn validate(&self) -> Result<()> {
        let fail = |key: &str, what: String, expected: &str| {
            Err(InputError::new(what).key(key).expected(expected).into())
        };
        match *self {
            Shock::Jump { size, .. } if !(size.is_finite() && size > -1.0) => fail(
                "size",
                format!("jump size {size} would not leave a positive price"),
                "> -1 (a fraction: -0.2 is -20%)",
            ),
            Shock::Volatility { multiplier, .. }
                if !(multiplier.is_finite() && multiplier >= 0.0) =>
            {
                fail("multiplier", format!("volatility multiplier {multiplier}"), ">= 0")
            }
            Shock::Drought { liquidity, .. } if !(0.0..=1.0).contains(&liquidity) => {
                fail("liquidity", format!("liquidity factor {liquidity}"), "[0, 1]")
            }
            Shock::Volatility { start, end, .. } | Shock::Drought { start, end, .. }
                if end <= start =>
            {
                fail("end", "the window ends before it starts".into(), "end > start")
            }
            _ => Ok(()),
        }
    }
}

impl Shocks {
    /// A schedule as given (the scenario crate has validated it).
    pub fn new(list: Vec<Shock>) -> Shocks {
        Shocks { list }
    }

    /// A schedule after [`Shock::validate`] on each shock; an error names the 0-based
    /// index of the first bad one.
    pub fn checked(list: Vec<Shock>) -> Result<Shocks> {
        for (i, shock) in list.iter().enumerate() {
            shock.validate().map_err(|mut e| {
                if let Some(input) = e.as_input_mut() {
                    input.message = format!("shock {i}: {}", input.message);
                }
                e
            })?;
        }
        Ok(Shocks { list })
    }

    pub fn list(&self) -> &[Shock] {
        &self.list
    }

    /// Sum of the log jumps scheduled in [from, to).
    pub fn log_jumps(&self, from: SimTime, to: SimTime) -> f64 {
        self.list
            .iter()
            .map(|s| match *s {
                Shock::Jump { at, size } if at >= from && at < to => (1.0 + size).ln(),
                _ => 0.0,
            })
            .sum()
    }

    /// Sum of the log jumps scheduled in (from, to], and at `from` itself when it is the
    /// start of the run: a step that ends at `to` carries the price to `to`, so a jump at
    /// 6h is in the price the step ending at 6h produces.
    pub fn log_jumps_through(&self, from: SimTime, to: SimTime) -> f64 {
        self.list
            .iter()
            .map(|s| match *s {
                Shock::Jump { at, size }
                    if (at > from || (at == from && from == SimTime::START)) && at <= to =>
                {
                    (1.0 + size).ln()
                }
                _ => 0.0,
            })
            .sum()
    }

    pub fn vol_scale(&self, t: SimTime) -> f64 {
        self.list
            .iter()
            .map(|s| match *s {
                Shock::Volatility { start, end, multiplier } if t >= start && t < end => multiplier,
                _ => 1.0,
            })
            .product()
    }

    pub fn liquidity_factor(&self, t: SimTime) -> f64 {
        self.list
            .iter()
            .map(|s| match *s {
                Shock::Drought { start, end, liquidity } if t >= start && t < end => liquidity,
                _ => 1.0,
            })
            .fold(1.0, f64::min)
    }

    /// Start of the earliest shock.
    pub fn first_start(&self) -> Option<SimTime> {
        self.list
            .iter()
            .map(|s| match *s {
                Shock::Jump { at, .. } => at,
                Shock::Volatility { start, .. } | Shock::Drought { start, .. } => start,
            })
            .min()
    }
}

/// A price process under a shock schedule: volatility windows scale its diffusion and
/// scheduled jumps add to its log return in the step that covers them.
#[derive(Debug)]
pub struct Shocked<P> {
    pub process: P,
    pub shocks: Shocks,
}

impl<P: PriceProcess> PriceProcess for Shocked<P> {
    fn step(&mut self, now: SimTime, dt: SimDuration, vol_scale: f64, rng: &mut RngStream) -> f64 {
        let scale = vol_scale * self.shocks.vol_scale(now);
        self.process.step(now, dt, scale, rng) + self.shocks.log_jumps(now, now.plus(dt))
    }

    fn volatility(&self) -> f64 {
        self.process.volatility()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> SimTime {
        SimTime::from_nanos(secs * 1_000_000_000)
    }

    #[test]
    fn windows_and_jumps() {
        let shocks = Shocks::new(vec![
            Shock::Jump { at: s(10), size: -0.2 },
            Shock::Volatility { start: s(5), end: s(20), multiplier: 3.0 },
            Shock::Volatility { start: s(15), end: s(30), multiplier: 2.0 },
            Shock::Drought { start: s(8), end: s(12), liquidity: 0.3 },
            Shock::Drought { start: s(9), end: s(10), liquidity: 0.1 },
        ]);
        assert_eq!(shocks.log_jumps(s(9), s(10)), 0.0);
        assert!((shocks.log_jumps(s(10), s(11)) - 0.8f64.ln()).abs() < 1e-15);
        assert_eq!(shocks.vol_scale(s(4)), 1.0);
        assert_eq!(shocks.vol_scale(s(16)), 6.0);
        assert_eq!(shocks.vol_scale(s(20)), 2.0);
        assert_eq!(shocks.liquidity_factor(s(9)), 0.1);
        assert_eq!(shocks.liquidity_factor(s(11)), 0.3);
        assert_eq!(shocks.liquidity_factor(s(12)), 1.0);
        assert_eq!(shocks.first_start(), Some(s(5)));
        assert_eq!(shocks.log_jumps_through(s(10), s(11)), 0.0);
        assert!((shocks.log_jumps_through(s(9), s(10)) - 0.8f64.ln()).abs() < 1e-15);
        let at_start = Shocks::new(vec![Shock::Jump { at: s(0), size: -0.5 }]);
        assert!((at_start.log_jumps_through(s(0), s(1)) - 0.5f64.ln()).abs() < 1e-15);
    }

    #[test]
    fn shocked_process_jumps_and_scales() {
        use crate::process::{ProcessSpec, RateUnit, build};
        use liqsim_core::StreamId;
        let shocks = Shocks::checked(vec![
            Shock::Jump { at: s(30), size: -0.2 },
            Shock::Volatility { start: s(100), end: s(200), multiplier: 0.0 },
        ])
        .unwrap();
        let process = build(&ProcessSpec::Gbm { vol: 0.5, drift: 0.0 }, RateUnit::PerYear);
        let mut p = Shocked { process, shocks };
        let mut rng = StreamId::named("shocked").rng(1);
        let dt = SimDuration::from_secs(10);
        let r: Vec<f64> = (0..25).map(|i| p.step(s(10 * i), dt, 1.0, &mut rng)).collect();
        // 0.5 a year over 10 s is 0.028% per step: the -20% jump stands out in [30, 40).
        assert!((r[3] - 0.8f64.ln()).abs() < 0.005, "{}", r[3]);
        assert!(r.iter().enumerate().all(|(i, x)| i == 3 || x.abs() < 0.005));
        // A zero multiplier leaves only the drift correction, which is zero too.
        assert!(r[10..20].iter().all(|x| *x == 0.0));
        assert!(r[20] != 0.0);
    }

    #[test]
    fn bad_shocks_are_rejected_with_their_index() {
        let e = Shocks::checked(vec![
            Shock::Jump { at: s(1), size: 0.1 },
            Shock::Jump { at: s(2), size: -1.0 },
        ])
        .unwrap_err();
        assert!(e.to_string().contains("shock 1"), "{e}");
        assert!(Shock::Drought { start: s(5), end: s(5), liquidity: 0.5 }.validate().is_err());
        assert!(Shock::Drought { start: s(5), end: s(6), liquidity: 1.5 }.validate().is_err());
        assert!(Shock::Volatility { start: s(5), end: s(6), multiplier: -1.0 }.validate().is_err());
    }
}
