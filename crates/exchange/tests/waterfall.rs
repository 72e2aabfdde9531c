//! Worked examples of the exchange's liquidation waterfall, one per branch, with a real
//! order book as the host that takes the exchange's IOC orders; then isolated margin,
//! order checks, ADL rankings, and a property test over random books, marks and
//! liquidations. The invariant checker runs after every fill, close and step.
//!
//! Contract for every example: tick 0.01, lot 1 unit, so a price of 100.00 is 10,000
//! ticks and one lot at 100 is 100 of notional. Fees: maker 2 bp, taker 5 bp,
//! liquidation 0.5% of the notional closed (at the mark), never more than the equity left.
//! Margin: 10% initial, 5% maintenance. Cash model: a buy pays the full notional to the
//! seller, so equity = cash + position x mark.
//!
//! The usual victim: A deposits 150 and buys 10 @ 100 as taker, paying 1000 + 0.5 fee:
//! cash -850.5, equity 149.5 at 100, bankruptcy price 850.5 / 10 = 85.05.

// A failed expectation in a test is the test failing; it never meets user input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Venue;

use liqsim_book::{NewOrder, OrderKind, OwnerId, Side};
use liqsim_core::{ContractSpec, Money, Price, Qty, SimDuration, SimTime};
use liqsim_exchange::{
    AccountId, AdlRanking, Book, Exchange, ExchangeConfig, Liquidated, LiquidationRules,
    Liquidator, MarginSchedule, Rates,
};
use proptest::prelude::*;

fn m(x: &str) -> Money {
    Money::from_decimal(x).unwrap()
}

fn spec() -> ContractSpec {
    ContractSpec::new(m("0.01"), 1_000_000_000).unwrap()
}

fn p(x: &str) -> Price {
    spec().price_from_decimal(x).unwrap()
}

fn config() -> ExchangeConfig {
    ExchangeConfig {
        spec: spec(),
        maker_fee: 0.0002,
        taker_fee: 0.0005,
        liquidation_fee: 0.005,
        max_leverage: 100.0,
        max_position: None,
        adl_ranking: AdlRanking::PnlTimesLeverage,
    }
}

/// The rules of these examples: a venue without a liquidation engine, which closes what
/// its book cannot take against opposing positions at the mark while the fund can pay.
fn rules() -> LiquidationRules {
    LiquidationRules { mark_close: true, ..LiquidationRules::default() }
}

/// The rules of a venue with a liquidation engine: no closes at the mark.
fn rules_with_engine() -> LiquidationRules {
    LiquidationRules::default()
}

fn schedule() -> MarginSchedule {
    let rates = Rates { initial: 0.10, maintenance: 0.05 };
    MarginSchedule::Flat { long: rates, short: rates }
}

impl Venue {
    fn new(config: ExchangeConfig) -> Venue {
        Venue::with_exchange(Exchange::new(config, schedule()))
    }

    fn account(&mut self, deposit: &str) -> AccountId {
        self.x.open_account(m(deposit)).unwrap()
    }

    /// A resting limit order of `owner`.
    fn quote(&mut self, owner: AccountId, side: Side, price: &str, lots: i64) {
        let order = NewOrder {
            owner: OwnerId(owner.0),
            side,
            kind: OrderKind::Limit,
            price: p(price),
            qty: Qty::from_lots(lots),
            protection: None,
            max_qty: None,
        };
        let r = self.book.submit(order, &mut self.fills);
        assert_eq!(r.filled.lots(), 0, "quotes in these examples never cross");
    }

    /// `buyer` takes `lots` from `seller` at `price` as taker, outside the book.
    fn trade(&mut self, buyer: AccountId, seller: AccountId, price: &str, lots: i64) {
        self.x.apply_fill(buyer, seller, p(price), Qty::from_lots(lots), true).unwrap();
        self.x.check().unwrap();
    }

    fn liquidate(&mut self, rules: LiquidationRules, a: AccountId, mark: &str) -> Liquidated {
        let mut liquidator = Liquidator::new(rules);
        assert!(self.x.is_liquidatable(a, p(mark)).unwrap());
        let done = liquidator.liquidate(self, a, p(mark), SimTime::START).unwrap().unwrap();
        self.x.check().unwrap();
        done
    }
}

