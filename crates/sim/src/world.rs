//! The event kernel: one world, stepped event by event. The world only sequences; each
//! job is a part of its own:
//!
//! - `market`: fundamental, index, mark, funding premium, realized volatility;
//! - `venue`: the exchange and its books, orders in and fills out (settlement);
//! - `options`: the option series, their marks and expiry, writers' and buyers' orders;
//! - `margin`: the run's margin model and the index of option holders;
//! - `population`: agent groups, members, accounts and wallets;
//! - `traders`: wakes, orders in flight, arrivals and the index of watched prices;
//! - `quoting`: market makers' ladders (from `liqsim_agents::quoting`) and hedges;
//! - `liquidations`: the liquidation loop and the waterfall's host;
//! - `events`: the typed event stream to the digest and the recorder;
//! - `check`: the kernel's own indexes checked against the exchange (`--check`).
//!
//! Events are ordered by (time, phase, seq). The phases of one instant:
//! 0. price step: collateral prices move first and their holders are checked at the mark
//!    as it stands (liquidations caused by collateral value); then the fundamental moves
//!    (process + scheduled jumps), then the index, the
//!    mark and the option marks; then margin checks and liquidations, repeated while
//!    liquidation fills move the mark into further accounts; then market makers requote,
//!    the backstop unwinds, option makers requote and hedge, and traders whose watched
//!    price the mark reached are scheduled;
//! 1. risk refresh (the margin model recomputes; the exchange takes its schedule);
//! 2. option expiry (cash settlement on the index);
//! 4. agent wakes (traders decide and send orders), and orders arriving after their
//!    latency;
//! 5. funding;
//! 7. metrics sample.
//!
//! Agents' orders arrive after their latency; market makers' quotes do not.
//!
//! Known limitations (this version): one perpetual.

use crate::check;
use crate::config::{ProcessConfig, SimConfig};
use crate::eventlog::EventLog;
use crate::events::{Observers, SimEvent};
use crate::liquidations::Liquidations;
use crate::margin::Margin;
use crate::market::Market;
use crate::metrics::{Recorder, RecorderConfig, RunFacts, Snapshot};
use crate::options::OptionChain;
use crate::outcome::{OptionFigures, Outcome, ShockKind, ShockWindow, VolumeBar};
use crate::population::Population;
use crate::quoting::Makers;
use crate::traders::Traders;
use crate::venue::Venue;
use crate::{cascade::CascadeConfig, digest::Digest};
use liqsim_book::Side;
use liqsim_core::{Error, EventQueue, Money, Qty, Result, SimTime};
use liqsim_exchange::{AccountId, Exchange, ExchangeConfig, MarginSchedule, Rates};
use liqsim_models::Shock;
use liqsim_risk::{MarginModel, MarketState};

pub(crate) const PHASE_PRICE: u8 = 0;
pub(crate) const PHASE_REFRESH: u8 = 1;
pub(crate) const PHASE_EXPIRY: u8 = 2;
pub(crate) const PHASE_AGENTS: u8 = 4;
pub(crate) const PHASE_FUNDING: u8 = 5;
pub(crate) const PHASE_SAMPLE: u8 = 7;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
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

/// The parts of the world one job needs at once, borrowed for one event.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a SimConfig,
    pub now: SimTime,
    pub queue: &'a mut EventQueue<Event>,
    pub market: &'a mut Market,
    pub venue: &'a mut Venue,
    pub chain: &'a mut OptionChain,
    pub margin: &'a mut Margin,
    pub population: &'a mut Population,
    pub traders: &'a mut Traders,
    pub observers: &'a mut Observers,
}

#[derive(Debug)]
pub struct World {
    cfg: SimConfig,
    now: SimTime,
    queue: EventQueue<Event>,
    events: u64,
    check_every_event: bool,
    market: Market,
    venue: Venue,
    chain: OptionChain,
    margin: Margin,
    population: Population,
    traders: Traders,
    makers: Makers,
    liquidations: Liquidations,
    observers: Observers,
}

