use std::str::FromStr;

use serde_json::json;

use super::*;
use crate::{Envelope, IdKind, InstrumentId, MessageId, Quantity, subject};

fn wire<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// The wire name, `as_str`, `Display` and `FromStr` agree for every value of an enum.
fn agree<T>(all: &[T])
where
    T: Copy + Serialize + DeserializeOwned + FromStr + PartialEq + Debug + std::fmt::Display,
    <T as FromStr>::Err: Debug,
{
    for &v in all {
        let name = wire(v);
        assert_eq!(v.to_string(), name);
        assert_eq!(T::from_str(&name).unwrap(), v);
        assert_eq!(serde_json::from_value::<T>(json!(name)).unwrap(), v);
    }
    assert!(T::from_str("no-such-value").is_err());
}

#[test]
fn enum_names_agree_everywhere() {
    agree(Side::ALL);
    agree(SignalSource::ALL);
    agree(SignalType::ALL);
    agree(Priority::ALL);
    agree(Recommendation::ALL);
    agree(Severity::ALL);
    agree(OrderType::ALL);
    agree(TimeInForce::ALL);
    agree(OrderStatus::ALL);
    agree(OrderRole::ALL);
    agree(Liquidity::ALL);
    agree(PositionSide::ALL);
    agree(Channel::ALL);
    agree(NotificationKind::ALL);
    let err = Side::from_str("hold").unwrap_err().to_string();
    assert_eq!(err, "\"hold\" is not one of: buy, sell");
    assert_eq!(Side::Buy.opposite(), Side::Sell);
    let terminal: Vec<_> = OrderStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    assert_eq!(terminal, ["filled", "cancelled", "rejected", "expired"]);
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn intent(side: Side) -> OrderIntentV1 {
    let id = |k: &str| MessageId::derived(IdKind::Other, k);
    OrderIntentV1 {
        id: id("intent"),
        decision_id: id("decision"),
        signal_id: id("signal"),
        instrument: InstrumentId::new("BTC-USDT").unwrap(),
        side,
        quantity: "0.5".parse().unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some("100".parse().unwrap()),
        stop_price: None,
        stop_loss: None,
        take_profit: None,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        arrival_price: None,
        ts_event: ts("2026-11-21T00:00:00Z"),
    }
}

fn paths(issues: Vec<Issue>) -> Vec<String> {
    issues.into_iter().map(|i| i.path).collect()
}

#[test]
fn brackets_must_straddle_the_entry() {
    let p = |s: &str| Some(s.parse().unwrap());
    let mut buy = intent(Side::Buy);
    (buy.stop_loss, buy.take_profit) = (p("95"), p("110"));
    assert!(buy.check().is_empty());
    (buy.stop_loss, buy.take_profit) = (p("105"), p("110"));
    assert_eq!(paths(buy.check()), ["/stop_loss"]);
    (buy.stop_loss, buy.take_profit) = (p("95"), p("99"));
    assert_eq!(paths(buy.check()), ["/take_profit"]);

    let mut sell = intent(Side::Sell);
    (sell.stop_loss, sell.take_profit) = (p("105"), p("90"));
    assert!(sell.check().is_empty());
    (sell.stop_loss, sell.take_profit) = (p("95"), p("90"));
    assert_eq!(paths(sell.check()), ["/stop_loss"]);
    // Without an entry price the brackets still have to be ordered.
    sell.order_type = OrderType::Market;
    sell.limit_price = None;
    (sell.stop_loss, sell.take_profit) = (p("90"), p("105"));
    assert_eq!(paths(sell.check()), ["/take_profit"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut bad = intent(Side::Buy);
    bad.quantity = Quantity::ZERO;
    bad.order_type = OrderType::StopLimit;
    bad.limit_price = None;
    assert_eq!(
        paths(bad.check()),
        ["/quantity", "/limit_price", "/stop_price"]
    );
    let issue = Issue::new("/quantity", "must be above zero");
    assert_eq!(issue.to_string(), "/quantity: must be above zero");
    assert_eq!(Issue::new("", "not JSON").to_string(), "/: not JSON");
}

#[test]
fn envelopes_carry_type_version_and_time_from_the_payload() {
    let payload = intent(Side::Buy);
    let signal = payload.signal_id;
    let env = Envelope::new(
        payload.id,
        subject::execution_paper(),
        payload.clone(),
        ts("2026-11-21T00:00:01Z"),
        signal,
        Some(payload.decision_id),
    );
    assert_eq!(env.message_type, "OrderIntentV1");
    assert_eq!(env.schema_version, 1);
    assert_eq!(env.ts_event, payload.ts_event);
    let json_env = env.clone().into_json().unwrap();
    let wire = serde_json::to_value(&json_env).unwrap();
    assert_eq!(wire["type"], "OrderIntentV1");
    assert_eq!(wire["payload"]["limit_price"], "100");
    assert!(wire.get("causation_id").is_some());
    assert_eq!(json_env.clone().decode::<OrderIntentV1>().unwrap(), env);
    let err = json_env.decode::<FillV1>().unwrap_err().to_string();
    assert_eq!(err, "expected a FillV1 payload, found OrderIntentV1");
}

#[test]
fn signals_keep_unknown_fields_as_metadata_and_readers_are_tolerant() {
    let doc = json!({
        "id": MessageId::derived(IdKind::Signal, "x").to_string(),
        "source": "api", "instrument": "AAPL", "signal_type": "alert", "priority": "low",
        "ts_event": "2026-11-21T00:00:00Z",
        "metadata": {"leverage": 3},
        "field_from_a_newer_minor_version": true
    });
    let signal: SignalEventV1 = serde_json::from_value(doc).unwrap();
    assert_eq!(signal.metadata["leverage"], 3);
    assert!(signal.check().is_empty());
}
