//! Recording what happens during a run, cheaply, and turning it into an [`Outcome`].
//!
//! The kernel calls the `on_*` methods as events happen (O(1) each, no allocation except
//! appending a liquidation row) and [`Recorder::sample`] once per metrics interval with
//! the state of the market and the exchange. Flows (volume, liquidations, ADL) accumulate
//! into the open interval and are reset by `sample`; stocks (fund, cumulative bad debt)
//! are read at the sample.
//!
//! Cascade depth is known when a liquidation is recorded: its cause is always an earlier
//! liquidation, already in the run's causal [`Forest`].
//!
//! The kernel reaches the recorder only through its event stream ([`Recorder::on_event`]).

use crate::cascade::{self, CascadeConfig, Cause, Forest, LiquidationRecord, Side};
use crate::events::SimEvent;
use crate::outcome::*;
use liqsim_core::{Error, Money, Result, SimDuration, SimTime};
use std::collections::BTreeSet;

/// The state read at the end of each metrics interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Snapshot {
    pub time: SimTime,
    pub index: f64,
    pub mark: f64,
    pub last: f64,
    pub spread: Option<f64>,
    pub depth_1pct: Money,
    pub open_interest: f64,
    pub insurance_fund: Money,
    pub margin_required: Money,
    pub margin_held: Money,
    pub accounts_below_maintenance: u64,
    /// The schedule's initial rate for a small position (see
    /// `MarginSchedule::small_position_initial`).
    pub initial_rate: f64,
}

#[derive(Debug, Clone)]
pub struct RecorderConfig {
    pub start_fund: Money,
    /// Start of the first scheduled shock; margin before it is the pre-stress level.
    pub first_shock: Option<SimTime>,
    pub cascade: CascadeConfig,
}

#[derive(Debug)]
pub struct Recorder {
    config: RecorderConfig,
    open: SeriesRow,
    /// The fund's lowest balance since the last sample, when it changed in between.
    interval_fund_low: Option<Money>,
    rows: Vec<SeriesRow>,
    log: Vec<LiquidationRow>,
    records: Vec<LiquidationRecord>,
    totals: LiquidationTotals,
    bad_debt: Money,
    adl: AdlTotals,
    socialized: Money,
    fund_min: Money,
    fund_last: Money,
    first_liquidation: Option<SimTime>,
    first_adl: Option<SimTime>,
    fund_exhausted: Option<SimTime>,
    margin_sum: i128,
    margin_peak: Money,
    pre_stress: Option<Money>,
    rate_peak: f64,
    rate_pre_stress: Option<f64>,
    forest: Forest,
    /// Accounts liquidated at least once.
    liquidated: BTreeSet<u32>,
    open_interest: OpenInterestFigures,
    /// Losses nobody paid (neither fund, ADL nor socialization).
    unpaid: Money,
    option_premium_volume: Money,
    option_settled: Money,
    /// Each series as last sampled, with its pre-stress and peak states.
    option_series: Vec<OptionSeriesFigures>,
    option_peak_value: f64,
    option_peak_time: Option<SimTime>,
    collateral: CollateralFigures,
}

impl Recorder {
    pub fn new(config: RecorderConfig) -> Recorder {
        let start = config.start_fund;
        Recorder {
            config,
            open: SeriesRow::default(),
            interval_fund_low: None,
            rows: Vec::new(),
            log: Vec::new(),
            records: Vec::new(),
            totals: LiquidationTotals::default(),
            bad_debt: Money::ZERO,
            adl: AdlTotals::default(),
            socialized: Money::ZERO,
            fund_min: start,
            fund_last: start,
            first_liquidation: None,
            first_adl: None,
            fund_exhausted: None,
            margin_sum: 0,
            margin_peak: Money::ZERO,
            pre_stress: None,
            rate_peak: 0.0,
            rate_pre_stress: None,
            forest: Forest::default(),
            liquidated: BTreeSet::new(),
            open_interest: OpenInterestFigures::default(),
            unpaid: Money::ZERO,
            option_premium_volume: Money::ZERO,
            option_settled: Money::ZERO,
            option_series: Vec::new(),
            option_peak_value: 0.0,
            option_peak_time: None,
            collateral: CollateralFigures::default(),
        }
    }