impl World {
    pub fn new(cfg: SimConfig) -> Result<World> {
        let market = Market::new(&cfg)?;
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
        // The model's schedule replaces this at the first refresh, before any event.
        let placeholder = Rates { initial: 1.0, maintenance: 0.5 };
        let mut exchange = Exchange::new(
            exchange_config,
            MarginSchedule::Flat { long: placeholder, short: placeholder },
        );
        exchange.fund_deposit(cfg.insurance_fund)?;
        let mut holdings = Vec::with_capacity(cfg.collateral.len());
        for (c, &price) in cfg.collateral.iter().zip(&market.collateral.prices) {
            exchange.add_collateral(c.config.clone(), price)?;
            holdings.push((c.share, price.to_f64()));
        }
        let population =
            Population::open(&cfg.agents, cfg.max_leverage, cfg.seed, &holdings, &mut exchange)?;
        let backstop = if cfg.liquidation.backstop {
            Some(exchange.open_account(cfg.liquidation.backstop_capital)?)
        } else {
            None
        };
        let engine = match cfg.liquidation.engine {
            Some(e) => {
                let account = exchange.open_account(e.vault_capital.unwrap_or(Money::ZERO))?;
                exchange.set_engine(account, e.vault_capital.is_none())?;
                Some(account)
            }
            None => None,
        };
        let reference_vol = market.vol_now(SimTime::START);
        let model = MarginModel::new(cfg.margin.policy.clone(), cfg.seed)?;
        let chain = OptionChain::new(
            cfg.options.as_ref(),
            &cfg.spec,
            cfg.initial_price,
            reference_vol,
            &mut exchange,
        )?;
        let observers = Observers {
            digest: Digest::new(),
            recorder: Recorder::new(RecorderConfig {
                start_fund: cfg.insurance_fund,
                first_shock: market.shocks.first_start(),
                cascade: CascadeConfig::default(),
            }),
            log: None,
        };
        let makers = Makers::new(
            population
                .groups
                .iter()
                .enumerate()
                .map(|(gi, g)| (gi, g.config.kind(), g.members.len())),
            chain.len(),
        );
        let limit_entries =
            cfg.agents.iter().any(|g| g.trader().is_some_and(|t| t.limit_fraction > 0.0));
        let mut world = World {
            now: SimTime::START,
            queue: EventQueue::with_capacity(1024),
            events: 0,
            check_every_event: false,
            market,
            traders: Traders::new(exchange.accounts(), limit_entries),
            venue: Venue::new(exchange, chain.len()),
            chain,
            margin: Margin::new(model, reference_vol),
            population,
            makers,
            liquidations: Liquidations::new(&cfg.liquidation, backstop, engine),
            observers,
            cfg,
        };
        world.refresh_margin()?;
        world.schedule_start()?;
        Ok(world)
    }

    /// Simulated time of the last event processed.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Runs the invariant checks of the books, the exchange and the kernel's own indexes
    /// after every event.
    pub fn check_every_event(&mut self, on: bool) {
        self.check_every_event = on;
    }

    fn ctx(&mut self) -> (Ctx<'_>, &mut Liquidations, &mut Makers) {
        let ctx = Ctx {
            cfg: &self.cfg,
            now: self.now,
            queue: &mut self.queue,
            market: &mut self.market,
            venue: &mut self.venue,
            chain: &mut self.chain,
            margin: &mut self.margin,
            population: &mut self.population,
            traders: &mut self.traders,
            observers: &mut self.observers,
        };
        (ctx, &mut self.liquidations, &mut self.makers)
    }

    fn schedule_start(&mut self) -> Result<()> {
        let start = SimTime::START;
        let cfg = &self.cfg;
        self.queue.push(start.plus(cfg.step), PHASE_PRICE, Event::PriceStep);
        self.queue.push(start.plus(cfg.margin.refresh), PHASE_REFRESH, Event::Refresh);
        self.queue.push(start.plus(cfg.funding.interval), PHASE_FUNDING, Event::Funding);
        self.queue.push(start.plus(cfg.metrics_interval), PHASE_SAMPLE, Event::Sample);
        for (s, series) in self.chain.series.iter().enumerate() {
            if series.expiry.since(SimTime::START) <= cfg.duration {
                self.queue.push(series.expiry, PHASE_EXPIRY, Event::Expiry { series: s as u16 });
            }
        }
        self.ctx().0.open_at_start()?;
        self.ctx().0.schedule_entries();
        Ok(())
    }

