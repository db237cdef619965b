use neo_domain::contracts::{
    CandleV1, FillV1, OrderIntentV1, OrderStatus, OrderType, TickV1, TimeInForce,
};
use neo_domain::{Contract, IdKind, InstrumentId, MessageId, Side, Timestamp};

use super::*;
use crate::risk::approve_for_test;

const MIN: i64 = 60_000_000_000;

fn t(minutes: i64) -> Timestamp {
    Timestamp::from_nanos(1_800_000_000_000_000_000 + minutes * MIN)
}

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

fn p(s: &str) -> Price {
    s.parse().unwrap()
}

fn intent(key: &str, side: Side, qty: &str, sl: Option<&str>, tp: Option<&str>) -> OrderIntentV1 {
    OrderIntentV1 {
        id: MessageId::derived(IdKind::Intent, key),
        decision_id: MessageId::derived(IdKind::Decision, key),
        signal_id: MessageId::derived(IdKind::Signal, key),
        instrument: btc(),
        side,
        quantity: qty.parse().unwrap(),
        order_type: OrderType::Market,
        limit_price: None,
        stop_price: None,
        stop_loss: sl.map(p),
        take_profit: tp.map(p),
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        arrival_price: Some(p("100")),
        ts_event: t(0),
    }
}

/// A one-minute bar opening at minute `m`.
fn bar(m: i64, o: &str, h: &str, l: &str, c: &str, v: &str) -> CandleV1 {
    CandleV1 {
        instrument: btc(),
        interval: "1m".into(),
        ts_open: t(m),
        ts_event: t(m + 1),
        open: p(o),
        high: p(h),
        low: p(l),
        close: p(c),
        volume: v.parse().unwrap(),
    }
}

fn oms(config: OmsConfig) -> PaperOms {
    assert!(config.validate().is_empty());
    PaperOms::new(config)
}

fn no_costs() -> OmsConfig {
    OmsConfig {
        fees: FeeModel::ZERO,
        ..OmsConfig::default()
    }
}

/// Every emitted message satisfies its contract; returns the fills.
fn checked(events: &[OmsEvent]) -> Vec<FillV1> {
    let mut fills = Vec::new();
    for e in events {
        match e {
            OmsEvent::Order(o) => assert!(o.check().is_empty(), "{o:?}: {:?}", o.check()),
            OmsEvent::Fill(f) => {
                assert!(f.check().is_empty(), "{f:?}: {:?}", f.check());
                fills.push(f.clone());
            }
        }
    }
    fills
}

fn statuses(events: &[OmsEvent]) -> Vec<(String, OrderStatus)> {
    events
        .iter()
        .filter_map(|e| match e {
            OmsEvent::Order(o) => Some((o.role.to_string(), o.status)),
            OmsEvent::Fill(_) => None,
        })
        .collect()
}

#[test]
fn bracketed_market_buy_fills_at_the_next_open_then_exits_at_take_profit() {
    let mut oms = oms(OmsConfig {
        fees: FeeModel {
            maker_bps: Fixed::from_int(2),
            taker_bps: Fixed::from_int(5),
        },
        slippage: SlippageModel::Bps {
            bps: Fixed::from_int(10),
        },
        max_participation: None,
        entry_only_slippage: false,
    });
    let sub = oms
        .submit(
            approve_for_test(intent("a", Side::Buy, "2", Some("95"), Some("110"))),
            t(0),
        )
        .unwrap();
    assert!(!sub.duplicate);
    assert_eq!(
        statuses(&sub.events),
        [
            ("entry".into(), OrderStatus::New),
            ("entry".into(), OrderStatus::Accepted)
        ]
    );
    checked(&sub.events);

    let events = oms
        .on_candle(&bar(0, "100", "104", "99", "103", "50"))
        .unwrap();
    let fills = checked(&events);
    assert_eq!(fills.len(), 1);
    assert_eq!(
        fills[0].price,
        p("100.1"),
        "taker slippage of 10 bps on the open"
    );
    assert_eq!(fills[0].fee.to_string(), "0.1001", "5 bps of 200.2");
    assert_eq!(
        fills[0].ts_event,
        t(0),
        "an open fill is stamped with the open"
    );
    assert_eq!(
        slippage_bps(&fills[0]).map(|b| (b * 1e6).round() / 1e6),
        Some(10.0)
    );
    let entry = oms.order(sub.order_id).unwrap();
    assert_eq!(
        (entry.status, entry.avg_fill_price),
        (OrderStatus::Filled, Some(p("100.1")))
    );
    assert_eq!(oms.open_orders(), 2, "stop-loss and take-profit now work");

    let events = oms
        .on_candle(&bar(1, "103", "111", "101", "110", "50"))
        .unwrap();
    let fills = checked(&events);
    assert_eq!(fills.len(), 1);
    assert_eq!(
        (fills[0].side, fills[0].price, fills[0].liquidity),
        (Side::Sell, p("110"), Liquidity::Maker)
    );
    assert_eq!(fills[0].fee.to_string(), "0.044", "2 bps maker on 220");
    assert_eq!(
        fills[0].arrival_price,
        Some(p("110")),
        "a child is measured against its own price"
    );
    assert!(statuses(&events).contains(&("stop_loss".into(), OrderStatus::Cancelled)));
    assert_eq!(oms.open_orders(), 0);
}

