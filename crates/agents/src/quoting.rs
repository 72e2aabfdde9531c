//! Market makers as agents: what a maker quotes is a pure function of its configuration,
//! its quoting state and a [`MakerView`] of the market and its account, returning a
//! ladder of post-only orders (or "keep what rests", or "cancel"). The kernel only
//! submits the ladder and keeps the state between price steps.
//!
//! Perpetual makers quote `levels` levels of `level_size` units a side around the index
//! (the fair price) at a half-spread of `spread` per level, widened with realized
//! volatility (x realized / 50%, at least 1), so that depth near the mid thins as
//! volatility rises, skewed by inventory against a limit (`capital`, or five
//! times equity); a side stops at half the limit's notional, and at the inventory limit
//! only the reducing side is quoted. In stress they thin rather than vanish: once
//! realized volatility exceeds `pull_vol` a whole group keeps only `presence` of its size
//! for `calm`, and so does a maker whose equity has fallen `stop_loss` below its deposit;
//! only a maker with no equity left, or liquidated, quotes nothing. A standing ladder is
//! kept while the fair price has moved less than a quarter of the half-spread, at least
//! half of what it posted still rests, and nothing else changed: requoting every step
//! would cancel and re-add the same orders, and never requoting leaves a book that sweeps
//! on both sides emptied.
//!
//! Option makers quote every live series around its model price at a half-spread of
//! `spread` x the forward (at least a tick), up to three levels, skewed by their
//! inventory in the series against the limit shared over the series, and pull with the
//! group. Each brings its net delta back inside +/- `level_size` units with a market
//! order on the perpetual ([`hedge`]): a dealer short puts sells as the price falls.

use crate::config::MakerConfig;
use liqsim_core::{Result, SimTime};

/// What a standing ladder was quoted at: (fair price, position, liquidity factor,
/// widening). A new ladder is quoted only when one of them has moved, or when most of
/// it has been taken.
pub type QuotedAt = (f64, i64, f64, f64);

/// One post-only order of a ladder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub buy: bool,
    /// Limit price in ticks (bids rounded down, asks up).
    pub ticks: i64,
    pub lots: i64,
}

/// A group's pull and widening at a price step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupQuoting {
    pub pulled: bool,
    pub widen: f64,
}

/// Quoting state of a maker group: the group pulls until this time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupState {
    pub pulled_until: SimTime,
}

/// A group pulls for `calm` when realized volatility (per year, `vol`) exceeds
/// `pull_vol`; its quotes widen by realized / 50%.
pub fn group_quoting(
    config: &MakerConfig,
    state: &mut GroupState,
    vol: f64,
    now: SimTime,
) -> GroupQuoting {
    if vol > config.pull_vol {
        state.pulled_until = now.plus(config.calm);
    }
    GroupQuoting { pulled: now < state.pulled_until, widen: (vol / 0.5).max(1.0) }
}

/// A perpetual maker's own quoting state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MakerState {
    pub quoted: Option<QuotedAt>,
    /// Lots the standing ladder posted, both sides.
    pub posted: i64,
    /// After a loss stop, full size resumes at this time.
    pub loss_pull_until: SimTime,
}

impl Default for MakerState {
    fn default() -> Self {
        MakerState { quoted: None, posted: 0, loss_pull_until: SimTime::START }
    }
}

/// What a perpetual maker sees at a price step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MakerView {
    pub now: SimTime,
    pub group: GroupQuoting,
    /// The index: the price quotes are centred on.
    pub fair: f64,
    pub mark: f64,
    /// Perpetual position in lots, and in base units.
    pub position: i64,
    pub position_units: f64,
    /// Lots of the maker's orders still resting in the book, both sides.
    pub resting: i64,
    pub deposit: f64,
    /// The maker has been liquidated.
    pub out: bool,
    /// Share of quoting capacity a liquidity drought leaves (1 outside droughts).
    pub liquidity: f64,
    pub lot: f64,
    pub tick: f64,
}

/// What a maker does with its quotes at a price step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requote {
    /// The standing ladder stays.
    Keep,
    /// Cancel what rests; the new ladder (possibly empty) follows.
    Replace,
}

