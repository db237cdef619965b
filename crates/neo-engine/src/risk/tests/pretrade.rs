//! Table tests: every refusal reason, the reduction exemptions, and the wire form.

use std::collections::BTreeSet;

use neo_domain::contracts::OrderType;
use neo_domain::{Fixed, InstrumentId, Money, Side};

use super::{Account, NOW, btc, engine, entry, exit, fx, limits, money, px};
use crate::risk::{Mark, RiskEngine, TradingState};

type Setup = fn(&mut Account, &mut neo_domain::contracts::OrderIntentV1);

fn codes(
    engine: &mut RiskEngine,
    account: &Account,
    intent: neo_domain::contracts::OrderIntentV1,
) -> Vec<&'static str> {
    match engine.check(intent, &account.view()) {
        Ok(_) => Vec::new(),
        Err(refusal) => refusal.codes(),
    }
}

#[test]
fn a_sound_entry_is_approved_unchanged() {
    let account = Account::new();
    let intent = entry(Side::Buy, "1");
    let approved = engine().check(intent.clone(), &account.view()).unwrap();
    assert_eq!(approved.get(), &intent);
    assert_eq!(approved.into_inner(), intent);
}

#[test]
fn each_check_refuses_with_its_code_and_passes_at_its_boundary() {
    let cases: &[(&str, Setup, &[&str])] = &[
        (
            "zero quantity",
            |_, i| i.quantity = neo_domain::Quantity::ZERO,
            &["invalid_intent"],
        ),
        (
            "no stop-loss",
            |_, i| i.stop_loss = None,
            &["missing_brackets"],
        ),
        (
            "no brackets at all",
            |_, i| {
                i.stop_loss = None;
                i.take_profit = None;
            },
            &["missing_brackets"],
        ),
        (
            "market brackets miss the mark",
            |a, i| {
                i.order_type = OrderType::Market;
                i.limit_price = None;
                a.btc_mut().mark = Some(Mark {
                    price: px("125"),
                    at: NOW,
                });
            },
            &["brackets_not_around_mark"],
        ),
        (
            "market brackets straddle the mark",
            |_, i| {
                i.order_type = OrderType::Market;
                i.limit_price = None;
            },
            &[],
        ),
        (
            "no market data",
            |a, _| a.btc_mut().mark = None,
            &["no_market_data"],
        ),
        (
            "unknown instrument",
            |_, i| i.instrument = InstrumentId::new("ETH-USDT").unwrap(),
            &["no_market_data"],
        ),
        (
            "data 301 s old",
            |a, _| {
                a.btc_mut().mark = Some(Mark {
                    price: px("100"),
                    at: NOW.add_nanos(-301_000_000_000),
                });
            },
            &["stale_market_data"],
        ),
        (
            "data exactly 300 s old",
            |a, _| {
                a.btc_mut().mark = Some(Mark {
                    price: px("100"),
                    at: NOW.add_nanos(-300_000_000_000),
                });
            },
            &[],
        ),
        (
            "long 9.5 buys 1",
            |a, _| a.btc_mut().net_quantity = fx("9.5"),
            &["max_position"],
        ),
        (
            "long 9 buys 1",
            |a, _| a.btc_mut().net_quantity = fx("9"),
            &[],
        ),
        (
            "open buys count",
            |a, _| {
                a.btc_mut().net_quantity = fx("8");
                a.btc_mut().open_buy = "1.5".parse().unwrap();
            },
            &["max_position"],
        ),
        (
            "open sells do not count for a buy",
            |a, _| {
                a.btc_mut().net_quantity = fx("9");
                a.btc_mut().open_sell = "5".parse().unwrap();
            },
            &[],
        ),
        (
            "short 9.5 sells 1",
            |a, i| {
                a.btc_mut().net_quantity = fx("-9.5");
                *i = entry(Side::Sell, "1");
            },
            &["max_position"],
        ),
        (
            "gross 4950 + 100",
            |a, _| a.gross_notional = money("4950"),
            &["max_gross_notional"],
        ),
        (
            "gross 4900 + 100",
            |a, _| a.gross_notional = money("4900"),
            &[],
        ),
        (
            "3 orders open",
            |a, _| a.open_orders = 3,
            &["max_open_orders"],
        ),
        ("2 orders open", |a, _| a.open_orders = 2, &[]),
        (
            "lost 1000 today",
            |a, _| a.equity = money("99000"),
            &["daily_loss_limit"],
        ),
        (
            "lost 999.99 today",
            |a, _| a.equity = money("99000.01"),
            &[],
        ),
        (
            "reduce-only while flat",
            |_, i| *i = exit(Side::Sell, "1"),
            &["reduce_only_would_increase", "missing_brackets"],
        ),
        (
            "reduce-only beyond the position with open exits",
            |a, i| {
                a.btc_mut().net_quantity = fx("2");
                a.btc_mut().open_sell = "1.5".parse().unwrap();
                *i = exit(Side::Sell, "1");
            },
            &["reduce_only_would_increase", "missing_brackets"],
        ),
        (
            "gross notional at the top of the range",
            |a, _| a.gross_notional = Money::new(Fixed::MAX).unwrap(),
            &["max_gross_notional"],
        ),
    ];
    for (name, setup, expected) in cases {
        let mut account = Account::new();
        let mut intent = entry(Side::Buy, "1");
        setup(&mut account, &mut intent);
        assert_eq!(
            codes(&mut engine(), &account, intent),
            *expected,
            "case: {name}"
        );
    }
}

