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

impl Default for FundingConfig {
    /// As the large perpetual venues: paid every 8 h, interest 0.01% per interval,
    /// premium clamp +/-0.05%, rate cap +/-0.75%.
    fn default() -> FundingConfig {
        FundingConfig {
            interval: SimDuration::from_secs(8 * 3600),
            interest: 0.0001,
            clamp: 0.0005,
            cap: 0.0075,
        }
    }
}

/// When to sample the premium and when to pay: samples every `sample_every`, pays at
/// every multiple of the interval, then starts a new average. Sampling before paying at
/// the same instant is the caller's phase order; this only keeps the clock.
#[derive(Debug, Clone)]
pub struct FundingSchedule {
    config: FundingConfig,
    sample_every: SimDuration,
    premium: PremiumIndex,
    next_sample: SimTime,
    next_payment: SimTime,
}

impl FundingSchedule {
    pub fn new(
        config: FundingConfig,
        sample_every: SimDuration,
        start: SimTime,
    ) -> FundingSchedule {
        FundingSchedule {
            config,
            sample_every,
            premium: PremiumIndex::default(),
            next_sample: start,
            next_payment: start.plus(config.interval),
        }
    }

    pub fn next_sample(&self) -> SimTime {
        self.next_sample
    }

    pub fn next_payment(&self) -> SimTime {
        self.next_payment
    }

    /// Takes the samples due by `now` (each at the given index and impact prices) and,
    /// if a payment is due, returns its rate and starts the next interval.
    pub fn advance(
        &mut self,
        now: SimTime,
        index: f64,
        impact_bid: Option<f64>,
        impact_ask: Option<f64>,
    ) -> Option<f64> {
        while self.next_sample <= now && self.next_sample < self.next_payment {
            self.premium.sample(index, impact_bid, impact_ask);
            self.next_sample = self.next_sample.plus(self.sample_every);
        }
        if now < self.next_payment {
            return None;
        }
        let rate = self.premium.rate(&self.config);
        self.premium.reset();
        self.next_sample = self.next_payment;
        self.next_payment = self.next_payment.plus(self.config.interval);
        Some(rate)
    }
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
    fn funding_schedule_samples_then_pays_every_interval() {
        let c = FundingConfig::default();
        assert_eq!((c.interval.nanos(), c.interest, c.clamp), (28_800_000_000_000, 0.0001, 0.0005));
        let mut s = FundingSchedule::new(c, SimDuration::from_secs(3600), t(0));
        // Premium +0.0002 in every sample of the first 8 h (samples at 0, 1, ..., 7 h):
        // rate 0.0002 + clamp(0.0001 - 0.0002) = 0.0001.
        for h in 0..8 {
            assert_eq!(s.advance(t(h * 3600), 100.0, Some(100.02), Some(100.05)), None);
        }
        let rate = s.advance(t(8 * 3600), 100.0, Some(100.02), Some(100.05)).unwrap();
        assert!((rate - 0.0001).abs() < 1e-15);
        assert_eq!(s.next_payment(), t(16 * 3600));
        // A quiet second interval (no premium) pays the interest rate alone.
        let rate = s.advance(t(16 * 3600), 100.0, Some(99.99), Some(100.01)).unwrap();
        assert!((rate - 0.0001).abs() < 1e-15);
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
