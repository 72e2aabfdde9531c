//! The venue: multi-instrument cross-margin accounts (perpetuals and European options),
//! fills with fees, realized P&L on a cost basis, funding, option cash settlement, and
//! the liquidation waterfall, every money movement a [`Journal`] transfer with a reason.
//!
//! Positions keep a signed quantity and a signed cost basis in money (what was paid for
//! the open lots; negative for shorts). Average entry = cost / (qty x tick-lot value),
//! reported as a fraction; nothing is rounded at entry. A partial close releases
//! floor(cost x closed / |qty|) of the basis; the last close releases the rest, so the
//! realized P&L over a position's life is exact. Perpetual realized P&L is paid from the
//! settlement account; option premiums move buyer -> seller in full at the fill and
//! expiry pays intrinsic value short -> settlement -> long.
//!
//! Rounding, always in the exchange's favour: a fee is ceil(notional x ppm / 10^6), a
//! rebate (negative ppm) floor; funding payers pay rounded up, receivers get rounded
//! down and the residual stays in fee income; a bankruptcy bound is rounded to the tick
//! that leaves the account's equity >= 0 (up for a long, down for a short).
//!
//! The waterfall ([`Venue::finish_liquidation`]): (1) what the book did not absorb goes
//! to the backstop at the bankruptcy price if configured; (2) otherwise the remainder is
//! closed against opposing positions in ADL rank order: at the mark when the fund can pay
//! the resulting deficit (the fund covers it), at the bankruptcy price when it cannot
//! (ADL: winners give up the profit beyond it), and against any opposing position at the
//! mark if the profitable ones are not enough; (3) the liquidation fee goes to the fund,
//! never more than the equity left; (4) a flat account below zero is covered by the fund,
//! then (5) socialized across accounts with unrealized profit, pro rata to
//! min(profit, equity), floor shares with the remainder micro-units taken one each from
//! the largest shares (ties by account id); (6) what nobody can pay is booked against the
//! bad-debt claim. Every step is recorded in the liquidation's [`LiquidationRecord`].
//!
//! Isolated margin is an isolated sub-account ([`Venue::open_isolated`]): an account of
//! its own, funded from its owner by a margin transfer, margined, liquidated and taken
//! down the waterfall alone, so its losses never reach the owner's balance.
//!
//! Ordering: accounts are visited by id, ADL candidates by rank then id. Known limits:
//! a multi-position account's bankruptcy price per position holds its other positions at
//! their marks; an order check builds the hypothetical portfolio in a small Vec.

