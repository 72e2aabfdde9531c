//! Scheduled shocks over any price process.
//!
//! - A jump of `size` (a fraction: -0.2 is -20%) applies in the step that starts at or
//!   before its time and ends after it: steps cover [t, t + dt).
//! - A volatility window multiplies the diffusion volatility by `multiplier` while
//!   active; overlapping windows multiply.
//! - A drought window scales market makers' quoting capacity to `liquidity` (0..1); the
//!   agents read it. Overlapping droughts take the smallest.

use liqsim_core::SimTime;

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

impl Shocks {
    pub fn new(list: Vec<Shock>) -> Shocks {
        Shocks { list }
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
    }
}
