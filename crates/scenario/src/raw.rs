//! The scenario file as written: serde types mirroring the TOML, strict about unknown
//! keys. Nothing here is trusted; [`crate::validate`] turns it into [`crate::Scenario`].
//! Optional fields are `Option` so that validation can tell "absent" from a value and
//! apply documented defaults (and name the valid range of a missing key) in one place.
//!
//! A table whose keys depend on its kind (`market.process`, `[[market.shocks]]`,
//! `[[instruments]]`, `[[agents]]`, the distributions) is an enum with one struct per
//! kind, each `deny_unknown_fields` with only the keys that kind uses (see
//! [`crate::tagged`] for why these enums are not `#[serde(tag)]`). This is the one place
//! the keys of each kind are written: a key of another kind is refused while the file is
//! read, and the message lists the kind's keys from its struct.

use crate::tagged::tagged;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: Option<i64>,
    pub start: Option<String>,
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
    #[serde(default)]
    pub collateral: Vec<RawCollateral>,
}

/// `[[collateral]]`: an asset traders hold beside the quote currency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCollateral {
    pub name: Option<String>,
    pub share: Option<f64>,
    pub liquidation_discount: Option<f64>,
    /// A constant venue price (instead of `path`).
    pub price: Option<f64>,
    #[serde(default)]
    pub haircuts: Vec<RawHaircut>,
    #[serde(default)]
    pub path: Vec<RawPricePoint>,
}

/// `[[collateral.haircuts]]`: one band of the haircut schedule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHaircut {
    pub up_to: Option<f64>,
    pub rate: Option<f64>,
}