/// A (150) buys 10 @ 100 as taker from `maker`: cash -850.5, equity 149.5 at 100.
fn leveraged_long(v: &mut Venue, maker: AccountId) -> AccountId {
    let a = v.account("150");
    v.trade(a, maker, "100", 10);
    assert_eq!(v.x.cash(a), m("-850.5"));
    assert_eq!(v.x.equity(a, p("100")).unwrap(), m("149.5"));
    assert_eq!(v.x.bankruptcy_price(a), Some(8505.0));
    a
}

/// Branch 1: the book takes the whole liquidation above the bankruptcy price; the fee
/// feeds the fund.
#[test]
fn liquidation_filled_in_the_book_above_bankruptcy_feeds_the_fund() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let c = v.account("10000");
    let a = leveraged_long(&mut v, b);
    v.x.fund_deposit(m("100")).unwrap();
    v.quote(c, Side::Buy, "86", 10);
    // Mark 86: equity -850.5 + 860 = 9.5 < maintenance 5% x 860 = 43. A sale of 10
    // bounded at 85.05 fills at C's 86: A receives 860 (no taker fee on a liquidation),
    // cash 9.5; fee 0.5% x 860 = 4.3 <= 9.5 to the fund; A keeps 5.2.
    let done = v.liquidate(rules(), a, "86");
    assert_eq!((done.book_lots, done.backstop_lots, done.adl_lots), (10, 0, 0));
    assert_eq!((done.notional, done.fee, done.bad_debt), (m("860"), m("4.3"), Money::ZERO));
    assert_eq!(done.bankruptcy_price, 8505.0);
    assert_eq!(v.x.cash(a), m("5.2"));
    // Bought at 100, sold at 86: realized -140 (fees and the liquidation fee aside).
    assert_eq!(v.x.realized_pnl(a), m("-140"));
    assert_eq!(v.x.insurance_fund(), m("104.3"));
    // C paid 860 and the maker fee 860 x 2 bp = 0.172.
    assert_eq!((v.x.position(c).lots(), v.x.cash(c)), (10, m("9139.828")));
}

/// Branch 2: the book fills part at the bound (a bid below it is refused), the backstop
/// takes the rest at the bankruptcy price.
#[test]
fn liquidation_filled_to_the_bound_rest_to_the_backstop() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let c = v.account("10000");
    let z = v.account("1000000");
    let a = leveraged_long(&mut v, b);
    v.quote(c, Side::Buy, "85.05", 4);
    v.quote(c, Side::Buy, "85", 6);
    let rules = LiquidationRules { backstop: Some(z), ..rules() };
    // 4 @ 85.05: A's cash -850.5 + 340.2 = -510.3 for 6 lots, still bankrupt at 85.05.
    // The 85.00 bid is past the bound. The backstop buys 6 @ 85.05 = 510.3: A ends at
    // exactly 0, no fee (no equity left), no bad debt.
    let done = v.liquidate(rules, a, "86");
    assert_eq!((done.book_lots, done.backstop_lots), (4, 6));
    assert_eq!((done.fee, done.bad_debt), (Money::ZERO, Money::ZERO));
    assert_eq!(v.x.cash(a), Money::ZERO);
    assert_eq!((v.x.position(z).lots(), v.x.cash(z)), (6, m("999489.7")));
    // The backstop now holds a position like any account: at 86 it is up 5.7.
    assert_eq!(v.x.unrealized(z, p("86")).unwrap(), m("5.7"));
    assert_eq!(v.book.resting_qty(OwnerId(c.0)).lots(), 6);
}

/// A backstop is an account like any other: it takes only what its initial margin
/// allows, and the rest goes on down the waterfall.
#[test]
fn a_backstop_takes_no_more_than_its_margin_allows() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let z = v.account("50");
    let a = leveraged_long(&mut v, b);
    v.x.fund_deposit(m("1000")).unwrap();
    // Empty book, mark 86. Z buying n lots at 85.05 holds 50 - 85.05 n + 86 n of equity
    // against 10% x 86 n: n <= 50 / 7.65 = 6.5, so 6 lots. A is left with cash
    // -850.5 + 510.3 = -340.2 for 4 lots, equity 3.8 at 86: the fund could pay, so B
    // takes the 4 at the mark (344), A's cash 3.8, all of it the fee (0.5% x 860 = 4.3,
    // capped).
    let rules = LiquidationRules { backstop: Some(z), ..rules() };
    assert_eq!(v.x.capacity(z, true, 10, p("85.05"), p("86")).unwrap(), 6);
    let done = v.liquidate(rules, a, "86");
    assert_eq!((done.backstop_lots, done.mark_close_lots), (6, 4));
    assert_eq!(v.closes, vec![(b, 4, m("344"), false)]);
    assert_eq!((done.fee, v.x.cash(a)), (m("3.8"), Money::ZERO));
    assert_eq!(v.x.equity(z, p("86")).unwrap(), m("55.7"));
    assert!(!v.x.is_liquidatable(z, p("86")).unwrap());
}

