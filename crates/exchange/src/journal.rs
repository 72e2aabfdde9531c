//! The journal: the venue's ledger, where every money movement is a transfer between two
//! named accounts with a reason, and an optional digest over the sequence of changes.
//!
//! Named accounts: traders (by [`AccountId`], a `Vec` arena), the insurance fund, fee
//! income, the settlement account and the bad-debt claim. The backstop liquidity provider
//! is an ordinary trader account (it holds positions, so it needs an owner) that the
//! venue's configuration designates.
//!
//! Fills move the full notional from buyer to seller (the exchange's cash model: a
//! position's P&L is its cash plus its quantity at the mark, never a transfer), so no
//! trade passes through the settlement account. It is a pass-through pool: funding and
//! option expiry collect from the payers into it first, then pay the receivers out of
//! it, and leave it at zero (the exchange's checker verifies it; funding's rounding
//! residual goes to fee income). The bad-debt account goes negative by losses nobody
//! paid: an unpaid loss is recorded as a claim and the books still balance.
//!
//! Conservation (checked exactly, [`Journal::conservation_error`]):
//! sum(trader balances) + insurance fund + fee income + settlement + bad-debt claim
//! + collateral desk = deposits - withdrawals.
//!
//! Collateral assets (see `collateral.rs`) keep a ledger each beside the quote money,
//! with their own deposits, withdrawals and conservation
//! ([`Journal::asset_conservation_error`]). A conversion moves the asset from an account
//! to the venue's collateral desk and quote from the desk to the account: the desk's
//! quote balance is minus what it has paid for the collateral it holds. Asset movements
//! are numbered and hashed in the same sequence as quote transfers; a journal without
//! collateral never hashes one, so its digest is what it was before collateral existed.
//!
//! Ordering: transfers are numbered in the order they are made; the digest is FNV-1a
//! (64 bit) over (sequence, from, to, amount, reason) of each transfer in that order, so
//! two runs that move the same money in the same order have the same digest.

use crate::collateral::{AssetBook, AssetId, AssetLedger};
use crate::exchange::AccountId;
use liqsim_core::{Error, Money, Result};

/// Either side of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Book {
    Trader(AccountId),
    InsuranceFund,
    FeeIncome,
    /// The pool funding and option expiry pass through (zero between them).
    Settlement,
    /// Negative by the losses that neither the fund, ADL nor socialization covered.
    BadDebt,
    /// The venue's collateral desk: pays quote for the collateral it takes over.
    CollateralDesk,
}

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    /// The cash leg of a fill or of a position transfer (the kernel's cash model).
    Trade,
    Deposit,
    Withdrawal,
    Fee,
    Funding,
    RealizedPnl,
    LiquidationFee,
    Premium,
    Settlement,
    BadDebtCover,
    Adl,
    SocializedLoss,
    /// A loss nobody could pay, booked against the bad-debt claim.
    UnpaidClaim,
    /// Margin moved between an account and its isolated sub-account.
    MarginTransfer,
    /// The liquidation engine's result, once flat, settled with the fund that funds it.
    EngineSettlement,
    /// Collateral sold to the collateral desk for quote (both legs).
    Conversion,
}

