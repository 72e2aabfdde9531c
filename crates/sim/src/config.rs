//! What the kernel needs to build a world: plain validated values (liqsim-scenario builds
//! them from a scenario file; tests build them directly).

use liqsim_agents::AgentGroup;
use liqsim_core::{ContractSpec, Money, SimDuration};
use liqsim_exchange::{AdlRanking, CollateralConfig, FundingConfig, MarkRule};
use liqsim_models::{Bar, ProcessSpec, RateUnit, Shock};
use liqsim_risk::PolicyConfig;

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub name: String,
    /// What prices and money are quoted in; reports name it, the kernel never reads it.
    pub quote_currency: String,
    pub seed: u64,
    /// When simulated time zero is, in UTC nanoseconds since 1970-01-01T00:00:00Z (a
    /// replay's first row, or the scenario's `start`); the kernel never reads it, the
    /// outputs date their rows with it.
    pub start_utc_ns: Option<u64>,
    pub duration: SimDuration,
    pub metrics_interval: SimDuration,
    /// Margin totals and the count below maintenance are recomputed at this interval (a
    /// multiple of `metrics_interval`) and carried between: they walk the distinct
    /// position sizes, the accounts near liquidation and every option holder.
    pub margin_metrics_interval: SimDuration,
    /// Step of the price process.
    pub step: SimDuration,
    pub initial_price: f64,
    pub spec: ContractSpec,
    pub process: ProcessConfig,
    /// Each replayed bar's traded volume (empty when the replay has none, or without a
    /// replay): what arrivals with a volume profile follow.
    pub activity: Vec<f64>,
    pub shocks: Vec<Shock>,
    /// Log-price impact on the index per million quote units of net taker flow.
    pub index_impact: f64,
    pub index_decay: SimDuration,
    pub mark_rule: MarkRule,
    pub mark_ema: SimDuration,
    pub funding: FundingConfig,
    pub funding_impact_notional: Money,
    pub margin: MarginConfig,
    pub liquidation: LiquidationConfig,
    pub maker_fee: f64,
    pub taker_fee: f64,
    pub max_leverage: f64,
    /// Largest |position| of one account in the perpetual, base units.
    pub max_position: Option<f64>,
    pub insurance_fund: Money,
    pub agents: Vec<AgentGroup>,
    /// Calls and puts at every (expiry, strike), if the scenario lists an option chain.
    pub options: Option<OptionChainConfig>,
    /// Collateral assets beside the quote currency (none: traders hold quote only).
    pub collateral: Vec<CollateralSpec>,
}

/// A collateral asset in the run: the venue's listing, how much of the traders' money is
/// held in it, and its venue price over time.
#[derive(Debug, Clone)]
pub struct CollateralSpec {
    pub config: CollateralConfig,
    /// Share of each cross-margin trader's drawn deposit held in this asset (bought at
    /// its price at the start), the rest of the deposit in quote.
    pub share: f64,
    /// (time from the start, venue price in quote per unit), times increasing: the price
    /// is linear between points and held before the first and after the last.
    pub path: Vec<(SimDuration, f64)>,
}

#[derive(Debug, Clone)]
pub struct OptionChainConfig {
    /// Times to expiry from the start of the run.
    pub expiries: Vec<SimDuration>,
    /// Strikes as fractions of the initial price.
    pub strikes: Vec<f64>,
}

#[derive(Debug, Clone)]
pub enum ProcessConfig {
    Parametric { unit: RateUnit, spec: ProcessSpec },
    Replay(Vec<Bar>),
}

#[derive(Debug, Clone)]
pub struct MarginConfig {
    /// The policy: every account's margin, perpetual-only or not, comes from its model.
    pub policy: PolicyConfig,
    pub refresh: SimDuration,
}

#[derive(Debug, Clone, Copy)]
pub struct LiquidationConfig {
    pub partial: bool,
    pub step_fraction: f64,
    /// After a partial liquidation, the account is left alone this long unless it is
    /// bankrupt (equity below zero).
    pub cooldown: SimDuration,
    pub fee: f64,
    pub backstop: bool,
    /// The backstop's deposit: it takes positions only as far as its initial margin
    /// allows, and is liquidated like any account when it runs short.
    pub backstop_capital: Money,
    /// The backstop works its position off into the book at this time scale (each
    /// minute a market sale of minute / unwind of it, within 1% of the mark); zero holds.
    pub backstop_unwind: SimDuration,
    pub adl: bool,
    pub adl_ranking: AdlRanking,
    /// The exchange's liquidation engine, if it runs one.
    pub engine: Option<EngineConfig>,
    /// Close what the book, backstop and engine cannot take against opposing positions at
    /// the mark while the fund can pay, before any ADL (venues without an engine).
    pub mark_close: bool,
}

/// The exchange's liquidation engine: it takes over at the bankruptcy price what the
/// book cannot, as far as its capital covers initial margin, and works it off into the
/// book: each minute a reduce-only market order for minute / `unwind` of its position,
/// filling no further than `price_limit` from the mark.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// `None`: funded by the insurance fund, its result the fund's; `Some`: a vault with
    /// this capital of its own, its result its own.
    pub vault_capital: Option<Money>,
    pub unwind: SimDuration,
    pub price_limit: f64,
}