/// The liquidation engine, funded by the fund, takes what the book cannot at the
/// bankruptcy price; it is never liquidated itself, and once it has worked the position
/// off its result is the fund's.
#[test]
fn the_engine_takes_the_rest_at_bankruptcy_and_its_result_goes_to_the_fund() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let c = v.account("10000");
    let d = v.account("10000");
    let e = v.account("0");
    v.x.set_engine(e, true).unwrap();
    let a = leveraged_long(&mut v, b);
    v.x.fund_deposit(m("1000")).unwrap();
    v.quote(c, Side::Buy, "85.05", 4);
    // 4 fill at the bound; the engine buys the other 6 @ 85.05 = 510.3, which the fund
    // can bear (at 86 the engine is up 5.7).
    // A ends at exactly 0, nothing is closed against another account, no ADL.
    let done = v.liquidate(rules_with_engine(), a, "86");
    assert_eq!((done.book_lots, done.engine_lots, done.adl_lots), (4, 6, 0));
    assert_eq!(done.engine_notional, m("510.3"));
    assert!(v.closes.is_empty());
    assert_eq!(v.x.cash(a), Money::ZERO);
    assert_eq!((v.x.position(e).lots(), v.x.cash(e)), (6, m("-510.3")));
    // The fund as it stands at 86: 1000 plus the engine's 5.7.
    assert_eq!(v.x.fund_value(p("86")).unwrap(), m("1005.7"));
    // The engine is not a candidate for liquidation however the price moves, and is
    // never deleveraged.
    let mut candidates = Vec::new();
    v.x.candidates(p("50"), &mut candidates);
    assert!(!candidates.contains(&e));
    assert!(!v.x.adl_queue(false, p("90")).unwrap().0.contains(&e));
    // It sells the 6 to D at 87 as taker (fee 5 bp of 522 = 0.261): cash 11.439, flat;
    // that result goes to the fund.
    v.x.apply_fill(d, e, p("87"), Qty::from_lots(6), false).unwrap();
    assert_eq!(v.x.settle_engine().unwrap(), m("11.439"));
    assert_eq!((v.x.cash(e), v.x.insurance_fund()), (Money::ZERO, m("1011.439")));
    v.x.check().unwrap();
}

/// An engine the fund funds carries what the fund can bear: a fund of 10 takes one lot at
/// a loss of 5.05 a lot (85.05 paid, 80 at the mark), not two; ADL closes the rest.
#[test]
fn an_engine_short_of_capital_leaves_the_rest_to_adl() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let e = v.account("0");
    v.x.set_engine(e, true).unwrap();
    let a = leveraged_long(&mut v, b);
    v.x.fund_deposit(m("10")).unwrap();
    // 10 - 5.05 n >= 0 for n = 1 only.
    assert_eq!(v.x.engine_capacity(true, 10, p("85.05"), p("80")).unwrap(), 1);
    let done = v.liquidate(rules_with_engine(), a, "80");
    assert_eq!((done.engine_lots, done.adl_lots), (1, 9));
    // A's 9 lots are still bankrupt at 85.05: B takes them there.
    assert_eq!(v.closes, vec![(b, 9, m("765.45"), true)]);
    assert!(v.fund_ran_out);
    assert_eq!(v.x.cash(a), Money::ZERO);
    // The fund as it stands: 10 less the engine's 5.05.
    assert_eq!(v.x.fund_value(p("80")).unwrap(), m("4.95"));
}

