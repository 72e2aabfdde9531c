//! The book under a seeded mixed stream, against a published Rust order book (matchcore
//! 0.4) and a plain `BTreeMap` book written here in a few dozen lines.
//!
//! Same work for all three: every order has its own owner, so liqsim's self-trade
//! prevention never fires (matchcore has none), and before anything is timed the bench
//! asserts that the three produce the same fills: the count and a hash of the sequence of
//! (maker, taker, price, quantity), makers and takers named by their command number.
//!
//! About 10,000 orders rest throughout. The stream: new limit orders 0 to 200 ticks behind
//! the best price of their side (one tick inside the spread when it is wider than two
//! ticks), cancels of random live orders, and 10% marketable orders sweeping one to five
//! levels; the new/cancel mix tilts around 60/30 to keep the resting count steady. The
//! stream is generated (by running it once) before anything is timed, so only book work
//! is timed. Each run prints the digest of its fills, so a faster book that changes
//! results shows, and the per-command median and p99 (from a separate pass that times each
//! command; clock overhead included).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liqsim_book::{
    BookConfig, Fill, NewOrder, OrderBook, OrderId, OrderKind, OwnerId, Side, StpMode,
};
use liqsim_core::{Price, Qty, StreamId};
use rand::RngExt;
use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;

#[derive(Debug, Clone, Copy)]
enum Op {
    Limit {
        side: Side,
        price: i64,
        qty: i64,
        owner: u32,
    },
    /// Cancels the order submitted by op number `target`.
    Cancel {
        target: usize,
    },
    Market {
        side: Side,
        qty: i64,
        owner: u32,
    },
}

const MID: i64 = 1_000_000;

fn new_book() -> OrderBook {
    OrderBook::new(BookConfig { stp: StpMode::CancelTaker, capacity: 16_384 })
}

fn order(side: Side, kind: OrderKind, price: i64, qty: i64, owner: u32) -> NewOrder {
    NewOrder {
        owner: OwnerId(owner),
        side,
        kind,
        price: Price::from_ticks(price),
        qty: Qty::from_lots(qty),
        protection: None,
        max_qty: None,
    }
}

/// The stream: `prefill` resting orders, then `n` mixed commands.
fn generate(prefill: usize, n: usize) -> Vec<Op> {
    let mut rng = StreamId::named("book-bench").rng(1);
    let mut book = new_book();
    let mut fills = Vec::new();
    let mut ids: Vec<Option<OrderId>> = Vec::new();
    let mut live: Vec<usize> = Vec::new();
    let mut ops = Vec::with_capacity(prefill + n);
    let mut depth = Vec::new();
    for i in 0..prefill + n {
        let side = if rng.random::<bool>() { Side::Buy } else { Side::Sell };
        // Its own owner per order: no self-trade anywhere (drawn to keep the stream's
        // random sequence as it was).
        let _ = rng.random_range(0..64u32);
        let owner = i as u32;
        let roll: f64 = rng.random();
        let new_share = if book.len() > 10_000 { 0.55 } else { 0.65 };
        let op = if i < prefill || roll < new_share {
            let best = match side {
                Side::Buy => book.best_bid().map_or(MID - 1, |(p, _)| p.ticks()),
                Side::Sell => book.best_ask().map_or(MID + 1, |(p, _)| p.ticks()),
            };
            let spread = match (book.best_bid(), book.best_ask()) {
                (Some((b, _)), Some((a, _))) => a.ticks() - b.ticks(),
                _ => 0,
            };
            let behind = rng.random_range(0..=200i64);
            let price = if spread > 2 && i >= prefill {
                if side == Side::Buy { best + 1 } else { best - 1 }
            } else if side == Side::Buy {
                best - behind
            } else {
                best + behind
            };
            Op::Limit { side, price, qty: rng.random_range(1..=10), owner }
        } else if roll < 0.9 && !live.is_empty() {
            let mut target = None;
            for _ in 0..8 {
                let k = rng.random_range(0..live.len());
                let candidate = live.swap_remove(k);
                if ids[candidate].and_then(|id| book.order(id)).is_some() {
                    target = Some(candidate);
                    break;
                }
                if live.is_empty() {
                    break;
                }
            }
            match target {
                Some(t) => Op::Cancel { target: t },
                None => Op::Limit { side, price: MID, qty: 1, owner },
            }
        } else {
            book.depth(side.opposite(), rng.random_range(1..=5), &mut depth);
            let qty: i64 = depth.iter().map(|(_, q)| q.lots()).sum::<i64>().max(1);
            Op::Market { side, qty, owner }
        };
        ids.push(apply(&mut book, &op, &ids, &mut fills));
        if matches!(op, Op::Limit { .. }) && ids[i].is_some() {
            live.push(i);
        }
        fills.clear();
        ops.push(op);
    }
    ops
}

