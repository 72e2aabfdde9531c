//! liqsim-models: what drives the market and what prices the options.
//!
//! - [`process`]: price processes in log price (GBM, Merton, Kou, SVCJ, GARCH(1,1)-t),
//!   each stepping on any interval from the random stream it is given; parameters per
//!   year or per day ([`RateUnit`], [`ProcessSpec::converted`]), checked by
//!   [`ProcessSpec::validate`].
//! - [`replay`]: a real price history replayed exactly at its bar closes, with a seeded
//!   Brownian bridge inside each bar kept within the bar's high and low.
//! - [`shocks`]: scheduled jumps, volatility windows and liquidity droughts over any
//!   process ([`Shocked`]), and the liquidity factor agents read.
//! - [`options`]: Black-76 and Black-Scholes-Merton prices and Greeks.
//! - [`implied`]: implied volatility (safeguarded Newton in total volatility).
//! - [`jump_option`]: option prices and Greeks under Merton's jump-diffusion.
//! - [`surface`]: an SVI volatility surface whose level follows the volatility state.
//!
//! No file, clock or thread here: replay data arrives as parsed bars. Known limitations:
//! SVCJ is an Euler scheme (biased on coarse steps with a large sigma_v); the replay keeps
//! its bridge inside a bar by clamping, not by conditioning on the range.

pub mod implied;
pub mod jump_option;
pub mod options;
pub mod process;
pub mod replay;
pub mod shocks;
pub mod surface;

pub use implied::{black76_implied_vol, bsm_implied_vol};
pub use jump_option::{MertonJumps, merton_greeks, merton_price};
pub use options::{
    Greeks, OptionKind, black76_greeks, black76_price, bsm_greeks, norm_cdf, norm_pdf,
};
pub use process::{PriceProcess, ProcessSpec, RateUnit};
pub use replay::{Bar, Replay};
pub use shocks::{Shock, Shocked, Shocks};
pub use surface::{OPTION_YEAR_NANOS, PUT_SKEW, SmileShape, SviSlice, VolSurface};
