//! Synthetic inputs for the report writers: a plausible 24-hour crash outcome (and the
//! same crash as a replay of an options market), a policy comparison over 20 seeds and a
//! 4 x 3 sweep grid.
//!
//! They exist so the reports can be tested and looked at without running the kernel:
//! unit tests, the browser test (`tests/browser/run.sh`) and examples use them. They
//! are built from closed-form curves and a fixed integer hash, never from a random
//! number generator or the clock, and they are internally consistent: liquidation
//! totals, bad debt, per-interval flows and cascade figures are all derived from the
//! one liquidation log, the way the kernel's recorder derives them.
//!
//! The crash: the index drifts around 60,000 until a -20% jump at 02:00, slides another
//! 5% over half an hour and recovers part of the fall by 06:00; liquidation bursts with
//! causal depths 0..4 follow the jump, the insurance fund drains to zero, ADL and a
//! socialized loss follow, depth within 1% of mid collapses and the spread widens.
//! With collateral, the same crash has a stablecoin depegging in the jump's first minutes.
//! Known limitation: prices are not tied to a book; only the report's needs are met.

use crate::compare::{Comparison, PolicyRuns, RunFigures};
use crate::sweep::SweepPoint;
use liqsim_core::{Money, SimDuration, SimTime};
use liqsim_sim::cascade::{CascadeConfig, Cause, LiquidationRecord, analyze};
use liqsim_sim::{
    AdlTotals, CascadeSummary, CollateralFigures, FundFigures, LeverageBand, LiquidationRow,
    LiquidationTotals, MarginFigures, OpenInterest, OpenInterestFigures, OptionKind,
    OptionSeriesFigures, Outcome, SeriesRow, SeriesState, ShockKind, ShockWindow, Side, VolumeBar,
};
use std::collections::BTreeMap;

const HOUR: u64 = 3_600;

/// A fixed integer hash in [0, 1): the fixture's only source of variety.
pub fn unit_hash(a: u64, b: u64) -> f64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn secs(s: f64) -> SimTime {
    SimTime::from_nanos((s * 1e9).round() as u64)
}

fn money(units: f64) -> Money {
    Money::from_micros((units * 1e6).round() as i64)
}

/// The index price at `t` seconds: flat with small waves, -20% at 2h, a further slide,
/// then a partial recovery.
pub fn crash_index(t: f64) -> f64 {
    let wiggle = 1.0 + 0.002 * (t / 900.0).sin() + 0.001 * (t / 137.0).cos();
    let shock = 2.0 * HOUR as f64;
    let level = if t < shock {
        1.0
    } else {
        let slide = ((t - shock) / 1_800.0).min(1.0) * 0.05;
        let recovery = ((t - shock - 1_800.0).max(0.0) / (4.0 * HOUR as f64)).min(1.0) * 0.12;
        0.80 - slide + recovery
    };
    60_000.0 * level * wiggle
}

/// One liquidation tree: root at `t0`, children one level deeper a few seconds later.
struct Tree {
    t0: f64,
    side: Side,
    depth_max: u32,
    fan: u32,
}

