//! Validated agent populations. Built by liqsim-scenario from the `[[agents]]` tables;
//! every value here is already inside its documented range.

use liqsim_core::{Money, SimDuration};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentKind {
    LeveragedTrader,
    MarketMaker,
    Momentum,
    Arbitrageur,
    OptionWriter,
    OptionBuyer,
    OptionMarketMaker,
    LiquidityProvider,
}

impl AgentKind {
    pub const ALL: [(&'static str, AgentKind); 8] = [
        ("leveraged_trader", AgentKind::LeveragedTrader),
        ("market_maker", AgentKind::MarketMaker),
        ("momentum", AgentKind::Momentum),
        ("arbitrageur", AgentKind::Arbitrageur),
        ("option_writer", AgentKind::OptionWriter),
        ("option_buyer", AgentKind::OptionBuyer),
        ("option_market_maker", AgentKind::OptionMarketMaker),
        ("liquidity_provider", AgentKind::LiquidityProvider),
    ];

    /// Kinds that trade options, and so need an option chain.
    pub fn trades_options(self) -> bool {
        matches!(
            self,
            AgentKind::OptionWriter | AgentKind::OptionBuyer | AgentKind::OptionMarketMaker
        )
    }

    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).unwrap_or("agent")
    }
}

/// A distribution of a positive parameter. Draws outside `[min, max]` are clamped to the
/// bound: `max` is a cap (a venue's maximum leverage), not a truncation, so the share of
/// accounts at the cap is what the untruncated distribution puts beyond it.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    Constant(f64),
    /// ln X ~ Normal(ln median, sigma).
    LogNormal {
        median: f64,
        sigma: f64,
        min: f64,
        max: f64,
    },
    /// P(X > x) = (scale / x)^shape for x >= scale.
    Pareto {
        scale: f64,
        shape: f64,
        max: f64,
    },
    Uniform {
        min: f64,
        max: f64,
    },
}

/// One `[[agents]]` group: what every kind has, and its kind's own configuration.
#[derive(Debug, Clone)]
pub struct AgentGroup {
    pub count: u32,
    /// Starting deposit in quote units.
    pub deposit: Distribution,
    /// Target leverage and side (long with `long_fraction`) are drawn for every member of
    /// every kind from the member's own stream, so that a kind's draws do not depend on
    /// which of them it reads; traders, momentum traders and writers size positions on
    /// the leverage, buyers choose calls over puts with `long_fraction`.
    pub leverage: Distribution,
    pub long_fraction: f64,
    /// Order latency in seconds.
    pub latency: Distribution,
    /// Widening in stress: latency x (1 + latency_stress x (realized / normal volatility
    /// - 1)) when realized volatility runs above the process's own.
    pub latency_stress: f64,
    /// Mean time between looks (traders poll while an order is on its way; writers and
    /// buyers look this often).
    pub wake: SimDuration,
    /// Pause before entering again after a stop, a target or a position gone.
    pub reentry: SimDuration,
    /// How far back an agent's view of the index reaches (momentum's signal).
    pub lookback: SimDuration,
    pub behaviour: Behaviour,
}

impl AgentGroup {
    pub fn kind(&self) -> AgentKind {
        match self.behaviour {
            Behaviour::LeveragedTrader(_) => AgentKind::LeveragedTrader,
            Behaviour::MarketMaker(_) => AgentKind::MarketMaker,
            Behaviour::Momentum(_) => AgentKind::Momentum,
            Behaviour::Arbitrageur => AgentKind::Arbitrageur,
            Behaviour::OptionWriter(_) => AgentKind::OptionWriter,
            Behaviour::OptionBuyer => AgentKind::OptionBuyer,
            Behaviour::OptionMarketMaker(_) => AgentKind::OptionMarketMaker,
            Behaviour::LiquidityProvider(_) => AgentKind::LiquidityProvider,
        }
    }

    /// The trader configuration, for a leveraged-trader group.
    pub fn trader(&self) -> Option<&TraderConfig> {
        match &self.behaviour {
            Behaviour::LeveragedTrader(t) => Some(t),
            _ => None,
        }
    }

    /// The quoting configuration, for a maker group (perpetual or options).
    pub fn maker(&self) -> Option<&MakerConfig> {
        match &self.behaviour {
            Behaviour::MarketMaker(m) | Behaviour::OptionMarketMaker(m) => Some(m),
            _ => None,
        }
    }
}

/// Each kind's own configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    LeveragedTrader(TraderConfig),
    MarketMaker(MakerConfig),
    Momentum(MomentumConfig),
    Arbitrageur,
    OptionWriter(WriterConfig),
    OptionBuyer,
    OptionMarketMaker(MakerConfig),
    LiquidityProvider(ProviderConfig),
}

/// A liquidity provider: the background of limit orders that refills a book after sweeps.
/// Each member keeps one post-only order resting at a time and replaces it every `wake`
/// on average, so a group of `count` members arrives at `count / wake` orders a second,
/// each living about `wake`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProviderConfig {
    /// Base units an order.
    pub size: f64,
    /// Mean distance of an order from the mark, a fraction of the price (exponential).
    pub distance: f64,
    /// Inventory limit in quote units (0: the deposit): beyond it, only the side that
    /// reduces it.
    pub capital: Money,
}

