//! Worked examples of the venue (hand-computed numbers in the comments) and property
//! tests; the invariant checker runs after every operation.
//!
//! Contract for all examples: tick 0.01, lot 1 unit, so one tick on one lot is 0.01 and
//! a price of 100.00 is 10,000 ticks. Fees: maker 200 ppm (2 bp), taker 500 ppm (5 bp),
//! liquidation 5,000 ppm (0.5%). Margin: 10% initial, 5% maintenance of notional.

use super::*;
use proptest::prelude::*;

fn m(x: &str) -> Money {
    Money::from_decimal(x).unwrap()
}

fn p(x: &str) -> Price {
    spec().price_from_decimal(x).unwrap()
}

fn spec() -> ContractSpec {
    ContractSpec::new(m("0.01"), 1_000_000_000).unwrap()
}

const MODEL: FixedFraction = FixedFraction { initial_ppm: 100_000, maintenance_ppm: 50_000 };

fn config() -> VenueConfig {
    VenueConfig {
        maker_fee_ppm: 200,
        taker_fee_ppm: 500,
        liquidation_fee_ppm: 5_000,
        partial: false,
        partial_step_ppm: 250_000,
        cooldown: SimDuration::from_secs(60),
        backstop: None,
        adl_ranking: AdlRanking::PnlTimesLeverage,
        digest: true,
        max_position: None,
        max_leverage: None,
    }
}

fn venue() -> (Venue, InstrumentId) {
    let mut v = Venue::new(config());
    let perp = v
        .add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("100"))
        .unwrap();
    (v, perp)
}

fn ok(v: &Venue) {
    v.check().unwrap();
}

/// A (150) buys 10 @ 100 as taker from `maker`: fee 1000 x 5 bp = 0.5, balance 149.5.
fn leveraged_long(v: &mut Venue, perp: InstrumentId, maker: AccountId) -> AccountId {
    let a = v.open_account(m("150")).unwrap();
    v.apply_fill(maker, a, perp, p("100"), Qty::from_lots(10), Side::Buy).unwrap();
    assert_eq!(v.balance(a), m("149.5"));
    ok(v);
    a
}

fn liquidate(v: &mut Venue, a: AccountId) -> (LiquidationId, Vec<LiquidationOrder>) {
    let mut orders = Vec::new();
    let id = v
        .check_liquidation(a, SimTime::START, Cause::Exogenous, &MODEL, &mut orders)
        .unwrap()
        .unwrap();
    ok(v);
    (id, orders)
}

#[test]
fn fill_realized_pnl_average_entry_and_fees() {
    let (mut v, perp) = venue();
    let a = v.open_account(m("1000")).unwrap();
    let b = v.open_account(m("1000")).unwrap();
    // A buys 3 @ 100 and 1 @ 101 from maker B: cost 300 + 101 = 401, average entry
    // 401 / 4 = 100.25. Fees: A 300 x 5 bp = 0.15 and 101 x 5 bp = 0.0505; B 0.06 and
    // 0.0202.
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(3), Side::Buy).unwrap();
    v.apply_fill(b, a, perp, p("101"), Qty::from_lots(1), Side::Buy).unwrap();
    assert_eq!(v.positions(a)[0].cost, m("401"));
    // A sells 1 @ 103 (taker): releases floor(401 x 1 / 4) = 100.25, realized 2.75;
    // fee 0.0515.
    v.apply_fill(b, a, perp, p("103"), Qty::from_lots(1), Side::Sell).unwrap();
    assert_eq!(v.positions(a)[0].cost, m("300.75"));
    assert_eq!(
        v.balance(a),
        m("1000").checked_sub(m("0.2520")).unwrap().checked_add(m("2.75")).unwrap()
    );
    // B was short 4 at cost -401 and bought 1 back @ 103: realized -100.25... B's basis
    // released floor(-401 / 4) = -100.25, so realized = -103 + 100.25 = -2.75.
    assert_eq!(
        v.balance(b),
        m("1000").checked_sub(m("0.1008")).unwrap().checked_sub(m("2.75")).unwrap()
    );
    assert_eq!(v.open_interest(perp).lots(), 3);
    // A fee with a fraction of a micro rounds up: 0.003 x 5 bp = 0.0000015 -> 0.000002.
    assert_eq!(ppm_ceil(m("0.003"), 500).unwrap(), m("0.000002"));
    ok(&v);
    // Closing everything at the mark leaves the settlement account at zero.
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(3), Side::Sell).unwrap();
    assert_eq!(v.journal().balance(Book::Settlement), Money::ZERO);
    assert_eq!(v.open_interest(perp).lots(), 0);
    ok(&v);
}