/// The synthetic crash outcome (24 h, 1-minute metrics, ~1.5k liquidations).
pub fn crash_outcome() -> Outcome {
    let shock = 2.0 * HOUR as f64;
    // Liquidation trees: the jump burst (deep, long), the slide, a short squeeze on the
    // rebound, and a late small wave.
    let mut trees = Vec::new();
    for k in 0..60u64 {
        let depth_max = (unit_hash(k, 1) * 5.0) as u32; // 0..=4
        trees.push(Tree {
            t0: shock + unit_hash(k, 2) * 240.0,
            side: Side::Long,
            depth_max,
            fan: 1 + (unit_hash(k, 3) * 3.0) as u32,
        });
    }
    for k in 0..40u64 {
        trees.push(Tree {
            t0: shock + 600.0 + unit_hash(k, 4) * 1_500.0,
            side: Side::Long,
            depth_max: (unit_hash(k, 5) * 3.0) as u32,
            fan: 1,
        });
    }
    for k in 0..25u64 {
        trees.push(Tree {
            t0: shock + 5_400.0 + unit_hash(k, 6) * 1_800.0,
            side: Side::Short,
            depth_max: (unit_hash(k, 7) * 2.0) as u32,
            fan: 1,
        });
    }
    for k in 0..8u64 {
        trees.push(Tree {
            t0: 9.0 * HOUR as f64 + unit_hash(k, 8) * 600.0,
            side: Side::Long,
            depth_max: 0,
            fan: 1,
        });
    }
    // Expand trees into (time, side, parent offset within tree, depth) records.
    struct Raw {
        t: f64,
        side: Side,
        parent: Option<usize>,
        depth: u32,
        key: u64,
    }
    let mut raw: Vec<Raw> = Vec::new();
    for (n, tree) in trees.iter().enumerate() {
        let mut frontier = vec![(raw.len(), tree.t0)];
        raw.push(Raw {
            t: tree.t0,
            side: tree.side,
            parent: None,
            depth: 0,
            key: n as u64 * 1_000,
        });
        for depth in 1..=tree.depth_max {
            let mut next = Vec::new();
            for &(parent, t) in &frontier {
                for c in 0..tree.fan {
                    let key = n as u64 * 1_000 + u64::from(depth) * 10 + u64::from(c);
                    let tc = t + 0.5 + unit_hash(key, 9) * 6.0;
                    next.push((raw.len(), tc));
                    raw.push(Raw { t: tc, side: tree.side, parent: Some(parent), depth, key });
                }
            }
            frontier = next;
        }
    }
    // Event order is time order; remap parents to positions in the sorted log.
    let mut order: Vec<usize> = (0..raw.len()).collect();
    order.sort_by(|&a, &b| raw[a].t.total_cmp(&raw[b].t).then(a.cmp(&b)));
    let mut position = vec![0usize; raw.len()];
    for (pos, &i) in order.iter().enumerate() {
        position[i] = pos;
    }
    let mut log = Vec::with_capacity(raw.len());
    let mut records = Vec::with_capacity(raw.len());
    for &i in &order {
        let r = &raw[i];
        let price = crash_index(r.t);
        let quantity = 0.05 + unit_hash(r.key, 10) * 2.0;
        let notional = money((price * quantity * 100.0).round() / 100.0);
        // Deeper liquidations happen in a thinner book and leave more bad debt.
        let bad = if r.t > shock - 1.0 && r.side == Side::Long {
            money((notional.to_f64() * (0.02 + 0.03 * f64::from(r.depth))).round())
        } else {
            Money::ZERO
        };
        let caused_by = r.parent.map(|p| position[p] as u32);
        log.push(LiquidationRow {
            time: secs(r.t),
            account: (r.key % 100_000) as u32 + 1,
            side: r.side,
            quantity,
            notional,
            mark: price,
            bankruptcy_price: if r.side == Side::Long { price * 0.99 } else { price * 1.01 },
            caused_by,
            depth: r.depth,
            bad_debt: bad,
            book: quantity,
            backstop: 0.0,
            engine: 0.0,
            mark_close: 0.0,
            adl: 0.0,
            socialized: Money::ZERO,
            // Sold a little below the mark (bought a little above), deeper in a cascade.
            fill_price: price
                * (1.0
                    + if r.side == Side::Long { -1.0 } else { 1.0 }
                        * 0.001
                        * f64::from(r.depth + 1)),
            shortfall: money(
                (notional.to_f64() * 0.001 * f64::from(r.depth + 1) * 100.0).round() / 100.0,
            ),
            group: Some(1),
            leverage: 10.0 + f64::from(r.depth) * 5.0,
            short_options: false,
            by_collateral: false,
        });
        records.push(LiquidationRecord {
            time: secs(r.t),
            notional,
            side: r.side,
            cause: caused_by.map_or(Cause::Exogenous, Cause::Liquidation),
        });
    }
    // The fixture's notionals are far from overflow; a failed analysis shows as zeros.
    let report = analyze(&records, CascadeConfig::default()).ok();
    // Cascade sizes: liquidations per root.
    let mut root = vec![0usize; log.len()];
    let mut tree_size: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, l) in log.iter().enumerate() {
        root[i] = l.caused_by.map_or(i, |p| root[p as usize]);
        *tree_size.entry(root[i]).or_default() += 1;
    }
    let mut size_counts: BTreeMap<u64, u64> = BTreeMap::new();
    for size in tree_size.values() {
        *size_counts.entry(*size).or_default() += 1;
    }

    // Series: 1-minute rows; a liquidation at t belongs to the row with prev < t <= time.
    let interval = 60u64;
    let rows = (24 * HOUR / interval) as usize;
    let fund_start = money(2_000_000.0);
    let mut fund = fund_start;
    let mut fund_min = fund;
    let mut bad_cum = Money::ZERO;
    let mut adl_cum = Money::ZERO;
    let mut adl_count = 0u64;
    let mut social_cum = Money::ZERO;
    let mut unpaid_cum = Money::ZERO;
    let mut fund_exhausted = None;
    let mut first_adl = None;
    let mut series = Vec::with_capacity(rows);
    let mut next = 0usize;
    let mut margin_sum = 0i128;
    let mut margin_peak = Money::ZERO;
    let mut pre_stress = Money::ZERO;
    let (mut rate_peak, mut rate_pre_stress) = (0.0f64, 0.0);
    for i in 1..=rows {
        let t = (i as u64 * interval) as f64;
        let mut row = SeriesRow { time: secs(t), ..SeriesRow::default() };
        while next < log.len() && log[next].time <= row.time {
            let l = &log[next];
            match l.side {
                Side::Long => {
                    row.liquidations_long += 1;
                    row.liquidated_notional_long = Money::from_micros(
                        row.liquidated_notional_long.micros() + l.notional.micros(),
                    );
                }
                Side::Short => {
                    row.liquidations_short += 1;
                    row.liquidated_notional_short = Money::from_micros(
                        row.liquidated_notional_short.micros() + l.notional.micros(),
                    );
                }
            }
            let b = (l.depth as usize).min(3);
            row.liquidated_by_depth[b] =
                Money::from_micros(row.liquidated_by_depth[b].micros() + l.notional.micros());
            bad_cum = Money::from_micros(bad_cum.micros() + l.bad_debt.micros());
            // The fund pays what it can; beyond it, ADL closes opposing positions (twice
            // the shortfall in notional) and a tenth of the shortfall is socialized.
            let paid = l.bad_debt.min(fund);
            fund = Money::from_micros(fund.micros() - paid.micros());
            let short = l.bad_debt.micros() - paid.micros();
            if short > 0 {
                fund_exhausted.get_or_insert(l.time);
                first_adl.get_or_insert(l.time);
                adl_count += 1;
                adl_cum = Money::from_micros(adl_cum.micros() + 2 * short);
                social_cum = Money::from_micros(social_cum.micros() + short / 10);
                unpaid_cum = Money::from_micros(unpaid_cum.micros() + short / 20);
            }
            next += 1;
        }
        fund_min = fund_min.min(fund);
        let index = crash_index(t);
        let stress = if t >= shock { (-(t - shock) / 5_400.0).exp() } else { 0.0 };
        let drought = (shock..shock + HOUR as f64).contains(&t);
        row.index = index;
        row.mark = index * (1.0 + 0.0004 * (t / 611.0).sin());
        row.last = index * (1.0 - 0.03 * stress + 0.0008 * (t / 97.0).sin());
        row.spread = if drought && i % 17 == 0 {
            None
        } else {
            Some(0.5 + 40.0 * stress * if drought { 1.5 } else { 1.0 })
        };
        row.depth_1pct =
            money(5_000_000.0 * (1.0 - 0.9 * stress) * if drought { 0.4 } else { 1.0 });
        row.open_interest =
            12_000.0 * (1.0 - 0.35 * (1.0 - stress) * f64::from(u8::from(t >= shock)));
        row.volume = money(800_000.0 + 30_000_000.0 * stress);
        row.insurance_fund = fund;
        // Under stress the fund dips between samples (paid out, refilled by fees within
        // the interval): the interval's low is below its end balance.
        row.insurance_fund_low = if stress > 0.05 {
            money((fund.to_f64() - 40_000.0 * stress).min(fund.to_f64()))
        } else {
            fund
        };
        row.bad_debt = bad_cum;
        row.adl_notional = adl_cum;
        row.socialized_loss = social_cum;
        row.unpaid_loss = unpaid_cum;
        let required = 36_000_000.0 * (1.0 + 0.8 * stress) * index / 60_000.0;
        row.margin_required = money(required.round());
        row.margin_held = money((required * (1.6 - 0.5 * stress)).round());
        row.accounts_below_maintenance = (4_000.0 * stress) as u64 + u64::from(i % 7 == 0);
        margin_sum += i128::from(row.margin_required.micros());
        margin_peak = margin_peak.max(row.margin_required);
        let rate = 0.05 * (1.0 + 0.8 * stress);
        rate_peak = rate_peak.max(rate);
        if t < shock {
            pre_stress = row.margin_required;
            rate_pre_stress = rate;
        }
        series.push(row);
    }
    let sum = |side: Side| -> (u64, Money) {
        let of = log.iter().filter(|l| l.side == side);
        (of.clone().count() as u64, Money::from_micros(of.map(|l| l.notional.micros()).sum()))
    };
    let (long_count, long_notional) = sum(Side::Long);
    let (short_count, short_notional) = sum(Side::Short);
    Outcome {
        scenario: "synthetic-crash".into(),
        quote_currency: "USD".into(),
        seed: 7,
        // 2020-03-12T00:00:00Z.
        start_utc_ns: Some(1_583_971_200_000_000_000),
        policy: "es".into(),
        digest: "5f3a9c0e7b21d4486a0c9e12f3b7d501".into(),
        events: 4_812_337,
        accounts_checked: 391_204,
        duration: SimDuration::from_secs(24 * HOUR),
        liquidations: LiquidationTotals {
            count: log.len() as u64,
            accounts: log.iter().map(|l| l.account).collect::<std::collections::BTreeSet<_>>().len()
                as u64,
            notional: Money::from_micros(long_notional.micros() + short_notional.micros()),
            long_count,
            long_notional,
            short_count,
            short_notional,
            shortfall: Money::from_micros(log.iter().map(|l| l.shortfall.micros()).sum()),
            shortfall_base: Money::from_micros(long_notional.micros() + short_notional.micros()),
        },
        bad_debt: bad_cum,
        insurance_fund: FundFigures { start: fund_start, end: fund, min: fund_min },
        adl: AdlTotals {
            count: adl_count,
            notional: adl_cum,
            mark_count: 3,
            mark_notional: Money::from_units(41_250).unwrap_or(Money::ZERO),
            backstop_count: 0,
            backstop_notional: Money::ZERO,
            engine_count: 0,
            engine_notional: Money::ZERO,
        },
        socialized_loss: social_cum,
        cascade: CascadeSummary {
            max_depth: report.as_ref().map_or(0, |r| r.max_depth),
            amplification: report.as_ref().and_then(|r| r.amplification),
            waves: report.as_ref().map_or(0, |r| r.waves),
            largest: report.as_ref().map_or(0, |r| r.largest_cascade),
            size_counts: size_counts.into_iter().collect(),
        },
        solvent: unpaid_cum == Money::ZERO,
        conservation_error: Money::ZERO,
        open_interest: open_interest(&series, shock),
        margin: MarginFigures {
            mean_initial: Money::from_micros((margin_sum / rows.max(1) as i128) as i64),
            peak_initial: margin_peak,
            pre_stress_initial: pre_stress,
            pre_stress_rate: rate_pre_stress,
            peak_rate: rate_peak,
        },
        first_liquidation: log.first().map(|l| l.time),
        first_adl,
        fund_exhausted,
        series,
        liquidation_log: log,
        shocks: vec![
            ShockWindow { start: secs(shock), end: secs(shock), kind: ShockKind::Jump },
            ShockWindow {
                start: secs(shock),
                end: secs(shock + 2.0 * HOUR as f64),
                kind: ShockKind::Volatility,
            },
            ShockWindow {
                start: secs(shock),
                end: secs(shock + HOUR as f64),
                kind: ShockKind::Drought,
            },
        ],
        options: Default::default(),
        option_series: Vec::new(),
        option_peak_time: None,
        replay_volume: Vec::new(),
        collateral: None,
        leverage_bands: vec![
            LeverageBand {
                from: 1.0,
                to: 10.0,
                long_opened: 700,
                long_liquidated: 120,
                short_opened: 300,
                short_liquidated: 2,
            },
            LeverageBand {
                from: 10.0,
                to: f64::INFINITY,
                long_opened: 90,
                long_liquidated: 81,
                short_opened: 40,
                short_liquidated: 0,
            },
        ],
    }
}

