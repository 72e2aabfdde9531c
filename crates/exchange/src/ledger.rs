//! The ledger: balances of trader accounts and of the exchange's own accounts.
//!
//! Conservation: sum(trader balances) + insurance fund + fee income + funding pool +
//! bad-debt claim = deposits - withdrawals, exactly, after every transfer. The bad-debt
//! account goes negative by the losses nobody paid (a claim, recorded as such), so an
//! unpaid loss still balances the books.

use liqsim_core::{Error, Money, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemAccount {
    InsuranceFund,
    FeeIncome,
    /// Collects funding from payers and pays receivers within one funding event; its
    /// rounding residual goes to fee income.
    FundingPool,
    /// Negative by the losses that neither the fund, ADL nor socialization covered.
    BadDebt,
}

/// Either side of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Trader(u32),
    System(SystemAccount),
}

#[derive(Debug, Clone, Default)]
pub struct Ledger {
    traders: Vec<Money>,
    fund: Money,
    fees: Money,
    funding_pool: Money,
    bad_debt: Money,
    deposits: Money,
    withdrawals: Money,
    transfers: u64,
}

impl Ledger {
    pub fn new(traders: usize) -> Ledger {
        Ledger { traders: vec![Money::ZERO; traders], ..Default::default() }
    }

    pub fn add_trader(&mut self) -> u32 {
        self.traders.push(Money::ZERO);
        (self.traders.len() - 1) as u32
    }

    pub fn traders(&self) -> usize {
        self.traders.len()
    }

    pub fn balance(&self, party: Party) -> Money {
        match party {
            Party::Trader(i) => self.traders[i as usize],
            Party::System(s) => *self.system(s),
        }
    }

    fn system(&self, s: SystemAccount) -> &Money {
        match s {
            SystemAccount::InsuranceFund => &self.fund,
            SystemAccount::FeeIncome => &self.fees,
            SystemAccount::FundingPool => &self.funding_pool,
            SystemAccount::BadDebt => &self.bad_debt,
        }
    }

    fn slot(&mut self, party: Party) -> Result<&mut Money> {
        match party {
            Party::Trader(i) => self
                .traders
                .get_mut(i as usize)
                .ok_or_else(|| Error::Internal(format!("no account {i}"))),
            Party::System(SystemAccount::InsuranceFund) => Ok(&mut self.fund),
            Party::System(SystemAccount::FeeIncome) => Ok(&mut self.fees),
            Party::System(SystemAccount::FundingPool) => Ok(&mut self.funding_pool),
            Party::System(SystemAccount::BadDebt) => Ok(&mut self.bad_debt),
        }
    }

    /// Money entering from outside (a trader's deposit, the fund's initial capital).
    pub fn deposit(&mut self, to: Party, amount: Money) -> Result<()> {
        let slot = self.slot(to)?;
        *slot = slot.checked_add(amount)?;
        self.deposits = self.deposits.checked_add(amount)?;
        Ok(())
    }

    /// Moves `amount` from one party to another; a negative amount moves it back.
    pub fn transfer(&mut self, from: Party, to: Party, amount: Money) -> Result<()> {
        if amount == Money::ZERO || from == to {
            return Ok(());
        }
        let from_slot = self.slot(from)?;
        *from_slot = from_slot.checked_sub(amount)?;
        let to_slot = self.slot(to)?;
        *to_slot = to_slot.checked_add(amount)?;
        self.transfers += 1;
        Ok(())
    }

    pub fn transfers(&self) -> u64 {
        self.transfers
    }

    /// deposits - withdrawals - (every balance); zero unless the ledger is broken.
    pub fn conservation_error(&self) -> Result<Money> {
        let mut held = Money::ZERO;
        for b in &self.traders {
            held = held.checked_add(*b)?;
        }
        for s in [self.fund, self.fees, self.funding_pool, self.bad_debt] {
            held = held.checked_add(s)?;
        }
        self.deposits.checked_sub(self.withdrawals)?.checked_sub(held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_transfers_conserve(ops in prop::collection::vec((0u8..6, 0u8..6, -1_000_000i64..1_000_000), 0..200)) {
            let mut l = Ledger::new(2);
            l.deposit(Party::Trader(0), Money::from_micros(5_000_000)).unwrap();
            l.deposit(Party::System(SystemAccount::InsuranceFund), Money::from_micros(7)).unwrap();
            let party = |i: u8| match i {
                0 | 1 => Party::Trader(u32::from(i)),
                2 => Party::System(SystemAccount::InsuranceFund),
                3 => Party::System(SystemAccount::FeeIncome),
                4 => Party::System(SystemAccount::FundingPool),
                _ => Party::System(SystemAccount::BadDebt),
            };
            for (a, b, m) in ops {
                l.transfer(party(a), party(b), Money::from_micros(m)).unwrap();
                prop_assert_eq!(l.conservation_error().unwrap(), Money::ZERO);
            }
        }
    }
}
