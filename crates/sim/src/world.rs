//! The event kernel: one world, stepped event by event.
//!
//! Events are ordered by (time, phase, seq). The phases of one instant:
//! 0. price step: the fundamental moves (process + scheduled jumps), then the index and
//!    the mark; then margin checks and liquidations, repeated while liquidation fills move
//!    the mark into further accounts; then market makers requote;
//! 1. risk refresh (margin rates recomputed);
//! 4. agent wakes (traders decide and send orders);
//! 5. funding;
//! 7. metrics sample.
//!
//! A liquidation triggered by the first pass of a price step is exogenous; one triggered
//! after liquidation fills moved the mark is caused by the last liquidation of the pass
//! before it. That link is what the cascade metrics measure.
//!
//! Options (when the scenario lists a chain): 2. expiry (cash settlement on the index).
//! Option marks move with every price step; option market makers requote and delta-hedge
//! on the perpetual right after the perpetual's market makers (see `option_agents`).
//! An account holding options is liquidated by closing every option in its series' book
//! first (bounded at twice the mark plus 2% of the forward for a buy-back, half the mark
//! for a sale), the rest of each option at the mark against the backstop or, without one,
//! against opposing holders by account id; then its perpetual as any other.
//!
//! Agents' orders arrive after their latency (`arrive`); market makers' quotes do not.
//! A liquidation runs through the exchange's waterfall (`liqsim_exchange::liquidation`):
//! the world is its `Host`, submitting the IOC orders bounded at the bankruptcy price to
//! the book and hearing of every close against an opposing account; the world keeps the
//! liquidation's record, its cause and the digest.
//!
//! Isolated margin: a group with `margin_mode = "isolated"` has a wallet per member
//! (opened first) and the member's own account isolated under it, holding
//! `position_share` of the deposit; a liquidated member with another stake in its wallet
//! comes back after `reentry`.
//!
//! Known limitations (this version): one perpetual.

use crate::cascade::{CascadeConfig, Side as LiqSide};
use crate::config::*;
use crate::digest::Digest;
use crate::metrics::{Recorder, RecorderConfig, RunFacts, Snapshot};
use crate::options::Desk;
use crate::outcome::{
    LEVERAGE_BAND_EDGES, LeverageBand, LiquidationRow, OptionFigures, Outcome, ShockKind,
    ShockWindow,
};
use liqsim_agents::behaviour::{Action, Next, State, Status, View, behaviour};
use liqsim_agents::{AgentGroup, AgentKind, Sampler};
use liqsim_book::{BookConfig, Fill, NewOrder, OrderBook, OrderKind, OwnerId, Side, StpMode};
use liqsim_core::{
    Error, EventQueue, Money, Price, Qty, Result, RngStream, SimDuration, SimTime, StreamId,
};
use liqsim_exchange::prices::PremiumIndex;
use liqsim_exchange::{
    AccountId, DebtSettlement, Exchange, ExchangeConfig, Host, IndexPrice, LiquidationRules,
    Liquidator, MarginSchedule, MarkPrice, Rates,
};
use liqsim_models::{PriceProcess, Shock, Shocks};
use liqsim_risk::{MarginModel, MarketState};
use rand::RngExt;
use std::collections::BTreeSet;

const PHASE_PRICE: u8 = 0;
const PHASE_REFRESH: u8 = 1;
const PHASE_EXPIRY: u8 = 2;
const PHASE_AGENTS: u8 = 4;
const PHASE_FUNDING: u8 = 5;
const PHASE_SAMPLE: u8 = 7;

/// Time constant of the realized volatility market makers watch.
const REALIZED_VOL_WINDOW_S: f64 = 60.0;

/// Passes of the liquidation loop in one instant before the kernel reports a runaway.
const MAX_CASCADE_PASSES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
enum Event {
    PriceStep,
    Refresh,
    /// `generation` must match the member's: a wake rescheduled earlier leaves a stale event.
    Wake {
        group: u16,
        member: u32,
        generation: u16,
    },
    Expiry {
        series: u16,
    },
    /// An agent's order reaching the exchange after its latency.
    Order {
        slot: u32,
    },
    Funding,
    Sample,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    state: State,
    wakes: u32,
    /// Ever held a position / was liquidated (the leverage bands of the outcome).
    opened: bool,
    liquidated: bool,
    /// Notional / equity when it last opened.
    effective_leverage: f32,
    pending_wake: Option<SimTime>,
    wake_gen: u16,
}

#[derive(Debug)]
struct Group {
    config: AgentGroup,
    first_account: u32,
    /// Isolated margin: member m's wallet is account `first_wallet + m`, the owner of its
    /// isolated account `first_account + m`.
    first_wallet: Option<u32>,
    members: Vec<Member>,
    /// Market makers: quoting resumes at this time after a pull.
    pulled_until: SimTime,
    /// Market makers: (fair price, position, liquidity factor, widening) of each member's
    /// standing ladder; it is requoted only when one of them has moved.
    quoted: Vec<Option<(f64, i64, f64, f64)>>,
    /// Option market makers: the same per (member, series), member-major.
    option_quoted: Vec<Option<(f64, i64, f64, f64)>>,
    /// Market makers: each member quotes again at this time after a loss pull.
    loss_pulls: Vec<SimTime>,
    latency: Sampler,
}

/// An agent's decision on its way to the exchange.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    group: usize,
    member: usize,
    action: Action,
}

#[derive(Debug)]
pub struct World {
    cfg: SimConfig,
    now: SimTime,
    queue: EventQueue<Event>,
    process: Box<dyn PriceProcess>,
    price_rng: RngStream,
    shocks: Shocks,
    log_fundamental: f64,
    index: IndexPrice,
    index_value: f64,
    mark: MarkPrice,
    mark_ticks: Price,
    last_trade: Option<Price>,
    premium: PremiumIndex,
    book: OrderBook,
    exchange: Exchange,
    groups: Vec<Group>,
    /// Also in the liquidator's rules; kept here because the liquidator is taken out of
    /// the world while it runs, and option closes during that run need the backstop.
    backstop: Option<AccountId>,
    recorder: Recorder,
    digest: Digest,
    fills: Vec<Fill>,
    candidates: Vec<AccountId>,
    events: u64,
    /// EWMA of squared one-step log returns of the index, per year.
    realized_variance: f64,
    index_history: std::collections::VecDeque<(SimTime, f64)>,
    unpaid_loss: Money,
    check_every_event: bool,
    /// The exchange's liquidation engine and waterfall (its ADL ranking is cached per
    /// instant, its cooldowns per account).
    liquidator: Liquidator,
    desk: Desk,
    /// Open leveraged traders by the price at which they next act (stop, take-profit or
    /// margin warning): woken when the mark falls to a `watch_below` key or rises to a
    /// `watch_above` key, never polled.
    watch_below: BTreeSet<(i64, u32)>,
    watch_above: BTreeSet<(i64, u32)>,
    watch_keys: Vec<(i64, i64)>,
    woken: Vec<AccountId>,
    margin_totals: Option<(Money, Money, u64)>,
    accounts_checked: u64,
    /// Agents' orders on their way, and the free slots of that list.
    in_flight: Vec<Option<InFlight>>,
    free_slots: Vec<u32>,
    option_premium_volume: Money,
    option_settled: Money,
    /// The order being submitted is a liquidation's (its taker pays no trading fee).
    liquidation_taker: bool,
    /// Some traders enter with limit orders (their fills wake them).
    limit_entries: bool,
}

/// No level to watch on that side.
const NO_BELOW: i64 = i64::MIN;
const NO_ABOVE: i64 = i64::MAX;

fn to_side(long: bool) -> Side {
    if long { Side::Buy } else { Side::Sell }
}

