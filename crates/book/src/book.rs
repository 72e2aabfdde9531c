//! The order book and matching engine (layout and rules in the crate docs).

use crate::ladder::{Ladder, Level, NIL};
use liqsim_core::{ContractSpec, Error, Money, Price, Qty, Result};

/// Who owns an order; the exchange maps accounts to owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnerId(pub u32);

/// Assigned by the book: slot in the low 32 bits, generation in the high 32, so a stale
/// id never reaches a reused slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// Good till cancelled: matches what it can, rests the rest.
    Limit,
    /// Rejected whole if it would match on arrival; otherwise rests.
    PostOnly,
    /// Matches what it can at its limit, returns the rest.
    Ioc,
    /// Fills whole on arrival or not at all.
    Fok,
    /// Matches at any price up to its protection bound, returns the rest.
    Market,
}

/// What self-trade prevention cancels when a taker meets its owner's resting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StpMode {
    CancelTaker,
    CancelMaker,
    CancelBoth,
}

#[derive(Debug, Clone, Copy)]
pub struct BookConfig {
    pub stp: StpMode,
    /// Orders to reserve room for.
    pub capacity: usize,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig { stp: StpMode::CancelTaker, capacity: 1024 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    pub owner: OwnerId,
    pub side: Side,
    pub kind: OrderKind,
    /// Limit price; ignored for `Market`.
    pub price: Price,
    /// Positive number of lots.
    pub qty: Qty,
    /// The worst price this order accepts (buy: highest, sell: lowest), on top of its
    /// limit. Market and liquidation orders carry one.
    pub protection: Option<Price>,
    /// At most this much may fill or rest (the exchange's reduce-only limit); the excess is
    /// returned at once.
    pub max_qty: Option<Qty>,
}

/// One match between a resting maker and an arriving taker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub maker_order: OrderId,
    pub maker_owner: OwnerId,
    pub taker_owner: OwnerId,
    /// The maker's price.
    pub price: Price,
    pub qty: Qty,
    /// The taker's side.
    pub aggressor: Side,
    /// The maker order is fully filled and gone.
    pub maker_done: bool,
}

/// Why an order stopped matching or resting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Fully filled.
    Filled,
    /// Rests on the book (partially filled or not).
    Rested,
    /// IOC or limit reached its price with quantity left (IOC returns it).
    LimitReached,
    /// The protection bound stopped it.
    ProtectionReached,
    /// No more opposite orders.
    BookEmpty,
    /// Self-trade prevention cancelled the taker's rest.
    SelfTrade,
    PostOnlyWouldCross,
    FokUnfillable,
    InvalidQuantity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitResult {
    /// Set when part of the order rests.
    pub order_id: Option<OrderId>,
    pub filled: Qty,
    pub resting: Qty,
    /// Not filled and not resting: given back to the caller. filled + resting + returned
    /// is always the submitted quantity.
    pub returned: Qty,
    pub stop: Stop,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    generation: u32,
    live: bool,
    owner: OwnerId,
    side: Side,
    price: i64,
    qty: i64,
    prev: u32,
    next: u32,
    owner_prev: u32,
    owner_next: u32,
}

/// A resting order as the book sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestingOrder {
    pub id: OrderId,
    pub owner: OwnerId,
    pub side: Side,
    pub price: Price,
    pub qty: Qty,
}

#[derive(Debug, Clone)]
pub struct OrderBook {
    config: BookConfig,
    slots: Vec<Slot>,
    free: Vec<u32>,
    bids: Ladder,
    asks: Ladder,
    /// Head slot of each owner's list, indexed by owner id.
    owner_heads: Vec<u32>,
    live_orders: usize,
}