#[test]
fn order_checks_reduce_only_and_initial_margin() {
    let (mut v, perp) = venue();
    let a = v.open_account(m("100")).unwrap();
    let b = v.open_account(m("10000")).unwrap();
    // 100 of equity carries 1000 of notional at 10% initial: 10 lots at 100, not 11.
    assert!(v.check_order(a, perp, Side::Buy, Qty::from_lots(10), false, &MODEL).unwrap());
    assert!(!v.check_order(a, perp, Side::Buy, Qty::from_lots(11), false, &MODEL).unwrap());
    assert!(!v.check_order(a, perp, Side::Sell, Qty::from_lots(1), true, &MODEL).unwrap());
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(5), Side::Buy).unwrap();
    assert!(v.check_order(a, perp, Side::Sell, Qty::from_lots(5), true, &MODEL).unwrap());
    assert!(!v.check_order(a, perp, Side::Sell, Qty::from_lots(6), true, &MODEL).unwrap());
    assert!(v.withdraw(a, m("60"), &MODEL).is_err());
    v.withdraw(a, m("40"), &MODEL).unwrap();
    ok(&v);
}

#[test]
fn order_checks_position_and_leverage_limits() {
    let (mut v, perp) = venue();
    v.config.max_position = Some(8);
    v.config.max_leverage = Some(5.0);
    let a = v.open_account(m("200")).unwrap();
    let b = v.open_account(m("10000")).unwrap();
    // Initial margin (10%) would allow 20 lots at 100; the position limit allows 8.
    assert!(v.check_order(a, perp, Side::Buy, Qty::from_lots(8), false, &MODEL).unwrap());
    assert!(!v.check_order(a, perp, Side::Buy, Qty::from_lots(9), false, &MODEL).unwrap());
    // 5x leverage on 200 of equity: at most 1000 of notional, 10 lots; with the limit
    // lifted, 10 passes and 11 does not, though initial margin would allow 20.
    v.config.max_position = None;
    assert!(v.check_order(a, perp, Side::Sell, Qty::from_lots(10), false, &MODEL).unwrap());
    assert!(!v.check_order(a, perp, Side::Sell, Qty::from_lots(11), false, &MODEL).unwrap());
    // A reduction passes whatever the limits: hold 10 then tighten the limits.
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(10), Side::Buy).unwrap();
    v.config.max_position = Some(2);
    v.config.max_leverage = Some(1.0);
    assert!(v.check_order(a, perp, Side::Sell, Qty::from_lots(4), false, &MODEL).unwrap());
    assert!(!v.check_order(a, perp, Side::Buy, Qty::from_lots(1), false, &MODEL).unwrap());
    ok(&v);
}

/// Branch 1: the book absorbs the whole liquidation above the bankruptcy price.
#[test]
fn liquidation_filled_in_book_above_bankruptcy_feeds_the_fund() {
    let (mut v, perp) = venue();
    let maker = v.open_account(m("100000")).unwrap();
    let a = leveraged_long(&mut v, perp, maker);
    // Mark 86: equity 149.5 + 860 - 1000 = 9.5 < maintenance 5% x 860 = 43.
    v.set_mark(perp, p("86")).unwrap();
    assert_eq!(v.equity(a).unwrap(), m("9.5"));
    let (id, orders) = liquidate(&mut v, a);
    // Bankruptcy: 86 - 9.5 / 10 = 85.05, a sell of all 10 lots bounded there.
    assert_eq!(orders.len(), 1);
    assert_eq!(
        (orders[0].side, orders[0].qty.lots(), orders[0].bound_price),
        (Side::Sell, 10, p("85.05"))
    );
    // A fill below the bound is refused.
    let c = v.open_account(m("100000")).unwrap();
    assert!(v.liquidation_fill(id, 0, c, p("85.04"), Qty::from_lots(10)).is_err());
    // Filled at 86: realized 860 - 1000 = -140, balance 9.5; fee 0.5% x 860 = 4.3 to
    // the fund, the account keeps 5.2.
    v.liquidation_fill(id, 0, c, p("86"), Qty::from_lots(10)).unwrap();
    v.finish_liquidation(id).unwrap();
    ok(&v);
    assert_eq!(v.balance(a), m("5.2"));
    assert_eq!(v.insurance_fund(), m("4.3"));
    let r = &v.liquidations()[0];
    assert_eq!((r.fee, r.backstop_qty, r.adl_qty, r.fund_paid), (m("4.3"), 0, 0, Money::ZERO));
    // The maker paid 860 x 2 bp = 0.172.
    assert_eq!(v.balance(c), m("99999.828"));
}