    /// One event of the kernel's stream.
    pub fn on_event(&mut self, now: SimTime, event: SimEvent) -> Result<()> {
        match event {
            SimEvent::Trade { notional, .. } => self.on_trade(notional),
            SimEvent::OptionTrade { premium, .. } => {
                self.option_premium_volume = self.option_premium_volume.checked_add(premium)?;
                self.on_trade(premium)
            }
            SimEvent::Liquidation { row, .. } => self.on_liquidation(row).map(|_| ()),
            SimEvent::ForcedClose { notional, adl: true, .. }
            | SimEvent::OptionTakeover { notional, adl: true, .. } => self.on_adl(now, notional),
            SimEvent::ForcedClose { notional, adl: false, .. } => self.on_mark_close(now, notional),
            SimEvent::OptionTakeover { adl: false, .. }
            | SimEvent::OpeningCross { .. }
            | SimEvent::TopUp { .. }
            | SimEvent::Funding { .. } => Ok(()),
            SimEvent::Expiry { settled, .. } => {
                self.option_settled = self.option_settled.checked_add(settled)?;
                Ok(())
            }
            SimEvent::Fund { balance } => {
                self.on_fund(now, balance);
                Ok(())
            }
            SimEvent::Backstop { notional } => self.on_backstop(notional),
            SimEvent::EngineTook { notional } => {
                self.adl.engine_count += 1;
                self.adl.engine_notional = self.adl.engine_notional.checked_add(notional)?;
                Ok(())
            }
            SimEvent::Socialized { amount } => self.on_socialized_loss(amount),
            SimEvent::Unpaid { amount } => {
                self.unpaid = self.unpaid.checked_add(amount)?;
                Ok(())
            }
            SimEvent::OpenDeficit { amount } => {
                self.unpaid = self.unpaid.checked_add(amount)?;
                self.on_open_deficit(amount)
            }
            SimEvent::FundInsufficient => {
                self.on_fund_insufficient(now);
                Ok(())
            }
            SimEvent::OpenInterest { units, notional } => {
                self.on_open_interest(now, units, notional);
                Ok(())
            }
            SimEvent::OptionSeries { series, kind, strike, expiry, open_interest, mark } => {
                let state = SeriesState { open_interest, mark };
                let i = usize::from(series);
                let listed = self.option_series.len();
                match self.option_series.get_mut(i) {
                    Some(s) => s.end = state,
                    // Series are listed once, at the start, in order: the table grows
                    // at the first sample and never again.
                    None if i == listed => {
                        self.option_series.push(OptionSeriesFigures {
                            kind,
                            strike,
                            expiry,
                            pre_stress: state,
                            peak: state,
                            end: state,
                        });
                    }
                    None => {
                        return Err(Error::Internal(format!(
                            "option series {series} out of order"
                        )));
                    }
                }
                Ok(())
            }
            SimEvent::Collateral { by_collateral, converted, bad_debt, .. } => {
                let c = &mut self.collateral;
                c.converted = c.converted.checked_add(converted)?;
                if by_collateral {
                    c.liquidations_by_collateral += 1;
                    c.bad_debt_by_collateral = c.bad_debt_by_collateral.checked_add(bad_debt)?;
                }
                Ok(())
            }
            SimEvent::CollateralPrice { asset, price } => {
                let prices = &mut self.collateral.venue_prices;
                let k = usize::from(asset);
                if prices.len() <= k {
                    prices.resize_with(k + 1, Vec::new);
                }
                prices[k].push((now, price));
                Ok(())
            }
        }
    }

