use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

#[test]
fn names_are_unique_and_every_schema_compiles() {
    let mut names: Vec<&str> = registry().iter().map(|e| e.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), registry().len());
    for e in registry() {
        assert_eq!(e.schema()["title"], e.name, "schema title");
        assert_eq!(
            e.schema()["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert!(
            e.validate(&json!({}))
                .unwrap()
                .iter()
                .any(|i| !i.path.is_empty()),
            "{}: {{}} must fail on a field",
            e.name
        );
        SubjectPattern::new(e.subjects).unwrap();
    }
    assert!(find("SignalEventV1").is_some());
    assert!(find("signaleventv1").is_none());
}

#[test]
fn formats_are_enforced() {
    let signal = find("SignalEventV1").unwrap();
    let doc = json!({
        "id": "not-a-uuid", "source": "api", "instrument": "AAPL", "signal_type": "alert",
        "priority": "low", "ts_event": "yesterday"
    });
    let issues = signal.validate(&doc).unwrap();
    let mut paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/id", "/ts_event"], "{issues:?}");
}

#[test]
fn schema_errors_list_every_problem_with_its_path() {
    let tick = find("TickV1").unwrap();
    let issues = tick
        .validate(&json!({"instrument": "btc", "price": true, "size": "-1"}))
        .unwrap();
    let mut paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    assert_eq!(
        paths,
        ["/instrument", "/price", "/size", "/ts_event"],
        "{issues:?}"
    );
}

#[test]
fn typed_decode_errors_name_their_path() {
    let tick = find("TickV1").unwrap();
    let doc = json!({"instrument": "BTC-USDT", "price": "1.0000000001", "size": "1", "ts_event": "2026-11-21T00:00:00Z"});
    let issues = tick.validate(&doc).unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].path, "/price");
    assert!(
        issues[0].problem.contains("more than 9 decimal places"),
        "{}",
        issues[0].problem
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("BTC-USDT"),
            Just("buy"),
            Just("entry"),
            Just("high"),
            Just("42000.5"),
            Just("2026-11-21T00:00:00Z"),
            Just("0199a3c1-7d2e-7c4a-9f10-3b5e8d2a6c01"),
            Just("SignalEventV1"),
            Just("signals.normalized.high.BTC-USDT.entry"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let keys = prop_oneof![
        Just("id".to_owned()),
        Just("instrument".to_owned()),
        Just("side".to_owned()),
        Just("price".to_owned()),
        Just("quantity".to_owned()),
        Just("payload".to_owned()),
        Just("type".to_owned()),
        Just("ts_event".to_owned()),
        "[a-z_]{1,10}",
    ];
    leaf.prop_recursive(3, 32, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(keys.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn validation_never_panics_and_accepts_only_what_roundtrips(doc in arb_json()) {
        for entry in registry() {
            let issues = entry.validate(&doc).unwrap();
            if issues.is_empty() {
                prop_assert!(entry.roundtrip(&doc).is_ok(), "{} accepted {doc} but cannot decode it", entry.name);
            }
        }
    }
}