/// Branch 2: the book fills part at the bound, the backstop takes the rest at the
/// bankruptcy price.
#[test]
fn liquidation_filled_to_the_bound_rest_to_backstop() {
    let (mut v, perp) = venue();
    let maker = v.open_account(m("100000")).unwrap();
    let backstop = v.open_account(m("100000")).unwrap();
    v.set_backstop(Some(backstop));
    let a = leveraged_long(&mut v, perp, maker);
    v.set_mark(perp, p("86")).unwrap();
    let (id, orders) = liquidate(&mut v, a);
    let c = v.open_account(m("100000")).unwrap();
    // 4 @ 85.05: releases 400 of basis, realized 340.2 - 400 = -59.8, balance 89.7.
    v.liquidation_fill(id, 0, c, orders[0].bound_price, Qty::from_lots(4)).unwrap();
    assert_eq!(v.balance(a), m("89.7"));
    // Left: 6 lots, cost 600, equity at 86 = 89.7 + 516 - 600 = 5.7, bankruptcy
    // 86 - 5.7 / 6 = 85.05 again: the bound is consistent as the position shrinks.
    assert_eq!(v.bankruptcy_price(a, perp).unwrap(), Some(p("85.05")));
    v.finish_liquidation(id).unwrap();
    ok(&v);
    // The backstop took 6 @ 85.05: realized 510.3 - 600 = -89.7, the account ends at 0;
    // no equity left for a fee, no bad debt.
    assert_eq!(v.balance(a), Money::ZERO);
    assert_eq!(v.position(backstop, perp).lots(), 6);
    assert_eq!(v.positions(backstop)[0].cost, m("510.3"));
    let r = &v.liquidations()[0];
    assert_eq!(
        (r.backstop_qty, r.fee, r.fund_paid, r.unpaid),
        (6, Money::ZERO, Money::ZERO, Money::ZERO)
    );
}

/// Branch 3: a gap below bankruptcy; the fund can pay, so the position closes at the
/// mark against the best-ranked opposing position and the fund covers the deficit.
#[test]
fn fund_covers_bad_debt_after_a_gap() {
    let (mut v, perp) = venue();
    let b = v.open_account(m("100000")).unwrap();
    let a = leveraged_long(&mut v, perp, b);
    v.fund_deposit(m("1000")).unwrap();
    // Gap to 80: equity 149.5 + 800 - 1000 = -50.5; bankruptcy 80 + 5.05 = 85.05.
    v.set_mark(perp, p("80")).unwrap();
    let (id, orders) = liquidate(&mut v, a);
    assert_eq!(orders[0].bound_price, p("85.05"));
    // Nothing in the book at or above 85.05; no backstop. Fund 1000 >= 50.5: close at
    // 80 against B (short 10 from 100): A realized -200, balance -50.5, the fund pays.
    v.finish_liquidation(id).unwrap();
    ok(&v);
    assert_eq!(v.balance(a), Money::ZERO);
    assert_eq!(v.insurance_fund(), m("949.5"));
    // B's short closed at 80: realized +200 on top of 100000 - 0.2 maker fee.
    assert_eq!(v.balance(b), m("100199.8"));
    let s = v.solvency(&MODEL).unwrap();
    assert_eq!(
        (s.bad_debt, s.fund_paid, s.adl_notional, s.socialized),
        (m("50.5"), m("50.5"), Money::ZERO, Money::ZERO)
    );
    assert!(s.solvent);
}