/// The crash as a replay of an options market: a chain of puts and calls at five strikes
/// and two expiries (writers' open interest before the jump, repriced at it, partly
/// closed after), every third liquidated account short an option, and the replayed
/// market's traded volume per minute, spiking in the minutes after the jump.
pub fn options_replay_outcome() -> Outcome {
    let mut o = crash_outcome();
    let shock = 2.0 * HOUR as f64;
    for l in &mut o.liquidation_log {
        l.short_options = l.account % 3 == 0;
    }
    let expiries = [7 * 24 * HOUR, 30 * 24 * HOUR];
    for (e, &expiry) in expiries.iter().enumerate() {
        for (k, strike) in [0.8, 0.9, 1.0, 1.1, 1.2].into_iter().enumerate() {
            for kind in [OptionKind::Put, OptionKind::Call] {
                let strike = 60_000.0 * strike;
                let moneyness: f64 = if kind == OptionKind::Put {
                    1.2 - strike / 60_000.0
                } else {
                    strike / 60_000.0 - 0.8
                };
                let units =
                    40.0 * (1.0 - moneyness).max(0.1) * (1.0 + 0.5 * unit_hash(e as u64, k as u64));
                let mark = |forward: f64| match kind {
                    OptionKind::Put => (strike - forward).max(0.0) + 900.0 * (e as f64 + 1.0),
                    OptionKind::Call => (forward - strike).max(0.0) + 900.0 * (e as f64 + 1.0),
                };
                let state = |open_interest: f64, forward: f64| SeriesState {
                    open_interest,
                    mark: mark(forward),
                };
                o.option_series.push(OptionSeriesFigures {
                    kind,
                    strike,
                    expiry: SimTime::from_nanos(expiry * 1_000_000_000),
                    pre_stress: state(units, crash_index(shock - 60.0)),
                    peak: state(units, crash_index(shock + 1_800.0)),
                    end: state(units * 0.6, crash_index(24.0 * HOUR as f64)),
                });
            }
        }
    }
    o.option_peak_time = Some(secs(shock + 1_800.0));
    o.replay_volume = (0..24 * 60)
        .map(|m| {
            let t = (m * 60) as f64;
            let after = t - shock;
            let spike = if after >= 0.0 { 40.0 * (-after / 2_400.0).exp() } else { 0.0 };
            let volume = 2.0e6 * (1.0 + spike) * (0.7 + 0.6 * unit_hash(m, 11));
            VolumeBar { start: secs(t), end: secs(t + 60.0), volume }
        })
        .collect();
    o.scenario = "synthetic-options-replay".into();
    o
}

