//! Options in the world: option orders and their settlement, expiry, the option market
//! makers' quotes and delta hedges, option writers and buyers, and the closing of an
//! option holder's options when it is liquidated.
//!
//! Option market makers quote every live series around its model price with a half-spread
//! of `spread` x the forward (so `spread = 0.0005` is $30 on a $60,000 underlying), up to
//! three levels of `level_size` units, widened with realized volatility and skewed by
//! their inventory in the series; they pull with the perpetual market makers' rule
//! (`pull_vol`, `calm`). Every price step each one brings its net delta (perpetual plus
//! options) back inside +/- `level_size` units with a market order on the perpetual:
//! a dealer short puts sells the perpetual as the price falls, which is the gamma
//! feedback a crash meets.
//!
//! Writers' and buyers' decisions come from liqsim-agents; here their orders meet the
//! books: a writer sells the put nearest 0.9 x the forward (and the call nearest 1.1 x for
//! a strangle) on a random live expiry at least an hour away, sized so that the
//! underlying notional is deposit x leverage, cut in half until the policy's initial
//! margin is covered; a buyer spends a third of its deposit on the put nearest 0.95 x or
//! the call nearest 1.05 x the forward.

use super::{Status, World, market, to_side};
use liqsim_agents::AgentKind;
use liqsim_book::{NewOrder, OrderKind, OwnerId, Side, SubmitResult};
use liqsim_core::{Money, Price, Qty, Result, RngStream, SimDuration, SimTime};
use liqsim_exchange::AccountId;
use liqsim_models::OptionKind;
use rand::RngExt;

/// Minimum time to expiry for a new option position.
const MIN_TIME_TO_EXPIRY: SimDuration = SimDuration::from_secs(3600);

impl World {
    /// Submits `order` to series `s` and settles its fills.
    pub(super) fn submit_option(&mut self, s: usize, order: NewOrder) -> Result<SubmitResult> {
        self.fills.clear();
        let result = self.desk.series[s].book.submit(order, &mut self.fills);
        let taker = AccountId(order.owner.0);
        let spec = self.cfg.spec;
        for i in 0..self.fills.len() {
            let f = self.fills[i];
            let maker = AccountId(f.maker_owner.0);
            let (buyer, seller) =
                if f.aggressor == Side::Buy { (taker, maker) } else { (maker, taker) };
            self.exchange.apply_option_fill(
                buyer,
                seller,
                s as u16,
                f.price,
                f.qty,
                f.aggressor == Side::Buy,
            )?;
            self.desk.dirty.push(buyer);
            self.desk.dirty.push(seller);
            let premium = spec.notional(f.price, f.qty)?;
            self.recorder.on_trade(premium)?;
            self.option_premium_volume = self.option_premium_volume.checked_add(premium)?;
            self.digest.tag(6);
            self.digest.u64(s as u64);
            self.digest.u64(u64::from(buyer.0));
            self.digest.u64(u64::from(seller.0));
            self.digest.i64(f.price.ticks());
            self.digest.i64(f.qty.lots());
        }
        self.fills.clear();
        Ok(result)
    }