    /// The peak so far, the trough after it, the last value before the first shock and
    /// the latest.
    fn on_open_interest(&mut self, now: SimTime, units: f64, notional: Money) {
        let point = OpenInterest { units, notional };
        let oi = &mut self.open_interest;
        if units > oi.peak.units {
            oi.peak = point;
            oi.peak_time = now;
            oi.trough = point;
        } else if units < oi.trough.units {
            oi.trough = point;
        }
        if self.config.first_shock.is_some_and(|shock| now <= shock) {
            oi.pre_stress = Some(point);
        }
        oi.end = point;
    }

    /// Losses nobody has paid so far.
    pub fn unpaid(&self) -> Money {
        self.unpaid
    }

    /// (premium traded, intrinsic value settled at expiry) of the options.
    pub fn option_flows(&self) -> (Money, Money) {
        (self.option_premium_volume, self.option_settled)
    }

    /// Records a liquidation and returns its index (the id later liquidations name as
    /// their cause). Its `depth` is computed here from `caused_by`; the value passed in
    /// is ignored. A liquidation that continues the same account's earlier one (its own
    /// fills moved the mark) takes that one's cause: an account is not its own cascade.
    pub fn on_liquidation(&mut self, l: LiquidationRow) -> Result<u32> {
        let index =
            u32::try_from(self.log.len()).map_err(|_| Error::overflow("liquidation count"))?;
        let mut l = l;
        while let Some(parent) = l.caused_by.and_then(|p| self.log.get(p as usize)) {
            if parent.account != l.account {
                break;
            }
            l.caused_by = parent.caused_by;
        }
        let cause = l.caused_by.map_or(Cause::Exogenous, Cause::Liquidation);
        if let Cause::Liquidation(parent) = cause
            && parent as usize >= self.log.len()
        {
            return Err(Error::Internal(format!(
                "liquidation {index} names unknown cause {parent}"
            )));
        }
        let (depth, _) = self.forest.add(cause)?;
        self.first_liquidation.get_or_insert(l.time);
        self.totals.count += 1;
        if self.liquidated.insert(l.account) {
            self.totals.accounts += 1;
        }
        self.totals.shortfall = self.totals.shortfall.checked_add(l.shortfall)?;
        if l.fill_price.is_finite() {
            let closed = l.book + l.backstop + l.engine + l.mark_close + l.adl;
            self.totals.shortfall_base =
                self.totals.shortfall_base.checked_add(Money::round_from_f64(closed * l.mark)?)?;
        }
        self.totals.notional = self.totals.notional.checked_add(l.notional)?;
        match l.side {
            Side::Long => {
                self.totals.long_count += 1;
                self.totals.long_notional = self.totals.long_notional.checked_add(l.notional)?;
                self.open.liquidations_long += 1;
                self.open.liquidated_notional_long =
                    self.open.liquidated_notional_long.checked_add(l.notional)?;
            }
            Side::Short => {
                self.totals.short_count += 1;
                self.totals.short_notional = self.totals.short_notional.checked_add(l.notional)?;
                self.open.liquidations_short += 1;
                self.open.liquidated_notional_short =
                    self.open.liquidated_notional_short.checked_add(l.notional)?;
            }
        }
        let bucket = (depth as usize).min(3);
        self.open.liquidated_by_depth[bucket] =
            self.open.liquidated_by_depth[bucket].checked_add(l.notional)?;
        self.bad_debt = self.bad_debt.checked_add(l.bad_debt)?;
        self.records.push(LiquidationRecord {
            time: l.time,
            notional: l.notional,
            side: l.side,
            cause,
        });
        self.log.push(LiquidationRow { depth, ..l });
        Ok(index)
    }

    pub fn on_trade(&mut self, notional: Money) -> Result<()> {
        self.open.volume = self.open.volume.checked_add(notional)?;
        Ok(())
    }

    /// The fund could not pay a loss (auto-deleveraging takes over): it is exhausted for
    /// the purpose of the waterfall even if a few micro-units remain.
    pub fn on_fund_insufficient(&mut self, time: SimTime) {
        self.fund_exhausted.get_or_insert(time);
    }

