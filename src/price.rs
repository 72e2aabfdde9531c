//! `liqsim price`: a European option's price and Greeks under Black-Scholes-Merton,
//! Black-76 or Merton's jump-diffusion.
//!
//! Every number is checked here, before it reaches the pricing functions: a missing flag
//! for the chosen model, a flag that does not belong to it, or a value out of range is a
//! bad-input error (exit code 2) naming the flag and the valid range. Greeks are plain
//! partial derivatives (vega per 1.00 of volatility, rho per 1.00 of rate, theta per
//! year as time passes); `--t` is in years.

use crate::CliResult;
use liqsim_core::{Error, InputError};
use liqsim_models::{MertonJumps, OptionKind, black76_greeks, bsm_greeks, merton_greeks};

#[derive(Debug, clap::Args)]
pub struct PriceArgs {
    /// Pricing model.
    #[arg(long, value_parser = ["bsm", "black76", "merton"])]
    pub model: String,
    /// Option type.
    #[arg(long, value_parser = ["call", "put"])]
    pub kind: String,
    /// Spot price of the underlying (bsm, merton).
    #[arg(long, allow_negative_numbers = true)]
    pub spot: Option<f64>,
    /// Forward price of the underlying (black76).
    #[arg(long, allow_negative_numbers = true)]
    pub forward: Option<f64>,
    /// Strike price.
    #[arg(long, allow_negative_numbers = true)]
    pub strike: Option<f64>,
    /// Volatility per year (0.6 = 60%); for merton, the diffusion part.
    #[arg(long, allow_negative_numbers = true)]
    pub vol: Option<f64>,
    /// Time to expiry in years.
    #[arg(long, allow_negative_numbers = true)]
    pub t: Option<f64>,
    /// Continuously compounded interest rate per year.
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Continuous dividend (or carry) yield per year (bsm, merton); default 0.
    #[arg(long, allow_negative_numbers = true)]
    pub div: Option<f64>,
    /// Jumps per year (merton).
    #[arg(long, allow_negative_numbers = true)]
    pub jump_intensity: Option<f64>,
    /// Mean of the log jump size (merton).
    #[arg(long, allow_negative_numbers = true)]
    pub jump_mean: Option<f64>,
    /// Standard deviation of the log jump size (merton).
    #[arg(long, allow_negative_numbers = true)]
    pub jump_vol: Option<f64>,
    /// Output format on stdout.
    #[arg(long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
}

/// A flag's value checked against `[min, max]` (each end open or closed).
fn flag(value: Option<f64>, name: &str, min: (f64, bool), max: (f64, bool)) -> Result<f64, Error> {
    let range = format!(
        "{}{}, {}{}",
        if min.1 { "[" } else { "(" },
        min.0,
        max.0,
        if max.1 { "]" } else { ")" }
    );
    let Some(v) = value else {
        return Err(InputError::new(format!("missing --{name} for this model"))
            .source(format!("--{name}"))
            .expected(format!("a number in {range}"))
            .into());
    };
    let above = if min.1 { v >= min.0 } else { v > min.0 };
    let below = if max.1 { v <= max.0 } else { v < max.0 };
    if !(v.is_finite() && above && below) {
        return Err(InputError::new(format!("--{name} {v} is out of range"))
            .source(format!("--{name}"))
            .expected(format!("a number in {range}"))
            .into());
    }
    Ok(v)
}

fn not_for(value: Option<f64>, name: &str, model: &str) -> Result<(), Error> {
    match value {
        Some(_) => Err(InputError::new(format!("--{name} does not apply to --model {model}"))
            .source(format!("--{name}"))
            .expected(match model {
                "black76" => "--forward, --strike, --vol, --t, --rate",
                "bsm" => "--spot, --strike, --vol, --t, --rate, --div",
                _ => "--spot, --strike, --vol, --t, --rate, --div, --jump-intensity, --jump-mean, --jump-vol",
            })
            .into()),
        None => Ok(()),
    }
}

const PRICE_MAX: f64 = 1e12;

pub fn run(args: &PriceArgs) -> CliResult {
    let kind = if args.kind == "call" { OptionKind::Call } else { OptionKind::Put };
    let strike = flag(args.strike, "strike", (0.0, false), (PRICE_MAX, true))?;
    let vol = flag(args.vol, "vol", (0.0, true), (20.0, true))?;
    let t = flag(args.t, "t", (0.0, true), (100.0, true))?;
    let rate = flag(args.rate, "rate", (-1.0, true), (1.0, true))?;
    let model = args.model.as_str();
    let greeks = match model {
        "black76" => {
            not_for(args.spot, "spot", model)?;
            not_for(args.div, "div", model)?;
            for (v, n) in [
                (args.jump_intensity, "jump-intensity"),
                (args.jump_mean, "jump-mean"),
                (args.jump_vol, "jump-vol"),
            ] {
                not_for(v, n, model)?;
            }
            let forward = flag(args.forward, "forward", (0.0, false), (PRICE_MAX, true))?;
            black76_greeks(kind, forward, strike, vol, t, rate)
        }
        _ => {
            not_for(args.forward, "forward", model)?;
            let spot = flag(args.spot, "spot", (0.0, false), (PRICE_MAX, true))?;
            let div = flag(args.div.or(Some(0.0)), "div", (-1.0, true), (1.0, true))?;
            if model == "bsm" {
                for (v, n) in [
                    (args.jump_intensity, "jump-intensity"),
                    (args.jump_mean, "jump-mean"),
                    (args.jump_vol, "jump-vol"),
                ] {
                    not_for(v, n, model)?;
                }
                bsm_greeks(kind, spot, strike, vol, t, rate, div)
            } else {
                let jumps = MertonJumps {
                    intensity: flag(
                        args.jump_intensity,
                        "jump-intensity",
                        (0.0, true),
                        (1e4, true),
                    )?,
                    jump_mean: flag(args.jump_mean, "jump-mean", (-5.0, true), (5.0, true))?,
                    jump_vol: flag(args.jump_vol, "jump-vol", (0.0, true), (5.0, true))?,
                };
                merton_greeks(kind, spot, strike, vol, t, rate, div, jumps)
            }
        }
    };
    let fields = [
        ("price", greeks.price),
        ("delta", greeks.delta),
        ("gamma", greeks.gamma),
        ("vega", greeks.vega),
        ("theta", greeks.theta),
        ("rho", greeks.rho),
    ];
    if fields.iter().any(|(_, v)| !v.is_finite()) {
        return Err(Error::Internal(format!("pricing gave a non-finite figure: {greeks:?}")));
    }
    if args.format == "json" {
        // Written by hand to keep DESIGN.md's field order; each number through serde_json.
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("\"{k}\": {}", serde_json::Value::from(*v)))
            .collect();
        println!("{{{}}}", body.join(", "));
    } else {
        for (k, v) in fields {
            println!("{k:<6}  {v:.10}");
        }
    }
    Ok(())
}