/// Branch 3: a gap below bankruptcy with an empty book; the fund can pay the loss at the
/// mark, so the position closes there against the best-ranked opposing position and the
/// fund covers the debt.
#[test]
fn the_fund_covers_bad_debt_after_a_gap() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let a = leveraged_long(&mut v, b);
    v.x.fund_deposit(m("1000")).unwrap();
    // Gap to 80: equity -850.5 + 800 = -50.5 <= fund 1000. B (short 10 from 100) buys
    // 10 @ 80: A's cash -50.5, flat; the fund pays 50.5.
    let done = v.liquidate(rules(), a, "80");
    assert_eq!((done.mark_close_lots, done.adl_lots), (10, 0));
    assert_eq!(v.closes, vec![(b, 10, m("800"), false)]);
    assert_eq!(
        (done.bad_debt, done.fund_paid, done.socialized),
        (m("50.5"), m("50.5"), Money::ZERO)
    );
    assert_eq!(v.x.insurance_fund(), m("949.5"));
    assert_eq!(v.x.cash(a), Money::ZERO);
    // B realized 1000 - 800 = 200 on top of its deposit, less the 0.2 maker fee.
    assert_eq!((v.x.position(b).lots(), v.x.cash(b)), (0, m("100199.8")));
    assert!(!v.fund_ran_out);
}

/// Fills beyond bankruptcy go no further than the fund can pay; past that price ADL
/// takes the rest at the bankruptcy price of what is left.
#[test]
fn fills_beyond_bankruptcy_stop_where_the_fund_would_run_out() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let c = v.account("10000");
    let a = leveraged_long(&mut v, b);
    v.x.fund_deposit(m("30")).unwrap();
    v.quote(c, Side::Buy, "83", 6);
    v.quote(c, Side::Buy, "82", 4);
    // Mark 80. Nothing at or above 85.05. The fund (30) is positive: fills may go to
    // 10% below the mark (72) but no lower than where the loss equals the fund:
    // (850.5 - 30) / 10 = 82.05, one tick toward the mark 82.06. So 6 @ 83 fill (cash
    // -850.5 + 498 = -352.5 for 4 lots) and the 82 bid does not.
    // Equity at 80: -352.5 + 320 = -32.5, more than the fund: ADL. The bankruptcy price
    // of the 4 lots left is 352.5 / 4 = 88.125, a bound of 88.13: B takes 4 @ 88.13 =
    // 352.52, A's cash 0.02, which the fee (0.5% x 800 = 4, capped at the equity) takes.
    let done = v.liquidate(rules(), a, "80");
    assert_eq!((done.book_lots, done.adl_lots, done.mark_close_lots), (6, 4, 0));
    assert_eq!(v.closes, vec![(b, 4, m("352.52"), true)]);
    assert!(v.fund_ran_out);
    assert_eq!((done.fee, done.bad_debt), (m("0.02"), Money::ZERO));
    assert_eq!((v.x.cash(a), v.x.insurance_fund()), (Money::ZERO, m("30.02")));
    assert_eq!(v.book.resting_qty(OwnerId(c.0)).lots(), 4);
}

/// Branch 4: the fund cannot pay; ADL closes opposing winners in rank order at the
/// bankruptcy price.
#[test]
fn fund_exhausted_adl_closes_winners_in_rank_order() {
    let mut v = Venue::new(config());
    let b1 = v.account("100");
    let b2 = v.account("1000");
    let b3 = v.account("100000");
    let d = v.account("10000");
    let a = v.account("150");
    // A buys 5 from each of B1 and B2 (fees 0.25 + 0.25: cash -850.5); D buys 5 from B3.
    // Each B pays a maker fee of 0.1.
    v.trade(a, b1, "100", 5);
    v.trade(a, b2, "100", 5);
    v.trade(d, b3, "100", 5);
    v.x.fund_deposit(m("10")).unwrap();
    // At 80 each short has +100 on a cost of 500 (20%); leverage = 400 / equity:
    // B1 400 / 199.9, B2 400 / 1099.9, B3 400 / 100099.9. Rank B1, B2, B3.
    let (queue, profitable) = v.x.adl_queue(true, p("80")).unwrap();
    assert_eq!((queue, profitable), (vec![b1, b2, b3], 3));
    // Equity -50.5 > fund 10 (the band would stop at 84.06, and the book is empty):
    // ADL at 85.05. A sells 5 to B1 and 5 to B2 for 850.5, ending at exactly 0.
    let done = v.liquidate(rules(), a, "80");
    assert!(v.fund_ran_out);
    assert_eq!(v.closes, vec![(b1, 5, m("425.25"), true), (b2, 5, m("425.25"), true)]);
    assert_eq!((done.adl_lots, done.bad_debt), (10, Money::ZERO));
    assert_eq!(v.x.cash(a), Money::ZERO);
    assert_eq!(v.x.position(b3).lots(), -5);
    // B1 realizes 500 - 425.25 = 74.75 instead of 100 at the mark: 100 - 0.1 + 74.75.
    assert_eq!((v.x.position(b1).lots(), v.x.cash(b1)), (0, m("174.65")));
    assert_eq!(v.x.realized_pnl(b1), m("74.75"));
    assert_eq!(v.x.average_entry(b3), Some(100.0));
    assert_eq!(v.x.insurance_fund(), m("10"));
}

