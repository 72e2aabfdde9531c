//! The per-refresh path that decides whether a million accounts are affordable.
//!
//! Each refresh computes, once, a P&L vector per instrument over the S scenarios
//! ([`PnlMatrix`], P&L of one long unit, options fully revalued). An account's P&L
//! vector is the quantity-weighted sum of its instruments' rows; its VaR or ES needs only
//! the largest few losses (11 of 1,000 at 99%). [`PnlMatrix::measure`] keeps, per block
//! of 8 scenarios (grouped by the first instrument's P&L), each row's range, bounds each
//! block's losses from the legs' ranges, and computes only the blocks that can reach the
//! tail: about one in eight for the bench's books. The figure is bit for bit the measure
//! of the whole vector (ES sums its tail in ascending order, so the order scenarios are
//! read in does not matter). Accounts are stored flat ([`Accounts`], one offset per
//! account into instrument and quantity arrays), the scratch vector is reused, so steady
//! state allocates nothing.
//!
//! Ordering and determinism: an account's figure depends only on its own positions, in
//! their stored order, and the matrix; [`measure_range`] over any split of the account
//! range gives bit-identical figures, so callers may spread ranges over threads (this
//! crate itself never spawns any).
//!
//! Between refreshes, [`trigger`] gives each account the range of the underlying's
//! forward inside which its equity stays above maintenance: exact for linear
//! portfolios, a conservative bracket (never wider than the true range) for options,
//! from delta and a lower bound of gamma. Limitation: volatility and time are frozen at
//! the refresh (a volatility spike or the passing of time between refreshes is not in
//! the bracket), and the requirement itself is held at its refresh value.

use crate::linear::Measure;
use crate::measures::{Largest, es, from_largest, needed, small_tail, var};
use crate::portfolio::{Instrument, Market, Position};
use crate::scenarios::ScenarioSet;
use std::f64::consts::PI;
use std::ops::Range;

/// Per-unit P&L of each instrument over each scenario, row-major.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PnlMatrix {
    scenarios: usize,
    values: Vec<f64>,
    /// `values` with the scenarios reordered by the first instrument's P&L, so that a
    /// block of `BLOCK` neighbours holds similar scenarios and narrow ranges. A tail
    /// measure depends only on the multiset of losses, so it may read them in this order.
    grouped: Vec<f64>,
    /// Per instrument and block of `grouped`: the smallest and largest P&L and the
    /// largest magnitude (NaN if the block holds a NaN), row-major like `values`.
    block_low: Vec<f64>,
    block_high: Vec<f64>,
    block_magnitude: Vec<f64>,
}

/// Scenarios per block: the unit of the register-blocked loss vectors and of the bounds
/// that let a tail measure skip blocks.
const BLOCK: usize = 8;

impl PnlMatrix {
    pub fn new(instruments: &[Instrument], market: &Market, set: &ScenarioSet) -> PnlMatrix {
        let mut m = PnlMatrix::default();
        m.refresh(instruments, market, set);
        m
    }

    /// Recomputes in place, reusing the allocation.
    pub fn refresh(&mut self, instruments: &[Instrument], market: &Market, set: &ScenarioSet) {
        self.scenarios = set.len();
        self.values.clear();
        for inst in instruments {
            let now = inst.value(market, 0.0);
            self.values.extend(
                set.shocks.iter().map(|s| inst.value(&market.shocked(s), s.horizon_years) - now),
            );
        }
        self.index_blocks();
    }