    /// Processes the next event; false when the run is over.
    pub fn step(&mut self) -> Result<bool> {
        let Some((key, event)) = self.queue.pop() else { return Ok(false) };
        if key.time.since(SimTime::START) > self.cfg.duration {
            return Ok(false);
        }
        self.now = key.time;
        self.events += 1;
        let (mut ctx, liquidations, makers) = self.ctx();
        match event {
            Event::PriceStep => price_step(&mut ctx, liquidations, makers)?,
            Event::Refresh => {
                refresh_margin(&mut ctx)?;
                let next = ctx.now.plus(ctx.cfg.margin.refresh);
                ctx.queue.push(next, PHASE_REFRESH, Event::Refresh);
            }
            Event::Wake { group, member, generation } => {
                let (gi, m) = (usize::from(group), member as usize);
                let member = &mut ctx.population.groups[gi].members[m];
                if member.wake_gen == generation {
                    member.pending_wake = None;
                    ctx.wake(gi, m)?;
                }
            }
            Event::Expiry { series } => {
                ctx.expire(usize::from(series))?;
                ctx.liquidate_all(liquidations)?;
            }
            Event::Order { slot } => {
                if let Some(order) = ctx.traders.take_arrived(slot) {
                    ctx.arrive(order)?;
                }
            }
            Event::Funding => {
                let rate = ctx.market.take_funding_rate(ctx.cfg);
                let residual = ctx.venue.exchange.pay_funding(rate, ctx.market.mark_ticks)?;
                ctx.observers.emit(ctx.now, SimEvent::Funding { rate, residual })?;
                let next = ctx.now.plus(ctx.cfg.funding.interval);
                ctx.queue.push(next, PHASE_FUNDING, Event::Funding);
                // Funding moves every balance; accounts pushed below maintenance go now.
                ctx.liquidate_all(liquidations)?;
            }
            Event::Sample => {
                sample_options(&mut ctx)?;
                sample_collateral(&mut ctx)?;
                sample(&mut ctx)?;
                let next = ctx.now.plus(ctx.cfg.metrics_interval);
                ctx.queue.push(next, PHASE_SAMPLE, Event::Sample);
            }
        }
        if self.check_every_event {
            check::kernel(&self.venue, &self.margin, &self.traders, self.market.mark_ticks)?;
        }
        Ok(true)
    }

    /// Runs to the end and returns the outcome.
    pub fn run(mut self) -> Result<Outcome> {
        while self.step()? {}
        self.finish()
    }

    /// Keeps the event logs (see [`EventLog`]) from now on; [`World::run_with_progress`]
    /// returns them.
    pub fn keep_event_log(&mut self) {
        self.observers.log = Some(Box::new(EventLog::new(self.cfg.spec)));
    }

    /// As [`World::run`], telling `on_progress` the simulated time after every `every`
    /// events (for a runner's progress display, which cannot reach the state), and
    /// returning the event logs when [`World::keep_event_log`] asked for them.
    pub fn run_with_progress(
        mut self,
        every: u64,
        mut on_progress: impl FnMut(SimTime),
    ) -> Result<(Outcome, Option<EventLog>)> {
        let every = every.max(1);
        while self.step()? {
            if self.events.is_multiple_of(every) {
                on_progress(self.now);
            }
        }
        self.finish_with_log()
    }

    fn refresh_margin(&mut self) -> Result<()> {
        refresh_margin(&mut self.ctx().0)
    }

    fn finish(self) -> Result<Outcome> {
        self.finish_with_log().map(|(outcome, _)| outcome)
    }