impl Default for ProviderConfig {
    fn default() -> ProviderConfig {
        ProviderConfig { size: 0.1, distance: 0.002, capital: Money::ZERO }
    }
}

/// How a group's first entries spread over its arrival window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArrivalProfile {
    Uniform,
    /// In proportion to the replayed bars' traded volume: traders come when the market
    /// is busy, as they did on the day replayed.
    Volume,
}

/// A leveraged trader.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraderConfig {
    /// Close when everything it owns has lost this share of its deposit.
    pub stop_loss: Option<f64>,
    /// Close when it has gained this share of its deposit.
    pub take_profit: Option<f64>,
    /// Chance to add half the deposit at the first margin warning.
    pub add_margin_probability: f64,
    /// Each position in an isolated-margin account of its own, holding `position_share`
    /// of the deposit (the rest stays in the trader's wallet, out of the position's
    /// reach); cross margin puts the whole deposit behind it.
    pub isolated: bool,
    /// The share of the deposit a position is sized on (notional = deposit x
    /// position_share x leverage).
    pub position_share: f64,
    /// Share of entries placed as post-only limit orders `limit_offset` inside the mark
    /// (the rest are market orders).
    pub limit_fraction: f64,
    pub limit_offset: f64,
    /// First entries spread over this window from the start (`None`: the first hour, or
    /// quarter of the run if shorter).
    pub arrival: Option<SimDuration>,
    /// How first entries spread over the window: evenly, or with the replayed market's
    /// activity (each bar's traded volume).
    pub arrival_profile: ArrivalProfile,
    /// Chance that a cross-margined trader, once liquidated, deposits its deposit again
    /// and re-enters after `reentry`.
    pub comeback: f64,
    /// Mean holding time (exponential) after which an open position is closed at market,
    /// to re-enter after `reentry` (`None`: held until a stop, a target or liquidation).
    pub hold: Option<SimDuration>,
    /// Members hold their position from the run's first instant, crossed against the
    /// opposite side's members of every group that also opens at start: a replay begins
    /// in a market whose open interest already exists, instead of building it through a
    /// book that could never have carried it in the first hour.
    pub open_at_start: bool,
}

impl Default for TraderConfig {
    fn default() -> TraderConfig {
        TraderConfig {
            stop_loss: None,
            take_profit: None,
            add_margin_probability: 0.1,
            isolated: false,
            position_share: 1.0,
            limit_fraction: 0.0,
            limit_offset: 0.002,
            arrival: None,
            arrival_profile: ArrivalProfile::Uniform,
            comeback: 0.0,
            hold: None,
            open_at_start: false,
        }
    }
}

/// A market maker, perpetual or options (see `quoting`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MakerConfig {
    /// Half-spread of each level: a fraction of the price (perpetual), of the forward
    /// (options).
    pub spread: f64,
    pub levels: u32,
    /// Units a level.
    pub level_size: f64,
    /// Inventory limit in quote units (0: five times equity).
    pub capital: Money,
    /// Realized volatility (per year) above which the group pulls its quotes.
    pub pull_vol: f64,
    /// How long a pull lasts.
    pub calm: SimDuration,
    /// Perpetual makers: thin to `presence` for `calm` after losing this share of the
    /// deposit.
    pub stop_loss: Option<f64>,
    /// Perpetual makers: the share of their size they keep quoting while their group is
    /// pulled for volatility or they have stopped on losses (0 pulls every quote).
    pub presence: f64,
}

impl MakerConfig {
    /// A tenth of the size: in stress, top-of-book depth on the large venues falls by
    /// about an order of magnitude rather than to nothing, and the makers that stay are
    /// those with quoting obligations.
    pub const PRESENCE: f64 = 0.1;
}

impl Default for MakerConfig {
    fn default() -> MakerConfig {
        MakerConfig {
            spread: 0.0005,
            levels: 10,
            level_size: 1.0,
            capital: Money::ZERO,
            pull_vol: 5.0,
            calm: SimDuration::from_secs(900),
            stop_loss: None,
            presence: MakerConfig::PRESENCE,
        }
    }
}

/// A trend follower.
#[derive(Debug, Clone, PartialEq)]
pub struct MomentumConfig {
    /// Index move over the lookback that flips it.
    pub threshold: f64,
}

impl Default for MomentumConfig {
    fn default() -> MomentumConfig {
        MomentumConfig { threshold: 0.01 }
    }
}

/// An option writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterConfig {
    /// Buy back when the loss reaches this share of the deposit.
    pub stop_loss: Option<f64>,
    /// The strikes it sells, as multiples of the forward: the put nearest `put_strike`,
    /// and for a strangle the call nearest `call_strike`.
    pub put_strike: f64,
    pub call_strike: f64,
}

impl Default for WriterConfig {
    fn default() -> WriterConfig {
        WriterConfig { stop_loss: None, put_strike: 0.9, call_strike: 1.1 }
    }
}
