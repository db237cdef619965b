//! Rendering: every message names its signal (and the sender's alert id),
//! passes the contract's own check, and has a stable per-channel id.
// Tests stop loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use neo_domain::contracts::{Channel, NotificationKind};
use neo_domain::{
    Contract, Fixed, IdKind, InstrumentId, MessageId, Price, Quantity, Side, Timestamp,
};
use neo_notify::render::{
    BracketHit, BracketLeg, Event, MarketDataNotice, OrderFilled, SignalRefused,
    TradingStateChanged, notification_id,
};
use proptest::prelude::*;

fn price(text: &str) -> Price {
    text.parse().unwrap()
}

fn signal() -> MessageId {
    MessageId::derived(IdKind::Signal, "tradingview:alert-1")
}

fn ts() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-21T21:09:03.120Z").unwrap()
}

fn filled() -> OrderFilled {
    OrderFilled {
        signal_id: signal(),
        source_id: Some("alert-1".into()),
        fill_id: MessageId::derived(IdKind::Fill, "order-1:1"),
        instrument: InstrumentId::new("BTC-USDT").unwrap(),
        side: Side::Buy,
        quantity: "0.5".parse().unwrap(),
        price: price("42000.5"),
        stop_loss: Some(price("41000")),
        take_profit: Some(price("44000")),
        ts: ts(),
    }
}

fn hit(leg: BracketLeg, exit: &str) -> BracketHit {
    BracketHit {
        signal_id: signal(),
        source_id: None,
        fill_id: MessageId::derived(IdKind::Fill, "order-2:1"),
        instrument: InstrumentId::new("BTC-USDT").unwrap(),
        entry_side: Side::Buy,
        leg,
        quantity: "0.5".parse().unwrap(),
        entry_price: price("42000"),
        exit_price: price(exit),
        initial_stop: price("41000"),
        ts: ts(),
    }
}

#[test]
fn order_filled_names_side_qty_price_brackets_and_ids() {
    let n = Event::OrderFilled(filled()).render(Channel::Slack);
    assert!(n.check().is_empty(), "{:?}", n.check());
    assert_eq!(n.kind, NotificationKind::OrderFilled);
    assert_eq!(n.title, "Filled: BUY 0.5 BTC-USDT @ 42000.5");
    for part in [
        "Bought 0.5 BTC-USDT at 42000.5",
        "stop-loss 41000",
        "take-profit 44000",
    ] {
        assert!(n.text.contains(part), "{part} missing from {}", n.text);
    }
    assert!(n.text.contains(&signal().to_string()));
    assert!(n.text.contains("alert alert-1"));
    assert_eq!(n.source_id.as_deref(), Some("alert-1"));
    assert_eq!(n.signal_id, Some(signal()));
    assert_eq!(n.ts_event, ts());
}

#[test]
fn ids_are_derived_from_cause_kind_and_channel() {
    let event = Event::OrderFilled(filled());
    let slack = event.render(Channel::Slack);
    assert_eq!(slack.id, event.render(Channel::Slack).id);
    assert_ne!(slack.id, event.render(Channel::Telegram).id);
    let fill = MessageId::derived(IdKind::Fill, "order-1:1");
    assert_eq!(
        slack.id,
        MessageId::derived(IdKind::Notification, &format!("{fill}:order_filled:slack"))
    );
    assert_eq!(
        slack.id,
        notification_id(
            &fill.to_string(),
            NotificationKind::OrderFilled,
            Channel::Slack
        )
    );
    let all = event.render_all(&[Channel::Console, Channel::Webhook]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].channel, Channel::Webhook);
}