impl OrderBook {
    pub fn new(config: BookConfig) -> OrderBook {
        OrderBook {
            config,
            slots: Vec::with_capacity(config.capacity),
            free: Vec::new(),
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            owner_heads: Vec::new(),
            live_orders: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.live_orders
    }

    pub fn is_empty(&self) -> bool {
        self.live_orders == 0
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn best_of(&self, side: Side) -> Option<(Price, Qty)> {
        let ladder = self.ladder(side);
        let price = ladder.best()?;
        ladder.get(price).map(|l| (Price::from_ticks(price), Qty::from_lots(l.qty)))
    }

    pub fn best_bid(&self) -> Option<(Price, Qty)> {
        self.best_of(Side::Buy)
    }

    pub fn best_ask(&self) -> Option<(Price, Qty)> {
        self.best_of(Side::Sell)
    }

    /// The first `levels` levels of `side`, best first, into `out` (cleared first).
    pub fn depth(&self, side: Side, levels: usize, out: &mut Vec<(Price, Qty)>) {
        out.clear();
        if levels == 0 {
            return;
        }
        self.ladder(side).walk(|p, l| {
            out.push((Price::from_ticks(p), Qty::from_lots(l.qty)));
            out.len() == levels
        });
    }

    /// Resting quantity on `side` at prices at least as good as `bound` for a taker
    /// (bids at or above it, asks at or below it).
    pub fn qty_to_price(&self, side: Side, bound: Price) -> Qty {
        let b = bound.ticks();
        let mut lots = 0;
        self.ladder(side).walk(|p, l| {
            let beyond = match side {
                Side::Buy => p < b,
                Side::Sell => p > b,
            };
            if !beyond {
                lots += l.qty;
            }
            beyond
        });
        Qty::from_lots(lots)
    }

    /// Resting notional on `side` within `ticks` of that side's best price.
    pub fn notional_within(&self, side: Side, ticks: i64, spec: &ContractSpec) -> Result<Money> {
        let ladder = self.ladder(side);
        let Some(best) = ladder.best() else { return Ok(Money::ZERO) };
        let mut total = Money::ZERO;
        let mut failed = None;
        ladder.walk(|p, l| {
            let beyond = match side {
                Side::Buy => p < best - ticks,
                Side::Sell => p > best + ticks,
            };
            if beyond {
                return true;
            }
            let added = spec
                .notional(Price::from_ticks(p), Qty::from_lots(l.qty))
                .and_then(|n| total.checked_add(n));
            match added {
                Ok(t) => total = t,
                Err(e) => failed = Some(e),
            }
            failed.is_some()
        });
        failed.map_or(Ok(total), Err)
    }

    /// Average price (in ticks) a taker on `taker_side` would pay to trade `notional`
    /// against the book; `None` if the book is too thin. Funding and mark price use it as
    /// the impact bid (taker sells) and impact ask (taker buys).
    pub fn impact_price(
        &self,
        taker_side: Side,
        notional: Money,
        spec: &ContractSpec,
    ) -> Result<Option<f64>> {
        let target = i128::from(notional.micros());
        if target <= 0 {
            return Ok(None);
        }
        let value = i128::from(spec.tick_lot_value().micros());
        let mut spent: i128 = 0;
        let mut lots: f64 = 0.0;
        let mut walk = |p: i64, level_qty: i64| -> bool {
            let level_value = i128::from(p) * i128::from(level_qty) * value;
            if spent + level_value >= target {
                let needed = (target - spent) as f64 / (p as f64 * value as f64);
                lots += needed;
                spent = target;
                true
            } else {
                spent += level_value;
                lots += level_qty as f64;
                false
            }
        };
        let reached = self.ladder(taker_side.opposite()).walk(|p, l| walk(p, l.qty));
        if !reached || lots <= 0.0 {
            return Ok(None);
        }
        Ok(Some(target as f64 / value as f64 / lots))
    }

    /// Total resting quantity of `owner` (both sides).
    pub fn resting_qty(&self, owner: OwnerId) -> Qty {
        let mut lots = 0;
        let mut s = self.owner_head(owner);
        while s != NIL {
            lots += self.slots[s as usize].qty;
            s = self.slots[s as usize].owner_next;
        }
        Qty::from_lots(lots)
    }

    pub fn order(&self, id: OrderId) -> Option<RestingOrder> {
        let slot = self.slot_of(id)?;
        let s = &self.slots[slot as usize];
        Some(RestingOrder {
            id,
            owner: s.owner,
            side: s.side,
            price: Price::from_ticks(s.price),
            qty: Qty::from_lots(s.qty),
        })
    }

    fn owner_head(&self, owner: OwnerId) -> u32 {
        self.owner_heads.get(owner.0 as usize).copied().unwrap_or(NIL)
    }

    fn slot_of(&self, id: OrderId) -> Option<u32> {
        let slot = (id.0 & 0xffff_ffff) as u32;
        let generation = (id.0 >> 32) as u32;
        let s = self.slots.get(slot as usize)?;
        (s.live && s.generation == generation).then_some(slot)
    }

    fn id_of(&self, slot: u32) -> OrderId {
        OrderId((u64::from(self.slots[slot as usize].generation) << 32) | u64::from(slot))
    }

    /// Submits an order; fills go to `fills` (appended; the caller clears and reuses it).
    pub fn submit(&mut self, order: NewOrder, fills: &mut Vec<Fill>) -> SubmitResult {
        let submitted = order.qty.lots();
        if submitted <= 0 {
            return SubmitResult {
                order_id: None,
                filled: Qty::ZERO,
                resting: Qty::ZERO,
                returned: order.qty,
                stop: Stop::InvalidQuantity,
            };
        }
        let allowed = order.max_qty.map_or(submitted, |m| m.lots().clamp(0, submitted));
        let finish = |filled: i64, resting: i64, id: Option<OrderId>, stop: Stop| SubmitResult {
            order_id: id,
            filled: Qty::from_lots(filled),
            resting: Qty::from_lots(resting),
            returned: Qty::from_lots(submitted - filled - resting),
            stop,
        };
        if allowed == 0 {
            return finish(0, 0, None, Stop::Filled);
        }
        // The worst price the taker accepts.
        let unbounded = match order.side {
            Side::Buy => i64::MAX,
            Side::Sell => i64::MIN,
        };
        let limit = if order.kind == OrderKind::Market { unbounded } else { order.price.ticks() };
        let bound = match (order.side, order.protection) {
            (Side::Buy, Some(p)) => limit.min(p.ticks()),
            (Side::Sell, Some(p)) => limit.max(p.ticks()),
            (_, None) => limit,
        };
        let crosses = |book: &OrderBook| match order.side {
            Side::Buy => book.asks.best().is_some_and(|a| a <= bound),
            Side::Sell => book.bids.best().is_some_and(|b| b >= bound),
        };
        if order.kind == OrderKind::PostOnly && crosses(self) {
            return finish(0, 0, None, Stop::PostOnlyWouldCross);
        }
        if order.kind == OrderKind::Fok && self.fillable(order.owner, order.side, bound) < allowed {
            return finish(0, 0, None, Stop::FokUnfillable);
        }
        let (filled, stop) = self.match_against(order.owner, order.side, bound, allowed, fills);
        let left = allowed - filled;
        if left == 0 {
            return finish(filled, 0, None, Stop::Filled);
        }
        let rests = matches!(order.kind, OrderKind::Limit | OrderKind::PostOnly)
            && stop != Some(Stop::SelfTrade);
        if rests {
            // A limit order whose protection is tighter than its limit rests at the bound.
            let slot = self.rest(order.owner, order.side, bound, left);
            let id = self.id_of(slot);
            return finish(filled, left, Some(id), Stop::Rested);
        }
        let stop = stop.unwrap_or(if bound == limit {
            Stop::LimitReached
        } else {
            Stop::ProtectionReached
        });
        finish(filled, 0, None, stop)
    }

    /// Quantity a taker could fill up to `bound`, as self-trade prevention would let it.
    fn fillable(&self, owner: OwnerId, side: Side, bound: i64) -> i64 {
        let mut total = 0;
        self.ladder(side.opposite()).walk(|price, level: &Level| {
            let beyond = match side {
                Side::Buy => price > bound,
                Side::Sell => price < bound,
            };
            if beyond {
                return true;
            }
            let mut s = level.head;
            while s != NIL {
                let o = &self.slots[s as usize];
                if o.owner == owner {
                    if self.config.stp != StpMode::CancelMaker {
                        return true;
                    }
                } else {
                    total += o.qty;
                }
                s = o.next;
            }
            false
        });
        total
    }

    /// Matches up to `qty` against the opposite side within `bound`. Returns the filled
    /// quantity and, when matching stopped early for a reason other than price, why.
    fn match_against(
        &mut self,
        owner: OwnerId,
        side: Side,
        bound: i64,
        qty: i64,
        fills: &mut Vec<Fill>,
    ) -> (i64, Option<Stop>) {
        let mut left = qty;
        loop {
            // The cached best and an index into the window: no search per fill.
            let opposite = self.ladder(side.opposite());
            let best = opposite.best().and_then(|p| opposite.get(p).map(|l| (p, l.head)));
            let Some((price, head)) = best else {
                return (qty - left, Some(Stop::BookEmpty));
            };
            let within = match side {
                Side::Buy => price <= bound,
                Side::Sell => price >= bound,
            };
            if !within {
                return (qty - left, None);
            }
            let maker = self.slots[head as usize];
            if maker.owner == owner {
                match self.config.stp {
                    StpMode::CancelTaker => return (qty - left, Some(Stop::SelfTrade)),
                    StpMode::CancelMaker => {
                        self.remove(head);
                        continue;
                    }
                    StpMode::CancelBoth => {
                        self.remove(head);
                        return (qty - left, Some(Stop::SelfTrade));
                    }
                }
            }
            let take = left.min(maker.qty);
            let maker_id = self.id_of(head);
            let done = take == maker.qty;
            fills.push(Fill {
                maker_order: maker_id,
                maker_owner: maker.owner,
                taker_owner: owner,
                price: Price::from_ticks(price),
                qty: Qty::from_lots(take),
                aggressor: side,
                maker_done: done,
            });
            if done {
                self.remove(head);
            } else {
                self.slots[head as usize].qty -= take;
                if let Some(level) = self.levels_mut(maker.side).get_mut(price) {
                    level.qty -= take;
                }
            }
            left -= take;
            if left == 0 {
                return (qty, None);
            }
        }
    }

    fn levels_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn rest(&mut self, owner: OwnerId, side: Side, price: i64, qty: i64) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => {
                let generation = self.slots[s as usize].generation.wrapping_add(1);
                self.slots[s as usize] =
                    Slot { generation, ..Self::blank(owner, side, price, qty) };
                s
            }
            None => {
                self.slots.push(Self::blank(owner, side, price, qty));
                (self.slots.len() - 1) as u32
            }
        };
        let level = self.levels_mut(side).entry(price);
        let tail = level.tail;
        level.tail = slot;
        if level.head == NIL {
            level.head = slot;
        }
        level.qty += qty;
        level.orders += 1;
        self.slots[slot as usize].prev = tail;
        if tail != NIL {
            self.slots[tail as usize].next = slot;
        }
        let o = owner.0 as usize;
        if self.owner_heads.len() <= o {
            self.owner_heads.resize(o + 1, NIL);
        }
        let head = self.owner_heads[o];
        self.slots[slot as usize].owner_next = head;
        if head != NIL {
            self.slots[head as usize].owner_prev = slot;
        }
        self.owner_heads[o] = slot;
        self.live_orders += 1;
        slot
    }