impl World {
    pub fn new(cfg: SimConfig) -> Result<World> {
        let option_agents = cfg.agents.iter().any(|g| {
            matches!(
                g.kind,
                AgentKind::OptionWriter | AgentKind::OptionBuyer | AgentKind::OptionMarketMaker
            )
        });
        if option_agents && cfg.options.is_none() {
            return Err(Error::input(
                "option agents need an option chain: add [[instruments]] kind = \"option_chain\"",
            ));
        }
        let seed = cfg.seed;
        let process: Box<dyn PriceProcess> = match &cfg.process {
            ProcessConfig::Parametric { unit, spec } => liqsim_models::process::build(spec, *unit),
            ProcessConfig::Replay(bars) => Box::new(liqsim_models::Replay::new(bars.clone())?),
        };
        let shocks = Shocks::new(cfg.shocks.clone());
        let exchange_config = ExchangeConfig {
            spec: cfg.spec,
            maker_fee: cfg.maker_fee,
            taker_fee: cfg.taker_fee,
            liquidation_fee: cfg.liquidation.fee,
            max_leverage: cfg.max_leverage,
            max_position: cfg
                .max_position
                .map(|x| (x / cfg.spec.qty_to_f64(Qty::from_lots(1))).floor() as i64),
            adl_ranking: cfg.liquidation.adl_ranking,
        };
        let placeholder = Rates { initial: 1.0, maintenance: 0.5 };
        let mut exchange = Exchange::new(
            exchange_config,
            MarginSchedule::Flat { long: placeholder, short: placeholder },
        );
        exchange.fund_deposit(cfg.insurance_fund)?;
        let mut groups = Vec::new();
        for (gi, g) in cfg.agents.iter().enumerate() {
            let deposit = Sampler::new(&g.deposit)?;
            let leverage = Sampler::new(&g.leverage)?;
            // Under isolated margin the wallets come first, so that the members' own
            // (isolated) accounts stay one contiguous range.
            let first_wallet = g.isolated.then_some(exchange.accounts() as u32);
            // A member's draws, the same for its wallet and its account.
            let member_draws = |m: u32| {
                StreamId::named("agents").with_index(gi as u64).with_index(u64::from(m)).rng(seed)
            };
            let mut margins = Vec::new();
            if g.isolated {
                margins.reserve(g.count as usize);
                for m in 0..g.count {
                    let mut rng = member_draws(m);
                    let amount = Money::round_from_f64(deposit.sample(&mut rng))?;
                    exchange.open_account(amount)?;
                    margins.push(Money::round_from_f64(amount.to_f64() * g.position_share)?);
                }
            }
            let first_account = exchange.accounts() as u32;
            let mut members = Vec::with_capacity(g.count as usize);
            for m in 0..g.count {
                let mut rng = member_draws(m);
                let amount = Money::round_from_f64(deposit.sample(&mut rng))?;
                let lev = leverage.sample(&mut rng).min(cfg.max_leverage) as f32;
                let long = rng.random::<f64>() < g.long_fraction;
                match first_wallet {
                    Some(w) => {
                        exchange.open_isolated(AccountId(w + m), margins[m as usize])?;
                    }
                    None => {
                        exchange.open_account(amount)?;
                    }
                }
                members.push(Member {
                    state: State {
                        deposit: amount.to_f64(),
                        leverage: f64::from(lev),
                        long,
                        status: Status::Waiting,
                        warned: false,
                    },
                    wakes: 0,
                    opened: false,
                    liquidated: false,
                    effective_leverage: 0.0,
                    pending_wake: None,
                    wake_gen: 0,
                });
            }
            let quoted = vec![None; members.len()];
            let series_count =
                cfg.options.as_ref().map_or(0, |o| 2 * o.expiries.len() * o.strikes.len());
            let option_quoted = if g.kind == AgentKind::OptionMarketMaker {
                vec![None; members.len() * series_count]
            } else {
                Vec::new()
            };
            let loss_pulls = if g.kind == AgentKind::MarketMaker {
                vec![SimTime::START; members.len()]
            } else {
                Vec::new()
            };
            groups.push(Group {
                loss_pulls,
                latency: Sampler::new(&g.latency)?,
                config: g.clone(),
                first_account,
                first_wallet,
                members,
                pulled_until: SimTime::START,
                quoted,
                option_quoted,
            });
        }
        let backstop = if cfg.liquidation.backstop {
            Some(exchange.open_account(cfg.liquidation.backstop_capital)?)
        } else {
            None
        };
        let mut index = IndexPrice::new(cfg.index_impact, cfg.index_decay);
        let index_value = index.value(SimTime::START, cfg.initial_price);
        let mark_ticks = cfg.spec.price_from_f64(index_value)?;
        let reference_vol = process.volatility() * shocks.vol_scale(SimTime::START);
        let model = MarginModel::new(cfg.margin.policy.clone(), seed)?;
        let desk = Desk::new(
            cfg.options.as_ref(),
            model,
            &cfg.spec,
            cfg.initial_price,
            reference_vol,
            &mut exchange,
        )?;
        let recorder = Recorder::new(RecorderConfig {
            start_fund: cfg.insurance_fund,
            first_shock: shocks.first_start(),
            cascade: CascadeConfig::default(),
        });
        let mut world = World {
            now: SimTime::START,
            queue: EventQueue::with_capacity(1024),
            process,
            price_rng: StreamId::named("price").rng(seed),
            shocks,
            log_fundamental: cfg.initial_price.ln(),
            index,
            index_value,
            mark: MarkPrice::new(cfg.mark_rule, cfg.mark_ema),
            mark_ticks,
            last_trade: None,
            premium: PremiumIndex::default(),
            book: OrderBook::new(BookConfig { stp: StpMode::CancelTaker, capacity: 4096 }),
            exchange,
            groups,
            backstop,
            recorder,
            digest: Digest::new(),
            fills: Vec::with_capacity(256),
            candidates: Vec::with_capacity(256),
            events: 0,
            realized_variance: 0.0,
            index_history: std::collections::VecDeque::new(),
            unpaid_loss: Money::ZERO,
            check_every_event: false,
            liquidator: Liquidator::new(LiquidationRules {
                partial: cfg.liquidation.partial,
                step_fraction: cfg.liquidation.step_fraction,
                cooldown: cfg.liquidation.cooldown,
                backstop,
                adl: cfg.liquidation.adl,
                band: 0.1,
            }),
            desk,
            watch_below: BTreeSet::new(),
            watch_above: BTreeSet::new(),
            watch_keys: Vec::new(),
            woken: Vec::new(),
            margin_totals: None,
            accounts_checked: 0,
            in_flight: Vec::new(),
            free_slots: Vec::new(),
            option_premium_volume: Money::ZERO,
            option_settled: Money::ZERO,
            liquidation_taker: false,
            limit_entries: false,
            cfg,
        };
        world.watch_keys = vec![(NO_BELOW, NO_ABOVE); world.exchange.accounts()];
        world.limit_entries = world.cfg.agents.iter().any(|g| g.limit_fraction > 0.0);
        world.refresh_margin()?;
        world.schedule_start()?;
        Ok(world)
    }

    /// Simulated time of the last event processed.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Runs the invariant checks of the book and the exchange after every event.
    pub fn check_every_event(&mut self, on: bool) {
        self.check_every_event = on;
    }