/// Branch 5: the opposing positions in profit are not enough; the rest closes at the
/// mark against a losing one, and the deficit is socialized pro rata over the accounts
/// in profit.
#[test]
fn adl_insufficient_then_socialized_loss() {
    let mut v = Venue::new(config());
    let b1 = v.account("10000");
    let e = v.account("10000");
    let f = v.account("10000");
    let g = v.account("1000");
    let g2 = v.account("1000");
    let h = v.account("10000");
    let a = v.account("150");
    // G buys 7 and G2 buys 2 from H at 70: at 80, G +70, G2 +20, H (short 9) -90.
    v.trade(g, h, "70", 7);
    v.trade(g2, h, "70", 2);
    // F buys 6 @ 78 from E (E short, -12 at 80); A buys 4 from B1 and 6 from F @ 100.
    v.trade(f, e, "78", 6);
    v.trade(a, b1, "100", 4);
    v.trade(a, f, "100", 6);
    assert_eq!(v.x.cash(a), m("-850.5"));
    let (queue, profitable) = v.x.adl_queue(true, p("80")).unwrap();
    // Only B1 (+80) is in profit; then H (9 lots) and E (6) by size.
    assert_eq!((queue, profitable), (vec![b1, h, e], 1));
    let (g_before, g2_before) = (v.x.cash(g), v.x.cash(g2));
    // Fund 0, gap to 80: ADL B1 takes 4 @ 85.05 = 340.2 (A: -510.3 for 6 lots); no
    // winner is left, so H takes 6 at the mark 80 = 480: A flat at -30.3. The fund pays
    // nothing; 30.3 is socialized over G (70) and G2 (20): floor(30.3 x 70 / 90) =
    // 23.566666 and floor(30.3 x 20 / 90) = 6.733333, the last micro from the largest
    // (G): 23.566667 + 6.733333 = 30.3.
    let done = v.liquidate(rules(), a, "80");
    assert_eq!(v.closes, vec![(b1, 4, m("340.2"), true), (h, 6, m("480"), false)]);
    assert_eq!((done.adl_lots, done.mark_close_lots), (4, 6));
    assert_eq!(
        (done.bad_debt, done.fund_paid, done.socialized, done.unpaid),
        (m("30.3"), Money::ZERO, m("30.3"), Money::ZERO)
    );
    assert_eq!(v.x.cash(a), Money::ZERO);
    assert_eq!(g_before.checked_sub(v.x.cash(g)).unwrap(), m("23.566667"));
    assert_eq!(g2_before.checked_sub(v.x.cash(g2)).unwrap(), m("6.733333"));
    assert_eq!(v.x.ledger().balance(Book::BadDebt), Money::ZERO);
}

/// Nobody in profit and no fund: the loss is the recorded unpaid claim.
#[test]
fn a_loss_nobody_can_pay_is_the_unpaid_claim() {
    let mut v = Venue::new(config());
    let e = v.account("10000");
    let f = v.account("10000");
    // F buys 10 @ 70 from E, then sells them to A @ 100: E is short from 70 (-100 at 80).
    v.trade(f, e, "70", 10);
    let a = leveraged_long(&mut v, f);
    let (_, profitable) = v.x.adl_queue(true, p("80")).unwrap();
    assert_eq!(profitable, 0);
    // No winner to deleverage: E takes 10 at the mark, A flat at -50.5; nobody holds a
    // position in profit, so 50.5 is the claim, booked against the bad-debt account.
    let done = v.liquidate(rules(), a, "80");
    assert_eq!(v.closes, vec![(e, 10, m("800"), false)]);
    assert_eq!((done.bad_debt, done.unpaid), (m("50.5"), m("50.5")));
    assert_eq!(v.x.ledger().balance(Book::BadDebt), m("-50.5"));
    assert_eq!(v.x.cash(a), Money::ZERO);
}