    fn finish_with_log(mut self) -> Result<(Outcome, Option<EventLog>)> {
        let now = self.now;
        let exchange = &self.venue.exchange;
        let observers = &mut self.observers;
        let mark = self.market.mark_ticks;
        observers.emit(now, SimEvent::Fund { balance: exchange.fund_value(mark)? })?;
        // The final state enters the digest, so two runs that end differently differ.
        let digest = &mut observers.digest;
        for i in 0..exchange.accounts() {
            let a = AccountId(i as u32);
            digest.i64(exchange.cash(a).micros());
            digest.i64(exchange.position(a).lots());
        }
        digest.i64(exchange.insurance_fund().micros());
        // Every money movement, in order, through the journal's own running hash.
        if let Some(journal) = exchange.ledger().digest() {
            digest.u64(journal);
        }
        if !self.chain.is_empty() {
            for i in 0..exchange.accounts() {
                for h in exchange.holdings(AccountId(i as u32)) {
                    digest.u64(i as u64);
                    digest.u64(u64::from(h.series));
                    digest.i64(h.qty);
                }
            }
        }
        // Positions still open below zero equity (nobody could close them) are losses
        // nobody has paid: the exchange is not solvent while they exist. Counted as bad
        // debt, or a policy whose losers could not be closed would look safer than one
        // whose losers were.
        // The engine's result is in the fund's figures (a fund-funded engine's), or its
        // vault's own.
        let engine = self.liquidations.engine;
        for i in 0..exchange.accounts() {
            let a = AccountId(i as u32);
            if !exchange.is_flat(a) && Some(a) != engine {
                let equity = exchange.equity(a, self.market.mark_ticks)?;
                if equity.is_negative() {
                    observers.emit(now, SimEvent::OpenDeficit { amount: equity.checked_neg()? })?;
                }
            }
        }
        let conservation_error = exchange.ledger().conservation_error()?;
        exchange.check()?;
        let spec = self.cfg.spec;
        let option_lots: i64 =
            (0..exchange.series()).map(|s| exchange.option_open_interest(s as u16)).sum();
        let (premium_volume, settled) = observers.recorder.option_flows();
        let options = OptionFigures {
            series: exchange.series() as u64,
            premium_volume,
            settled,
            open_interest: spec.qty_to_f64(Qty::from_lots(option_lots)),
        };
        let shocks = self.cfg.shocks.iter().map(shock_window).collect();
        let facts = RunFacts {
            scenario: self.cfg.name.clone(),
            quote_currency: self.cfg.quote_currency.clone(),
            seed: self.cfg.seed,
            start_utc_ns: self.cfg.start_utc_ns,
            policy: self.margin.model.name().to_string(),
            digest: observers.digest.to_string(),
            events: self.events,
            accounts_checked: self.liquidations.accounts_checked,
            duration: self.cfg.duration,
            conservation_error,
            shocks,
            leverage_bands: self.population.leverage_bands(),
            options,
            replay_volume: replay_volume(&self.cfg),
            collateral_assets: self.cfg.collateral.iter().map(|c| c.config.name.clone()).collect(),
            collateral_converted: Money::ZERO.checked_sub(self.venue.exchange.collateral_desk())?,
        };
        let accounts = self.venue.exchange.accounts();
        let log = self.observers.log.take().map(|mut log| {
            log.groups = (0..accounts)
                .map(|i| self.population.member_of(AccountId(i as u32)).map(|(g, _)| g as u32))
                .collect();
            *log
        });
        Ok((self.observers.recorder.finish(facts)?, log))
    }
}

/// Moves the fundamental over (now - step, now], so that the price at time t is the
/// process's value at t; then liquidations, quotes and watchers, in the phase's order.
fn price_step(ctx: &mut Ctx, liquidations: &mut Liquidations, makers: &mut Makers) -> Result<()> {
    let step = ctx.cfg.step;
    if !ctx.market.collateral.is_empty() {
        ctx.move_collateral(liquidations)?;
    }
    ctx.market.move_fundamental(ctx.now, step);
    let previous_index = ctx.market.index_value;
    ctx.update_prices()?;
    let index_return = ctx.market.observe_step(ctx.now, previous_index, step);
    ctx.margin.model.observe(index_return, step);
    ctx.liquidate_all(liquidations)?;
    ctx.requote_perpetual_makers(makers)?;
    ctx.unwind_takers(liquidations)?;
    if !ctx.chain.is_empty() {
        ctx.requote_option_makers(makers)?;
        ctx.hedge_option_makers()?;
    }
    ctx.wake_watchers();
    let spec = ctx.cfg.spec;
    let open_interest = ctx.venue.exchange.open_interest();
    let notional = spec.notional(ctx.market.mark_ticks, open_interest)?;
    let units = spec.qty_to_f64(open_interest);
    ctx.observers.emit(ctx.now, SimEvent::OpenInterest { units, notional })?;
    let next = ctx.now.plus(step);
    if next.since(SimTime::START) <= ctx.cfg.duration {
        ctx.queue.push(next, PHASE_PRICE, Event::PriceStep);
    }
    Ok(())
}

fn refresh_margin(ctx: &mut Ctx) -> Result<()> {
    let state = MarketState {
        vol_scale: ctx.market.shocks.vol_scale(ctx.now),
        realized_variance: ctx.market.realized_variance,
        normal_vol: ctx.market.normal_vol(),
    };
    ctx.margin.refresh(&state, &mut ctx.venue.exchange, ctx.chain)
}