    /// A close against an opposing position at the mark (the fund pays the loss).
    pub fn on_backstop(&mut self, notional: Money) -> Result<()> {
        self.adl.backstop_count += 1;
        self.adl.backstop_notional = self.adl.backstop_notional.checked_add(notional)?;
        Ok(())
    }

    /// A close at the mark is a forced reduction too: counted with ADL, and apart.
    pub fn on_mark_close(&mut self, time: SimTime, notional: Money) -> Result<()> {
        self.adl.mark_count += 1;
        self.adl.mark_notional = self.adl.mark_notional.checked_add(notional)?;
        self.on_adl(time, notional)
    }

    pub fn on_adl(&mut self, time: SimTime, notional: Money) -> Result<()> {
        self.first_adl.get_or_insert(time);
        self.adl.count += 1;
        self.adl.notional = self.adl.notional.checked_add(notional)?;
        Ok(())
    }

    /// Negative equity of a position still open at the end of the run: bad debt that no
    /// liquidation has realized yet.
    pub fn on_open_deficit(&mut self, amount: Money) -> Result<()> {
        self.bad_debt = self.bad_debt.checked_add(amount)?;
        Ok(())
    }

    pub fn on_socialized_loss(&mut self, amount: Money) -> Result<()> {
        self.socialized = self.socialized.checked_add(amount)?;
        Ok(())
    }

    /// The insurance fund's balance after a change. Exhausted means it reached zero (or
    /// below) while a loss was still to be covered: the kernel calls this after paying.
    pub fn on_fund(&mut self, time: SimTime, balance: Money) {
        self.fund_last = balance;
        self.fund_min = self.fund_min.min(balance);
        self.interval_fund_low = Some(self.interval_fund_low.map_or(balance, |l| l.min(balance)));
        if !balance.is_positive() && self.config.start_fund.is_positive() {
            self.fund_exhausted.get_or_insert(time);
        }
    }

    /// Closes the current interval with the state at its end.
    pub fn sample(&mut self, s: Snapshot) -> Result<()> {
        let mut row = std::mem::take(&mut self.open);
        row.time = s.time;
        row.index = s.index;
        row.mark = s.mark;
        row.last = s.last;
        row.spread = s.spread;
        row.depth_1pct = s.depth_1pct;
        row.open_interest = s.open_interest;
        row.insurance_fund = s.insurance_fund;
        row.insurance_fund_low =
            self.interval_fund_low.take().map_or(s.insurance_fund, |l| l.min(s.insurance_fund));
        // Fees flow into the fund between the kernel's on_fund calls: the end balance
        // and the minimum must see them too.
        self.fund_last = s.insurance_fund;
        self.fund_min = self.fund_min.min(s.insurance_fund);
        row.bad_debt = self.bad_debt;
        row.adl_notional = self.adl.notional;
        row.socialized_loss = self.socialized;
        row.margin_required = s.margin_required;
        row.margin_held = s.margin_held;
        row.accounts_below_maintenance = s.accounts_below_maintenance;
        row.unpaid_loss = self.unpaid;
        self.margin_sum += i128::from(s.margin_required.micros());
        self.margin_peak = self.margin_peak.max(s.margin_required);
        self.rate_peak = self.rate_peak.max(s.initial_rate);
        // Pre-stress margin: the last sample at or before the first shock, or the first
        // sample when there is no shock or the run opens in stress.
        let before_shock = self.config.first_shock.is_some_and(|shock| s.time <= shock);
        if before_shock || self.rows.is_empty() {
            self.pre_stress = Some(s.margin_required);
            self.rate_pre_stress = Some(s.initial_rate);
            for series in &mut self.option_series {
                series.pre_stress = series.end;
            }
        }
        let chain_value: f64 = self.option_series.iter().map(|o| o.end.value()).sum();
        if !self.option_series.is_empty()
            && (self.option_peak_time.is_none() || chain_value > self.option_peak_value)
        {
            self.option_peak_value = chain_value;
            self.option_peak_time = Some(s.time);
            for series in &mut self.option_series {
                series.peak = series.end;
            }
        }
        self.rows.push(row);
        Ok(())
    }