    fn schedule_start(&mut self) -> Result<()> {
        let start = SimTime::START;
        self.queue.push(start.plus(self.cfg.step), PHASE_PRICE, Event::PriceStep);
        self.queue.push(start.plus(self.cfg.margin.refresh), PHASE_REFRESH, Event::Refresh);
        self.queue.push(start.plus(self.cfg.funding.interval), PHASE_FUNDING, Event::Funding);
        self.queue.push(start.plus(self.cfg.metrics_interval), PHASE_SAMPLE, Event::Sample);
        // Traders enter over the first hour (or quarter of the run), each at its own time.
        let entry_window = SimDuration::from_secs(3600)
            .min(SimDuration::from_nanos(self.cfg.duration.nanos() / 4))
            .nanos()
            .max(1);
        for s in 0..self.desk.series.len() {
            let expiry = self.desk.series[s].expiry;
            if expiry.since(SimTime::START) <= self.cfg.duration {
                self.queue.push(expiry, PHASE_EXPIRY, Event::Expiry { series: s as u16 });
            }
        }
        let mut starts = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            if matches!(g.config.kind, AgentKind::MarketMaker | AgentKind::OptionMarketMaker) {
                continue;
            }
            for m in 0..g.members.len() {
                let mut rng = self.member_rng(gi, m, u32::MAX);
                let at = rng.random_range(0..entry_window);
                starts.push((gi, m, SimTime::from_nanos(at)));
            }
        }
        for (gi, m, at) in starts {
            self.schedule_wake(gi, m, at);
        }
        Ok(())
    }

    fn member_rng(&self, group: usize, member: usize, wake: u32) -> RngStream {
        StreamId::named("agents")
            .with_index(group as u64)
            .with_index(member as u64)
            .with_index(u64::from(wake))
            .rng(self.cfg.seed)
    }

    /// Processes the next event; false when the run is over.
    pub fn step(&mut self) -> Result<bool> {
        let Some((key, event)) = self.queue.pop() else { return Ok(false) };
        if key.time.since(SimTime::START) > self.cfg.duration {
            return Ok(false);
        }
        self.now = key.time;
        self.events += 1;
        match event {
            Event::PriceStep => self.price_step()?,
            Event::Refresh => {
                self.refresh_margin()?;
                self.queue.push(
                    self.now.plus(self.cfg.margin.refresh),
                    PHASE_REFRESH,
                    Event::Refresh,
                );
            }
            Event::Wake { group, member, generation } => {
                let (gi, m) = (usize::from(group), member as usize);
                if self.groups[gi].members[m].wake_gen == generation {
                    self.groups[gi].members[m].pending_wake = None;
                    self.wake(gi, m)?;
                }
            }
            Event::Expiry { series } => self.expire(usize::from(series))?,
            Event::Order { slot } => {
                if let Some(order) = self.in_flight[slot as usize].take() {
                    self.free_slots.push(slot);
                    self.arrive(order)?;
                }
            }
            Event::Funding => self.funding()?,
            Event::Sample => {
                self.sample()?;
                self.queue.push(
                    self.now.plus(self.cfg.metrics_interval),
                    PHASE_SAMPLE,
                    Event::Sample,
                );
            }
        }
        if self.check_every_event {
            self.exchange.check()?;
            self.book.check()?;
            for s in &self.desk.series {
                s.book.check()?;
            }
        }
        Ok(true)
    }

    /// Runs to the end and returns the outcome.
    pub fn run(mut self) -> Result<Outcome> {
        while self.step()? {}
        self.finish()
    }

    /// Moves the fundamental over (now - step, now], so that the price at time t is the
    /// process's value at t (a replay shows each close at the end of its bar).
    fn price_step(&mut self) -> Result<()> {
        let step = self.cfg.step;
        let from = SimTime::from_nanos(self.now.nanos().saturating_sub(step.nanos()));
        let vol_scale = self.shocks.vol_scale(from);
        let r = self.process.step(from, self.now.since(from), vol_scale, &mut self.price_rng)
            + self.shocks.log_jumps_through(from, self.now);
        self.log_fundamental += r;
        let previous_index = self.index_value;
        self.update_prices()?;
        let index_return = (self.index_value / previous_index).ln();
        // Market makers judge volatility over the last minute or so (an EWMA with a 60 s
        // time constant): fast enough to pull at a jump, and to come back once it is over.
        let lambda = (-step.as_seconds_f64() / REALIZED_VOL_WINDOW_S).exp();
        self.realized_variance = lambda * self.realized_variance
            + (1.0 - lambda) * index_return * index_return / step.as_years_f64();
        self.desk.model.observe(index_return, step);
        self.index_history.push_back((self.now, self.index_value));
        while self.index_history.len() > 200_000 {
            self.index_history.pop_front();
        }
        self.liquidation_loop()?;
        self.requote_market_makers()?;
        self.unwind_backstop()?;
        if !self.desk.is_empty() {
            self.requote_option_makers()?;
            self.hedge_option_makers()?;
        }
        self.wake_watchers();
        let next = self.now.plus(step);
        if next.since(SimTime::START) <= self.cfg.duration {
            self.queue.push(next, PHASE_PRICE, Event::PriceStep);
        }
        Ok(())
    }

    fn update_prices(&mut self) -> Result<()> {
        let fundamental = self.log_fundamental.exp();
        self.index_value = self.index.value(self.now, fundamental);
        let spec = self.cfg.spec;
        let tick = spec.tick_size().to_f64();
        let impact_bid = self
            .book
            .impact_price(Side::Sell, self.cfg.funding_impact_notional, &spec)?
            .map(|t| t * tick);
        let impact_ask = self
            .book
            .impact_price(Side::Buy, self.cfg.funding_impact_notional, &spec)?
            .map(|t| t * tick);
        let impact_mid = match (impact_bid, impact_ask) {
            (Some(b), Some(a)) => Some((b + a) / 2.0),
            _ => None,
        };
        self.premium.sample(self.index_value, impact_bid, impact_ask);
        let interval = self.cfg.funding.interval.nanos().max(1);
        let left = 1.0 - (self.now.nanos() % interval) as f64 / interval as f64;
        let last = self.last_trade.map(|p| spec.price_to_f64(p));
        let mark = self.mark.update(
            self.now,
            self.index_value,
            impact_mid,
            last,
            self.premium.rate(&self.cfg.funding),
            left,
        );
        self.mark_ticks = spec.price_from_f64(mark.max(tick))?;
        if !self.desk.is_empty() {
            let vol_now = self.process.volatility() * self.shocks.vol_scale(self.now);
            let forward = spec.price_to_f64(self.mark_ticks);
            if self.desk.update_marks(self.now, forward, vol_now, &spec, &mut self.exchange)? {
                self.desk.mark_all_dirty(&self.exchange);
            }
        }
        Ok(())
    }

    /// Liquidates every account below maintenance at the current mark, again and again
    /// while liquidation fills move the mark into further accounts.
    fn liquidation_loop(&mut self) -> Result<()> {
        let mut cause: Option<u32> = None;
        for _ in 0..MAX_CASCADE_PASSES {
            self.exchange.candidates(self.mark_ticks, &mut self.candidates);
            if !self.desk.is_empty() {
                // Option holders are not in the exchange's index; the desk keys them.
                let from = self.candidates.len();
                self.desk.crossed(self.mark_ticks, &mut self.candidates);
                let exchange = &self.exchange;
                let mut k = from;
                for i in from..self.candidates.len() {
                    if !exchange.holdings(self.candidates[i]).is_empty() {
                        self.candidates[k] = self.candidates[i];
                        k += 1;
                    }
                }
                self.candidates.truncate(k);
            }
            let candidates = std::mem::take(&mut self.candidates);
            self.accounts_checked += candidates.len() as u64;
            let mut last = None;
            for &a in &candidates {
                let cooling =
                    self.liquidator.cooling(&self.exchange, a, self.mark_ticks, self.now)?;
                let liquidatable = if cooling {
                    false
                } else if self.exchange.holdings(a).is_empty() {
                    self.exchange.is_liquidatable(a, self.mark_ticks)?
                } else {
                    self.desk.evaluate(&self.exchange, a, self.mark_ticks, self.now)?
                };
                if !liquidatable {
                    continue;
                }
                if let Some(id) = self.liquidate(a, cause)? {
                    last = Some(id);
                }
            }
            self.candidates = candidates;
            match last {
                None => return Ok(()),
                Some(id) => {
                    cause = Some(id);
                    self.update_prices()?;
                }
            }
        }
        Err(Error::Internal(format!(
            "more than {MAX_CASCADE_PASSES} liquidation passes at {}",
            self.now
        )))
    }

    fn settle_fills(&mut self, taker: AccountId) -> Result<Money> {
        let spec = self.cfg.spec;
        let mut notional_total = Money::ZERO;
        for i in 0..self.fills.len() {
            let f = self.fills[i];
            let maker = AccountId(f.maker_owner.0);
            let (buyer, seller) =
                if f.aggressor == Side::Buy { (taker, maker) } else { (maker, taker) };
            if self.liquidation_taker {
                self.exchange.apply_liquidation_fill(
                    buyer,
                    seller,
                    f.price,
                    f.qty,
                    f.aggressor == Side::Buy,
                )?;
            } else {
                self.exchange.apply_fill(
                    buyer,
                    seller,
                    f.price,
                    f.qty,
                    f.aggressor == Side::Buy,
                )?;
            }
            for x in [buyer, seller] {
                if !self.exchange.holdings(x).is_empty() {
                    self.desk.dirty.push(x);
                }
            }
            // A trader whose limit entry was hit looks at it now.
            if self.limit_entries
                && let Some((gi, m)) = self.member_of(maker)
                && self.groups[gi].members[m].state.status == Status::Resting
            {
                self.schedule_wake(gi, m, self.now);
            }
            let notional = spec.notional(f.price, f.qty)?;
            notional_total = notional_total.checked_add(notional)?;
            let signed =
                if f.aggressor == Side::Buy { notional.to_f64() } else { -notional.to_f64() };
            self.index.on_flow(self.now, signed);
            self.last_trade = Some(f.price);
            self.recorder.on_trade(notional)?;
            self.digest.tag(1);
            self.digest.u64(u64::from(buyer.0));
            self.digest.u64(u64::from(seller.0));
            self.digest.i64(f.price.ticks());
            self.digest.i64(f.qty.lots());
        }
        self.fills.clear();
        Ok(notional_total)
    }

    /// Submits `order` for its owner's account and settles the fills.
    fn submit(&mut self, order: NewOrder) -> Result<liqsim_book::SubmitResult> {
        self.fills.clear();
        let result = self.book.submit(order, &mut self.fills);
        self.settle_fills(AccountId(order.owner.0))?;
        Ok(result)
    }

    /// Closes (part of) an underwater account through the exchange's waterfall; returns
    /// the liquidation's record index, or `None` when nothing could be closed (no
    /// liquidity, no backstop and no ADL: the account is tried again at the next price
    /// step).
    fn liquidate(&mut self, a: AccountId, cause: Option<u32>) -> Result<Option<u32>> {
        let mark = self.mark_ticks;
        let spec = self.cfg.spec;
        let mut liquidator = std::mem::take(&mut self.liquidator);
        let done = liquidator.liquidate(self, a, mark, self.now);
        self.liquidator = liquidator;
        let Some(done) = done? else { return Ok(None) };
        self.recorder.on_fund(self.now, self.exchange.insurance_fund());
        if done.backstop_lots > 0 {
            self.recorder.on_backstop(done.backstop_notional)?;
        }
        self.recorder.on_socialized_loss(done.socialized)?;
        self.unpaid_loss = self.unpaid_loss.checked_add(done.unpaid)?;
        self.mark_out(a);
        self.reenter_from_wallet(a)?;
        let row = LiquidationRow {
            time: self.now,
            account: a.0,
            side: if done.long { LiqSide::Long } else { LiqSide::Short },
            quantity: spec.qty_to_f64(Qty::from_lots(done.closed)),
            notional: done.notional,
            mark: spec.price_to_f64(mark),
            bankruptcy_price: done.bankruptcy_price * spec.tick_size().to_f64(),
            caused_by: cause,
            depth: 0,
            bad_debt: done.bad_debt,
        };
        self.digest.tag(2);
        self.digest.u64(u64::from(a.0));
        self.digest.i64(done.closed);
        self.digest.i64(done.notional.micros());
        self.digest.i64(done.bad_debt.micros());
        self.digest.u64(cause.map_or(u64::MAX, u64::from));
        self.recorder.on_liquidation(row).map(Some)
    }

    /// Once a minute, the backstop sends a reduce-only market order for minute / unwind
    /// of its position (at least a lot), filling no further than 1% from the mark: the
    /// liquidation flow it absorbed reaches the book later instead of never.
    fn unwind_backstop(&mut self) -> Result<()> {
        let unwind = self.cfg.liquidation.backstop_unwind;
        let Some(b) = self.backstop else { return Ok(()) };
        let minute = SimDuration::from_secs(60);
        if unwind == SimDuration::ZERO
            || self.now.nanos() % minute.nanos() >= self.cfg.step.nanos().max(1)
        {
            return Ok(());
        }
        let q = self.exchange.position(b).lots();
        if q == 0 {
            return Ok(());
        }
        let share = (minute.as_seconds_f64() / unwind.as_seconds_f64()).min(1.0);
        let lots = ((q.abs() as f64 * share).ceil() as i64).clamp(1, q.abs());
        let spec = self.cfg.spec;
        let mark = spec.price_to_f64(self.mark_ticks);
        let protection = spec.price_from_f64(mark * if q > 0 { 0.99 } else { 1.01 })?;
        let reducible = self.exchange.reducible(b, q > 0).lots();
        self.book.cancel_all(OwnerId(b.0));
        self.submit(market(b, to_side(q < 0), lots, protection, Some(reducible)))?;
        Ok(())
    }

    /// A flat account's bad debt settled outside a liquidation (an expiry).
    pub(super) fn record_debt(&mut self, debt: DebtSettlement) -> Result<()> {
        if debt.debt.is_positive() {
            self.recorder.on_fund(self.now, self.exchange.insurance_fund());
        }
        self.recorder.on_socialized_loss(debt.socialized)?;
        self.unpaid_loss = self.unpaid_loss.checked_add(debt.unpaid)?;
        Ok(())
    }

    /// An isolated trader about to enter tops its isolated account up from the wallet
    /// to its stake (deposit x position_share), as far as the wallet goes.
    fn restake(&mut self, gi: usize, m: usize, a: AccountId) -> Result<()> {
        if self.groups[gi].first_wallet.is_none() || self.exchange.position(a).lots() != 0 {
            return Ok(());
        }
        let stake = self.stake(gi, m)?;
        let need = stake.checked_sub(self.exchange.cash(a))?;
        if need.is_positive() {
            self.exchange.move_isolated_margin(a, need, self.mark_ticks)?;
        }
        Ok(())
    }

    fn stake(&self, gi: usize, m: usize) -> Result<Money> {
        let g = &self.groups[gi];
        Money::round_from_f64(g.members[m].state.deposit * g.config.position_share)
    }

    /// A liquidated isolated position costs only its margin: a trader whose wallet still
    /// holds another stake comes back after `reentry`, like after a stop-out.
    fn reenter_from_wallet(&mut self, a: AccountId) -> Result<()> {
        let Some((gi, m)) = self.member_of(a) else { return Ok(()) };
        let g = &self.groups[gi];
        if g.first_wallet.is_none()
            || g.config.kind != AgentKind::LeveragedTrader
            || !self.exchange.is_flat(a)
        {
            return Ok(());
        }
        let available = self.wallet_cash(gi, m).checked_add(self.exchange.cash(a))?;
        if available < self.stake(gi, m)? {
            return Ok(());
        }
        let pause = g.config.reentry.max(g.config.wake);
        self.groups[gi].members[m].state.status = Status::Waiting;
        self.schedule_wake(gi, m, self.now.plus(pause));
        Ok(())
    }

    /// The cash in member m's wallet beside its isolated account (zero under cross margin).
    fn wallet_cash(&self, gi: usize, m: usize) -> Money {
        self.groups[gi]
            .first_wallet
            .map_or(Money::ZERO, |w| self.exchange.cash(AccountId(w + m as u32)))
    }

    /// A trader whose position auto-deleveraging reduced looks at it now (its watched
    /// levels belong to the old position).
    fn notify_deleveraged(&mut self, c: AccountId) {
        let Some((gi, m)) = self.member_of(c) else { return };
        if self.groups[gi].config.kind == AgentKind::LeveragedTrader
            && self.groups[gi].members[m].state.status == Status::Open
        {
            self.unwatch(c);
            self.schedule_wake(gi, m, self.now);
        }
    }

    /// A liquidated trader does not come back (its account is spent), unless an isolated
    /// one has another stake in its wallet (`reenter_from_wallet`).
    fn mark_out(&mut self, a: AccountId) {
        self.unwatch(a);
        for g in &mut self.groups {
            let first = g.first_account;
            if a.0 >= first && a.0 < first + g.members.len() as u32 {
                g.members[(a.0 - first) as usize].state.status = Status::Out;
                g.members[(a.0 - first) as usize].liquidated = true;
            }
        }
    }

    fn requote_market_makers(&mut self) -> Result<()> {
        let spec = self.cfg.spec;
        let tick = spec.tick_size().to_f64();
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let vol = (self.realized_variance.max(0.0)).sqrt();
        let liquidity = self.shocks.liquidity_factor(self.now);
        for gi in 0..self.groups.len() {
            if self.groups[gi].config.kind != AgentKind::MarketMaker {
                continue;
            }
            let g = &self.groups[gi];
            let (half_spread, levels, level_size, pull_vol, calm, capital) = (
                g.config.spread,
                g.config.levels,
                g.config.level_size,
                g.config.pull_vol,
                g.config.calm,
                g.config.capital,
            );
            let first = g.first_account;
            let count = g.members.len();
            if vol > pull_vol {
                self.groups[gi].pulled_until = self.now.plus(calm);
            }
            let group_pulled = self.now < self.groups[gi].pulled_until;
            let widen = (vol / 0.5).max(1.0);
            let loss_limit = self.groups[gi].config.stop_loss;
            for m in 0..count {
                let a = AccountId(first + m as u32);
                let position = self.exchange.position(a).lots();
                // A maker whose equity fell `stop_loss` below its deposit stops quoting
                // for the calm period, then tries again.
                if let Some(limit) = loss_limit {
                    let deposit = self.groups[gi].members[m].state.deposit;
                    let equity = self.exchange.equity(a, self.mark_ticks)?.to_f64();
                    if equity < deposit * (1.0 - limit) && self.now >= self.groups[gi].loss_pulls[m]
                    {
                        self.groups[gi].loss_pulls[m] = self.now.plus(calm);
                    }
                }
                let pulled = group_pulled || self.now < self.groups[gi].loss_pulls[m];
                // A standing ladder is kept while the fair price has moved less than a
                // quarter of the half-spread and nothing else changed: requoting every
                // step would cancel and re-add the same orders.
                let state = (self.index_value, position, liquidity, widen);
                let stale = match self.groups[gi].quoted[m] {
                    None => true,
                    Some((fair, pos, liq, wid)) => {
                        (state.0 / fair - 1.0).abs() > half_spread * wid / 4.0
                            || pos != position
                            || liq != liquidity
                            || (wid / widen - 1.0).abs() > 0.25
                    }
                };
                if !pulled && !stale {
                    continue;
                }
                self.book.cancel_all(OwnerId(a.0));
                self.groups[gi].quoted[m] = None;
                if pulled || position == 0 && self.groups[gi].members[m].state.status == Status::Out
                {
                    continue;
                }
                self.groups[gi].quoted[m] = Some(state);
                let equity = self.exchange.equity(a, self.mark_ticks)?.to_f64();
                if equity <= 0.0 {
                    continue;
                }
                let fair = self.index_value;
                let limit = if capital.is_positive() { capital.to_f64() } else { equity * 5.0 };
                let inventory =
                    spec.price_to_f64(self.mark_ticks) * spec.qty_to_f64(self.exchange.position(a));
                let skew = (inventory / limit).clamp(-1.0, 1.0);
                let h = half_spread * widen;
                let lots = ((level_size * liquidity / lot).floor() as i64).max(0);
                if lots == 0 {
                    continue;
                }
                let per_side_cap = limit / 2.0;
                for (side, sign) in [(Side::Buy, -1.0), (Side::Sell, 1.0)] {
                    // At the inventory limit a maker quotes only the side that reduces it.
                    if skew * -sign >= 1.0 {
                        continue;
                    }
                    let mut quoted = 0.0;
                    // Long inventory lowers both quotes (sell more, buy less); short raises them.
                    for k in 1..=levels {
                        let px = fair * (1.0 + sign * h * f64::from(k) - skew * h);
                        quoted += px * lots as f64 * lot;
                        if quoted > per_side_cap {
                            break;
                        }
                        let ticks = if side == Side::Buy {
                            (px / tick).floor()
                        } else {
                            (px / tick).ceil()
                        } as i64;
                        if ticks <= 0 {
                            break;
                        }
                        self.submit(NewOrder {
                            owner: OwnerId(a.0),
                            side,
                            kind: OrderKind::PostOnly,
                            price: Price::from_ticks(ticks),
                            qty: Qty::from_lots(lots),
                            protection: None,
                            max_qty: None,
                        })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Schedules, at this instant, the traders whose watched level the mark has reached.
    fn wake_watchers(&mut self) {
        let p = self.mark_ticks.ticks();
        self.woken.clear();
        self.woken.extend(self.watch_below.range((p, 0)..).map(|&(_, a)| AccountId(a)));
        self.woken.extend(self.watch_above.range(..=(p, u32::MAX)).map(|&(_, a)| AccountId(a)));
        if self.woken.is_empty() {
            return;
        }
        self.woken.sort_unstable();
        self.woken.dedup();
        for k in 0..self.woken.len() {
            let a = self.woken[k];
            self.unwatch(a);
            if let Some((gi, m)) = self.member_of(a) {
                self.schedule_wake(gi, m, self.now);
            }
        }
    }

    fn unwatch(&mut self, a: AccountId) {
        let (lo, hi) = std::mem::replace(&mut self.watch_keys[a.0 as usize], (NO_BELOW, NO_ABOVE));
        if lo != NO_BELOW {
            self.watch_below.remove(&(lo, a.0));
        }
        if hi != NO_ABOVE {
            self.watch_above.remove(&(hi, a.0));
        }
    }

    /// (group, member) of an account, if an agent owns it.
    fn member_of(&self, a: AccountId) -> Option<(usize, usize)> {
        let gi = self.groups.partition_point(|g| g.first_account <= a.0).checked_sub(1)?;
        let m = (a.0 - self.groups[gi].first_account) as usize;
        (m < self.groups[gi].members.len()).then_some((gi, m))
    }

    /// Keys an open trader by the prices at which it acts: equity C + q P v crosses
    /// deposit x (1 - stop_loss) or deposit x (1 + take_profit), or 1.5 x maintenance
    /// (m |q| P v at the current effective rate m) while it has not yet decided on a
    /// top-up. P is in ticks; a long acts below its stop and warning, above its target.
    fn watch(&mut self, gi: usize, m: usize, a: AccountId) -> Result<()> {
        self.unwatch(a);
        let q = self.exchange.position(a).lots();
        if q == 0 {
            return Ok(());
        }
        let config = &self.groups[gi].config;
        let member = self.groups[gi].members[m];
        let v = self.cfg.spec.tick_lot_value().micros() as f64;
        let cash = self.exchange.cash(a).micros() as f64;
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
        let owned = cash + self.wallet_cash(gi, m).micros() as f64;
        if let Some(s) = config.stop_loss {
            level((deposit * (1.0 - s) - owned) / qv, true);
        }
        if let Some(t) = config.take_profit {
            level((deposit * (1.0 + t) - owned) / qv, false);
        }
        if !member.state.warned && config.add_margin_probability > 0.0 {
            let notional = self.exchange.notional(a, self.mark_ticks)?.to_f64();
            let maintenance = self.exchange.requirement(a, self.mark_ticks, true)?.to_f64();
            let rate = if notional > 0.0 { maintenance / notional } else { 0.0 };
            let sign = if q > 0 { 1.0 } else { -1.0 };
            level(-cash / (qv * (1.0 - 1.5 * rate * sign)), true);
        }
        let lo = act_down.iter().copied().fold(f64::NAN, f64::max);
        let hi = act_up.iter().copied().fold(f64::NAN, f64::min);
        // A level the mark has already reached (the trader looked and did not act, as
        // rounding can leave it) waits for the next tick beyond, not for every step.
        let p = self.mark_ticks.ticks();
        let lo = if lo.is_nan() { NO_BELOW } else { (lo.floor() as i64).min(p - 1) };
        let hi = if hi.is_nan() { NO_ABOVE } else { (hi.ceil() as i64).max(p + 1) };
        if lo != NO_BELOW {
            self.watch_below.insert((lo, a.0));
        }
        if hi != NO_ABOVE {
            self.watch_above.insert((hi, a.0));
        }
        self.watch_keys[a.0 as usize] = (lo, hi);
        Ok(())
    }

    /// An agent looks at the market and its account and decides (liqsim-agents); its
    /// orders leave now and reach the exchange after its latency.
    fn wake(&mut self, gi: usize, m: usize) -> Result<()> {
        let a = AccountId(self.groups[gi].first_account + m as u32);
        let member = self.groups[gi].members[m];
        if member.state.status == Status::Out {
            return Ok(());
        }
        let kind = self.groups[gi].config.kind;
        let Some(agent) = behaviour(kind) else { return Ok(()) };
        let mut rng = self.member_rng(gi, m, member.wakes);
        self.groups[gi].members[m].wakes += 1;
        let spec = self.cfg.spec;
        let lookback = self.groups[gi].config.lookback;
        let maintenance = if self.exchange.holdings(a).is_empty() {
            self.exchange.requirement(a, self.mark_ticks, true)?
        } else {
            Money::ZERO
        };
        if member.state.status == Status::Waiting {
            self.restake(gi, m, a)?;
        }
        let margin_equity = self.exchange.equity(a, self.mark_ticks)?;
        let wallet = self.wallet_cash(gi, m);
        let view = View {
            mark: spec.price_to_f64(self.mark_ticks),
            index: self.index_value,
            index_then: self.index_at(self.now.nanos().saturating_sub(lookback.nanos())),
            lot: spec.qty_to_f64(Qty::from_lots(1)),
            position: self.exchange.position(a).lots(),
            holds_options: !self.exchange.holdings(a).is_empty(),
            equity: margin_equity.checked_add(wallet)?.to_f64(),
            margin_equity: margin_equity.to_f64(),
            maintenance: maintenance.to_f64(),
        };
        let mut state = member.state;
        let decision = agent.decide(&self.groups[gi].config, &mut state, &view, &mut rng);
        self.groups[gi].members[m].state = state;
        match decision.action {
            Action::Nothing => {}
            Action::TopUp { amount } => {
                let mut top_up = Money::round_from_f64(amount)?;
                if self.groups[gi].first_wallet.is_some() {
                    top_up = self.exchange.move_isolated_margin(a, top_up, self.mark_ticks)?;
                } else {
                    self.exchange.deposit(a, top_up)?;
                }
                self.digest.tag(4);
                self.digest.u64(u64::from(a.0));
                self.digest.i64(top_up.micros());
            }
            Action::Adopt => {
                self.book.cancel_all(OwnerId(a.0));
                self.became_open(gi, m, a)?;
            }
            action => {
                if matches!(
                    action,
                    Action::Open { .. } | Action::WriteOptions { .. } | Action::BuyOption { .. }
                ) || kind == AgentKind::LeveragedTrader
                {
                    self.groups[gi].members[m].state.status = Status::Sending;
                }
                let delay = self.latency(gi, &mut rng);
                let order = InFlight { group: gi, member: m, action };
                if delay == SimDuration::ZERO {
                    self.arrive(order)?;
                } else {
                    let slot = match self.free_slots.pop() {
                        Some(k) => {
                            self.in_flight[k as usize] = Some(order);
                            k
                        }
                        None => {
                            self.in_flight.push(Some(order));
                            (self.in_flight.len() - 1) as u32
                        }
                    };
                    self.queue.push(self.now.plus(delay), PHASE_AGENTS, Event::Order { slot });
                }
            }
        }
        match decision.next {
            Next::After(dt) => self.schedule_wake(gi, m, self.now.plus(dt)),
            Next::OnPriceLevels => self.watch(gi, m, a)?,
            Next::Never => {}
        }
        Ok(())
    }

    /// A trader's entry filled: it holds a position now.
    fn became_open(&mut self, gi: usize, m: usize, a: AccountId) -> Result<()> {
        let member = &mut self.groups[gi].members[m];
        member.state.status = Status::Open;
        member.state.warned = false;
        member.opened = true;
        // The leverage the venue let it take (its target may be cut down to what initial
        // margin allows).
        let notional = self.exchange.notional(a, self.mark_ticks)?.to_f64();
        let equity = self.exchange.equity(a, self.mark_ticks)?.to_f64();
        if equity > 0.0 {
            self.groups[gi].members[m].effective_leverage = (notional / equity) as f32;
        }
        Ok(())
    }

    /// One draw of the group's latency, widened while realized volatility runs above the
    /// process's own (at most 60 s).
    fn latency(&mut self, gi: usize, rng: &mut RngStream) -> SimDuration {
        let base = self.groups[gi].latency.sample(rng).max(0.0);
        if base == 0.0 {
            return SimDuration::ZERO;
        }
        let normal = self.process.volatility().max(1e-9);
        let ratio = self.realized_variance.max(0.0).sqrt() / normal;
        let widen = 1.0 + self.groups[gi].config.latency_stress * (ratio - 1.0).max(0.0);
        SimDuration::from_nanos(((base * widen).min(60.0) * 1e9) as u64)
    }

    /// An agent's order reaches the exchange: it is checked and submitted now, against the
    /// book as it is now, and the agent learns what happened.
    fn arrive(&mut self, order: InFlight) -> Result<()> {
        let InFlight { group: gi, member: m, action } = order;
        let a = AccountId(self.groups[gi].first_account + m as u32);
        if self.groups[gi].members[m].state.status == Status::Out {
            return Ok(()); // liquidated while the order was on its way
        }
        let config = &self.groups[gi].config;
        let (kind, reentry, wake) = (config.kind, config.reentry, config.wake);
        match action {
            Action::OpenLimit { long, lots, offset } => {
                let spec = self.cfg.spec;
                let mark = spec.price_to_f64(self.mark_ticks);
                let current = self.exchange.position(a).lots();
                let new = current + if long { lots } else { -lots };
                let allowed =
                    lots > 0 && self.exchange.allows(a, Qty::from_lots(new), self.mark_ticks)?;
                let price = mark * if long { 1.0 - offset } else { 1.0 + offset };
                let tick = spec.tick_size().to_f64();
                let ticks =
                    if long { (price / tick).floor() } else { (price / tick).ceil() } as i64;
                let rests = allowed
                    && ticks > 0
                    && self
                        .submit(NewOrder {
                            owner: OwnerId(a.0),
                            side: to_side(long),
                            kind: OrderKind::PostOnly,
                            price: Price::from_ticks(ticks),
                            qty: Qty::from_lots(lots),
                            protection: None,
                            max_qty: None,
                        })?
                        .resting
                        .lots()
                        > 0;
                if rests {
                    self.groups[gi].members[m].state.status = Status::Resting;
                    self.schedule_wake(gi, m, self.now.plus(wake));
                } else {
                    self.groups[gi].members[m].state.status = Status::Waiting;
                    self.schedule_wake(gi, m, self.now.plus(reentry.max(wake)));
                }
            }
            Action::Open { long, lots } => {
                // A limit entry still resting gives way to this market order.
                self.book.cancel_all(OwnerId(a.0));
                if self.open(a, long, lots)? > 0 {
                    self.became_open(gi, m, a)?;
                    self.watch(gi, m, a)?;
                } else {
                    // Nothing filled (no liquidity, or no margin): try again later.
                    self.groups[gi].members[m].state.status = Status::Waiting;
                    self.schedule_wake(gi, m, self.now.plus(reentry.max(wake)));
                }
            }
            Action::Close => {
                self.close(a)?;
                if kind == AgentKind::LeveragedTrader {
                    self.groups[gi].members[m].state.status = Status::Waiting;
                    self.schedule_wake(gi, m, self.now.plus(reentry));
                }
            }
            Action::Reverse { long, lots } => {
                self.close(a)?;
                self.open(a, long, lots)?;
            }
            Action::WriteOptions { strangle } => {
                let wakes = self.groups[gi].members[m].wakes;
                let mut rng = self.member_rng(gi, m, wakes | 1 << 31);
                let state = self.groups[gi].members[m].state;
                let opened =
                    self.write_options(a, state.leverage, state.deposit, strangle, &mut rng)?;
                self.groups[gi].members[m].state.status =
                    if opened { Status::Open } else { Status::Waiting };
            }
            Action::BuyOption { call } => {
                let wakes = self.groups[gi].members[m].wakes;
                let mut rng = self.member_rng(gi, m, wakes | 1 << 31);
                let deposit = self.groups[gi].members[m].state.deposit;
                let opened = self.buy_options(a, call, deposit, &mut rng)?;
                self.groups[gi].members[m].state.status =
                    if opened { Status::Open } else { Status::Waiting };
            }
            Action::BuyBack => self.buy_back(a)?,
            Action::Nothing | Action::TopUp { .. } | Action::Adopt => {}
        }
        Ok(())
    }

    /// One pending wake per member, the earliest asked for: a later request is dropped,
    /// an earlier one supersedes the pending event (left in the queue, stale).
    fn schedule_wake(&mut self, gi: usize, m: usize, at: SimTime) {
        let member = &mut self.groups[gi].members[m];
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

    fn index_at(&self, nanos: u64) -> f64 {
        let i = self.index_history.partition_point(|(t, _)| t.nanos() < nanos);
        self.index_history
            .get(i)
            .or(self.index_history.back())
            .map_or(self.index_value, |(_, v)| *v)
    }

    /// Opens a market position of up to `lots`, scaled down to what the exchange allows;
    /// returns the lots filled.
    fn open(&mut self, a: AccountId, long: bool, lots: i64) -> Result<i64> {
        let mut lots = lots;
        let current = self.exchange.position(a).lots();
        while lots > 0 {
            let new = current + if long { lots } else { -lots };
            if self.exchange.allows(a, Qty::from_lots(new), self.mark_ticks)? {
                break;
            }
            lots /= 2;
        }
        if lots <= 0 {
            return Ok(0);
        }
        let spec = self.cfg.spec;
        let mark = spec.price_to_f64(self.mark_ticks);
        // Traders accept up to 5% slippage from the mark.
        let protection = spec.price_from_f64(mark * if long { 1.05 } else { 0.95 })?;
        let r = self.submit(market(a, to_side(long), lots, protection, None))?;
        Ok(r.filled.lots())
    }

    /// Closes the account's position at market (reduce-only).
    fn close(&mut self, a: AccountId) -> Result<()> {
        let q = self.exchange.position(a).lots();
        if q == 0 {
            return Ok(());
        }
        let spec = self.cfg.spec;
        let mark = spec.price_to_f64(self.mark_ticks);
        let protection = spec.price_from_f64(mark * if q > 0 { 0.95 } else { 1.05 })?;
        let reducible = self.exchange.reducible(a, q > 0).lots();
        self.submit(market(a, to_side(q < 0), q.abs(), protection, Some(reducible)))?;
        Ok(())
    }

    fn funding(&mut self) -> Result<()> {
        let rate = self.premium.rate(&self.cfg.funding);
        self.premium.reset();
        let residual = self.exchange.pay_funding(rate, self.mark_ticks)?;
        self.digest.tag(5);
        self.digest.i64((rate * 1e12).round() as i64);
        self.digest.i64(residual.micros());
        self.queue.push(self.now.plus(self.cfg.funding.interval), PHASE_FUNDING, Event::Funding);
        // Funding moves every balance; accounts pushed below maintenance go now.
        self.liquidation_loop()
    }

    fn refresh_margin(&mut self) -> Result<()> {
        let state = MarketState {
            vol_scale: self.shocks.vol_scale(self.now),
            realized_variance: self.realized_variance,
            normal_vol: self.process.volatility(),
        };
        let schedule = self.desk.model.refresh(&state)?.clone();
        self.exchange.set_schedule(schedule);
        // Volatility and time are frozen inside a holder's range: recheck them all (unless
        // the policy's requirement cannot move between refreshes).
        if !self.desk.is_empty() && self.desk.model.moves_between_refreshes() {
            self.desk.mark_all_dirty(&self.exchange);
        }
        Ok(())
    }

    fn sample(&mut self) -> Result<()> {
        let mark = self.mark_ticks;
        let every = self.cfg.margin_metrics_interval.nanos().max(1);
        let due = self.now.nanos() % every < self.cfg.metrics_interval.nanos().max(1);
        if due || self.margin_totals.is_none() {
            self.margin_totals = Some(self.margin_totals(mark)?);
        }
        let (required, held, below) = self.margin_totals.unwrap_or_default();
        self.sample_rest(mark, required, held, below)
    }

    /// (initial required, equity held, accounts below maintenance) over every account.
    fn margin_totals(&mut self, mark: Price) -> Result<(Money, Money, u64)> {
        let (mut required, mut held, mut below) = self.exchange.perpetual_margin_totals(mark)?;
        if !self.desk.is_empty() {
            let holders: Vec<AccountId> = self.exchange.option_holders().collect();
            for a in holders {
                let (initial, maintenance) =
                    self.desk.last_requirement(&self.exchange, a, mark, self.now)?;
                let equity = self.exchange.equity(a, mark)?;
                required = required.checked_add(initial)?;
                held = held.checked_add(equity.max(Money::ZERO))?;
                below += u64::from(equity < maintenance);
            }
        }
        Ok((required, held, below))
    }

    fn sample_rest(&mut self, mark: Price, required: Money, held: Money, below: u64) -> Result<()> {
        let spec = self.cfg.spec;
        let mid = match (self.book.best_bid(), self.book.best_ask()) {
            (Some((b, _)), Some((a, _))) => Some((b, a)),
            _ => None,
        };
        let one_percent = (mark.ticks() / 100).max(1);
        let depth = self
            .book
            .notional_within(Side::Buy, one_percent, &spec)?
            .checked_add(self.book.notional_within(Side::Sell, one_percent, &spec)?)?;
        self.recorder.sample(Snapshot {
            time: self.now,
            index: self.index_value,
            mark: spec.price_to_f64(mark),
            last: self.last_trade.map_or(self.index_value, |p| spec.price_to_f64(p)),
            spread: mid.map(|(b, a)| spec.price_to_f64(a) - spec.price_to_f64(b)),
            depth_1pct: depth,
            open_interest: spec.qty_to_f64(self.exchange.open_interest()),
            insurance_fund: self.exchange.insurance_fund(),
            margin_required: required,
            margin_held: held,
            accounts_below_maintenance: below,
            unpaid_loss: self.unpaid_loss,
        })
    }

    fn finish(mut self) -> Result<Outcome> {
        self.recorder.on_fund(self.now, self.exchange.insurance_fund());
        // The final state enters the digest, so two runs that end differently differ.
        for i in 0..self.exchange.accounts() {
            let a = AccountId(i as u32);
            self.digest.i64(self.exchange.cash(a).micros());
            self.digest.i64(self.exchange.position(a).lots());
        }
        self.digest.i64(self.exchange.insurance_fund().micros());
        // Every money movement, in order, through the journal's own running hash.
        if let Some(journal) = self.exchange.ledger().digest() {
            self.digest.u64(journal);
        }
        if !self.desk.is_empty() {
            for i in 0..self.exchange.accounts() {
                for h in self.exchange.holdings(AccountId(i as u32)) {
                    self.digest.u64(i as u64);
                    self.digest.u64(u64::from(h.series));
                    self.digest.i64(h.qty);
                }
            }
        }
        let shocks = self
            .cfg
            .shocks
            .iter()
            .map(|s| match *s {
                Shock::Jump { at, .. } => ShockWindow { start: at, end: at, kind: ShockKind::Jump },
                Shock::Volatility { start, end, .. } => {
                    ShockWindow { start, end, kind: ShockKind::Volatility }
                }
                Shock::Drought { start, end, .. } => {
                    ShockWindow { start, end, kind: ShockKind::Drought }
                }
            })
            .collect();
        // Positions still open below zero equity (nobody could close them) are losses
        // nobody has paid: the exchange is not solvent while they exist.
        for i in 0..self.exchange.accounts() {
            let a = AccountId(i as u32);
            if !self.exchange.is_flat(a) {
                let equity = self.exchange.equity(a, self.mark_ticks)?;
                if equity.is_negative() {
                    let deficit = equity.checked_neg()?;
                    self.unpaid_loss = self.unpaid_loss.checked_add(deficit)?;
                    // Bad debt in waiting: counted, or a policy whose losers could not be
                    // closed would look safer than one whose losers were.
                    self.recorder.on_open_deficit(deficit)?;
                }
            }
        }
        let conservation_error = self.exchange.ledger().conservation_error()?;
        self.exchange.check()?;
        let leverage_bands = self.leverage_bands();
        let spec = self.cfg.spec;
        let option_lots: i64 =
            (0..self.exchange.series()).map(|s| self.exchange.option_open_interest(s as u16)).sum();
        let options = OptionFigures {
            series: self.exchange.series() as u64,
            premium_volume: self.option_premium_volume,
            settled: self.option_settled,
            open_interest: spec.qty_to_f64(Qty::from_lots(option_lots)),
        };
        self.recorder.finish(RunFacts {
            scenario: self.cfg.name.clone(),
            seed: self.cfg.seed,
            policy: self.desk.model.name().to_string(),
            digest: self.digest.to_string(),
            events: self.events,
            accounts_checked: self.accounts_checked,
            duration: self.cfg.duration,
            conservation_error,
            unpaid_loss: self.unpaid_loss,
            shocks,
            leverage_bands,
            options,
        })
    }
}

#[path = "option_agents.rs"]
mod option_agents;

impl World {
    fn leverage_bands(&self) -> Vec<LeverageBand> {
        let mut bands: Vec<LeverageBand> = LEVERAGE_BAND_EDGES
            .windows(2)
            .map(|w| LeverageBand { from: w[0], to: w[1], ..LeverageBand::default() })
            .collect();
        let traders = self.groups.iter().filter(|g| g.config.kind == AgentKind::LeveragedTrader);
        for member in traders.flat_map(|g| &g.members).filter(|m| m.opened) {
            let lev = f64::from(member.effective_leverage);
            let k = bands.iter().position(|b| lev < b.to).unwrap_or(bands.len() - 1);
            let b = &mut bands[k];
            if member.state.long {
                b.long_opened += 1;
                b.long_liquidated += u64::from(member.liquidated);
            } else {
                b.short_opened += 1;
                b.short_liquidated += u64::from(member.liquidated);
            }
        }
        bands
    }
}

/// A market order bounded at `protection`, capped at `max_lots` when reduce-only.
fn market(
    a: AccountId,
    side: Side,
    lots: i64,
    protection: Price,
    max_lots: Option<i64>,
) -> NewOrder {
    NewOrder {
        owner: OwnerId(a.0),
        side,
        kind: OrderKind::Market,
        price: Price::ZERO,
        qty: Qty::from_lots(lots),
        protection: Some(protection),
        max_qty: max_lots.map(Qty::from_lots),
    }
}

/// Builds and runs a world.
pub fn run(cfg: SimConfig) -> Result<Outcome> {
    World::new(cfg)?.run()
}

/// The world around the exchange, as its waterfall sees it: the books the liquidation
/// orders go to, and the agents and metrics that hear of every close.
impl Host for World {
    fn exchange(&mut self) -> &mut Exchange {
        &mut self.exchange
    }

    fn cancel_orders(&mut self, a: AccountId) -> Result<()> {
        self.book.cancel_all(OwnerId(a.0));
        for s in 0..self.desk.series.len() {
            self.desk.series[s].book.cancel_all(OwnerId(a.0));
        }
        Ok(())
    }

    fn close_other_positions(&mut self, a: AccountId) -> Result<Option<(i64, Money, bool)>> {
        if self.desk.is_empty() || self.exchange.holdings(a).is_empty() {
            return Ok(None);
        }
        let long = self.desk.net_delta(&self.exchange, a) > 0.0;
        let (lots, value) = self.close_options_for_liquidation(a)?;
        self.desk.remove(a);
        Ok(Some((lots, value, long)))
    }

    fn liquidation_order(
        &mut self,
        a: AccountId,
        sell: bool,
        lots: i64,
        bound: Price,
    ) -> Result<(i64, i64)> {
        self.liquidation_taker = true;
        let r = self.submit(market(a, to_side(!sell), lots, bound, None));
        self.liquidation_taker = false;
        let r = r?;
        Ok((r.filled.lots(), r.returned.lots()))
    }

    fn closed_against(
        &mut self,
        c: AccountId,
        lots: i64,
        notional: Money,
        adl: bool,
    ) -> Result<()> {
        self.book.cancel_all(OwnerId(c.0));
        if adl {
            self.recorder.on_adl(self.now, notional)?;
            self.digest.tag(3);
        } else {
            self.recorder.on_mark_close(notional)?;
            self.digest.tag(9);
        }
        self.digest.u64(u64::from(c.0));
        self.digest.i64(lots);
        self.notify_deleveraged(c);
        Ok(())
    }

    fn fund_insufficient(&mut self) {
        self.recorder.on_fund_insufficient(self.now);
    }
}