    fn index_blocks(&mut self) {
        self.grouped.clear();
        self.block_low.clear();
        self.block_high.clear();
        self.block_magnitude.clear();
        if self.scenarios == 0 || self.values.is_empty() {
            return;
        }
        let mut order: Vec<usize> = (0..self.scenarios).collect();
        let first = &self.values[..self.scenarios];
        order.sort_by(|a, b| first[*a].total_cmp(&first[*b]).then(a.cmp(b)));
        for row in self.values.chunks_exact(self.scenarios) {
            self.grouped.extend(order.iter().map(|k| row[*k]));
        }
        let whole = self.scenarios / BLOCK * BLOCK;
        for row in self.grouped.chunks_exact(self.scenarios) {
            for block in row[..whole].chunks_exact(BLOCK) {
                let nan = block.iter().any(|p| p.is_nan());
                let low = block.iter().copied().fold(f64::INFINITY, f64::min);
                let high = block.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let (low, high) = if nan { (f64::NAN, f64::NAN) } else { (low, high) };
                self.block_low.push(low);
                self.block_high.push(high);
                self.block_magnitude.push(low.abs().max(high.abs()));
            }
        }
    }

    pub fn scenarios(&self) -> usize {
        self.scenarios
    }

    pub fn row(&self, instrument: usize) -> &[f64] {
        &self.values[instrument * self.scenarios..(instrument + 1) * self.scenarios]
    }

    /// Recomputes in place with `value(instrument, scenario)` per unit: a table whose
    /// rows come from another valuation than full revaluation.
    pub fn fill(
        &mut self,
        instruments: usize,
        scenarios: usize,
        mut value: impl FnMut(usize, usize) -> f64,
    ) {
        self.scenarios = scenarios;
        self.values.clear();
        for i in 0..instruments {
            self.values.extend((0..scenarios).map(|k| value(i, k)));
        }
        self.index_blocks();
    }

    /// The losses of scenarios `start..start + BLOCK` of a portfolio of (row, quantity):
    /// 0 - q1 p1 - q2 p2 - ... in leg order, the block held in registers across legs.
    fn block_losses(
        &self,
        source: &[f64],
        legs: impl Iterator<Item = (usize, f64)>,
        start: usize,
    ) -> [f64; BLOCK] {
        let mut block = [0.0f64; BLOCK];
        for (i, q) in legs {
            let row = &source[i * self.scenarios + start..][..BLOCK];
            // A loss is the negative P&L: subtract.
            for (l, p) in block.iter_mut().zip(row) {
                *l -= q * p;
            }
        }
        block
    }

    fn tail_losses(
        &self,
        source: &[f64],
        legs: impl Iterator<Item = (usize, f64)>,
        start: usize,
        out: &mut [f64],
    ) {
        let s = self.scenarios;
        for (i, q) in legs {
            for (l, p) in out.iter_mut().zip(&source[i * s + start..(i + 1) * s]) {
                *l -= q * p;
            }
        }
    }

    /// The loss vector of a portfolio of (row, quantity) into `losses` (resized to S).
    pub fn losses(&self, legs: impl Iterator<Item = (usize, f64)> + Clone, losses: &mut Vec<f64>) {
        losses.clear();
        losses.resize(self.scenarios, 0.0);
        let whole = self.scenarios / BLOCK * BLOCK;
        for (b, out) in losses[..whole].chunks_exact_mut(BLOCK).enumerate() {
            out.copy_from_slice(&self.block_losses(&self.values, legs.clone(), b * BLOCK));
        }
        self.tail_losses(&self.values, legs, whole, &mut losses[whole..]);
    }

