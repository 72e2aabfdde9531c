//! Accounts, fills, margin, funding, triggers and the settlement steps of the waterfall.
//!
//! One perpetual per exchange instance for now: each account holds a signed quantity of
//! lots and a cost basis (the signed notional paid for the open position) used for P&L
//! and ADL ranking, never for the ledger.
//!
//! Rounding: fees are rounded up to the next micro-unit (in the exchange's favour) and
//! rebates down; funding payers pay rounded up and receivers get rounded down, the
//! residual (never negative) goes to fee income; a requirement rounds up. Cost basis on a
//! partial close is scaled down with floor division (P&L display only).
//!
//! Liquidation trigger index: an account's bankruptcy price b (where cash + position x
//! price = 0) does not depend on the margin rate. A long falls below maintenance rate m
//! at price b / (1 - m), a short at b / (1 + m); so longs are kept ordered by b (rounded
//! up) and shorts by b (rounded down), and a mark P needs to look only at longs with
//! b >= P (1 - m_max) and shorts with b <= P (1 + m_max), where m_max is the highest
//! maintenance rate in force. The candidates are then checked exactly. Changing rates
//! (a risk refresh) moves the query threshold, not the index. Funding changes every cash
//! balance and re-keys every account with a position (three times a day).
//!
//! Options: European option series on the same underlying and contract spec, cash-settled
//! on the index. They follow the same cash model (a buy pays the premium notional to the
//! seller; equity counts each series at its mark), and expiry settles intrinsic value
//! through the pool, payers first, which nets to zero exactly because long and short
//! lots are equal. An account holding options leaves the bankruptcy-price index: its
//! requirement is not linear in the price, and the kernel watches it with the margin
//! policy's own bracket instead.
//!
//! Isolated margin: an isolated account is an account of its own with an owner. Margin
//! moves between the two as a journal transfer; the waterfall treats the isolated account
//! like any other, so its liquidation takes what it holds and never the owner's money,
//! and ADL ranks its leverage on its own margin.
//!
//! Socialized loss is shared by every account in profit, perpetual and options (option
//! P&L against the premium paid, kept per holding as a cost basis); ADL closes perpetual
//! positions only, so it ranks by perpetual P&L.
//!
//! Collateral (`collateral.rs`): an account may hold collateral assets beside its quote
//! cash. Its equity counts each at the venue's price less the asset's tiered haircut, so
//! margin checks, order checks, ADL ranking, socialization and the bankruptcy price all
//! see quote cash + haircut collateral value. The bankruptcy price then depends on the
//! collateral's price too: [`Exchange::set_collateral_price`] re-keys every holder of the
//! asset, O(holders) per price move as funding is O(positions); a safe region per account
//! across instruments (issue 23, item 5) is what would remove that pass. A liquidated
//! holder's collateral is converted to quote at the venue's price less the asset's
//! liquidation discount ([`Exchange::convert_collateral`]), standing in for selling it
//! into the collateral's own book, which this version does not model.
//!
//! Known limitations: one perpetual; ADL ranking and socialization are scans (ADL events
//! are rare); free margin counts the perpetual's requirement only (option holders' is
//! the kernel's margin policy).

use crate::collateral::{self, AssetBook, AssetId, CollateralConfig};
use crate::journal::{Book, Journal, Reason};
use crate::totals::IndexTotals;
use liqsim_core::{ContractSpec, Error, Money, Price, Qty, Result, rate_e12};
pub use liqsim_risk::schedule::{Bracket, MarginSchedule, Rates};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdlRanking {
    /// Profit as a share of cost, times effective leverage (notional / equity).
    PnlTimesLeverage,
    Pnl,
    PnlPercent,
}

#[derive(Debug, Clone)]
pub struct ExchangeConfig {
    pub spec: ContractSpec,
    pub maker_fee: f64,
    pub taker_fee: f64,
    pub liquidation_fee: f64,
    pub max_leverage: f64,
    /// Largest |position| of one account, in lots.
    pub max_position: Option<i64>,
    pub adl_ranking: AdlRanking,
}

#[derive(Debug, Clone)]
pub struct Exchange {
    config: ExchangeConfig,
    ledger: Journal,
    qty: Vec<i64>,
    cost: Vec<Money>,
    /// Perpetual P&L realized by closing trades, for reports (not a ledger balance).
    realized: Vec<Money>,
    schedule: MarginSchedule,
    longs: BTreeSet<(i64, u32)>,
    shorts: BTreeSet<(i64, u32)>,
    /// Each indexed account's cash when it was keyed: with its position, which changes
    /// only between [`Exchange::unkey`] and [`Exchange::key_in`], it gives back the key
    /// to remove (8 bytes an account, where a stored key and side took 16).
    keyed_cash: Vec<Money>,
    /// Sums over the indexed accounts for the margin totals of the time series.
    index_totals: IndexTotals,
    long_open_interest: i64,
    option_marks: Vec<Price>,
    option_long_interest: Vec<i64>,
    holdings: Holdings,
    option_holders: BTreeSet<u32>,
    /// The owner of each isolated-margin account.
    /// Few accounts are isolated: a map, not a slot per account.
    parents: BTreeMap<u32, AccountId>,
    /// The exchange's own liquidation engine, if it runs one.
    engine: Option<Engine>,
    /// Collateral assets by [`AssetId`] with their venue prices; empty without collateral.
    collateral: Vec<Collateral>,
    /// Holders of an asset whose price moved, re-keyed one by one (kept between moves).
    scratch: Vec<AccountId>,
}

#[derive(Debug, Clone)]
struct Collateral {
    config: CollateralConfig,
    /// Quote per whole unit of the asset on the venue.
    price: Money,
}

/// The exchange's liquidation engine: an account that takes over at the bankruptcy price
/// what the book cannot, holds it and works it off. It is never liquidated, deleveraged
/// or socialized against. Funded by the insurance fund, it can carry as much as the fund
/// plus its own equity covers at initial margin, and its result, once it is flat, is the
/// fund's; as a vault, its own deposit is its capital and its result stays in it.
/// What an account taking over a position must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Room {
    /// Initial margin, inside the venue's position and leverage caps (a backstop).
    Initial,
    /// Maintenance margin (a vault engine).
    Maintenance,
    /// Equity not below zero (an engine the fund funds).
    Solvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Engine {
    pub account: AccountId,
    pub funded_by_fund: bool,
}

/// A flat account's debt and who paid it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DebtSettlement {
    pub debt: Money,
    pub fund_paid: Money,
    pub socialized: Money,
    pub unpaid: Money,
}

/// A position in one option series, in lots (positive long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionHolding {
    pub series: u16,
    pub qty: i64,
    /// Premium paid for the open lots (negative: received), scaled down in proportion
    /// on a partial close, as the perpetual's cost basis is.
    pub cost: Money,
}

/// Each account's option positions. Few accounts hold options, so an account holds a
/// 4-byte slot number, not a vector of its own (24 bytes, 240 MB over ten million
/// accounts); a slot is held only while its list is not empty, and an emptied list keeps
/// its buffer for the next holder.
#[derive(Debug, Clone, Default)]
struct Holdings {
    slot: Vec<u32>,
    lists: Vec<Vec<OptionHolding>>,
    free: Vec<u32>,
}

impl Holdings {
    const NONE: u32 = u32::MAX;

    fn open_account(&mut self) {
        self.slot.push(Self::NONE);
    }

    fn get(&self, i: usize) -> &[OptionHolding] {
        match self.slot[i] {
            Self::NONE => &[],
            s => &self.lists[s as usize],
        }
    }

    fn is_empty(&self, i: usize) -> bool {
        self.slot[i] == Self::NONE
    }

    /// The account's list, given a slot first if it has none (then it is empty).
    fn list_mut(&mut self, i: usize) -> &mut Vec<OptionHolding> {
        if self.slot[i] == Self::NONE {
            self.slot[i] = match self.free.pop() {
                Some(s) => s,
                None => {
                    self.lists.push(Vec::new());
                    (self.lists.len() - 1) as u32
                }
            };
        }
        &mut self.lists[self.slot[i] as usize]
    }

    /// Gives the slot back once the account holds no option.
    fn release_if_empty(&mut self, i: usize) {
        let s = self.slot[i];
        if s != Self::NONE && self.lists[s as usize].is_empty() {
            self.slot[i] = Self::NONE;
            self.free.push(s);
        }
    }
}

