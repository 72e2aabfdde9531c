//! Wake-driven agents in the run: when they wake, what they see, their orders on the
//! way to the exchange, and the index of the price levels they watch.
//!
//! A waking agent gets a [`View`] of the market and its account and decides
//! (liqsim-agents); its orders leave now and reach the exchange after its latency
//! (widened while realized volatility runs above the process's own, at most 60 s), where
//! they are checked and submitted against the book as it is then. Each member has one
//! pending wake, the earliest asked for. An open leveraged trader is never polled: it is
//! keyed by the prices at which it acts (stop, take-profit, first margin warning) and
//! woken when the mark reaches one.

use crate::config::ProcessConfig;
use crate::events::SimEvent;
use crate::venue::{market_order, post_only, to_side};
use crate::world::{Ctx, Event, PHASE_AGENTS};
use liqsim_agents::behaviour::{Action, Next, Status, View, behaviour};
use liqsim_agents::{AgentKind, ArrivalProfile};
use liqsim_core::{Money, Qty, Result, RngStream, SimDuration, SimTime, StreamId};
use liqsim_exchange::AccountId;
use std::collections::BTreeSet;

/// No level to watch on that side.
const NO_BELOW: i64 = i64::MIN;
const NO_ABOVE: i64 = i64::MAX;

/// The longest an order can take to reach the exchange, however stressed the market.
const MAX_LATENCY_S: f64 = 60.0;

/// Slippage from the mark a trader accepts on a market order.
const TRADER_SLIPPAGE: f64 = 0.05;

/// An agent's decision on its way to the exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    group: usize,
    member: usize,
    action: Action,
}

#[derive(Debug)]
pub(crate) struct Traders {
    /// Open leveraged traders by the price at which they next act: woken when the mark
    /// falls to a `watch_below` key or rises to a `watch_above` key.
    watch_below: BTreeSet<(i64, u32)>,
    watch_above: BTreeSet<(i64, u32)>,
    watch_keys: Vec<(i64, i64)>,
    woken: Vec<AccountId>,
    /// Agents' orders on their way, and the free slots of that list.
    in_flight: Vec<Option<InFlight>>,
    free_slots: Vec<u32>,
    /// Some traders enter with limit orders (their fills wake them).
    pub limit_entries: bool,
}

impl Traders {
    pub fn new(accounts: usize, limit_entries: bool) -> Traders {
        Traders {
            watch_below: BTreeSet::new(),
            watch_above: BTreeSet::new(),
            watch_keys: vec![(NO_BELOW, NO_ABOVE); accounts],
            woken: Vec::new(),
            in_flight: Vec::new(),
            free_slots: Vec::new(),
            limit_entries,
        }
    }

    /// Whether `a` waits on price levels.
    pub fn is_watched(&self, a: AccountId) -> bool {
        self.watch_keys[a.0 as usize] != (NO_BELOW, NO_ABOVE)
    }

    pub fn unwatch(&mut self, a: AccountId) {
        let (lo, hi) = std::mem::replace(&mut self.watch_keys[a.0 as usize], (NO_BELOW, NO_ABOVE));
        if lo != NO_BELOW {
            self.watch_below.remove(&(lo, a.0));
        }
        if hi != NO_ABOVE {
            self.watch_above.remove(&(hi, a.0));
        }
    }

    /// The order in `slot`, which has now arrived (the slot is free again).
    pub fn take_arrived(&mut self, slot: u32) -> Option<InFlight> {
        let order = self.in_flight[slot as usize].take()?;
        self.free_slots.push(slot);
        Some(order)
    }

    fn park(&mut self, order: InFlight) -> u32 {
        match self.free_slots.pop() {
            Some(k) => {
                self.in_flight[k as usize] = Some(order);
                k
            }
            None => {
                self.in_flight.push(Some(order));
                (self.in_flight.len() - 1) as u32
            }
        }
    }