#[test]
fn a_redelivered_intent_creates_nothing() {
    let mut oms = oms(no_costs());
    let first = oms
        .submit(
            approve_for_test(intent("dup", Side::Buy, "1", None, None)),
            t(0),
        )
        .unwrap();
    let again = oms
        .submit(
            approve_for_test(intent("dup", Side::Buy, "1", None, None)),
            t(0),
        )
        .unwrap();
    assert!(again.duplicate && again.events.is_empty());
    assert_eq!(again.order_id, first.order_id);
    assert_eq!(oms.open_orders(), 1);
    let fills = checked(
        &oms.on_candle(&bar(0, "100", "100", "100", "100", "1"))
            .unwrap(),
    );
    assert_eq!(fills.len(), 1);
    let after_fill = oms
        .submit(
            approve_for_test(intent("dup", Side::Buy, "1", None, None)),
            t(5),
        )
        .unwrap();
    assert!(after_fill.duplicate && after_fill.events.is_empty());
    assert_eq!(after_fill.order_id, first.order_id);
    // The filled order was released (the store keeps it); its intent is still known.
    assert!(
        oms.order_for_intent(MessageId::derived(IdKind::Intent, "dup"))
            .is_none()
    );
    assert_eq!(oms.held_orders(), 0);
}

#[test]
fn a_settled_group_is_released_after_its_step_and_only_then() {
    let mut oms = oms(no_costs());
    let mut ids = Vec::new();
    for n in 0..50 {
        let sub = oms
            .submit(
                approve_for_test(intent(
                    &format!("trip-{n}"),
                    Side::Buy,
                    "1",
                    Some("95"),
                    Some("110"),
                )),
                t(2 * n),
            )
            .unwrap();
        ids.push(sub.order_id);
        checked(
            &oms.on_candle(&bar(2 * n, "100", "101", "99", "100", "5"))
                .unwrap(),
        );
        assert_eq!(
            oms.held_orders(),
            3,
            "the entry and its working bracket are held"
        );
        let events = oms
            .on_candle(&bar(2 * n + 1, "100", "111", "99", "110", "5"))
            .unwrap();
        assert_eq!(checked(&events).len(), 1, "the take-profit fills");
        // Within the step that settled it, the group is still there to book.
        assert_eq!(oms.order(sub.order_id).unwrap().status, OrderStatus::Filled);
    }
    oms.on_tick(&TickV1 {
        instrument: btc(),
        price: p("100"),
        size: "1".parse().unwrap(),
        bid: None,
        ask: None,
        ts_event: t(200),
    })
    .unwrap();
    assert_eq!(
        oms.held_orders(),
        0,
        "fifty settled round trips are not kept"
    );
    for (n, id) in ids.iter().enumerate() {
        let again = oms
            .submit(
                approve_for_test(intent(
                    &format!("trip-{n}"),
                    Side::Buy,
                    "1",
                    Some("95"),
                    Some("110"),
                )),
                t(300),
            )
            .unwrap();
        assert!(
            again.duplicate && again.order_id == *id,
            "a released intent traded again"
        );
    }
    assert_eq!(oms.held_orders(), 0);
}

