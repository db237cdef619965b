//! Where a message's time goes: only scanning its JSON (the floor under any
//! reader), reading it into events, the candle book, and the pieces of
//! reading that are not JSON (a decimal, a JSON float's shortest form, an
//! RFC 3339 time, a small string).
//! `cargo bench -p neo-market --bench parse_parts`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use neo_domain::{Price, Timestamp};
use neo_market::candles::CandleBook;
use neo_market::venue::Venue;
use serde::de::IgnoredAny;

#[path = "common/messages.rs"]
mod messages;
use messages::{BINANCE, COINBASE, KRAKEN};

fn bench(c: &mut Criterion) {
    let at = Timestamp::from_unix_secs(1_700_000_000).unwrap();
    let mut g = c.benchmark_group("parts");
    for (venue, msgs) in [
        (Venue::Binance, &BINANCE[..]),
        (Venue::Coinbase, &COINBASE[..]),
        (Venue::Kraken, &KRAKEN[..]),
    ] {
        g.throughput(Throughput::Elements(msgs.len() as u64));
        g.bench_function(format!("{}/scan", venue.name()), |b| {
            b.iter(|| {
                msgs.iter()
                    .map(|t| serde_json::from_str::<IgnoredAny>(t).is_ok() as usize)
                    .sum::<usize>()
            })
        });
        g.bench_function(format!("{}/read", venue.name()), |b| {
            b.iter(|| {
                msgs.iter()
                    .map(|t| venue.read(t, at).unwrap().events.len())
                    .sum::<usize>()
            })
        });
        let events: Vec<_> = msgs
            .iter()
            .flat_map(|t| venue.read(t, at).unwrap().events)
            .collect();
        let mut book = CandleBook::new(venue.candle_source());
        g.bench_function(format!("{}/book", venue.name()), |b| {
            b.iter(|| events.iter().filter(|e| book.on_event(e).is_some()).count())
        });
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("price_from_str", |b| {
        b.iter(|| {
            std::hint::black_box("64012.55000000")
                .parse::<Price>()
                .unwrap()
        })
    });
    g.bench_function("rfc3339", |b| {
        b.iter(|| {
            std::hint::black_box("2023-02-09T20:30:37.167359596Z")
                .parse::<Timestamp>()
                .unwrap()
        })
    });
    g.bench_function("f64_shortest", |b| {
        b.iter(|| {
            serde_json::Number::from_f64(std::hint::black_box(64012.6))
                .unwrap()
                .to_string()
        })
    });
    g.bench_function("string_alloc", |b| {
        b.iter(|| std::hint::black_box("1m").to_owned())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
