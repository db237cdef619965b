#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use neo_domain::contracts::{
    CandleV1, OrderRole, OrderStatus, OrderV1, PositionSide, Priority, Recommendation,
    SignalEventV1, SignalSource, SignalType, TickV1,
};
use neo_domain::{
    Contract, Fixed, IdKind, InstrumentId, MessageId, Price, Rounding, Side, Timestamp,
};

use super::*;
use crate::oms::RestoredOrder;

const MINUTE: i64 = 60_000_000_000;

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

fn t0() -> Timestamp {
    "2026-03-02T00:00:00Z".parse().unwrap()
}

fn px(x: f64) -> Price {
    Price::new(
        Fixed::from_f64(x, Rounding::HalfEven)
            .unwrap()
            .round_to_step(Fixed::from_raw(10_000_000), Rounding::HalfEven)
            .unwrap(),
    )
    .unwrap()
}

/// A steady climb of 0.1% a minute with a 0.3% range: a clean uptrend.
fn uptrend(bars: usize) -> Vec<CandleV1> {
    (0..bars)
        .map(|i| {
            let open = 100.0 * 1.001f64.powi(i as i32);
            let close = open * 1.001;
            let ts_open = t0().add_nanos(i as i64 * MINUTE);
            CandleV1 {
                instrument: btc(),
                interval: "1m".into(),
                ts_open,
                ts_event: ts_open.add_nanos(MINUTE),
                open: px(open),
                high: px(close * 1.002),
                low: px(open * 0.998),
                close: px(close),
                volume: "10".parse().unwrap(),
            }
        })
        .collect()
}

fn tick(mid: f64, at: Timestamp) -> TickV1 {
    TickV1 {
        instrument: btc(),
        price: px(mid),
        size: "0.5".parse().unwrap(),
        bid: Some(px(mid - 0.01)),
        ask: Some(px(mid + 0.01)),
        ts_event: at,
    }
}

fn signal(key: &str, signal_type: SignalType, side: Option<Side>, at: Timestamp) -> SignalEventV1 {
    SignalEventV1 {
        id: MessageId::derived(IdKind::Signal, key),
        source: SignalSource::Tradingview,
        source_id: Some(format!("alert-{key}")),
        instrument: btc(),
        exchange: None,
        side,
        signal_type,
        priority: Priority::Normal,
        price: None,
        quantity: None,
        strategy: None,
        interval: None,
        comment: None,
        ts_event: at,
        metadata: BTreeMap::new(),
        original: serde_json::Value::Null,
    }
}

fn steps() -> BTreeMap<InstrumentId, InstrumentSteps> {
    let s = InstrumentSteps {
        price_step: "0.01".parse().unwrap(),
        lot_step: "0.00001".parse().unwrap(),
    };
    BTreeMap::from([(btc(), s)])
}

/// A desk warmed on 120 minutes of uptrend, with a tick at the last close.
fn warm(config: DeskConfig) -> (Desk, Timestamp, f64) {
    let mut desk = Desk::new(config, steps(), t0()).unwrap();
    let candles = uptrend(120);
    for c in &candles {
        desk.on_candle(c);
    }
    let last = candles.last().unwrap();
    let now = last.ts_event;
    let mid = last.close.value().to_f64();
    let step = desk.on_tick(&tick(mid, now)).unwrap();
    assert!(step.is_empty());
    (desk, now.add_nanos(1_000_000), mid)
}