    /// VaR or ES at `alpha` of a portfolio's losses, equal bit for bit to the measure of
    /// [`PnlMatrix::losses`], without computing every loss when the tail is small: each
    /// block of scenarios gets an upper bound of its losses from the legs' block ranges,
    /// and a block whose bound is below the smallest of the tail found so far is skipped.
    /// `scratch` holds the bounds.
    pub fn measure(
        &self,
        legs: impl Iterator<Item = (usize, f64)> + Clone,
        measure: Measure,
        alpha: f64,
        scratch: &mut Vec<f64>,
    ) -> f64 {
        let n = self.scenarios;
        let m = match needed(n, alpha, measure) {
            Some(m) if small_tail(m, n) => m,
            _ => {
                self.losses(legs, scratch);
                return match measure {
                    Measure::Var => var(scratch, alpha),
                    Measure::Es => es(scratch, alpha),
                };
            }
        };
        let blocks = n / BLOCK;
        scratch.clear();
        scratch.resize(blocks, 0.0);
        // Both a computed loss and the bound round at most once per operation, 2 per leg;
        // the slack covers both with room: (4 legs + 8) units of roundoff of the sum of
        // |q| x |p|.
        let leg_count = legs.clone().count();
        let slack = (4 * leg_count + 8) as f64 * f64::EPSILON;
        for (i, q) in legs.clone() {
            let row = i * blocks..(i + 1) * blocks;
            let worst =
                if q >= 0.0 { &self.block_low[row.clone()] } else { &self.block_high[row.clone()] };
            let (neg_q, size) = (-q, slack * q.abs());
            for ((bound, p), magnitude) in
                scratch.iter_mut().zip(worst).zip(&self.block_magnitude[row])
            {
                *bound += neg_q * p + size * magnitude;
            }
        }
        let mut top = Largest::new(m);
        // Blocks from both ends inwards: scenarios are ordered by the first instrument's
        // P&L, so the largest losses of most portfolios sit at one end or both, the bar
        // rises at once and the middle blocks are skipped.
        let from_both_ends =
            (0..blocks).map(|j| if j % 2 == 0 { j / 2 } else { blocks - 1 - j / 2 });
        for b in from_both_ends {
            let bound = scratch[b];
            // A NaN bound never compares below: its block is computed.
            if let Some(bar) = top.bar()
                && bound < bar
            {
                continue;
            }
            top.offer_block(&self.block_losses(&self.grouped, legs.clone(), b * BLOCK));
        }
        let mut rest = [0.0; BLOCK];
        let rest = &mut rest[..n - blocks * BLOCK];
        self.tail_losses(&self.grouped, legs, blocks * BLOCK, rest);
        for x in rest.iter() {
            top.offer(*x);
        }
        from_largest(top.sorted(), n, alpha, measure)
    }
}

/// Accounts' positions, flat: account a holds (instrument[k], quantity[k]) for k in
/// offsets[a]..offsets[a + 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Accounts {
    offsets: Vec<usize>,
    instrument: Vec<u32>,
    quantity: Vec<f64>,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts { offsets: vec![0], instrument: Vec::new(), quantity: Vec::new() }
    }
}

impl Accounts {
    /// Appends an account holding `positions` (instrument index, quantity).
    pub fn push(&mut self, positions: &[(u32, f64)]) {
        for (i, q) in positions {
            self.instrument.push(*i);
            self.quantity.push(*q);
        }
        self.offsets.push(self.instrument.len());
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Positions of account `a`: (instrument indices, quantities).
    pub fn positions(&self, a: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[a]..self.offsets[a + 1];
        (&self.instrument[r.clone()], &self.quantity[r])
    }
}

/// Loss vector of one account into `losses` (resized to S), then its measure.
pub fn account_measure(
    matrix: &PnlMatrix,
    instruments: &[u32],
    quantities: &[f64],
    measure: Measure,
    alpha: f64,
    losses: &mut Vec<f64>,
) -> f64 {
    let legs = instruments.iter().zip(quantities).map(|(i, q)| (*i as usize, *q));
    matrix.measure(legs, measure, alpha, losses).max(0.0)
}

/// Measure of the accounts in `range`, into `out` (one slot per account of the range).
/// `losses` is scratch, reused across calls.
pub fn measure_range(
    matrix: &PnlMatrix,
    accounts: &Accounts,
    range: Range<usize>,
    measure: Measure,
    alpha: f64,
    out: &mut [f64],
    losses: &mut Vec<f64>,
) {
    for (slot, a) in out.iter_mut().zip(range) {
        let (inst, qty) = accounts.positions(a);
        *slot = account_measure(matrix, inst, qty, measure, alpha, losses);
    }
}

/// Forward price range inside which an account stays at or above maintenance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trigger {
    /// Liquidate when the forward falls to or below this (0 if never).
    pub lower: f64,
    /// Liquidate when the forward rises to or above this (infinity if never).
    pub upper: f64,
}