    /// The index checks: the level sets hold exactly the keyed levels, and the free slots
    /// are exactly the empty ones.
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| Err(liqsim_core::Error::Internal(format!("trader index: {what}")));
        let (mut below, mut above) = (0, 0);
        for (a, &(lo, hi)) in self.watch_keys.iter().enumerate() {
            let a = a as u32;
            if lo != NO_BELOW {
                below += 1;
                if !self.watch_below.contains(&(lo, a)) {
                    return bad(format!("account {a} watches {lo} below but is not in the set"));
                }
            }
            if hi != NO_ABOVE {
                above += 1;
                if !self.watch_above.contains(&(hi, a)) {
                    return bad(format!("account {a} watches {hi} above but is not in the set"));
                }
            }
        }
        if below != self.watch_below.len() || above != self.watch_above.len() {
            return bad("a level set holds an entry no account is keyed at".into());
        }
        let mut free: Vec<u32> = self.free_slots.clone();
        free.sort_unstable();
        free.dedup();
        let empty: Vec<u32> = (0..self.in_flight.len() as u32)
            .filter(|&k| self.in_flight[k as usize].is_none())
            .collect();
        if free.len() != self.free_slots.len() || free != empty {
            return bad(format!("free slots {:?} against empty slots {empty:?}", self.free_slots));
        }
        Ok(())
    }
}

/// Member `member`'s random stream for its `wake`-th decision.
pub(crate) fn member_rng(seed: u64, group: usize, member: usize, wake: u32) -> RngStream {
    StreamId::named("agents")
        .with_index(group as u64)
        .with_index(member as u64)
        .with_index(u64::from(wake))
        .rng(seed)
}

