//! liqsim-agents: who trades, and how they are drawn.
//!
//! - [`config`]: validated descriptions of agent populations (kind, count, distributions
//!   of deposits, leverage and latency, behaviour parameters), as the scenario file gives
//!   them.
//! - [`behaviour`]: the [`behaviour::Agent`] trait and each wake-driven kind's decisions.
//! - [`quoting`]: market makers (perpetual and option) as pure functions from a view of
//!   the market and their account to a ladder of quotes, and option makers' hedges.
//! - [`sampling`]: drawing one agent's parameters from those distributions, from the
//!   agent's own random stream.

pub mod behaviour;
pub mod config;
pub mod quoting;
pub mod sampling;

pub use config::{
    AgentGroup, AgentKind, ArrivalProfile, Behaviour, Distribution, MakerConfig, MomentumConfig,
    ProviderConfig, TraderConfig, WriterConfig,
};
pub use sampling::Sampler;
