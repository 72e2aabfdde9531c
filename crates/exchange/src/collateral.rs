//! Collateral assets beside the quote currency: each asset's own exact ledger, its
//! haircut schedule, and the valuation an account's margin counts.
//!
//! Units: an asset's balances are integer micro-units of the asset (1 USDe is 1,000,000);
//! its venue price is quote money per whole unit ([`Money`], so 0.65 is 650,000 quote
//! micro-units). The quote currency stays the journal's money; a collateral asset never
//! turns into quote except by a conversion, which the journal records as two transfers
//! (the asset from the account to the venue's collateral desk, quote from the desk to the
//! account), so each ledger conserves on its own:
//! sum(holders) + desk = deposits - withdrawals, per asset, exactly.
//!
//! Valuation: value = floor(units x price / 10^6); the haircut is piecewise over that value
//! (each band's part of the value times its rate, summed, so the haircut is continuous in
//! the value), and the counted value is value - ceil(haircut). Both roundings are in the
//! exchange's favour: the value rounds down and the haircut up. A conversion pays
//! floor(units x price x (1 - discount) / 10^6), again down.
//!
//! Rates (haircuts, the liquidation discount) are taken to 12 decimals, as the exchange's
//! fee and margin rates are, so the arithmetic is exact integers over i128.
//!
//! Storage is sparse: an asset keeps a map from the accounts that hold it to their
//! balance, so a run without collateral carries nothing per account, and a price move of
//! an asset visits its holders only.

use crate::exchange::AccountId;
use liqsim_core::{Error, Money, Result, rate_e12};
use std::collections::BTreeMap;

const SCALE_E12: i128 = 1_000_000_000_000;
const MICROS: i128 = 1_000_000;

/// A collateral asset, by the order it was listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AssetId(pub u16);

/// One band of a haircut schedule: the rate charged on the part of the value up to
/// `up_to` (the last band has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HaircutBand {
    pub up_to: Option<Money>,
    pub rate: f64,
}

/// A piecewise haircut over the collateral's value, bands in increasing order.
#[derive(Debug, Clone, PartialEq)]
pub struct Haircuts {
    /// (upper edge of the band, rate x 10^12); the last band's edge is `None`.
    bands: Vec<(Option<i64>, i64)>,
}

impl Haircuts {
    /// A schedule from its bands: edges strictly increasing, every rate in [0, 1], only
    /// the last band open-ended. Validation has checked a scenario's already; this
    /// refuses anything else as an internal error.
    pub fn new(bands: &[HaircutBand]) -> Result<Haircuts> {
        let mut out = Vec::with_capacity(bands.len());
        let mut previous = 0i64;
        for (k, b) in bands.iter().enumerate() {
            let last = k + 1 == bands.len();
            if !(0.0..=1.0).contains(&b.rate) || b.up_to.is_none() != last {
                return Err(Error::Internal(format!("haircut band {k}: {b:?}")));
            }
            if let Some(edge) = b.up_to {
                if edge.micros() <= previous {
                    return Err(Error::Internal(format!("haircut band {k} edge not increasing")));
                }
                previous = edge.micros();
            }
            out.push((b.up_to.map(Money::micros), rate_e12(b.rate)?));
        }
        if out.is_empty() {
            return Err(Error::Internal("a haircut schedule needs a band".into()));
        }
        Ok(Haircuts { bands: out })
    }

    /// One rate on every value.
    pub fn flat(rate: f64) -> Result<Haircuts> {
        Haircuts::new(&[HaircutBand { up_to: None, rate }])
    }

    /// The haircut on `value` (rounded up), never more than the value.
    pub fn haircut(&self, value: Money) -> Result<Money> {
        let v = i128::from(value.micros().max(0));
        let (mut below, mut sum) = (0i128, 0i128);
        for &(edge, rate) in &self.bands {
            let top = edge.map_or(v, |e| v.min(i128::from(e)));
            if top > below {
                sum += (top - below) * i128::from(rate);
            }
            below = below.max(top);
            if below >= v {
                break;
            }
        }
        let cut = (sum + SCALE_E12 - 1) / SCALE_E12;
        i64::try_from(cut).map(Money::from_micros).map_err(|_| Error::overflow("haircut"))
    }
}

/// A collateral asset as a venue lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollateralConfig {
    pub name: String,
    pub haircuts: Haircuts,
    /// Share of the marked value given up when a liquidated account's holding is
    /// converted to quote.
    pub liquidation_discount: f64,
}

/// floor(units x price / 10^6) through i128: an asset holding's raw value in quote.
pub fn value_of(units: i64, price: Money) -> Result<Money> {
    let v = i128::from(units) * i128::from(price.micros());
    let v = v.div_euclid(MICROS);
    i64::try_from(v).map(Money::from_micros).map_err(|_| Error::overflow("collateral value"))
}

/// What a conversion at `price` less `discount` pays for `units`, rounded down.
pub fn conversion_proceeds(units: i64, price: Money, discount: f64) -> Result<Money> {
    let keep = SCALE_E12 - i128::from(rate_e12(discount)?);
    let v = i128::from(units)
        .checked_mul(i128::from(price.micros()))
        .and_then(|v| v.checked_mul(keep))
        .ok_or(Error::overflow("conversion"))?;
    let v = v.div_euclid(MICROS * SCALE_E12);
    i64::try_from(v).map(Money::from_micros).map_err(|_| Error::overflow("conversion"))
}