#[test]
fn bracket_hit_reports_leg_exit_and_r_multiple() {
    let tp = Event::BracketHit(hit(BracketLeg::TakeProfit, "44000")).render(Channel::Telegram);
    assert!(tp.check().is_empty());
    assert!(
        tp.title.contains("take-profit hit @ 44000 (+2R)"),
        "{}",
        tp.title
    );
    assert!(tp.text.contains("+2R") && tp.text.contains(&signal().to_string()));
    let sl = Event::BracketHit(hit(BracketLeg::StopLoss, "40950")).render(Channel::Telegram);
    assert!(
        sl.title.contains("stop-loss hit @ 40950 (-1.05R)"),
        "{}",
        sl.title
    );

    let mut short = hit(BracketLeg::TakeProfit, "40000");
    short.entry_side = Side::Sell;
    short.initial_stop = price("43000");
    assert_eq!(short.r_multiple(), Some(Fixed::from_int(2)));
    let mut bad = short.clone();
    bad.initial_stop = price("41000");
    assert_eq!(bad.r_multiple(), None);
    let n = Event::BracketHit(bad).render(Channel::Console);
    assert!(n.text.contains("R n/a") && n.check().is_empty());
}

#[test]
fn refusal_lists_codes_and_sentence() {
    let e = SignalRefused {
        signal_id: signal(),
        source_id: Some("tv-42".into()),
        instrument: Some(InstrumentId::new("ETH-USDT").unwrap()),
        side: Some(Side::Sell),
        reasons: vec!["max_position".into(), "daily_loss_limit".into()],
        message: "The position would exceed 2 ETH and today's loss is already 500 USD.".into(),
        ts: ts(),
    };
    let n = Event::SignalRefused(e).render(Channel::Webhook);
    assert!(n.check().is_empty());
    assert_eq!(
        n.title,
        "Refused by risk: SELL ETH-USDT (max_position, daily_loss_limit)"
    );
    assert!(n.text.contains("Reasons: max_position, daily_loss_limit."));
    assert!(n.text.contains("today's loss is already 500 USD"));
    assert!(n.text.contains("(alert tv-42)"));
}

#[test]
fn state_change_needs_no_signal_but_names_one_when_given() {
    let mut e = TradingStateChanged {
        from: "active".into(),
        to: "halted".into(),
        cause: "drawdown 0.12 reached the 0.1 limit".into(),
        signal_id: None,
        ts: ts(),
    };
    let n = Event::TradingStateChanged(e.clone()).render(Channel::Console);
    assert!(n.check().is_empty());
    assert_eq!(n.title, "Trading state: active -> halted");
    assert!(
        n.text
            .contains("Cause: drawdown 0.12 reached the 0.1 limit.")
    );
    assert_eq!(n.signal_id, None);
    e.signal_id = Some(signal());
    let n = Event::TradingStateChanged(e).render(Channel::Console);
    assert!(n.check().is_empty() && n.text.contains(&signal().to_string()));
}

#[test]
fn market_data_notices_need_no_signal_and_say_what_happens_to_entries() {
    let stale = MarketDataNotice {
        instrument: "BTC-USDT".into(),
        stale: true,
        age_secs: None,
        max_age_secs: 300,
        ts: ts(),
    };
    let n = Event::MarketData(stale.clone()).render(Channel::Slack);
    assert!(n.check().is_empty(), "{:?}", n.check());
    assert_eq!(n.kind, NotificationKind::MarketData);
    assert_eq!(n.title, "BTC-USDT: market data stale");
    assert!(n.text.contains("no data since start") && n.text.contains("stale_market_data"));
    let fresh = MarketDataNotice {
        stale: false,
        age_secs: Some(1),
        ..stale.clone()
    };
    let m = Event::MarketData(fresh).render(Channel::Slack);
    assert!(m.check().is_empty());
    assert!(m.text.contains("last tick 1 s ago"));
    assert_ne!(n.id, m.id, "going stale and coming back are two notices");
}

fn any_price() -> impl Strategy<Value = Price> {
    (-1_000_000_000_000_000i128..1_000_000_000_000_000_000i128)
        .prop_map(|raw| Price::new(Fixed::from_raw(raw)).unwrap())
}

fn any_qty() -> impl Strategy<Value = Quantity> {
    (0i128..1_000_000_000_000_000_000i128)
        .prop_map(|raw| Quantity::new(Fixed::from_raw(raw)).unwrap())
}

fn any_instrument() -> impl Strategy<Value = InstrumentId> {
    prop::sample::select(vec![
        "BTC-USDT",
        "ETH-USDT-PERP",
        "EUR-USD",
        "AAPL",
        "BRK-B",
        "ES1",
    ])
    .prop_map(|s| InstrumentId::new(s).unwrap())
}

