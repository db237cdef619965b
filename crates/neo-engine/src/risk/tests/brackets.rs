//! ATR brackets for buys and sells, tick rounding, the entry builder, R-multiples.

use neo_domain::contracts::{OrderType, TimeInForce};
use neo_domain::{Contract, Fixed, IdKind, MessageId, Side};

use super::{Account, NOW, btc, engine, fx, px};
use crate::risk::{AtrBrackets, BracketError, BracketedEntry, EntryOrder, EntryType, RStats};

fn order(entry_type: EntryType) -> EntryOrder {
    let id = |k: &str| MessageId::derived(IdKind::Other, k);
    EntryOrder {
        id: id("intent"),
        decision_id: id("decision"),
        signal_id: id("signal"),
        instrument: btc(),
        quantity: "2".parse().unwrap(),
        entry_type,
        time_in_force: TimeInForce::Gtc,
        ts_event: NOW,
    }
}

#[test]
fn brackets_sit_at_atr_multiples_on_the_right_sides() {
    let atr = AtrBrackets::default();
    assert!((atr.reward_risk() - 2.0).abs() < 1e-12);
    let buy = atr.bracket(Side::Buy, px("100"), 2.0, None).unwrap();
    assert_eq!((buy.stop_loss(), buy.take_profit()), (px("97"), px("106")));
    let sell = atr.bracket(Side::Sell, px("100"), 2.0, None).unwrap();
    assert_eq!(
        (sell.stop_loss(), sell.take_profit()),
        (px("103"), px("94"))
    );
    assert_eq!(buy.risk_per_unit(), fx("3"));
    assert!((buy.reward_risk() - 2.0).abs() < 1e-12 && (sell.reward_risk() - 2.0).abs() < 1e-12);
}

#[test]
fn ticks_round_stops_away_and_targets_toward_the_entry() {
    let atr = AtrBrackets::default();
    let tick = Some(px("0.01"));
    // Stop distance 0.4995, target distance 0.999.
    let buy = atr.bracket(Side::Buy, px("100"), 0.333, tick).unwrap();
    assert_eq!(
        (buy.stop_loss(), buy.take_profit()),
        (px("99.5"), px("100.99"))
    );
    let sell = atr.bracket(Side::Sell, px("100"), 0.333, tick).unwrap();
    assert_eq!(
        (sell.stop_loss(), sell.take_profit()),
        (px("100.5"), px("99.01"))
    );
    assert!(
        buy.reward_risk() < atr.reward_risk(),
        "rounding never promises more than planned"
    );
}

#[test]
fn impossible_brackets_are_errors() {
    let atr = AtrBrackets::default();
    for bad in [f64::NAN, 0.0, -1.0, f64::INFINITY] {
        assert_eq!(
            atr.bracket(Side::Buy, px("100"), bad, None),
            Err(BracketError::InvalidAtr)
        );
    }
    let huge = atr.bracket(Side::Buy, px("100"), 70.0, None).unwrap_err();
    assert_eq!(
        huge,
        BracketError::NotPositive {
            what: "stop_loss",
            price: px("-5")
        }
    );
    // A target closer than one tick collapses onto the entry.
    let tiny = atr
        .bracket(Side::Buy, px("100"), 0.001, Some(px("1")))
        .unwrap_err();
    assert!(matches!(tiny, BracketError::WrongSide { .. }), "{tiny}");
    let zero_mult = AtrBrackets {
        stop_mult: 0.0,
        take_mult: f64::NAN,
    };
    assert_eq!(zero_mult.validate().unwrap_err().problems.len(), 2);
    assert_eq!(
        zero_mult.bracket(Side::Buy, px("100"), 1.0, None),
        Err(BracketError::InvalidMultiple)
    );
    assert!(matches!(
        atr.bracket(Side::Buy, px("100"), 1.0, Some(px("0"))),
        Err(BracketError::NotPositive { what: "tick", .. })
    ));
}

#[test]
fn a_bracketed_entry_needs_both_brackets_on_their_sides() {
    let new = |side, sl: &str, tp: &str| BracketedEntry::new(side, px("100"), px(sl), px(tp));
    assert!(new(Side::Buy, "90", "120").is_ok());
    assert!(new(Side::Sell, "110", "80").is_ok());
    for (side, sl, tp) in [
        (Side::Buy, "110", "120"),
        (Side::Buy, "90", "80"),
        (Side::Buy, "100", "120"),
        (Side::Sell, "90", "80"),
        (Side::Sell, "110", "120"),
        (Side::Sell, "110", "100"),
    ] {
        let err = new(side, sl, tp).unwrap_err();
        assert!(
            matches!(err, BracketError::WrongSide { .. }),
            "{side} {sl} {tp}"
        );
    }
    let text = new(Side::Sell, "90", "80").unwrap_err().to_string();
    assert_eq!(
        text,
        "a sell needs stop-loss 90 > entry 100 > take-profit 80"
    );
    assert!(matches!(
        new(Side::Buy, "0", "120"),
        Err(BracketError::NotPositive {
            what: "stop_loss",
            ..
        })
    ));
}

#[test]
fn entry_intents_carry_both_brackets_and_pass_risk() {
    let bracket = BracketedEntry::new(Side::Buy, px("100"), px("97"), px("106")).unwrap();
    for (kind, order_type) in [
        (EntryType::Market, OrderType::Market),
        (EntryType::Limit, OrderType::Limit),
        (EntryType::Stop, OrderType::Stop),
    ] {
        let intent = bracket.into_intent(order(kind));
        assert_eq!(intent.order_type, order_type);
        assert_eq!(
            (intent.stop_loss, intent.take_profit),
            (Some(px("97")), Some(px("106")))
        );
        assert!(!intent.reduce_only);
        assert_eq!(intent.check(), vec![], "{kind:?}");
        let entry_price = intent
            .limit_price
            .or(intent.stop_price)
            .or(intent.arrival_price);
        assert_eq!(entry_price, Some(px("100")));
        assert!(
            engine().check(intent, &Account::new().view()).is_ok(),
            "{kind:?}"
        );
    }
}

#[test]
fn r_multiples_for_buys_and_sells() {
    let buy = BracketedEntry::new(Side::Buy, px("100"), px("97"), px("106")).unwrap();
    let sell = BracketedEntry::new(Side::Sell, px("100"), px("103"), px("94")).unwrap();
    for (trade, exit, r) in [
        (buy, "106", "2"),
        (buy, "97", "-1"),
        (buy, "101.5", "0.5"),
        (buy, "100", "0"),
        (sell, "94", "2"),
        (sell, "103", "-1"),
        (sell, "101", "-0.333333333"),
        (sell, "90", "3.333333333"),
    ] {
        assert_eq!(
            trade.r_multiple(px(exit)),
            Ok(fx(r)),
            "{:?} exit {exit}",
            trade.side()
        );
    }
}

#[test]
fn r_stats_track_expectancy() {
    let mut stats = RStats::default();
    assert_eq!(stats.expectancy(), None);
    for r in ["2", "-1", "0.5", "0"] {
        stats.record(fx(r)).unwrap();
    }
    assert_eq!((stats.trades(), stats.wins()), (4, 2));
    assert_eq!(stats.total_r(), fx("1.5"));
    assert_eq!(stats.expectancy(), Some(fx("0.375")));
    let mut full = RStats::default();
    full.record(Fixed::MAX).unwrap();
    assert!(
        full.record(fx("1")).is_err(),
        "overflow is an error, not a wrap"
    );
    assert_eq!(full.trades(), 1);
}
