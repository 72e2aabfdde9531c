//! What a run reports: the summary figures, the time series and the liquidation log.
//!
//! These are plain data with exact money ([`Money`]) and simulated time; writers (JSON,
//! CSV, HTML) live in liqsim-report and render them without recomputing anything, so a
//! chart and the summary can never disagree.

use crate::cascade::Side;
use liqsim_core::{Money, SimDuration, SimTime};
// Re-exported so that readers of an outcome need not depend on the models crate.
pub use liqsim_models::OptionKind;

/// The outcome of one run of one scenario with one seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub scenario: String,
    /// What prices and money are quoted in (`USD`, `USDT`, ...), for reports.
    pub quote_currency: String,
    pub seed: u64,
    /// Simulated time zero in UTC nanoseconds since 1970-01-01T00:00:00Z, when the run is
    /// dated (a replay, or a scenario with a `start`).
    pub start_utc_ns: Option<u64>,
    /// `es`, `var`, `fixed` or `grid`.
    pub policy: String,
    /// 32 hex digits over fills, liquidations and ledger changes.
    pub digest: String,
    /// Events the kernel processed.
    pub events: u64,
    /// Accounts the liquidation checks examined (margin work): it follows the accounts
    /// whose trigger a price move crosses, not the number of accounts.
    pub accounts_checked: u64,
    pub duration: SimDuration,
    pub liquidations: LiquidationTotals,
    /// Losses beyond liquidated accounts' equity, whoever ended up paying them.
    pub bad_debt: Money,
    pub insurance_fund: FundFigures,
    pub adl: AdlTotals,
    pub socialized_loss: Money,
    pub cascade: CascadeSummary,
    /// Insurance fund never negative and every loss paid.
    pub solvent: bool,
    /// deposits - withdrawals - (balances + fund + fees + bad debt claim); always zero.
    pub conservation_error: Money,
    pub margin: MarginFigures,
    pub open_interest: OpenInterestFigures,
    pub first_liquidation: Option<SimTime>,
    pub first_adl: Option<SimTime>,
    /// First time the fund was empty, or could not pay a loss and ADL took over.
    pub fund_exhausted: Option<SimTime>,
    /// One row per metrics interval.
    pub series: Vec<SeriesRow>,
    /// One row per liquidation, in event order.
    pub liquidation_log: Vec<LiquidationRow>,
    /// Scheduled shock windows, for shading charts.
    pub shocks: Vec<ShockWindow>,
    /// Leveraged traders by the leverage they held (notional / equity when they last
    /// opened, which initial margin may have cut below their target): how many opened a
    /// position and how many of those were liquidated, per side.
    pub leverage_bands: Vec<LeverageBand>,
    pub options: OptionFigures,
    /// Every option series of the chain in listing order (empty without one), with its
    /// open interest and mark before the stress, when the chain was worth most, and at
    /// the end.
    pub option_series: Vec<OptionSeriesFigures>,
    /// The sample at which the chain's open value (long open interest x mark, summed over
    /// series) was highest: when the option writers owed the most.
    pub option_peak_time: Option<SimTime>,
    /// The replayed market's real traded volume per bar that starts within the run (the
    /// replay file's `quote_volume`, else its `volume`); empty without a replay with
    /// volumes.
    pub replay_volume: Vec<VolumeBar>,
    /// What collateral did, when the run lists collateral assets.
    pub collateral: Option<CollateralFigures>,
}

/// One option series and its state at three samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSeriesFigures {
    pub kind: OptionKind,
    pub strike: f64,
    pub expiry: SimTime,
    /// At the last sample before the first shock (the first sample without a shock): what
    /// the writers had sold going into the stress.
    pub pre_stress: SeriesState,
    /// At [`Outcome::option_peak_time`].
    pub peak: SeriesState,
    /// At the last sample.
    pub end: SeriesState,
}

/// A series' long open interest (base units) and mark (quote units per base unit).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeriesState {
    pub open_interest: f64,
    pub mark: f64,
}

impl SeriesState {
    /// What the open long positions are worth at the mark: what the writers owe.
    pub fn value(&self) -> f64 {
        self.open_interest * self.mark
    }
}