#[test]
fn stop_loss_is_assumed_first_when_a_bar_spans_both_brackets() {
    let mut oms = oms(no_costs());
    oms.submit(
        approve_for_test(intent("b", Side::Buy, "1", Some("95"), Some("110"))),
        t(0),
    )
    .unwrap();
    checked(
        &oms.on_candle(&bar(0, "100", "101", "99", "100", "9"))
            .unwrap(),
    );
    let events = oms
        .on_candle(&bar(1, "100", "112", "94", "100", "9"))
        .unwrap();
    let fills = checked(&events);
    assert_eq!(fills.len(), 1);
    assert_eq!(
        (fills[0].price, fills[0].liquidity),
        (p("95"), Liquidity::Taker)
    );
    assert!(statuses(&events).contains(&("take_profit".into(), OrderStatus::Cancelled)));
}

#[test]
fn a_gap_through_the_target_fills_at_the_open_before_the_stop() {
    let mut oms = oms(no_costs());
    oms.submit(
        approve_for_test(intent("g", Side::Buy, "1", Some("95"), Some("110"))),
        t(0),
    )
    .unwrap();
    checked(
        &oms.on_candle(&bar(0, "100", "101", "99", "100", "9"))
            .unwrap(),
    );
    let fills = checked(
        &oms.on_candle(&bar(1, "112", "113", "90", "95", "9"))
            .unwrap(),
    );
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].price, fills[0].ts_event), (p("112"), t(1)));
}

#[test]
fn a_short_entry_with_brackets_exits_at_its_stop() {
    let mut oms = oms(no_costs());
    oms.submit(
        approve_for_test(intent("s", Side::Sell, "3", Some("105"), Some("90"))),
        t(0),
    )
    .unwrap();
    checked(
        &oms.on_candle(&bar(0, "100", "101", "99", "100", "9"))
            .unwrap(),
    );
    let fills = checked(
        &oms.on_candle(&bar(1, "101", "106", "100", "104", "9"))
            .unwrap(),
    );
    assert_eq!(fills.len(), 1);
    assert_eq!(
        (fills[0].side, fills[0].price, fills[0].quantity.to_string()),
        (Side::Buy, p("105"), "3".into())
    );
}

#[test]
fn the_entry_bar_is_checked_against_brackets_only_after_an_open_fill() {
    let mut oms = oms(no_costs());
    oms.submit(
        approve_for_test(intent("e", Side::Buy, "1", Some("95"), Some("110"))),
        t(0),
    )
    .unwrap();
    // Entry at the open, then the same bar falls to the stop: both fill in this bar.
    let fills = checked(
        &oms.on_candle(&bar(0, "100", "101", "94", "96", "9"))
            .unwrap(),
    );
    assert_eq!(
        fills.iter().map(|f| f.price).collect::<Vec<_>>(),
        [p("100"), p("95")]
    );
}

#[test]
fn limit_orders_rest_and_fill_as_makers_at_their_limit() {
    let mut oms = oms(OmsConfig::default());
    let mut limit = intent("l", Side::Buy, "1", None, None);
    (limit.order_type, limit.limit_price) = (OrderType::Limit, Some(p("97")));
    oms.submit(approve_for_test(limit), t(0)).unwrap();
    assert!(
        checked(
            &oms.on_candle(&bar(0, "100", "101", "98", "99", "9"))
                .unwrap()
        )
        .is_empty()
    );
    let fills = checked(&oms.on_candle(&bar(1, "99", "99", "96", "98", "9")).unwrap());
    assert_eq!(
        (fills[0].price, fills[0].liquidity, fills[0].fee.to_string()),
        (p("97"), Liquidity::Maker, "0.0194".into())
    );
}