/// Branch 4: the fund cannot pay; ADL closes opposing winners in rank order at the
/// bankruptcy price.
#[test]
fn fund_exhausted_adl_closes_winners_in_rank_order() {
    let (mut v, perp) = venue();
    let b1 = v.open_account(m("100")).unwrap();
    let b2 = v.open_account(m("1000")).unwrap();
    let b3 = v.open_account(m("100000")).unwrap();
    let d = v.open_account(m("10000")).unwrap();
    let a = v.open_account(m("150")).unwrap();
    // A buys 5 from each of B1, B2 (fees 0.25 + 0.25); D buys 5 from B3.
    v.apply_fill(b1, a, perp, p("100"), Qty::from_lots(5), Side::Buy).unwrap();
    v.apply_fill(b2, a, perp, p("100"), Qty::from_lots(5), Side::Buy).unwrap();
    v.apply_fill(b3, d, perp, p("100"), Qty::from_lots(5), Side::Buy).unwrap();
    v.fund_deposit(m("10")).unwrap();
    ok(&v);
    v.set_mark(perp, p("80")).unwrap();
    // Each short has +100 at 80 on a basis of 500 (20%); effective leverage 400 /
    // equity: B1 400 / 199.9, B2 400 / 1099.9, B3 400 / 100099.9. Rank B1, B2, B3.
    let queue = v.adl_queue(perp, 1, a).unwrap();
    let ids: Vec<AccountId> = queue.iter().map(|q| q.0).collect();
    assert_eq!(ids, vec![b1, b2, b3]);
    let (id, _) = liquidate(&mut v, a);
    // Equity -50.5 > fund 10: ADL at the bankruptcy price 85.05. A sells 5 to B1 and 5
    // to B2: realized 2 x (425.25 - 500) = -149.5, balance exactly 0.
    v.finish_liquidation(id).unwrap();
    ok(&v);
    assert_eq!(v.balance(a), Money::ZERO);
    assert_eq!(v.position(b1, perp).lots(), 0);
    assert_eq!(v.position(b2, perp).lots(), 0);
    assert_eq!(v.position(b3, perp).lots(), -5);
    // B1 realizes 500 - 425.25 = 74.75 instead of 100 at the mark.
    assert_eq!(
        v.balance(b1),
        m("100").checked_sub(m("0.1")).unwrap().checked_add(m("74.75")).unwrap()
    );
    assert_eq!(v.insurance_fund(), m("10"));
    let s = v.solvency(&MODEL).unwrap();
    assert_eq!((s.adl_notional, s.bad_debt, s.unpaid), (m("850.5"), Money::ZERO, Money::ZERO));
    assert_eq!(v.liquidations()[0].adl_qty, 10);
}

/// Branch 5: the profitable opposing positions are not enough; the rest closes at the
/// mark against a losing short, and the deficit is socialized pro rata over accounts in
/// profit on another instrument.
#[test]
fn adl_insufficient_then_socialized_loss() {
    let (mut v, perp) = venue();
    let perp2 = v
        .add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("50"))
        .unwrap();
    let b1 = v.open_account(m("10000")).unwrap();
    let e = v.open_account(m("10000")).unwrap();
    let f = v.open_account(m("10000")).unwrap();
    let g = v.open_account(m("1000")).unwrap();
    let g2 = v.open_account(m("1000")).unwrap();
    let h = v.open_account(m("10000")).unwrap();
    let a = v.open_account(m("150")).unwrap();
    // E shorts 6 @ 78 to F; A buys 4 from B1 and 6 from F @ 100 (F closes its long).
    v.apply_fill(f, e, perp, p("78"), Qty::from_lots(6), Side::Sell).unwrap();
    v.apply_fill(b1, a, perp, p("100"), Qty::from_lots(4), Side::Buy).unwrap();
    v.apply_fill(f, a, perp, p("100"), Qty::from_lots(6), Side::Buy).unwrap();
    // On perp2, G buys 7 and G2 buys 2 from H at 50; the mark goes to 60: G +70, G2 +20.
    v.apply_fill(h, g, perp2, p("50"), Qty::from_lots(7), Side::Buy).unwrap();
    v.apply_fill(h, g2, perp2, p("50"), Qty::from_lots(2), Side::Buy).unwrap();
    v.set_mark(perp2, p("60")).unwrap();
    ok(&v);
    // Fund 0. Gap to 80: A's equity 149.5 + 800 - 1000 = -50.5, bankruptcy 85.05.
    v.set_mark(perp, p("80")).unwrap();
    let (id, _) = liquidate(&mut v, a);
    let g_before = v.balance(g);
    let g2_before = v.balance(g2);
    v.finish_liquidation(id).unwrap();
    ok(&v);
    // ADL: B1 (+80 at 80) takes 4 @ 85.05: realized 340.2 - 400 = -59.8, balance 89.7.
    // E (short from 78, -12 at 80) is not in profit: it takes 6 at the mark 80,
    // realized 480 - 600 = -120, balance -30.3. Fund 0: 30.3 socialized over G (70) and
    // G2 (20): floor(30.3 x 70 / 90) = 23.566666, floor(30.3 x 20 / 90) = 6.733333,
    // one micro left, taken from the largest (G): 23.566667 + 6.733333 = 30.3.
    assert_eq!(v.balance(a), Money::ZERO);
    assert_eq!(g_before.checked_sub(v.balance(g)).unwrap(), m("23.566667"));
    assert_eq!(g2_before.checked_sub(v.balance(g2)).unwrap(), m("6.733333"));
    let r = &v.liquidations()[0];
    assert_eq!(
        (r.adl_qty, r.fund_paid, r.socialized, r.unpaid),
        (10, Money::ZERO, m("30.3"), Money::ZERO)
    );
    let s = v.solvency(&MODEL).unwrap();
    assert_eq!((s.bad_debt, s.socialized, s.adl_notional), (m("30.3"), m("30.3"), m("340.2")));
    assert!(s.solvent);
}