impl Book {
    fn code(self) -> u64 {
        match self {
            Book::Trader(a) => u64::from(a.0),
            Book::InsuranceFund => 1 << 40,
            Book::FeeIncome => 2 << 40,
            Book::Settlement => 3 << 40,
            Book::BadDebt => 4 << 40,
            Book::CollateralDesk => 5 << 40,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Journal {
    traders: Vec<Money>,
    fund: Money,
    fees: Money,
    settlement: Money,
    bad_debt: Money,
    desk: Money,
    /// One ledger per collateral asset, by [`AssetId`]; empty without collateral.
    assets: Vec<AssetLedger>,
    /// Totals over every account, in micro-units: a thousand accounts of the largest
    /// deposit already pass i64, while each balance stays within it.
    deposits: i128,
    withdrawals: i128,
    transfers: u64,
    digest: Option<u64>,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Journal {
    /// A journal; `with_digest` turns the running hash on.
    pub fn new(with_digest: bool) -> Journal {
        Journal { digest: with_digest.then_some(FNV_OFFSET), ..Default::default() }
    }

    pub fn add_trader(&mut self) -> Result<AccountId> {
        let id = u32::try_from(self.traders.len()).map_err(|_| Error::overflow("accounts"))?;
        self.traders.push(Money::ZERO);
        Ok(AccountId(id))
    }

    pub fn traders(&self) -> usize {
        self.traders.len()
    }

    pub fn balance(&self, book: Book) -> Money {
        match book {
            Book::Trader(a) => self.traders.get(a.0 as usize).copied().unwrap_or(Money::ZERO),
            Book::InsuranceFund => self.fund,
            Book::FeeIncome => self.fees,
            Book::Settlement => self.settlement,
            Book::BadDebt => self.bad_debt,
            Book::CollateralDesk => self.desk,
        }
    }

    fn slot(&mut self, book: Book) -> Result<&mut Money> {
        match book {
            Book::Trader(a) => self
                .traders
                .get_mut(a.0 as usize)
                .ok_or_else(|| Error::Internal(format!("no account {}", a.0))),
            Book::InsuranceFund => Ok(&mut self.fund),
            Book::FeeIncome => Ok(&mut self.fees),
            Book::Settlement => Ok(&mut self.settlement),
            Book::BadDebt => Ok(&mut self.bad_debt),
            Book::CollateralDesk => Ok(&mut self.desk),
        }
    }

    fn hash(&mut self, words: [u64; 5]) {
        if let Some(h) = self.digest.as_mut() {
            for w in words {
                for byte in w.to_le_bytes() {
                    *h ^= u64::from(byte);
                    *h = h.wrapping_mul(FNV_PRIME);
                }
            }
        }
    }

    /// Money entering from outside (a deposit, the fund's initial capital).
    pub fn deposit(&mut self, to: Book, amount: Money) -> Result<()> {
        if amount.is_negative() {
            return Err(Error::input(format!("deposit {amount} is negative")));
        }
        let slot = self.slot(to)?;
        *slot = slot.checked_add(amount)?;
        self.deposits = self
            .deposits
            .checked_add(i128::from(amount.micros()))
            .ok_or_else(|| Error::overflow("deposits"))?;
        self.transfers += 1;
        self.hash([self.transfers, u64::MAX, to.code(), amount.micros() as u64, 0]);
        Ok(())
    }

    /// Money leaving to the outside; never more than the balance.
    pub fn withdraw(&mut self, from: Book, amount: Money) -> Result<()> {
        if amount.is_negative() || amount > self.balance(from) {
            return Err(Error::input(format!(
                "withdrawal {amount} exceeds balance {}",
                self.balance(from)
            )));
        }
        let slot = self.slot(from)?;
        *slot = slot.checked_sub(amount)?;
        self.withdrawals = self
            .withdrawals
            .checked_add(i128::from(amount.micros()))
            .ok_or_else(|| Error::overflow("withdrawals"))?;
        self.transfers += 1;
        self.hash([self.transfers, from.code(), u64::MAX, amount.micros() as u64, 1]);
        Ok(())
    }

    /// Moves `amount` from one book to another; a negative amount moves it back. A zero
    /// amount is not recorded.
    pub fn transfer(&mut self, from: Book, to: Book, amount: Money, reason: Reason) -> Result<()> {
        if amount == Money::ZERO || from == to {
            return Ok(());
        }
        // Both slots are checked before either changes, so a failed transfer leaves the
        // journal as it was.
        let new_from = self.balance(from).checked_sub(amount)?;
        let new_to = self.balance(to).checked_add(amount)?;
        self.slot(from)?;
        self.slot(to)?;
        *self.slot(from)? = new_from;
        *self.slot(to)? = new_to;
        self.transfers += 1;
        self.hash([self.transfers, from.code(), to.code(), amount.micros() as u64, reason as u64]);
        Ok(())
    }

    /// Lists a collateral asset with an empty ledger.
    pub fn add_asset(&mut self) -> Result<AssetId> {
        let id = u16::try_from(self.assets.len()).map_err(|_| Error::overflow("assets"))?;
        self.assets.push(AssetLedger::default());
        Ok(AssetId(id))
    }

    pub fn assets(&self) -> usize {
        self.assets.len()
    }

    pub fn asset(&self, asset: AssetId) -> Result<&AssetLedger> {
        self.assets
            .get(usize::from(asset.0))
            .ok_or_else(|| Error::Internal(format!("no asset {}", asset.0)))
    }

    fn asset_mut(&mut self, asset: AssetId) -> Result<&mut AssetLedger> {
        self.assets
            .get_mut(usize::from(asset.0))
            .ok_or_else(|| Error::Internal(format!("no asset {}", asset.0)))
    }

    /// An account's balance of `asset` in its micro-units (zero for an unknown asset).
    pub fn asset_balance(&self, asset: AssetId, book: AssetBook) -> i64 {
        self.assets.get(usize::from(asset.0)).map_or(0, |l| l.balance(book))
    }

    fn hash_asset(&mut self, asset: AssetId, from: u64, to: u64, units: i64, reason: u64) {
        self.transfers += 1;
        // The asset rides above the reason, so no asset movement hashes like a quote one.
        let tag = reason | ((u64::from(asset.0) + 1) << 32);
        self.hash([self.transfers, from, to, units as u64, tag]);
    }

    fn asset_code(book: AssetBook) -> u64 {
        match book {
            AssetBook::Trader(a) => u64::from(a.0),
            AssetBook::Desk => 6 << 40,
        }
    }

    /// Units of `asset` entering from outside.
    pub fn deposit_asset(&mut self, asset: AssetId, to: AssetBook, units: i64) -> Result<()> {
        self.asset_mut(asset)?.deposit(to, units)?;
        self.hash_asset(asset, u64::MAX, Self::asset_code(to), units, 0);
        Ok(())
    }

    /// Units of `asset` leaving to the outside; never more than the balance.
    pub fn withdraw_asset(&mut self, asset: AssetId, from: AssetBook, units: i64) -> Result<()> {
        self.asset_mut(asset)?.withdraw(from, units)?;
        self.hash_asset(asset, Self::asset_code(from), u64::MAX, units, 1);
        Ok(())
    }

    /// Moves `units` of `asset` between two holders (never more than `from` holds); zero
    /// is not recorded.
    pub fn transfer_asset(
        &mut self,
        asset: AssetId,
        from: AssetBook,
        to: AssetBook,
        units: i64,
        reason: Reason,
    ) -> Result<()> {
        if units == 0 || from == to {
            return Ok(());
        }
        self.asset_mut(asset)?.transfer(from, to, units)?;
        self.hash_asset(asset, Self::asset_code(from), Self::asset_code(to), units, reason as u64);
        Ok(())
    }

    /// Sells `units` of `account`'s `asset` to the collateral desk for `proceeds` of
    /// quote: two transfers, each in its own ledger.
    pub fn convert(
        &mut self,
        account: AccountId,
        asset: AssetId,
        units: i64,
        proceeds: Money,
    ) -> Result<()> {
        if proceeds.is_negative() {
            return Err(Error::Internal(format!("conversion proceeds {proceeds}")));
        }
        self.transfer_asset(
            asset,
            AssetBook::Trader(account),
            AssetBook::Desk,
            units,
            Reason::Conversion,
        )?;
        self.transfer(Book::CollateralDesk, Book::Trader(account), proceeds, Reason::Conversion)
    }

    /// deposits - withdrawals - (holders + desk) of `asset`, in its micro-units.
    pub fn asset_conservation_error(&self, asset: AssetId) -> Result<i128> {
        Ok(self.asset(asset)?.conservation_error())
    }

    pub fn transfers(&self) -> u64 {
        self.transfers
    }

    pub fn digest(&self) -> Option<u64> {
        self.digest
    }

    /// Every deposit so far, in micro-units.
    pub fn deposits_micros(&self) -> i128 {
        self.deposits
    }

    /// Every withdrawal so far, in micro-units.
    pub fn withdrawals_micros(&self) -> i128 {
        self.withdrawals
    }

    /// deposits - withdrawals - (every balance); zero unless the journal is broken. The
    /// sum is in i128 (4 billion accounts of i64::MAX fit), so only a broken journal, an
    /// error that no longer fits in money, fails it.
    pub fn conservation_error(&self) -> Result<Money> {
        let held: i128 = self
            .traders
            .iter()
            .chain(&[self.fund, self.fees, self.settlement, self.bad_debt, self.desk])
            .map(|m| i128::from(m.micros()))
            .sum();
        let error = self.deposits - self.withdrawals - held;
        i64::try_from(error)
            .map(Money::from_micros)
            .map_err(|_| Error::Internal(format!("conservation error of {error} micro-units")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn book(i: u8) -> Book {
        match i {
            0 | 1 => Book::Trader(AccountId(u32::from(i))),
            2 => Book::InsuranceFund,
            3 => Book::FeeIncome,
            4 => Book::Settlement,
            5 => Book::CollateralDesk,
            _ => Book::BadDebt,
        }
    }

    #[test]
    fn digest_depends_on_order_and_reason() {
        let run = |swap: bool, reason: Reason| {
            let mut j = Journal::new(true);
            j.add_trader().unwrap();
            j.add_trader().unwrap();
            j.deposit(book(0), Money::from_micros(10)).unwrap();
            let (a, b) = if swap { (3, 2) } else { (2, 3) };
            j.transfer(book(0), book(a), Money::from_micros(1), reason).unwrap();
            j.transfer(book(0), book(b), Money::from_micros(1), reason).unwrap();
            j.digest().unwrap()
        };
        assert_eq!(run(false, Reason::Fee), run(false, Reason::Fee));
        assert_ne!(run(false, Reason::Fee), run(true, Reason::Fee));
        assert_ne!(run(false, Reason::Fee), run(false, Reason::Funding));
        assert_eq!(Journal::new(false).digest(), None);
    }

    #[test]
    fn withdrawal_beyond_balance_is_refused_and_changes_nothing() {
        let mut j = Journal::new(false);
        let a = j.add_trader().unwrap();
        j.deposit(Book::Trader(a), Money::from_micros(5)).unwrap();
        assert!(j.withdraw(Book::Trader(a), Money::from_micros(6)).is_err());
        j.withdraw(Book::Trader(a), Money::from_micros(5)).unwrap();
        assert_eq!(j.balance(Book::Trader(a)), Money::ZERO);
        assert_eq!(j.conservation_error().unwrap(), Money::ZERO);
    }

    #[test]
    fn deposits_beyond_the_i64_range_in_total_are_conserved() {
        let mut j = Journal::new(false);
        let each = Money::from_micros(i64::MAX / 2);
        for _ in 0..5 {
            let a = j.add_trader().unwrap();
            j.deposit(Book::Trader(a), each).unwrap();
        }
        assert_eq!(j.deposits_micros(), 5 * i128::from(i64::MAX / 2));
        j.withdraw(Book::Trader(AccountId(4)), each).unwrap();
        assert_eq!(j.withdrawals_micros(), i128::from(i64::MAX / 2));
        assert_eq!(j.conservation_error().unwrap(), Money::ZERO);
    }

    proptest! {
        #[test]
        fn any_transfers_conserve(ops in prop::collection::vec((0u8..7, 0u8..7, -1_000_000i64..1_000_000), 0..200)) {
            let mut j = Journal::new(true);
            j.add_trader().unwrap();
            j.add_trader().unwrap();
            j.deposit(book(0), Money::from_micros(5_000_000)).unwrap();
            for (a, b, m) in ops {
                j.transfer(book(a), book(b), Money::from_micros(m), Reason::Fee).unwrap();
                prop_assert_eq!(j.conservation_error().unwrap(), Money::ZERO);
            }
        }
    }
}
