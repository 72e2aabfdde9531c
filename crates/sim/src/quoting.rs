//! Market makers in the run: at every price step each maker's ladder comes from the pure
//! quoting functions of `liqsim_agents::quoting`, and the kernel only cancels and submits
//! it. This module keeps the makers' quoting state between steps.

use crate::venue::{market_order, post_only, to_side};
use crate::world::Ctx;
use liqsim_agents::AgentKind;
use liqsim_agents::behaviour::Status;
use liqsim_agents::quoting::{
    self, GroupState, MakerState, MakerView, Quote, QuotedAt, Requote, SeriesView,
};
use liqsim_book::OwnerId;
use liqsim_core::{Qty, Result, SimTime};

/// Slippage from the mark an option maker's hedge accepts.
const HEDGE_SLIPPAGE: f64 = 0.02;

#[derive(Debug)]
struct MakerGroup {
    group: usize,
    state: GroupState,
    /// Perpetual makers: one per member.
    members: Vec<MakerState>,
    /// Option makers: one per (member, series), member-major.
    series: Vec<Option<QuotedAt>>,
}

#[derive(Debug)]
pub(crate) struct Makers {
    groups: Vec<MakerGroup>,
    ladder: Vec<Quote>,
}

impl Makers {
    /// Quoting state for every maker group of `kinds` (group index, kind, members).
    pub fn new(groups: impl Iterator<Item = (usize, AgentKind, usize)>, series: usize) -> Makers {
        let groups = groups
            .filter_map(|(group, kind, count)| {
                let (members, slots) = match kind {
                    AgentKind::MarketMaker => (count, 0),
                    AgentKind::OptionMarketMaker => (0, count * series),
                    _ => return None,
                };
                Some(MakerGroup {
                    group,
                    state: GroupState { pulled_until: SimTime::START },
                    members: vec![MakerState::default(); members],
                    series: vec![None; slots],
                })
            })
            .collect();
        Makers { groups, ladder: Vec::new() }
    }
}

impl Ctx<'_> {
    /// Every perpetual maker requotes if its ladder is stale, pulled or gone.
    pub fn requote_perpetual_makers(&mut self, makers: &mut Makers) -> Result<()> {
        let spec = self.cfg.spec;
        let mark = self.market.mark_ticks;
        let vol = self.market.realized_vol();
        let liquidity = self.market.shocks.liquidity_factor(self.now);
        for k in 0..makers.groups.len() {
            let gi = makers.groups[k].group;
            let config = &self.population.groups[gi].config;
            let (AgentKind::MarketMaker, Some(&maker)) = (config.kind(), config.maker()) else {
                continue;
            };
            let group = quoting::group_quoting(&maker, &mut makers.groups[k].state, vol, self.now);
            for m in 0..self.population.groups[gi].members.len() {
                let a = self.population.account(gi, m);
                let exchange = &self.venue.exchange;
                let position = exchange.position(a);
                let member = &self.population.groups[gi].members[m];
                let view = MakerView {
                    now: self.now,
                    group,
                    fair: self.market.index_value,
                    mark: spec.price_to_f64(mark),
                    position: position.lots(),
                    position_units: spec.qty_to_f64(position),
                    resting: self.venue.book.resting_qty(OwnerId(a.0)).lots(),
                    deposit: member.state.deposit,
                    out: member.state.status == Status::Out,
                    liquidity,
                    lot: spec.qty_to_f64(Qty::from_lots(1)),
                    tick: spec.tick_size().to_f64(),
                };
                let state = &mut makers.groups[k].members[m];
                let equity = || Ok(exchange.equity(a, mark)?.to_f64());
                let requote =
                    quoting::perpetual_quotes(&maker, state, &view, equity, &mut makers.ladder)?;
                if requote == Requote::Keep {
                    continue;
                }
                self.venue.book.cancel_all(OwnerId(a.0));
                for q in &makers.ladder {
                    self.venue.post(None, post_only(a, q.buy, q.ticks, q.lots))?;
                }
            }
        }
        Ok(())
    }

    /// Every option maker requotes the series whose ladder is stale, pulled or gone.
    pub fn requote_option_makers(&mut self, makers: &mut Makers) -> Result<()> {
        let spec = self.cfg.spec;
        let mark = self.market.mark_ticks;
        let forward = spec.price_to_f64(mark);
        let vol = self.market.realized_vol();
        let liquidity = self.market.shocks.liquidity_factor(self.now);
        let series_count = self.chain.len();
        for k in 0..makers.groups.len() {
            let gi = makers.groups[k].group;
            let config = &self.population.groups[gi].config;
            let (AgentKind::OptionMarketMaker, Some(&maker)) = (config.kind(), config.maker())
            else {
                continue;
            };
            let group = quoting::group_quoting(&maker, &mut makers.groups[k].state, vol, self.now);
            for m in 0..self.population.groups[gi].members.len() {
                let a = self.population.account(gi, m);
                let out = self.population.groups[gi].members[m].state.status == Status::Out;
                let equity = self.venue.exchange.equity(a, mark)?.to_f64();
                for s in 0..series_count {
                    let series = &self.chain.series[s];
                    let position = self.venue.exchange.option_position(a, s as u16);
                    let view = SeriesView {
                        group,
                        fair: series.fair,
                        forward,
                        position,
                        position_units: spec.qty_to_f64(Qty::from_lots(position)),
                        live: series.live,
                        expired: series.expiry <= self.now,
                        out,
                        equity,
                        series_count,
                        liquidity,
                        lot: spec.qty_to_f64(Qty::from_lots(1)),
                        tick: spec.tick_size().to_f64(),
                    };
                    let slot = &mut makers.groups[k].series[m * series_count + s];
                    let r = quoting::series_quotes(&maker, slot, &view, &mut makers.ladder);
                    if r.cancel {
                        self.venue.option_books[s].cancel_all(OwnerId(a.0));
                    }
                    if r.quote {
                        for q in &makers.ladder {
                            self.venue.post(Some(s), post_only(a, q.buy, q.ticks, q.lots))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Each option maker brings its net delta back inside its band on the perpetual.
    pub fn hedge_option_makers(&mut self) -> Result<()> {
        let spec = self.cfg.spec;
        let lot = spec.qty_to_f64(Qty::from_lots(1));
        let mark = spec.price_to_f64(self.market.mark_ticks);
        for gi in 0..self.population.groups.len() {
            let config = &self.population.groups[gi].config;
            let (AgentKind::OptionMarketMaker, Some(&maker)) = (config.kind(), config.maker())
            else {
                continue;
            };
            for m in 0..self.population.groups[gi].members.len() {
                if self.population.groups[gi].members[m].state.status == Status::Out {
                    continue;
                }
                let a = self.population.account(gi, m);
                let delta = self.chain.net_delta(&self.venue.exchange, a);
                let Some((sell, lots)) = quoting::hedge(&maker, delta, lot) else { continue };
                let slip = if sell { 1.0 - HEDGE_SLIPPAGE } else { 1.0 + HEDGE_SLIPPAGE };
                let protection = spec.price_from_f64(mark * slip)?;
                self.venue.book.cancel_all(OwnerId(a.0));
                self.submit(market_order(a, to_side(!sell), lots, protection, None))?;
            }
        }
        Ok(())
    }
}