#[test]
fn unpaid_loss_is_a_recorded_claim() {
    let (mut v, perp) = venue();
    let b = v.open_account(m("100000")).unwrap();
    let a = leveraged_long(&mut v, perp, b);
    v.set_mark(perp, p("80")).unwrap();
    // A sells its 10 @ 80 in the book (no liquidation): realized -200, taker fee 800 x
    // 5 bp = 0.4, balance 149.5 - 200 - 0.4 = -50.9; no fund, nobody else in profit
    // (B's short closes too): the claim is 50.9.
    v.apply_fill(b, a, perp, p("80"), Qty::from_lots(10), Side::Sell).unwrap();
    ok(&v);
    assert_eq!(v.journal().balance(Book::BadDebt), m("-50.9"));
    let s = v.solvency(&MODEL).unwrap();
    assert_eq!((s.unpaid, s.solvent), (m("50.9"), false));
}

#[test]
fn partial_liquidation_in_steps_with_cooldown() {
    let mut cfg = config();
    cfg.partial = true;
    let mut v = Venue::new(cfg);
    let perp = v
        .add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("100"))
        .unwrap();
    let b = v.open_account(m("100000")).unwrap();
    let a = v.open_account(m("150")).unwrap();
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(20), Side::Buy).unwrap();
    // 20 lots, balance 149; mark 95: equity 149 - 100 = 49 < maintenance 95, initial
    // 190. Keep 49 / 190 = 25.8%, close 74.2% -> 75% (steps of 25%): 15 lots.
    v.set_mark(perp, p("95")).unwrap();
    let mut out = Vec::new();
    let id = v
        .check_liquidation(a, SimTime::START, Cause::Exogenous, &MODEL, &mut out)
        .unwrap()
        .unwrap();
    assert_eq!(out[0].qty.lots(), 15);
    assert!(v.liquidations()[0].partial);
    // Inside the cooldown no second partial liquidation starts; after it, it may.
    let t = SimTime::START.plus(SimDuration::from_secs(30));
    assert_eq!(v.check_liquidation(a, t, Cause::Fills(id), &MODEL, &mut out).unwrap(), None);
    ok(&v);
}

#[test]
fn funding_rounds_in_the_exchanges_favour() {
    let (mut v, perp) = venue();
    let a = v.open_account(m("1000")).unwrap();
    let b = v.open_account(m("1000")).unwrap();
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(10), Side::Buy).unwrap();
    v.set_mark(perp, p("100.03")).unwrap();
    let (ba, bb, fees) = (v.balance(a), v.balance(b), v.journal().balance(Book::FeeIncome));
    // Notional 1000.3 x 0.0000123 = 0.01230369: the long pays 0.012304 (up), the short
    // receives 0.012303 (down), 0.000001 stays in fee income.
    let residual = v.pay_funding(perp, 0.000_012_3).unwrap();
    assert_eq!(ba.checked_sub(v.balance(a)).unwrap(), m("0.012304"));
    assert_eq!(v.balance(b).checked_sub(bb).unwrap(), m("0.012303"));
    assert_eq!(residual, m("0.000001"));
    assert_eq!(v.journal().balance(Book::FeeIncome).checked_sub(fees).unwrap(), residual);
    // A negative rate: shorts pay longs, 1000.3 x 0.0001 = 0.10003 exactly.
    let residual = v.pay_funding(perp, -0.0001).unwrap();
    assert_eq!(residual, Money::ZERO);
    assert_eq!(
        v.balance(b),
        bb.checked_add(m("0.012303")).unwrap().checked_sub(m("0.10003")).unwrap()
    );
    ok(&v);
}