/// Either side of an asset transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AssetBook {
    Trader(AccountId),
    /// The venue's collateral desk: it buys the collateral of liquidated accounts.
    Desk,
}

/// One asset's ledger: its holders' balances (sparse), the desk's, and the totals that
/// came in and went out.
#[derive(Debug, Clone, Default)]
pub struct AssetLedger {
    holders: BTreeMap<u32, i64>,
    desk: i64,
    deposits: i128,
    withdrawals: i128,
}

impl AssetLedger {
    pub fn balance(&self, book: AssetBook) -> i64 {
        match book {
            AssetBook::Trader(a) => self.holders.get(&a.0).copied().unwrap_or(0),
            AssetBook::Desk => self.desk,
        }
    }

    /// Accounts holding a non-zero balance, by id.
    pub fn holders(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.holders.keys().map(|&a| AccountId(a))
    }

    pub fn holder_count(&self) -> usize {
        self.holders.len()
    }

    pub fn deposits(&self) -> i128 {
        self.deposits
    }

    pub fn withdrawals(&self) -> i128 {
        self.withdrawals
    }

    fn set(&mut self, book: AssetBook, units: i64) {
        match book {
            AssetBook::Trader(a) if units == 0 => {
                self.holders.remove(&a.0);
            }
            AssetBook::Trader(a) => {
                self.holders.insert(a.0, units);
            }
            AssetBook::Desk => self.desk = units,
        }
    }

    pub(crate) fn deposit(&mut self, to: AssetBook, units: i64) -> Result<()> {
        if units < 0 {
            return Err(Error::input(format!("collateral deposit {units} is negative")));
        }
        let new = self.balance(to).checked_add(units).ok_or(Error::overflow("collateral"))?;
        self.deposits =
            self.deposits.checked_add(i128::from(units)).ok_or(Error::overflow("deposits"))?;
        self.set(to, new);
        Ok(())
    }

    pub(crate) fn withdraw(&mut self, from: AssetBook, units: i64) -> Result<()> {
        let held = self.balance(from);
        if units < 0 || units > held {
            return Err(Error::input(format!(
                "collateral withdrawal {units} must be between 0 and the balance {held}"
            )));
        }
        self.withdrawals = self
            .withdrawals
            .checked_add(i128::from(units))
            .ok_or(Error::overflow("withdrawals"))?;
        self.set(from, held - units);
        Ok(())
    }

    /// Moves `units` (never more than `from` holds: an asset balance is never negative).
    pub(crate) fn transfer(&mut self, from: AssetBook, to: AssetBook, units: i64) -> Result<()> {
        let held = self.balance(from);
        if units < 0 || units > held {
            return Err(Error::Internal(format!(
                "asset transfer of {units} from a balance of {held}"
            )));
        }
        let new_to = self.balance(to).checked_add(units).ok_or(Error::overflow("collateral"))?;
        self.set(from, held - units);
        self.set(to, new_to);
        Ok(())
    }

    /// deposits - withdrawals - (holders + desk), in the asset's micro-units.
    pub fn conservation_error(&self) -> i128 {
        let held: i128 =
            self.holders.values().map(|&u| i128::from(u)).sum::<i128>() + i128::from(self.desk);
        self.deposits - self.withdrawals - held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(x: &str) -> Money {
        Money::from_decimal(x).unwrap()
    }

    fn tiers() -> Haircuts {
        Haircuts::new(&[
            HaircutBand { up_to: Some(m("100000")), rate: 0.05 },
            HaircutBand { up_to: Some(m("1000000")), rate: 0.10 },
            HaircutBand { up_to: None, rate: 0.20 },
        ])
        .unwrap()
    }

    #[test]
    fn tiered_haircut_is_piecewise_and_continuous() {
        let h = tiers();
        assert_eq!(h.haircut(m("50000")).unwrap(), m("2500"));
        assert_eq!(h.haircut(m("100000")).unwrap(), m("5000"));
        // 5000 on the first band + 10% of 0.000001 = 0.0000001, rounded up to a micro.
        assert_eq!(h.haircut(m("100000.000001")).unwrap(), m("5000.000001"));
        // 5000 + 90000 + 20% of 500000.
        assert_eq!(h.haircut(m("1500000")).unwrap(), m("195000"));
        assert_eq!(h.haircut(Money::ZERO).unwrap(), Money::ZERO);
    }

    #[test]
    fn value_and_conversion_round_down() {
        // 3.333333 units at 0.65: 2.16666645 -> 2.166666.
        assert_eq!(value_of(3_333_333, m("0.65")).unwrap(), m("2.166666"));
        // Less 2%: 2.123333121 -> 2.123333.
        assert_eq!(conversion_proceeds(3_333_333, m("0.65"), 0.02).unwrap(), m("2.123333"));
    }

    #[test]
    fn bad_schedules_are_refused() {
        let open = HaircutBand { up_to: None, rate: 0.1 };
        assert!(Haircuts::new(&[]).is_err());
        assert!(Haircuts::new(&[open, open]).is_err());
        assert!(Haircuts::new(&[HaircutBand { up_to: None, rate: 1.5 }]).is_err());
        let edge = |x: &str| HaircutBand { up_to: Some(m(x)), rate: 0.1 };
        assert!(Haircuts::new(&[edge("10"), edge("5"), open]).is_err());
    }
}