/// A perpetual maker's decision at a price step; on `Replace`, `ladder` holds the new
/// orders in submission order (bids from the best down, then asks from the best up).
/// `equity` gives the maker's equity at the mark; it is asked for only when the decision
/// needs it (a loss limit, or a new ladder), and at most once.
pub fn perpetual_quotes(
    config: &MakerConfig,
    state: &mut MakerState,
    view: &MakerView,
    equity: impl FnOnce() -> Result<f64>,
    ladder: &mut Vec<Quote>,
) -> Result<Requote> {
    ladder.clear();
    let half_spread = config.spread;
    let mut equity = Lazy::new(equity);
    if let Some(limit) = config.stop_loss
        && equity.get()? < view.deposit * (1.0 - limit)
        && view.now >= state.loss_pull_until
    {
        state.loss_pull_until = view.now.plus(config.calm);
    }
    let thinned = view.group.pulled || view.now < state.loss_pull_until;
    let size = if thinned { config.presence } else { 1.0 };
    let widen = view.group.widen;
    let key = (view.fair, view.position, view.liquidity * size, widen);
    let stale = match state.quoted {
        None => true,
        Some((fair, position, liquidity, widened)) => {
            (key.0 / fair - 1.0).abs() > half_spread * widened / 4.0
                || position != view.position
                || liquidity != key.2
                || (widened / widen - 1.0).abs() > 0.25
                || view.resting * 2 < state.posted
        }
    };
    if !stale {
        return Ok(Requote::Keep);
    }
    state.quoted = None;
    state.posted = 0;
    if size == 0.0 || view.position == 0 && view.out {
        return Ok(Requote::Replace);
    }
    state.quoted = Some(key);
    let equity = equity.get()?;
    if equity <= 0.0 {
        return Ok(Requote::Replace);
    }
    let limit = if config.capital.is_positive() { config.capital.to_f64() } else { equity * 5.0 };
    let inventory = view.mark * view.position_units;
    let skew = (inventory / limit).clamp(-1.0, 1.0);
    let h = half_spread * widen;
    let units = config.level_size * view.liquidity * size;
    // A maker that stays keeps at least a lot a level.
    let lots = if units > 0.0 { ((units / view.lot).floor() as i64).max(1) } else { 0 };
    if lots == 0 {
        return Ok(Requote::Replace);
    }
    let per_side_cap = limit / 2.0;
    for (buy, sign) in [(true, -1.0), (false, 1.0)] {
        // At the inventory limit a maker quotes only the side that reduces it.
        if skew * -sign >= 1.0 {
            continue;
        }
        let mut quoted = 0.0;
        // Long inventory lowers both quotes (sell more, buy less); short raises them.
        for k in 1..=config.levels {
            let px = view.fair * (1.0 + sign * h * f64::from(k) - skew * h);
            quoted += px * lots as f64 * view.lot;
            if quoted > per_side_cap {
                break;
            }
            let ticks = if buy { (px / view.tick).floor() } else { (px / view.tick).ceil() } as i64;
            if ticks <= 0 {
                break;
            }
            ladder.push(Quote { buy, ticks, lots });
            state.posted += lots;
        }
    }
    Ok(Requote::Replace)
}

/// A value computed on first use.
struct Lazy<F> {
    compute: Option<F>,
    value: f64,
}

impl<F: FnOnce() -> Result<f64>> Lazy<F> {
    fn new(compute: F) -> Lazy<F> {
        Lazy { compute: Some(compute), value: 0.0 }
    }

    fn get(&mut self) -> Result<f64> {
        if let Some(compute) = self.compute.take() {
            self.value = compute()?;
        }
        Ok(self.value)
    }
}

/// What an option maker sees of one series at a price step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesView {
    pub group: GroupQuoting,
    /// Model price of the series and the underlying's forward.
    pub fair: f64,
    pub forward: f64,
    /// Position in the series, lots and base units.
    pub position: i64,
    pub position_units: f64,
    /// The series trades and expires later than now.
    pub live: bool,
    pub expired: bool,
    pub out: bool,
    pub equity: f64,
    /// The maker's inventory limit over all series, split evenly.
    pub series_count: usize,
    pub liquidity: f64,
    pub lot: f64,
    pub tick: f64,
}

/// What an option maker does in one series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRequote {
    /// Cancel what rests in the series.
    pub cancel: bool,
    /// Quote `ladder` (after cancelling).
    pub quote: bool,
}