fn apply(
    book: &mut OrderBook,
    op: &Op,
    ids: &[Option<OrderId>],
    fills: &mut Vec<Fill>,
) -> Option<OrderId> {
    match *op {
        Op::Limit { side, price, qty, owner } => {
            book.submit(order(side, OrderKind::Limit, price, qty, owner), fills).order_id
        }
        Op::Cancel { target } => {
            if let Some(id) = ids[target] {
                book.cancel(id);
            }
            None
        }
        Op::Market { side, qty, owner } => {
            book.submit(order(side, OrderKind::Market, 0, qty, owner), fills);
            None
        }
    }
}

/// Fills as (maker command, taker command, price, quantity), folded into a count and an
/// FNV-1a hash of the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FillDigest {
    fills: u64,
    hash: u64,
}

impl FillDigest {
    const NEW: FillDigest = FillDigest { fills: 0, hash: 0xcbf2_9ce4_8422_2325 };

    fn add(&mut self, maker: u64, taker: u64, price: i64, qty: i64) {
        self.fills += 1;
        for word in [maker, taker, price as u64, qty as u64] {
            self.hash = (self.hash ^ word).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Runs the stream on a fresh book. Owners are command numbers, so a fill's owners name
/// its maker and taker commands.
fn run_liqsim(ops: &[Op], ids: &mut Vec<Option<OrderId>>, fills: &mut Vec<Fill>) -> FillDigest {
    let mut book = new_book();
    ids.clear();
    let mut digest = FillDigest::NEW;
    for op in ops {
        ids.push(apply(&mut book, op, ids, fills));
        for f in fills.iter() {
            let (maker, taker) = (u64::from(f.maker_owner.0), u64::from(f.taker_owner.0));
            digest.add(maker, taker, f.price.ticks(), f.qty.lots());
        }
        fills.clear();
    }
    digest
}

/// The plain book: a `BTreeMap` from price to a FIFO of (command, quantity) per side,
/// cancels found by their command's price and a scan of that level.
#[derive(Default)]
struct PlainBook {
    bids: BTreeMap<i64, VecDeque<(u32, i64)>>,
    asks: BTreeMap<i64, VecDeque<(u32, i64)>>,
    resting_at: Vec<Option<(Side, i64)>>,
}

impl PlainBook {
    /// Matches `qty` of command `taker` up to `limit`; returns what is left.
    fn take(
        &mut self,
        taker: u32,
        side: Side,
        limit: i64,
        mut qty: i64,
        d: &mut FillDigest,
    ) -> i64 {
        while qty > 0 {
            let mut level = match side {
                Side::Buy => self.asks.first_entry(),
                Side::Sell => self.bids.last_entry(),
            };
            let Some(entry) = level.as_mut() else { break };
            let price = *entry.key();
            let crosses = if side == Side::Buy { price <= limit } else { price >= limit };
            if !crosses {
                break;
            }
            let queue = entry.get_mut();
            while qty > 0 {
                let Some(front) = queue.front_mut() else { break };
                let take = qty.min(front.1);
                d.add(u64::from(front.0), u64::from(taker), price, take);
                front.1 -= take;
                qty -= take;
                if front.1 == 0 {
                    self.resting_at[front.0 as usize] = None;
                    queue.pop_front();
                }
            }
            if queue.is_empty()
                && let Some(entry) = level
            {
                entry.remove();
            }
        }
        qty
    }

    fn apply(&mut self, i: usize, op: &Op, d: &mut FillDigest) {
        self.resting_at.push(None);
        match *op {
            Op::Limit { side, price, qty, .. } => {
                let left = self.take(i as u32, side, price, qty, d);
                if left > 0 {
                    let levels = if side == Side::Buy { &mut self.bids } else { &mut self.asks };
                    levels.entry(price).or_default().push_back((i as u32, left));
                    self.resting_at[i] = Some((side, price));
                }
            }
            Op::Market { side, qty, .. } => {
                let limit = if side == Side::Buy { i64::MAX } else { i64::MIN };
                self.take(i as u32, side, limit, qty, d);
            }
            Op::Cancel { target } => {
                let Some((side, price)) = self.resting_at[target].take() else { return };
                let levels = if side == Side::Buy { &mut self.bids } else { &mut self.asks };
                if let Some(queue) = levels.get_mut(&price) {
                    queue.retain(|(c, _)| *c as usize != target);
                    if queue.is_empty() {
                        levels.remove(&price);
                    }
                }
            }
        }
    }
}

fn run_plain(ops: &[Op]) -> FillDigest {
    let mut book = PlainBook { resting_at: Vec::with_capacity(ops.len()), ..PlainBook::default() };
    let mut digest = FillDigest::NEW;
    for (i, op) in ops.iter().enumerate() {
        book.apply(i, op, &mut digest);
    }
    digest
}

/// Runs matchcore's book; also counts the commands it rejected.
fn run_matchcore(commands: &[matchcore::Command]) -> (FillDigest, usize) {
    use matchcore::{CommandOutcome, CommandReport};
    let mut book = matchcore::OrderBook::new("BENCH");
    let mut digest = FillDigest::NEW;
    let mut rejected = 0;
    for (i, cmd) in commands.iter().enumerate() {
        match book.execute(cmd) {
            CommandOutcome::Applied(CommandReport::Submit(effects)) => {
                if let Some(result) = effects.target_order().match_result() {
                    for t in result.trades() {
                        let (price, qty) = (t.price().0 as i64, t.quantity().0 as i64);
                        digest.add(t.maker_order_id().0, i as u64, price, qty);
                    }
                }
            }
            CommandOutcome::Applied(_) => {}
            CommandOutcome::Rejected(_) => rejected += 1,
        }
    }
    (digest, rejected)
}

fn matchcore_commands(ops: &[Op]) -> Vec<matchcore::Command> {
    use matchcore::*;
    ops.iter()
        .enumerate()
        .map(|(i, op)| {
            let meta = CommandMeta {
                sequence_number: SequenceNumber(i as u64),
                timestamp: Timestamp(i as u64),
            };
            let side = |s: liqsim_book::Side| {
                if s == liqsim_book::Side::Buy { Side::Buy } else { Side::Sell }
            };
            let kind = match *op {
                Op::Limit { side: s, price, qty, .. } => CommandKind::Submit(SubmitCmd {
                    order: NewOrder::Limit(LimitOrder::new(
                        Price(price as u64),
                        QuantityPolicy::Standard { quantity: Quantity(qty as u64) },
                        OrderFlags::new(side(s), false, TimeInForce::Gtc),
                    )),
                }),
                Op::Cancel { target } => CommandKind::Cancel(CancelCmd {
                    order_id: OrderId(target as u64),
                    order_kind: OrderKind::Limit,
                }),
                Op::Market { side: s, qty, .. } => CommandKind::Submit(SubmitCmd {
                    order: NewOrder::Market(MarketOrder::new(Quantity(qty as u64), side(s), false)),
                }),
            };
            Command { meta, kind }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let ops = generate(10_000, 1_000_000);
    let mut ids = Vec::with_capacity(ops.len());
    let mut fills = Vec::with_capacity(64);
    let digest = run_liqsim(&ops, &mut ids, &mut fills);
    assert_eq!(
        digest,
        run_liqsim(&ops, &mut ids, &mut fills),
        "the same stream must give the same fills"
    );
    let commands = matchcore_commands(&ops);
    let (matchcore_digest, rejected) = run_matchcore(&commands);
    assert_eq!(run_plain(&ops), digest, "the plain BTreeMap book's fills differ");
    assert_eq!(matchcore_digest, digest, "matchcore's fills differ");
    let counts = ops.iter().fold([0usize; 3], |mut n, op| {
        n[match op {
            Op::Limit { .. } => 0,
            Op::Cancel { .. } => 1,
            Op::Market { .. } => 2,
        }] += 1;
        n
    });
    println!(
        "stream: {} commands ({} limit, {} cancel, {} market); {} fills, the same in all three \
         books, digest {:016x}; matchcore rejected {rejected}",
        ops.len(),
        counts[0],
        counts[1],
        counts[2],
        digest.fills,
        digest.hash
    );
    // Per-command latency: each command timed on its own.
    let mut hist = hdrhistogram::Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("{e}"));
    let mut book = new_book();
    ids.clear();
    for op in &ops {
        let t = std::time::Instant::now();
        let id = apply(&mut book, op, &ids, &mut fills);
        let ns = t.elapsed().as_nanos() as u64;
        ids.push(id);
        fills.clear();
        let _ = hist.record(ns.max(1));
    }
    println!(
        "per command: median {} ns, p99 {} ns, max {} ns (timer overhead included)",
        hist.value_at_quantile(0.5),
        hist.value_at_quantile(0.99),
        hist.max()
    );

    let mut group = c.benchmark_group("book_mixed_stream");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ops.len() as u64));
    group.bench_function("liqsim-book", |b| {
        b.iter(|| black_box(run_liqsim(&ops, &mut ids, &mut fills)))
    });
    group.bench_function("plain-btreemap", |b| b.iter(|| black_box(run_plain(&ops))));
    group.bench_function("matchcore", |b| b.iter(|| black_box(run_matchcore(&commands))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