#[test]
fn option_premium_and_cash_settlement() {
    let (mut v, _) = venue();
    let expiry = SimTime::from_nanos(86_400_000_000_000);
    let call = v
        .add_instrument(
            Instrument {
                kind: InstrumentKind::Option { call: true, strike: p("100"), expiry },
                spec: spec(),
            },
            p("5"),
        )
        .unwrap();
    let put = v
        .add_instrument(
            Instrument {
                kind: InstrumentKind::Option { call: false, strike: p("100"), expiry },
                spec: spec(),
            },
            p("2"),
        )
        .unwrap();
    let w = v.open_account(m("20")).unwrap();
    let l = v.open_account(m("100")).unwrap();
    v.fund_deposit(m("100")).unwrap();
    // L buys 2 calls @ 5 from writer W: premium 10; fees L 0.005, W 0.002.
    v.apply_fill(w, l, call, p("5"), Qty::from_lots(2), Side::Buy).unwrap();
    assert_eq!(v.balance(w), m("29.998"));
    assert_eq!(v.balance(l), m("89.995"));
    // Equity counts the long option at its mark: 89.995 + 10.
    assert_eq!(v.equity(l).unwrap(), m("99.995"));
    ok(&v);
    // Expiry at 112.50: intrinsic 12.5 x 2 = 25 from W to L.
    v.expire(call, p("112.5")).unwrap();
    ok(&v);
    assert_eq!(v.balance(w), m("4.998"));
    assert_eq!(v.balance(l), m("114.995"));
    assert_eq!(v.open_interest(call).lots(), 0);
    // W sells 1 put @ 2 to L (W maker 0.0004): 6.9976. Expiry at 60: W owes 40 and
    // ends at -33.0024; the fund pays it.
    v.apply_fill(w, l, put, p("2"), Qty::from_lots(1), Side::Buy).unwrap();
    v.expire(put, p("60")).unwrap();
    ok(&v);
    assert_eq!(v.balance(w), Money::ZERO);
    assert_eq!(v.insurance_fund(), m("66.9976"));
    assert_eq!(v.solvency(&MODEL).unwrap().bad_debt, m("33.0024"));
}

#[derive(Debug, Clone)]
enum Op {
    Deposit(usize, i64),
    Fill(usize, usize, bool, i64, i64, bool),
    Mark(bool, i64),
    Funding(i64),
    Expire(i64),
    Liquidate(usize, usize, i64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..6, 0i64..1_000_000_000).prop_map(|(a, x)| Op::Deposit(a, x)),
        (0usize..6, 0usize..6, any::<bool>(), 5_000i64..15_000, 1i64..30, any::<bool>())
            .prop_map(|(a, b, buy, px, q, opt)| Op::Fill(a, b, buy, px, q, opt)),
        (any::<bool>(), 1i64..20_000).prop_map(|(opt, px)| Op::Mark(opt, px)),
        (-1_000i64..1_000).prop_map(Op::Funding),
        (5_000i64..15_000).prop_map(Op::Expire),
        (0usize..6, 0usize..6, 0i64..30, any::<bool>())
            .prop_map(|(a, c, q, bs)| Op::Liquidate(a, c, q, bs)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn random_operations_keep_every_invariant(ops in prop::collection::vec(op(), 1..120), partial in any::<bool>()) {
        let mut cfg = config();
        cfg.partial = partial;
        let mut v = Venue::new(cfg);
        let perp = v.add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("100")).unwrap();
        let call = v.add_instrument(Instrument {
            kind: InstrumentKind::Option { call: true, strike: p("100"), expiry: SimTime::START },
            spec: spec(),
        }, p("5")).unwrap();
        let mut accounts: Vec<AccountId> = (0..6).map(|_| v.open_account(m("200")).unwrap()).collect();
        // Account 4 trades as an isolated sub-account of account 3.
        accounts[4] = v.open_isolated(accounts[3], m("100")).unwrap();
        v.fund_deposit(m("50")).unwrap();
        let mut orders = Vec::new();
        let mut now = SimTime::START;
        for op in ops {
            now = now.plus(SimDuration::from_secs(40));
            match op {
                Op::Deposit(a, x) => v.deposit(accounts[a], Money::from_micros(x)).unwrap(),
                Op::Fill(a, b, buy, px, q, opt) => {
                    let i = if opt { call } else { perp };
                    let px = if opt { px / 100 } else { px };
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let r = v.apply_fill(accounts[a], accounts[b], i, Price::from_ticks(px), Qty::from_lots(q), side);
                    prop_assert_eq!(r.is_ok(), a != b);
                }
                Op::Mark(opt, px) => v.set_mark(if opt { call } else { perp }, Price::from_ticks(px)).unwrap(),
                Op::Funding(r) => { v.pay_funding(perp, r as f64 * 1e-6).unwrap(); }
                Op::Expire(px) => v.expire(call, Price::from_ticks(px)).unwrap(),
                Op::Liquidate(a, c, q, backstop) => {
                    v.set_backstop(backstop.then_some(accounts[5]));
                    orders.clear();
                    if let Some(id) = v.check_liquidation(accounts[a], now, Cause::Exogenous, &MODEL, &mut orders).unwrap() {
                        // The book fills part of the first order at its bound.
                        let o = orders[0];
                        let q = q.min(o.qty.lots());
                        if c != a && q > 0 {
                            v.liquidation_fill(id, 0, accounts[c], o.bound_price, Qty::from_lots(q)).unwrap();
                            v.check().unwrap();
                        }
                        v.finish_liquidation(id).unwrap();
                        let r = &v.liquidations()[id.0 as usize];
                        prop_assert!(r.partial || v.positions(accounts[a]).is_empty());
                    }
                }
            }
            // Money conserved exactly, open interest balanced, no flat account below zero
            // without a recorded loss, the claim equal to the unpaid losses.
            v.check().unwrap();
            let s = v.solvency(&MODEL).unwrap();
            prop_assert_eq!(s.bad_debt, s.fund_paid.checked_add(s.socialized).unwrap().checked_add(s.unpaid).unwrap());
        }
    }
}