/// The trigger of `positions` whose equity exceeds maintenance by `excess` at `market`.
/// Perpetual-only: exact (P&L linear in the forward). With options: equity at F + x is
/// at least excess + delta x + gamma_low x^2 / 2, where gamma_low sums, over short
/// options, quantity x the largest Black-76 gamma possible for forwards >= F_min,
/// e^(-rT) / (F_min vol sqrt(2 pi T)); long options' gamma is >= 0 and counted as 0.
/// Below the forward F_min = F / 2 and the bracket stops there (a recheck point);
/// above it F_min = F. An account already below maintenance gets lower = upper = F.
pub fn trigger(positions: &[Position], market: &Market, excess: f64) -> Trigger {
    let f = market.forward;
    if excess.is_nan() || excess < 0.0 {
        return Trigger { lower: f, upper: f };
    }
    let mut delta = 0.0;
    let mut short_gamma_scale = 0.0;
    let mut has_options = false;
    for p in positions {
        delta += p.quantity * p.instrument.delta_gamma(market).0;
        if let Instrument::Option { expiry_years, .. } = p.instrument {
            has_options = true;
            if p.quantity < 0.0 {
                let t = expiry_years.max(1e-12);
                let bound =
                    (-market.rate * t).exp() / (market.vol.max(1e-12) * (2.0 * PI * t).sqrt());
                short_gamma_scale += p.quantity * bound;
            }
        }
    }
    if !has_options {
        let lower = if delta > 0.0 { (f - excess / delta).max(0.0) } else { 0.0 };
        let upper = if delta < 0.0 { f + excess / -delta } else { f64::INFINITY };
        return Trigger { lower, upper };
    }
    let floor = 0.5 * f;
    let down = first_root(excess, -delta, 0.5 * short_gamma_scale / floor);
    let up = first_root(excess, delta, 0.5 * short_gamma_scale / f);
    Trigger { lower: (f - down).max(floor), upper: f + up }
}