/// A replayed bar's traded volume over `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolumeBar {
    pub start: SimTime,
    pub end: SimTime,
    pub volume: f64,
}

/// Liquidations by what caused them, and the collateral liquidations converted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CollateralFigures {
    /// The collateral assets' names, by asset id.
    pub assets: Vec<String>,
    /// Liquidations found when a collateral price moved, the perpetual's mark unchanged.
    pub liquidations_by_collateral: u64,
    /// Every other liquidation: found at a perpetual price step (or funding, an expiry),
    /// cascades included.
    pub liquidations_by_position: u64,
    /// Bad debt left by the liquidations caused by collateral value.
    pub bad_debt_by_collateral: Money,
    /// Quote the collateral desk paid for liquidated accounts' collateral.
    pub converted: Money,
    /// Each asset's venue price (quote per unit) at every metrics sample, by asset id:
    /// the path the liquidations by collateral followed.
    pub venue_prices: Vec<Vec<(SimTime, Money)>>,
}

/// What the option chain did (all zero without one).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OptionFigures {
    pub series: u64,
    /// Premium notional traded in the option books.
    pub premium_volume: Money,
    /// Intrinsic value paid from shorts to longs at expiries.
    pub settled: Money,
    /// Long open interest over all series at the end, in base units.
    pub open_interest: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeverageBand {
    /// Leverage in [from, to); `to` is infinite for the last band.
    pub from: f64,
    pub to: f64,
    pub long_opened: u64,
    pub long_liquidated: u64,
    pub short_opened: u64,
    pub short_liquidated: u64,
}

/// Band edges of [`Outcome::leverage_bands`].
pub const LEVERAGE_BAND_EDGES: [f64; 6] = [1.0, 5.0, 10.0, 20.0, 50.0, f64::INFINITY];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LiquidationTotals {
    /// Liquidation steps (a partial liquidation in three steps counts three).
    pub count: u64,
    /// Distinct accounts liquidated at least once.
    pub accounts: u64,
    pub notional: Money,
    pub long_count: u64,
    pub long_notional: Money,
    pub short_count: u64,
    pub short_notional: Money,
    /// Implementation shortfall of the perpetual closes: what they fetched against the
    /// mark when each was triggered (a long's sale below it, a short's buy above it, is a
    /// positive cost).
    pub shortfall: Money,
    /// Perpetual notional at those marks that the shortfall is measured on.
    pub shortfall_base: Money,
}

/// Open interest of the perpetual (one side's lots), observed after every price step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OpenInterestFigures {
    /// The last observation before the first scheduled shock (none without a shock): the
    /// book going into the stress.
    pub pre_stress: Option<OpenInterest>,
    pub peak: OpenInterest,
    pub peak_time: SimTime,
    /// The lowest observation after the peak.
    pub trough: OpenInterest,
    pub end: OpenInterest,
}