#[test]
fn a_buy_in_an_uptrend_becomes_one_bracketed_filled_entry() {
    let (mut desk, now, mid) = warm(DeskConfig::default());
    let step = desk
        .on_signal(&signal("a", SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    let decision = step.decision.as_ref().unwrap();
    assert_eq!(decision.recommendation, Recommendation::Buy, "{decision:?}");
    assert!(step.refusal.is_none(), "{:?}", step.refusal);
    assert_eq!(step.intents.len(), 1);
    let intent = &step.intents[0];
    assert!(intent.check().is_empty());
    let (sl, tp) = (intent.stop_loss.unwrap(), intent.take_profit.unwrap());
    assert!(sl < px(mid) && px(mid) < tp, "{sl} {mid} {tp}");
    // Entry filled at the ask at once; both bracket legs are working.
    assert_eq!(step.fills.len(), 1);
    let fill = &step.fills[0];
    assert_eq!((fill.role, fill.fill.side), (OrderRole::Entry, Side::Buy));
    assert_eq!(fill.fill.price, px(mid + 0.01));
    assert_eq!(fill.fill.quantity, intent.quantity);
    let working: Vec<_> = desk.oms.active_orders(btc());
    assert_eq!(working.len(), 2);
    assert_eq!(step.positions.len(), 1);
    assert_eq!(step.positions[0].side, PositionSide::Long);
    // Risk at the stop is within the 2% Kelly cap of 100 000.
    let risk = intent
        .quantity
        .value()
        .mul_round(
            px(mid + 0.01).value().checked_sub(sl.value()).unwrap(),
            Rounding::Ceiling,
        )
        .unwrap();
    assert!(risk <= Fixed::from_int(2_000), "{risk}");
    // And the entry's notional stays within a quarter of the account.
    let notional = intent
        .quantity
        .value()
        .mul_round(px(mid + 0.01).value(), Rounding::Ceiling)
        .unwrap();
    assert!(notional <= Fixed::from_int(25_000), "{notional}");
    assert!(
        notional >= Fixed::from_int(24_000),
        "the cap, not a lot short of it: {notional}"
    );

    // The take-profit trades: the position closes, the stop is cancelled, the leg is reported.
    let later = now.add_nanos(MINUTE);
    let step = desk
        .on_tick(&tick(tp.value().to_f64() + 1.0, later))
        .unwrap();
    assert_eq!(step.fills.len(), 1, "{:?}", step.fills);
    let exit = &step.fills[0];
    assert_eq!(exit.role, OrderRole::TakeProfit);
    let entry = exit.entry.as_ref().unwrap();
    assert_eq!(entry.signal_id, intent.signal_id);
    assert_eq!(entry.source_id.as_deref(), Some("alert-a"));
    assert_eq!(exit.entry_price, Some(px(mid + 0.01)));
    assert!(desk.oms.active_orders(btc()).is_empty());
    assert!(
        step.orders
            .iter()
            .any(|o| o.role == OrderRole::StopLoss && o.status == OrderStatus::Cancelled)
    );
    assert_eq!(step.positions[0].side, PositionSide::Flat);
    let summary = desk.summary(later).unwrap();
    assert!(summary.realized_pnl.value().is_positive(), "{summary:?}");
    assert_eq!(summary.equity, summary.cash);
}

#[test]
fn a_signal_quantity_is_capped_by_risk_never_raised() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let mut small = signal("small", SignalType::Entry, Some(Side::Buy), now);
    small.quantity = Some("0.5".parse().unwrap());
    let step = desk.on_signal(&small, now).unwrap();
    assert_eq!(step.intents[0].quantity, "0.5".parse().unwrap());
    let mut huge = signal("huge", SignalType::Entry, Some(Side::Buy), now);
    huge.quantity = Some("1000000".parse().unwrap());
    let step = desk.on_signal(&huge, now).unwrap();
    assert!(step.intents[0].quantity < "1000000".parse().unwrap());
}

#[test]
fn risk_refusals_carry_every_reason_and_place_nothing() {
    let mut config = DeskConfig::default();
    config.risk.allow_list = Some([InstrumentId::new("ETH-USDT").unwrap()].into());
    let (mut desk, now, _) = warm(config);
    let step = desk
        .on_signal(&signal("r", SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    let refusal = step.refusal.unwrap();
    assert!(
        refusal.codes.iter().any(|c| c == "instrument_not_allowed"),
        "{:?}",
        refusal.codes
    );
    assert!(refusal.intent.is_some());
    assert!(step.intents.is_empty() && step.orders.is_empty() && step.fills.is_empty());
    assert_eq!(desk.oms.open_orders(), 0);
}

#[test]
fn an_exit_cancels_the_bracket_and_flattens() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    desk.on_signal(&signal("in", SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    let later = now.add_nanos(1_000);
    let step = desk
        .on_signal(
            &signal("out", SignalType::Exit, Some(Side::Sell), later),
            later,
        )
        .unwrap();
    assert_eq!(step.decision.unwrap().recommendation, Recommendation::Close);
    assert_eq!(step.intents.len(), 1);
    assert!(step.intents[0].reduce_only);
    assert_eq!(step.fills.len(), 1);
    assert_eq!(step.fills[0].role, OrderRole::Exit);
    assert!(desk.net(btc()).is_zero());
    assert_eq!(desk.oms.open_orders(), 0);
}

#[test]
fn a_restored_desk_continues_exactly_where_the_first_stopped() {
    let (mut first, now, _) = warm(DeskConfig::default());
    let step = first
        .on_signal(&signal("a", SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    let intent = &step.intents[0];
    let restore = what_a_store_holds(&step);
    let (mut second, _, _) = warm(DeskConfig::default());
    second.restore(restore).unwrap();
    let at = now.add_nanos(5);
    assert_eq!(
        first.summary(at).unwrap().cash,
        second.summary(at).unwrap().cash
    );
    assert_eq!(first.net(btc()), second.net(btc()));
    let sl = intent.stop_loss.unwrap().value().to_f64();
    let crash = tick(sl - 5.0, now.add_nanos(MINUTE));
    let a = first.on_tick(&crash).unwrap();
    let b = second.on_tick(&crash).unwrap();
    assert_eq!(a.fills.len(), 1);
    assert_eq!(
        a.fills, b.fills,
        "the same stop fills with the same id, price and entry"
    );
    assert_eq!(b.fills[0].role, OrderRole::StopLoss);
    assert_eq!(
        first.summary(crash.ts_event).unwrap(),
        second.summary(crash.ts_event).unwrap()
    );
}

#[test]
fn the_dry_run_check_changes_nothing() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let step = desk
        .on_signal(&signal("a", SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    let mut intent = step.intents[0].clone();
    intent.quantity = "100000".parse().unwrap();
    let refusal = desk.check(intent, now).unwrap_err();
    assert!(refusal.has("max_position"), "{:?}", refusal.codes());
    assert_eq!(desk.oms.open_orders(), 2);
}

#[path = "tests_trust.rs"]
mod trust;

#[path = "tests_figures.rs"]
mod figures;

/// What a store would hold after `step`: the fills, each order's latest state,
/// the entry's bracket and the memory.
pub(super) fn what_a_store_holds(step: &Step) -> Restore {
    let mut latest: BTreeMap<MessageId, OrderV1> = BTreeMap::new();
    for o in &step.orders {
        latest.insert(o.id, o.clone());
    }
    let intent = &step.intents[0];
    let orders = latest
        .values()
        .map(|o| RestoredOrder {
            order: o.clone(),
            fills: step
                .fills
                .iter()
                .filter(|f| f.fill.order_id == o.id)
                .count() as u32,
            bracket: if o.role == OrderRole::Entry {
                (intent.stop_loss, intent.take_profit)
            } else {
                (None, None)
            },
        })
        .collect();
    Restore {
        fills: step.fills.iter().map(|f| f.fill.clone()).collect(),
        orders,
        memory: step.memory.clone(),
    }
}

#[path = "tests_flags.rs"]
mod flagged;

#[path = "tests_advice.rs"]
mod advised;
