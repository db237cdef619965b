//! Tick sink throughput: pushing 1,000,000 quote ticks into a [`TickArchive`] and
//! writing them all to Parquet (10 part files at the default 100,000 rows),
//! on one thread. The goal is 500,000 ticks/s or more.
//! `cargo bench -p neo-parquet --bench sink`.

// A benchmark program: timing needs the wall clock, and a failed setup should stop it loudly.
#![allow(
    missing_docs,
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use neo_domain::contracts::TickV1;
use neo_domain::{Fixed, InstrumentId, Price, Quantity, Timestamp};
use neo_parquet::{ArchiveConfig, TickArchive};

const TICKS: usize = 1_000_000;
/// 2024-01-02T00:00:00Z in nanoseconds.
const DAY1: i64 = 1_704_153_600_000_000_000;

fn ticks() -> Vec<TickV1> {
    let instrument = InstrumentId::new("BTC-USDT").unwrap();
    (0..TICKS as i64)
        .map(|i| {
            let cents = 4_200_000 + (i * 7919) % 2_000;
            let price = Price::new(Fixed::from_parts(i128::from(cents), 2).unwrap()).unwrap();
            let spread = Price::new(Fixed::from_parts(1, 2).unwrap()).unwrap();
            TickV1 {
                instrument,
                price,
                size: Quantity::new(Fixed::from_parts(i128::from(1 + i % 500), 3).unwrap())
                    .unwrap(),
                bid: Some(price),
                ask: Some(price.checked_add(spread).unwrap()),
                // One tick a millisecond: 1,000 s, in one hour folder.
                ts_event: Timestamp::from_nanos(DAY1 + i * 1_000_000),
            }
        })
        .collect()
}

fn push_and_flush(root: &std::path::Path, ticks: &[TickV1]) {
    let mut archive = TickArchive::open(root, ArchiveConfig::default()).unwrap();
    for (n, tick) in ticks.iter().enumerate() {
        archive.push_tick("binance", tick).unwrap();
        if n % 10_000 == 9_999 {
            black_box(archive.flush_due(tick.ts_event).unwrap());
        }
    }
    black_box(archive.flush_all().unwrap());
}

fn benches(c: &mut Criterion) {
    let ticks = ticks();
    let base = std::env::temp_dir().join(format!("neo-sink-bench-{}", std::process::id()));
    let mut group = c.benchmark_group("tick_sink");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(TICKS as u64));
    group.bench_function("push_and_flush_1m_ticks", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for n in 0..iters {
                let root = base.join(n.to_string());
                let _ = std::fs::remove_dir_all(&root);
                let start = Instant::now();
                push_and_flush(&root, &ticks);
                total += start.elapsed();
                std::fs::remove_dir_all(&root).unwrap();
            }
            total
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&base);
}

criterion_group!(sink, benches);
criterion_main!(sink);