impl Exchange {
    pub fn new(config: ExchangeConfig, schedule: MarginSchedule) -> Exchange {
        Exchange {
            config,
            ledger: Journal::new(true),
            qty: Vec::new(),
            cost: Vec::new(),
            realized: Vec::new(),
            schedule,
            longs: BTreeSet::new(),
            shorts: BTreeSet::new(),
            keyed_cash: Vec::new(),
            index_totals: IndexTotals::default(),
            long_open_interest: 0,
            option_marks: Vec::new(),
            option_long_interest: Vec::new(),
            holdings: Holdings::default(),
            option_holders: BTreeSet::new(),
            parents: BTreeMap::new(),
            engine: None,
            collateral: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// Lists a collateral asset at venue price `price` (quote per whole unit).
    pub fn add_collateral(&mut self, config: CollateralConfig, price: Money) -> Result<AssetId> {
        if price.is_negative() {
            return Err(Error::Internal(format!("collateral price {price}")));
        }
        let id = self.ledger.add_asset()?;
        self.collateral.push(Collateral { config, price });
        Ok(id)
    }

    pub fn collateral_assets(&self) -> usize {
        self.collateral.len()
    }

    pub fn collateral_config(&self, asset: AssetId) -> &CollateralConfig {
        &self.collateral[usize::from(asset.0)].config
    }

    pub fn collateral_price(&self, asset: AssetId) -> Money {
        self.collateral[usize::from(asset.0)].price
    }

    /// `a`'s balance of `asset` in the asset's micro-units.
    pub fn collateral_units(&self, a: AccountId, asset: AssetId) -> i64 {
        self.ledger.asset_balance(asset, AssetBook::Trader(a))
    }

    /// Units of `asset` deposited into `a` from outside.
    pub fn deposit_collateral(&mut self, a: AccountId, asset: AssetId, units: i64) -> Result<()> {
        self.index(a)?;
        self.ledger.deposit_asset(asset, AssetBook::Trader(a), units)?;
        self.rekey(a)
    }

    /// Moves the venue price of `asset` and re-keys its holders in the trigger index
    /// (their bankruptcy prices moved with it). Returns the holders, by id, for the
    /// caller's exact checks; they stay valid until the next call.
    pub fn set_collateral_price(&mut self, asset: AssetId, price: Money) -> Result<&[AccountId]> {
        if price.is_negative() {
            return Err(Error::Internal(format!("collateral price {price}")));
        }
        self.collateral[usize::from(asset.0)].price = price;
        let mut holders = std::mem::take(&mut self.scratch);
        holders.clear();
        holders.extend(self.ledger.asset(asset)?.holders());
        for &a in &holders {
            self.rekey(a)?;
        }
        self.scratch = holders;
        Ok(&self.scratch)
    }

    /// The accounts holding `asset`, by id.
    pub fn collateral_holders(
        &self,
        asset: AssetId,
    ) -> Result<impl Iterator<Item = AccountId> + '_> {
        Ok(self.ledger.asset(asset)?.holders())
    }

    /// Whether `a` holds any collateral asset.
    pub fn holds_collateral(&self, a: AccountId) -> bool {
        (0..self.collateral.len())
            .any(|k| self.ledger.asset_balance(AssetId(k as u16), AssetBook::Trader(a)) != 0)
    }

    /// `a`'s collateral at the venue's prices less each asset's tiered haircut (see
    /// `collateral.rs` for the roundings); zero without collateral.
    pub fn collateral_value(&self, a: AccountId) -> Result<Money> {
        let mut total = Money::ZERO;
        for (k, c) in self.collateral.iter().enumerate() {
            let units = self.ledger.asset_balance(AssetId(k as u16), AssetBook::Trader(a));
            if units == 0 {
                continue;
            }
            let value = collateral::value_of(units, c.price)?;
            let counted = value.checked_sub(c.config.haircuts.haircut(value)?)?;
            total = total.checked_add(counted)?;
        }
        Ok(total)
    }

    /// Converts all of `a`'s collateral to quote at the venue's price less each asset's
    /// liquidation discount, through the collateral desk (two transfers per asset).
    /// Returns the quote paid. Selling into each collateral's own book is a later step;
    /// the discount stands in for its price impact.
    pub fn convert_collateral(&mut self, a: AccountId) -> Result<Money> {
        let (mut paid, mut converted_any) = (Money::ZERO, false);
        for k in 0..self.collateral.len() {
            let asset = AssetId(k as u16);
            let units = self.ledger.asset_balance(asset, AssetBook::Trader(a));
            if units == 0 {
                continue;
            }
            let c = &self.collateral[k];
            let proceeds =
                collateral::conversion_proceeds(units, c.price, c.config.liquidation_discount)?;
            self.ledger.convert(a, asset, units, proceeds)?;
            paid = paid.checked_add(proceeds)?;
            converted_any = true;
        }
        // Even a conversion that paid nothing (a value the discount rounds to zero) took
        // counted value out of the account's keyed cash.
        if converted_any {
            self.rekey(a)?;
        }
        Ok(paid)
    }

    /// The quote cash of the collateral desk: minus what it has paid for the collateral
    /// it holds.
    pub fn collateral_desk(&self) -> Money {
        self.ledger.balance(Book::CollateralDesk)
    }

    /// Haircut collateral value, skipped entirely when no asset is listed.
    fn collateral_or_zero(&self, a: AccountId) -> Result<Money> {
        if self.collateral.is_empty() { Ok(Money::ZERO) } else { self.collateral_value(a) }
    }

    /// Lists an option series priced at `mark`; returns its index.
    pub fn add_series(&mut self, mark: Price) -> Result<u16> {
        let id = u16::try_from(self.option_marks.len()).map_err(|_| Error::overflow("series"))?;
        self.option_marks.push(mark);
        self.option_long_interest.push(0);
        Ok(id)
    }

    pub fn series(&self) -> usize {
        self.option_marks.len()
    }

    pub fn set_option_mark(&mut self, series: u16, mark: Price) {
        self.option_marks[usize::from(series)] = mark;
    }

    pub fn option_mark(&self, series: u16) -> Price {
        self.option_marks[usize::from(series)]
    }

    pub fn holdings(&self, a: AccountId) -> &[OptionHolding] {
        self.holdings.get(a.0 as usize)
    }

    pub fn option_position(&self, a: AccountId, series: u16) -> i64 {
        self.holdings.get(a.0 as usize).iter().find(|h| h.series == series).map_or(0, |h| h.qty)
    }

    /// Accounts holding any option, by id.
    pub fn option_holders(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.option_holders.iter().map(|&a| AccountId(a))
    }

    pub fn option_holder_count(&self) -> usize {
        self.option_holders.len()
    }

    /// Long open interest of a series in lots.
    pub fn option_open_interest(&self, series: u16) -> i64 {
        self.option_long_interest[usize::from(series)]
    }

    /// No perpetual and no option position.
    pub fn is_flat(&self, a: AccountId) -> bool {
        self.qty[a.0 as usize] == 0 && self.holdings.is_empty(a.0 as usize)
    }

    /// The account's options at their marks (negative for shorts).
    pub fn option_value(&self, a: AccountId) -> Result<Money> {
        let mut v = Money::ZERO;
        for h in self.holdings.get(a.0 as usize) {
            let mark = self.option_marks[usize::from(h.series)];
            v = v.checked_add(self.config.spec.notional(mark, Qty::from_lots(h.qty))?)?;
        }
        Ok(v)
    }

    /// Option value at the marks minus the premium paid for it.
    pub fn option_unrealized(&self, a: AccountId) -> Result<Money> {
        let mut cost = Money::ZERO;
        for h in self.holdings.get(a.0 as usize) {
            cost = cost.checked_add(h.cost)?;
        }
        self.option_value(a)?.checked_sub(cost)
    }

    /// Settles an option fill: the buyer pays the premium notional to the seller, both
    /// pay their fee on it. Returns (buyer fee, seller fee).
    pub fn apply_option_fill(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        series: u16,
        price: Price,
        qty: Qty,
        buyer_is_taker: bool,
    ) -> Result<(Money, Money)> {
        let notional = self.config.spec.notional(price, qty)?;
        let fees =
            self.pay_trade(buyer, seller, notional, buyer_is_taker, self.config.taker_fee)?;
        self.trade_option(buyer, series, qty.lots(), notional)?;
        self.trade_option(seller, series, -qty.lots(), notional.checked_neg()?)?;
        Ok(fees)
    }

    /// A transfer of an option position at `price` with no fee (liquidation remainder).
    pub fn transfer_option(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        series: u16,
        price: Price,
        qty: Qty,
    ) -> Result<()> {
        let notional = self.config.spec.notional(price, qty)?;
        self.ledger.transfer(Book::Trader(buyer), Book::Trader(seller), notional, Reason::Trade)?;
        self.trade_option(buyer, series, qty.lots(), notional)?;
        self.trade_option(seller, series, -qty.lots(), notional.checked_neg()?)
    }

    fn trade_option(
        &mut self,
        a: AccountId,
        series: u16,
        delta: i64,
        signed_notional: Money,
    ) -> Result<()> {
        let i = a.0 as usize;
        self.unkey(i);
        let hs = self.holdings.list_mut(i);
        let k = match hs.iter().position(|h| h.series == series) {
            Some(k) => k,
            None => {
                hs.push(OptionHolding { series, qty: 0, cost: Money::ZERO });
                hs.len() - 1
            }
        };
        let old = hs[k].qty;
        let new = old.checked_add(delta).ok_or(Error::overflow("option position"))?;
        if new == 0 {
            hs.swap_remove(k);
        } else {
            hs[k].cost = if old == 0 || old.signum() == delta.signum() {
                hs[k].cost.checked_add(signed_notional)?
            } else if new.signum() == old.signum() {
                hs[k].cost.mul_div_floor(new, old)?
            } else {
                signed_notional.mul_div_floor(new, delta)?
            };
            hs[k].qty = new;
        }
        self.option_long_interest[usize::from(series)] += new.max(0) - old.max(0);
        self.holdings.release_if_empty(i);
        if self.holdings.is_empty(i) {
            self.option_holders.remove(&a.0);
        } else {
            self.option_holders.insert(a.0);
        }
        self.key_in(i)
    }

    /// Cash-settles `series` at `intrinsic` (its payoff per unit, in ticks): shorts pay
    /// qty x intrinsic into the pool, then longs are paid from it; every position in the
    /// series is closed. Returns the accounts that held it, by id.
    pub fn expire(&mut self, series: u16, intrinsic: Price) -> Result<Vec<AccountId>> {
        let holders: Vec<AccountId> = self
            .option_holders
            .iter()
            .map(|&a| AccountId(a))
            .filter(|&a| self.option_position(a, series) != 0)
            .collect();
        let pool = Book::Settlement;
        for payer_pass in [true, false] {
            for &a in &holders {
                let q = self.option_position(a, series);
                if (q < 0) != payer_pass {
                    continue;
                }
                let amount = self.config.spec.notional(intrinsic, Qty::from_lots(q.abs()))?;
                if payer_pass {
                    self.ledger.transfer(Book::Trader(a), pool, amount, Reason::Settlement)?;
                } else {
                    self.ledger.transfer(pool, Book::Trader(a), amount, Reason::Settlement)?;
                }
            }
        }
        for &a in &holders {
            let q = self.option_position(a, series);
            let value = self.config.spec.notional(intrinsic, Qty::from_lots(-q))?;
            self.trade_option(a, series, -q, value)?;
        }
        if self.option_long_interest[usize::from(series)] != 0
            || self.ledger.balance(pool) != Money::ZERO
        {
            return Err(Error::Internal(format!("series {series}: settlement did not net")));
        }
        Ok(holders)
    }

    pub fn spec(&self) -> &ContractSpec {
        &self.config.spec
    }

    pub fn config(&self) -> &ExchangeConfig {
        &self.config
    }

    pub fn ledger(&self) -> &Journal {
        &self.ledger
    }

    pub fn set_schedule(&mut self, schedule: MarginSchedule) {
        self.schedule = schedule;
    }

    pub fn accounts(&self) -> usize {
        self.qty.len()
    }

    pub fn open_account(&mut self, deposit: Money) -> Result<AccountId> {
        let id = self.ledger.add_trader()?;
        self.qty.push(0);
        self.cost.push(Money::ZERO);
        self.realized.push(Money::ZERO);
        self.keyed_cash.push(Money::ZERO);
        self.holdings.open_account();
        self.ledger.deposit(Book::Trader(id), deposit)?;
        Ok(id)
    }

    /// Opens an isolated-margin account of `parent` holding `margin` moved from the
    /// parent: a position there is margined by that money alone, so its liquidation can
    /// take no more than it holds and the parent's other money is out of its reach (and
    /// out of its help). Returns the new account.
    pub fn open_isolated(&mut self, parent: AccountId, margin: Money) -> Result<AccountId> {
        self.index(parent)?;
        if self.parents.contains_key(&parent.0) {
            return Err(Error::input(format!(
                "account {} is isolated and cannot own another isolated account",
                parent.0
            )));
        }
        if margin.is_negative() || margin > self.cash(parent) {
            return Err(Error::input(format!(
                "isolated margin {margin} must be between 0 and account {}'s cash {}",
                parent.0,
                self.cash(parent)
            )));
        }
        let id = self.open_account(Money::ZERO)?;
        self.parents.insert(id.0, parent);
        self.move_margin(parent, id, margin)?;
        Ok(id)
    }

    /// Moves margin between two accounts; both bankruptcy prices move with it.
    fn move_margin(&mut self, from: AccountId, to: AccountId, amount: Money) -> Result<()> {
        self.ledger.transfer(
            Book::Trader(from),
            Book::Trader(to),
            amount,
            Reason::MarginTransfer,
        )?;
        self.rekey(from)?;
        self.rekey(to)
    }

    /// The owner of an isolated-margin account.
    pub fn parent(&self, a: AccountId) -> Option<AccountId> {
        self.parents.get(&a.0).copied()
    }

    /// What `a` can give up at `mark` and still meet its initial requirement: equity
    /// minus initial margin, never below zero.
    pub fn free_margin(&self, a: AccountId, mark: Price) -> Result<Money> {
        let equity = self.equity(a, mark)?;
        Ok(equity.checked_sub(self.requirement(a, mark, false)?)?.max(Money::ZERO))
    }

    /// Moves up to `amount` between an isolated account and its owner: positive adds
    /// from the owner (at most its free margin), negative returns to it (at most the
    /// isolated account's free margin). Returns the amount moved, signed the same way.
    pub fn move_isolated_margin(
        &mut self,
        a: AccountId,
        amount: Money,
        mark: Price,
    ) -> Result<Money> {
        let parent = self
            .parent(a)
            .ok_or_else(|| Error::input(format!("account {} is not isolated", a.0)))?;
        let (from, to, want) = if amount.is_negative() {
            (a, parent, amount.checked_neg()?)
        } else {
            (parent, a, amount)
        };
        let moved = want.min(self.free_margin(from, mark)?);
        self.move_margin(from, to, moved)?;
        if amount.is_negative() { moved.checked_neg() } else { Ok(moved) }
    }

    /// Takes `amount` out of the exchange from `a`, refused beyond its free margin.
    pub fn withdraw(&mut self, a: AccountId, amount: Money, mark: Price) -> Result<()> {
        let free = self.free_margin(a, mark)?;
        if amount.is_negative() || amount > free {
            return Err(Error::input(format!(
                "withdrawal {amount} from account {} must be between 0 and its free margin {free}",
                a.0
            )));
        }
        self.ledger.withdraw(Book::Trader(a), amount)?;
        self.rekey(a)
    }

    fn index(&self, a: AccountId) -> Result<usize> {
        let i = a.0 as usize;
        if i < self.qty.len() { Ok(i) } else { Err(Error::input(format!("no account {}", a.0))) }
    }

    pub fn deposit(&mut self, a: AccountId, amount: Money) -> Result<()> {
        self.ledger.deposit(Book::Trader(a), amount)?;
        self.rekey(a)
    }

    pub fn fund_deposit(&mut self, amount: Money) -> Result<()> {
        self.ledger.deposit(Book::InsuranceFund, amount)
    }

    pub fn insurance_fund(&self) -> Money {
        self.ledger.balance(Book::InsuranceFund)
    }

    pub fn cash(&self, a: AccountId) -> Money {
        self.ledger.balance(Book::Trader(a))
    }

    pub fn position(&self, a: AccountId) -> Qty {
        Qty::from_lots(self.qty[a.0 as usize])
    }

    /// Long open interest in lots (equal to short open interest).
    pub fn open_interest(&self) -> Qty {
        Qty::from_lots(self.long_open_interest)
    }

    /// cash + position x mark + options at their marks + haircut collateral value.
    pub fn equity(&self, a: AccountId, mark: Price) -> Result<Money> {
        let value = self.config.spec.notional(mark, self.position(a))?;
        let equity = self.cash(a).checked_add(value)?.checked_add(self.collateral_or_zero(a)?)?;
        if self.holdings.is_empty(a.0 as usize) {
            return Ok(equity);
        }
        equity.checked_add(self.option_value(a)?)
    }

    pub fn notional(&self, a: AccountId, mark: Price) -> Result<Money> {
        self.config.spec.notional(mark, self.position(a).abs())
    }

    pub fn requirement(&self, a: AccountId, mark: Price, maintenance: bool) -> Result<Money> {
        let q = self.qty[a.0 as usize];
        if q == 0 {
            return Ok(Money::ZERO);
        }
        self.schedule.requirement(self.notional(a, mark)?, q > 0, maintenance)
    }

    /// Perpetual P&L realized so far by closing trades (before fees and funding).
    pub fn realized_pnl(&self, a: AccountId) -> Money {
        self.realized[a.0 as usize]
    }

    /// Average entry price of the open perpetual position (cost basis / size).
    pub fn average_entry(&self, a: AccountId) -> Option<f64> {
        let q = self.qty[a.0 as usize];
        (q != 0).then(|| {
            self.cost[a.0 as usize].to_f64() / self.config.spec.qty_to_f64(Qty::from_lots(q))
        })
    }

    /// Unrealized P&L at `mark`: position value minus cost basis.
    pub fn unrealized(&self, a: AccountId, mark: Price) -> Result<Money> {
        self.config.spec.notional(mark, self.position(a))?.checked_sub(self.cost[a.0 as usize])
    }

    pub fn is_liquidatable(&self, a: AccountId, mark: Price) -> Result<bool> {
        if self.qty[a.0 as usize] == 0 {
            return Ok(false);
        }
        Ok(self.equity(a, mark)? < self.requirement(a, mark, true)?)
    }

    /// Whether `a` may hold `new_qty` at `mark`: within the position limit, equity covers
    /// the initial requirement and leverage stays under the venue cap. Reducing a position
    /// is always allowed.
    pub fn allows(&self, a: AccountId, new_qty: Qty, mark: Price) -> Result<bool> {
        let old = self.qty[a.0 as usize];
        let new = new_qty.lots();
        if new.abs() <= old.abs() && new.signum() * old.signum() >= 0 {
            return Ok(true);
        }
        if self.config.max_position.is_some_and(|max| new.abs() > max) {
            return Ok(false);
        }
        let equity = self.equity(a, mark)?;
        let notional = self.config.spec.notional(mark, Qty::from_lots(new.abs()))?;
        let required = self.schedule.requirement(notional, new > 0, false)?;
        Ok(equity >= required && notional.to_f64() <= equity.to_f64() * self.config.max_leverage)
    }

    /// The most of `lots` that `a` can take on at `price` (buying when `buy`) and still
    /// meet its initial requirement at `mark`, within the position and leverage limits:
    /// what a backstop can absorb. Reductions always fit.
    pub fn capacity(
        &self,
        a: AccountId,
        buy: bool,
        lots: i64,
        price: Price,
        mark: Price,
    ) -> Result<i64> {
        self.capacity_with(a, Room::Initial, Money::ZERO, buy, lots, price, mark)
    }

    /// [`Exchange::capacity`] under `room`, with `extra` capital counted beside the
    /// account's equity.
    #[allow(clippy::too_many_arguments)]
    fn capacity_with(
        &self,
        a: AccountId,
        room: Room,
        extra: Money,
        buy: bool,
        lots: i64,
        price: Price,
        mark: Price,
    ) -> Result<i64> {
        let old = self.qty[a.0 as usize];
        let spec = self.config.spec;
        let options =
            if self.holdings.is_empty(a.0 as usize) { Money::ZERO } else { self.option_value(a)? };
        let options = options.checked_add(self.collateral_or_zero(a)?)?;
        let fits = |n: i64| -> Result<bool> {
            let new = if buy { old + n } else { old - n };
            if new.abs() <= old.abs() && new.signum() * old.signum() >= 0 {
                return Ok(true);
            }
            if room == Room::Initial && self.config.max_position.is_some_and(|max| new.abs() > max)
            {
                return Ok(false);
            }
            let paid = spec.notional(price, Qty::from_lots(new - old))?;
            let equity = self
                .cash(a)
                .checked_sub(paid)?
                .checked_add(spec.notional(mark, Qty::from_lots(new))?)?
                .checked_add(options)?
                .checked_add(extra)?;
            let notional = spec.notional(mark, Qty::from_lots(new.abs()))?;
            Ok(match room {
                Room::Initial => {
                    equity >= self.schedule.requirement(notional, new > 0, false)?
                        && notional.to_f64() <= equity.to_f64() * self.config.max_leverage
                }
                Room::Maintenance => {
                    equity >= self.schedule.requirement(notional, new > 0, true)?
                }
                Room::Solvent => !equity.is_negative(),
            })
        };
        if fits(lots)? {
            return Ok(lots);
        }
        // Taking more on one side only lowers equity and raises the requirement: the
        // lots that fit are a prefix, found by bisection.
        let (mut fit, mut over) = (0i64, lots);
        while over - fit > 1 {
            let mid = fit + (over - fit) / 2;
            if fits(mid)? {
                fit = mid;
            } else {
                over = mid;
            }
        }
        Ok(fit)
    }

    /// The most a reduce-only order of `a` may fill: its whole position when the order
    /// is on the closing side (a sale for a long), nothing otherwise.
    pub fn reducible(&self, a: AccountId, sell: bool) -> Qty {
        let q = self.qty[a.0 as usize];
        Qty::from_lots(if (q > 0) == sell { q.abs() } else { 0 })
    }

    /// The price (in ticks, fractional) at which the account's equity is zero.
    pub fn bankruptcy_price(&self, a: AccountId) -> Option<f64> {
        let q = self.qty[a.0 as usize];
        if q == 0 {
            return None;
        }
        let v = self.config.spec.tick_lot_value().micros() as f64;
        let options = self.option_value(a).map_or(0.0, |m| m.micros() as f64);
        let collateral = self.collateral_or_zero(a).map_or(0.0, |m| m.micros() as f64);
        Some(-(self.cash(a).micros() as f64 + options + collateral) / (q as f64 * v))
    }

    /// Settles a fill between `buyer` and `seller` at `price`; `buyer_is_taker` picks who
    /// pays the taker fee. Returns (buyer fee, seller fee).
    pub fn apply_fill(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        price: Price,
        qty: Qty,
        buyer_is_taker: bool,
    ) -> Result<(Money, Money)> {
        self.fill(buyer, seller, price, qty, buyer_is_taker, self.config.taker_fee)
    }

    /// A fill of a liquidation order: the liquidated taker pays no trading fee (it pays
    /// the liquidation fee), so a fill at the bankruptcy price leaves it at zero, not
    /// below; the maker pays its fee as usual.
    pub fn apply_liquidation_fill(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        price: Price,
        qty: Qty,
        buyer_is_taker: bool,
    ) -> Result<(Money, Money)> {
        self.fill(buyer, seller, price, qty, buyer_is_taker, 0.0)
    }

    fn fill(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        price: Price,
        qty: Qty,
        buyer_is_taker: bool,
        taker_fee: f64,
    ) -> Result<(Money, Money)> {
        let notional = self.config.spec.notional(price, qty)?;
        let fees = self.pay_trade(buyer, seller, notional, buyer_is_taker, taker_fee)?;
        self.trade_position(buyer, qty.lots(), notional)?;
        self.trade_position(seller, -qty.lots(), notional.checked_neg()?)?;
        Ok(fees)
    }

    /// The money of a trade, perpetual or option: the buyer pays `notional` to the seller,
    /// the taker pays `taker_fee` and the maker the maker fee into fee income. Returns
    /// (buyer fee, seller fee).
    fn pay_trade(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        notional: Money,
        buyer_is_taker: bool,
        taker_fee: f64,
    ) -> Result<(Money, Money)> {
        self.ledger.transfer(Book::Trader(buyer), Book::Trader(seller), notional, Reason::Trade)?;
        // Rounding up favours the exchange both ways: a fee rounds up, a rebate (a
        // negative fee) rounds toward zero.
        let fee = |rate: f64| notional.mul_rate_ceil(rate);
        let (buyer_rate, seller_rate) = if buyer_is_taker {
            (taker_fee, self.config.maker_fee)
        } else {
            (self.config.maker_fee, taker_fee)
        };
        let (bf, sf) = (fee(buyer_rate)?, fee(seller_rate)?);
        self.ledger.transfer(Book::Trader(buyer), Book::FeeIncome, bf, Reason::Fee)?;
        self.ledger.transfer(Book::Trader(seller), Book::FeeIncome, sf, Reason::Fee)?;
        Ok((bf, sf))
    }

    /// A transfer of position at `price` between two accounts with no fee (ADL, backstop).
    pub fn transfer_position(
        &mut self,
        buyer: AccountId,
        seller: AccountId,
        price: Price,
        qty: Qty,
    ) -> Result<()> {
        let notional = self.config.spec.notional(price, qty)?;
        self.ledger.transfer(Book::Trader(buyer), Book::Trader(seller), notional, Reason::Trade)?;
        self.trade_position(buyer, qty.lots(), notional)?;
        self.trade_position(seller, -qty.lots(), notional.checked_neg()?)
    }

    fn trade_position(&mut self, a: AccountId, delta: i64, signed_notional: Money) -> Result<()> {
        let i = a.0 as usize;
        let old = self.qty[i];
        let new = old.checked_add(delta).ok_or(Error::overflow("position"))?;
        let cost_before = self.cost[i];
        self.cost[i] = if old == 0 || old.signum() == delta.signum() {
            self.cost[i].checked_add(signed_notional)?
        } else if new.signum() == old.signum() || new == 0 {
            // Reducing: the cost basis shrinks in proportion.
            self.cost[i].mul_div_floor(new, old)?
        } else {
            // Flipping: the new position's cost is the part of this trade beyond zero.
            signed_notional.mul_div_floor(new, delta)?
        };
        // What the trade paid beyond the basis it added (zero when it only adds) is the
        // P&L it realized.
        let realized = self.cost[i].checked_sub(cost_before)?.checked_sub(signed_notional)?;
        if realized != Money::ZERO {
            self.realized[i] = self.realized[i].checked_add(realized)?;
        }
        self.long_open_interest += new.max(0) - old.max(0);
        self.unkey(i);
        self.qty[i] = new;
        self.key_in(i)
    }

    /// Re-keys `a` after its cash moved.
    fn rekey(&mut self, a: AccountId) -> Result<()> {
        let i = a.0 as usize;
        self.unkey(i);
        self.key_in(i)
    }

    /// Whether account `i` belongs in the trigger index: a perpetual position and no
    /// option (option holders are watched by the kernel with their policy's own bracket).
    fn is_indexed(&self, i: usize) -> bool {
        self.qty[i] != 0 && self.holdings.is_empty(i)
    }

    /// Takes account `i` out of the trigger index and its sums. Its position and options
    /// must not have changed since [`Exchange::key_in`]: they decide whether it is in and
    /// where, with the cash kept then.
    fn unkey(&mut self, i: usize) {
        if !self.is_indexed(i) {
            return;
        }
        let (cash, q) = (self.keyed_cash[i], self.qty[i]);
        let k = self.trigger_key(cash, q);
        if q > 0 {
            self.longs.remove(&(k, i as u32));
        } else {
            self.shorts.remove(&(k, i as u32));
        }
        self.index_totals.remove(cash, q);
    }

    /// Puts account `i` into the trigger index and its sums if it belongs there.
    fn key_in(&mut self, i: usize) -> Result<()> {
        if !self.is_indexed(i) {
            return Ok(());
        }
        let (cash, q) = (self.keying_cash(i)?, self.qty[i]);
        let k = self.trigger_key(cash, q);
        if q > 0 {
            self.longs.insert((k, i as u32));
        } else {
            self.shorts.insert((k, i as u32));
        }
        self.keyed_cash[i] = cash;
        self.index_totals.add(cash, q);
        Ok(())
    }

    /// What the trigger index counts as account `i`'s cash: its quote balance plus its
    /// collateral after haircuts, since both pay for a loss on the position. A collateral
    /// price move therefore re-keys the asset's holders.
    fn keying_cash(&self, i: usize) -> Result<Money> {
        let a = AccountId(i as u32);
        self.cash(a).checked_add(self.collateral_or_zero(a)?)
    }

    /// The trigger key of an account holding `q` lots (not zero) and no option with
    /// `cash`: its bankruptcy price in ticks (as [`Exchange::bankruptcy_price`]), rounded
    /// toward checking earlier: up for longs, down for shorts.
    fn trigger_key(&self, cash: Money, q: i64) -> i64 {
        let v = self.config.spec.tick_lot_value().micros() as f64;
        let b = -(cash.micros() as f64) / (q as f64 * v);
        let k = if q > 0 { b.ceil() } else { b.floor() };
        if k.is_finite() { k.clamp(i64::MIN as f64, i64::MAX as f64) as i64 } else { 0 }
    }

    /// The trigger index rebuilt from every account, as [`Exchange::rekey`] on each would
    /// leave it: after funding moved every holder's cash, one sort and a bulk build of
    /// each tree instead of a removal and an insertion at a random place per position
    /// (a sixth of perf-1m's time went there).
    fn rekey_all(&mut self) -> Result<()> {
        self.longs.clear();
        self.shorts.clear();
        self.index_totals = IndexTotals::default();
        let (mut longs, mut shorts) = (Vec::new(), Vec::new());
        for i in 0..self.qty.len() {
            if !self.is_indexed(i) {
                continue;
            }
            let (cash, q) = (self.keying_cash(i)?, self.qty[i]);
            let k = self.trigger_key(cash, q);
            if q > 0 {
                longs.push((k, i as u32));
            } else {
                shorts.push((k, i as u32));
            }
            self.keyed_cash[i] = cash;
            self.index_totals.add(cash, q);
        }
        longs.sort_unstable();
        shorts.sort_unstable();
        self.longs = longs.into_iter().collect();
        self.shorts = shorts.into_iter().collect();
        Ok(())
    }

    /// Accounts whose position may be below maintenance at `mark`, into `out` (cleared
    /// first), in a fixed order: longs by bankruptcy price from the highest, then shorts
    /// from the lowest, ties by account id. Candidates still need the exact check.
    pub fn candidates(&self, mark: Price, out: &mut Vec<AccountId>) {
        out.clear();
        let m = self.schedule.highest_maintenance();
        let p = mark.ticks() as f64;
        let long_from = (p * (1.0 - m)).floor() as i64;
        let short_to = (p * (1.0 + m)).ceil() as i64;
        out.extend(self.longs.range((long_from, 0)..).rev().map(|&(_, a)| AccountId(a)));
        out.extend(self.shorts.range(..=(short_to, u32::MAX)).map(|&(_, a)| AccountId(a)));
        if let Some(e) = self.engine {
            out.retain(|&a| a != e.account);
        }
    }

    /// Makes `account` the exchange's liquidation engine.
    pub fn set_engine(&mut self, account: AccountId, funded_by_fund: bool) -> Result<()> {
        self.index(account)?;
        self.engine = Some(Engine { account, funded_by_fund });
        Ok(())
    }

    pub fn engine(&self) -> Option<Engine> {
        self.engine
    }

    fn is_engine(&self, i: usize) -> bool {
        self.engine.is_some_and(|e| e.account.0 as usize == i)
    }

    /// Lots of a position the engine can take over, of `lots` bought (or sold) at
    /// `price`, valued at `mark`. Funded by the fund, as long as the fund stays solvent:
    /// its balance plus the engine's equity not below zero (the engine is the exchange:
    /// it needs no margin, only the money to bear the loss, which is why auto-deleveraging
    /// begins when the fund runs out). A vault keeps its own equity at or above
    /// maintenance, as any account must.
    pub fn engine_capacity(&self, buy: bool, lots: i64, price: Price, mark: Price) -> Result<i64> {
        let Some(e) = self.engine else { return Ok(0) };
        let (room, extra) = if e.funded_by_fund {
            (Room::Solvent, self.insurance_fund())
        } else {
            (Room::Maintenance, Money::ZERO)
        };
        self.capacity_with(e.account, room, extra, buy, lots, price, mark)
    }

    /// A fund-funded engine that is flat settles its cash with the fund (its gain goes
    /// in, its loss is paid out). Returns what the fund received (negative: paid).
    pub fn settle_engine(&mut self) -> Result<Money> {
        let Some(e) = self.engine.filter(|e| e.funded_by_fund) else { return Ok(Money::ZERO) };
        let a = e.account;
        if !self.is_flat(a) {
            return Ok(Money::ZERO);
        }
        let cash = self.cash(a);
        if cash.is_positive() {
            self.ledger.transfer(
                Book::Trader(a),
                Book::InsuranceFund,
                cash,
                Reason::EngineSettlement,
            )?;
        } else if cash.is_negative() {
            let owed = cash.checked_neg()?;
            self.ledger.transfer(
                Book::InsuranceFund,
                Book::Trader(a),
                owed,
                Reason::EngineSettlement,
            )?;
        }
        self.rekey(a)?;
        Ok(cash)
    }

    /// The price (fractional ticks) at which a fund-funded engine's position would leave
    /// the fund at zero: fund + cash + q P v = 0. `None` without such an engine or when it
    /// is flat.
    pub fn engine_bankruptcy_price(&self) -> Option<f64> {
        let e = self.engine.filter(|e| e.funded_by_fund)?;
        let q = self.qty[e.account.0 as usize];
        if q == 0 {
            return None;
        }
        let v = self.config.spec.tick_lot_value().micros() as f64;
        let cash = self.cash(e.account).micros() as f64;
        let fund = self.insurance_fund().micros() as f64;
        Some(-(cash + fund) / (q as f64 * v))
    }

    /// The insurance fund as it stands at `mark`: its balance, plus the equity of the
    /// engine it funds (the positions the engine still holds are the fund's).
    pub fn fund_value(&self, mark: Price) -> Result<Money> {
        let fund = self.insurance_fund();
        match self.engine {
            Some(e) if e.funded_by_fund => fund.checked_add(self.equity(e.account, mark)?),
            _ => Ok(fund),
        }
    }

    /// The price at which closing `a`'s perpetual position would leave a loss equal to
    /// the fund: cash + options + q P v = -fund, one tick toward the mark so that float
    /// rounding never lets a loss past the fund.
    pub fn fund_bound(&self, a: AccountId) -> Option<Price> {
        let q = self.qty[a.0 as usize];
        if q == 0 {
            return None;
        }
        let v = self.config.spec.tick_lot_value().micros() as f64;
        let cash = self.cash(a).micros() as f64;
        let options = self.option_value(a).map_or(0.0, |m| m.micros() as f64);
        let collateral = self.collateral_or_zero(a).map_or(0.0, |m| m.micros() as f64);
        let fund = self.insurance_fund().micros().max(0) as f64;
        let p = -(cash + options + collateral + fund) / (q as f64 * v);
        let ticks = if q > 0 { p.ceil() + 1.0 } else { p.floor() - 1.0 };
        (ticks.is_finite() && ticks >= 1.0).then(|| Price::from_ticks(ticks as i64))
    }

    /// A flat account below zero is bad debt: the fund pays what it can, the rest is
    /// socialized over accounts in profit, and what nobody pays is the unpaid claim.
    /// Nothing happens to an account with a position or above zero.
    pub fn settle_debt(&mut self, a: AccountId, mark: Price) -> Result<DebtSettlement> {
        let mut s = DebtSettlement::default();
        if !self.is_flat(a) {
            return Ok(s);
        }
        // A flat account owing quote while it holds collateral pays with it first.
        if self.cash(a).is_negative() && !self.collateral.is_empty() && self.holds_collateral(a) {
            self.convert_collateral(a)?;
        }
        s.debt = self.cash(a).checked_neg()?.max(Money::ZERO);
        if s.debt.is_positive() {
            let (paid, unpaid) = self.cover_from_fund(a)?;
            let (socialized, unpaid) = self.socialize(a, unpaid, mark)?;
            (s.fund_paid, s.socialized, s.unpaid) = (paid, socialized, unpaid);
        }
        Ok(s)
    }

    /// Pays a closed account's negative cash from the insurance fund as far as it goes;
    /// returns (paid by the fund, still unpaid).
    pub fn cover_from_fund(&mut self, a: AccountId) -> Result<(Money, Money)> {
        let debt = self.cash(a).checked_neg()?;
        if !debt.is_positive() {
            return Ok((Money::ZERO, Money::ZERO));
        }
        let paid = debt.min(self.insurance_fund().max(Money::ZERO));
        self.ledger.transfer(Book::InsuranceFund, Book::Trader(a), paid, Reason::BadDebtCover)?;
        self.rekey(a)?;
        Ok((paid, debt.checked_sub(paid)?))
    }

    /// Moves a liquidation fee from the account to the fund, never more than its equity
    /// above zero (a fee must not create bad debt). Returns the fee charged.
    pub fn charge_liquidation_fee(
        &mut self,
        a: AccountId,
        notional: Money,
        mark: Price,
    ) -> Result<Money> {
        let fee = notional.mul_rate_ceil(self.config.liquidation_fee)?;
        let room = self.equity(a, mark)?.max(Money::ZERO);
        let fee = fee.min(room);
        self.ledger.transfer(Book::Trader(a), Book::InsuranceFund, fee, Reason::LiquidationFee)?;
        self.rekey(a)?;
        Ok(fee)
    }

    /// Opposing positions against a bankrupt `long` (or short) position, best ranked
    /// first: those in profit at `mark` by the configured ranking (auto-deleveraging
    /// closes only these), then the rest by size. Returns the queue and how many of its
    /// first entries are in profit.
    pub fn adl_queue(
        &self,
        bankrupt_is_long: bool,
        mark: Price,
    ) -> Result<(Vec<AccountId>, usize)> {
        let mut ranked: Vec<(bool, f64, u32)> = Vec::new();
        for (i, &q) in self.qty.iter().enumerate() {
            if q == 0 || (q > 0) == bankrupt_is_long || self.is_engine(i) {
                continue;
            }
            let a = AccountId(i as u32);
            let pnl = self.unrealized(a, mark)?.to_f64();
            let cost = self.cost[i].to_f64().abs().max(1e-9);
            let equity = self.equity(a, mark)?.to_f64();
            let leverage = if equity > 0.0 {
                self.notional(a, mark)?.to_f64() / equity
            } else {
                f64::INFINITY
            };
            let score = match self.config.adl_ranking {
                AdlRanking::PnlTimesLeverage => pnl / cost * leverage,
                AdlRanking::Pnl => pnl,
                AdlRanking::PnlPercent => pnl / cost,
            };
            ranked.push((pnl > 0.0, if pnl > 0.0 { score } else { q.abs() as f64 }, i as u32));
        }
        // Profitable first, then by score descending, ties by account id: a total order.
        ranked.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.total_cmp(&x.1)).then(x.2.cmp(&y.2)));
        let profitable = ranked.iter().take_while(|r| r.0).count();
        Ok((ranked.into_iter().map(|(_, _, a)| AccountId(a)).collect(), profitable))
    }

    /// Covers `amount` owed to closed account `a` from accounts in profit at `mark`
    /// (perpetual and options), pro rata to their profit, never more than their equity
    /// (floor; the remainder from the largest winner). What cannot
    /// be covered becomes the bad-debt claim. Returns (socialized, unpaid).
    pub fn socialize(
        &mut self,
        a: AccountId,
        amount: Money,
        mark: Price,
    ) -> Result<(Money, Money)> {
        if !amount.is_positive() {
            return Ok((Money::ZERO, Money::ZERO));
        }
        let mut winners: Vec<(Money, u32)> = Vec::new();
        let mut total = Money::ZERO;
        for i in 0..self.qty.len() {
            let holds_options = !self.holdings.is_empty(i);
            if i == a.0 as usize || (self.qty[i] == 0 && !holds_options) || self.is_engine(i) {
                continue;
            }
            let w = AccountId(i as u32);
            let mut pnl = self.unrealized(w, mark)?;
            if holds_options {
                pnl = pnl.checked_add(self.option_unrealized(w)?)?;
            }
            let equity = self.equity(w, mark)?;
            let share_base = pnl.min(equity);
            if share_base.is_positive() {
                winners.push((share_base, i as u32));
                total = total.checked_add(share_base)?;
            }
        }
        let covered = amount.min(total);
        let mut taken = Money::ZERO;
        let mut largest: Option<(Money, u32)> = None;
        for &(base, w) in &winners {
            let share = covered.mul_div_floor(base.micros(), total.micros())?;
            self.ledger.transfer(
                Book::Trader(AccountId(w)),
                Book::Trader(a),
                share,
                Reason::SocializedLoss,
            )?;
            taken = taken.checked_add(share)?;
            if largest.is_none_or(|(b, _)| base > b) {
                largest = Some((base, w));
            }
        }
        if let Some((_, w)) = largest {
            self.ledger.transfer(
                Book::Trader(AccountId(w)),
                Book::Trader(a),
                covered.checked_sub(taken)?,
                Reason::SocializedLoss,
            )?;
        }
        let unpaid = amount.checked_sub(covered)?;
        self.ledger.transfer(Book::BadDebt, Book::Trader(a), unpaid, Reason::UnpaidClaim)?;
        for &(_, w) in &winners {
            self.rekey(AccountId(w))?;
        }
        self.rekey(a)?;
        Ok((covered, unpaid))
    }

    /// Pays funding at `rate` (positive: longs pay shorts) on notional at `mark`. Payers
    /// pay rounded up, receivers get rounded down; the residual goes to fee income.
    pub fn pay_funding(&mut self, rate: f64, mark: Price) -> Result<Money> {
        let pool = Book::Settlement;
        // Payers first, so the pool never goes negative.
        for payer_pass in [true, false] {
            for i in 0..self.qty.len() {
                let q = self.qty[i];
                if q == 0 {
                    continue;
                }
                let notional = self.config.spec.notional(mark, Qty::from_lots(q))?;
                let owed = notional.mul_rate_ceil(rate)?;
                if payer_pass && owed.is_positive() {
                    self.ledger.transfer(
                        Book::Trader(AccountId(i as u32)),
                        pool,
                        owed,
                        Reason::Funding,
                    )?;
                } else if !payer_pass && owed.is_negative() {
                    // A receiver's share rounded down: -ceil(-x) = floor(x) for x < 0.
                    let due = notional.checked_neg()?.mul_rate_floor(rate)?;
                    self.ledger.transfer(
                        pool,
                        Book::Trader(AccountId(i as u32)),
                        due,
                        Reason::Funding,
                    )?;
                }
            }
        }
        let residual = self.ledger.balance(pool);
        self.ledger.transfer(pool, Book::FeeIncome, residual, Reason::Funding)?;
        self.rekey_all()?;
        Ok(residual)
    }

    /// A flat schedule's (initial, maintenance) rates of longs and shorts taken to 12
    /// decimals once, for loops over many accounts; `None` for brackets.
    fn flat_rates_e12(&self) -> Result<Option<[(i64, i64); 2]>> {
        Ok(match &self.schedule {
            MarginSchedule::Flat { long, short } => Some([
                (rate_e12(long.initial)?, rate_e12(long.maintenance)?),
                (rate_e12(short.initial)?, rate_e12(short.maintenance)?),
            ]),
            MarginSchedule::Brackets(_) => None,
        })
    }

    /// Over accounts holding a perpetual and no option, the engine left out: (initial
    /// required, equity held above zero, accounts below maintenance) at `mark`, exactly
    /// [`Exchange::perpetual_margin_totals_by_scan`]'s numbers, from the trigger index's
    /// sums: each distinct position size is charged once per side (requirements round
    /// up account by account, so a size stands for each account holding it), equity is
    /// the sum of cash plus the mark times the sum of lots, less the accounts below zero;
    /// these and the accounts below maintenance are all within the index's liquidation
    /// range (widened by a few ticks for the keys' float rounding), which is walked.
    /// Only an overflow of a single account's equity, which the scan reports, passes
    /// here unseen when the sums stay in range.
    pub fn perpetual_margin_totals(&self, mark: Price) -> Result<(Money, Money, u64)> {
        let spec = self.config.spec;
        let flat = self.flat_rates_e12()?;
        let charge = |notional: Money, long: bool, maintenance: bool| match flat {
            Some(rates) => {
                let (ri, rm) = rates[usize::from(!long)];
                notional.mul_rate_e12(if maintenance { rm } else { ri }, true)
            }
            None => self.schedule.requirement(notional, long, maintenance),
        };
        let mut required = 0i128;
        for (side, long) in [(0, true), (1, false)] {
            for (size, accounts) in self.index_totals.sizes[side].iter() {
                let initial = charge(spec.notional(mark, Qty::from_lots(size))?, long, false)?;
                required += i128::from(initial.micros()) * i128::from(accounts);
            }
        }
        let mut held = self.index_totals.equity(mark.ticks(), spec.tick_lot_value())?;
        let engine = self.engine.map(|e| e.account.0);
        if let Some(e) = engine.filter(|&e| self.is_indexed(e as usize)) {
            let q = self.qty[e as usize];
            let notional = spec.notional(mark, Qty::from_lots(q.abs()))?;
            required -= i128::from(charge(notional, q > 0, false)?.micros());
            held -= i128::from(self.equity(AccountId(e), mark)?.micros());
        }
        // Float keys are off by far less than a tick; the exact checks below decide.
        const SLACK_TICKS: i64 = 4;
        let m = self.schedule.highest_maintenance();
        let p = mark.ticks() as f64;
        let (lo, hi) = (p * (1.0 - m), p * (1.0 + m));
        let long_from = ((lo - lo.abs() * 1e-9).floor() as i64).saturating_sub(SLACK_TICKS);
        let short_to = ((hi + hi.abs() * 1e-9).ceil() as i64).saturating_add(SLACK_TICKS);
        let near =
            self.longs.range((long_from, 0)..).chain(self.shorts.range(..=(short_to, u32::MAX)));
        let mut below = 0u64;
        for &(_, a) in near {
            if engine == Some(a) {
                continue;
            }
            let q = self.qty[a as usize];
            let notional = spec.notional(mark, Qty::from_lots(q.abs()))?;
            let maintenance = charge(notional, q > 0, true)?;
            // The index's cash: quote plus haircut collateral, as the scan's equity counts.
            let equity =
                self.keyed_cash[a as usize].checked_add(spec.notional(mark, Qty::from_lots(q))?)?;
            below += u64::from(equity < maintenance);
            if equity.is_negative() {
                held -= i128::from(equity.micros());
            }
        }
        let money = |x: i128, what: &'static str| {
            i64::try_from(x).map(Money::from_micros).map_err(|_| Error::overflow(what))
        };
        Ok((money(required, "margin required")?, money(held, "margin held")?, below))
    }

    /// [`Exchange::perpetual_margin_totals`] by visiting every account, as
    /// [`Exchange::requirement`] and [`Exchange::equity`] give them one by one: what the
    /// checker compares the index's sums with.
    pub fn perpetual_margin_totals_by_scan(&self, mark: Price) -> Result<(Money, Money, u64)> {
        let (mut required, mut held, mut below) = (Money::ZERO, Money::ZERO, 0u64);
        let flat = self.flat_rates_e12()?;
        // The engine's inventory is the venue's own, not margin its traders post.
        let engine = self.engine.map(|e| e.account.0 as usize);
        for i in 0..self.qty.len() {
            let q = self.qty[i];
            if q == 0 || !self.holdings.is_empty(i) || engine == Some(i) {
                continue;
            }
            let a = AccountId(i as u32);
            let notional = self.config.spec.notional(mark, Qty::from_lots(q.abs()))?;
            let (initial, maintenance) = match flat {
                Some(rates) => {
                    let (ri, rm) = rates[usize::from(q < 0)];
                    (notional.mul_rate_e12(ri, true)?, notional.mul_rate_e12(rm, true)?)
                }
                None => (
                    self.schedule.requirement(notional, q > 0, false)?,
                    self.schedule.requirement(notional, q > 0, true)?,
                ),
            };
            let value = self.config.spec.notional(mark, Qty::from_lots(q))?;
            let equity =
                self.cash(a).checked_add(value)?.checked_add(self.collateral_or_zero(a)?)?;
            required = required.checked_add(initial)?;
            held = held.checked_add(equity.max(Money::ZERO))?;
            below += u64::from(equity < maintenance);
        }
        Ok((required, held, below))
    }

    /// The margin totals from the index's sums against a visit of every account, at
    /// `mark` and ten per cent either side (where leveraged accounts are below
    /// maintenance and below zero). Where the scan overflows the comparison is skipped.
    pub fn check_margin_totals(&self, mark: Price) -> Result<()> {
        for (num, den) in [(1, 1), (9, 10), (11, 10)] {
            let at = Price::from_ticks(mark.ticks().saturating_mul(num) / den);
            let Ok(scan) = self.perpetual_margin_totals_by_scan(at) else { continue };
            let fast = self.perpetual_margin_totals(at)?;
            if fast != scan {
                return Err(Error::Internal(format!(
                    "margin totals at {} ticks: from the index {fast:?}, by scan {scan:?}",
                    at.ticks()
                )));
            }
        }
        Ok(())
    }

    /// Every invariant, from scratch: money conserved, open interest balanced, the
    /// trigger index holding exactly the accounts with positions, at the keys and with
    /// the sums their cash and positions give.
    pub fn check(&self) -> Result<()> {
        let error = self.ledger.conservation_error()?;
        if error != Money::ZERO {
            return Err(Error::Internal(format!("ledger: conservation error {error}")));
        }
        for k in 0..self.collateral.len() {
            let asset = AssetId(k as u16);
            let error = self.ledger.asset_conservation_error(asset)?;
            if error != 0 {
                return Err(Error::Internal(format!(
                    "asset {} ledger: conservation error {error}",
                    self.collateral[k].config.name
                )));
            }
        }
        if self.ledger.assets() != self.collateral.len() {
            return Err(Error::Internal("asset ledgers out of step with collateral".into()));
        }
        let (long, short): (i64, i64) =
            self.qty.iter().fold((0, 0), |(l, s), &q| (l + q.max(0), s + (-q).max(0)));
        if long != short || long != self.long_open_interest {
            return Err(Error::Internal(format!(
                "open interest: long {long}, short {short}, tracked {}",
                self.long_open_interest
            )));
        }
        let with_position =
            (0..self.qty.len()).filter(|&i| self.qty[i] != 0 && self.holdings.is_empty(i)).count();
        let mut long_options = vec![0i64; self.option_marks.len()];
        let mut short_options = vec![0i64; self.option_marks.len()];
        for i in 0..self.qty.len() {
            let hs = self.holdings.get(i);
            if hs.is_empty() != self.holdings.is_empty(i) {
                return Err(Error::Internal(format!("account {i} keeps an empty option slot")));
            }
            if hs.is_empty() == self.option_holders.contains(&(i as u32)) {
                return Err(Error::Internal(format!("option holder set wrong for {i}")));
            }
            for h in hs {
                let s = usize::from(h.series);
                if h.qty == 0 || s >= long_options.len() {
                    return Err(Error::Internal(format!("account {i}: bad holding {h:?}")));
                }
                long_options[s] += h.qty.max(0);
                short_options[s] += (-h.qty).max(0);
            }
        }
        if long_options != short_options || long_options != self.option_long_interest {
            return Err(Error::Internal(format!(
                "option open interest: long {long_options:?} short {short_options:?}"
            )));
        }
        if self.longs.len() + self.shorts.len() != with_position {
            return Err(Error::Internal("trigger index out of step with positions".into()));
        }
        let mut totals = IndexTotals::default();
        for i in (0..self.qty.len()).filter(|&i| self.is_indexed(i)) {
            let (cash, q) = (self.keyed_cash[i], self.qty[i]);
            let side = if q > 0 { &self.longs } else { &self.shorts };
            if cash != self.keying_cash(i)?
                || !side.contains(&(self.trigger_key(cash, q), i as u32))
            {
                return Err(Error::Internal(format!("account {i} keyed on a stale cash {cash}")));
            }
            totals.add(cash, q);
        }
        if totals != self.index_totals {
            return Err(Error::Internal("trigger index sums out of step with accounts".into()));
        }
        if self.ledger.balance(Book::Settlement) != Money::ZERO {
            return Err(Error::Internal("funding pool not emptied".into()));
        }
        for (&i, p) in &self.parents {
            if p.0 >= i || self.parents.contains_key(&p.0) {
                return Err(Error::Internal(format!("isolated account {i} has owner {}", p.0)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(x: &str) -> Money {
        Money::from_decimal(x).unwrap()
    }

    /// BTC-style contract: tick 0.5, lot 0.001; 0.02%/0.05% maker/taker; 0.5% maintenance.
    fn exchange() -> Exchange {
        let spec = ContractSpec::new(m("0.5"), 1_000_000).unwrap();
        let config = ExchangeConfig {
            spec,
            maker_fee: 0.0002,
            taker_fee: 0.0005,
            liquidation_fee: 0.005,
            max_leverage: 100.0,
            max_position: None,
            adl_ranking: AdlRanking::PnlTimesLeverage,
        };
        let rates = Rates { initial: 0.01, maintenance: 0.005 };
        Exchange::new(config, MarginSchedule::Flat { long: rates, short: rates })
    }

    fn price(x: &str) -> Price {
        exchange().spec().price_from_decimal(x).unwrap()
    }

    #[test]
    fn a_fill_moves_notional_and_fees_exactly() {
        let mut x = exchange();
        let a = x.open_account(m("6000")).unwrap();
        let b = x.open_account(m("100000")).unwrap();
        // A takes 1 BTC (1000 lots) at 60000 from maker B: notional 60000,
        // taker fee 0.05% = 30, maker fee 0.02% = 12.
        let (fa, fb) = x.apply_fill(a, b, price("60000"), Qty::from_lots(1000), true).unwrap();
        assert_eq!((fa, fb), (m("30"), m("12")));
        assert_eq!(x.cash(a), m("-54030"));
        assert_eq!(x.cash(b), m("159988"));
        assert_eq!(x.equity(a, price("60000")).unwrap(), m("5970"));
        assert_eq!(x.open_interest().lots(), 1000);
        // Bankruptcy: -54030 + P = 0 at P = 54030 = 108060 ticks.
        assert_eq!(x.bankruptcy_price(a), Some(108_060.0));
        // Maintenance 0.5% of notional: liquidatable below 54030 / 0.995 = 54301.51.
        assert!(!x.is_liquidatable(a, price("54302")).unwrap());
        assert!(x.is_liquidatable(a, price("54301.5")).unwrap());
        x.check().unwrap();
    }

    #[test]
    fn an_option_trade_and_its_expiry_settle_exactly() {
        let mut x = exchange();
        let put = x.add_series(Price::ZERO).unwrap();
        let a = x.open_account(m("1000")).unwrap();
        let b = x.open_account(m("1000")).unwrap();
        // A buys 0.01 BTC of the put at 1000 from maker B: premium 10, taker fee 0.05% =
        // 0.005, maker fee 0.02% = 0.002.
        let (fa, fb) =
            x.apply_option_fill(a, b, put, price("1000"), Qty::from_lots(10), true).unwrap();
        assert_eq!((fa, fb), (m("0.005"), m("0.002")));
        assert_eq!((x.cash(a), x.cash(b)), (m("989.995"), m("1009.998")));
        assert_eq!((x.option_position(a, put), x.option_position(b, put)), (10, -10));
        assert_eq!(x.option_open_interest(put), 10);
        // The holder of options leaves the bankruptcy-price index.
        let mut out = Vec::new();
        x.candidates(price("1"), &mut out);
        assert!(out.is_empty());
        // Marked at 1500: A's equity 989.995 + 15, B's 1009.998 - 15.
        x.set_option_mark(put, price("1500"));
        assert_eq!(x.equity(a, price("60000")).unwrap(), m("1004.995"));
        assert_eq!(x.equity(b, price("60000")).unwrap(), m("994.998"));
        x.check().unwrap();
        // Expiry 2500 in the money: B pays 25, A receives 25, the series closes.
        let holders = x.expire(put, price("2500")).unwrap();
        assert_eq!(holders, vec![a, b]);
        assert_eq!((x.cash(a), x.cash(b)), (m("1014.995"), m("984.998")));
        assert!(x.is_flat(a) && x.is_flat(b));
        assert_eq!(x.option_open_interest(put), 0);
        assert_eq!(x.option_holder_count(), 0);
        x.check().unwrap();
    }

    #[test]
    fn trigger_index_visits_only_accounts_near_their_price() {
        let mut x = exchange();
        let maker = x.open_account(m("100000000")).unwrap();
        // 100 longs of 0.1 BTC at 60000 with deposits 600 + 10 i: bankruptcy prices rise
        // as deposits fall.
        let mut longs = Vec::new();
        for i in 0..100 {
            let a = x.open_account(Money::from_units(600 + 10 * i).unwrap()).unwrap();
            x.apply_fill(a, maker, price("60000"), Qty::from_lots(100), true).unwrap();
            longs.push(a);
        }
        let mut out = Vec::new();
        x.candidates(price("60000"), &mut out);
        assert!(out.is_empty(), "nobody is near liquidation at the entry price");
        // At 54000 the longs whose bankruptcy price is above 54000 x (1 - 0.005) are
        // candidates: 60000 - (deposit - 3 fee) x 10 >= 53730 <=> deposit <= 630.
        x.candidates(price("54000"), &mut out);
        // Highest bankruptcy price (smallest deposit) first.
        let expected: Vec<AccountId> = longs.iter().take(4).copied().collect();
        assert_eq!(out, expected);
        for &a in &out {
            let liq = x.is_liquidatable(a, price("54000")).unwrap();
            assert_eq!(liq, x.cash(a).to_f64() + 5400.0 < 27.0);
        }
    }

    #[test]
    fn funding_between_longs_and_shorts() {
        let mut x = exchange();
        let a = x.open_account(m("10000")).unwrap();
        let b = x.open_account(m("10000")).unwrap();
        let c = x.open_account(m("10000")).unwrap();
        x.apply_fill(a, b, price("60000"), Qty::from_lots(1000), true).unwrap();
        x.apply_fill(a, c, price("60000"), Qty::from_lots(1), true).unwrap();
        let (ca, cb, cc) = (x.cash(a), x.cash(b), x.cash(c));
        // Rate 0.01% at mark 61000: A (1.001 BTC long) pays 6.1061, B (1 BTC short)
        // receives 6.1, C (0.001 short) receives 0.0061.
        let residual = x.pay_funding(0.0001, price("61000")).unwrap();
        assert_eq!(ca.checked_sub(x.cash(a)).unwrap(), m("6.1061"));
        assert_eq!(x.cash(b).checked_sub(cb).unwrap(), m("6.1"));
        assert_eq!(x.cash(c).checked_sub(cc).unwrap(), m("0.0061"));
        assert_eq!(residual, Money::ZERO);
        x.check().unwrap();
    }

    #[test]
    fn fund_then_socialized_loss_then_claim() {
        let mut x = exchange();
        let loser = x.open_account(m("100")).unwrap();
        let winner = x.open_account(m("10000")).unwrap();
        let other = x.open_account(m("10000")).unwrap();
        x.fund_deposit(m("50")).unwrap();
        x.apply_fill(loser, winner, price("60000"), Qty::from_lots(100), true).unwrap();
        // The loser's long is closed at 58000 against `other`: cash 100 - 6000 - 3 fee +
        // 5800 - 2.32 maker... (other takes: buyer is other, loser is maker).
        x.apply_fill(other, loser, price("58000"), Qty::from_lots(100), true).unwrap();
        let debt = x.cash(loser).checked_neg().unwrap();
        assert_eq!(debt, m("104.16")); // 6000 + 3 - 100 - 5800 + 1.16 = 104.16
        let (paid, unpaid) = x.cover_from_fund(loser).unwrap();
        assert_eq!((paid, unpaid), (m("50"), m("54.16")));
        // The winner (short 0.1 from 60000, now 58000: +200 unrealized) and `other` (long
        // from 58000, 0 unrealized) — only the winner pays.
        let (social, claim) = x.socialize(loser, unpaid, price("58000")).unwrap();
        assert_eq!((social, claim), (m("54.16"), Money::ZERO));
        assert_eq!(x.cash(loser), Money::ZERO);
        x.check().unwrap();
        // With nobody in profit the loss stays as a claim and the books still balance.
        let mut y = exchange();
        let l = y.open_account(m("1")).unwrap();
        let (_, claim) = y.socialize(l, m("5"), price("100")).unwrap();
        assert_eq!(claim, m("5"));
        y.check().unwrap();
    }

    #[test]
    fn brackets_are_continuous() {
        let r = |i: f64, mm: f64| Rates { initial: i, maintenance: mm };
        let s = MarginSchedule::brackets(&[
            (m("50000"), r(0.01, 0.005)),
            (m("250000"), r(0.02, 0.01)),
            (m("1000000"), r(0.05, 0.025)),
        ])
        .unwrap();
        // At the first cap: 50000 x 0.005 = 250 both ways; the second bracket's amount is 250.
        assert_eq!(s.requirement(m("50000"), true, true).unwrap(), m("250"));
        assert_eq!(s.requirement(m("50000.01"), true, true).unwrap(), m("250.0001"));
        // Third bracket: amount 250 + 250000 x (0.025 - 0.01) = 4000, so 300000 needs
        // 300000 x 0.025 - 4000 = 3500; at its lower edge both brackets give 2250.
        assert_eq!(s.requirement(m("300000"), true, true).unwrap(), m("3500"));
        assert_eq!(s.requirement(m("250000"), true, true).unwrap(), m("2250"));
        assert_eq!(s.requirement(m("250000.04"), true, true).unwrap(), m("2250.001"));
    }

    proptest! {
        #[test]
        fn random_trading_conserves_money_and_balances_open_interest(
            ops in prop::collection::vec((0u8..4, 0usize..6, 0usize..6, 100_000i64..140_000, 1i64..3000), 1..300)
        ) {
            let mut x = exchange();
            let accounts: Vec<AccountId> = (0..6).map(|_| x.open_account(m("100000")).unwrap()).collect();
            x.fund_deposit(m("1000")).unwrap();
            for (op, i, j, ticks, lots) in ops {
                let p = Price::from_ticks(ticks);
                match op {
                    0 | 1 if i != j => { x.apply_fill(accounts[i], accounts[j], p, Qty::from_lots(lots), op == 0).unwrap(); }
                    2 => { x.pay_funding((lots as f64 - 1500.0) * 1e-6, p).unwrap(); }
                    3 => { x.deposit(accounts[i], Money::from_micros(lots)).unwrap(); }
                    _ => {}
                }
                x.check().unwrap();
            }
        }

        /// Perpetual and option fills, position transfers, funding, marks, liquidation
        /// fees, fund cover, socialization and expiries, in any order: after every step
        /// money is conserved exactly, each instrument's long and short lots are equal,
        /// the index holds exactly the perpetual-only accounts with a position, and no flat
        /// account is left below zero once covered.
        #[test]
        fn random_operations_with_options_keep_every_invariant(
            ops in prop::collection::vec((0u8..10, 0usize..6, 0usize..6, 1i64..240_000, 1i64..3000), 1..300)
        ) {
            let mut x = exchange();
            let series: Vec<u16> = (0..3).map(|_| x.add_series(Price::ZERO).unwrap()).collect();
            let accounts: Vec<AccountId> = (0..6).map(|_| x.open_account(m("100000")).unwrap()).collect();
            x.fund_deposit(m("1000")).unwrap();
            let mark = price("60000");
            for (op, i, j, ticks, lots) in ops {
                let (a, b) = (accounts[i], accounts[j]);
                let p = Price::from_ticks(ticks);
                let s = series[i % 3];
                match op {
                    0 if a != b => { x.apply_fill(a, b, p, Qty::from_lots(lots), true).unwrap(); }
                    1 if a != b => { x.apply_liquidation_fill(a, b, p, Qty::from_lots(lots), false).unwrap(); }
                    2 if a != b => { x.apply_option_fill(a, b, s, Price::from_ticks(ticks / 40 + 1), Qty::from_lots(lots), true).unwrap(); }
                    3 if a != b => { x.transfer_position(a, b, p, Qty::from_lots(lots)).unwrap(); }
                    4 => { x.set_option_mark(s, Price::from_ticks(ticks / 30)); }
                    5 => { x.pay_funding((lots as f64 - 1500.0) * 1e-6, mark).unwrap(); }
                    6 => { x.charge_liquidation_fee(a, Money::from_units(lots).unwrap(), mark).unwrap(); }
                    7 => {
                        // Close everything at the mark against the others, as ADL would,
                        // then cover and socialize what is left below zero.
                        let q = x.position(a).lots();
                        if q != 0 && a != b {
                            let (buyer, seller) = if q > 0 { (b, a) } else { (a, b) };
                            x.transfer_position(buyer, seller, mark, Qty::from_lots(q.abs())).unwrap();
                        }
                        for h in x.holdings(a).to_vec() {
                            if a != b {
                                let (buyer, seller) = if h.qty > 0 { (b, a) } else { (a, b) };
                                x.transfer_option(buyer, seller, h.series, x.option_mark(h.series), Qty::from_lots(h.qty.abs())).unwrap();
                            }
                        }
                        if x.is_flat(a) {
                            let (_, unpaid) = x.cover_from_fund(a).unwrap();
                            x.socialize(a, unpaid, mark).unwrap();
                            // Paid by the fund, by winners, or booked as the unpaid claim.
                            prop_assert!(!x.cash(a).is_negative(), "flat account left at {}", x.cash(a));
                        }
                    }
                    8 => { x.expire(s, Price::from_ticks(ticks / 20)).unwrap(); }
                    _ => { x.deposit(a, Money::from_micros(lots)).unwrap(); }
                }
                x.check().unwrap();
            }
        }
    }
}
