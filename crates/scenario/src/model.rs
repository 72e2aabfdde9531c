//! The validated scenario: plain Rust types, no serde. Everything here has passed the
//! range checks of [`crate::validate`], so the simulation trusts it without re-checking.
//! Money is exact ([`Money`]), time is [`SimDuration`], fractions are f64 in their
//! documented ranges.

use liqsim_core::{ContractSpec, Money, SimDuration};
pub use liqsim_risk::{FixedConfig, GreeksConfig, GridConfig};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// When the run starts, in nanoseconds since 1970-01-01T00:00:00Z: a replay's first
    /// row, or the `start` key of a parametric run (which may have none when nothing in it
    /// is dated). No data dated from then on is read by the run.
    pub start_utc_ns: Option<u64>,
    pub duration: SimDuration,
    pub metrics_interval: SimDuration,
    /// How often the margin totals of the time series are recomputed over every account.
    pub margin_metrics_interval: SimDuration,
    pub market: Market,
    pub instruments: Vec<Instrument>,
    pub margin: Margin,
    pub liquidation: Liquidation,
    pub insurance_fund_initial: Money,
    pub fees: Fees,
    pub agents: Vec<AgentGroup>,
    /// Collateral assets beside the quote currency (none by default).
    pub collateral: Vec<Collateral>,
}

/// A collateral asset: what share of each cross-margin trader's deposit it holds, its
/// haircut bands (upper edge in quote, none for the last; rate), the discount at which a
/// liquidated holder's balance is converted, and its venue price path.
#[derive(Debug, Clone)]
pub struct Collateral {
    pub name: String,
    pub share: f64,
    pub haircuts: Vec<(Option<Money>, f64)>,
    pub liquidation_discount: f64,
    /// (time from the start, price), times strictly increasing, at least one point.
    pub path: Vec<(SimDuration, f64)>,
}

#[derive(Debug, Clone)]
pub struct Market {
    /// What prices and money are quoted in (`USD`, `USDT`, ...): a label for reports.
    pub quote_currency: String,
    /// First price of the run, in quote units (for a replay, the file's first close
    /// unless given).
    pub initial_price: f64,
    pub contract: ContractSpec,
    /// Step of the price process.
    pub step: SimDuration,
    pub process: Process,
    pub shocks: Vec<Shock>,
    pub index_impact: f64,
    pub index_decay: SimDuration,
    pub mark_rule: MarkRule,
    pub mark_ema: SimDuration,
    pub funding: Funding,
}

pub use liqsim_models::{Bar, ProcessSpec, RateUnit};

#[derive(Debug, Clone)]
pub enum Process {
    /// A stochastic process with rates in `unit`.
    Parametric { unit: RateUnit, spec: ProcessSpec },
    /// A real history; `file` is the resolved path it was read from, `start_utc_ns` the
    /// absolute time of its first row (the bars' times are relative to it).
    Replay { file: PathBuf, bars: Vec<Bar>, activity: Vec<f64>, start_utc_ns: u64 },
}

impl Process {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Process::Parametric { spec, .. } => match spec {
                ProcessSpec::Gbm { .. } => "gbm",
                ProcessSpec::Merton { .. } => "merton",
                ProcessSpec::Kou { .. } => "kou",
                ProcessSpec::Svcj { .. } => "svcj",
                ProcessSpec::GarchT { .. } => "garch_t",
            },
            Process::Replay { .. } => "replay",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shock {
    /// Price jump of `size` (a fraction: -0.2 is -20%) at `at`.
    Jump { at: SimDuration, size: f64 },
    /// Volatility multiplied by `multiplier` during [at, at + duration).
    Volatility { at: SimDuration, duration: SimDuration, multiplier: f64 },
    /// Market makers' quoting capacity scaled by `liquidity` in [0, 1] during the window.
    Drought { at: SimDuration, duration: SimDuration, liquidity: f64 },
}

pub use liqsim_exchange::{AdlRanking, MarkRule};

#[derive(Debug, Clone)]
pub struct Funding {
    pub interval: SimDuration,
    pub interest: f64,
    pub clamp: f64,
    pub cap: f64,
    pub impact_notional: Money,
}

#[derive(Debug, Clone)]
pub enum Instrument {
    Perpetual {
        symbol: String,
        max_leverage: f64,
        /// Largest |position| of one account, base units.
        max_position: Option<f64>,
    },
    /// Calls and puts at every (expiry, strike); strikes as fractions of the initial price.
    OptionChain { symbol: String, expiries: Vec<SimDuration>, strikes: Vec<f64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Es,
    Var,
    Fixed,
    Grid,
    Greeks,
}

impl Policy {
    /// Every policy, in the order reports and `compare` list them.
    pub const ALL: [Policy; 5] =
        [Policy::Es, Policy::Var, Policy::Fixed, Policy::Grid, Policy::Greeks];
    /// Their names as files, flags and reports write them.
    pub const NAMES: [&'static str; Policy::ALL.len()] = {
        let mut names = [""; Policy::ALL.len()];
        let mut i = 0;
        while i < names.len() {
            names[i] = Policy::ALL[i].name();
            i += 1;
        }
        names
    };

