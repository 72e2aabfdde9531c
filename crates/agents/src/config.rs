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
}

impl AgentKind {
    pub const ALL: [(&'static str, AgentKind); 7] = [
        ("leveraged_trader", AgentKind::LeveragedTrader),
        ("market_maker", AgentKind::MarketMaker),
        ("momentum", AgentKind::Momentum),
        ("arbitrageur", AgentKind::Arbitrageur),
        ("option_writer", AgentKind::OptionWriter),
        ("option_buyer", AgentKind::OptionBuyer),
        ("option_market_maker", AgentKind::OptionMarketMaker),
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

#[derive(Debug, Clone)]
pub struct AgentGroup {
    pub kind: AgentKind,
    pub count: u32,
    /// Starting deposit in quote units.
    pub deposit: Distribution,
    pub leverage: Distribution,
    pub long_fraction: f64,
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    pub add_margin_probability: f64,
    /// Leveraged traders: each position in an isolated-margin account of its own, holding
    /// `position_share` of the deposit (the rest stays in the trader's wallet, out of the
    /// position's reach); cross margin puts the whole deposit behind it.
    pub isolated: bool,
    /// Leveraged traders: the share of the deposit a position is sized on (notional =
    /// deposit x position_share x leverage).
    pub position_share: f64,
    pub reentry: SimDuration,
    /// Leveraged traders: share of entries placed as post-only limit orders
    /// `limit_offset` inside the mark (the rest are market orders).
    pub limit_fraction: f64,
    pub limit_offset: f64,
    pub wake: SimDuration,
    /// Order latency in seconds.
    pub latency: Distribution,
    /// Widening in stress: latency x (1 + latency_stress x (realized / normal volatility
    /// - 1)) when realized volatility runs above the process's own.
    pub latency_stress: f64,
    pub spread: f64,
    pub levels: u32,
    pub level_size: f64,
    pub capital: Money,
    pub pull_vol: f64,
    pub calm: SimDuration,
    pub lookback: SimDuration,
    pub threshold: f64,
}