impl Ctx<'_> {
    /// One pending wake per member, the earliest asked for: a later request is dropped,
    /// an earlier one supersedes the pending event (left in the queue, stale).
    pub fn schedule_wake(&mut self, gi: usize, m: usize, at: SimTime) {
        let member = &mut self.population.groups[gi].members[m];
        if member.pending_wake.is_some_and(|t| t <= at) {
            return;
        }
        member.wake_gen = member.wake_gen.wrapping_add(1);
        member.pending_wake = Some(at);
        let generation = member.wake_gen;
        self.queue.push(
            at,
            PHASE_AGENTS,
            Event::Wake { group: gi as u16, member: m as u32, generation },
        );
    }

    /// Schedules, at this instant, the traders whose watched level the mark has reached.
    pub fn wake_watchers(&mut self) {
        let p = self.market.mark_ticks.ticks();
        let t = &mut *self.traders;
        t.woken.clear();
        t.woken.extend(t.watch_below.range((p, 0)..).map(|&(_, a)| AccountId(a)));
        t.woken.extend(t.watch_above.range(..=(p, u32::MAX)).map(|&(_, a)| AccountId(a)));
        if t.woken.is_empty() {
            return;
        }
        t.woken.sort_unstable();
        t.woken.dedup();
        for k in 0..self.traders.woken.len() {
            let a = self.traders.woken[k];
            self.traders.unwatch(a);
            if let Some((gi, m)) = self.population.member_of(a) {
                self.schedule_wake(gi, m, self.now);
            }
        }
    }

    /// Keys an open trader by the prices at which it acts: equity C + q P v crosses
    /// deposit x (1 - stop_loss) or deposit x (1 + take_profit), or 1.5 x maintenance
    /// (m |q| P v at the current effective rate m) while it has not yet decided on a
    /// top-up. P is in ticks; a long acts below its stop and warning, above its target.
    /// Returns whether the mark has already reached one of the levels.
    fn watch(&mut self, gi: usize, m: usize, a: AccountId) -> Result<bool> {
        self.traders.unwatch(a);
        // A trader with a holding time also wakes when it ends, if no level comes first.
        let hold_until = self.population.groups[gi].members[m].state.hold_until;
        if let Some(t) = hold_until.filter(|_| self.venue.exchange.position(a).lots() != 0) {
            self.schedule_wake(gi, m, t.max(self.now));
        }
        let exchange = &self.venue.exchange;
        let q = exchange.position(a).lots();
        if q == 0 {
            return Ok(false);
        }
        let config = self.population.groups[gi].config.trader().copied().unwrap_or_default();
        let member = self.population.groups[gi].members[m];
        let mark = self.market.mark_ticks;
        let v = self.cfg.spec.tick_lot_value().micros() as f64;
        // Collateral after haircuts pays for losses as quote does, so the levels count it,
        // as the decision on waking counts it through the account's equity.
        let cash = exchange.cash(a).checked_add(exchange.collateral_value(a)?)?.micros() as f64;
        let deposit = member.state.deposit * 1e6;
        let qv = q as f64 * v;
        let mut act_down: Vec<f64> = Vec::new();
        let mut act_up: Vec<f64> = Vec::new();
        let mut level = |p: f64, long_side_below: bool| {
            if p.is_finite() && p > 0.0 {
                if long_side_below == (q > 0) {
                    act_down.push(p);
                } else {
                    act_up.push(p);
                }
            }
        };
        // Stop and target are on everything the trader owns (the wallet beside an
        // isolated account too); the margin warning on the position's own equity.
        let owned = cash + self.population.wallet_cash(exchange, gi, m).micros() as f64;
        if let Some(s) = config.stop_loss {
            level((deposit * (1.0 - s) - owned) / qv, true);
        }
        if let Some(t) = config.take_profit {
            level((deposit * (1.0 + t) - owned) / qv, false);
        }
        if !member.state.warned && config.add_margin_probability > 0.0 {
            let notional = exchange.notional(a, mark)?.to_f64();
            let maintenance = exchange.requirement(a, mark, true)?.to_f64();
            let rate = if notional > 0.0 { maintenance / notional } else { 0.0 };
            let sign = if q > 0 { 1.0 } else { -1.0 };
            level(-cash / (qv * (1.0 - 1.5 * rate * sign)), true);
        }
        let lo = act_down.iter().copied().fold(f64::NAN, f64::max);
        let hi = act_up.iter().copied().fold(f64::NAN, f64::min);
        // A level the mark has already reached (the trader looked and did not act, as
        // rounding can leave it) waits for the next tick beyond, not for every step.
        let p = mark.ticks();
        let reached =
            (!lo.is_nan() && lo.floor() as i64 >= p) || (!hi.is_nan() && hi.ceil() as i64 <= p);
        let lo = if lo.is_nan() { NO_BELOW } else { (lo.floor() as i64).min(p - 1) };
        let hi = if hi.is_nan() { NO_ABOVE } else { (hi.ceil() as i64).max(p + 1) };
        let t = &mut *self.traders;
        if lo != NO_BELOW {
            t.watch_below.insert((lo, a.0));
        }
        if hi != NO_ABOVE {
            t.watch_above.insert((hi, a.0));
        }
        t.watch_keys[a.0 as usize] = (lo, hi);
        Ok(reached)
    }

    /// After a collateral price move: the watched traders among `holders` get levels at
    /// the new collateral value, and those whose level the move has already passed (a
    /// margin warning a depeg fired) wake at this instant.
    pub(crate) fn rewatch_holders(&mut self, holders: &[AccountId]) -> Result<()> {
        for &a in holders {
            if !self.traders.is_watched(a) {
                continue;
            }
            let Some((gi, m)) = self.population.member_of(a) else { continue };
            if self.watch(gi, m, a)? {
                self.schedule_wake(gi, m, self.now);
            }
        }
        Ok(())
    }

    /// An agent looks at the market and its account and decides (liqsim-agents); its
    /// orders leave now and reach the exchange after its latency.
    pub fn wake(&mut self, gi: usize, m: usize) -> Result<()> {
        let a = self.population.account(gi, m);
        let member = self.population.groups[gi].members[m];
        if member.state.status == Status::Out {
            return Ok(());
        }
        let group = &self.population.groups[gi];
        let kind = group.config.kind();
        // Makers quote every price step and never wake.
        if group.is_maker() {
            return Ok(());
        }
        let mut rng = member_rng(self.cfg.seed, gi, m, member.wakes);
        self.population.groups[gi].members[m].wakes += 1;
        let spec = self.cfg.spec;
        let mark = self.market.mark_ticks;
        let lookback = self.population.groups[gi].config.lookback;
        let maintenance = if self.venue.exchange.holdings(a).is_empty() {
            self.venue.exchange.requirement(a, mark, true)?
        } else {
            Money::ZERO
        };
        if member.state.status == Status::Waiting {
            self.restake(gi, m, a)?;
        }
        let margin_equity = self.venue.exchange.equity(a, mark)?;
        let wallet = self.population.wallet_cash(&self.venue.exchange, gi, m);
        let view = View {
            now: self.now,
            mark: spec.price_to_f64(mark),
            index: self.market.index_value,
            index_then: self.market.index_at(self.now.nanos().saturating_sub(lookback.nanos())),
            lot: spec.qty_to_f64(Qty::from_lots(1)),
            position: self.venue.exchange.position(a).lots(),
            holds_options: !self.venue.exchange.holdings(a).is_empty(),
            equity: margin_equity.checked_add(wallet)?.to_f64(),
            margin_equity: margin_equity.to_f64(),
            maintenance: maintenance.to_f64(),
        };
        let mut state = member.state;
        let group = &self.population.groups[gi].config;
        let Some(agent) = behaviour(group) else { return Ok(()) };
        let decision = agent.decide(group, &mut state, &view, &mut rng);
        self.population.groups[gi].members[m].state = state;
        match decision.action {
            Action::Nothing => {}
            Action::TopUp { amount } => {
                let mut top_up = Money::round_from_f64(amount)?;
                if self.population.groups[gi].first_wallet.is_some() {
                    top_up = self.venue.exchange.move_isolated_margin(a, top_up, mark)?;
                } else {
                    self.venue.exchange.deposit(a, top_up)?;
                }
                self.observers.emit(self.now, SimEvent::TopUp { account: a, amount: top_up })?;
            }
            Action::Adopt => {
                self.venue.book.cancel_all(liqsim_book::OwnerId(a.0));
                self.population.became_open(&self.venue.exchange, gi, m, mark)?;
            }
            action => {
                if matches!(
                    action,
                    Action::Open { .. } | Action::WriteOptions { .. } | Action::BuyOption { .. }
                ) || kind == AgentKind::LeveragedTrader
                {
                    self.population.groups[gi].members[m].state.status = Status::Sending;
                }
                let delay = self.latency(gi, &mut rng);
                let order = InFlight { group: gi, member: m, action };
                if delay == SimDuration::ZERO {
                    self.arrive(order)?;
                } else {
                    let slot = self.traders.park(order);
                    self.queue.push(self.now.plus(delay), PHASE_AGENTS, Event::Order { slot });
                }
            }
        }
        match decision.next {
            Next::After(dt) => self.schedule_wake(gi, m, self.now.plus(dt)),
            Next::OnPriceLevels => {
                self.watch(gi, m, a)?;
            }
            Next::Never => {}
        }
        Ok(())
    }

    /// One draw of the group's latency, widened while realized volatility runs above the
    /// process's own (at most a minute).
    fn latency(&self, gi: usize, rng: &mut RngStream) -> SimDuration {
        let group = &self.population.groups[gi];
        let base = group.latency.sample(rng).max(0.0);
        if base == 0.0 {
            return SimDuration::ZERO;
        }
        let normal = self.market.normal_vol().max(1e-9);
        let ratio = self.market.realized_vol() / normal;
        let widen = 1.0 + group.config.latency_stress * (ratio - 1.0).max(0.0);
        SimDuration::from_nanos(((base * widen).min(MAX_LATENCY_S) * 1e9) as u64)
    }

    /// An agent's order reaches the exchange: it is checked and submitted now, against
    /// the book as it is now, and the agent learns what happened.
    pub fn arrive(&mut self, order: InFlight) -> Result<()> {
        let InFlight { group: gi, member: m, action } = order;
        let a = self.population.account(gi, m);
        if self.population.groups[gi].members[m].state.status == Status::Out {
            return Ok(()); // liquidated while the order was on its way
        }
        let config = &self.population.groups[gi].config;
        let (kind, reentry, wake) = (config.kind(), config.reentry, config.wake);
        match action {
            Action::OpenLimit { long, lots, offset } => {
                let rests = lots > 0 && self.post_off_mark(a, long, lots, offset)?;
                let (status, after) = if rests {
                    (Status::Resting, wake)
                } else {
                    (Status::Waiting, reentry.max(wake))
                };
                self.population.groups[gi].members[m].state.status = status;
                self.schedule_wake(gi, m, self.now.plus(after));
            }
            Action::Open { long, lots } => {
                // A limit entry still resting gives way to this market order.
                self.venue.book.cancel_all(liqsim_book::OwnerId(a.0));
                if self.open(a, long, lots)? > 0 {
                    self.population.became_open(
                        &self.venue.exchange,
                        gi,
                        m,
                        self.market.mark_ticks,
                    )?;
                    self.watch(gi, m, a)?;
                } else {
                    // Nothing filled (no liquidity, or no margin): try again later.
                    self.population.groups[gi].members[m].state.status = Status::Waiting;
                    self.schedule_wake(gi, m, self.now.plus(reentry.max(wake)));
                }
            }
            Action::Close => {
                self.close(a)?;
                if kind == AgentKind::LeveragedTrader {
                    if self.venue.exchange.position(a).lots() == 0 {
                        self.population.groups[gi].members[m].state.status = Status::Waiting;
                        self.schedule_wake(gi, m, self.now.plus(reentry));
                    } else {
                        // The book could not take it all: still open, it looks again
                        // after its next poll and closes what is left.
                        self.population.groups[gi].members[m].state.status = Status::Open;
                        self.schedule_wake(gi, m, self.now.plus(wake));
                    }
                }
            }
            Action::Reverse { long, lots } => {
                self.close(a)?;
                self.open(a, long, lots)?;
            }
            Action::WriteOptions { strangle } => {
                let member = self.population.groups[gi].members[m];
                let mut rng = member_rng(self.cfg.seed, gi, m, member.wakes | 1 << 31);
                let state = member.state;
                let writer = match &self.population.groups[gi].config.behaviour {
                    liqsim_agents::Behaviour::OptionWriter(w) => *w,
                    _ => liqsim_agents::WriterConfig::default(),
                };
                let (leverage, deposit) = (state.leverage, state.deposit);
                let opened =
                    self.write_options(a, &writer, leverage, deposit, strangle, &mut rng)?;
                self.population.groups[gi].members[m].state.status =
                    if opened { Status::Open } else { Status::Waiting };
            }
            Action::BuyOption { call } => {
                let member = self.population.groups[gi].members[m];
                let mut rng = member_rng(self.cfg.seed, gi, m, member.wakes | 1 << 31);
                let opened = self.buy_options(a, call, member.state.deposit, &mut rng)?;
                self.population.groups[gi].members[m].state.status =
                    if opened { Status::Open } else { Status::Waiting };
            }
            Action::BuyBack => self.buy_back(a)?,
            Action::Provide { long, lots, offset } => {
                self.venue.book.cancel_all(liqsim_book::OwnerId(a.0));
                self.post_off_mark(a, long, lots, offset)?;
            }
            Action::Nothing | Action::TopUp { .. } | Action::Adopt => {}
        }
        Ok(())
    }

    /// Rests a post-only order for `lots` `offset` (a fraction of the price) outside the
    /// mark, below it for a bid, when the exchange allows the position it would make;
    /// returns whether it rests (post-only: one that would cross is refused, not matched).
    fn post_off_mark(&mut self, a: AccountId, long: bool, lots: i64, offset: f64) -> Result<bool> {
        let spec = self.cfg.spec;
        let mark = self.market.mark_ticks;
        let current = self.venue.exchange.position(a).lots();
        let new = current + if long { lots } else { -lots };
        if !self.venue.exchange.allows(a, Qty::from_lots(new), mark)? {
            return Ok(false);
        }
        let price = spec.price_to_f64(mark) * if long { 1.0 - offset } else { 1.0 + offset };
        let tick = spec.tick_size().to_f64();
        let ticks = if long { (price / tick).floor() } else { (price / tick).ceil() } as i64;
        Ok(ticks > 0 && self.venue.post(None, post_only(a, long, ticks, lots))?.resting.lots() > 0)
    }

    /// Opens a market position of up to `lots`, scaled down to what the exchange allows;
    /// returns the lots filled.
    fn open(&mut self, a: AccountId, long: bool, lots: i64) -> Result<i64> {
        let mut lots = lots;
        let mark = self.market.mark_ticks;
        let current = self.venue.exchange.position(a).lots();
        while lots > 0 {
            let new = current + if long { lots } else { -lots };
            if self.venue.exchange.allows(a, Qty::from_lots(new), mark)? {
                break;
            }
            lots /= 2;
        }
        if lots <= 0 {
            return Ok(0);
        }
        let spec = self.cfg.spec;
        let mark = spec.price_to_f64(mark);
        let slip = if long { 1.0 + TRADER_SLIPPAGE } else { 1.0 - TRADER_SLIPPAGE };
        let protection = spec.price_from_f64(mark * slip)?;
        let r = self.submit(market_order(a, to_side(long), lots, protection, None))?;
        Ok(r.filled.lots())
    }

    /// Closes the account's position at market (reduce-only).
    fn close(&mut self, a: AccountId) -> Result<()> {
        let q = self.venue.exchange.position(a).lots();
        if q == 0 {
            return Ok(());
        }
        let spec = self.cfg.spec;
        let mark = spec.price_to_f64(self.market.mark_ticks);
        let slip = if q > 0 { 1.0 - TRADER_SLIPPAGE } else { 1.0 + TRADER_SLIPPAGE };
        let protection = spec.price_from_f64(mark * slip)?;
        let reducible = self.venue.exchange.reducible(a, q > 0).lots();
        self.submit(market_order(a, to_side(q < 0), q.abs(), protection, Some(reducible)))?;
        Ok(())
    }

    /// An isolated trader about to enter tops its isolated account up from the wallet
    /// to its stake (deposit x position_share), as far as the wallet goes.
    fn restake(&mut self, gi: usize, m: usize, a: AccountId) -> Result<()> {
        let exchange = &mut self.venue.exchange;
        if self.population.groups[gi].first_wallet.is_none() || exchange.position(a).lots() != 0 {
            return Ok(());
        }
        let stake = self.population.stake(gi, m)?;
        let need = stake.checked_sub(exchange.cash(a))?;
        if need.is_positive() {
            exchange.move_isolated_margin(a, need, self.market.mark_ticks)?;
        }
        Ok(())
    }

    /// A liquidated trader's account is spent. An isolated one with another stake in its
    /// wallet comes back after `reentry`, like after a stop-out (a liquidated isolated
    /// position costs only its margin); a cross-margined one comes back with its deposit
    /// paid in again with its group's `comeback` chance.
    pub fn on_liquidated(&mut self, a: AccountId) -> Result<()> {
        self.traders.unwatch(a);
        self.population.mark_out(a);
        let Some((gi, m)) = self.population.member_of(a) else { return Ok(()) };
        let g = &self.population.groups[gi];
        let exchange = &self.venue.exchange;
        if g.config.kind() != AgentKind::LeveragedTrader || !exchange.is_flat(a) {
            return Ok(());
        }
        if g.first_wallet.is_none() {
            let comeback = g.config.trader().map_or(0.0, |t| t.comeback);
            let member = g.members[m];
            let mut rng = member_rng(self.cfg.seed, gi, m, member.wakes | 1 << 30);
            if comeback == 0.0 || rand::RngExt::random::<f64>(&mut rng) >= comeback {
                return Ok(());
            }
            let deposit = Money::round_from_f64(member.state.deposit)?;
            self.venue.exchange.deposit(a, deposit)?;
            self.observers.emit(self.now, SimEvent::TopUp { account: a, amount: deposit })?;
            let pause = g.config.reentry.max(g.config.wake);
            self.population.groups[gi].members[m].state.status = Status::Waiting;
            self.schedule_wake(gi, m, self.now.plus(pause));
            return Ok(());
        }
        let available =
            self.population.wallet_cash(exchange, gi, m).checked_add(exchange.cash(a))?;
        if available < self.population.stake(gi, m)? {
            return Ok(());
        }
        let pause = g.config.reentry.max(g.config.wake);
        self.population.groups[gi].members[m].state.status = Status::Waiting;
        self.schedule_wake(gi, m, self.now.plus(pause));
        Ok(())
    }

    /// A trader whose position auto-deleveraging reduced looks at it now (its watched
    /// levels belong to the old position).
    pub fn on_deleveraged(&mut self, c: AccountId) {
        let Some((gi, m)) = self.population.member_of(c) else { return };
        let g = &self.population.groups[gi];
        if g.config.kind() == AgentKind::LeveragedTrader
            && g.members[m].state.status == Status::Open
        {
            self.traders.unwatch(c);
            self.schedule_wake(gi, m, self.now);
        }
    }

    fn volume_profile(&self, window: u64) -> Vec<(u64, u64, f64)> {
        volume_profile_of(&self.cfg.process, &self.cfg.activity, window)
    }

    /// The groups that open at start hold their positions from the first instant. Each
    /// member wants what it would open at the first mark (deposit x position_share x
    /// leverage, halved until initial margin allows it); the larger side is scaled down
    /// pro rata to the smaller (the remainder a lot each, in account order), and the two
    /// sides are crossed pairwise in account order at the first mark, outside the book.
    /// A member left with nothing enters as it would have.
    pub fn open_at_start(&mut self) -> Result<()> {
        let mark = self.market.mark_ticks;
        let spec = self.cfg.spec;
        let price = spec.price_to_f64(mark);
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        // (group, member, lots wanted then crossed), per side.
        let mut longs: Vec<(usize, usize, i64)> = Vec::new();
        let mut shorts: Vec<(usize, usize, i64)> = Vec::new();
        for (gi, g) in self.population.groups.iter().enumerate() {
            let Some(config) = g.config.trader().filter(|t| t.open_at_start) else { continue };
            for (m, member) in g.members.iter().enumerate() {
                let s = member.state;
                let a = g.account(m);
                let wanted = s.deposit * config.position_share * s.leverage / price / lot;
                let mut lots = if wanted.is_finite() { wanted.floor().min(1e15) as i64 } else { 0 };
                let signed = |lots: i64| Qty::from_lots(if s.long { lots } else { -lots });
                while lots > 0 && !self.venue.exchange.allows(a, signed(lots), mark)? {
                    lots /= 2;
                }
                if lots > 0 {
                    if s.long { longs.push((gi, m, lots)) } else { shorts.push((gi, m, lots)) }
                }
            }
        }
        let total = |side: &[(usize, usize, i64)]| side.iter().map(|x| i128::from(x.2)).sum();
        let (long_total, short_total): (i128, i128) = (total(&longs), total(&shorts));
        let matched = long_total.min(short_total);
        scale_side(&mut longs, long_total, matched);
        scale_side(&mut shorts, short_total, matched);
        let (mut i, mut j) = (0, 0);
        let (mut long_left, mut short_left) = (Vec::new(), Vec::new());
        long_left.extend(longs.iter().map(|x| x.2));
        short_left.extend(shorts.iter().map(|x| x.2));
        while i < longs.len() && j < shorts.len() {
            let q = long_left[i].min(short_left[j]);
            if q > 0 {
                let buyer = self.population.account(longs[i].0, longs[i].1);
                let seller = self.population.account(shorts[j].0, shorts[j].1);
                let qty = Qty::from_lots(q);
                self.venue.exchange.transfer_position(buyer, seller, mark, qty)?;
                self.observers
                    .emit(self.now, SimEvent::OpeningCross { buyer, seller, price: mark, qty })?;
            }
            long_left[i] -= q;
            short_left[j] -= q;
            i += usize::from(long_left[i] == 0);
            j += usize::from(short_left[j] == 0);
        }
        for &(gi, m, lots) in longs.iter().chain(&shorts) {
            if lots == 0 {
                continue;
            }
            let a = self.population.account(gi, m);
            self.population.became_open(&self.venue.exchange, gi, m, mark)?;
            let hold = self.population.groups[gi].config.trader().and_then(|t| t.hold);
            if let Some(hold) = hold {
                let mut rng = member_rng(self.cfg.seed, gi, m, u32::MAX - 1);
                let until = self.now.plus(liqsim_agents::behaviour::exponential(hold, &mut rng));
                self.population.groups[gi].members[m].state.hold_until = Some(until);
            }
            self.watch(gi, m, a)?;
        }
        Ok(())
    }

    /// Every agent that wakes enters at its own time over the first hour (or quarter of
    /// the run), or over its group's `arrival` window: evenly, or for a volume profile
    /// in proportion to the replayed bars' volume inside the window (evenly within a
    /// bar). Market makers do not wake.
    pub fn schedule_entries(&mut self) {
        let first_hour = SimDuration::from_secs(3600)
            .min(SimDuration::from_nanos(self.cfg.duration.nanos() / 4))
            .nanos()
            .max(1);
        let mut starts = Vec::new();
        for (gi, g) in self.population.groups.iter().enumerate() {
            if g.is_maker() {
                continue;
            }
            let trader = g.config.trader();
            let entry_window = match trader.and_then(|t| t.arrival) {
                Some(window) => window.nanos().max(1),
                None => first_hour,
            };
            let by_volume = trader.is_some_and(|t| t.arrival_profile == ArrivalProfile::Volume);
            let profile = if by_volume { self.volume_profile(entry_window) } else { Vec::new() };
            for m in 0..g.members.len() {
                // Opened at start: it already holds its position.
                if g.members[m].state.status != Status::Waiting {
                    continue;
                }
                let mut rng = member_rng(self.cfg.seed, gi, m, u32::MAX);
                let at = match profile.last() {
                    Some(&(_, _, total)) if total > 0.0 => {
                        let u = rand::RngExt::random::<f64>(&mut rng) * total;
                        let k = profile.partition_point(|p| p.2 <= u).min(profile.len() - 1);
                        let (from, to, _) = profile[k];
                        rand::RngExt::random_range(&mut rng, from..to.max(from + 1))
                    }
                    _ => rand::RngExt::random_range(&mut rng, 0..entry_window),
                };
                starts.push((gi, m, SimTime::from_nanos(at)));
            }
        }
        for (gi, m, at) in starts {
            self.schedule_wake(gi, m, at);
        }
    }
}