    fn blank(owner: OwnerId, side: Side, price: i64, qty: i64) -> Slot {
        Slot {
            generation: 0,
            live: true,
            owner,
            side,
            price,
            qty,
            prev: NIL,
            next: NIL,
            owner_prev: NIL,
            owner_next: NIL,
        }
    }

    /// Unlinks a live slot from its level and its owner's list and frees it.
    fn remove(&mut self, slot: u32) -> i64 {
        let s = self.slots[slot as usize];
        let levels = self.levels_mut(s.side);
        let mut empty = false;
        if let Some(level) = levels.get_mut(s.price) {
            if level.head == slot {
                level.head = s.next;
            }
            if level.tail == slot {
                level.tail = s.prev;
            }
            level.qty -= s.qty;
            level.orders -= 1;
            empty = level.orders == 0;
        }
        if empty {
            levels.remove(s.price);
        }
        if s.prev != NIL {
            self.slots[s.prev as usize].next = s.next;
        }
        if s.next != NIL {
            self.slots[s.next as usize].prev = s.prev;
        }
        if s.owner_prev != NIL {
            self.slots[s.owner_prev as usize].owner_next = s.owner_next;
        } else if let Some(head) = self.owner_heads.get_mut(s.owner.0 as usize) {
            *head = s.owner_next;
        }
        if s.owner_next != NIL {
            self.slots[s.owner_next as usize].owner_prev = s.owner_prev;
        }
        self.slots[slot as usize].live = false;
        self.free.push(slot);
        self.live_orders -= 1;
        s.qty
    }