/// The state at the end of a metrics interval. Margin totals visit every option holder,
/// so they are recounted every `margin_metrics_interval` and carried between.
fn sample(ctx: &mut Ctx) -> Result<()> {
    let mark = ctx.market.mark_ticks;
    let every = ctx.cfg.margin_metrics_interval.nanos().max(1);
    let due = ctx.now.nanos() % every < ctx.cfg.metrics_interval.nanos().max(1);
    if due || ctx.margin.totals.is_none() {
        let totals = ctx.margin.count_totals(&ctx.venue.exchange, ctx.chain, mark, ctx.now)?;
        ctx.margin.totals = Some(totals);
    }
    let (required, held, below) = ctx.margin.totals.unwrap_or_default();
    let spec = ctx.cfg.spec;
    let book = &ctx.venue.book;
    let mid = match (book.best_bid(), book.best_ask()) {
        (Some((b, _)), Some((a, _))) => Some((b, a)),
        _ => None,
    };
    let one_percent = (mark.ticks() / 100).max(1);
    let depth = book
        .notional_within(Side::Buy, one_percent, &spec)?
        .checked_add(book.notional_within(Side::Sell, one_percent, &spec)?)?;
    let exchange = &ctx.venue.exchange;
    let index = ctx.market.index_value;
    ctx.observers.recorder.sample(Snapshot {
        time: ctx.now,
        index,
        mark: spec.price_to_f64(mark),
        last: ctx.market.last_trade.map_or(index, |p| spec.price_to_f64(p)),
        spread: mid.map(|(b, a)| spec.price_to_f64(a) - spec.price_to_f64(b)),
        depth_1pct: depth,
        open_interest: spec.qty_to_f64(exchange.open_interest()),
        insurance_fund: exchange.fund_value(mark)?,
        margin_required: required,
        margin_held: held,
        accounts_below_maintenance: below,
        initial_rate: ctx.margin.model.schedule().small_position_initial(),
    })
}

/// Each option series' open interest and mark, for the recorder's option figures.
fn sample_options(ctx: &mut Ctx) -> Result<()> {
    let spec = ctx.cfg.spec;
    for (s, series) in ctx.chain.series.iter().enumerate() {
        let id = u16::try_from(s).map_err(|_| Error::overflow("series"))?;
        let exchange = &ctx.venue.exchange;
        let event = SimEvent::OptionSeries {
            series: id,
            kind: series.kind,
            strike: series.strike,
            expiry: series.expiry,
            open_interest: spec.qty_to_f64(Qty::from_lots(exchange.option_open_interest(id))),
            mark: spec.price_to_f64(exchange.option_mark(id)),
        };
        ctx.observers.emit(ctx.now, event)?;
    }
    Ok(())
}

/// Each collateral asset's venue price, for the recorder's price path.
fn sample_collateral(ctx: &mut Ctx) -> Result<()> {
    for k in 0..ctx.market.collateral.prices.len() {
        let asset = u16::try_from(k).map_err(|_| Error::overflow("collateral asset"))?;
        let price = ctx.market.collateral.prices[k];
        ctx.observers.emit(ctx.now, SimEvent::CollateralPrice { asset, price })?;
    }
    Ok(())
}

/// The replayed bars' traded volumes that start within the run, each bar lasting until
/// the next (the last as long as the one before it, as in the replay).
fn replay_volume(cfg: &SimConfig) -> Vec<VolumeBar> {
    let ProcessConfig::Replay(bars) = &cfg.process else { return Vec::new() };
    let mut out = Vec::new();
    for (k, (bar, &volume)) in bars.iter().zip(&cfg.activity).enumerate() {
        if bar.time_ns >= cfg.duration.nanos() {
            break;
        }
        let spacing = k.checked_sub(1).map_or(60_000_000_000, |j| bar.time_ns - bars[j].time_ns);
        let end = bars.get(k + 1).map_or(bar.time_ns.saturating_add(spacing), |b| b.time_ns);
        out.push(VolumeBar {
            start: SimTime::from_nanos(bar.time_ns),
            end: SimTime::from_nanos(end),
            volume,
        });
    }
    out
}

fn shock_window(shock: &Shock) -> ShockWindow {
    match *shock {
        Shock::Jump { at, .. } => ShockWindow { start: at, end: at, kind: ShockKind::Jump },
        Shock::Volatility { start, end, .. } => {
            ShockWindow { start, end, kind: ShockKind::Volatility }
        }
        Shock::Drought { start, end, .. } => ShockWindow { start, end, kind: ShockKind::Drought },
    }
}

/// Builds and runs a world.
pub fn run(cfg: SimConfig) -> Result<Outcome> {
    World::new(cfg)?.run()
}
