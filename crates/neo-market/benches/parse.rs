//! Parse and normalize throughput: each venue's messages (a realistic mix of
//! trades, quotes and candle updates) read into events and run through the
//! one-minute candle book, as the feed does for every message it receives.
//! `cargo bench -p neo-market --bench parse`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use neo_domain::Timestamp;
use neo_market::candles::CandleBook;
use neo_market::venue::Venue;

#[path = "common/messages.rs"]
mod messages;
use messages::{BINANCE, COINBASE, KRAKEN};

fn bench(c: &mut Criterion) {
    let at = Timestamp::from_unix_secs(1_700_000_000).unwrap();
    let mut group = c.benchmark_group("parse_normalize");
    for (venue, messages) in [
        (Venue::Binance, &BINANCE[..]),
        (Venue::Coinbase, &COINBASE[..]),
        (Venue::Kraken, &KRAKEN[..]),
    ] {
        group.throughput(Throughput::Elements(messages.len() as u64));
        let mut book = CandleBook::new(venue.candle_source());
        group.bench_function(venue.name(), |b| {
            b.iter(|| {
                let mut events = 0usize;
                for text in messages {
                    let read = venue.read(text, at).unwrap();
                    for e in &read.events {
                        events += usize::from(book.on_event(e).is_some());
                    }
                    events += read.events.len();
                }
                events
            });
        });
    }
    group.finish();
    // The floor under every reader: JSON text into serde_json's tree, nothing more.
    let mut json = c.benchmark_group("json_tree_only");
    json.throughput(Throughput::Elements(BINANCE.len() as u64));
    json.bench_function("binance", |b| {
        b.iter(|| {
            BINANCE
                .iter()
                .map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap())
                .filter(serde_json::Value::is_object)
                .count()
        });
    });
    json.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
