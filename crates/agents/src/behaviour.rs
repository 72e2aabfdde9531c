//! How agents decide: one [`Agent`] trait; each kind reads a [`View`] of the market and
//! of its own account when it wakes and returns a [`Decision`]: an [`Action`] (which the
//! kernel turns into orders that reach the exchange after the agent's latency) and when
//! to look again (after a delay, when the price reaches the agent's own levels, or never).
//!
//! Decisions are pure functions of (configuration, state, view, the agent's random
//! stream), so they are tested here without a market. Market makers are not wake-driven:
//! they requote on every price step, through the pure functions of [`crate::quoting`].

use crate::config::{
    AgentGroup, Behaviour, MomentumConfig, ProviderConfig, TraderConfig, WriterConfig,
};
use liqsim_core::{RngStream, SimDuration, SimTime};
use rand::RngExt;

/// What an agent sees when it wakes. Prices in quote units per base unit, money in quote
/// units, `lot` in base units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub now: SimTime,
    pub mark: f64,
    pub index: f64,
    /// The index one `lookback` ago.
    pub index_then: f64,
    pub lot: f64,
    /// Perpetual position in lots (signed).
    pub position: i64,
    pub holds_options: bool,
    /// Everything the agent owns at the mark (with isolated margin, the position's
    /// account and the wallet beside it).
    pub equity: f64,
    /// The equity behind the position, which the exchange compares with `maintenance`
    /// (the isolated account's alone under isolated margin; `equity` otherwise).
    pub margin_equity: f64,
    pub maintenance: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No position; the next wake may open one.
    Waiting,
    /// An order is on its way to the exchange.
    Sending,
    /// A limit entry rests in the book.
    Resting,
    Open,
    /// Liquidated: the account is spent.
    Out,
}

/// An agent's own state between wakes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct State {
    pub deposit: f64,
    /// Target leverage (the venue may allow less).
    pub leverage: f64,
    pub long: bool,
    pub status: Status,
    /// It has decided, once, whether to add margin on this position's warning.
    pub warned: bool,
    /// A trader with a holding time closes its position at this time.
    pub hold_until: Option<SimTime>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    Nothing,
    /// A market order for up to `lots` (cut to what initial margin allows).
    Open {
        long: bool,
        lots: i64,
    },
    /// A post-only limit order for `lots`, `offset` (fraction of the price) inside the mark.
    OpenLimit {
        long: bool,
        lots: i64,
        offset: f64,
    },
    /// A resting limit entry has (partly) filled: cancel the rest and hold the position.
    Adopt,
    /// Close the perpetual position at market (reduce-only).
    Close,
    /// Close, then open the other way.
    Reverse {
        long: bool,
        lots: i64,
    },
    /// Deposit more margin (instant: a transfer, not an order).
    TopUp {
        amount: f64,
    },
    /// Sell an out-of-the-money put, and a call too for a strangle.
    WriteOptions {
        strangle: bool,
    },
    /// Buy a near-the-money call or put.
    BuyOption {
        call: bool,
    },
    /// Buy back every short option.
    BuyBack,
    /// Replace the order resting in the book with a post-only limit for `lots`, `offset`
    /// (fraction of the price) outside the mark: below it for a bid.
    Provide {
        long: bool,
        lots: i64,
        offset: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    After(SimDuration),
    /// When the mark reaches one of the agent's levels (stop, target, margin warning).
    OnPriceLevels,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub action: Action,
    pub next: Next,
}

/// A wake-driven kind, implemented by its own configuration: `group` carries what every
/// kind has (wake, re-entry, look-back, the side draw).
pub trait Agent {
    fn decide(
        &self,
        group: &AgentGroup,
        state: &mut State,
        view: &View,
        rng: &mut RngStream,
    ) -> Decision;
}