/// An option maker's decision in one series; `quoted` is its state for the series.
pub fn series_quotes(
    config: &MakerConfig,
    quoted: &mut Option<QuotedAt>,
    view: &SeriesView,
    ladder: &mut Vec<Quote>,
) -> SeriesRequote {
    ladder.clear();
    let widen = view.group.widen;
    let limit =
        if config.capital.is_positive() { config.capital.to_f64() } else { view.equity * 5.0 };
    let per_series = limit / view.series_count.max(1) as f64;
    let half = (config.spread * view.forward * widen).max(view.tick);
    let lots = ((config.level_size * view.liquidity / view.lot).floor() as i64).max(0);
    let key = (view.fair, view.position, view.liquidity, widen);
    let stale = match *quoted {
        None => true,
        Some((fair, position, liquidity, widened)) => {
            (fair - view.fair).abs() > half / 4.0
                || position != view.position
                || liquidity != view.liquidity
                || (widened / widen - 1.0).abs() > 0.25
        }
    };
    let quoting = view.live && !view.group.pulled && !view.out && view.equity > 0.0 && lots > 0;
    if quoting && !stale {
        return SeriesRequote { cancel: false, quote: false };
    }
    let cancel = quoted.take().is_some();
    if !quoting || view.expired {
        return SeriesRequote { cancel, quote: false };
    }
    *quoted = Some(key);
    let inventory = view.position_units * view.forward;
    let skew = (inventory / per_series.max(1.0)).clamp(-1.0, 1.0);
    for (buy, sign) in [(true, -1.0), (false, 1.0)] {
        // At the inventory limit, quote only the side that reduces it.
        if skew * -sign >= 1.0 {
            continue;
        }
        for k in 1..=config.levels.min(3) {
            let px = view.fair + sign * half * f64::from(k) - skew * half;
            let ticks = if buy { (px / view.tick).floor() } else { (px / view.tick).ceil() } as i64;
            if ticks <= 0 {
                break;
            }
            ladder.push(Quote { buy, ticks, lots });
        }
    }
    SeriesRequote { cancel, quote: true }
}