    /// Cancels a resting order; returns the quantity it still had.
    pub fn cancel(&mut self, id: OrderId) -> Option<Qty> {
        let slot = self.slot_of(id)?;
        Some(Qty::from_lots(self.remove(slot)))
    }

    /// Cancels every resting order of `owner`; returns the total quantity cancelled.
    pub fn cancel_all(&mut self, owner: OwnerId) -> Qty {
        let mut lots = 0;
        loop {
            let head = self.owner_head(owner);
            if head == NIL {
                return Qty::from_lots(lots);
            }
            lots += self.remove(head);
        }
    }

    /// Changes a resting order. A smaller size at the same price keeps its place in the
    /// queue; any other change re-submits it as a limit order at the back of its new
    /// level (and it may match if the new price crosses). Size zero cancels.
    pub fn replace(
        &mut self,
        id: OrderId,
        price: Price,
        qty: Qty,
        fills: &mut Vec<Fill>,
    ) -> Option<SubmitResult> {
        let slot = self.slot_of(id)?;
        let s = self.slots[slot as usize];
        if qty.lots() <= 0 {
            self.remove(slot);
            return Some(SubmitResult {
                order_id: None,
                filled: Qty::ZERO,
                resting: Qty::ZERO,
                returned: Qty::ZERO,
                stop: Stop::Filled,
            });
        }
        if price.ticks() == s.price && qty.lots() <= s.qty {
            let reduce = s.qty - qty.lots();
            self.slots[slot as usize].qty = qty.lots();
            if let Some(level) = self.levels_mut(s.side).get_mut(s.price) {
                level.qty -= reduce;
            }
            return Some(SubmitResult {
                order_id: Some(id),
                filled: Qty::ZERO,
                resting: qty,
                returned: Qty::ZERO,
                stop: Stop::Rested,
            });
        }
        self.remove(slot);
        Some(self.submit(
            NewOrder {
                owner: s.owner,
                side: s.side,
                kind: OrderKind::Limit,
                price,
                qty,
                protection: None,
                max_qty: None,
            },
            fills,
        ))
    }