/// Socialized loss reaches option holders in profit too: after a crash the put buyer is
/// the winner, and pays its share (its profit against the premium it paid).
#[test]
fn a_put_buyer_in_profit_shares_the_socialized_loss() {
    let mut v = Venue::new(config());
    let e = v.account("10000");
    let f = v.account("10000");
    let buyer = v.account("1000");
    let writer = v.account("10000");
    v.trade(f, e, "70", 10);
    let a = leveraged_long(&mut v, f);
    // The buyer takes 2 puts at 5 from the writer: premium 10, fee 0.005.
    let put = v.x.add_series(p("5")).unwrap();
    v.x.apply_option_fill(buyer, writer, put, p("5"), Qty::from_lots(2), true).unwrap();
    v.x.check().unwrap();
    // The crash marks the put at 20: the buyer is up 2 x 20 - 10 = 30, the writer down.
    v.x.set_option_mark(put, p("20"));
    assert_eq!(v.x.option_unrealized(buyer).unwrap(), m("30"));
    assert_eq!(v.x.option_unrealized(writer).unwrap(), m("-30"));
    // No short is in profit (E is short from 70): E takes A's 10 at the mark, A is flat
    // at -50.5 with no fund. The only account in profit is the put buyer: it pays 30,
    // and 20.5 is the unpaid claim.
    let cash = v.x.cash(buyer);
    let done = v.liquidate(rules(), a, "80");
    assert_eq!((done.bad_debt, done.socialized, done.unpaid), (m("50.5"), m("30"), m("20.5")));
    assert_eq!(cash.checked_sub(v.x.cash(buyer)).unwrap(), m("30"));
    assert_eq!(v.x.ledger().balance(Book::BadDebt), m("-20.5"));
}

/// Partial liquidation in steps of a quarter of the position until initial margin is
/// restored, then a cooldown.
#[test]
fn partial_liquidation_in_steps_then_a_cooldown() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let c = v.account("100000");
    let a = v.account("150");
    v.trade(a, b, "100", 20);
    v.quote(c, Side::Buy, "95", 40);
    // Cash 150 - 2000 - 1 = -1851; at 95 equity 49 < maintenance 95. Steps of
    // ceil(25%): 5, 4, 3, 2, 2 lots at 95 leave 4 lots: equity still 49 >= initial 38
    // (it was 142.5, 104.5, 76, 57 after the earlier steps). Fee 0.5% x 16 x 95 = 7.6.
    let rules = LiquidationRules {
        partial: true,
        step_fraction: 0.25,
        cooldown: SimDuration::from_secs(60),
        ..rules()
    };
    let mut liquidator = Liquidator::new(rules);
    let done = liquidator.liquidate(&mut v, a, p("95"), SimTime::START).unwrap().unwrap();
    v.x.check().unwrap();
    assert_eq!((done.closed, done.notional, done.fee), (16, m("1520"), m("7.6")));
    assert_eq!(v.x.position(a).lots(), 4);
    assert_eq!(v.x.equity(a, p("95")).unwrap(), m("41.4"));
    // Below maintenance again at 86 (equity 5.4 < 17.2) but inside the cooldown: left
    // alone; after it, or with equity below zero, no longer.
    let at = |s: u64| SimTime::START.plus(SimDuration::from_secs(s));
    assert!(v.x.is_liquidatable(a, p("86")).unwrap());
    assert!(liquidator.cooling(&v.x, a, p("86"), at(30)).unwrap());
    assert!(!liquidator.cooling(&v.x, a, p("86"), at(61)).unwrap());
    assert!(!liquidator.cooling(&v.x, a, p("84"), at(30)).unwrap());
}