/// An option maker's delta hedge: (sell, lots) on the perpetual to bring its net delta
/// (base units) back inside +/- `level_size`, or nothing.
pub fn hedge(config: &MakerConfig, net_delta: f64, lot: f64) -> Option<(bool, i64)> {
    if net_delta.abs() <= config.level_size {
        return None;
    }
    Some((net_delta > 0.0, (net_delta.abs() / lot).round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use liqsim_core::SimDuration;

    fn maker() -> MakerConfig {
        MakerConfig {
            spread: 1.0 / 64.0,
            levels: 3,
            stop_loss: Some(0.2),
            ..MakerConfig::default()
        }
    }

    /// Prices, spreads, ticks and lots are binary fractions, so every level is exact.
    fn view() -> MakerView {
        MakerView {
            now: SimTime::START.plus(SimDuration::from_secs(10)),
            group: GroupQuoting { pulled: false, widen: 1.0 },
            fair: 128.0,
            mark: 128.0,
            position: 0,
            position_units: 0.0,
            resting: 24,
            deposit: 1e6,
            out: false,
            liquidity: 1.0,
            lot: 0.25,
            tick: 0.25,
        }
    }

    #[test]
    fn a_flat_maker_quotes_a_symmetric_ladder_and_keeps_it_while_nothing_moves() {
        let (config, mut state, mut ladder) = (maker(), MakerState::default(), Vec::new());
        assert_eq!(
            perpetual_quotes(&config, &mut state, &view(), || Ok(1e6), &mut ladder).unwrap(),
            Requote::Replace
        );
        // 4 lots a level (1 unit at a 0.25 lot) at 128 x (1 -/+ k / 64): 126, 124, 122
        // and 130, 132, 134, in quarter ticks.
        let prices: Vec<(bool, i64)> = ladder.iter().map(|q| (q.buy, q.ticks)).collect();
        assert_eq!(
            prices,
            [(true, 504), (true, 496), (true, 488), (false, 520), (false, 528), (false, 536)]
        );
        assert!(ladder.iter().all(|q| q.lots == 4));
        // The fair price moves by a quarter of the half-spread (0.5 of 128): keep; more:
        // requote.
        let moved = MakerView { fair: 128.5, ..view() };
        assert_eq!(
            perpetual_quotes(&config, &mut state, &moved, || Ok(1e6), &mut ladder).unwrap(),
            Requote::Keep
        );
        let moved = MakerView { fair: 128.75, ..view() };
        assert_eq!(
            perpetual_quotes(&config, &mut state, &moved, || Ok(1e6), &mut ladder).unwrap(),
            Requote::Replace
        );
    }

    #[test]
    fn long_inventory_lowers_both_sides_and_a_loss_pulls_the_maker() {
        let (config, mut ladder) = (maker(), Vec::new());
        // 19,531.25 units long at 128 against a limit of 5 x equity: skew 0.5, both sides
        // half a level lower: 125 and 129.
        let long = MakerView { position: 78_125, position_units: 19_531.25, ..view() };
        perpetual_quotes(&config, &mut MakerState::default(), &long, || Ok(1e6), &mut ladder)
            .unwrap();
        assert_eq!(ladder[0], Quote { buy: true, ticks: 500, lots: 4 });
        assert!(ladder.contains(&Quote { buy: false, ticks: 516, lots: 4 }));
        // Equity 21% below the deposit: thinned to a tenth for `calm` (0.4 units, at
        // least a lot a level), at the same prices.
        let mut state = MakerState::default();
        perpetual_quotes(&config, &mut state, &view(), || Ok(0.79e6), &mut ladder).unwrap();
        assert_eq!(ladder.len(), 6);
        assert!(ladder.iter().all(|q| q.lots == 1));
        assert_eq!(ladder[0], Quote { buy: true, ticks: 504, lots: 1 });
        assert_eq!(state.loss_pull_until, view().now.plus(config.calm));
        // With no presence it quotes nothing; with no equity left, neither.
        let gone = MakerConfig { presence: 0.0, ..maker() };
        let mut state = MakerState::default();
        perpetual_quotes(&gone, &mut state, &view(), || Ok(0.79e6), &mut ladder).unwrap();
        assert!(ladder.is_empty());
        perpetual_quotes(&config, &mut MakerState::default(), &view(), || Ok(0.0), &mut ladder)
            .unwrap();
        assert!(ladder.is_empty());
    }

    #[test]
    fn a_pulled_group_thins_and_widens_and_a_ladder_taken_on_both_sides_is_requoted() {
        let (config, mut ladder) = (MakerConfig { stop_loss: None, ..maker() }, Vec::new());
        // Realized volatility at 4 x 50%: levels four times as far apart (half-spread
        // 4 / 64): 4 lots at 120, 112, 104 and 136, 144, 152.
        let stressed = MakerView { group: GroupQuoting { pulled: false, widen: 4.0 }, ..view() };
        perpetual_quotes(&config, &mut MakerState::default(), &stressed, || Ok(1e6), &mut ladder)
            .unwrap();
        let prices: Vec<(bool, i64, i64)> =
            ladder.iter().map(|q| (q.buy, q.ticks, q.lots)).collect();
        assert_eq!(
            prices,
            [
                (true, 480, 4),
                (true, 448, 4),
                (true, 416, 4),
                (false, 544, 4),
                (false, 576, 4),
                (false, 608, 4),
            ]
        );
        // Pulled: a tenth of that (0.4 lots), at least a lot a level; still both sides.
        let pulled = MakerView { group: GroupQuoting { pulled: true, widen: 4.0 }, ..view() };
        perpetual_quotes(&config, &mut MakerState::default(), &pulled, || Ok(1e6), &mut ladder)
            .unwrap();
        assert_eq!(ladder.len(), 6);
        assert!(ladder.iter().all(|q| q.lots == 1));
        // A ladder of 24 lots that sweeps took 13 of, on both sides, so the position did
        // not move: requoted. With 12 still resting it stays.
        let mut state = MakerState::default();
        perpetual_quotes(&config, &mut state, &view(), || Ok(1e6), &mut ladder).unwrap();
        assert_eq!(state.posted, 24);
        let half = MakerView { resting: 12, ..view() };
        assert_eq!(
            perpetual_quotes(&config, &mut state, &half, || Ok(1e6), &mut ladder).unwrap(),
            Requote::Keep
        );
        let swept = MakerView { resting: 11, ..view() };
        assert_eq!(
            perpetual_quotes(&config, &mut state, &swept, || Ok(1e6), &mut ladder).unwrap(),
            Requote::Replace
        );
        assert_eq!(ladder.len(), 6);
    }

    #[test]
    fn option_makers_quote_live_series_and_hedge_outside_their_band() {
        let (config, mut ladder) = (MakerConfig { spread: 1.0 / 1024.0, ..maker() }, Vec::new());
        let series = SeriesView {
            group: GroupQuoting { pulled: false, widen: 1.0 },
            fair: 512.0,
            forward: 32_768.0,
            position: 0,
            position_units: 0.0,
            live: true,
            expired: false,
            out: false,
            equity: 1e6,
            series_count: 10,
            liquidity: 1.0,
            lot: 0.25,
            tick: 0.25,
        };
        let mut quoted = None;
        let r = series_quotes(&config, &mut quoted, &series, &mut ladder);
        assert_eq!(r, SeriesRequote { cancel: false, quote: true });
        // Half-spread 32768 / 1024 = 32 a level: 480 and 544 first.
        assert_eq!(ladder[0], Quote { buy: true, ticks: 1920, lots: 4 });
        assert_eq!(ladder[3], Quote { buy: false, ticks: 2176, lots: 4 });
        let pulled = SeriesView { group: GroupQuoting { pulled: true, widen: 1.0 }, ..series };
        let r = series_quotes(&config, &mut quoted, &pulled, &mut ladder);
        assert_eq!(r, SeriesRequote { cancel: true, quote: false });
        assert_eq!(hedge(&config, 0.9, 0.25), None);
        assert_eq!(hedge(&config, -2.5, 0.25), Some((false, 10)));
    }
}