/// `[[collateral.path]]`: the venue price at a time from the start.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPricePoint {
    pub at: String,
    pub price: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarket {
    pub quote_currency: Option<String>,
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

tagged! {
    /// `market.process`, by `kind`.
    RawProcess by "kind", a kind of "process" {
        "gbm" => Gbm(RawGbm),
        "merton" => Merton(RawMerton),
        "kou" => Kou(RawKou),
        "svcj" => Svcj(RawSvcj),
        "garch_t" => GarchT(RawGarchT),
        "replay" => Replay(RawReplay),
    }
}

/// Every process takes `units` (rates per year or per day).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGbm {
    pub units: Option<String>,
    pub vol: Option<f64>,
    pub drift: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMerton {
    pub units: Option<String>,
    pub vol: Option<f64>,
    pub drift: Option<f64>,
    pub jump_intensity: Option<f64>,
    pub jump_mean: Option<f64>,
    pub jump_vol: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKou {
    pub units: Option<String>,
    pub vol: Option<f64>,
    pub drift: Option<f64>,
    pub jump_intensity: Option<f64>,
    pub p_up: Option<f64>,
    pub eta_up: Option<f64>,
    pub eta_down: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSvcj {
    pub units: Option<String>,
    pub drift: Option<f64>,
    pub kappa: Option<f64>,
    pub theta: Option<f64>,
    pub sigma_v: Option<f64>,
    pub rho: Option<f64>,
    pub v0: Option<f64>,
    pub jump_intensity: Option<f64>,
    pub jump_mean: Option<f64>,
    pub jump_vol: Option<f64>,
    pub jump_var_mean: Option<f64>,
    pub jump_corr: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGarchT {
    pub units: Option<String>,
    pub drift: Option<f64>,
    pub omega: Option<f64>,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub nu: Option<f64>,
}

/// `units` is accepted (every process has it) though a replay has no rates to scale.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReplay {
    pub units: Option<String>,
    pub file: Option<String>,
}

tagged! {
    /// `[[market.shocks]]`, by `kind`.
    RawShock by "kind", a kind of "shock" {
        "jump" => Jump(RawJumpShock),
        "vol" => Vol(RawVolShock),
        "drought" => Drought(RawDroughtShock),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJumpShock {
    pub at: String,
    pub size: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVolShock {
    pub at: String,
    pub duration: Option<String>,
    pub multiplier: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDroughtShock {
    pub at: String,
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

tagged! {
    /// `[[instruments]]`, by `kind`.
    RawInstrument by "kind", a kind of "instrument" {
        "perpetual" => Perpetual(RawPerpetual),
        "option_chain" => OptionChain(RawOptionChain),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerpetual {
    pub symbol: String,
    pub max_leverage: Option<f64>,
    pub max_position: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptionChain {
    pub symbol: String,
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
    pub greeks: Option<RawGreeksMargin>,
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGreeksMargin {
    pub move_max: Option<f64>,
    pub steps: Option<i64>,
    pub vol_shift: Option<f64>,
    pub extreme_move: Option<f64>,
    pub extreme_fraction: Option<f64>,
    pub short_option_minimum: Option<f64>,
    pub delta_floor: Option<f64>,
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
    pub engine: Option<String>,
    pub engine_capital: Option<f64>,
    pub engine_unwind: Option<String>,
    pub engine_price_limit: Option<f64>,
    pub mark_close: Option<bool>,
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

tagged! {
    /// `[[agents]]`, by `kind`. Each kind has the keys the kernel reads for it
    /// (liqsim-agents' behaviours, liqsim-sim's world and option agents); every kind has
    /// `count` and `deposit`, and the wake-driven kinds `latency` and `latency_stress`.
    RawAgents by "kind", a kind of "agent kind" {
        "leveraged_trader" => LeveragedTrader(RawLeveragedTrader),
        "market_maker" => MarketMaker(RawMarketMaker),
        "momentum" => Momentum(RawMomentum),
        "arbitrageur" => Arbitrageur(RawArbitrageur),
        "option_writer" => OptionWriter(RawOptionWriter),
        "option_buyer" => OptionBuyer(RawOptionBuyer),
        "option_market_maker" => OptionMarketMaker(RawOptionMarketMaker),
        "liquidity_provider" => LiquidityProvider(RawLiquidityProvider),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLeveragedTrader {
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
    pub arrival: Option<String>,
    pub arrival_profile: Option<String>,
    pub comeback: Option<f64>,
    pub hold: Option<String>,
    pub open_at_start: Option<bool>,
    pub reentry: Option<String>,
    pub wake: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
}

/// Quotes on every price step (no wake, no latency); `stop_loss` thins its quotes to
/// `presence`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMarketMaker {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub spread: Option<f64>,
    pub levels: Option<i64>,
    pub level_size: Option<f64>,
    pub capital: Option<f64>,
    pub pull_vol: Option<f64>,
    pub calm: Option<String>,
    pub stop_loss: Option<f64>,
    pub presence: Option<f64>,
}

/// Looks again every fifth of `lookback`, so it has no `wake`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMomentum {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub leverage: Option<RawDistribution>,
    pub threshold: Option<f64>,
    pub lookback: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
}

/// Trades at a fixed 2x, so it has no `leverage`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArbitrageur {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub wake: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
}

/// One order resting at a time, replaced every `wake` on average.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLiquidityProvider {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub size: Option<f64>,
    pub distance: Option<f64>,
    pub capital: Option<f64>,
    pub wake: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
}

/// Sizes its writes at deposit x `leverage` of underlying notional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptionWriter {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub leverage: Option<RawDistribution>,
    pub stop_loss: Option<f64>,
    pub put_strike: Option<f64>,
    pub call_strike: Option<f64>,
    pub reentry: Option<String>,
    pub wake: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
}

/// `long_fraction` is its probability of buying a call rather than a put.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptionBuyer {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub long_fraction: Option<f64>,
    pub reentry: Option<String>,
    pub wake: Option<String>,
    pub latency: Option<RawDistribution>,
    pub latency_stress: Option<f64>,
}

/// Quotes every series and hedges within `level_size` on every price step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOptionMarketMaker {
    pub count: Option<i64>,
    pub deposit: Option<RawDistribution>,
    pub spread: Option<f64>,
    pub levels: Option<i64>,
    pub level_size: Option<f64>,
    pub capital: Option<f64>,
    pub pull_vol: Option<f64>,
    pub calm: Option<String>,
}

tagged! {
    /// A distribution of a positive parameter, by `dist`.
    RawDistribution by "dist", a kind of "distribution" {
        "constant" => Constant(RawConstant),
        "lognormal" => LogNormal(RawLogNormal),
        "pareto" => Pareto(RawPareto),
        "uniform" => Uniform(RawUniform),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConstant {
    pub value: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLogNormal {
    pub median: Option<f64>,
    pub sigma: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPareto {
    pub scale: Option<f64>,
    pub shape: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUniform {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tagged::Tagged;

    /// A tagged table inside a document, as in a scenario file.
    #[derive(Debug, Deserialize)]
    struct Doc {
        #[allow(dead_code)] // read through Debug in failures only
        p: RawProcess,
    }

    fn process(text: &str) -> Result<RawProcess, toml::de::Error> {
        toml::from_str::<Doc>(text).map(|d| d.p)
    }

    /// The text an error's span covers.
    fn spanned<'a>(text: &'a str, e: &toml::de::Error) -> Option<&'a str> {
        e.span().map(|s| &text[s])
    }

    #[test]
    fn keys_come_from_the_structs() {
        assert_eq!(RawProcess::keys("gbm"), ["units", "vol", "drift"]);
        assert_eq!(RawDistribution::keys("pareto"), ["scale", "shape", "max"]);
        assert!(RawAgents::keys("market_maker").contains(&"spread"));
        assert!(!RawAgents::keys("leveraged_trader").contains(&"spread"));
        assert!(RawProcess::keys("heston").is_empty());
    }

    #[test]
    fn the_tag_may_come_anywhere() {
        let first = process("[p]\nkind = \"gbm\"\nvol = 0.5\n").unwrap();
        let last = process("[p]\nvol = 0.5\nkind = \"gbm\"\n").unwrap();
        let inline = process("p = { vol = 0.5, kind = \"gbm\" }\n").unwrap();
        for p in [first, last, inline] {
            assert_eq!(p.kind(), "gbm");
            let RawProcess::Gbm(g) = p else { panic!("not gbm: {p:?}") };
            assert_eq!(g.vol, Some(0.5));
        }
    }

    #[test]
    fn a_key_of_another_kind_is_refused_at_its_span() {
        let text = "[p]\nkind = \"gbm\"\nvol = 0.5\nkappa = 2.0\n";
        let e = process(text).unwrap_err();
        assert!(e.message().starts_with("`kappa` is not a parameter of the `gbm` process"));
        assert!(e.message().ends_with("expected keys of `gbm`: kind, units, vol, drift"));
        assert_eq!(spanned(text, &e), Some("kappa"));
    }

    #[test]
    fn an_error_inside_a_kind_keeps_its_span() {
        let text = "p = { kind = \"gbm\", vol = \"high\" }\n";
        let e = process(text).unwrap_err();
        assert!(e.message().contains("invalid type"), "{}", e.message());
        assert_eq!(spanned(text, &e), Some("\"high\""));
    }

    #[test]
    fn unknown_and_missing_kinds() {
        let text = "[p]\nkind = \"heston\"\n";
        let e = process(text).unwrap_err();
        assert!(e.message().starts_with("unknown process `heston`, expected one of `gbm`"));
        assert_eq!(spanned(text, &e), Some("\"heston\""));
        let e = process("[p]\nvol = 1.0\n").unwrap_err();
        assert!(e.message().starts_with("missing field `kind`, expected one of `gbm`"));
    }
}
