//! Random valid scenarios run under the invariant checker: after every event the books
//! are uncrossed, money is conserved to the micro-unit, open interest balances, and the
//! kernel's own indexes (watched traders, keyed option holders, orders in flight) agree
//! with the exchange. Each case is a small market (under an hour, a few hundred
//! accounts) drawn over processes, shocks, policies, liquidation rules (the engine funded
//! by the fund, a vault or none; closes at the mark or not), makers' presence, liquidity
//! providers, traders opening at start or through the book, margin modes and option chains; a failure prints the scenario that reproduces it.

use liqsim_scenario::{load_str, sim_config};
use liqsim_sim::World;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    minutes: u32,
    process: &'static str,
    jump: f64,
    impact: f64,
    policy: &'static str,
    partial: bool,
    backstop: bool,
    adl: bool,
    fund: f64,
    makers: u32,
    traders: u32,
    leverage: f64,
    long_fraction: f64,
    isolated: bool,
    options: bool,
    engine: &'static str,
    mark_close: bool,
    presence: f64,
    providers: u32,
    open_at_start: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (any::<u64>(), 20u32..50, 0usize..3, -0.25f64..0.1, prop::bool::ANY),
        (0usize..4, any::<bool>(), any::<bool>(), any::<bool>(), 0.0f64..200_000.0),
        (1u32..4, 20u32..250, 2.0f64..40.0, 0.2f64..0.9, any::<bool>(), any::<bool>()),
        (0usize..3, any::<bool>(), 0.0f64..0.5, 0u32..30, any::<bool>()),
    )
        .prop_map(|(market, rules, population, liquidity)| {
            let (engine, mark_close, presence, providers, open_at_start) = liquidity;
            let (seed, minutes, process, jump, impact) = market;
            let (policy, partial, backstop, adl, fund) = rules;
            let (makers, traders, leverage, long_fraction, isolated, options) = population;
            Case {
                seed,
                minutes,
                process: ["gbm", "merton", "kou"][process],
                jump,
                impact: if impact { 0.02 } else { 0.0 },
                policy: ["es", "var", "fixed", "grid"][policy],
                partial,
                backstop,
                adl,
                fund: fund.round(),
                makers,
                traders,
                leverage,
                long_fraction,
                isolated,
                options,
                engine: ["fund", "vault", "none"][engine],
                mark_close,
                presence,
                providers,
                open_at_start,
            }
        })
}

fn scenario(c: &Case) -> String {
    let process = match c.process {
        "gbm" => "{ kind = \"gbm\", vol = 0.9 }",
        "merton" => {
            "{ kind = \"merton\", vol = 0.6, jump_intensity = 50.0, jump_mean = -0.02, jump_vol = 0.03 }"
        }
        _ => {
            "{ kind = \"kou\", vol = 0.6, jump_intensity = 50.0, p_up = 0.4, eta_up = 40.0, eta_down = 30.0 }"
        }
    };
    let chain = if c.options {
        "\n[[instruments]]\nkind = \"option_chain\"\nsymbol = \"O\"\nexpiries = [\"30m\", \"7d\"]\nstrikes = [0.85, 0.95, 1.0, 1.05]\n"
    } else {
        ""
    };
    let option_agents = if c.options {
        "\n[[agents]]\nkind = \"option_market_maker\"\ncount = 1\ndeposit = { dist = \"constant\", value = 2000000.0 }\n\
         \n[[agents]]\nkind = \"option_writer\"\ncount = 40\nwake = \"2m\"\n\
         \n[[agents]]\nkind = \"option_buyer\"\ncount = 20\nwake = \"2m\"\n"
    } else {
        ""
    };
    format!(
        r#"name = "invariants"
seed = {seed}
duration = "{minutes}m"

[market]
initial_price = 30000.0
tick_size = 0.5
process = {process}
index = {{ impact = {impact} }}

[[market.shocks]]
at = "{jump_at}m"
kind = "jump"
size = {jump}

[[instruments]]
kind = "perpetual"
symbol = "P"
{chain}
[margin]
policy = "{policy}"
method = "monte_carlo"
scenarios = 200

[liquidation]
partial = {partial}
backstop = {backstop}
backstop_capital = 300000.0
backstop_unwind = "10m"
adl = {adl}
engine = "{engine}"
{engine_capital}mark_close = {mark_close}

[insurance_fund]
initial = {fund}

[[agents]]
kind = "market_maker"
count = {makers}
deposit = {{ dist = "constant", value = 1000000.0 }}
level_size = 0.5
presence = {presence}
{providers}
[[agents]]
kind = "leveraged_trader"
count = {traders}
leverage = {{ dist = "lognormal", median = {leverage}, sigma = 0.8, max = 100.0 }}
long_fraction = {long_fraction}
margin_mode = "{mode}"
position_share = {share}
wake = "3m"
stop_loss = 0.5
limit_fraction = 0.3
open_at_start = {open_at_start}

[[agents]]
kind = "momentum"
count = 10
{option_agents}"#,
        seed = c.seed % (1 << 62),
        minutes = c.minutes,
        impact = c.impact,
        jump_at = c.minutes / 2,
        jump = c.jump,
        policy = c.policy,
        partial = c.partial,
        backstop = c.backstop,
        adl = c.adl,
        engine = c.engine,
        engine_capital = if c.engine == "vault" { "engine_capital = 400000.0\n" } else { "" },
        mark_close = c.mark_close,
        presence = c.presence,
        open_at_start = c.open_at_start,
        providers = if c.providers > 0 {
            format!(
                "\n[[agents]]\nkind = \"liquidity_provider\"\ncount = {}\nsize = 0.05\nwake = \"1m\"\n",
                c.providers
            )
        } else {
            String::new()
        },
        fund = c.fund,
        makers = c.makers,
        traders = c.traders,
        leverage = c.leverage,
        long_fraction = c.long_fraction,
        mode = if c.isolated { "isolated" } else { "cross" },
        share = if c.isolated { 0.4 } else { 1.0 },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn random_valid_scenarios_keep_every_invariant_after_every_event(c in case()) {
        let text = scenario(&c);
        let loaded = load_str(&text, "invariants.toml", std::path::Path::new("."), &[]);
        let s = loaded.map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let mut world = World::new(sim_config(&s).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        world.check_every_event(true);
        let outcome = world.run().map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(outcome.conservation_error.micros(), 0, "{}", text);
        prop_assert!(outcome.events > 0, "{}", text);
    }
}
