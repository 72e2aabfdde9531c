//! The population: agent groups, their members' accounts, state and wallets.
//!
//! Accounts are opened group by group in scenario order, each member's draws (deposit,
//! leverage, side) from its own random stream, so adding a group does not shift another
//! group's draws. Isolated margin: a group with `margin_mode = "isolated"` has a wallet
//! per member, opened first so that the members' own (isolated) accounts stay one
//! contiguous range; each isolated account holds `position_share` of the deposit.
//!
//! Collateral: a cross-margin leveraged trader holds each collateral asset's `share` of
//! its drawn deposit in that asset (bought at the asset's price at the start, rounded to
//! the nearest micro-unit of it), the rest in quote. Makers, isolated accounts and their
//! wallets hold quote only. The split draws nothing, so no other draw moves.

use crate::outcome::{LEVERAGE_BAND_EDGES, LeverageBand};
use liqsim_agents::behaviour::{State, Status};
use liqsim_agents::{AgentGroup, AgentKind, Sampler};
use liqsim_core::{Money, Result, SimTime, StreamId};
use liqsim_exchange::{AccountId, AssetId, Exchange};
use rand::RngExt;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Member {
    pub state: State,
    pub wakes: u32,
    /// Ever held a position / was liquidated (the leverage bands of the outcome).
    pub opened: bool,
    pub liquidated: bool,
    /// Notional / equity when it last opened.
    pub effective_leverage: f32,
    pub pending_wake: Option<SimTime>,
    /// A wake event is live only while its generation matches the member's: a wake
    /// rescheduled earlier leaves a stale event behind.
    pub wake_gen: u16,
}

#[derive(Debug)]
pub(crate) struct Group {
    pub config: AgentGroup,
    pub first_account: u32,
    /// Isolated margin: member m's wallet is account `first_wallet + m`, the owner of its
    /// isolated account `first_account + m`.
    pub first_wallet: Option<u32>,
    pub members: Vec<Member>,
    pub latency: Sampler,
}

impl Group {
    pub fn account(&self, m: usize) -> AccountId {
        AccountId(self.first_account + m as u32)
    }

    pub fn is_maker(&self) -> bool {
        self.config.maker().is_some()
    }
}

#[derive(Debug)]
pub(crate) struct Population {
    pub groups: Vec<Group>,
}

/// Opens an account holding `amount` split between quote and the collateral assets.
fn open_with_collateral(
    exchange: &mut Exchange,
    amount: Money,
    collateral: &[(f64, f64)],
) -> Result<AccountId> {
    let mut quote = amount;
    let mut units = Vec::with_capacity(collateral.len());
    for &(share, price) in collateral {
        let part = Money::round_from_f64(amount.to_f64() * share)?;
        quote = quote.checked_sub(part)?;
        units.push(Money::round_from_f64(part.to_f64() / price)?.micros());
    }
    let a = exchange.open_account(quote.max(Money::ZERO))?;
    for (k, &u) in units.iter().enumerate() {
        if u > 0 {
            exchange.deposit_collateral(a, AssetId(k as u16), u)?;
        }
    }
    Ok(a)
}

impl Population {
    /// Opens every group's accounts (wallets first under isolated margin).
    /// `collateral`: (share of a trader's deposit, price at the start) of each asset
    /// listed on `exchange`, by `AssetId`.
    pub fn open(
        agents: &[AgentGroup],
        max_leverage: f64,
        seed: u64,
        collateral: &[(f64, f64)],
        exchange: &mut Exchange,
    ) -> Result<Population> {
        let mut groups = Vec::with_capacity(agents.len());
        for (gi, g) in agents.iter().enumerate() {
            let deposit = Sampler::new(&g.deposit)?;
            let leverage = Sampler::new(&g.leverage)?;
            let isolated = g.trader().is_some_and(|t| t.isolated);
            let first_wallet = isolated.then_some(exchange.accounts() as u32);
            // A member's draws, the same for its wallet and its account.
            let member_draws = |m: u32| {
                StreamId::named("agents").with_index(gi as u64).with_index(u64::from(m)).rng(seed)
            };
            let mut margins = Vec::new();
            if isolated {
                let share = g.trader().map_or(1.0, |t| t.position_share);
                margins.reserve(g.count as usize);
                for m in 0..g.count {
                    let mut rng = member_draws(m);
                    let amount = Money::round_from_f64(deposit.sample(&mut rng))?;
                    exchange.open_account(amount)?;
                    margins.push(Money::round_from_f64(amount.to_f64() * share)?);
                }
            }
            let first_account = exchange.accounts() as u32;
            let mut members = Vec::with_capacity(g.count as usize);
            for m in 0..g.count {
                let mut rng = member_draws(m);
                let amount = Money::round_from_f64(deposit.sample(&mut rng))?;
                let lev = leverage.sample(&mut rng).min(max_leverage) as f32;
                let long = rng.random::<f64>() < g.long_fraction;
                match first_wallet {
                    Some(w) => {
                        exchange.open_isolated(AccountId(w + m), margins[m as usize])?;
                    }
                    None if g.trader().is_some() && !collateral.is_empty() => {
                        open_with_collateral(exchange, amount, collateral)?;
                    }
                    None => {
                        exchange.open_account(amount)?;
                    }
                }
                members.push(Member {
                    state: State {
                        deposit: amount.to_f64(),
                        leverage: f64::from(lev),
                        long,
                        status: Status::Waiting,
                        warned: false,
                        hold_until: None,
                    },
                    wakes: 0,
                    opened: false,
                    liquidated: false,
                    effective_leverage: 0.0,
                    pending_wake: None,
                    wake_gen: 0,
                });
            }
            groups.push(Group {
                latency: Sampler::new(&g.latency)?,
                config: g.clone(),
                first_account,
                first_wallet,
                members,
            });
        }
        Ok(Population { groups })
    }

