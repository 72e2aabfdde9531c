//! Behaviour of the book through its public API: each order type, self-trade prevention,
//! replace priority, price protection; and a differential property test against a
//! deliberately simple reference book.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use liqsim_book::*;
use liqsim_core::{ContractSpec, Money, Price, Qty};
use proptest::prelude::*;

fn order(owner: u32, side: Side, kind: OrderKind, price: i64, qty: i64) -> NewOrder {
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

fn book(stp: StpMode) -> OrderBook {
    OrderBook::new(BookConfig { stp, capacity: 16 })
}

fn submit(b: &mut OrderBook, o: NewOrder) -> (SubmitResult, Vec<Fill>) {
    let mut fills = Vec::new();
    let r = b.submit(o, &mut fills);
    b.check().unwrap();
    assert_eq!(r.filled.lots() + r.resting.lots() + r.returned.lots(), o.qty.lots());
    (r, fills)
}

fn fills_summary(fills: &[Fill]) -> Vec<(u32, i64, i64)> {
    fills.iter().map(|f| (f.maker_owner.0, f.price.ticks(), f.qty.lots())).collect()
}

#[test]
fn limit_orders_match_in_price_time_priority() {
    let mut b = book(StpMode::CancelTaker);
    submit(&mut b, order(1, Side::Sell, OrderKind::Limit, 101, 5));
    submit(&mut b, order(2, Side::Sell, OrderKind::Limit, 100, 3));
    submit(&mut b, order(3, Side::Sell, OrderKind::Limit, 100, 4));
    let (r, f) = submit(&mut b, order(9, Side::Buy, OrderKind::Limit, 101, 10));
    // Best price first (100), then time (owner 2 before 3), then 101.
    assert_eq!(fills_summary(&f), [(2, 100, 3), (3, 100, 4), (1, 101, 3)]);
    assert_eq!((r.filled.lots(), r.resting.lots(), r.stop), (10, 0, Stop::Filled));
    assert_eq!(b.best_ask(), Some((Price::from_ticks(101), Qty::from_lots(2))));
    assert!(f.iter().all(|f| f.aggressor == Side::Buy && f.taker_owner == OwnerId(9)));
    assert_eq!(f.iter().map(|f| f.maker_done).collect::<Vec<_>>(), [true, true, false]);
}

#[test]
fn a_limit_rests_what_it_cannot_fill() {
    let mut b = book(StpMode::CancelTaker);
    submit(&mut b, order(1, Side::Sell, OrderKind::Limit, 100, 2));
    let (r, _) = submit(&mut b, order(2, Side::Buy, OrderKind::Limit, 100, 5));
    assert_eq!((r.filled.lots(), r.resting.lots(), r.stop), (2, 3, Stop::Rested));
    assert_eq!(b.best_bid(), Some((Price::from_ticks(100), Qty::from_lots(3))));
    assert_eq!(b.order(r.order_id.unwrap()).unwrap().qty, Qty::from_lots(3));
}

#[test]
fn ioc_fok_market_and_post_only() {
    let mut b = book(StpMode::CancelTaker);
    submit(&mut b, order(1, Side::Sell, OrderKind::Limit, 100, 2));
    submit(&mut b, order(1, Side::Sell, OrderKind::Limit, 102, 2));
    let (r, _) = submit(&mut b, order(2, Side::Buy, OrderKind::Ioc, 101, 5));
    assert_eq!((r.filled.lots(), r.returned.lots(), r.stop), (2, 3, Stop::LimitReached));
    let (r, f) = submit(&mut b, order(2, Side::Buy, OrderKind::Fok, 102, 3));
    assert_eq!(
        (r.filled.lots(), r.returned.lots(), r.stop, f.len()),
        (0, 3, Stop::FokUnfillable, 0)
    );
    let (r, _) = submit(&mut b, order(2, Side::Buy, OrderKind::Fok, 102, 2));
    assert_eq!((r.filled.lots(), r.stop), (2, Stop::Filled));
    submit(&mut b, order(1, Side::Sell, OrderKind::Limit, 105, 1));
    let (r, _) = submit(&mut b, order(3, Side::Buy, OrderKind::PostOnly, 105, 1));
    assert_eq!((r.returned.lots(), r.stop), (1, Stop::PostOnlyWouldCross));
    let (r, _) = submit(&mut b, order(3, Side::Buy, OrderKind::PostOnly, 104, 1));
    assert_eq!(r.stop, Stop::Rested);
    let (r, _) = submit(&mut b, order(4, Side::Sell, OrderKind::Market, 0, 3));
    assert_eq!((r.filled.lots(), r.returned.lots(), r.stop), (1, 2, Stop::BookEmpty));
}

#[test]
fn protection_bounds_market_orders() {
    let mut b = book(StpMode::CancelTaker);
    for (p, q) in [(99, 1), (98, 1), (95, 5)] {
        submit(&mut b, order(1, Side::Buy, OrderKind::Limit, p, q));
    }
    // A liquidation sell bounded at the bankruptcy price 97 never fills below it.
    let mut o = order(2, Side::Sell, OrderKind::Market, 0, 10);
    o.protection = Some(Price::from_ticks(97));
    let (r, f) = submit(&mut b, o);
    assert_eq!(fills_summary(&f), [(1, 99, 1), (1, 98, 1)]);
    assert_eq!((r.filled.lots(), r.returned.lots(), r.stop), (2, 8, Stop::ProtectionReached));
    assert_eq!(b.best_bid(), Some((Price::from_ticks(95), Qty::from_lots(5))));
}

#[test]
fn max_quantity_caps_a_reduce_only_order() {
    let mut b = book(StpMode::CancelTaker);
    submit(&mut b, order(1, Side::Buy, OrderKind::Limit, 100, 10));
    let mut o = order(2, Side::Sell, OrderKind::Market, 0, 10);
    o.max_qty = Some(Qty::from_lots(4));
    let (r, _) = submit(&mut b, o);
    assert_eq!((r.filled.lots(), r.returned.lots()), (4, 6));
}

#[test]
fn self_trade_prevention_modes() {
    for (mode, filled, maker_left, stop) in [
        (StpMode::CancelTaker, 1, 2, Stop::SelfTrade),
        (StpMode::CancelMaker, 3, 0, Stop::Filled),
        (StpMode::CancelBoth, 1, 0, Stop::SelfTrade),
    ] {
        let mut b = book(mode);
        submit(&mut b, order(5, Side::Sell, OrderKind::Limit, 100, 1));
        submit(&mut b, order(7, Side::Sell, OrderKind::Limit, 100, 2));
        submit(&mut b, order(5, Side::Sell, OrderKind::Limit, 101, 5));
        let (r, f) = submit(&mut b, order(7, Side::Buy, OrderKind::Limit, 101, 3));
        assert_eq!(r.filled.lots(), filled, "{mode:?}");
        assert_eq!(r.stop, stop, "{mode:?}");
        assert!(f.iter().all(|f| f.maker_owner != OwnerId(7)));
        assert_eq!(b.resting_qty(OwnerId(7)).lots(), maker_left, "{mode:?}");
    }
}

#[test]
fn replace_keeps_priority_only_when_shrinking_in_place() {
    let mut b = book(StpMode::CancelTaker);
    let (a, _) = submit(&mut b, order(1, Side::Sell, OrderKind::Limit, 100, 5));
    submit(&mut b, order(2, Side::Sell, OrderKind::Limit, 100, 5));
    let mut fills = Vec::new();
    b.replace(a.order_id.unwrap(), Price::from_ticks(100), Qty::from_lots(3), &mut fills).unwrap();
    let (_, f) = submit(&mut b, order(9, Side::Buy, OrderKind::Ioc, 100, 1));
    assert_eq!(f[0].maker_owner, OwnerId(1), "size down keeps the front of the queue");
    b.replace(a.order_id.unwrap(), Price::from_ticks(100), Qty::from_lots(4), &mut fills).unwrap();
    b.check().unwrap();
    let (_, f) = submit(&mut b, order(9, Side::Buy, OrderKind::Ioc, 100, 1));
    assert_eq!(f[0].maker_owner, OwnerId(2), "size up goes to the back");
    assert!(b.cancel(a.order_id.unwrap()).is_none(), "a replaced order has a new id");
}

#[test]
fn cancels_and_queries() {
    let mut b = book(StpMode::CancelTaker);
    let spec = ContractSpec::new(Money::from_micros(1_000_000), 1_000_000_000).unwrap();
    let (a, _) = submit(&mut b, order(1, Side::Buy, OrderKind::Limit, 100, 5));
    submit(&mut b, order(1, Side::Buy, OrderKind::Limit, 99, 5));
    submit(&mut b, order(2, Side::Buy, OrderKind::Limit, 98, 5));
    submit(&mut b, order(2, Side::Sell, OrderKind::Limit, 102, 4));
    submit(&mut b, order(3, Side::Sell, OrderKind::Limit, 104, 6));
    assert_eq!(b.qty_to_price(Side::Buy, Price::from_ticks(99)).lots(), 10);
    assert_eq!(b.qty_to_price(Side::Sell, Price::from_ticks(103)).lots(), 4);
    let mut d = Vec::new();
    b.depth(Side::Buy, 2, &mut d);
    assert_eq!(
        d,
        [(Price::from_ticks(100), Qty::from_lots(5)), (Price::from_ticks(99), Qty::from_lots(5))]
    );
    // Impact ask for 1000 quote units: 4 lots at 102 (408) then 592/104 = 5.6923 lots
    // at 104: average 1000 / 9.6923 = 103.174.
    let ia = b.impact_price(Side::Buy, Money::from_units(1000).unwrap(), &spec).unwrap().unwrap();
    assert!((ia - 1000.0 / (4.0 + 592.0 / 104.0)).abs() < 1e-9, "{ia}");
    assert_eq!(b.impact_price(Side::Buy, Money::from_units(10_000).unwrap(), &spec).unwrap(), None);
    assert_eq!(b.notional_within(Side::Buy, 1, &spec).unwrap(), Money::from_units(995).unwrap());
    assert_eq!(b.cancel(a.order_id.unwrap()), Some(Qty::from_lots(5)));
    assert_eq!(b.cancel(a.order_id.unwrap()), None);
    assert_eq!(b.cancel_all(OwnerId(2)).lots(), 9);
    assert_eq!(b.resting_qty(OwnerId(2)).lots(), 0);
    assert_eq!(b.len(), 2);
    b.check().unwrap();
}

/// A deliberately simple book: a flat list scanned in full for every command.
#[derive(Debug, Default)]
struct Reference {
    orders: Vec<(u64, OrderId, u32, Side, i64, i64)>, // (arrival, id, owner, side, price, qty)
    clock: u64,
}

impl Reference {
    fn submit(
        &mut self,
        o: NewOrder,
        stp: StpMode,
        id: Option<OrderId>,
    ) -> (Vec<(u32, i64, i64)>, i64, i64) {
        let mut qty = o.max_qty.map_or(o.qty.lots(), |m| m.lots().min(o.qty.lots()));
        let limit = if o.kind == OrderKind::Market {
            if o.side == Side::Buy { i64::MAX } else { i64::MIN }
        } else {
            o.price.ticks()
        };
        let bound = match (o.side, o.protection) {
            (Side::Buy, Some(p)) => limit.min(p.ticks()),
            (Side::Sell, Some(p)) => limit.max(p.ticks()),
            _ => limit,
        };
        let ok = |side: Side, p: i64| if side == Side::Buy { p <= bound } else { p >= bound };
        let mut queue: Vec<usize> = (0..self.orders.len())
            .filter(|&i| self.orders[i].3 != o.side && ok(o.side, self.orders[i].4))
            .collect();
        queue.sort_by_key(|&i| {
            (
                if o.side == Side::Buy { self.orders[i].4 } else { -self.orders[i].4 },
                self.orders[i].0,
            )
        });
        if o.kind == OrderKind::PostOnly && !queue.is_empty() {
            return (vec![], 0, 0);
        }
        if o.kind == OrderKind::Fok {
            let mut avail = 0;
            for &i in &queue {
                if self.orders[i].2 == o.owner.0 {
                    if stp != StpMode::CancelMaker {
                        break;
                    }
                } else {
                    avail += self.orders[i].5;
                }
            }
            if avail < qty {
                return (vec![], 0, 0);
            }
        }
        let mut fills = vec![];
        let mut filled = 0;
        let mut remove = vec![];
        let mut self_trade = false;
        for &i in &queue {
            if qty == 0 {
                break;
            }
            if self.orders[i].2 == o.owner.0 {
                match stp {
                    StpMode::CancelTaker => {
                        self_trade = true;
                        break;
                    }
                    StpMode::CancelMaker => {
                        remove.push(i);
                        continue;
                    }
                    StpMode::CancelBoth => {
                        remove.push(i);
                        self_trade = true;
                        break;
                    }
                }
            }
            let take = qty.min(self.orders[i].5);
            fills.push((self.orders[i].2, self.orders[i].4, take));
            self.orders[i].5 -= take;
            if self.orders[i].5 == 0 {
                remove.push(i);
            }
            qty -= take;
            filled += take;
        }
        remove.sort_unstable();
        for i in remove.into_iter().rev() {
            self.orders.remove(i);
        }
        let mut resting = 0;
        if qty > 0 && matches!(o.kind, OrderKind::Limit | OrderKind::PostOnly) && !self_trade {
            self.clock += 1;
            self.orders.push((self.clock, id.unwrap(), o.owner.0, o.side, bound, qty));
            resting = qty;
        }
        (fills, filled, resting)
    }

    /// Every level of `side`, best first: (price, total quantity).
    fn levels(&self, side: Side) -> Vec<(i64, i64)> {
        let mut prices: Vec<i64> =
            self.orders.iter().filter(|o| o.3 == side).map(|o| o.4).collect();
        prices.sort_unstable();
        prices.dedup();
        if side == Side::Buy {
            prices.reverse();
        }
        prices
            .into_iter()
            .map(|p| (p, self.orders.iter().filter(|o| o.3 == side && o.4 == p).map(|o| o.5).sum()))
            .collect()
    }

    fn best(&self, side: Side) -> Option<(i64, i64)> {
        let prices = self.orders.iter().filter(|o| o.3 == side).map(|o| o.4);
        let best = if side == Side::Buy { prices.max() } else { prices.min() }?;
        Some((best, self.orders.iter().filter(|o| o.3 == side && o.4 == best).map(|o| o.5).sum()))
    }
}

#[derive(Debug, Clone)]
enum Command {
    Submit {
        owner: u32,
        buy: bool,
        kind: u8,
        price: i64,
        qty: i64,
        protection: Option<i64>,
        max_qty: Option<i64>,
    },
    Cancel(usize),
    CancelAll(u32),
    Shrink(usize, i64),
}

fn command_at(
    prices: impl Strategy<Value = i64> + Clone + 'static,
) -> impl Strategy<Value = Command> {
    let protection = prices.clone().prop_map(|p| p + 5);
    prop_oneof![
        6 => (0u32..4, any::<bool>(), 0u8..5, prices, 1i64..20, prop::option::of(protection), prop::option::of(1i64..20))
            .prop_map(|(owner, buy, kind, price, qty, protection, max_qty)| Command::Submit { owner, buy, kind, price, qty, protection, max_qty }),
        2 => any::<usize>().prop_map(Command::Cancel),
        1 => (0u32..4).prop_map(Command::CancelAll),
        1 => (any::<usize>(), 1i64..10).prop_map(|(i, q)| Command::Shrink(i, q)),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    command_at(990i64..1010)
}

/// Prices near a centre, a few thousand ticks out (beyond the book's dense window) and
/// very far (near the ends of the tick range), so levels live in the window, outside it,
/// and move between the two as the window re-centres.
fn far_command() -> impl Strategy<Value = Command> {
    command_at(prop_oneof![
        8 => 990i64..1010,
        3 => -6_000i64..8_000,
        1 => prop_oneof![Just(i64::MIN / 2 - 7), Just(i64::MAX / 2 + 7), -4_000_000_000i64..4_000_000_000],
    ])
}

/// Runs `commands` on the book and the reference, asserting after each that fills,
/// outcomes, best prices, every level of both sides and the order count agree. Prices
/// move by `drift` ticks per command, so the action walks across the dense window.
fn against_reference(
    commands: Vec<Command>,
    stp: StpMode,
    drift: i64,
) -> Result<(), TestCaseError> {
    let mut b = book(stp);
    let mut r = Reference::default();
    let mut fills = Vec::new();
    let mut depth = Vec::new();
    for (step, c) in commands.into_iter().enumerate() {
        let shift = drift * step as i64;
        match c {
            Command::Submit { owner, buy, kind, price, qty, protection, max_qty } => {
                let kind = [
                    OrderKind::Limit,
                    OrderKind::PostOnly,
                    OrderKind::Ioc,
                    OrderKind::Fok,
                    OrderKind::Market,
                ][kind as usize];
                let side = if buy { Side::Buy } else { Side::Sell };
                let o = NewOrder {
                    owner: OwnerId(owner),
                    side,
                    kind,
                    price: Price::from_ticks(price + shift),
                    qty: Qty::from_lots(qty),
                    protection: protection.map(|p| Price::from_ticks(p + shift)),
                    max_qty: max_qty.map(Qty::from_lots),
                };
                fills.clear();
                let res = b.submit(o, &mut fills);
                let (ref_fills, filled, resting) = r.submit(o, stp, res.order_id);
                prop_assert_eq!(
                    fills
                        .iter()
                        .map(|f| (f.maker_owner.0, f.price.ticks(), f.qty.lots()))
                        .collect::<Vec<_>>(),
                    ref_fills
                );
                prop_assert_eq!((res.filled.lots(), res.resting.lots()), (filled, resting));
                prop_assert_eq!(res.filled.lots() + res.resting.lots() + res.returned.lots(), qty);
            }
            Command::Cancel(i) if !r.orders.is_empty() => {
                let i = i % r.orders.len();
                let (_, id, .., q) = r.orders.remove(i);
                prop_assert_eq!(b.cancel(id), Some(Qty::from_lots(q)));
            }
            Command::CancelAll(owner) => {
                let expected: i64 = r.orders.iter().filter(|o| o.2 == owner).map(|o| o.5).sum();
                r.orders.retain(|o| o.2 != owner);
                prop_assert_eq!(b.cancel_all(OwnerId(owner)).lots(), expected);
            }
            Command::Shrink(i, q) if !r.orders.is_empty() => {
                let i = i % r.orders.len();
                let o = r.orders[i];
                if q < o.5 {
                    r.orders[i].5 = q;
                    let res = b
                        .replace(o.1, Price::from_ticks(o.4), Qty::from_lots(q), &mut fills)
                        .unwrap();
                    prop_assert_eq!(res.order_id, Some(o.1));
                }
            }
            _ => {}
        }
        b.check().unwrap();
        for side in [Side::Buy, Side::Sell] {
            let ours = if side == Side::Buy { b.best_bid() } else { b.best_ask() };
            prop_assert_eq!(ours.map(|(p, q)| (p.ticks(), q.lots())), r.best(side));
            b.depth(side, usize::MAX, &mut depth);
            prop_assert_eq!(
                depth.iter().map(|(p, q)| (p.ticks(), q.lots())).collect::<Vec<_>>(),
                r.levels(side)
            );
        }
        prop_assert_eq!(b.len(), r.orders.len());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_reference_book(commands in prop::collection::vec(command(), 1000..20000), stp in 0u8..3) {
        let stp = [StpMode::CancelTaker, StpMode::CancelMaker, StpMode::CancelBoth][stp as usize];
        against_reference(commands, stp, 0)?;
    }

    #[test]
    fn matches_the_reference_book_far_from_the_window_and_drifting(
        commands in prop::collection::vec(far_command(), 200..3000),
        stp in 0u8..3,
        drift in prop_oneof![Just(0i64), Just(1), Just(-3), Just(7)],
    ) {
        let stp = [StpMode::CancelTaker, StpMode::CancelMaker, StpMode::CancelBoth][stp as usize];
        against_reference(commands, stp, drift)?;
    }
}