    /// Every structural invariant, checked from scratch (tests and `--check` runs).
    pub fn check(&self) -> Result<()> {
        let fail = |why: String| Err(Error::Internal(format!("order book: {why}")));
        if let (Some((b, _)), Some((a, _))) = (self.best_bid(), self.best_ask())
            && b >= a
        {
            return fail(format!("crossed: bid {b} >= ask {a}"));
        }
        let mut seen = 0;
        for (side, levels) in [(Side::Buy, &self.bids), (Side::Sell, &self.asks)] {
            levels.check().or_else(|why| fail(format!("{side:?} levels: {why}")))?;
            let mut broken = None;
            let mut previous: Option<i64> = None;
            levels.walk(|price, level| {
                if previous.is_some_and(|p| (side == Side::Buy) != (price < p) || p == price) {
                    broken = Some(format!("level {price} out of order"));
                    return true;
                }
                previous = Some(price);
                let (mut qty, mut count, mut prev, mut s) = (0, 0, NIL, level.head);
                while s != NIL {
                    let o = &self.slots[s as usize];
                    if !o.live || o.price != price || o.side != side || o.prev != prev || o.qty <= 0
                    {
                        broken = Some(format!("level {price}: bad link at slot {s}"));
                        return true;
                    }
                    qty += o.qty;
                    count += 1;
                    prev = s;
                    s = o.next;
                }
                if prev != level.tail || qty != level.qty || count != level.orders || count == 0 {
                    broken = Some(format!("level {price}: totals or tail disagree"));
                    return true;
                }
                seen += count as usize;
                false
            });
            if let Some(why) = broken {
                return fail(why);
            }
        }
        if seen != self.live_orders {
            return fail(format!("{seen} orders on levels, {} counted live", self.live_orders));
        }
        let mut in_owner_lists = 0;
        for (owner, &head) in self.owner_heads.iter().enumerate() {
            let (mut prev, mut s) = (NIL, head);
            while s != NIL {
                let o = &self.slots[s as usize];
                if !o.live || o.owner.0 as usize != owner || o.owner_prev != prev {
                    return fail(format!("owner {owner}: bad link at slot {s}"));
                }
                in_owner_lists += 1;
                prev = s;
                s = o.owner_next;
            }
        }
        if in_owner_lists != self.live_orders {
            return fail("owner lists do not hold every order".into());
        }
        Ok(())
    }
}
