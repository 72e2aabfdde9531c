//! Worked examples of collateral to the micro-unit: a holder's valuation under tiered
//! haircuts, a depeg that liquidates an account whose position did not move, the
//! conversion's two transfers, and the waterfall after it; then a property test over
//! random multi-asset operations keeping every ledger, quote and per asset, exact.
//!
//! Contract as in `waterfall.rs`: tick 0.01, lot 1 unit; maker 2 bp, taker 5 bp,
//! liquidation fee 0.5% of the notional closed at the mark, never more than the equity
//! left; 10% initial, 5% maintenance.
//!
//! The collateral, "USDe": haircut 5% on the first 100 of value, 10% on the next 900,
//! 20% above 1,000 (the 100k / 900k / above bands, scaled to these examples);
//! a liquidated holder's USDe is converted at the venue's price less 2%.

// A failed expectation in a test is the test failing; it never meets user input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Venue;

use liqsim_book::{NewOrder, OrderKind, OwnerId, Side};
use liqsim_core::{ContractSpec, Money, Price, Qty, SimTime};
use liqsim_exchange::{
    AccountId, AdlRanking, AssetBook, CollateralConfig, Exchange, ExchangeConfig, HaircutBand,
    Haircuts, LiquidationRules, Liquidator, MarginSchedule, Rates,
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

/// Whole units of an asset in its micro-units.
fn units(x: i64) -> i64 {
    x * 1_000_000
}

fn exchange() -> Exchange {
    let config = ExchangeConfig {
        spec: spec(),
        maker_fee: 0.0002,
        taker_fee: 0.0005,
        liquidation_fee: 0.005,
        max_leverage: 100.0,
        max_position: None,
        adl_ranking: AdlRanking::PnlTimesLeverage,
    };
    let rates = Rates { initial: 0.10, maintenance: 0.05 };
    Exchange::new(config, MarginSchedule::Flat { long: rates, short: rates })
}

fn usde() -> CollateralConfig {
    CollateralConfig {
        name: "USDe".into(),
        haircuts: Haircuts::new(&[
            HaircutBand { up_to: Some(m("100")), rate: 0.05 },
            HaircutBand { up_to: Some(m("1000")), rate: 0.10 },
            HaircutBand { up_to: None, rate: 0.20 },
        ])
        .unwrap(),
        liquidation_discount: 0.02,
    }
}

impl Venue {
    fn bid(&mut self, owner: AccountId, price: &str, lots: i64) {
        let order = NewOrder {
            owner: OwnerId(owner.0),
            side: Side::Buy,
            kind: OrderKind::Limit,
            price: p(price),
            qty: Qty::from_lots(lots),
            protection: None,
            max_qty: None,
        };
        assert_eq!(self.book.submit(order, &mut self.fills).filled.lots(), 0);
    }
}

#[test]
fn a_holders_collateral_counts_at_the_venue_price_less_tiered_haircuts() {
    let mut x = exchange();
    let usd = x.add_collateral(usde(), m("1")).unwrap();
    let a = x.open_account(m("10")).unwrap();
    x.deposit_collateral(a, usd, units(1500)).unwrap();
    // 1,500 at 1.00: haircut 5% x 100 + 10% x 900 + 20% x 500 = 5 + 90 + 100 = 195.
    assert_eq!(x.collateral_value(a).unwrap(), m("1305"));
    assert_eq!(x.equity(a, p("100")).unwrap(), m("1315"));
    // At 0.999999 the value is 1,499.9985; the top band's 20% of 499.9985 is 99.9997:
    // the haircut is 194.9997 and the value counted 1,304.9988.
    x.set_collateral_price(usd, m("0.999999")).unwrap();
    assert_eq!(x.collateral_value(a).unwrap(), m("1304.9988"));
    // At 0.65 the value 975 sits in the second band: 5 + 10% x 875 = 92.5.
    x.set_collateral_price(usd, m("0.65")).unwrap();
    assert_eq!(x.collateral_value(a).unwrap(), m("882.5"));
    // Roundings favour the exchange: one micro-unit of USDe at 1 is worth one
    // micro-unit, whose 5% haircut rounds up to a whole micro-unit: nothing counts.
    let b = x.open_account(Money::ZERO).unwrap();
    x.set_collateral_price(usd, m("1")).unwrap();
    x.deposit_collateral(b, usd, 1).unwrap();
    assert_eq!(x.collateral_value(b).unwrap(), Money::ZERO);
    x.check().unwrap();
}

/// A holds only USDe (1,000 at 1.00, counted 905) and a long of 90 @ 100 bought on it,
/// which survives the mark's fall to 95. USDe then depegs to 0.65 on the venue with the
/// mark unchanged: A falls below maintenance on its collateral alone, is found by the
/// re-keyed trigger index, its USDe is converted at 0.65 less 2%, and the waterfall
/// closes the long in the book with the fund paying what is left.
#[test]
fn a_depeg_liquidates_a_position_that_did_not_move() {
    let mut v = Venue::with_exchange(exchange());
    let usd = v.x.add_collateral(usde(), m("1")).unwrap();
    let b = v.x.open_account(m("100000")).unwrap();
    let c = v.x.open_account(m("100000")).unwrap();
    let a = v.x.open_account(Money::ZERO).unwrap();
    v.x.deposit_collateral(a, usd, units(1000)).unwrap();
    v.x.fund_deposit(m("100")).unwrap();
    // 1,000 of USDe: haircut 5 + 90 = 95, counted 905. Buying 90 @ 100 as taker pays
    // 9,000 and a fee of 4.5: cash -9,004.5, equity 900.5 against 900 initial.
    assert_eq!(v.x.collateral_value(a).unwrap(), m("905"));
    assert!(v.x.allows(a, Qty::from_lots(90), p("100")).unwrap());
    v.x.apply_fill(a, b, p("100"), Qty::from_lots(90), true).unwrap();
    assert_eq!(v.x.cash(a), m("-9004.5"));
    assert_eq!(v.x.equity(a, p("100")).unwrap(), m("900.5"));
    // Bankruptcy price (9,004.5 - 905) / 90 = 89.99444...
    assert!((v.x.bankruptcy_price(a).unwrap() - 8_999.444_444).abs() < 1e-3);
    // Mark 95: equity -9,004.5 + 8,550 + 905 = 450.5 >= 5% x 8,550 = 427.5. The index
    // looks at longs keyed at or above floor(9,500 x 0.95) = 9,025: A (key 9,000) is not
    // among them.
    let mut out = Vec::new();
    v.x.candidates(p("95"), &mut out);
    assert!(out.is_empty());
    assert!(!v.x.is_liquidatable(a, p("95")).unwrap());

    // The depeg: 1,000 at 0.65 is 650, haircut 5 + 10% x 550 = 60, counted 590. Equity
    // -9,004.5 + 8,550 + 590 = 135.5 < 427.5. The new bankruptcy price is
    // (9,004.5 - 590) / 90 = 93.4944: key 9,350, now a candidate at the same mark.
    let holders = v.x.set_collateral_price(usd, m("0.65")).unwrap().to_vec();
    assert_eq!(holders, vec![a]);
    assert_eq!(v.x.equity(a, p("95")).unwrap(), m("135.5"));
    v.x.candidates(p("95"), &mut out);
    assert_eq!(out, vec![a]);
    assert!(v.x.is_liquidatable(a, p("95")).unwrap());

    // The book: C bids 93.50 for 40, and 92.00 for 50.
    v.bid(c, "93.5", 40);
    v.bid(c, "92", 50);
    let mut liquidator = Liquidator::new(LiquidationRules::default());
    let done = liquidator.liquidate(&mut v, a, p("95"), SimTime::START).unwrap().unwrap();
    v.x.check().unwrap();
    // Conversion: 1,000 USDe to the desk, 650 x 0.98 = 637 of quote to A (cash
    // -8,367.5): the desk holds the USDe and is 637 of quote out.
    assert_eq!(done.converted, m("637"));
    assert_eq!(v.x.collateral_units(a, usd), 0);
    let ledger = v.x.ledger().asset(usd).unwrap();
    assert_eq!(ledger.balance(AssetBook::Desk), units(1000));
    assert_eq!(ledger.conservation_error(), 0);
    assert_eq!(v.x.collateral_desk(), m("-637"));
    // Bankruptcy after conversion: 8,367.5 / 90 = 92.972: a sale bounded at 92.98 takes
    // the 40 @ 93.50 (3,740; cash -4,627.5 for 50 lots) and refuses 92.00. The fund
    // (100) can pay: no further than where the loss would use it up, (4,627.5 - 100) /
    // 50 = 90.55, one tick toward the mark: 90.56; the 50 @ 92 (4,600) fill there.
    assert_eq!(done.book_lots, 90);
    assert_eq!(done.adl_lots + done.backstop_lots + done.engine_lots, 0);
    // Cash -27.5 flat: no fee (no equity left); the fund pays the 27.5 of bad debt.
    assert_eq!(done.fee, Money::ZERO);
    assert_eq!((done.bad_debt, done.fund_paid, done.unpaid), (m("27.5"), m("27.5"), Money::ZERO));
    assert_eq!(v.x.cash(a), Money::ZERO);
    assert_eq!(v.x.insurance_fund(), m("72.5"));
    assert_eq!(v.x.ledger().conservation_error().unwrap(), Money::ZERO);
}

/// The same 1,000 USDe on a flat 5% haircut instead of the tiers: 617.5 counted at 0.65
/// where the tiers count 590, and 665 at 0.70; a conversion there pays 0.70 less 2%.
#[test]
fn a_lighter_haircut_counts_more_of_the_same_collateral() {
    let mut x = exchange();
    let light = CollateralConfig { haircuts: Haircuts::flat(0.05).unwrap(), ..usde() };
    let usd = x.add_collateral(light, m("0.65")).unwrap();
    let a = x.open_account(Money::ZERO).unwrap();
    x.deposit_collateral(a, usd, units(1000)).unwrap();
    assert_eq!(x.collateral_value(a).unwrap(), m("617.5"));
    x.set_collateral_price(usd, m("0.7")).unwrap();
    assert_eq!(x.collateral_value(a).unwrap(), m("665"));
    // Converting at 0.70 less 2%: 686; the ledgers stay exact.
    assert_eq!(x.convert_collateral(a).unwrap(), m("686"));
    assert_eq!(x.cash(a), m("686"));
    x.check().unwrap();
}

proptest! {
    /// Deposits of quote and of two assets, fills, collateral price moves (down to zero),
    /// conversions, funding, and closes followed by debt settlement, in any order: after
    /// every step the quote ledger and each asset's ledger conserve exactly, and every
    /// account below maintenance at the mark is among the trigger index's candidates.
    #[test]
    fn random_multi_asset_operations_conserve_every_ledger(
        ops in prop::collection::vec((0u8..8, 0usize..5, 0usize..5, 0i64..3_000_000, 1i64..400), 1..200)
    ) {
        let mut x = exchange();
        let assets = [
            x.add_collateral(usde(), m("1")).unwrap(),
            x.add_collateral(
                CollateralConfig { name: "BTC".into(), haircuts: Haircuts::flat(0.1).unwrap(), liquidation_discount: 0.05 },
                m("60000"),
            ).unwrap(),
        ];
        let accounts: Vec<AccountId> = (0..5).map(|_| x.open_account(m("2000")).unwrap()).collect();
        x.fund_deposit(m("500")).unwrap();
        let mut mark = p("100");
        for (op, i, j, amount, lots) in ops {
            let (a, b) = (accounts[i], accounts[j]);
            let asset = assets[i % 2];
            match op {
                0 => { x.deposit_collateral(a, asset, amount * 100).unwrap(); }
                1 if a != b => { x.apply_fill(a, b, mark, Qty::from_lots(lots), j % 2 == 0).unwrap(); }
                2 => {
                    let price = Money::from_micros(amount * if i % 2 == 0 { 1 } else { 40_000 });
                    x.set_collateral_price(asset, price).unwrap();
                }
                3 => { x.convert_collateral(a).unwrap(); }
                4 => { x.pay_funding((lots as f64 - 200.0) * 1e-5, mark).unwrap(); }
                5 => { mark = Price::from_ticks(5_000 + amount % 10_000); }
                6 => {
                    // Close against `b` at the mark, as ADL would, then settle the debt.
                    let q = x.position(a).lots();
                    if q != 0 && a != b {
                        let (buyer, seller) = if q > 0 { (b, a) } else { (a, b) };
                        x.transfer_position(buyer, seller, mark, Qty::from_lots(q.abs())).unwrap();
                        x.settle_debt(a, mark).unwrap();
                        prop_assert!(!x.cash(a).is_negative());
                    }
                }
                _ => { x.deposit(a, Money::from_micros(amount)).unwrap(); }
            }
            x.check().unwrap();
            prop_assert_eq!(x.ledger().conservation_error().unwrap(), Money::ZERO);
            for &asset in &assets {
                prop_assert_eq!(x.ledger().asset_conservation_error(asset).unwrap(), 0);
            }
            let mut out = Vec::new();
            x.candidates(mark, &mut out);
            for &acc in &accounts {
                if x.is_liquidatable(acc, mark).unwrap() {
                    prop_assert!(out.contains(&acc), "account {} below maintenance, not a candidate", acc.0);
                }
            }
        }
    }
}

/// A conversion that pays nothing still takes the collateral's counted value out of the
/// account, so the trigger index must re-key it: with no haircut, 1.000001 USDe at 1.00
/// counts 1 micro-unit, and the 2% discount rounds its proceeds down to 0.
#[test]
fn a_conversion_paying_nothing_still_rekeys_the_holder() {
    let mut x = exchange();
    let plain = CollateralConfig {
        name: "USDe".into(),
        haircuts: Haircuts::flat(0.0).unwrap(),
        liquidation_discount: 0.02,
    };
    let usd = x.add_collateral(plain, m("1")).unwrap();
    let a = x.open_account(m("1000")).unwrap();
    let b = x.open_account(m("1000")).unwrap();
    // A value of exactly one micro-unit: 1 unit of the asset's micro-units at price
    // 1.000000 is floor(1 x 1,000,000 / 10^6) = 1 micro-unit of quote.
    x.deposit_collateral(a, usd, 1).unwrap();
    x.set_collateral_price(usd, m("1")).unwrap();
    assert_eq!(x.collateral_value(a).unwrap(), Money::from_micros(1));
    x.apply_fill(a, b, p("100"), Qty::from_lots(5), true).unwrap();
    assert_eq!(x.convert_collateral(a).unwrap(), Money::ZERO);
    assert_eq!(x.collateral_units(a, usd), 0);
    assert_eq!(x.collateral_value(a).unwrap(), Money::ZERO);
    x.check().unwrap();
}