    pub const fn name(self) -> &'static str {
        match self {
            Policy::Es => "es",
            Policy::Var => "var",
            Policy::Fixed => "fixed",
            Policy::Grid => "grid",
            Policy::Greeks => "greeks",
        }
    }

    /// The names, comma-separated, for messages.
    pub fn listed() -> String {
        Policy::NAMES.join(", ")
    }

    pub fn parse(text: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScenarioMethod {
    Historical,
    FilteredHistorical,
    MonteCarlo,
}

/// A price history as read from a CSV: bars timed from the first row, which was at
/// `first_utc_ns` (nanoseconds since 1970-01-01T00:00:00Z). As a margin history it holds
/// only the rows closed by the run's start, at least two.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub first_utc_ns: u64,
    pub bars: Vec<Bar>,
    /// Each bar's traded volume (its `quote_volume` column, else its `volume`), empty
    /// when the file has neither: how active each bar's market was.
    pub activity: Vec<f64>,
}

impl History {
    /// The timestamp of the last row (its bar's open), since 1970-01-01T00:00:00Z.
    pub fn last_utc_ns(&self) -> u64 {
        self.first_utc_ns.saturating_add(self.bars.last().map_or(0, |b| b.time_ns))
    }
}

#[derive(Debug, Clone)]
pub struct Margin {
    pub policy: Policy,
    pub confidence: f64,
    pub horizon: SimDuration,
    pub method: ScenarioMethod,
    pub scenarios: usize,
    pub ewma_lambda: f64,
    /// Closes for historical methods and the anti-procyclicality floor, from
    /// `margin.history`, cut at the run's start (see [`crate::replay::closed_by`]). `None`
    /// without a `margin.history`, or when fewer than two of its rows closed before the
    /// start (validation refuses that when the policy reads it).
    pub history: Option<History>,
    pub maintenance_fraction: f64,
    pub refresh: SimDuration,
    /// Every policy's own section, validated (the run takes `policy`'s; `--policy`
    /// switches between them).
    pub fixed: FixedConfig,
    pub grid: GridConfig,
    pub greeks: GreeksConfig,
    pub apc_floor: bool,
    pub apc_buffer: f64,
}

impl Margin {
    /// Whether the run reads [`Margin::history`]: `es` and `var` take their scenarios from
    /// it unless they are Monte Carlo, and their anti-procyclicality floor is its most
    /// volatile year.
    pub fn uses_history(&self) -> bool {
        matches!(self.policy, Policy::Es | Policy::Var)
            && (self.method != ScenarioMethod::MonteCarlo || self.apc_floor)
    }
}

#[derive(Debug, Clone)]
pub struct Liquidation {
    pub partial: bool,
    pub step_fraction: f64,
    pub cooldown: SimDuration,
    pub fee: f64,
    pub backstop: bool,
    pub backstop_capital: Money,
    pub backstop_unwind: SimDuration,
    /// The exchange's liquidation engine (`None`: it runs none).
    pub engine: Option<EngineConfig>,
    pub mark_close: bool,
    pub adl: bool,
    pub adl_ranking: AdlRanking,
}

pub use liqsim_sim::config::EngineConfig;

#[derive(Debug, Clone, Copy)]
pub struct Fees {
    pub maker: f64,
    pub taker: f64,
}

pub use liqsim_agents::config::{
    AgentGroup, AgentKind, ArrivalProfile, Behaviour, Distribution, MakerConfig, MomentumConfig,
    ProviderConfig, TraderConfig, WriterConfig,
};
