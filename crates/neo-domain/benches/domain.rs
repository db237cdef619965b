//! Hot paths of intake: exact decimal parsing, TradingView ticker parsing, and
//! contract validation (schema plus rules) of a full signal.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use neo_domain::instrument::parse_ticker;
use neo_domain::schema::find;
use neo_domain::{Fixed, Price};

fn signal() -> serde_json::Value {
    let path = neo_testkit::fixture_dir().join("SignalEventV1/valid/tradingview_entry.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_default()).unwrap_or_default()
}

fn benches(c: &mut Criterion) {
    c.bench_function("fixed_parse", |b| {
        b.iter(|| black_box("42000.123456").parse::<Fixed>())
    });
    c.bench_function("price_from_json_number", |b| {
        b.iter(|| serde_json::from_str::<Price>(black_box("42000.5")))
    });
    c.bench_function("parse_ticker", |b| {
        b.iter(|| parse_ticker(black_box("BYBIT:BTCUSDT.P"), None))
    });
    let doc = signal();
    let entry = find("SignalEventV1");
    c.bench_function("validate_signal_event", |b| {
        b.iter(|| entry.map(|e| e.validate(black_box(&doc))))
    });
}

criterion_group!(domain, benches);
criterion_main!(domain);