/// The crash with a collateral asset, "USDe", held by the traders: its venue price falls
/// from 1.00 to 0.65 over the five minutes after the jump, holds for half an hour and
/// recovers over five minutes; the liquidations in its fall of every fourth account are
/// the ones the collateral pass found.
pub fn collateral_outcome() -> Outcome {
    let mut o = crash_outcome();
    let shock = 2.0 * HOUR as f64;
    let price = |t: f64| {
        let fall = ((t - shock) / 300.0).clamp(0.0, 1.0);
        let back = ((t - shock - 2_100.0) / 300.0).clamp(0.0, 1.0);
        1.0 - 0.35 * fall + 0.35 * back
    };
    let path: Vec<(SimTime, Money)> =
        o.series.iter().map(|r| (r.time, money(price(r.time.as_seconds_f64())))).collect();
    let mut by_collateral = 0;
    for l in &mut o.liquidation_log {
        let t = l.time.as_seconds_f64();
        l.by_collateral = t > shock && t <= shock + 300.0 && l.account % 4 == 0;
        by_collateral += u64::from(l.by_collateral);
    }
    o.collateral = Some(CollateralFigures {
        assets: vec!["USDe".into()],
        liquidations_by_collateral: by_collateral,
        liquidations_by_position: o.liquidations.count - by_collateral,
        bad_debt_by_collateral: Money::ZERO,
        converted: Money::ZERO,
        venue_prices: vec![path],
    });
    o.scenario = "synthetic-collateral".into();
    o
}