/// Smallest y > 0 with c + b y + a y^2 = 0 (a <= 0, c >= 0), or infinity.
fn first_root(c: f64, b: f64, a: f64) -> f64 {
    if a < 0.0 {
        (-b - (b * b - 4.0 * a * c).sqrt()) / (2.0 * a)
    } else if b < 0.0 {
        c / -b
    } else {
        f64::INFINITY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MarginModel, PolicyConfig};
    use crate::policies::scenario::{ScenarioConfig, ScenarioSource};
    use crate::portfolio::{Shock, portfolio_pnl};
    use liqsim_core::StreamId;
    use liqsim_models::OptionKind;
    use rand::distr::Distribution;
    use statrs::distribution::Normal;

    const MARKET: Market = Market { forward: 30_000.0, vol: 0.6, rate: 0.01 };

    fn instruments() -> Vec<Instrument> {
        let mut v = vec![Instrument::Perpetual];
        for (k, strike) in [24_000.0, 27_000.0, 30_000.0, 33_000.0, 36_000.0].iter().enumerate() {
            for kind in [OptionKind::Call, OptionKind::Put] {
                let expiry_years = (7.0 + 21.0 * k as f64) / 365.0;
                v.push(Instrument::Option { kind, strike: *strike, expiry_years });
            }
        }
        v
    }

    fn mc_set(n: usize) -> ScenarioSet {
        let normal = Normal::standard();
        let mut rng = StreamId::named("hotpath").rng(9);
        crate::scenarios::monte_carlo_set(n, 1.0 / 365.0, &mut rng, |r| {
            let z = normal.sample(r);
            (0.6 / 365f64.sqrt() * z, 0.1 * normal.sample(r))
        })
    }

    #[test]
    fn shared_vectors_equal_direct_revaluation_and_policy() {
        let inst = instruments();
        let set = mc_set(500);
        let m = PnlMatrix::new(&inst, &MARKET, &set);
        let account = [(0u32, 2.0), (3, -1.5), (8, 4.0), (10, -1.0)];
        let positions: Vec<Position> = account
            .iter()
            .map(|(i, q)| Position { instrument: inst[*i as usize], quantity: *q })
            .collect();
        let mut accounts = Accounts::default();
        accounts.push(&account);
        let (i, q) = accounts.positions(0);
        let mut scratch = Vec::new();
        let fast = account_measure(&m, i, q, Measure::Es, 0.99, &mut scratch);
        let config = ScenarioConfig {
            measure: Measure::Es,
            confidence: 0.99,
            maintenance_fraction: 0.5,
            source: ScenarioSource::Set(set.clone()),
            apc: None,
            max_leverage: 100.0,
            horizon_years: 1.0 / 365.0,
        };
        let mut model = MarginModel::new(PolicyConfig::Scenario(config), 0).unwrap();
        let slow = model.portfolio(&positions, &MARKET).unwrap();
        // Same figure up to summation order, then rounded up to the micro-unit.
        assert!((slow.initial.to_f64() - fast).abs() < 1e-5, "{fast} {:?}", slow.initial);
        let direct: Vec<f64> =
            set.shocks.iter().map(|s| -portfolio_pnl(&positions, &MARKET, s)).collect();
        let mut d = direct.clone();
        assert!((crate::measures::es(&mut d, 0.99) - fast).abs() < 1e-7);
    }

    #[test]
    fn any_split_gives_identical_figures() {
        let inst = instruments();
        let m = PnlMatrix::new(&inst, &MARKET, &mc_set(200));
        let mut accounts = Accounts::default();
        let mut rng = StreamId::named("accounts").rng(2);
        let normal = Normal::standard();
        for a in 0..300u32 {
            let k = 1 + (a % 8) as usize;
            let pos: Vec<(u32, f64)> =
                (0..k).map(|j| ((a * 7 + j as u32 * 3) % 11, normal.sample(&mut rng))).collect();
            accounts.push(&pos);
        }
        let mut whole = vec![0.0; 300];
        let mut scratch = Vec::new();
        measure_range(&m, &accounts, 0..300, Measure::Es, 0.975, &mut whole, &mut scratch);
        for cut in [1, 77, 150, 299] {
            let mut parts = vec![0.0; 300];
            let (a, b) = parts.split_at_mut(cut);
            measure_range(&m, &accounts, 0..cut, Measure::Es, 0.975, a, &mut Vec::new());
            measure_range(&m, &accounts, cut..300, Measure::Es, 0.975, b, &mut scratch);
            assert!(whole.iter().zip(&parts).all(|(x, y)| x.to_bits() == y.to_bits()));
        }
        assert!(whole.iter().all(|x| *x >= 0.0) && whole.iter().any(|x| *x > 0.0));
    }

    #[test]
    fn skipping_blocks_gives_the_full_vector_measure_bit_for_bit() {
        // 203 scenarios (a partial last block), long, short, hedged and option books, VaR
        // and ES at several levels: the pruned measure equals the measure of the whole
        // loss vector exactly.
        let inst = instruments();
        let m = PnlMatrix::new(&inst, &MARKET, &mc_set(203));
        let mut rng = StreamId::named("pruned").rng(4);
        let normal = Normal::standard();
        let (mut full, mut scratch) = (Vec::new(), Vec::new());
        for a in 0..400u32 {
            let k = 1 + (a % 6) as usize;
            let legs: Vec<(usize, f64)> = (0..k)
                .map(|j| (((a * 5 + j as u32 * 7) % 11) as usize, 3.0 * normal.sample(&mut rng)))
                .collect();
            for (measure, alpha) in [
                (Measure::Es, 0.99),
                (Measure::Es, 0.975),
                (Measure::Var, 0.99),
                (Measure::Es, 0.5),
            ] {
                let fast = m.measure(legs.iter().copied(), measure, alpha, &mut scratch);
                m.losses(legs.iter().copied(), &mut full);
                let slow = match measure {
                    Measure::Var => var(&mut full, alpha),
                    Measure::Es => es(&mut full, alpha),
                };
                assert_eq!(fast.to_bits(), slow.to_bits(), "{legs:?} {measure:?} {alpha}");
            }
        }
    }

    #[test]
    fn thread_count_does_not_change_a_figure() {
        use rayon::prelude::*;
        let inst = instruments();
        let m = PnlMatrix::new(&inst, &MARKET, &mc_set(1000));
        let mut accounts = Accounts::default();
        let mut rng = StreamId::named("threads").rng(5);
        let normal = Normal::standard();
        for a in 0..2000u32 {
            let pos: Vec<(u32, f64)> =
                (0..1 + a % 8).map(|j| ((a + 3 * j) % 11, normal.sample(&mut rng))).collect();
            accounts.push(&pos);
        }
        let run = |threads: usize| -> Vec<u64> {
            let mut out = vec![0.0; accounts.len()];
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                out.par_chunks_mut(97).enumerate().for_each(|(c, slots)| {
                    let start = c * 97;
                    let range = start..start + slots.len();
                    measure_range(&m, &accounts, range, Measure::Es, 0.99, slots, &mut Vec::new());
                });
            });
            out.iter().map(|x| x.to_bits()).collect()
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(4));
        assert!(one.iter().all(|b| f64::from_bits(*b) > 0.0));
    }

    fn excess_at(positions: &[Position], excess: f64, forward: f64) -> f64 {
        let shock = Shock {
            log_return: (forward / MARKET.forward).ln(),
            vol_shift: 0.0,
            horizon_years: 0.0,
        };
        excess + portfolio_pnl(positions, &MARKET, &shock)
    }

    #[test]
    fn linear_trigger_is_exact() {
        // 2 long with 3000 of excess: liquidate at 30000 - 1500; short: at 30000 + 1500.
        let long = [Position { instrument: Instrument::Perpetual, quantity: 2.0 }];
        let t = trigger(&long, &MARKET, 3000.0);
        assert_eq!((t.lower, t.upper), (28_500.0, f64::INFINITY));
        assert!(excess_at(&long, 3000.0, t.lower).abs() < 1e-9);
        let short = [Position { instrument: Instrument::Perpetual, quantity: -2.0 }];
        assert_eq!(trigger(&short, &MARKET, 3000.0).upper, 31_500.0);
        assert_eq!(trigger(&short, &MARKET, -1.0), Trigger { lower: 30_000.0, upper: 30_000.0 });
    }

    #[test]
    fn option_trigger_is_conservative() {
        let inst = instruments();
        let books: [&[(usize, f64)]; 3] = [
            &[(5, -1.0), (8, -1.0)],            // short strangle
            &[(0, 1.0), (6, 1.0), (3, -2.0)],   // perp, long put, short calls
            &[(0, -0.5), (1, -3.0), (2, -3.0)], // short near-expiry straddle, short perp
        ];
        for book in books {
            let positions: Vec<Position> =
                book.iter().map(|(i, q)| Position { instrument: inst[*i], quantity: *q }).collect();
            for excess in [100.0, 1000.0, 5000.0] {
                let t = trigger(&positions, &MARKET, excess);
                assert!(t.lower < MARKET.forward && t.upper > MARKET.forward, "{t:?}");
                // Inside the bracket the true excess never goes negative.
                let hi = t.upper.min(3.0 * MARKET.forward);
                for k in 0..=2000 {
                    let f = t.lower + (hi - t.lower) * k as f64 / 2000.0;
                    assert!(excess_at(&positions, excess, f) >= -1e-6, "{book:?} {excess} {f}");
                }
            }
        }
    }
}