use crate::exchange::{AccountId, AdlRanking};
use crate::journal::{Book, Journal, Reason};
use liqsim_core::{ContractSpec, Error, Money, Price, Qty, Result, SimDuration, SimTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstrumentId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiquidationId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    Perpetual,
    /// European option on the index, cash-settled; strike in the instrument's ticks.
    Option {
        call: bool,
        strike: Price,
        expiry: SimTime,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instrument {
    pub kind: InstrumentKind,
    pub spec: ContractSpec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub instrument: InstrumentId,
    pub qty: i64,
    pub cost: Money,
}

/// What a margin model sees: the positions and the mark of each instrument.
#[derive(Debug, Clone, Copy)]
pub struct AccountView<'a> {
    pub positions: &'a [Position],
    pub instruments: &'a [Instrument],
    pub marks: &'a [Price],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub initial: Money,
    pub maintenance: Money,
}

/// Any margin policy plugs in here (the risk crate's policies through an adapter).
pub trait MarginModel {
    fn requirement(&self, account: &AccountView<'_>) -> Result<Requirement>;
}

/// Initial and maintenance as parts per million of gross notional at mark, rounded up.
#[derive(Debug, Clone, Copy)]
pub struct FixedFraction {
    pub initial_ppm: i64,
    pub maintenance_ppm: i64,
}

impl MarginModel for FixedFraction {
    fn requirement(&self, view: &AccountView<'_>) -> Result<Requirement> {
        let mut gross = Money::ZERO;
        for p in view.positions {
            let i = p.instrument.0 as usize;
            let n = view.instruments[i].spec.notional(view.marks[i], Qty::from_lots(p.qty))?;
            gross = gross.checked_add(n.abs()?)?;
        }
        Ok(Requirement {
            initial: ppm_ceil(gross, self.initial_ppm)?,
            maintenance: ppm_ceil(gross, self.maintenance_ppm)?,
        })
    }
}

/// Initial rates by direction as fractions of notional at mark (the form
/// `liqsim_risk::linear::rates` produces from VaR or ES of returns), maintenance a
/// fixed fraction of initial; each position's requirement is rounded up to the micro.
#[derive(Debug, Clone, Copy)]
pub struct DirectionalRates {
    pub long: f64,
    pub short: f64,
    pub maintenance_fraction: f64,
}

impl MarginModel for DirectionalRates {
    fn requirement(&self, view: &AccountView<'_>) -> Result<Requirement> {
        let mut initial = Money::ZERO;
        let mut maintenance = Money::ZERO;
        for p in view.positions {
            let i = p.instrument.0 as usize;
            let n =
                view.instruments[i].spec.notional(view.marks[i], Qty::from_lots(p.qty))?.abs()?;
            let rate = if p.qty > 0 { self.long } else { self.short };
            initial = initial.checked_add(n.mul_rate_ceil(rate)?)?;
            maintenance =
                maintenance.checked_add(n.mul_rate_ceil(rate * self.maintenance_fraction)?)?;
        }
        Ok(Requirement { initial, maintenance })
    }
}

/// `amount x ppm / 10^6` rounded up (ppm >= 0).
pub fn ppm_ceil(amount: Money, ppm: i64) -> Result<Money> {
    let p = i128::from(amount.micros()) * i128::from(ppm);
    let q = p.div_euclid(1_000_000) + i128::from(p.rem_euclid(1_000_000) != 0);
    i64::try_from(q).map(Money::from_micros).map_err(|_| Error::overflow("fee"))
}

fn ppm_floor(amount: Money, ppm: i64) -> Result<Money> {
    let p = i128::from(amount.micros()) * i128::from(ppm);
    i64::try_from(p.div_euclid(1_000_000))
        .map(Money::from_micros)
        .map_err(|_| Error::overflow("fee"))
}

#[derive(Debug, Clone)]
pub struct VenueConfig {
    /// Fees in parts per million of notional (1 bp = 100 ppm); negative is a rebate.
    pub maker_fee_ppm: i64,
    pub taker_fee_ppm: i64,
    pub liquidation_fee_ppm: i64,
    /// Close only part of a position when that restores initial margin.
    pub partial: bool,
    /// Partial closes come in multiples of this share (ppm of the position).
    pub partial_step_ppm: i64,
    /// No new partial liquidation of an account within this time of its last one.
    pub cooldown: SimDuration,
    /// The account that takes unabsorbed liquidations at the bankruptcy price.
    pub backstop: Option<AccountId>,
    pub adl_ranking: AdlRanking,
    pub digest: bool,
    /// Largest |position| in lots any account may hold in one instrument.
    pub max_position: Option<i64>,
    /// Largest gross notional at mark / equity an order may leave an account at.
    pub max_leverage: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A price move from outside.
    Exogenous,
    /// A price move made by the fills of an earlier liquidation.
    Fills(LiquidationId),
}

/// An IOC order for the kernel to submit, never to fill beyond `bound_price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiquidationOrder {
    pub liquidation: LiquidationId,
    pub account: AccountId,
    pub instrument: InstrumentId,
    pub side: Side,
    pub qty: Qty,
    pub bound_price: Price,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiquidationRecord {
    pub id: LiquidationId,
    pub account: AccountId,
    pub at: SimTime,
    pub cause: Cause,
    pub partial: bool,
    pub orders: Vec<LiquidationOrder>,
    /// Lots filled so far per order, in the order of `orders`.
    pub filled: Vec<i64>,
    /// Notional filled in the book.
    pub book_notional: Money,
    /// Lots the backstop took at the bankruptcy price.
    pub backstop_qty: i64,
    /// Lots closed against opposing positions (at the mark when the fund could pay, at
    /// the bankruptcy price when it could not).
    pub adl_qty: i64,
    /// Liquidation fee paid to the fund.
    pub fee: Money,
    /// Bad debt of this liquidation paid by the fund, socialized, and left unpaid.
    pub fund_paid: Money,
    pub socialized: Money,
    pub unpaid: Money,
    pub finished: bool,
}

/// Solvency figures at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solvency {
    pub insurance_fund: Money,
    pub bad_debt: Money,
    pub fund_paid: Money,
    pub adl_notional: Money,
    pub socialized: Money,
    pub unpaid: Money,
    pub margin_held: Money,
    pub margin_required: Money,
    pub solvent: bool,
}

#[derive(Debug, Clone)]
pub struct Venue {
    config: VenueConfig,
    journal: Journal,
    instruments: Vec<Instrument>,
    marks: Vec<Price>,
    long_oi: Vec<i64>,
    positions: Vec<Vec<Position>>,
    last_liquidation: Vec<Option<SimTime>>,
    /// The unfinished liquidation of each account, if any.
    liquidating: Vec<Option<LiquidationId>>,
    /// The owner of each isolated sub-account.
    parents: Vec<Option<AccountId>>,
    liquidations: Vec<LiquidationRecord>,
    bad_debt: Money,
    fund_paid: Money,
    adl_notional: Money,
    socialized: Money,
    unpaid: Money,
}

impl Venue {
    pub fn new(config: VenueConfig) -> Venue {
        Venue {
            journal: Journal::new(config.digest),
            config,
            instruments: Vec::new(),
            marks: Vec::new(),
            long_oi: Vec::new(),
            positions: Vec::new(),
            last_liquidation: Vec::new(),
            liquidating: Vec::new(),
            parents: Vec::new(),
            liquidations: Vec::new(),
            bad_debt: Money::ZERO,
            fund_paid: Money::ZERO,
            adl_notional: Money::ZERO,
            socialized: Money::ZERO,
            unpaid: Money::ZERO,
        }
    }

    pub fn config(&self) -> &VenueConfig {
        &self.config
    }

    pub fn set_backstop(&mut self, backstop: Option<AccountId>) {
        self.config.backstop = backstop;
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    pub fn add_instrument(&mut self, instrument: Instrument, mark: Price) -> Result<InstrumentId> {
        let id =
            u32::try_from(self.instruments.len()).map_err(|_| Error::overflow("instruments"))?;
        self.instruments.push(instrument);
        self.marks.push(mark);
        self.long_oi.push(0);
        Ok(InstrumentId(id))
    }

    fn instrument(&self, i: InstrumentId) -> Result<&Instrument> {
        self.instruments
            .get(i.0 as usize)
            .ok_or_else(|| Error::input(format!("no instrument {}", i.0)))
    }

    pub fn set_mark(&mut self, i: InstrumentId, mark: Price) -> Result<()> {
        self.instrument(i)?;
        self.marks[i.0 as usize] = mark;
        Ok(())
    }

    pub fn mark(&self, i: InstrumentId) -> Price {
        self.marks.get(i.0 as usize).copied().unwrap_or(Price::ZERO)
    }

    pub fn open_account(&mut self, deposit: Money) -> Result<AccountId> {
        let id = self.journal.add_trader()?;
        self.positions.push(Vec::new());
        self.last_liquidation.push(None);
        self.liquidating.push(None);
        self.parents.push(None);
        self.journal.deposit(Book::Trader(id), deposit)?;
        Ok(id)
    }

    /// Opens an isolated sub-account of `parent` holding `margin` moved from the
    /// parent's balance (never more than that balance).
    pub fn open_isolated(&mut self, parent: AccountId, margin: Money) -> Result<AccountId> {
        let pi = self.account(parent)?;
        if self.parents[pi].is_some() {
            return Err(Error::input("an isolated sub-account cannot own another"));
        }
        if margin.is_negative() || margin > self.balance(parent) {
            return Err(Error::input(format!("isolated margin {margin} exceeds the balance")));
        }
        let child = self.open_account(Money::ZERO)?;
        self.parents[child.0 as usize] = Some(parent);
        self.journal.transfer(
            Book::Trader(parent),
            Book::Trader(child),
            margin,
            Reason::MarginTransfer,
        )?;
        Ok(child)
    }

    pub fn parent(&self, a: AccountId) -> Option<AccountId> {
        self.parents.get(a.0 as usize).copied().flatten()
    }

    /// Moves margin between an isolated sub-account and its owner: `amount` > 0 adds
    /// from the owner's balance, < 0 returns to it if the sub-account's equity still
    /// covers its initial requirement.
    pub fn move_isolated_margin(
        &mut self,
        child: AccountId,
        amount: Money,
        model: &dyn MarginModel,
    ) -> Result<()> {
        let parent =
            self.parent(child).ok_or_else(|| Error::input("not an isolated sub-account"))?;
        if amount.is_positive() && amount > self.balance(parent) {
            return Err(Error::input(format!("isolated margin {amount} exceeds the balance")));
        }
        if amount.is_negative() {
            let left = self.equity(child)?.checked_add(amount)?;
            if left < self.requirement(child, model)?.initial || left.is_negative() {
                return Err(Error::input("margin return would leave the position under initial"));
            }
        }
        self.journal.transfer(
            Book::Trader(parent),
            Book::Trader(child),
            amount,
            Reason::MarginTransfer,
        )
    }

    fn account(&self, a: AccountId) -> Result<usize> {
        let i = a.0 as usize;
        if i < self.positions.len() {
            Ok(i)
        } else {
            Err(Error::input(format!("no account {}", a.0)))
        }
    }

    pub fn deposit(&mut self, a: AccountId, amount: Money) -> Result<()> {
        self.account(a)?;
        self.journal.deposit(Book::Trader(a), amount)
    }

    pub fn fund_deposit(&mut self, amount: Money) -> Result<()> {
        self.journal.deposit(Book::InsuranceFund, amount)
    }

    /// Withdraws if equity after it still covers the initial requirement.
    pub fn withdraw(&mut self, a: AccountId, amount: Money, model: &dyn MarginModel) -> Result<()> {
        let equity = self.equity(a)?.checked_sub(amount)?;
        if equity < self.requirement(a, model)?.initial {
            return Err(Error::input(format!(
                "withdrawal {amount} would leave equity below initial margin"
            )));
        }
        self.journal.withdraw(Book::Trader(a), amount)
    }

    pub fn balance(&self, a: AccountId) -> Money {
        self.journal.balance(Book::Trader(a))
    }

    pub fn insurance_fund(&self) -> Money {
        self.journal.balance(Book::InsuranceFund)
    }

    pub fn positions(&self, a: AccountId) -> &[Position] {
        self.positions.get(a.0 as usize).map_or(&[], Vec::as_slice)
    }

    pub fn position(&self, a: AccountId, i: InstrumentId) -> Qty {
        Qty::from_lots(self.positions(a).iter().find(|p| p.instrument == i).map_or(0, |p| p.qty))
    }

    pub fn open_interest(&self, i: InstrumentId) -> Qty {
        Qty::from_lots(self.long_oi.get(i.0 as usize).copied().unwrap_or(0))
    }

    pub fn liquidations(&self) -> &[LiquidationRecord] {
        &self.liquidations
    }

    fn value(&self, p: &Position) -> Result<Money> {
        let i = p.instrument.0 as usize;
        self.instruments[i].spec.notional(self.marks[i], Qty::from_lots(p.qty))
    }

    /// Unrealized P&L of one position at its mark: mark value - cost basis.
    pub fn unrealized(&self, p: &Position) -> Result<Money> {
        self.value(p)?.checked_sub(p.cost)
    }

    /// balance + perpetual unrealized P&L + option mark value, at the current marks.
    pub fn equity(&self, a: AccountId) -> Result<Money> {
        let mut e = self.balance(a);
        for p in self.positions(a) {
            let part = match self.instruments[p.instrument.0 as usize].kind {
                InstrumentKind::Perpetual => self.unrealized(p)?,
                InstrumentKind::Option { .. } => self.value(p)?,
            };
            e = e.checked_add(part)?;
        }
        Ok(e)
    }

    pub fn view(&self, a: AccountId) -> AccountView<'_> {
        AccountView {
            positions: self.positions(a),
            instruments: &self.instruments,
            marks: &self.marks,
        }
    }

    pub fn requirement(&self, a: AccountId, model: &dyn MarginModel) -> Result<Requirement> {
        model.requirement(&self.view(a))
    }

    /// Exchange-level check before an order reaches the book: reduce-only, the position
    /// and leverage limits, and initial margin at mark after the order fills in full.
    /// Reducing always passes.
    pub fn check_order(
        &self,
        a: AccountId,
        i: InstrumentId,
        side: Side,
        qty: Qty,
        reduce_only: bool,
        model: &dyn MarginModel,
    ) -> Result<bool> {
        let old = self.position(a, i).lots();
        let delta = if side == Side::Buy { qty.lots() } else { -qty.lots() };
        let new = old.checked_add(delta).ok_or(Error::overflow("position"))?;
        let reduces = new.abs() <= old.abs() && new.signum() * old.signum() >= 0;
        if reduces {
            return Ok(true);
        }
        if reduce_only || self.config.max_position.is_some_and(|max| new.abs() > max) {
            return Ok(false);
        }
        let mut hypothetical: Vec<Position> = self.positions(a).to_vec();
        match hypothetical.iter_mut().find(|p| p.instrument == i) {
            Some(p) => p.qty = new,
            None => hypothetical.push(Position { instrument: i, qty: new, cost: Money::ZERO }),
        }
        let view = AccountView {
            positions: &hypothetical,
            instruments: &self.instruments,
            marks: &self.marks,
        };
        let equity = self.equity(a)?;
        if let Some(max) = self.config.max_leverage {
            let mut gross = Money::ZERO;
            for p in &hypothetical {
                let k = p.instrument.0 as usize;
                let n = self.instruments[k].spec.notional(self.marks[k], Qty::from_lots(p.qty))?;
                gross = gross.checked_add(n.abs()?)?;
            }
            // gross <= max x equity, in integers: max taken to 12 decimals.
            if !equity.is_positive() || gross > equity.mul_rate_floor(max)? {
                return Ok(false);
            }
        }
        Ok(equity >= model.requirement(&view)?.initial)
    }

    /// Moves `delta` lots of `i` at `price` into account `a`'s position; pays realized
    /// perpetual P&L from the settlement account (with `reason`) or option premium to
    /// `counterparty`. Returns the realized P&L.
    fn trade(
        &mut self,
        a: AccountId,
        i: InstrumentId,
        delta: i64,
        price: Price,
        reason: Reason,
    ) -> Result<Money> {
        let inst = *self.instrument(i)?;
        let ai = self.account(a)?;
        let k = match self.positions[ai].iter().position(|p| p.instrument == i) {
            Some(k) => k,
            None => {
                self.positions[ai].push(Position { instrument: i, qty: 0, cost: Money::ZERO });
                self.positions[ai].len() - 1
            }
        };
        let Position { qty: old, cost, .. } = self.positions[ai][k];
        let mut cost = cost;
        let mut realized = Money::ZERO;
        let mut open_delta = delta;
        if old != 0 && old.signum() != delta.signum() {
            let closed = delta.abs().min(old.abs());
            let portion = cost.mul_div_floor(closed, old.abs())?;
            let proceeds = inst.spec.notional(price, Qty::from_lots(old.signum() * closed))?;
            realized = proceeds.checked_sub(portion)?;
            cost = cost.checked_sub(portion)?;
            open_delta = delta + old.signum() * closed;
        }
        if open_delta != 0 {
            cost = cost.checked_add(inst.spec.notional(price, Qty::from_lots(open_delta))?)?;
        }
        let new = old.checked_add(delta).ok_or(Error::overflow("position"))?;
        self.long_oi[i.0 as usize] += new.max(0) - old.max(0);
        if new == 0 {
            // closed == |old| released the whole basis: cost is zero here.
            self.positions[ai].swap_remove(k);
        } else {
            self.positions[ai][k] = Position { instrument: i, qty: new, cost };
        }
        match inst.kind {
            InstrumentKind::Perpetual => {
                self.journal.transfer(Book::Settlement, Book::Trader(a), realized, reason)?
            }
            InstrumentKind::Option { .. } => {
                // Premium: the buyer pays the notional, the seller receives it.
                let paid = inst.spec.notional(price, Qty::from_lots(delta))?;
                self.journal.transfer(Book::Trader(a), Book::Settlement, paid, Reason::Premium)?;
            }
        }
        Ok(realized)
    }

    fn charge_fee(&mut self, a: AccountId, notional: Money, ppm: i64) -> Result<Money> {
        let fee = if ppm >= 0 {
            ppm_ceil(notional, ppm)?
        } else {
            ppm_floor(notional, ppm.checked_neg().ok_or(Error::overflow("fee"))?)?.checked_neg()?
        };
        self.journal.transfer(Book::Trader(a), Book::FeeIncome, fee, Reason::Fee)?;
        Ok(fee)
    }

    /// Settles a book fill: the taker traded `aggressor` side against the maker. Both
    /// positions, realized P&L, premiums and fees move; returns (maker fee, taker fee).
    /// An account left flat below zero goes down the waterfall at once.
    pub fn apply_fill(
        &mut self,
        maker: AccountId,
        taker: AccountId,
        i: InstrumentId,
        price: Price,
        qty: Qty,
        aggressor: Side,
    ) -> Result<(Money, Money)> {
        if qty.lots() <= 0 || maker == taker {
            return Err(Error::input("a fill needs a positive quantity and two accounts"));
        }
        self.account(maker)?;
        self.account(taker)?;
        let lots = if aggressor == Side::Buy { qty.lots() } else { -qty.lots() };
        self.trade(taker, i, lots, price, Reason::RealizedPnl)?;
        self.trade(maker, i, -lots, price, Reason::RealizedPnl)?;
        let notional = self.instrument(i)?.spec.notional(price, qty)?;
        let mf = self.charge_fee(maker, notional, self.config.maker_fee_ppm)?;
        let tf = self.charge_fee(taker, notional, self.config.taker_fee_ppm)?;
        self.resolve_if_flat(maker)?;
        self.resolve_if_flat(taker)?;
        Ok((mf, tf))
    }

    /// Pays funding on perpetual `i` at `rate` (positive: longs pay shorts) on notional at
    /// its mark. Payers first, rounded up; receivers rounded down; the residual (>= 0)
    /// stays in fee income. Returns the residual.
    pub fn pay_funding(&mut self, i: InstrumentId, rate: f64) -> Result<Money> {
        let inst = *self.instrument(i)?;
        if inst.kind != InstrumentKind::Perpetual {
            return Err(Error::input("funding is paid on perpetuals only"));
        }
        let mark = self.marks[i.0 as usize];
        let mut residual = Money::ZERO;
        for payer_pass in [true, false] {
            for ai in 0..self.positions.len() {
                let q = self.position(AccountId(ai as u32), i).lots();
                if q == 0 {
                    continue;
                }
                let notional = inst.spec.notional(mark, Qty::from_lots(q))?;
                let owed = notional.mul_rate_ceil(rate)?;
                let a = Book::Trader(AccountId(ai as u32));
                if payer_pass && owed.is_positive() {
                    self.journal.transfer(a, Book::FeeIncome, owed, Reason::Funding)?;
                    residual = residual.checked_add(owed)?;
                } else if !payer_pass && owed.is_negative() {
                    let due = notional.checked_neg()?.mul_rate_floor(rate)?;
                    self.journal.transfer(Book::FeeIncome, a, due, Reason::Funding)?;
                    residual = residual.checked_sub(due)?;
                }
            }
        }
        Ok(residual)
    }

    /// Cash-settles option `i` at `index` (in the option's ticks): each position receives
    /// qty x max(0, +/-(index - strike)) through the settlement account, then is closed.
    /// Accounts left flat below zero go down the waterfall.
    pub fn expire(&mut self, i: InstrumentId, index: Price) -> Result<()> {
        let inst = *self.instrument(i)?;
        let InstrumentKind::Option { call, strike, .. } = inst.kind else {
            return Err(Error::input("only options expire"));
        };
        let intrinsic =
            if call { index.ticks() - strike.ticks() } else { strike.ticks() - index.ticks() };
        let intrinsic = Price::from_ticks(intrinsic.max(0));
        // Payers (shorts in the money) first, so the settlement account never lends.
        for pay_pass in [true, false] {
            for ai in 0..self.positions.len() {
                let a = AccountId(ai as u32);
                let q = self.position(a, i).lots();
                if q == 0 || (q < 0) != pay_pass {
                    continue;
                }
                let amount = inst.spec.notional(intrinsic, Qty::from_lots(q))?;
                self.journal.transfer(
                    Book::Settlement,
                    Book::Trader(a),
                    amount,
                    Reason::Settlement,
                )?;
                self.positions[ai].retain(|p| p.instrument != i);
            }
        }
        self.long_oi[i.0 as usize] = 0;
        for ai in 0..self.positions.len() {
            self.resolve_if_flat(AccountId(ai as u32))?;
        }
        Ok(())
    }

    /// Exact bankruptcy price of `a`'s position in `i` (others held at their marks):
    /// mark - equity / (qty x tick-lot value), rounded to the tick that leaves equity >= 0.
    pub fn bankruptcy_price(&self, a: AccountId, i: InstrumentId) -> Result<Option<Price>> {
        let q = self.position(a, i).lots();
        if q == 0 {
            return Ok(None);
        }
        let v = i128::from(self.instrument(i)?.spec.tick_lot_value().micros());
        let equity = i128::from(self.equity(a)?.micros());
        let den = i128::from(q) * v;
        // For a long, ceil(mark - E / (q v)) = mark - floor(E / (q v)); for a short
        // (den < 0) floor(mark - E / den) = mark - ceil(E / den).
        let mark = i128::from(self.mark(i).ticks());
        let shift = if q > 0 {
            equity.div_euclid(den)
        } else {
            let d = -den;
            let e = -equity;
            e.div_euclid(d) + i128::from(e.rem_euclid(d) != 0)
        };
        let b = (mark - shift).max(0);
        i64::try_from(b)
            .map(|t| Some(Price::from_ticks(t)))
            .map_err(|_| Error::overflow("bankruptcy price"))
    }

    /// Exact liquidation trigger of an account holding one perpetual position and
    /// nothing else, under a maintenance of `maintenance_ppm` of notional at mark:
    /// a long is below maintenance when balance + q v P - cost < m q v P, that is at
    /// P < (cost - balance) / (q v (1 - m)); a short (q = -n) when
    /// P > (balance - cost) / (n v (1 + m)). Returns the side the price must cross and
    /// the trigger in ticks, rounded so the index visits the account early (a long's
    /// trigger rounded up, a short's down); `None` for any other portfolio, whose
    /// trigger the margin policy must supply.
    pub fn linear_trigger(
        &self,
        a: AccountId,
        maintenance_ppm: i64,
    ) -> Result<Option<(Side, Price)>> {
        let [p] = self.positions(a) else { return Ok(None) };
        let inst = self.instrument(p.instrument)?;
        if inst.kind != InstrumentKind::Perpetual {
            return Ok(None);
        }
        let v = i128::from(inst.spec.tick_lot_value().micros());
        let m = i128::from(maintenance_ppm);
        let num = (i128::from(p.cost.micros()) - i128::from(self.balance(a).micros())) * 1_000_000;
        let overflow = || Error::overflow("trigger price");
        if p.qty > 0 {
            let den = i128::from(p.qty) * v * (1_000_000 - m);
            if den <= 0 {
                return Ok(None);
            }
            // Liquidatable strictly below num / den: the highest such tick is
            // ceil(num / den) - 1, and the index is inclusive, so key it there.
            let t = num.div_euclid(den) + i128::from(num.rem_euclid(den) != 0) - 1;
            let t = i64::try_from(t.max(-1)).map_err(|_| overflow())?;
            Ok(Some((Side::Sell, Price::from_ticks(t))))
        } else {
            let den = -i128::from(p.qty) * v * (1_000_000 + m);
            let neg = -num;
            // Liquidatable strictly above neg / den: the lowest such tick is
            // floor(neg / den) + 1.
            let t = neg.div_euclid(den) + 1;
            let t = i64::try_from(t).map_err(|_| overflow())?;
            Ok(Some((Side::Buy, Price::from_ticks(t))))
        }
    }

    /// Trigger check: if equity < maintenance, opens liquidation of `a` and pushes its
    /// IOC orders (bounded at the bankruptcy price) into `out`. Partial when configured
    /// and enough: the smallest multiple of the step that brings the initial requirement
    /// of what is left under the equity; full otherwise.
    pub fn check_liquidation(
        &mut self,
        a: AccountId,
        now: SimTime,
        cause: Cause,
        model: &dyn MarginModel,
        out: &mut Vec<LiquidationOrder>,
    ) -> Result<Option<LiquidationId>> {
        let ai = self.account(a)?;
        if self.positions[ai].is_empty() || self.liquidating[ai].is_some() {
            return Ok(None);
        }
        let equity = self.equity(a)?;
        let req = self.requirement(a, model)?;
        if equity >= req.maintenance {
            return Ok(None);
        }
        let step = self.config.partial_step_ppm.clamp(1, 1_000_000);
        let mut share_ppm = 1_000_000;
        if self.config.partial && equity.is_positive() && req.initial.is_positive() {
            if let Some(t) = self.last_liquidation[ai]
                && now < t.plus(self.config.cooldown)
            {
                return Ok(None);
            }
            // Keep a share s with s x IM <= equity: close 1 - s, rounded up to a step.
            let keep = i128::from(equity.micros()) * 1_000_000 / i128::from(req.initial.micros());
            let close = 1_000_000 - keep.min(1_000_000) as i64;
            share_ppm = (close + step - 1) / step * step;
        }
        let partial = share_ppm < 1_000_000;
        let id = LiquidationId(
            u32::try_from(self.liquidations.len()).map_err(|_| Error::overflow("liquidations"))?,
        );
        let mut orders = Vec::new();
        for p in self.positions[ai].clone() {
            let lots = if partial {
                ((i128::from(p.qty.abs()) * i128::from(share_ppm) + 999_999) / 1_000_000) as i64
            } else {
                p.qty.abs()
            };
            let bound = self.bankruptcy_price(a, p.instrument)?.unwrap_or(Price::ZERO);
            orders.push(LiquidationOrder {
                liquidation: id,
                account: a,
                instrument: p.instrument,
                side: if p.qty > 0 { Side::Sell } else { Side::Buy },
                qty: Qty::from_lots(lots),
                bound_price: bound,
            });
        }
        out.extend_from_slice(&orders);
        self.last_liquidation[ai] = Some(now);
        self.liquidating[ai] = Some(id);
        self.liquidations.push(LiquidationRecord {
            id,
            account: a,
            at: now,
            cause,
            partial,
            filled: vec![0; orders.len()],
            orders,
            book_notional: Money::ZERO,
            backstop_qty: 0,
            adl_qty: 0,
            fee: Money::ZERO,
            fund_paid: Money::ZERO,
            socialized: Money::ZERO,
            unpaid: Money::ZERO,
            finished: false,
        });
        Ok(Some(id))
    }

    fn record(&mut self, id: LiquidationId) -> Result<&mut LiquidationRecord> {
        self.liquidations
            .get_mut(id.0 as usize)
            .ok_or_else(|| Error::input(format!("no liquidation {}", id.0)))
    }

    /// A book fill of liquidation order `order` (index into the record's orders) against
    /// `maker` at `price`: the maker pays its maker fee, the liquidated account pays no
    /// trading fee (it pays the liquidation fee at the end).
    pub fn liquidation_fill(
        &mut self,
        id: LiquidationId,
        order: usize,
        maker: AccountId,
        price: Price,
        qty: Qty,
    ) -> Result<()> {
        let rec = self.record(id)?;
        let o = *rec.orders.get(order).ok_or_else(|| Error::input("no such liquidation order"))?;
        if maker == o.account {
            return Err(Error::input("a liquidation cannot fill against its own account"));
        }
        let left = o.qty.lots() - rec.filled[order];
        if qty.lots() <= 0 || qty.lots() > left || rec.finished {
            return Err(Error::input("liquidation fill beyond the order"));
        }
        let beyond = match o.side {
            Side::Sell => price < o.bound_price,
            Side::Buy => price > o.bound_price,
        };
        if beyond {
            return Err(Error::input("liquidation fill beyond the bankruptcy bound"));
        }
        rec.filled[order] += qty.lots();
        let lots = if o.side == Side::Buy { qty.lots() } else { -qty.lots() };
        self.trade(o.account, o.instrument, lots, price, Reason::RealizedPnl)?;
        self.trade(maker, o.instrument, -lots, price, Reason::RealizedPnl)?;
        let notional = self.instrument(o.instrument)?.spec.notional(price, qty)?;
        self.charge_fee(maker, notional, self.config.maker_fee_ppm)?;
        let rec = self.record(id)?;
        rec.book_notional = rec.book_notional.checked_add(notional)?;
        self.resolve_if_flat(maker)
    }

    /// Opposing positions in `i` for a bankrupt position of sign `sign`, best ranked
    /// first: profitable ones by the configured ranking, ties by account id.
    pub fn adl_queue(
        &self,
        i: InstrumentId,
        sign: i64,
        except: AccountId,
    ) -> Result<Vec<(AccountId, bool)>> {
        let mut ranked: Vec<(bool, f64, u32)> = Vec::new();
        for ai in 0..self.positions.len() {
            let a = AccountId(ai as u32);
            if a == except {
                continue;
            }
            let Some(p) = self.positions[ai].iter().find(|p| p.instrument == i) else { continue };
            if p.qty.signum() != -sign {
                continue;
            }
            let pnl = self.unrealized(p)?;
            let profitable = pnl.is_positive();
            let score = if profitable {
                let pct = pnl.to_f64() / p.cost.to_f64().abs().max(1e-6);
                let equity = self.equity(a)?.to_f64();
                let leverage = if equity > 0.0 {
                    self.value(p)?.to_f64().abs() / equity
                } else {
                    f64::INFINITY
                };
                match self.config.adl_ranking {
                    AdlRanking::PnlTimesLeverage => pct * leverage,
                    AdlRanking::Pnl => pnl.to_f64(),
                    AdlRanking::PnlPercent => pct,
                }
            } else {
                p.qty.abs() as f64
            };
            ranked.push((profitable, score, ai as u32));
        }
        ranked.sort_by(|x, y| y.0.cmp(&x.0).then(y.1.total_cmp(&x.1)).then(x.2.cmp(&y.2)));
        Ok(ranked.into_iter().map(|(p, _, a)| (AccountId(a), p)).collect())
    }

    /// Runs the rest of the waterfall for liquidation `id` once the book has answered
    /// (see the module documentation for the steps).
    pub fn finish_liquidation(&mut self, id: LiquidationId) -> Result<()> {
        let rec = self.record(id)?.clone();
        if rec.finished {
            return Err(Error::input("liquidation already finished"));
        }
        let a = rec.account;
        let mut closed_notional = rec.book_notional;
        let (mut backstop_qty, mut adl_qty) = (0i64, 0i64);
        for (k, o) in rec.orders.iter().enumerate() {
            let mut left = o.qty.lots() - rec.filled[k];
            let held = self.position(a, o.instrument).lots();
            left = left.min(held.abs());
            if left == 0 {
                continue;
            }
            let sign = held.signum();
            let spec = self.instrument(o.instrument)?.spec;
            if let Some(b) = self.config.backstop.filter(|&b| b != a) {
                let price = self.bankruptcy_price(a, o.instrument)?.unwrap_or(Price::ZERO);
                self.transfer_position(
                    a,
                    b,
                    o.instrument,
                    -sign * left,
                    price,
                    Reason::RealizedPnl,
                )?;
                closed_notional =
                    closed_notional.checked_add(spec.notional(price, Qty::from_lots(left))?)?;
                backstop_qty += left;
                continue;
            }
            // The deficit if the remainder closed at the mark: the fund pays it if it can.
            let mark = self.mark(o.instrument);
            let after = self.equity(a)?;
            let fund_can_pay =
                after.is_positive() || self.insurance_fund() >= after.checked_neg()?;
            let bankrupt = self.bankruptcy_price(a, o.instrument)?.unwrap_or(Price::ZERO);
            let queue = self.adl_queue(o.instrument, sign, a)?;
            for (w, profitable) in queue {
                if left == 0 {
                    break;
                }
                let take = self.position(w, o.instrument).lots().abs().min(left);
                let price = if profitable && !fund_can_pay { bankrupt } else { mark };
                self.transfer_position(a, w, o.instrument, -sign * take, price, Reason::Adl)?;
                let n = spec.notional(price, Qty::from_lots(take))?;
                closed_notional = closed_notional.checked_add(n)?;
                if price == bankrupt && profitable && !fund_can_pay {
                    self.adl_notional = self.adl_notional.checked_add(n)?;
                }
                adl_qty += take;
                left -= take;
            }
        }
        let fee = ppm_ceil(closed_notional, self.config.liquidation_fee_ppm)?
            .min(self.equity(a)?.max(Money::ZERO));
        self.journal.transfer(Book::Trader(a), Book::InsuranceFund, fee, Reason::LiquidationFee)?;
        let before = (self.fund_paid, self.socialized, self.unpaid);
        self.liquidating[a.0 as usize] = None;
        self.resolve_if_flat(a)?;
        let rec = self.record(id)?;
        rec.backstop_qty = backstop_qty;
        rec.adl_qty = adl_qty;
        rec.fee = fee;
        rec.finished = true;
        let (fp, so, un) = (self.fund_paid, self.socialized, self.unpaid);
        let rec = self.record(id)?;
        rec.fund_paid = fp.checked_sub(before.0)?;
        rec.socialized = so.checked_sub(before.1)?;
        rec.unpaid = un.checked_sub(before.2)?;
        Ok(())
    }

    /// Moves `delta` lots (signed, for `to`) of `i` from `from` to `to` at `price`, no fee.
    fn transfer_position(
        &mut self,
        from: AccountId,
        to: AccountId,
        i: InstrumentId,
        delta_from: i64,
        price: Price,
        reason: Reason,
    ) -> Result<()> {
        self.trade(from, i, delta_from, price, Reason::RealizedPnl)?;
        self.trade(to, i, -delta_from, price, reason)?;
        // A counterparty closed at a loss may be left flat below zero.
        self.resolve_if_flat(to)
    }

    /// A flat account below zero: the fund pays what it can, the rest is socialized
    /// across accounts with unrealized profit, and what nobody can pay becomes the
    /// bad-debt claim.
    fn resolve_if_flat(&mut self, a: AccountId) -> Result<()> {
        let ai = self.account(a)?;
        let debt = self.balance(a).checked_neg()?;
        if !self.positions[ai].is_empty() || !debt.is_positive() || self.liquidating[ai].is_some() {
            return Ok(());
        }
        self.bad_debt = self.bad_debt.checked_add(debt)?;
        let paid = debt.min(self.insurance_fund().max(Money::ZERO));
        self.journal.transfer(Book::InsuranceFund, Book::Trader(a), paid, Reason::BadDebtCover)?;
        self.fund_paid = self.fund_paid.checked_add(paid)?;
        let rest = debt.checked_sub(paid)?;
        if rest.is_positive() {
            let social = self.socialize(a, rest)?;
            let unpaid = rest.checked_sub(social)?;
            self.journal.transfer(Book::BadDebt, Book::Trader(a), unpaid, Reason::UnpaidClaim)?;
            self.unpaid = self.unpaid.checked_add(unpaid)?;
        }
        Ok(())
    }

    fn socialize(&mut self, a: AccountId, amount: Money) -> Result<Money> {
        let mut winners: Vec<(Money, u32)> = Vec::new();
        let mut total = Money::ZERO;
        for ai in 0..self.positions.len() {
            let w = AccountId(ai as u32);
            if w == a || self.positions[ai].is_empty() {
                continue;
            }
            let mut pnl = Money::ZERO;
            for p in &self.positions[ai] {
                pnl = pnl.checked_add(self.unrealized(p)?)?;
            }
            // Never more than the winner's equity, so paying leaves it >= 0.
            let base = pnl.min(self.equity(w)?);
            if base.is_positive() {
                winners.push((base, ai as u32));
                total = total.checked_add(base)?;
            }
        }
        let covered = amount.min(total);
        if !covered.is_positive() {
            return Ok(Money::ZERO);
        }
        let mut taken = Money::ZERO;
        let mut shares: Vec<Money> = Vec::with_capacity(winners.len());
        for &(base, _) in &winners {
            let s = covered.mul_div_floor(base.micros(), total.micros())?;
            taken = taken.checked_add(s)?;
            shares.push(s);
        }
        // Remainder: fewer micro-units than winners; one each from the largest bases.
        let mut order: Vec<usize> = (0..winners.len()).collect();
        order.sort_by(|&x, &y| {
            winners[y].0.cmp(&winners[x].0).then(winners[x].1.cmp(&winners[y].1))
        });
        let mut rem = covered.checked_sub(taken)?.micros();
        for &k in order.iter().cycle() {
            if rem <= 0 {
                break;
            }
            if shares[k] < winners[k].0 {
                shares[k] = shares[k].checked_add(Money::from_micros(1))?;
                rem -= 1;
            }
        }
        for (k, &(_, w)) in winners.iter().enumerate() {
            self.journal.transfer(
                Book::Trader(AccountId(w)),
                Book::Trader(a),
                shares[k],
                Reason::SocializedLoss,
            )?;
        }
        self.socialized = self.socialized.checked_add(covered)?;
        Ok(covered)
    }

    pub fn solvency(&self, model: &dyn MarginModel) -> Result<Solvency> {
        let mut held = Money::ZERO;
        let mut required = Money::ZERO;
        for ai in 0..self.positions.len() {
            let a = AccountId(ai as u32);
            if self.positions[ai].is_empty() {
                continue;
            }
            held = held.checked_add(self.equity(a)?.max(Money::ZERO))?;
            required = required.checked_add(self.requirement(a, model)?.initial)?;
        }
        let fund = self.insurance_fund();
        Ok(Solvency {
            insurance_fund: fund,
            bad_debt: self.bad_debt,
            fund_paid: self.fund_paid,
            adl_notional: self.adl_notional,
            socialized: self.socialized,
            unpaid: self.unpaid,
            margin_held: held,
            margin_required: required,
            solvent: !fund.is_negative() && self.unpaid == Money::ZERO,
        })
    }

    /// Every invariant, from scratch: money conserved; open interest long = short and as
    /// tracked per instrument; every position owned by an existing account and on an
    /// existing instrument, no zero positions kept; the settlement account equal to minus
    /// the perpetual cost bases; no flat account below zero (losses went down the
    /// waterfall and are recorded); the bad-debt claim equal to the recorded unpaid loss.
    pub fn check(&self) -> Result<()> {
        let fail = |m: String| Err(Error::Internal(m));
        let error = self.journal.conservation_error()?;
        if error != Money::ZERO {
            return fail(format!("conservation error {error}"));
        }
        if self.journal.traders() != self.positions.len() {
            return fail("positions without an account".into());
        }
        let n = self.instruments.len();
        let (mut long, mut short) = (vec![0i64; n], vec![0i64; n]);
        let mut settlement = Money::ZERO;
        for (ai, ps) in self.positions.iter().enumerate() {
            for p in ps {
                let i = p.instrument.0 as usize;
                if i >= n || p.qty == 0 {
                    return fail(format!("account {ai}: bad position {p:?}"));
                }
                long[i] += p.qty.max(0);
                short[i] += (-p.qty).max(0);
                if self.instruments[i].kind == InstrumentKind::Perpetual {
                    settlement = settlement.checked_sub(p.cost)?;
                }
            }
            let settled = self.liquidating[ai].is_none();
            if settled && ps.is_empty() && self.balance(AccountId(ai as u32)).is_negative() {
                return fail(format!("account {ai} flat below zero without recorded bad debt"));
            }
        }
        for i in 0..n {
            if long[i] != short[i] || long[i] != self.long_oi[i] {
                return fail(format!(
                    "instrument {i}: long {} short {} tracked {}",
                    long[i], short[i], self.long_oi[i]
                ));
            }
        }
        if self.journal.balance(Book::Settlement) != settlement {
            return fail(format!(
                "settlement {} != -cost basis {settlement}",
                self.journal.balance(Book::Settlement)
            ));
        }
        for (ai, parent) in self.parents.iter().enumerate() {
            if let Some(pa) = parent
                && (pa.0 as usize >= self.parents.len() || self.parents[pa.0 as usize].is_some())
            {
                return fail(format!("isolated account {ai} has no valid owner"));
            }
        }
        if self.journal.balance(Book::BadDebt).checked_neg()? != self.unpaid {
            return fail("bad-debt claim differs from the recorded unpaid loss".into());
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "venue_tests.rs"]
mod tests;
