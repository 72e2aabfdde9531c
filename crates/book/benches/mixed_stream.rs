//! The book under a seeded mixed stream, against a published Rust order book.
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
        let owner = rng.random_range(0..64u32);
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

/// Runs the stream on a fresh book; returns a digest of every fill.
fn run_liqsim(ops: &[Op], ids: &mut Vec<Option<OrderId>>, fills: &mut Vec<Fill>) -> u64 {
    let mut book = new_book();
    ids.clear();
    let mut digest: u64 = 0xcbf2_9ce4_8422_2325;
    for op in ops {
        ids.push(apply(&mut book, op, ids, fills));
        for f in fills.iter() {
            for word in [f.maker_order.0, f.price.ticks() as u64, f.qty.lots() as u64] {
                digest = (digest ^ word).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        fills.clear();
    }
    digest
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
    let counts = ops.iter().fold([0usize; 3], |mut n, op| {
        n[match op {
            Op::Limit { .. } => 0,
            Op::Cancel { .. } => 1,
            Op::Market { .. } => 2,
        }] += 1;
        n
    });
    println!(
        "stream: {} commands ({} limit, {} cancel, {} market); fill digest {digest:016x}",
        ops.len(),
        counts[0],
        counts[1],
        counts[2]
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

    let commands = matchcore_commands(&ops);
    let mut group = c.benchmark_group("book_mixed_stream");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ops.len() as u64));
    group.bench_function("liqsim-book", |b| {
        b.iter(|| black_box(run_liqsim(&ops, &mut ids, &mut fills)))
    });
    group.bench_function("matchcore", |b| {
        b.iter(|| {
            let mut book = matchcore::OrderBook::new("BENCH");
            for cmd in &commands {
                black_box(book.execute(cmd));
            }
            black_box(book)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