/// Open interest in base units, and its notional at the mark when observed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OpenInterest {
    pub units: f64,
    pub notional: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FundFigures {
    pub start: Money,
    pub end: Money,
    pub min: Money,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AdlTotals {
    /// Every forced reduction of another account's position to close a liquidated one:
    /// at the bankruptcy price (auto-deleveraging proper, winners give up profit) or at
    /// the mark.
    pub count: u64,
    pub notional: Money,
    /// Of those, the closes at the mark: under `mark_close` while the fund could pay the
    /// loss there, and after the winners were used up.
    pub mark_count: u64,
    pub mark_notional: Money,
    /// Takes by the backstop at bankruptcy prices (notional at those prices).
    pub backstop_count: u64,
    pub backstop_notional: Money,
    /// Takes by the exchange's liquidation engine at bankruptcy prices.
    pub engine_count: u64,
    pub engine_notional: Money,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CascadeSummary {
    pub max_depth: u32,
    /// Liquidated notional over notional liquidated by exogenous moves; `None` when
    /// nothing was liquidated.
    pub amplification: Option<f64>,
    pub waves: u32,
    pub largest: u64,
    /// `(cascade size, number of cascades of that size)`, ascending by size.
    pub size_counts: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MarginFigures {
    /// Time-average over the metrics samples of the total initial margin required.
    pub mean_initial: Money,
    pub peak_initial: Money,
    /// Total initial margin at the last sample before the first shock (or the first
    /// sample when there is none).
    pub pre_stress_initial: Money,
    /// Initial margin per unit of notional of a small perpetual position at the same
    /// sample, and its peak over the run: a constant portfolio's margin, the base of the
    /// procyclicality figure (totals move with the population as much as with the policy).
    pub pre_stress_rate: f64,
    pub peak_rate: f64,
}

/// The state of the market and the exchange at the end of one metrics interval; flows
/// (volume, liquidations, ADL) are totals over the interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SeriesRow {
    pub time: SimTime,
    pub index: f64,
    pub mark: f64,
    pub last: f64,
    /// Best ask - best bid in quote units; `None` when a side is empty.
    pub spread: Option<f64>,
    /// Resting notional within 1% of mid, both sides.
    pub depth_1pct: Money,
    /// In base units.
    pub open_interest: f64,
    pub volume: Money,
    pub liquidations_long: u64,
    pub liquidations_short: u64,
    pub liquidated_notional_long: Money,
    pub liquidated_notional_short: Money,
    /// Liquidated notional in the interval by cascade depth: 0 (exogenous), 1, 2, 3+.
    pub liquidated_by_depth: [Money; 4],
    pub insurance_fund: Money,
    /// The fund's lowest balance at any moment of the interval (a sample at its end can
    /// miss a dip the same interval recovered from).
    pub insurance_fund_low: Money,
    /// Cumulative.
    pub bad_debt: Money,
    /// Cumulative.
    pub adl_notional: Money,
    /// Cumulative.
    pub socialized_loss: Money,
    pub margin_required: Money,
    pub margin_held: Money,
    pub accounts_below_maintenance: u64,
    /// Cumulative loss nobody paid (neither fund, ADL nor socialization).
    pub unpaid_loss: Money,
}

impl SeriesRow {
    /// The exchange at the end of the interval: fund not negative and no unpaid loss.
    pub fn solvent(&self) -> bool {
        !self.insurance_fund.is_negative() && self.unpaid_loss == Money::ZERO
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiquidationRow {
    pub time: SimTime,
    pub account: u32,
    /// Side of the position liquidated.
    pub side: Side,
    /// Base units closed.
    pub quantity: f64,
    pub notional: Money,
    /// Mark price when triggered.
    pub mark: f64,
    /// Of the perpetual position when triggered; NaN for an account holding only options.
    pub bankruptcy_price: f64,
    /// `None` for an exogenous trigger, else the index of the causing liquidation.
    pub caused_by: Option<u32>,
    pub depth: u32,
    /// Part of the loss beyond the account's equity.
    pub bad_debt: Money,
    /// Where the closed perpetual went, base units: the book, the backstop (at the
    /// bankruptcy price), opposing positions at the mark, and by auto-deleveraging.
    pub book: f64,
    pub backstop: f64,
    /// Taken over by the exchange's liquidation engine at the bankruptcy price.
    pub engine: f64,
    pub mark_close: f64,
    pub adl: f64,
    /// Loss shared over accounts in profit for this liquidation's debt.
    pub socialized: Money,
    /// Average price the closed perpetual fetched; NaN when none was closed.
    pub fill_price: f64,
    /// What the closes cost against the mark at the trigger (positive: worse than it).
    pub shortfall: Money,
    /// The agent group owning the account (`None`: the backstop).
    pub group: Option<u32>,
    /// Perpetual notional over equity at the trigger; infinite at or below zero equity.
    pub leverage: f64,
    /// The account was short an option at the trigger (an option writer's liquidation).
    pub short_options: bool,
    /// Found by the collateral pass: a collateral asset's venue price moved and the
    /// holder fell below maintenance at the unchanged mark (always false without
    /// collateral).
    pub by_collateral: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShockWindow {
    pub start: SimTime,
    pub end: SimTime,
    pub kind: ShockKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShockKind {
    Jump,
    Volatility,
    Drought,
}