/// A comparison of es, var, fixed and grid over 20 seeds: fixed locks the least margin
/// and has the heaviest bad debt tail; grid the reverse.
pub fn comparison() -> Comparison {
    let seeds: Vec<u64> = (7..27).collect();
    let specs = [("es", 1.0, 1.0), ("var", 0.8, 1.6), ("fixed", 0.6, 3.0), ("grid", 1.3, 0.6)];
    let policies = specs
        .iter()
        .enumerate()
        .map(|(p, &(name, margin_scale, tail))| PolicyRuns {
            policy: name.into(),
            runs: seeds
                .iter()
                .map(|&seed| {
                    // Common random numbers: the seed's severity is shared by all policies.
                    let severity = unit_hash(seed, 11);
                    let bad = if severity > 0.45 {
                        1_500_000.0 * tail * (severity - 0.45).powf(1.5) * 3.0
                    } else {
                        0.0
                    };
                    let bad = bad * (0.9 + 0.2 * unit_hash(seed, 12 + p as u64));
                    let margin = 30_000_000.0 * margin_scale * (1.0 + 0.05 * unit_hash(seed, 13));
                    RunFigures {
                        seed,
                        bad_debt: money(bad.round()),
                        fund_drawdown: money(bad.min(2_000_000.0).round()),
                        fund_exhausted: bad > 2_000_000.0,
                        liquidation_count: (200.0 + 2_000.0 * severity / margin_scale) as u64,
                        liquidated_notional: money(
                            (40_000_000.0 * severity / margin_scale).round(),
                        ),
                        adl_notional: money((2.0 * (bad - 2_000_000.0).max(0.0)).round()),
                        socialized_loss: money((0.1 * (bad - 2_000_000.0).max(0.0)).round()),
                        max_depth: (severity * 5.0 / margin_scale) as u32,
                        amplification: (severity > 0.05).then_some(1.0 + severity * tail),
                        mean_initial_margin: money(margin.round()),
                        peak_initial_margin: money((margin * (1.4 + 0.3 * severity)).round()),
                        procyclicality: Some(1.4 + 0.3 * severity),
                    }
                })
                .collect(),
        })
        .collect();
    Comparison { scenario: "synthetic-crash".into(), quote_currency: "USD".into(), seeds, policies }
}