/// (from, to, cumulative volume) of the replayed bars' parts inside `[0, window)`, each
/// bar's volume prorated to the part of it inside; empty without a replay with volumes.
fn volume_profile_of(
    process: &ProcessConfig,
    activity: &[f64],
    window: u64,
) -> Vec<(u64, u64, f64)> {
    let ProcessConfig::Replay(bars) = process else { return Vec::new() };
    let mut out = Vec::new();
    let mut total = 0.0;
    for (k, (bar, volume)) in bars.iter().zip(activity).enumerate() {
        let from = bar.time_ns;
        if from >= window {
            break;
        }
        // The last bar lasts as long as the one before it, as in the replay.
        let spacing = k.checked_sub(1).map_or(1, |j| from - bars[j].time_ns);
        let end = bars.get(k + 1).map_or(from.saturating_add(spacing), |b| b.time_ns);
        let to = end.min(window);
        if *volume > 0.0 && to > from {
            total += volume * (to - from) as f64 / (end - from) as f64;
            out.push((from, to, total));
        }
    }
    out
}

/// Scales one side's wanted lots down to `matched` in all: each member gets the floor of
/// its pro-rata share, and what the floors leave a lot each to the first members in
/// account order that can take one.
fn scale_side(side: &mut [(usize, usize, i64)], total: i128, matched: i128) {
    if total <= matched {
        return;
    }
    let wanted: Vec<i64> = side.iter().map(|x| x.2).collect();
    let mut given: i128 = 0;
    for x in side.iter_mut() {
        // Floor of lots x matched / total: below lots, so it fits in i64.
        x.2 = (i128::from(x.2) * matched / total) as i64;
        given += i128::from(x.2);
    }
    let mut left = matched - given;
    for (x, &w) in side.iter_mut().zip(&wanted) {
        if left == 0 {
            break;
        }
        if x.2 < w {
            x.2 += 1;
            left -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{scale_side, volume_profile_of};
    use crate::config::ProcessConfig;
    use liqsim_models::Bar;

    /// Bars at 0, 60 and 120 s with volumes 1, 0 and 3, and a 150 s window: the empty
    /// bar is left out and the last counts for the half of it inside the window.
    #[test]
    fn arrivals_by_volume_weigh_each_bar_inside_the_window() {
        let s = 1_000_000_000;
        let bar = |t: u64| Bar { time_ns: t * s, open: 1.0, high: 1.0, low: 1.0, close: 1.0 };
        let process = ProcessConfig::Replay(vec![bar(0), bar(60), bar(120)]);
        let profile = volume_profile_of(&process, &[1.0, 0.0, 3.0], 150 * s);
        assert_eq!(profile, vec![(0, 60 * s, 1.0), (120 * s, 150 * s, 2.5)]);
        assert!(volume_profile_of(&process, &[], 150 * s).is_empty());
    }

    #[test]
    fn the_larger_side_is_scaled_pro_rata_and_the_remainder_goes_in_account_order() {
        let mut side = vec![(0, 0, 3), (0, 1, 5), (0, 2, 2)];
        // Floors of 2.1, 3.5 and 1.4 leave one lot, to the first member below its want.
        scale_side(&mut side, 10, 7);
        assert_eq!(side.iter().map(|x| x.2).collect::<Vec<_>>(), vec![3, 3, 1]);
        let mut smaller = vec![(0, 0, 4), (1, 0, 1)];
        scale_side(&mut smaller, 5, 7);
        assert_eq!(smaller.iter().map(|x| x.2).collect::<Vec<_>>(), vec![4, 1]);
    }
}
