//! Index, mark and funding.
//!
//! - Index: the fundamental price times e^I, where I is a price impact that grows with net
//!   signed perpetual taker flow (`impact` log-price per million quote units, buys
//!   positive) and decays exponentially with time constant `decay`. It is how
//!   liquidations sold into the perpetual reach the price that triggers the next ones.
//! - Mark, by rule: the index; the index plus an EMA of the basis (impact mid - index);
//!   the median of (index x (1 + funding rate x time left in the interval), index + basis
//!   EMA, last trade), as large venues compute it; or the last trade.
//! - Funding: a premium index sampled against the index, (max(0, impact bid - index) -
//!   max(0, index - impact ask)) / index, averaged over the interval; rate = premium +
//!   clamp(interest - premium, +/- clamp), capped at +/- cap. Positive: longs pay shorts.

use liqsim_core::{SimDuration, SimTime};

#[derive(Debug, Clone)]
pub struct IndexPrice {
    impact_per_million: f64,
    decay_ns: f64,
    impact: f64,
    updated: SimTime,
}

impl IndexPrice {
    pub fn new(impact_per_million: f64, decay: SimDuration) -> IndexPrice {
        IndexPrice {
            impact_per_million,
            decay_ns: decay.nanos().max(1) as f64,
            impact: 0.0,
            updated: SimTime::START,
        }
    }

    fn decay_to(&mut self, now: SimTime) {
        if now > self.updated {
            let elapsed = now.since(self.updated).nanos() as f64;
            self.impact *= (-elapsed / self.decay_ns).exp();
            self.updated = now;
        }
    }

    /// Net taker flow in quote units: positive for buys.
    pub fn on_flow(&mut self, now: SimTime, signed_notional: f64) {
        self.decay_to(now);
        self.impact += self.impact_per_million * signed_notional / 1e6;
    }

    pub fn value(&mut self, now: SimTime, fundamental: f64) -> f64 {
        self.decay_to(now);
        fundamental * self.impact.exp()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkRule {
    Index,
    IndexEmaBasis,
    Median,
    LastTrade,
}

#[derive(Debug, Clone)]
pub struct MarkPrice {
    rule: MarkRule,
    ema_ns: f64,
    basis_ema: f64,
    updated: Option<SimTime>,
}

impl MarkPrice {
    pub fn new(rule: MarkRule, ema: SimDuration) -> MarkPrice {
        MarkPrice { rule, ema_ns: ema.nanos().max(1) as f64, basis_ema: 0.0, updated: None }
    }

    /// The mark at `now`. `impact_mid` is the mid of impact bid and ask (None when the
    /// book is too thin), `last` the last trade, `funding_rate` the current estimate and
    /// `interval_left` the share of the funding interval still to run.
    pub fn update(
        &mut self,
        now: SimTime,
        index: f64,
        impact_mid: Option<f64>,
        last: Option<f64>,
        funding_rate: f64,
        interval_left: f64,
    ) -> f64 {
        let basis = impact_mid.map_or(0.0, |m| m - index);
        match self.updated {
            None => self.basis_ema = basis,
            Some(t) => {
                let w = 1.0 - (-(now.since(t).nanos() as f64) / self.ema_ns).exp();
                self.basis_ema += w * (basis - self.basis_ema);
            }
        }
        self.updated = Some(now);
        match self.rule {
            MarkRule::Index => index,
            MarkRule::IndexEmaBasis => index + self.basis_ema,
            MarkRule::LastTrade => last.unwrap_or(index),
            MarkRule::Median => {
                let mut v = [
                    index * (1.0 + funding_rate * interval_left),
                    index + self.basis_ema,
                    last.unwrap_or(index),
                ];
                v.sort_by(f64::total_cmp);
                v[1]
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct FundingConfig {
    pub interval: SimDuration,
    pub interest: f64,
    pub clamp: f64,
    pub cap: f64,
}

/// Premium samples of the current funding interval.
#[derive(Debug, Clone, Default)]
pub struct PremiumIndex {
    sum: f64,
    samples: u64,
}

impl PremiumIndex {
    pub fn sample(&mut self, index: f64, impact_bid: Option<f64>, impact_ask: Option<f64>) {
        let up = impact_bid.map_or(0.0, |b| (b - index).max(0.0));
        let down = impact_ask.map_or(0.0, |a| (index - a).max(0.0));
        self.sum += (up - down) / index;
        self.samples += 1;
    }

    pub fn premium(&self) -> f64 {
        if self.samples == 0 { 0.0 } else { self.sum / self.samples as f64 }
    }

    pub fn rate(&self, c: &FundingConfig) -> f64 {
        let p = self.premium();
        (p + (c.interest - p).clamp(-c.clamp, c.clamp)).clamp(-c.cap, c.cap)
    }

    pub fn reset(&mut self) {
        *self = PremiumIndex::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    #[test]
    fn index_impact_decays() {
        let mut i = IndexPrice::new(0.01, SimDuration::from_secs(100));
        i.on_flow(t(0), -2e6);
        // -2 million of selling at 1% per million: e^-0.02.
        assert!((i.value(t(0), 100.0) - 100.0 * (-0.02f64).exp()).abs() < 1e-12);
        // One time constant later the impact is e^-1 of that.
        assert!((i.value(t(100), 100.0) - 100.0 * (-0.02 * (-1f64).exp()).exp()).abs() < 1e-12);
    }

    #[test]
    fn funding_rate_clamps_and_caps() {
        let c = FundingConfig {
            interval: SimDuration::from_secs(28_800),
            interest: 0.0001,
            clamp: 0.0005,
            cap: 0.0075,
        };
        let mut p = PremiumIndex::default();
        p.sample(100.0, Some(100.02), Some(100.05)); // premium +0.0002
        // 0.0002 + clamp(0.0001 - 0.0002) = 0.0002 - 0.0001 = 0.0001: the interest rate.
        assert!((p.rate(&c) - 0.0001).abs() < 1e-15);
        let mut p = PremiumIndex::default();
        p.sample(100.0, Some(101.0), Some(101.2)); // premium 0.01 -> 0.01 - 0.0005, capped at 0.0075
        assert_eq!(p.rate(&c), 0.0075);
        let mut p = PremiumIndex::default();
        p.sample(100.0, Some(99.0), Some(99.98)); // premium -0.0002
        assert!((p.rate(&c) - (-0.0002 + 0.0003)).abs() < 1e-15);
    }

    #[test]
    fn mark_rules() {
        let mut m = MarkPrice::new(MarkRule::Median, SimDuration::from_secs(300));
        // index 100, basis +1 -> ema 1 on the first sample; last 90; funding term 100.
        assert_eq!(m.update(t(0), 100.0, Some(101.0), Some(90.0), 0.0, 0.5), 100.0);
        let mut m = MarkPrice::new(MarkRule::LastTrade, SimDuration::from_secs(300));
        assert_eq!(m.update(t(0), 100.0, None, Some(90.0), 0.0, 0.5), 90.0);
        let mut m = MarkPrice::new(MarkRule::IndexEmaBasis, SimDuration::from_secs(300));
        assert_eq!(m.update(t(0), 100.0, Some(101.0), None, 0.0, 0.5), 101.0);
        // 300 s later with zero basis the EMA keeps e^-1 of it.
        let v = m.update(t(300), 100.0, Some(100.0), None, 0.0, 0.5);
        assert!((v - (100.0 + (-1f64).exp())).abs() < 1e-12);
    }
}