/// A sweep over margin.confidence x liquidation.fee: higher confidence costs margin and
/// cuts bad debt; a higher fee grows the fund.
pub fn sweep_points() -> Vec<SweepPoint> {
    let mut points = Vec::new();
    for (i, conf) in ["0.95", "0.975", "0.99", "0.995"].iter().enumerate() {
        for (j, fee) in ["0.0025", "0.005", "0.01"].iter().enumerate() {
            let margin = 20_000_000.0 * (1.0 + 0.35 * i as f64) * (1.0 + 0.02 * j as f64);
            let p99 = 3_000_000.0 / (1.0 + 1.1 * i as f64)
                * (1.0 - 0.04 * j as f64)
                * (0.8 + 0.5 * unit_hash(i as u64, j as u64));
            // Twenty seeds around the point's level: the same seed is high or low at
            // every grid point (common random numbers), as in a real sweep.
            let bad: Vec<f64> = (0..20u64)
                .map(|k| {
                    p99 * 0.3
                        * (0.4 + 1.2 * unit_hash(k, 99))
                        * (0.9 + 0.2 * unit_hash(k, (i * 3 + j) as u64))
                })
                .collect();
            let margins: Vec<f64> =
                (0..20u64).map(|k| margin * (1.0 + 0.01 * (unit_hash(k, 7) - 0.5))).collect();
            let exhausted: Vec<bool> =
                (0..20u64).map(|k| unit_hash(k, 5) < (p99 / 6_000_000.0).min(1.0)).collect();
            if let Some(p) = SweepPoint::from_seeds(
                vec![
                    ("margin.confidence".into(), (*conf).into()),
                    ("liquidation.fee".into(), (*fee).into()),
                ],
                bad,
                margins,
                &exhausted,
            ) {
                points.push(p);
            }
        }
    }
    points
}

/// Open-interest figures read off the fixture's series, as the recorder keeps them.
fn open_interest(series: &[SeriesRow], shock: f64) -> OpenInterestFigures {
    let point = |r: &SeriesRow| OpenInterest {
        units: r.open_interest,
        notional: money((r.open_interest * r.mark * 100.0).round() / 100.0),
    };
    let mut oi = OpenInterestFigures::default();
    for r in series {
        let p = point(r);
        if p.units > oi.peak.units {
            oi.peak = p;
            oi.peak_time = r.time;
            oi.trough = p;
        } else if p.units < oi.trough.units {
            oi.trough = p;
        }
        if r.time <= secs(shock) {
            oi.pre_stress = Some(p);
        }
        oi.end = p;
    }
    oi
}