/// The exact linear trigger agrees tick by tick with the maintenance check, for a long
/// and a short, so indexing accounts by it never misses or over-visits one.
#[test]
fn linear_trigger_is_exact_to_the_tick() {
    let (mut v, perp) = venue();
    let b = v.open_account(m("1000")).unwrap();
    let a = leveraged_long(&mut v, perp, b);
    // Long: (1000 - 149.5) / (10 x 0.95) = 89.526..., liquidatable at 89.52 and below:
    // at 89.52 equity 44.7 < 44.76 maintenance, at 89.53 equity 44.8 >= 44.7650.
    assert_eq!(v.linear_trigger(a, 50_000).unwrap(), Some((Side::Sell, p("89.52"))));
    // B is short 10 from 100 with balance 999.8: (999.8 + 1000) / (10 x 1.05) =
    // 190.457..., liquidatable from 190.46 up.
    assert_eq!(v.linear_trigger(b, 50_000).unwrap(), Some((Side::Buy, p("190.46"))));
    for (account, lo, hi) in [(a, 8_800, 9_100), (b, 18_900, 19_200)] {
        let (side, key) = v.linear_trigger(account, 50_000).unwrap().unwrap();
        for t in lo..hi {
            v.set_mark(perp, Price::from_ticks(t)).unwrap();
            let below =
                v.equity(account).unwrap() < v.requirement(account, &MODEL).unwrap().maintenance;
            let crossed = if side == Side::Sell { t <= key.ticks() } else { t >= key.ticks() };
            assert_eq!(below, crossed, "tick {t}");
        }
    }
    // Two positions: the policy must supply the trigger.
    let perp2 = v
        .add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("50"))
        .unwrap();
    v.apply_fill(b, a, perp2, p("50"), Qty::from_lots(1), Side::Buy).unwrap();
    assert_eq!(v.linear_trigger(a, 50_000).unwrap(), None);
    ok(&v);
}

/// Same operations, same digest; one more micro of fee, another digest.
#[test]
fn digest_is_reproducible() {
    let run = |fee_ppm: i64| {
        let mut cfg = config();
        cfg.taker_fee_ppm = fee_ppm;
        let mut v = Venue::new(cfg);
        let perp = v
            .add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("100"))
            .unwrap();
        let b = v.open_account(m("1000")).unwrap();
        let a = v.open_account(m("1000")).unwrap();
        v.apply_fill(b, a, perp, p("100"), Qty::from_lots(3), Side::Buy).unwrap();
        v.pay_funding(perp, 0.0001).unwrap();
        v.journal().digest().unwrap()
    };
    assert_eq!(run(500), run(500));
    assert_ne!(run(500), run(501));
}