    /// Closes every option of `a` (being liquidated): in the book within the bounds of
    /// the module documentation, the rest at the mark against the backstop or opposing
    /// holders. Returns (lots closed, premium notional closed).
    pub(super) fn close_options_for_liquidation(&mut self, a: AccountId) -> Result<(i64, Money)> {
        let spec = self.cfg.spec;
        let forward_ticks = self.mark_ticks.ticks();
        let holdings: Vec<_> = self.exchange.holdings(a).to_vec();
        let (mut lots, mut notional) = (0i64, Money::ZERO);
        for h in holdings {
            let s = usize::from(h.series);
            let mark = self.exchange.option_mark(h.series);
            let buy = h.qty < 0;
            let bound = if buy {
                Price::from_ticks(2 * mark.ticks() + forward_ticks / 50 + 1)
            } else {
                Price::from_ticks((mark.ticks() / 2).max(1))
            };
            let r = self.submit_option(s, market(a, to_side(buy), h.qty.abs(), bound, None))?;
            lots += r.filled.lots();
            let filled_value = spec.notional(mark, r.filled)?;
            notional = notional.checked_add(filled_value)?;
            let mut left = self.exchange.option_position(a, h.series).abs();
            if left == 0 {
                continue;
            }
            // The rest at the mark: the backstop takes it (unless it is the account being
            // liquidated), else opposing holders do.
            let backstop = self.backstop.filter(|&b| b != a);
            let takers: Vec<AccountId> = match backstop {
                Some(b) => vec![b],
                None => self
                    .exchange
                    .option_holders()
                    .filter(|&w| w != a && self.exchange.option_position(w, h.series) * h.qty < 0)
                    .collect(),
            };
            for w in takers {
                if left == 0 {
                    break;
                }
                let room = self.exchange.option_position(w, h.series).abs();
                let take = if Some(w) == backstop { left } else { left.min(room) };
                let (buyer, seller) = if buy { (a, w) } else { (w, a) };
                self.exchange.transfer_option(
                    buyer,
                    seller,
                    h.series,
                    mark,
                    Qty::from_lots(take),
                )?;
                self.desk.dirty.push(w);
                let value = spec.notional(mark, Qty::from_lots(take))?;
                if Some(w) != backstop {
                    self.recorder.on_adl(self.now, value)?;
                }
                self.digest.tag(8);
                self.digest.u64(u64::from(w.0));
                self.digest.i64(take);
                lots += take;
                notional = notional.checked_add(value)?;
                left -= take;
            }
        }
        Ok((lots, notional))
    }

    /// Cash-settles series `s` on the index and closes it.
    pub(super) fn expire(&mut self, s: usize) -> Result<()> {
        let spec = self.cfg.spec;
        let index = spec.price_from_f64(self.index_value)?;
        let intrinsic = self.desk.intrinsic(s, index);
        self.desk.series[s].live = false;
        self.desk.series[s].book = liqsim_book::OrderBook::new(liqsim_book::BookConfig {
            stp: liqsim_book::StpMode::CancelTaker,
            capacity: 0,
        });
        self.exchange.set_option_mark(s as u16, intrinsic);
        let long_lots = self.exchange.option_open_interest(s as u16);
        let paid = spec.notional(intrinsic, Qty::from_lots(long_lots))?;
        self.option_settled = self.option_settled.checked_add(paid)?;
        let holders = self.exchange.expire(s as u16, intrinsic)?;
        self.digest.tag(7);
        self.digest.u64(s as u64);
        self.digest.i64(intrinsic.ticks());
        for a in holders {
            self.desk.remove(a);
            if !self.exchange.holdings(a).is_empty() {
                self.desk.dirty.push(a);
            }
            if self.exchange.is_flat(a) && self.exchange.cash(a).is_negative() {
                let debt = self.exchange.settle_debt(a, self.mark_ticks)?;
                self.record_debt(debt)?;
            }
        }
        self.liquidation_loop()
    }