fn any_side() -> impl Strategy<Value = Side> {
    prop::sample::select(vec![Side::Buy, Side::Sell])
}

fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|cs| cs.into_iter().collect())
}

fn any_id() -> impl Strategy<Value = MessageId> {
    any_text(20).prop_map(|k| MessageId::derived(IdKind::Signal, &k))
}

fn any_event() -> impl Strategy<Value = Event> {
    let ts = (0i64..4_000_000_000_000_000_000).prop_map(Timestamp::from_nanos);
    prop_oneof![
        (
            any_id(),
            prop::option::of(any_text(400)),
            any_id(),
            any_instrument(),
            any_side(),
            any_qty(),
            any_price(),
            prop::option::of(any_price()),
            prop::option::of(any_price()),
            ts.clone()
        )
            .prop_map(
                |(
                    signal_id,
                    source_id,
                    fill_id,
                    instrument,
                    side,
                    quantity,
                    price,
                    stop_loss,
                    take_profit,
                    ts,
                )| {
                    Event::OrderFilled(OrderFilled {
                        signal_id,
                        source_id,
                        fill_id,
                        instrument,
                        side,
                        quantity,
                        price,
                        stop_loss,
                        take_profit,
                        ts,
                    })
                }
            ),
        (
            any_id(),
            prop::option::of(any_text(400)),
            any_id(),
            any_instrument(),
            any_side(),
            any::<bool>(),
            any_qty(),
            (any_price(), any_price(), any_price()),
            ts.clone()
        )
            .prop_map(
                |(
                    signal_id,
                    source_id,
                    fill_id,
                    instrument,
                    entry_side,
                    sl,
                    quantity,
                    (entry_price, exit_price, initial_stop),
                    ts,
                )| {
                    let leg = if sl {
                        BracketLeg::StopLoss
                    } else {
                        BracketLeg::TakeProfit
                    };
                    Event::BracketHit(BracketHit {
                        signal_id,
                        source_id,
                        fill_id,
                        instrument,
                        entry_side,
                        leg,
                        quantity,
                        entry_price,
                        exit_price,
                        initial_stop,
                        ts,
                    })
                }
            ),
        (
            any_id(),
            prop::option::of(any_text(400)),
            prop::option::of(any_instrument()),
            prop::option::of(any_side()),
            prop::collection::vec(any_text(100), 0..40),
            any_text(6000),
            ts.clone()
        )
            .prop_map(
                |(signal_id, source_id, instrument, side, reasons, message, ts)| {
                    Event::SignalRefused(SignalRefused {
                        signal_id,
                        source_id,
                        instrument,
                        side,
                        reasons,
                        message,
                        ts,
                    })
                }
            ),
        (
            any_text(80),
            any_text(80),
            any_text(6000),
            prop::option::of(any_id()),
            ts
        )
            .prop_map(|(from, to, cause, signal_id, ts)| {
                Event::TradingStateChanged(TradingStateChanged {
                    from,
                    to,
                    cause,
                    signal_id,
                    ts,
                })
            }),
    ]
}

proptest! {
    #[test]
    fn every_rendered_notification_passes_its_contract(event in any_event(), ch in 0usize..4) {
        let channel = Channel::ALL[ch];
        let n = event.render(channel);
        prop_assert!(n.check().is_empty(), "{:?}\n{:#?}", n.check(), n);
        prop_assert_eq!(n.channel, channel);
        if let Some(id) = n.signal_id {
            prop_assert!(n.text.contains(&id.to_string()));
        }
        // The sender's alert id survives (cleaned of control characters) when it was given.
        if let Some(source) = &n.source_id {
            let shown: String = source.chars().take(40).map(|c| if c.is_control() { ' ' } else { c }).collect();
            prop_assert!(n.text.contains(shown.trim()), "alert id missing");
        }
        // Round-trips through JSON like any contract.
        let json = serde_json::to_string(&n).unwrap();
        let back: neo_domain::contracts::NotificationV1 = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, n);
    }
}
