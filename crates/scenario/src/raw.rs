//! The scenario file as written: serde structs mirroring the TOML, strict about unknown
//! keys. Nothing here is trusted; [`crate::validate`] turns it into [`crate::Scenario`].
//! Optional fields are `Option` so that validation can tell "absent" from a value and
//! apply documented defaults in one place.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: Option<i64>,
    pub duration: String,
    pub metrics_interval: Option<String>,
    pub margin_metrics_interval: Option<String>,
    pub market: RawMarket,
    #[serde(default)]
    pub instruments: Vec<RawInstrument>,
    pub margin: Option<RawMargin>,
    pub liquidation: Option<RawLiquidation>,
    pub insurance_fund: Option<RawInsuranceFund>,
    pub fees: Option<RawFees>,
    #[serde(default)]
    pub agents: Vec<RawAgents>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarket {
    pub initial_price: Option<f64>,
    pub tick_size: f64,
    pub lot_size: Option<f64>,
    pub step: Option<String>,
    pub process: RawProcess,
    #[serde(default)]
    pub shocks: Vec<RawShock>,
    pub index: Option<RawIndex>,
    pub mark: Option<RawMark>,
    pub funding: Option<RawFunding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProcess {
    pub kind: String,
    pub units: Option<String>,
    pub vol: Option<f64>,
    pub drift: Option<f64>,
    pub jump_intensity: Option<f64>,
    pub jump_mean: Option<f64>,
    pub jump_vol: Option<f64>,
    pub p_up: Option<f64>,
    pub eta_up: Option<f64>,
    pub eta_down: Option<f64>,
    pub kappa: Option<f64>,
    pub theta: Option<f64>,
    pub sigma_v: Option<f64>,
    pub rho: Option<f64>,
    pub v0: Option<f64>,
    pub jump_var_mean: Option<f64>,
    pub jump_corr: Option<f64>,
    pub omega: Option<f64>,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub nu: Option<f64>,
    pub file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShock {
    pub at: String,
    pub kind: String,
    pub size: Option<f64>,
    pub multiplier: Option<f64>,
    pub duration: Option<String>,
    pub liquidity: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    pub impact: Option<f64>,
    pub decay: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMark {
    pub rule: Option<String>,
    pub ema: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFunding {
    pub interval: Option<String>,
    pub interest: Option<f64>,
    pub clamp: Option<f64>,
    pub cap: Option<f64>,
    pub impact_notional: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInstrument {
    pub kind: String,
    pub symbol: String,
    pub max_leverage: Option<f64>,
    pub max_position: Option<f64>,
    #[serde(default)]
    pub expiries: Vec<String>,
    #[serde(default)]
    pub strikes: Vec<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMargin {
    pub policy: Option<String>,
    pub confidence: Option<f64>,
    pub horizon: Option<String>,
    pub method: Option<String>,
    pub scenarios: Option<i64>,
    pub ewma_lambda: Option<f64>,
    pub history: Option<String>,
    pub maintenance_fraction: Option<f64>,
    pub refresh: Option<String>,
    pub fixed: Option<RawFixedMargin>,
    pub grid: Option<RawGridMargin>,
    pub apc: Option<RawApc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFixedMargin {
    pub initial: Option<f64>,
    pub maintenance: Option<f64>,
    #[serde(default)]
    pub tiers: Vec<RawTier>,
    pub short_option_fraction: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub notional_max: f64,
    pub initial: f64,
    pub maintenance: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGridMargin {
    pub move_max: Option<f64>,
    pub steps: Option<i64>,
    #[serde(default)]
    pub vol_shifts: Vec<f64>,
    pub extreme_move: Option<f64>,
    pub extreme_fraction: Option<f64>,
    pub short_option_minimum: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApc {
    pub floor: Option<bool>,
    pub buffer: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLiquidation {
    pub partial: Option<bool>,
    pub step_fraction: Option<f64>,
    pub cooldown: Option<String>,
    pub fee: Option<f64>,
    pub backstop: Option<bool>,
    pub backstop_capital: Option<f64>,
    pub backstop_unwind: Option<String>,
    pub adl: Option<bool>,
    pub adl_ranking: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInsuranceFund {
    pub initial: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFees {
    pub maker: Option<f64>,
    pub taker: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgents {
    pub kind: String,
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub leverage: Option<RawDistribution>,
    pub long_fraction: Option<f64>,
    pub stop_loss: Option<f64>,
    pub take_profit: Option<f64>,
    pub add_margin_probability: Option<f64>,
    pub margin_mode: Option<String>,
    pub position_share: Option<f64>,
    pub limit_fraction: Option<f64>,
    pub limit_offset: Option<f64>,
    pub reentry: Option<String>,
    pub wake: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
    pub spread: Option<f64>,
    pub levels: Option<i64>,
    pub level_size: Option<f64>,
    pub capital: Option<f64>,
    pub pull_vol: Option<f64>,
    pub calm: Option<String>,
    pub lookback: Option<String>,
    pub threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDistribution {
    pub dist: String,
    pub value: Option<f64>,
    pub median: Option<f64>,
    pub sigma: Option<f64>,
    pub scale: Option<f64>,
    pub shape: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}