/// The behaviour of a group's wake-driven kind (`None` for market makers, which quote
/// through [`crate::quoting`]).
pub fn behaviour(group: &AgentGroup) -> Option<&dyn Agent> {
    match &group.behaviour {
        Behaviour::LeveragedTrader(t) => Some(t),
        Behaviour::Momentum(m) => Some(m),
        Behaviour::Arbitrageur => Some(&Arbitrageur),
        Behaviour::OptionWriter(w) => Some(w),
        Behaviour::OptionBuyer => Some(&OptionBuyer),
        Behaviour::LiquidityProvider(p) => Some(p),
        Behaviour::MarketMaker(_) | Behaviour::OptionMarketMaker(_) => None,
    }
}

/// Exponentially distributed delay with mean `mean` (at least 1 ns).
pub fn exponential(mean: SimDuration, rng: &mut RngStream) -> SimDuration {
    let u: f64 = rng.random();
    SimDuration::from_nanos(((-(1.0 - u).ln()) * mean.nanos() as f64) as u64 + 1)
}

fn lots_for(notional: f64, view: &View) -> i64 {
    (notional / view.mark / view.lot).floor() as i64
}

/// Opens at its target leverage on `position_share` of its deposit, then waits for its
/// price levels: a stop-loss or a take-profit (on everything it owns) closes it
/// (re-entry after `reentry`); the first margin warning (the position's equity under
/// 1.5 x maintenance) adds half the deposit with `add_margin_probability` (from the
/// wallet under isolated margin, as far as it goes).
impl Agent for TraderConfig {
    fn decide(&self, g: &AgentGroup, s: &mut State, v: &View, rng: &mut RngStream) -> Decision {
        let c = self;
        let poll = exponential(g.wake, rng);
        match s.status {
            Status::Waiting => {
                s.hold_until = c.hold.map(|hold| v.now.plus(exponential(hold, rng)));
                let lots = lots_for(s.deposit * c.position_share * s.leverage, v);
                if rng.random::<f64>() < c.limit_fraction {
                    let action = Action::OpenLimit { long: s.long, lots, offset: c.limit_offset };
                    return Decision { action, next: Next::Never };
                }
                Decision { action: Action::Open { long: s.long, lots }, next: Next::Never }
            }
            Status::Resting if v.position != 0 => {
                Decision { action: Action::Adopt, next: Next::OnPriceLevels }
            }
            // Nobody took the limit entry by now: cancel it and go at market.
            Status::Resting => Decision {
                action: Action::Open {
                    long: s.long,
                    lots: lots_for(s.deposit * c.position_share * s.leverage, v),
                },
                next: Next::Never,
            },
            Status::Open if v.position != 0 => {
                let loss = (s.deposit - v.equity) / s.deposit;
                let stop = c.stop_loss.is_some_and(|x| loss >= x);
                let profit = c.take_profit.is_some_and(|x| -loss >= x);
                let held = s.hold_until.is_some_and(|t| v.now >= t);
                if stop || profit || held {
                    return Decision { action: Action::Close, next: Next::Never };
                }
                let warned = v.margin_equity < 1.5 * v.maintenance;
                let mut action = Action::Nothing;
                if warned && !s.warned {
                    s.warned = true;
                    if rng.random::<f64>() < c.add_margin_probability {
                        action = Action::TopUp { amount: s.deposit * 0.5 };
                    }
                }
                Decision { action, next: Next::OnPriceLevels }
            }
            // Closed by auto-deleveraging: out of the market until it re-enters.
            Status::Open => {
                s.status = Status::Waiting;
                Decision { action: Action::Nothing, next: Next::After(g.reentry.max(g.wake)) }
            }
            Status::Sending => Decision { action: Action::Nothing, next: Next::After(poll) },
            Status::Out => Decision { action: Action::Nothing, next: Next::Never },
        }
    }
}