#[test]
fn immediate_orders_do_not_rest() {
    let mut oms = oms(OmsConfig {
        max_participation: Some("0.5".parse().unwrap()),
        ..no_costs()
    });
    let mut ioc = intent("ioc", Side::Buy, "1", None, None);
    (ioc.order_type, ioc.limit_price, ioc.time_in_force) =
        (OrderType::Limit, Some(p("90")), TimeInForce::Ioc);
    oms.submit(approve_for_test(ioc), t(0)).unwrap();
    let events = oms
        .on_candle(&bar(0, "100", "101", "98", "99", "10"))
        .unwrap();
    assert_eq!(
        statuses(&events),
        [("entry".into(), OrderStatus::Cancelled)]
    );

    // FOK for 8 when half of the bar's 10 may be taken: nothing fills.
    let mut fok = intent("fok", Side::Buy, "8", None, None);
    fok.time_in_force = TimeInForce::Fok;
    oms.submit(approve_for_test(fok), t(1)).unwrap();
    let events = oms
        .on_candle(&bar(1, "100", "101", "98", "99", "10"))
        .unwrap();
    assert!(checked(&events).is_empty());
    assert_eq!(
        statuses(&events),
        [("entry".into(), OrderStatus::Cancelled)]
    );

    // IOC market for 8: takes 5, cancels 3.
    let mut ioc = intent("ioc2", Side::Buy, "8", None, None);
    ioc.time_in_force = TimeInForce::Ioc;
    oms.submit(approve_for_test(ioc), t(2)).unwrap();
    let events = oms
        .on_candle(&bar(2, "100", "101", "98", "99", "10"))
        .unwrap();
    assert_eq!(checked(&events)[0].quantity.to_string(), "5");
    assert_eq!(statuses(&events).last().unwrap().1, OrderStatus::Cancelled);
}

#[test]
fn partial_fills_grow_the_bracket_with_the_position() {
    let mut oms = oms(OmsConfig {
        max_participation: Some("0.1".parse().unwrap()),
        ..no_costs()
    });
    let sub = oms
        .submit(
            approve_for_test(intent("pf", Side::Buy, "3", Some("90"), Some("120"))),
            t(0),
        )
        .unwrap();
    checked(
        &oms.on_candle(&bar(0, "100", "101", "99", "100", "20"))
            .unwrap(),
    );
    assert_eq!(
        oms.order(sub.order_id).unwrap().status,
        OrderStatus::PartiallyFilled
    );
    let sl = MessageId::derived(
        IdKind::Order,
        &format!("{}:stop_loss", MessageId::derived(IdKind::Intent, "pf")),
    );
    assert_eq!(oms.order(sl).unwrap().quantity.to_string(), "2");
    checked(
        &oms.on_candle(&bar(1, "100", "101", "99", "100", "20"))
            .unwrap(),
    );
    assert_eq!(oms.order(sub.order_id).unwrap().status, OrderStatus::Filled);
    assert_eq!(oms.order(sl).unwrap().quantity.to_string(), "3");
    // The stop fills 2 of 3 (volume-limited): the target shrinks to the 1 still open.
    let events = oms
        .on_candle(&bar(2, "95", "96", "85", "88", "20"))
        .unwrap();
    checked(&events);
    let tp = MessageId::derived(
        IdKind::Order,
        &format!("{}:take_profit", MessageId::derived(IdKind::Intent, "pf")),
    );
    assert_eq!(oms.order(tp).unwrap().quantity.to_string(), "1");
    checked(
        &oms.on_candle(&bar(3, "89", "90", "85", "88", "20"))
            .unwrap(),
    );
    assert_eq!(oms.order(sl).unwrap().status, OrderStatus::Filled);
    assert_eq!(oms.order(tp).unwrap().status, OrderStatus::Cancelled);
    assert_eq!(oms.open_orders(), 0);
}

#[test]
fn day_orders_expire_at_midnight_utc() {
    let mut oms = oms(no_costs());
    let mut day = intent("day", Side::Buy, "1", None, None);
    (day.order_type, day.limit_price, day.time_in_force) =
        (OrderType::Limit, Some(p("50")), TimeInForce::Day);
    let sub = oms.submit(approve_for_test(day), t(0)).unwrap();
    checked(
        &oms.on_candle(&bar(1, "100", "101", "99", "100", "9"))
            .unwrap(),
    );
    assert_eq!(
        oms.order(sub.order_id).unwrap().status,
        OrderStatus::Accepted
    );
    let events = oms
        .on_candle(&bar(24 * 60, "100", "101", "99", "100", "9"))
        .unwrap();
    assert_eq!(statuses(&events), [("entry".into(), OrderStatus::Expired)]);
}