/// An isolated position's loss stops at its own margin: the owner keeps its money, and
/// the same position under cross margin would not even be liquidated.
#[test]
fn isolated_margin_losses_stop_at_the_isolated_account() {
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let owner = v.account("1000");
    v.x.fund_deposit(m("100")).unwrap();
    assert!(v.x.open_isolated(owner, m("1000.01")).is_err());
    let iso = v.x.open_isolated(owner, m("150")).unwrap();
    assert_eq!((v.x.cash(owner), v.x.parent(iso)), (m("850"), Some(owner)));
    assert!(v.x.open_isolated(iso, m("1")).is_err());
    v.trade(iso, b, "100", 10);
    // 149.5 isolated; free margin 149.5 - 100 = 49.5: asking 60 back moves 49.5, so ask
    // 40 instead: the owner has 890, the isolated account 109.5 of equity.
    assert_eq!(v.x.free_margin(iso, p("100")).unwrap(), m("49.5"));
    assert_eq!(v.x.move_isolated_margin(iso, m("-40"), p("100")).unwrap(), m("-40"));
    assert_eq!(v.x.cash(owner), m("890"));
    assert!(v.x.withdraw(owner, m("890.01"), p("100")).is_err());
    // Gap to 80: the isolated account's equity is 109.5 - 200 = -90.5; it closes at 80
    // against B and the fund (100) pays 90.5. The owner keeps its 890.
    let done = v.liquidate(rules(), iso, "80");
    assert_eq!((done.bad_debt, done.fund_paid), (m("90.5"), m("90.5")));
    assert_eq!(
        (v.x.cash(iso), v.x.cash(owner), v.x.insurance_fund()),
        (Money::ZERO, m("890"), m("9.5"))
    );

    // The same 10 lots in a cross account of 1000: equity at 80 = 999.5 - 200 = 799.5,
    // far above maintenance 40.
    let mut v = Venue::new(config());
    let b = v.account("100000");
    let cross = v.account("1000");
    v.trade(cross, b, "100", 10);
    assert_eq!(v.x.equity(cross, p("80")).unwrap(), m("799.5"));
    assert!(!v.x.is_liquidatable(cross, p("80")).unwrap());
}

/// Exchange-level order checks: position limit, leverage cap, initial margin; a
/// reduction always passes, and a reduce-only order may fill only the position.
#[test]
fn order_checks_position_and_leverage_limits() {
    let mut cfg = config();
    cfg.max_position = Some(8);
    let mut v = Venue::new(cfg.clone());
    let a = v.account("200");
    let at = p("100");
    // Initial margin (10%) would allow 20 lots at 100; the position limit allows 8.
    assert!(v.x.allows(a, Qty::from_lots(8), at).unwrap());
    assert!(!v.x.allows(a, Qty::from_lots(9), at).unwrap());
    // A 5x cap on 200 of equity: 1000 of notional, 10 lots, though margin allows 20.
    cfg.max_position = None;
    cfg.max_leverage = 5.0;
    let mut v = Venue::new(cfg);
    let a = v.account("200");
    let b = v.account("100000");
    assert!(v.x.allows(a, Qty::from_lots(10), at).unwrap());
    assert!(!v.x.allows(a, Qty::from_lots(11), at).unwrap());
    assert!(!v.x.allows(a, Qty::from_lots(-11), at).unwrap());
    v.trade(a, b, "100", 10);
    // Down to 150 of equity at 95: 10 lots is now over the cap, but 6 is a reduction.
    assert!(v.x.allows(a, Qty::from_lots(6), p("95")).unwrap());
    assert_eq!(v.x.reducible(a, true).lots(), 10);
    assert_eq!(v.x.reducible(a, false).lots(), 0);
}

/// Funding rounds in the exchange's favour: payers up, receivers down, the residual to
/// fee income.
#[test]
fn funding_rounds_in_the_exchanges_favour() {
    let mut v = Venue::new(config());
    let a = v.account("1000");
    let b = v.account("1000");
    v.trade(a, b, "100", 10);
    let (ca, cb, fees) = (v.x.cash(a), v.x.cash(b), v.x.ledger().balance(Book::FeeIncome));
    // Notional at 100.03 is 1000.3; x 0.0000123 = 0.01230369: the long pays 0.012304,
    // the short receives 0.012303, 0.000001 stays with the exchange.
    let residual = v.x.pay_funding(0.000_012_3, p("100.03")).unwrap();
    v.x.check().unwrap();
    assert_eq!(ca.checked_sub(v.x.cash(a)).unwrap(), m("0.012304"));
    assert_eq!(v.x.cash(b).checked_sub(cb).unwrap(), m("0.012303"));
    assert_eq!(residual, m("0.000001"));
    assert_eq!(v.x.ledger().balance(Book::FeeIncome).checked_sub(fees).unwrap(), residual);
    // Negative: shorts pay longs, 1000.3 x 0.0001 = 0.10003 exactly, no residual.
    assert_eq!(v.x.pay_funding(-0.0001, p("100.03")).unwrap(), Money::ZERO);
    assert_eq!(
        v.x.cash(b),
        cb.checked_add(m("0.012303")).unwrap().checked_sub(m("0.10003")).unwrap()
    );
    v.x.check().unwrap();
}