    pub fn liquidation_count(&self) -> usize {
        self.log.len()
    }

    /// Assembles the outcome; the kernel supplies what only it knows.
    pub fn finish(self, run: RunFacts) -> Result<Outcome> {
        let report = cascade::analyze(&self.records, self.config.cascade)?;
        let mut size_counts: Vec<(u64, u64)> = Vec::new();
        for v in report.cascade_sizes.iter_recorded() {
            size_counts.push((v.value_iterated_to(), v.count_at_value()));
        }
        let mean_initial = if self.rows.is_empty() {
            Money::ZERO
        } else {
            let mean = self.margin_sum / self.rows.len() as i128;
            Money::from_micros(i64::try_from(mean).map_err(|_| Error::overflow("mean margin"))?)
        };
        let solvent = !self.fund_min.is_negative()
            && self.socialized.micros() == 0
            && self.unpaid.micros() == 0;
        Ok(Outcome {
            scenario: run.scenario,
            quote_currency: run.quote_currency,
            seed: run.seed,
            start_utc_ns: run.start_utc_ns,
            policy: run.policy,
            digest: run.digest,
            events: run.events,
            accounts_checked: run.accounts_checked,
            duration: run.duration,
            liquidations: self.totals,
            bad_debt: self.bad_debt,
            insurance_fund: FundFigures {
                start: self.config.start_fund,
                end: self.fund_last,
                min: self.fund_min,
            },
            adl: self.adl,
            socialized_loss: self.socialized,
            cascade: CascadeSummary {
                max_depth: report.max_depth,
                amplification: report.amplification,
                waves: report.waves,
                largest: report.largest_cascade,
                size_counts,
            },
            solvent,
            conservation_error: run.conservation_error,
            open_interest: self.open_interest,
            margin: MarginFigures {
                mean_initial,
                peak_initial: self.margin_peak,
                pre_stress_initial: self.pre_stress.unwrap_or(Money::ZERO),
                pre_stress_rate: self.rate_pre_stress.unwrap_or(0.0),
                peak_rate: self.rate_peak,
            },
            first_liquidation: self.first_liquidation,
            first_adl: self.first_adl,
            fund_exhausted: self.fund_exhausted,
            series: self.rows,
            liquidation_log: self.log,
            shocks: run.shocks,
            leverage_bands: run.leverage_bands,
            options: run.options,
            option_series: self.option_series,
            option_peak_time: self.option_peak_time,
            replay_volume: run.replay_volume,
            collateral: (!run.collateral_assets.is_empty()).then(|| CollateralFigures {
                assets: run.collateral_assets,
                liquidations_by_position: self
                    .totals
                    .count
                    .saturating_sub(self.collateral.liquidations_by_collateral),
                // Every conversion passed through the desk, including those of a
                // liquidation that then closed nothing (no event) and of a flat holder's
                // debt: the desk's balance is the exact total.
                converted: run.collateral_converted,
                ..self.collateral
            }),
        })
    }
}