#[test]
fn ticks_fill_buys_at_the_ask_and_never_on_the_submission_instant() {
    let mut oms = oms(no_costs());
    oms.submit(
        approve_for_test(intent("tick", Side::Buy, "1", None, None)),
        t(0),
    )
    .unwrap();
    let tick = |m: i64| TickV1 {
        instrument: btc(),
        price: p("100"),
        size: "0".parse().unwrap(),
        bid: Some(p("99.9")),
        ask: Some(p("100.1")),
        ts_event: t(m),
    };
    assert!(checked(&oms.on_tick(&tick(0)).unwrap()).is_empty());
    let fills = checked(&oms.on_tick(&tick(1)).unwrap());
    assert_eq!(fills[0].price, p("100.1"));
}

#[test]
fn refusals_are_errors_not_panics() {
    let mut oms = oms(no_costs());
    let mut bad = intent("bad", Side::Buy, "1", None, None);
    bad.order_type = OrderType::Limit;
    assert!(matches!(
        oms.submit(approve_for_test(bad), t(0)),
        Err(OmsError::InvalidIntent(_))
    ));
    assert!(matches!(
        oms.cancel(MessageId::derived(IdKind::Order, "nope"), t(0)),
        Err(OmsError::UnknownOrder(_))
    ));
    let sub = oms
        .submit(
            approve_for_test(intent("x", Side::Buy, "1", None, None)),
            t(0),
        )
        .unwrap();
    checked(
        &oms.on_candle(&bar(0, "100", "100", "100", "100", "1"))
            .unwrap(),
    );
    assert!(matches!(
        oms.cancel(sub.order_id, t(2)),
        Err(OmsError::Transition(_))
    ));
}

#[test]
fn execution_quality_aggregates_slippage() {
    let mut oms = oms(OmsConfig {
        slippage: SlippageModel::Bps {
            bps: Fixed::from_int(4),
        },
        ..no_costs()
    });
    oms.submit(
        approve_for_test(intent("q1", Side::Buy, "1", None, None)),
        t(0),
    )
    .unwrap();
    oms.submit(
        approve_for_test(intent("q2", Side::Sell, "1", None, None)),
        t(0),
    )
    .unwrap();
    let fills = checked(
        &oms.on_candle(&bar(0, "100", "100", "100", "100", "9"))
            .unwrap(),
    );
    let mut quality = ExecutionQuality::default();
    fills.iter().for_each(|f| quality.record(f));
    assert_eq!(quality.fills, 2);
    assert!(
        (quality.mean_bps - 4.0).abs() < 1e-9 && (quality.worst_bps - 4.0).abs() < 1e-9,
        "{quality:?}"
    );
}

#[test]
fn the_quality_report_groups_slippage_fill_ratio_and_latency() {
    let mut oms = oms(OmsConfig {
        slippage: SlippageModel::Bps {
            bps: Fixed::from_int(4),
        },
        ..no_costs()
    });
    let buy = oms
        .submit(
            approve_for_test(intent("r1", Side::Buy, "2", None, None)),
            t(0),
        )
        .unwrap();
    let sell = oms
        .submit(
            approve_for_test(intent("r2", Side::Sell, "1", None, None)),
            t(0),
        )
        .unwrap();
    let fills = checked(
        &oms.on_candle(&bar(0, "100", "100", "100", "100", "9"))
            .unwrap(),
    );
    let orders: Vec<OrderV1> = [buy.order_id, sell.order_id]
        .iter()
        .map(|id| oms.order(*id).unwrap().clone())
        .collect();
    let report = quality_report(&orders, &fills);
    assert_eq!(report.groups.len(), 2, "{report:?}");
    let b = &report.groups[0];
    assert_eq!((b.side.as_str(), b.order_type.as_str()), ("buy", "market"));
    assert_eq!((b.orders, b.filled_orders, b.fills), (1, 1, 1));
    assert_eq!(b.fill_ratio, Some(1.0));
    assert!((b.slippage_bps.mean.unwrap() - 4.0).abs() < 1e-9);
    // Decided at minute 0 and filled at that bar's open: no time passed.
    assert_eq!(b.latency_ms.count, 1);
    assert_eq!(b.latency_ms.max, Some(0.0), "{b:?}");
    assert_eq!(report.total.orders, 2);
    assert_eq!(report.total.slippage_bps.count, 2);
    assert_eq!(quality_report(&orders, &[]).total.fill_ratio, Some(1.0));
}