/// The three ADL rankings order the same shorts differently.
#[test]
fn adl_rankings_differ() {
    let queue = |ranking: AdlRanking| {
        let mut cfg = config();
        cfg.adl_ranking = ranking;
        let mut v = Venue::new(cfg);
        let x = v.account("100");
        let y = v.account("100000");
        let z = v.account("1000");
        let d = v.account("100000");
        v.trade(d, x, "100", 5);
        v.trade(d, y, "100", 10);
        v.trade(d, z, "150", 2);
        // At 80: X +100 on 500 (20%), leverage 400 / 199.9 -> score 0.40; Y +200 on
        // 1000 (20%), 800 / 100199.8 -> 0.0016; Z +140 on 300 (46.7%), 160 / 1139.94
        // -> 0.066.
        let (q, profitable) = v.x.adl_queue(true, p("80")).unwrap();
        assert_eq!(profitable, 3);
        q.iter().map(|a| a.0).collect::<Vec<u32>>()
    };
    assert_eq!(queue(AdlRanking::PnlTimesLeverage), vec![0, 2, 1]);
    assert_eq!(queue(AdlRanking::Pnl), vec![1, 2, 0]);
    // X and Y tie at 20%: by account id.
    assert_eq!(queue(AdlRanking::PnlPercent), vec![2, 0, 1]);
}

proptest! {
    /// Random trades, resting bids and asks, marks, funding and liquidations under
    /// random rules: after every step money is conserved, open interest balanced and
    /// the trigger index right (check()), and every account the waterfall closed is
    /// left at zero or above: its loss paid by the fund, by winners, or booked as the
    /// unpaid claim.
    #[test]
    fn random_liquidations_keep_every_invariant(
        ops in prop::collection::vec((0u8..6, 0usize..8, 0usize..8, 6_000i64..14_000, 1i64..40), 1..150),
        partial in any::<bool>(),
        backstop in any::<bool>(),
        adl in any::<bool>(),
        mark_close in any::<bool>(),
        engine in 0u8..3,
        fund in 0i64..2_000,
    ) {
        let mut v = Venue::new(config());
        let accounts: Vec<AccountId> =
            (0..8).map(|i| v.account(if i % 2 == 0 { "200" } else { "5000" })).collect();
        let z = v.account("10000000");
        v.x.fund_deposit(Money::from_units(fund).unwrap()).unwrap();
        // No engine, one the fund funds, or a vault with its own 1,000.
        let e = v.account(if engine == 2 { "1000" } else { "0" });
        if engine > 0 {
            v.x.set_engine(e, engine == 1).unwrap();
        }
        let rules = LiquidationRules {
            partial,
            step_fraction: 0.3,
            cooldown: SimDuration::ZERO,
            backstop: backstop.then_some(z),
            adl,
            band: 0.1,
            mark_close,
        };
        let mut liquidator = Liquidator::new(rules);
        let mut mark = Price::from_ticks(10_000);
        for (step, (op, i, j, ticks, lots)) in ops.into_iter().enumerate() {
            let (a, b) = (accounts[i], accounts[j]);
            let at = SimTime::from_nanos(step as u64 * 1_000_000_000);
            match op {
                0 if a != b => { v.x.apply_fill(a, b, Price::from_ticks(ticks), Qty::from_lots(lots), true).unwrap(); }
                1 => {
                    let side = if ticks < mark.ticks() { Side::Buy } else { Side::Sell };
                    let order = NewOrder {
                        owner: OwnerId(a.0), side, kind: OrderKind::PostOnly,
                        price: Price::from_ticks(ticks), qty: Qty::from_lots(lots),
                        protection: None, max_qty: None,
                    };
                    v.book.submit(order, &mut v.fills);
                }
                2 => { mark = Price::from_ticks(ticks); }
                3 => { v.x.pay_funding((lots as f64 - 20.0) * 1e-4, mark).unwrap(); }
                _ => {
                    let mut candidates = Vec::new();
                    v.x.candidates(mark, &mut candidates);
                    for c in candidates {
                        if c == z || c == e || !v.x.is_liquidatable(c, mark).unwrap() {
                            continue;
                        }
                        if let Some(done) = liquidator.liquidate(&mut v, c, mark, at).unwrap() {
                            prop_assert!(done.closed > 0);
                            if v.x.is_flat(c) {
                                prop_assert!(!v.x.cash(c).is_negative(), "closed account left at {}", v.x.cash(c));
                            }
                        }
                        v.x.check().unwrap();
                    }
                }
            }
            v.x.settle_engine().unwrap();
            v.x.check().unwrap();
        }
    }
}