#[test]
fn allow_list_admits_only_listed_instruments() {
    let account = Account::new();
    let only = |symbol: &str| {
        RiskEngine::new(crate::risk::RiskLimits {
            allow_list: Some(BTreeSet::from([InstrumentId::new(symbol).unwrap()])),
            ..limits()
        })
        .unwrap()
    };
    let intent = entry(Side::Buy, "1");
    assert_eq!(
        codes(&mut only("ETH-USDT"), &account, intent.clone()),
        ["instrument_not_allowed"]
    );
    assert!(codes(&mut only("BTC-USDT"), &account, intent).is_empty());
}

#[test]
fn per_instrument_position_limit_overrides_the_default() {
    let mut l = limits();
    l.max_position_by_instrument
        .insert(btc(), "0.5".parse().unwrap());
    let mut engine = RiskEngine::new(l).unwrap();
    let refused = engine
        .check(entry(Side::Buy, "1"), &Account::new().view())
        .unwrap_err();
    let json = serde_json::to_value(&refused.reasons[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"code": "max_position", "instrument": "BTC-USDT", "limit": "0.5", "projected": "1"})
    );
}

#[test]
fn every_failed_check_is_reported_at_once() {
    let mut account = Account::new();
    account.btc_mut().mark = Some(Mark {
        price: px("100"),
        at: NOW.add_nanos(-600_000_000_000),
    });
    account.btc_mut().net_quantity = fx("10");
    account.gross_notional = money("5000");
    account.open_orders = 7;
    account.equity = money("98500");
    let mut engine = engine();
    engine
        .set_state(TradingState::Halted, NOW, "ops", "test")
        .unwrap();
    let mut intent = entry(Side::Buy, "1");
    intent.take_profit = None;
    let refusal = engine.check(intent.clone(), &account.view()).unwrap_err();
    assert_eq!(
        refusal.codes(),
        [
            "trading_halted",
            "missing_brackets",
            "stale_market_data",
            "max_open_orders",
            "max_position",
            "max_gross_notional",
            "daily_loss_limit",
        ]
    );
    assert_eq!(*refusal.intent, intent, "the refused intent is handed back");
    assert_eq!(refusal.state, TradingState::Halted);
    assert!(refusal.has("daily_loss_limit"));
    let text = refusal.to_string();
    assert!(
        text.starts_with("order refused by risk (halted): trading_halted, missing_brackets"),
        "{text}"
    );
    let json = serde_json::to_value(&refusal).unwrap();
    assert_eq!(json["reasons"][2]["code"], "stale_market_data");
    assert_eq!(json["reasons"][2]["age_nanos"], 600_000_000_000_i64);
    assert_eq!(
        json["reasons"][6],
        serde_json::json!({"code": "daily_loss_limit", "limit": "1000", "loss": "1500"})
    );
    assert!(json.get("intent").is_none());
}

#[test]
fn reductions_are_exempt_from_exposure_limits_in_active_and_reducing() {
    let mut account = Account::new().with_position("12");
    account.gross_notional = money("9000");
    account.equity = money("98000");
    account.high_water_mark = money("98000");
    let not_allowed = crate::risk::RiskLimits {
        allow_list: Some(BTreeSet::from([InstrumentId::new("ETH-USDT").unwrap()])),
        ..limits()
    };
    let mut engine = RiskEngine::new(not_allowed).unwrap();
    for state in [TradingState::Active, TradingState::Reducing] {
        engine.set_state(state, NOW, "ops", "test").unwrap();
        assert!(
            engine
                .check(exit(Side::Sell, "12"), &account.view())
                .is_ok(),
            "{state}"
        );
        // A plain sell that reduces needs no reduce_only flag and no brackets either.
        let mut plain = exit(Side::Sell, "5");
        plain.reduce_only = false;
        assert!(engine.check(plain, &account.view()).is_ok(), "{state}");
    }
    // Still subject to freshness and the open-order count.
    account.open_orders = 3;
    account.btc_mut().mark = None;
    let refused = engine
        .check(exit(Side::Sell, "1"), &account.view())
        .unwrap_err();
    assert_eq!(refused.codes(), ["no_market_data", "max_open_orders"]);
}

#[test]
fn a_halt_stops_new_risk_never_the_way_out() {
    let account = Account::new().with_position("-2");
    let mut engine = engine();
    engine
        .set_state(TradingState::Halted, NOW, "ops", "test")
        .unwrap();
    let flip = entry(Side::Buy, "3");
    assert_eq!(codes(&mut engine, &account, flip), ["trading_halted"]);
    let add = entry(Side::Sell, "1");
    assert_eq!(codes(&mut engine, &account, add), ["trading_halted"]);
    assert!(
        codes(&mut engine, &account, exit(Side::Buy, "2")).is_empty(),
        "an exit passes while halted"
    );
    // Reducing lets entries through (the desk sizes them at the Kelly floor).
    engine
        .set_state(TradingState::Reducing, NOW, "ops", "test")
        .unwrap();
    assert!(codes(&mut engine, &account, entry(Side::Sell, "1")).is_empty());
    assert!(codes(&mut engine, &account, exit(Side::Buy, "2")).is_empty());
}

#[test]
fn notional_uses_the_order_price_then_the_mark() {
    let mut account = Account::new();
    account.gross_notional = money("4000");
    account.btc_mut().mark = Some(Mark {
        price: px("2000"),
        at: NOW,
    });
    // A limit at 100 x 1 fits; the same as a market order at the 2000 mark does not.
    let mut intent = entry(Side::Buy, "1");
    intent.take_profit = Some(px("3000"));
    assert!(codes(&mut engine(), &account, intent.clone()).is_empty());
    intent.order_type = OrderType::Market;
    intent.limit_price = None;
    intent.stop_loss = Some(px("1900"));
    assert_eq!(
        codes(&mut engine(), &account, intent),
        ["max_gross_notional"]
    );
}