    /// (group, member) of an account, if an agent owns it.
    pub fn member_of(&self, a: AccountId) -> Option<(usize, usize)> {
        let gi = self.groups.partition_point(|g| g.first_account <= a.0).checked_sub(1)?;
        let m = (a.0 - self.groups[gi].first_account) as usize;
        (m < self.groups[gi].members.len()).then_some((gi, m))
    }

    pub fn account(&self, gi: usize, m: usize) -> AccountId {
        self.groups[gi].account(m)
    }

    /// What member m stakes on a position: deposit x position_share.
    pub fn stake(&self, gi: usize, m: usize) -> Result<Money> {
        let g = &self.groups[gi];
        let share = g.config.trader().map_or(1.0, |t| t.position_share);
        Money::round_from_f64(g.members[m].state.deposit * share)
    }

    /// The cash in member m's wallet beside its isolated account (zero under cross margin).
    pub fn wallet_cash(&self, exchange: &Exchange, gi: usize, m: usize) -> Money {
        self.groups[gi].first_wallet.map_or(Money::ZERO, |w| exchange.cash(AccountId(w + m as u32)))
    }

    /// A liquidated member is out (its account is spent).
    pub fn mark_out(&mut self, a: AccountId) {
        if let Some((gi, m)) = self.member_of(a) {
            let member = &mut self.groups[gi].members[m];
            member.state.status = Status::Out;
            member.liquidated = true;
        }
    }

    /// A trader's entry filled: it holds a position now, at the leverage the venue let it
    /// take (its target may be cut down to what initial margin allows).
    pub fn became_open(
        &mut self,
        exchange: &Exchange,
        gi: usize,
        m: usize,
        mark: liqsim_core::Price,
    ) -> Result<()> {
        let a = self.account(gi, m);
        let member = &mut self.groups[gi].members[m];
        member.state.status = Status::Open;
        member.state.warned = false;
        member.opened = true;
        let notional = exchange.notional(a, mark)?.to_f64();
        let equity = exchange.equity(a, mark)?.to_f64();
        if equity > 0.0 {
            member.effective_leverage = (notional / equity) as f32;
        }
        Ok(())
    }

    /// Traders who ever opened, by effective leverage: how many, and how many of them
    /// were liquidated, long and short.
    pub fn leverage_bands(&self) -> Vec<LeverageBand> {
        let mut bands: Vec<LeverageBand> = LEVERAGE_BAND_EDGES
            .windows(2)
            .map(|w| LeverageBand { from: w[0], to: w[1], ..LeverageBand::default() })
            .collect();
        let traders = self.groups.iter().filter(|g| g.config.kind() == AgentKind::LeveragedTrader);
        for member in traders.flat_map(|g| &g.members).filter(|m| m.opened) {
            let lev = f64::from(member.effective_leverage);
            let k = bands.iter().position(|b| lev < b.to).unwrap_or(bands.len() - 1);
            let b = &mut bands[k];
            if member.state.long {
                b.long_opened += 1;
                b.long_liquidated += u64::from(member.liquidated);
            } else {
                b.short_opened += 1;
                b.short_liquidated += u64::from(member.liquidated);
            }
        }
        bands
    }
}