    pub(super) fn requote_option_makers(&mut self) -> Result<()> {
        let spec = self.cfg.spec;
        let tick = spec.tick_size().to_f64();
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let forward = spec.price_to_f64(self.mark_ticks);
        let vol = self.realized_variance.max(0.0).sqrt();
        let liquidity = self.shocks.liquidity_factor(self.now);
        let series_count = self.desk.series.len();
        for gi in 0..self.groups.len() {
            if self.groups[gi].config.kind != AgentKind::OptionMarketMaker {
                continue;
            }
            let c = &self.groups[gi].config;
            let (spread, levels, level_size, pull_vol, calm, capital) =
                (c.spread, c.levels.min(3), c.level_size, c.pull_vol, c.calm, c.capital);
            if vol > pull_vol {
                self.groups[gi].pulled_until = self.now.plus(calm);
            }
            let pulled = self.now < self.groups[gi].pulled_until;
            let widen = (vol / 0.5).max(1.0);
            let first = self.groups[gi].first_account;
            for m in 0..self.groups[gi].members.len() {
                let a = AccountId(first + m as u32);
                let out = self.groups[gi].members[m].state.status == Status::Out;
                let equity = self.exchange.equity(a, self.mark_ticks)?.to_f64();
                let limit = if capital.is_positive() { capital.to_f64() } else { equity * 5.0 };
                let per_series = limit / series_count.max(1) as f64;
                let half = (spread * forward * widen).max(tick);
                let lots = ((level_size * liquidity / lot).floor() as i64).max(0);
                for s in 0..series_count {
                    let slot = m * series_count + s;
                    let live = self.desk.series[s].live;
                    let position = self.exchange.option_position(a, s as u16);
                    let fair = self.desk.series[s].fair;
                    let state = (fair, position, liquidity, widen);
                    let stale = match self.groups[gi].option_quoted[slot] {
                        None => true,
                        Some((f, p, l, w)) => {
                            (f - fair).abs() > half / 4.0
                                || p != position
                                || l != liquidity
                                || (w / widen - 1.0).abs() > 0.25
                        }
                    };
                    let quoting = live && !pulled && !out && equity > 0.0 && lots > 0;
                    if quoting && !stale {
                        continue;
                    }
                    if self.groups[gi].option_quoted[slot].is_some() {
                        self.desk.series[s].book.cancel_all(OwnerId(a.0));
                        self.groups[gi].option_quoted[slot] = None;
                    }
                    if !quoting || self.desk.series[s].expiry <= self.now {
                        continue;
                    }
                    self.groups[gi].option_quoted[slot] = Some(state);
                    let inventory = spec.qty_to_f64(Qty::from_lots(position)) * forward;
                    let skew = (inventory / per_series.max(1.0)).clamp(-1.0, 1.0);
                    for (side, sign) in [(Side::Buy, -1.0), (Side::Sell, 1.0)] {
                        // At the inventory limit, quote only the side that reduces it.
                        if skew * -sign >= 1.0 {
                            continue;
                        }
                        for k in 1..=levels {
                            let px = fair + sign * half * f64::from(k) - skew * half;
                            let ticks = if side == Side::Buy {
                                (px / tick).floor()
                            } else {
                                (px / tick).ceil()
                            } as i64;
                            if ticks <= 0 {
                                break;
                            }
                            self.submit_option(
                                s,
                                NewOrder {
                                    owner: OwnerId(a.0),
                                    side,
                                    kind: OrderKind::PostOnly,
                                    price: Price::from_ticks(ticks),
                                    qty: Qty::from_lots(lots),
                                    protection: None,
                                    max_qty: None,
                                },
                            )?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Each option market maker brings its net delta back inside +/- `level_size` units.
    pub(super) fn hedge_option_makers(&mut self) -> Result<()> {
        let spec = self.cfg.spec;
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let mark = spec.price_to_f64(self.mark_ticks);
        for gi in 0..self.groups.len() {
            if self.groups[gi].config.kind != AgentKind::OptionMarketMaker {
                continue;
            }
            let band = self.groups[gi].config.level_size;
            let first = self.groups[gi].first_account;
            for m in 0..self.groups[gi].members.len() {
                if self.groups[gi].members[m].state.status == Status::Out {
                    continue;
                }
                let a = AccountId(first + m as u32);
                let delta = self.desk.net_delta(&self.exchange, a);
                if delta.abs() <= band {
                    continue;
                }
                let lots = (delta.abs() / lot).round() as i64;
                let sell = delta > 0.0;
                let protection = spec.price_from_f64(mark * if sell { 0.98 } else { 1.02 })?;
                self.book.cancel_all(OwnerId(a.0));
                self.submit(market(a, to_side(!sell), lots, protection, None))?;
            }
        }
        Ok(())
    }

    /// Live series of kind `kind` expiring at `expiry` with the strike nearest `target`.
    fn nearest_series(&self, kind: OptionKind, expiry: SimTime, target: f64) -> Option<usize> {
        (0..self.desk.series.len())
            .filter(|&s| {
                let x = &self.desk.series[s];
                x.live && x.kind == kind && x.expiry == expiry
            })
            .min_by(|&x, &y| {
                let dx = (self.desk.series[x].strike - target).abs();
                let dy = (self.desk.series[y].strike - target).abs();
                dx.total_cmp(&dy).then(x.cmp(&y))
            })
    }

    /// A random live expiry at least an hour away.
    fn pick_expiry(&self, rng: &mut RngStream) -> Option<SimTime> {
        let horizon = self.now.plus(MIN_TIME_TO_EXPIRY);
        let mut expiries: Vec<SimTime> = self
            .desk
            .series
            .iter()
            .filter(|x| x.live && x.expiry > horizon)
            .map(|x| x.expiry)
            .collect();
        expiries.sort();
        expiries.dedup();
        if expiries.is_empty() {
            return None;
        }
        Some(expiries[rng.random_range(0..expiries.len())])
    }

    pub(super) fn write_options(
        &mut self,
        a: AccountId,
        leverage: f64,
        deposit: f64,
        strangle: bool,
        rng: &mut RngStream,
    ) -> Result<bool> {
        let Some(expiry) = self.pick_expiry(rng) else { return Ok(false) };
        let spec = self.cfg.spec;
        let forward = spec.price_to_f64(self.mark_ticks);
        let mut legs = Vec::with_capacity(2);
        if let Some(s) = self.nearest_series(OptionKind::Put, expiry, 0.9 * forward) {
            legs.push(s);
        }
        if strangle && let Some(s) = self.nearest_series(OptionKind::Call, expiry, 1.1 * forward) {
            legs.push(s);
        }
        if legs.is_empty() {
            return Ok(false);
        }
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let mut lots = (deposit * leverage / legs.len() as f64 / forward / lot).floor() as i64;
        let equity = self.exchange.equity(a, self.mark_ticks)?;
        while lots > 0 {
            let extra: Vec<(u16, i64)> = legs.iter().map(|&s| (s as u16, -lots)).collect();
            let (im, _) =
                self.desk.requirement_with(&self.exchange, a, self.mark_ticks, self.now, &extra)?;
            if equity >= im {
                break;
            }
            lots /= 2;
        }
        if lots == 0 {
            return Ok(false);
        }
        let mut sold = 0;
        for s in legs {
            let mark = self.exchange.option_mark(s as u16);
            let bound = Price::from_ticks((mark.ticks() * 7 / 10).max(1));
            sold += self.submit_option(s, market(a, Side::Sell, lots, bound, None))?.filled.lots();
        }
        Ok(sold > 0)
    }

    pub(super) fn buy_options(
        &mut self,
        a: AccountId,
        call: bool,
        deposit: f64,
        rng: &mut RngStream,
    ) -> Result<bool> {
        let Some(expiry) = self.pick_expiry(rng) else { return Ok(false) };
        let spec = self.cfg.spec;
        let forward = spec.price_to_f64(self.mark_ticks);
        let (kind, target) = if call {
            (OptionKind::Call, 1.05 * forward)
        } else {
            (OptionKind::Put, 0.95 * forward)
        };
        let Some(s) = self.nearest_series(kind, expiry, target) else { return Ok(false) };
        let mark = self.exchange.option_mark(s as u16);
        if mark.ticks() <= 0 {
            return Ok(false);
        }
        let price = spec.price_to_f64(mark) * 1.3;
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let budget = deposit / 3.0;
        let lots = (budget / price / lot).floor() as i64;
        if lots <= 0 {
            return Ok(false);
        }
        let bound = Price::from_ticks(mark.ticks() * 13 / 10 + 1);
        Ok(self.submit_option(s, market(a, Side::Buy, lots, bound, None))?.filled.lots() > 0)
    }

    /// A writer's stop: buys back every short option at market (up to twice its mark).
    pub(super) fn buy_back(&mut self, a: AccountId) -> Result<()> {
        let holdings: Vec<_> = self.exchange.holdings(a).to_vec();
        for h in holdings {
            if h.qty >= 0 {
                continue;
            }
            let mark = self.exchange.option_mark(h.series);
            let bound = Price::from_ticks(2 * mark.ticks() + 1);
            let order = market(a, Side::Buy, -h.qty, bound, Some(-h.qty));
            self.submit_option(usize::from(h.series), order)?;
        }
        Ok(())
    }
}