/// An isolated position's loss stops at its own margin: the owner keeps its balance and
/// the shortfall goes down the waterfall.
#[test]
fn isolated_margin_losses_stop_at_the_sub_account() {
    let (mut v, perp) = venue();
    let b = v.open_account(m("100000")).unwrap();
    let owner = v.open_account(m("1000")).unwrap();
    v.fund_deposit(m("100")).unwrap();
    assert!(v.open_isolated(owner, m("1000.01")).is_err());
    let iso = v.open_isolated(owner, m("150")).unwrap();
    assert_eq!((v.balance(owner), v.parent(iso)), (m("850"), Some(owner)));
    assert!(v.open_isolated(iso, m("1")).is_err());
    // The sub-account buys 10 @ 100 (fee 0.5): 149.5 isolated.
    v.apply_fill(b, iso, perp, p("100"), Qty::from_lots(10), Side::Buy).unwrap();
    // Returning 60 would leave 89.5 < initial 100; returning 40 leaves 109.5.
    assert!(v.move_isolated_margin(iso, m("-60"), &MODEL).is_err());
    v.move_isolated_margin(iso, m("-40"), &MODEL).unwrap();
    assert_eq!(v.balance(owner), m("890"));
    // Gap to 80: the sub-account (109.5 - 200 = -90.5) closes at 80 against B and the
    // fund (100) pays the 90.5, keeping 9.5; the owner keeps its 890.
    v.set_mark(perp, p("80")).unwrap();
    let mut out = Vec::new();
    let id = v
        .check_liquidation(iso, SimTime::START, Cause::Exogenous, &MODEL, &mut out)
        .unwrap()
        .unwrap();
    v.finish_liquidation(id).unwrap();
    ok(&v);
    assert_eq!(v.balance(iso), Money::ZERO);
    assert_eq!(v.balance(owner), m("890"));
    assert_eq!(v.insurance_fund(), m("9.5"));
}

/// The three ADL rankings order the same shorts differently.
#[test]
fn adl_rankings_differ() {
    let queue = |ranking: AdlRanking| {
        let mut cfg = config();
        cfg.adl_ranking = ranking;
        let mut v = Venue::new(cfg);
        let perp = v
            .add_instrument(Instrument { kind: InstrumentKind::Perpetual, spec: spec() }, p("100"))
            .unwrap();
        let x = v.open_account(m("100")).unwrap();
        let y = v.open_account(m("100000")).unwrap();
        let z = v.open_account(m("1000")).unwrap();
        let d = v.open_account(m("100000")).unwrap();
        v.apply_fill(x, d, perp, p("100"), Qty::from_lots(5), Side::Buy).unwrap();
        v.apply_fill(y, d, perp, p("100"), Qty::from_lots(10), Side::Buy).unwrap();
        v.apply_fill(z, d, perp, p("150"), Qty::from_lots(2), Side::Buy).unwrap();
        v.set_mark(perp, p("80")).unwrap();
        // At 80: X +100 on 500 (20%), leverage 400 / 199.9 -> 0.40; Y +200 on 1000
        // (20%), 800 / 100199.8 -> 0.0016; Z +140 on 300 (46.7%), 160 / 1139.94 -> 0.066.
        let q: Vec<u32> = v.adl_queue(perp, 1, d).unwrap().iter().map(|e| e.0.0).collect();
        q
    };
    assert_eq!(queue(AdlRanking::PnlTimesLeverage), vec![0, 2, 1]);
    assert_eq!(queue(AdlRanking::Pnl), vec![1, 2, 0]);
    // X and Y tie at 20%: by account id.
    assert_eq!(queue(AdlRanking::PnlPercent), vec![2, 0, 1]);
}

#[test]
fn directional_rates_round_up_per_position() {
    let (mut v, perp) = venue();
    let a = v.open_account(m("1000")).unwrap();
    let b = v.open_account(m("1000")).unwrap();
    v.apply_fill(b, a, perp, p("100"), Qty::from_lots(3), Side::Buy).unwrap();
    v.set_mark(perp, p("100.01")).unwrap();
    let rates = DirectionalRates { long: 0.0123, short: 0.02, maintenance_fraction: 0.5 };
    // Long 300.03 x 1.23% = 3.690369; maintenance x 0.615% = 1.8451845 -> 1.845185.
    let r = v.requirement(a, &rates).unwrap();
    assert_eq!((r.initial, r.maintenance), (m("3.690369"), m("1.845185")));
    // Short 300.03 x 2% = 6.0006, maintenance 3.0003.
    let r = v.requirement(b, &rates).unwrap();
    assert_eq!((r.initial, r.maintenance), (m("6.0006"), m("3.0003")));
}