/// Trend follower: short after the index fell more than `threshold` over `lookback`,
/// long after it rose as much, flat when the move is under half the threshold; looks
/// again every fifth of the lookback (at least a second).
impl Agent for MomentumConfig {
    fn decide(&self, g: &AgentGroup, s: &mut State, v: &View, _rng: &mut RngStream) -> Decision {
        let c = self;
        let r = (v.index / v.index_then).ln();
        let lots = lots_for(s.deposit * s.leverage, v);
        let action = if r < -c.threshold && v.position >= 0 {
            Action::Reverse { long: false, lots }
        } else if r > c.threshold && v.position <= 0 {
            Action::Reverse { long: true, lots }
        } else if r.abs() < c.threshold / 2.0 && v.position != 0 {
            Action::Close
        } else {
            Action::Nothing
        };
        let next = SimDuration::from_nanos((g.lookback.nanos() / 5).max(1_000_000_000));
        Decision { action, next: Next::After(next) }
    }
}

/// Basis arbitrageur at 2x: sells the perpetual 5 bp or more above the index, buys it as
/// far below, flattens inside 1 bp.
#[derive(Debug)]
pub struct Arbitrageur;

impl Agent for Arbitrageur {
    fn decide(&self, g: &AgentGroup, s: &mut State, v: &View, rng: &mut RngStream) -> Decision {
        let basis = v.mark / v.index - 1.0;
        let lots = lots_for(s.deposit * 2.0, v);
        let action = if basis > 0.0005 && v.position >= 0 {
            Action::Reverse { long: false, lots }
        } else if basis < -0.0005 && v.position <= 0 {
            Action::Reverse { long: true, lots }
        } else if basis.abs() < 0.0001 && v.position != 0 {
            Action::Close
        } else {
            Action::Nothing
        };
        Decision { action, next: Next::After(exponential(g.wake, rng)) }
    }
}

/// Replaces its resting order with a new one on a random side (only the reducing side
/// beyond its inventory limit), an exponential distance with mean `distance` from the
/// mark, every `wake` on average.
impl Agent for ProviderConfig {
    fn decide(&self, g: &AgentGroup, s: &mut State, v: &View, rng: &mut RngStream) -> Decision {
        let limit = if self.capital.is_positive() { self.capital.to_f64() } else { s.deposit };
        let inventory = v.position as f64 * v.lot * v.mark;
        let long =
            if inventory.abs() >= limit { inventory < 0.0 } else { rng.random::<f64>() < 0.5 };
        let u: f64 = rng.random();
        let offset = -(1.0 - u).ln() * self.distance;
        let lots = ((self.size / v.lot).floor() as i64).max(1);
        let next = Next::After(exponential(g.wake, rng));
        if v.equity <= 0.0 {
            return Decision { action: Action::Nothing, next: Next::Never };
        }
        Decision { action: Action::Provide { long, lots, offset }, next }
    }
}

/// Sells a put (or, half the time, a strangle) sized to deposit x leverage of underlying
/// notional; buys back at market when the loss reaches `stop_loss`; writes again
/// `reentry` after its options are gone.
impl Agent for WriterConfig {
    fn decide(&self, g: &AgentGroup, s: &mut State, v: &View, rng: &mut RngStream) -> Decision {
        let c = self;
        let next = Next::After(g.wake);
        match s.status {
            Status::Waiting => Decision {
                action: Action::WriteOptions { strangle: rng.random::<f64>() < 0.5 },
                next,
            },
            Status::Open if !v.holds_options => {
                s.status = Status::Waiting;
                Decision { action: Action::Nothing, next: Next::After(g.reentry) }
            }
            Status::Open => {
                let loss = (s.deposit - v.equity) / s.deposit;
                let action = if c.stop_loss.is_some_and(|x| loss >= x) {
                    Action::BuyBack
                } else {
                    Action::Nothing
                };
                Decision { action, next }
            }
            Status::Sending | Status::Resting => Decision { action: Action::Nothing, next },
            Status::Out => Decision { action: Action::Nothing, next: Next::Never },
        }
    }
}

/// Spends a third of its deposit on a put or, with probability `long_fraction`, a call,
/// near the money; buys again `reentry` after expiry.
#[derive(Debug)]
pub struct OptionBuyer;

