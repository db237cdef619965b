//! Random intents against random bars: whatever happens, every message the OMS
//! emits is valid, every state change is in the lifecycle table, and fills
//! account for every filled quantity.

use std::collections::{BTreeMap, BTreeSet};

use neo_domain::contracts::{CandleV1, OrderIntentV1, OrderStatus, OrderType, TimeInForce};
use neo_domain::{
    Contract, Fixed, IdKind, InstrumentId, MessageId, Price, Quantity, Side, Timestamp,
};
use proptest::prelude::*;

use super::*;
use crate::risk::approve_for_test;

const MIN: i64 = 60_000_000_000;

fn price(units: i64) -> Price {
    Price::new(Fixed::from_int(units)).unwrap()
}

/// An intent around a reference price of 100, with every order type and time in force.
fn arb_intent() -> impl Strategy<Value = (bool, u8, u8, i64, i64, bool)> {
    (
        any::<bool>(),
        0u8..4,
        0u8..4,
        1i64..50,
        1i64..20,
        any::<bool>(),
    )
}

fn build(
    n: usize,
    (buy, kind, tif, qty, offset, brackets): (bool, u8, u8, i64, i64, bool),
    at: Timestamp,
) -> OrderIntentV1 {
    let side = if buy { Side::Buy } else { Side::Sell };
    let toward = |d: i64| if buy { price(100 - d) } else { price(100 + d) };
    let away = |d: i64| if buy { price(100 + d) } else { price(100 - d) };
    let order_type = [
        OrderType::Market,
        OrderType::Limit,
        OrderType::Stop,
        OrderType::StopLimit,
    ][usize::from(kind)];
    let (limit_price, stop_price) = match order_type {
        OrderType::Market => (None, None),
        OrderType::Limit => (Some(toward(offset % 10)), None),
        OrderType::Stop => (None, Some(away(offset % 10))),
        OrderType::StopLimit => (Some(away(offset % 10 + 1)), Some(away(offset % 10))),
    };
    let (stop_loss, take_profit) = if brackets {
        (Some(toward(30)), Some(away(30)))
    } else {
        (None, None)
    };
    OrderIntentV1 {
        id: MessageId::derived(IdKind::Intent, &n.to_string()),
        decision_id: MessageId::derived(IdKind::Decision, &n.to_string()),
        signal_id: MessageId::derived(IdKind::Signal, &n.to_string()),
        instrument: InstrumentId::new("BTC-USDT").unwrap(),
        side,
        quantity: Quantity::from_int(qty).unwrap(),
        order_type,
        limit_price,
        stop_price,
        stop_loss,
        take_profit,
        time_in_force: [
            TimeInForce::Gtc,
            TimeInForce::Ioc,
            TimeInForce::Fok,
            TimeInForce::Day,
        ][usize::from(tif)],
        reduce_only: false,
        arrival_price: Some(price(100)),
        ts_event: at,
    }
}

/// A bar around 100 (range within 60..140, so brackets at +-30 can trigger).
fn arb_bar() -> impl Strategy<Value = (i64, i64, i64, i64, i64)> {
    (70i64..130, 0i64..12, 0i64..12, 0i64..100, 0i64..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn oms_invariants(
        steps in proptest::collection::vec((proptest::option::of(arb_intent()), arb_bar()), 1..40),
        participation in proptest::option::of(1i64..10),
    ) {
        let config = OmsConfig {
            max_participation: participation.map(|p| Fixed::from_parts(i128::from(p), 1).unwrap()),
            ..OmsConfig::default()
        };
        let mut oms = PaperOms::new(config);
        let mut last: BTreeMap<MessageId, OrderV1> = BTreeMap::new();
        let mut filled: BTreeMap<MessageId, Fixed> = BTreeMap::new();
        let mut fill_ids = BTreeSet::new();
        let base = 1_800_000_000_000_000_000i64;
        let mut events = Vec::new();
        for (i, (intent, (open, up, down, close_pos, volume))) in steps.into_iter().enumerate() {
            let at = Timestamp::from_nanos(base + i as i64 * 60 * MIN);
            if let Some(spec) = intent {
                events.extend(oms.submit(approve_for_test(build(i, spec, at)), at).unwrap().events);
            }
            let (high, low) = (open + up, (open - down).max(1));
            let close = low + (high - low) * close_pos / 100;
            let bar = CandleV1 {
                instrument: InstrumentId::new("BTC-USDT").unwrap(),
                interval: "1h".into(),
                ts_open: at,
                ts_event: at.add_nanos(60 * MIN),
                open: price(open), high: price(high), low: price(low), close: price(close),
                volume: Quantity::from_int(volume).unwrap(),
            };
            events.extend(oms.on_candle(&bar).unwrap());
        }
        for event in events {
            match event {
                OmsEvent::Order(order) => {
                    prop_assert!(order.check().is_empty(), "{:?}: {:?}", order, order.check());
                    if let Some(prev) = last.get(&order.id) {
                        let legal = [OrderEvent::Accept, OrderEvent::Reject, OrderEvent::PartialFill, OrderEvent::Fill, OrderEvent::Amend, OrderEvent::Cancel, OrderEvent::Expire]
                            .iter()
                            .any(|e| transition(prev.status, *e) == Ok(order.status));
                        prop_assert!(legal, "{} -> {} is not in the table", prev.status, order.status);
                    } else {
                        prop_assert_eq!(order.status, OrderStatus::New);
                    }
                    last.insert(order.id, order);
                }
                OmsEvent::Fill(fill) => {
                    prop_assert!(fill.check().is_empty(), "{:?}", fill.check());
                    prop_assert!(fill_ids.insert(fill.id), "fill id {} repeated", fill.id);
                    let total = filled.entry(fill.order_id).or_insert(Fixed::ZERO);
                    *total = total.checked_add(fill.quantity.value()).unwrap();
                }
            }
        }
        for (id, order) in &last {
            let by_fills = filled.get(id).copied().unwrap_or(Fixed::ZERO);
            prop_assert_eq!(by_fills, order.filled_quantity.value(), "fills of {} do not add up", id);
            if let Some(parent) = order.parent_id {
                let children: Fixed = last.values().filter(|o| o.parent_id == Some(parent)).fold(Fixed::ZERO, |acc, o| acc.checked_add(o.filled_quantity.value()).unwrap());
                prop_assert!(children <= last[&parent].filled_quantity.value(), "brackets closed more than the entry filled");
            }
        }
    }
}