/// What the kernel knows at the end of a run.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub scenario: String,
    pub quote_currency: String,
    pub seed: u64,
    pub start_utc_ns: Option<u64>,
    pub policy: String,
    pub digest: String,
    pub events: u64,
    pub accounts_checked: u64,
    pub duration: SimDuration,
    pub conservation_error: Money,
    pub shocks: Vec<ShockWindow>,
    pub leverage_bands: Vec<crate::outcome::LeverageBand>,
    pub options: crate::outcome::OptionFigures,
    pub replay_volume: Vec<VolumeBar>,
    /// The collateral assets' names (empty without collateral).
    pub collateral_assets: Vec<String>,
    /// Quote the collateral desk paid over the run (minus its balance).
    pub collateral_converted: Money,
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_models::OptionKind;

    fn t(s: u64) -> SimTime {
        SimTime::from_nanos(s * 1_000_000_000)
    }

    fn m(units: i64) -> Money {
        Money::from_units(units).unwrap()
    }

    fn liq(
        time: u64,
        side: Side,
        notional: i64,
        caused_by: Option<u32>,
        bad_debt: i64,
    ) -> LiquidationRow {
        LiquidationRow {
            time: t(time),
            account: time as u32,
            side,
            quantity: 0.1,
            notional: m(notional),
            mark: 100.0,
            bankruptcy_price: 90.0,
            caused_by,
            depth: 99,
            bad_debt: m(bad_debt),
            // 0.1 sold in the book at 99 against a mark of 100: a shortfall of 0.1.
            book: 0.1,
            backstop: 0.0,
            engine: 0.0,
            mark_close: 0.0,
            adl: 0.0,
            socialized: Money::ZERO,
            fill_price: 99.0,
            shortfall: Money::from_micros(100_000),
            group: Some(0),
            leverage: 20.0,
            short_options: false,
            by_collateral: false,
        }
    }

    fn snapshot(time: u64, fund: i64, margin: i64) -> Snapshot {
        Snapshot {
            time: t(time),
            insurance_fund: m(fund),
            margin_required: m(margin),
            ..Default::default()
        }
    }

    fn facts() -> RunFacts {
        RunFacts {
            scenario: "s".into(),
            quote_currency: "USD".into(),
            seed: 1,
            start_utc_ns: None,
            policy: "es".into(),
            digest: "d".into(),
            events: 10,
            accounts_checked: 4,
            duration: SimDuration::from_secs(180),
            conservation_error: Money::ZERO,
            shocks: vec![],
            leverage_bands: vec![],
            options: Default::default(),
            replay_volume: Vec::new(),
            collateral_assets: vec![],
            collateral_converted: Money::ZERO,
        }
    }

    #[test]
    fn flows_land_in_their_interval_and_stocks_are_sampled() {
        let mut r = Recorder::new(RecorderConfig {
            start_fund: m(1000),
            first_shock: Some(t(60)),
            cascade: CascadeConfig::default(),
        });
        r.on_trade(m(500)).unwrap();
        r.sample(snapshot(60, 1000, 100)).unwrap();
        let a = r.on_liquidation(liq(70, Side::Long, 300, None, 0)).unwrap();
        let b = r.on_liquidation(liq(71, Side::Long, 200, Some(a), 50)).unwrap();
        r.on_liquidation(liq(72, Side::Short, 100, Some(b), 0)).unwrap();
        r.on_liquidation(liq(73, Side::Long, 100, Some(2), 10)).unwrap();
        r.on_fund(t(71), m(-5));
        r.on_adl(t(75), m(40)).unwrap();
        r.sample(snapshot(120, -5, 400)).unwrap();
        r.sample(snapshot(180, 20, 200)).unwrap();
        let o = r.finish(facts()).unwrap();
        assert_eq!(o.series.len(), 3);
        assert_eq!(o.series[0].volume, m(500));
        assert_eq!(o.series[1].volume, Money::ZERO);
        assert_eq!((o.series[1].liquidations_long, o.series[1].liquidations_short), (3, 1));
        // Depths 0, 1, 2, 3: 300 exogenous, 200 at depth 1, 100 at 2, 100 at 3+.
        assert_eq!(o.series[1].liquidated_by_depth, [m(300), m(200), m(100), m(100)]);
        assert_eq!(o.series[2].liquidated_by_depth, [Money::ZERO; 4]);
        assert_eq!(o.series[1].bad_debt, m(60));
        assert_eq!(o.series[1].adl_notional, m(40));
        assert_eq!(o.liquidations.count, 4);
        assert_eq!(o.liquidations.accounts, 4);
        assert_eq!(o.liquidations.notional, m(700));
        // Four closes of 0.1 at a mark of 100, each 0.1 short of it.
        assert_eq!(o.liquidations.shortfall, Money::from_micros(400_000));
        assert_eq!(o.liquidations.shortfall_base, m(40));
        assert_eq!((o.liquidations.long_notional, o.liquidations.short_notional), (m(600), m(100)));
        assert_eq!(o.bad_debt, m(60));
        assert_eq!(o.cascade.max_depth, 3);
        assert_eq!(o.cascade.amplification, Some(700.0 / 300.0));
        assert_eq!(o.cascade.size_counts, vec![(4, 1)]);
        // The fund paid out to -5 at 71 s and earned back to 20 by the last sample.
        assert_eq!(o.insurance_fund, FundFigures { start: m(1000), end: m(20), min: m(-5) });
        assert_eq!(o.fund_exhausted, Some(t(71)));
        assert_eq!(o.first_liquidation, Some(t(70)));
        assert_eq!(o.first_adl, Some(t(75)));
        assert!(!o.solvent);
        // Margin: samples 100, 400, 200 -> mean 233.333333, peak 400, pre-stress 100 (t=60).
        assert_eq!(o.margin.mean_initial, Money::from_micros(233_333_333));
        assert_eq!(o.margin.peak_initial, m(400));
        assert_eq!(o.margin.pre_stress_initial, m(100));
        assert_eq!(o.liquidation_log.iter().map(|l| l.depth).collect::<Vec<_>>(), [0, 1, 2, 3]);
    }

    #[test]
    fn a_dip_inside_an_interval_is_kept_though_the_sample_missed_it() {
        let mut r = Recorder::new(RecorderConfig {
            start_fund: m(1000),
            first_shock: None,
            cascade: CascadeConfig::default(),
        });
        r.sample(snapshot(60, 1000, 100)).unwrap();
        // Paid down to 3 at 70 s, refilled to 900 by fees before the 120 s sample.
        r.on_fund(t(70), m(3));
        r.on_fund(t(90), m(500));
        r.sample(snapshot(120, 900, 100)).unwrap();
        r.sample(snapshot(180, 950, 100)).unwrap();
        let o = r.finish(facts()).unwrap();
        let low: Vec<Money> = o.series.iter().map(|row| row.insurance_fund_low).collect();
        let end: Vec<Money> = o.series.iter().map(|row| row.insurance_fund).collect();
        assert_eq!(end, [m(1000), m(900), m(950)]);
        assert_eq!(low, [m(1000), m(3), m(950)]);
        assert_eq!(o.insurance_fund.min, m(3));
    }

    #[test]
    fn an_account_continuing_its_own_liquidation_is_not_a_cascade() {
        let mut r = Recorder::new(RecorderConfig {
            start_fund: m(1),
            first_shock: None,
            cascade: CascadeConfig::default(),
        });
        let a = r.on_liquidation(liq(5, Side::Long, 100, None, 0)).unwrap();
        let b = r.on_liquidation(liq(6, Side::Long, 100, Some(a), 0)).unwrap();
        // Account 6 again, after its own fills: it keeps account 5's liquidation as cause.
        let again = LiquidationRow { time: t(6), ..liq(6, Side::Long, 50, Some(b), 0) };
        r.on_liquidation(again).unwrap();
        let first_again =
            LiquidationRow { time: t(7), account: 5, ..liq(7, Side::Long, 10, Some(a), 0) };
        r.on_liquidation(first_again).unwrap();
        let o = r.finish(facts()).unwrap();
        let causes: Vec<_> = o.liquidation_log.iter().map(|l| (l.caused_by, l.depth)).collect();
        // Accounts 5 and 6 were liquidated twice each: four steps, two accounts.
        assert_eq!((o.liquidations.count, o.liquidations.accounts), (4, 2));
        assert_eq!(causes, [(None, 0), (Some(0), 1), (Some(0), 1), (None, 0)]);
    }

    #[test]
    fn an_unknown_cause_is_an_internal_error() {
        let mut r = Recorder::new(RecorderConfig {
            start_fund: m(1),
            first_shock: None,
            cascade: CascadeConfig::default(),
        });
        assert!(matches!(
            r.on_liquidation(liq(1, Side::Long, 1, Some(0), 0)),
            Err(Error::Internal(_))
        ));
    }

    #[test]
    fn open_interest_keeps_the_book_before_the_shock_the_peak_and_the_trough_after_it() {
        let mut r = Recorder::new(RecorderConfig {
            start_fund: m(1),
            first_shock: Some(t(30)),
            cascade: CascadeConfig::default(),
        });
        for (s, units) in [(10, 5.0), (20, 8.0), (30, 9.0), (40, 12.0), (50, 3.0), (60, 4.0)] {
            let notional = Money::round_from_f64(units * 100.0).unwrap();
            r.on_event(t(s), SimEvent::OpenInterest { units, notional }).unwrap();
        }
        let oi = r.finish(facts()).unwrap().open_interest;
        assert_eq!(oi.pre_stress.map(|p| p.units), Some(9.0));
        assert_eq!((oi.peak.units, oi.peak_time), (12.0, t(40)));
        assert_eq!((oi.trough.units, oi.trough.notional), (3.0, m(300)));
        assert_eq!((oi.end.units, oi.end.notional), (4.0, m(400)));
    }

    #[test]
    fn option_series_keep_the_chain_before_the_shock_at_its_peak_value_and_at_the_end() {
        let mut r = Recorder::new(RecorderConfig {
            start_fund: m(1000),
            first_shock: Some(t(60)),
            cascade: CascadeConfig::default(),
        });
        // (time, put open interest and mark, call open interest and mark): the put's value
        // peaks at 120 s (10 x 30 = 300 against 250 at 180 s) though its mark peaks later.
        let samples = [
            (60, (10.0, 5.0), (4.0, 2.0)),
            (120, (10.0, 30.0), (4.0, 0.5)),
            (180, (5.0, 50.0), (0.0, 0.1)),
        ];
        for (time, put, call) in samples {
            for (series, kind, strike, (open_interest, mark)) in
                [(0, OptionKind::Put, 90.0, put), (1, OptionKind::Call, 110.0, call)]
            {
                let event = SimEvent::OptionSeries {
                    series,
                    kind,
                    strike,
                    expiry: t(3_600),
                    open_interest,
                    mark,
                };
                r.on_event(t(time), event).unwrap();
            }
            r.sample(snapshot(time, 1000, 100)).unwrap();
        }
        let o = r.finish(facts()).unwrap();
        let state = |open_interest, mark| SeriesState { open_interest, mark };
        assert_eq!(o.option_series.len(), 2);
        let (put, call) = (o.option_series[0], o.option_series[1]);
        assert_eq!(
            (put.kind, put.strike, call.kind, call.strike),
            (OptionKind::Put, 90.0, OptionKind::Call, 110.0)
        );
        assert_eq!(o.option_peak_time, Some(t(120)));
        assert_eq!(
            (put.pre_stress, put.peak, put.end),
            (state(10.0, 5.0), state(10.0, 30.0), state(5.0, 50.0))
        );
        assert_eq!(
            (call.pre_stress, call.peak, call.end),
            (state(4.0, 2.0), state(4.0, 0.5), state(0.0, 0.1))
        );
        // A series that skips the listing order is the kernel's bug, not a missing row.
        let event = SimEvent::OptionSeries {
            series: 3,
            kind: OptionKind::Put,
            strike: 1.0,
            expiry: t(1),
            open_interest: 0.0,
            mark: 0.0,
        };
        assert!(
            Recorder::new(RecorderConfig {
                start_fund: m(1),
                first_shock: None,
                cascade: CascadeConfig::default(),
            })
            .on_event(t(1), event)
            .is_err()
        );
    }
}