impl Agent for OptionBuyer {
    fn decide(&self, g: &AgentGroup, s: &mut State, v: &View, rng: &mut RngStream) -> Decision {
        let next = Next::After(g.wake);
        match s.status {
            Status::Waiting => Decision {
                action: Action::BuyOption { call: rng.random::<f64>() < g.long_fraction },
                next,
            },
            Status::Open if !v.holds_options => {
                s.status = Status::Waiting;
                Decision { action: Action::Nothing, next: Next::After(g.reentry) }
            }
            Status::Out => Decision { action: Action::Nothing, next: Next::Never },
            _ => Decision { action: Action::Nothing, next },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Distribution;
    use liqsim_core::{Money, StreamId};

    fn group(behaviour: Behaviour) -> AgentGroup {
        AgentGroup {
            count: 1,
            deposit: Distribution::Constant(1000.0),
            leverage: Distribution::Constant(10.0),
            long_fraction: 0.5,
            reentry: SimDuration::from_secs(3600),
            wake: SimDuration::from_secs(300),
            latency: Distribution::Constant(0.05),
            latency_stress: 0.5,
            lookback: SimDuration::from_secs(300),
            behaviour,
        }
    }

    fn trader() -> TraderConfig {
        TraderConfig {
            stop_loss: Some(0.5),
            take_profit: Some(1.0),
            add_margin_probability: 1.0,
            ..TraderConfig::default()
        }
    }

    fn view(equity: f64, position: i64) -> View {
        View {
            now: SimTime::START,
            mark: 50_000.0,
            index: 50_000.0,
            index_then: 50_000.0,
            lot: 0.001,
            position,
            holds_options: false,
            equity,
            margin_equity: equity,
            maintenance: 50.0,
        }
    }

    fn state(status: Status) -> State {
        State {
            deposit: 1000.0,
            leverage: 10.0,
            long: true,
            status,
            warned: false,
            hold_until: None,
        }
    }

    #[test]
    fn a_liquidity_provider_quotes_both_sides_around_the_mark_and_only_reduces_past_its_limit() {
        let p = ProviderConfig { size: 0.1, distance: 0.002, capital: Money::from_micros(0) };
        let g = group(Behaviour::LiquidityProvider(p));
        let mut rng = StreamId::named("lp").rng(3);
        let (mut bids, mut offsets) = (0, Vec::new());
        for _ in 0..2000 {
            let d = p.decide(&g, &mut state(Status::Waiting), &view(1000.0, 0), &mut rng);
            let Action::Provide { long, lots, offset } = d.action else { panic!("{:?}", d.action) };
            // 0.1 BTC in lots of 0.001.
            assert_eq!(lots, 100);
            bids += usize::from(long);
            offsets.push(offset);
            assert!(matches!(d.next, Next::After(_)));
        }
        // About half bids; distances exponential with mean 0.2% (standard error 0.0045%).
        assert!((900..1100).contains(&bids), "{bids} bids of 2000");
        let mean = offsets.iter().sum::<f64>() / offsets.len() as f64;
        assert!((mean - 0.002).abs() < 0.00015, "mean distance {mean}");
        // Long 0.03 BTC at 50,000 = 1,500 beyond a 1,000 deposit: only asks.
        for _ in 0..50 {
            let d = p.decide(&g, &mut state(Status::Waiting), &view(1000.0, 30), &mut rng);
            assert!(matches!(d.action, Action::Provide { long: false, .. }), "{:?}", d.action);
        }
        // Nothing left: it stops.
        let d = p.decide(&g, &mut state(Status::Waiting), &view(0.0, 0), &mut rng);
        assert_eq!((d.action, d.next), (Action::Nothing, Next::Never));
    }

    #[test]
    fn a_trader_with_a_holding_time_closes_when_it_ends() {
        let t = TraderConfig { hold: Some(SimDuration::from_secs(600)), ..trader() };
        let g = group(Behaviour::LeveragedTrader(t));
        let mut rng = StreamId::named("hold").rng(5);
        let mut s = state(Status::Waiting);
        t.decide(&g, &mut s, &view(1000.0, 0), &mut rng);
        let until = s.hold_until.expect("a holding time is drawn at entry");
        s.status = Status::Open;
        let before = View {
            now: SimTime::START.plus(SimDuration::from_nanos(until.nanos() - 1)),
            ..view(1000.0, 200)
        };
        assert_eq!(t.decide(&g, &mut s, &before, &mut rng).action, Action::Nothing);
        let after = View { now: until, ..view(1000.0, 200) };
        assert_eq!(t.decide(&g, &mut s, &after, &mut rng).action, Action::Close);
    }

    #[test]
    fn a_waiting_trader_opens_at_its_target_leverage() {
        let mut rng = StreamId::named("t").rng(1);
        let mut s = state(Status::Waiting);
        let t = trader();
        let d = t.decide(&group(Behaviour::LeveragedTrader(t)), &mut s, &view(1000.0, 0), &mut rng);
        // 1,000 x 10 / 50,000 = 0.2 BTC = 200 lots of 0.001.
        assert_eq!(d.action, Action::Open { long: true, lots: 200 });
    }

    #[test]
    fn a_trader_stops_out_at_half_its_deposit_and_is_warned_once() {
        let t = trader();
        let g = group(Behaviour::LeveragedTrader(t));
        let mut rng = StreamId::named("t").rng(1);
        let mut s = state(Status::Open);
        let d = t.decide(&g, &mut s, &view(500.0, 200), &mut rng);
        assert_eq!(d.action, Action::Close);
        let mut s = state(Status::Open);
        let d = t.decide(&g, &mut s, &view(60.0 + 600.0, 200), &mut rng);
        assert_eq!(d.action, Action::Nothing, "not yet warned at 660 equity, 50 maintenance");
        let d = t.decide(&g, &mut s, &view(70.0, 200), &mut rng);
        assert_eq!(d.action, Action::Close, "70 is a loss of 93%");
        let t = TraderConfig { stop_loss: None, ..t };
        let d = t.decide(&g, &mut s, &view(70.0, 200), &mut rng);
        assert_eq!(d.action, Action::TopUp { amount: 500.0 });
        assert!(s.warned);
        let d = t.decide(&g, &mut s, &view(70.0, 200), &mut rng);
        assert_eq!(d.action, Action::Nothing, "one decision per warning");
        assert_eq!(d.next, Next::OnPriceLevels);
    }

    #[test]
    fn a_limit_entry_is_adopted_when_filled_and_replaced_at_market_when_not() {
        let t = TraderConfig { limit_fraction: 1.0, ..trader() };
        let g = group(Behaviour::LeveragedTrader(t));
        let mut rng = StreamId::named("t").rng(1);
        let mut s = state(Status::Waiting);
        let d = t.decide(&g, &mut s, &view(1000.0, 0), &mut rng);
        assert_eq!(d.action, Action::OpenLimit { long: true, lots: 200, offset: 0.002 });
        let mut s = state(Status::Resting);
        let d = t.decide(&g, &mut s, &view(1000.0, 120), &mut rng);
        assert_eq!((d.action, d.next), (Action::Adopt, Next::OnPriceLevels));
        let d = t.decide(&g, &mut s, &view(1000.0, 0), &mut rng);
        assert_eq!(d.action, Action::Open { long: true, lots: 200 });
    }

    #[test]
    fn momentum_sells_into_a_fall_and_arbitrage_leans_against_the_basis() {
        let m = MomentumConfig::default();
        let g = group(Behaviour::Momentum(m.clone()));
        let mut rng = StreamId::named("t").rng(1);
        let mut s = state(Status::Open);
        let v = View { index_then: 52_000.0, ..view(1000.0, 0) };
        let d = m.decide(&g, &mut s, &v, &mut rng);
        assert_eq!(d.action, Action::Reverse { long: false, lots: 200 });
        let v = View { mark: 50_100.0, ..view(1000.0, 0) };
        let d = Arbitrageur.decide(&group(Behaviour::Arbitrageur), &mut s, &v, &mut rng);
        assert!(matches!(d.action, Action::Reverse { long: false, .. }));
    }
}
