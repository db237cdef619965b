#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use neo_domain::contracts::TickV1;
use neo_domain::{InstrumentId, Price, Side, Timestamp};

use super::*;
use crate::alt::read_batches;
use arrow_array::Array;

/// A fresh directory no other test uses.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("neo-sink-test-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// 2024-01-02T00:00:00Z in nanoseconds.
const DAY1: i64 = 1_704_153_600_000_000_000;
const SEC: i64 = 1_000_000_000;
const HOUR: i64 = 3600 * SEC;
const DAY: i64 = 24 * HOUR;

fn at(nanos: i64) -> Timestamp {
    Timestamp::from_nanos(nanos)
}

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

fn tick(instrument: InstrumentId, ts: i64, price: &str, size: &str, quote: bool) -> TickV1 {
    let p: Price = price.parse().unwrap();
    TickV1 {
        instrument,
        price: p,
        size: size.parse().unwrap(),
        bid: quote.then(|| "41999.5".parse().unwrap()),
        ask: quote.then(|| "42000.25".parse().unwrap()),
        ts_event: at(ts),
    }
}

fn trade(ts: i64, price: &str, side: Side, id: &str) -> TradeRow {
    TradeRow {
        instrument: btc(),
        price: price.parse().unwrap(),
        size: "0.015".parse().unwrap(),
        aggressor: side,
        trade_id: id.to_owned(),
        ts_event: at(ts),
    }
}

fn config(max_rows: usize, max_age_secs: u64) -> ArchiveConfig {
    ArchiveConfig {
        max_rows,
        max_age: Duration::from_secs(max_age_secs),
    }
}

/// Every file under `dir`, relative to it, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    out
}

fn all_ticks(root: &Path) -> Vec<TickV1> {
    read_ticks(root, None, &btc(), at(i64::MIN), at(i64::MAX)).unwrap()
}

#[test]
fn a_buffer_is_written_once_it_holds_max_rows() {
    let root = temp_dir("size");
    let mut archive = TickArchive::open(&root, config(3, 3600)).unwrap();
    for i in 0..2 {
        archive
            .push_tick("binance", &tick(btc(), DAY1 + i, "42000", "1", false))
            .unwrap();
    }
    let none = archive.flush_due(at(DAY1)).unwrap();
    assert_eq!(none, FlushSummary::default());
    assert_eq!(archive.buffered_rows(), 2);
    archive
        .push_tick("binance", &tick(btc(), DAY1 + 2, "42000", "1", false))
        .unwrap();
    let flushed = archive.flush_due(at(DAY1)).unwrap();
    assert_eq!(flushed.rows, 3);
    assert_eq!(flushed.files.len(), 1);
    assert_eq!(archive.buffered_rows(), 0);
    assert_eq!(count_rows(&root, ArchiveKind::Ticks).unwrap(), 3);
    assert_eq!(all_ticks(&root).len(), 3);
}

#[test]
fn a_buffer_is_written_max_age_after_a_flush_check_first_saw_it() {
    let root = temp_dir("age");
    let mut archive = TickArchive::open(&root, config(1000, 10)).unwrap();
    let t0 = DAY1 + 5 * HOUR;
    archive
        .push_tick("binance", &tick(btc(), t0, "42000", "1", true))
        .unwrap();
    assert!(archive.flush_due(at(t0)).unwrap().files.is_empty());
    assert!(
        archive
            .flush_due(at(t0 + 10 * SEC - 1))
            .unwrap()
            .files
            .is_empty()
    );
    let flushed = archive.flush_due(at(t0 + 10 * SEC)).unwrap();
    assert_eq!((flushed.rows, flushed.files.len()), (1, 1));
    // A new buffer's age starts again at the first check that sees it.
    archive
        .push_tick("binance", &tick(btc(), t0 + 1, "42000", "1", true))
        .unwrap();
    assert!(
        archive
            .flush_due(at(t0 + 30 * SEC))
            .unwrap()
            .files
            .is_empty()
    );
    assert_eq!(archive.flush_due(at(t0 + 40 * SEC)).unwrap().rows, 1);
    assert_eq!(count_rows(&root, ArchiveKind::Ticks).unwrap(), 2);
}

#[test]
fn rows_are_partitioned_by_venue_instrument_utc_date_and_hour() {
    let root = temp_dir("partitions");
    let eth = InstrumentId::new("ETH-USDT").unwrap();
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    let late = DAY1 + 23 * HOUR + 59 * 60 * SEC; // 2024-01-02T23:59Z
    let next_day = DAY1 + DAY + 5; // 2024-01-03T00:00:00.000000005Z
    archive
        .push_tick("binance", &tick(btc(), late, "1", "1", false))
        .unwrap();
    archive
        .push_tick("binance", &tick(btc(), next_day, "1", "1", false))
        .unwrap();
    archive
        .push_tick("kraken", &tick(eth, DAY1 + 7 * HOUR, "1", "1", false))
        .unwrap();
    archive
        .push_trade("binance", &trade(late, "1", Side::Buy, "t1"))
        .unwrap();
    let summary = archive.flush_all().unwrap();
    assert_eq!((summary.rows, summary.files.len()), (4, 4));
    let files: Vec<String> = files_under(&root)
        .into_iter()
        .filter(|f| !f.ends_with(".lock"))
        .collect();
    assert_eq!(
        files,
        [
            format!(
                "ticks/venue=binance/instrument=BTC-USDT/date=2024-01-02/hour=23/part-{late}-0.parquet"
            ),
            format!(
                "ticks/venue=binance/instrument=BTC-USDT/date=2024-01-03/hour=00/part-{next_day}-1.parquet"
            ),
            format!(
                "ticks/venue=kraken/instrument=ETH-USDT/date=2024-01-02/hour=07/part-{}-2.parquet",
                DAY1 + 7 * HOUR
            ),
            format!(
                "trades/venue=binance/instrument=BTC-USDT/date=2024-01-02/hour=23/part-{late}-3.parquet"
            ),
        ]
    );
}

#[test]
fn ticks_and_trades_read_back_exactly_sorted_and_by_range_and_venue() {
    let root = temp_dir("roundtrip");
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    // Out of order, across an hour boundary, with and without quotes.
    let pushed = vec![
        tick(btc(), DAY1 + HOUR + 3, "42000.15", "0.001", true),
        tick(btc(), DAY1 + HOUR - 1, "41999.99", "2.5", false),
        tick(btc(), DAY1 + HOUR + 1, "0.000000001", "0", true),
        tick(btc(), DAY1 + 2 * HOUR, "123456.789", "1000000", false),
    ];
    for t in &pushed {
        archive.push_tick("binance", t).unwrap();
    }
    archive
        .push_tick("kraken", &tick(btc(), DAY1 + HOUR + 2, "7", "1", true))
        .unwrap();
    let trades = [
        trade(DAY1 + 10, "42000.5", Side::Sell, "b-2"),
        trade(DAY1 + 5, "42000.25", Side::Buy, "ид-1 ✓"),
        trade(DAY1 + 7, "42000.5", Side::Sell, ""),
    ];
    for t in &trades {
        archive.push_trade("binance", t).unwrap();
    }
    archive.flush_all().unwrap();

    let mut expected = pushed.clone();
    expected.sort_by_key(|t| t.ts_event);
    let binance = read_ticks(&root, Some("binance"), &btc(), at(0), at(i64::MAX)).unwrap();
    assert_eq!(binance, expected);
    assert_eq!(all_ticks(&root).len(), 5);
    // Half-open range: from is in, to is out.
    let window = read_ticks(
        &root,
        Some("binance"),
        &btc(),
        at(DAY1 + HOUR - 1),
        at(DAY1 + HOUR + 3),
    )
    .unwrap();
    assert_eq!(window, expected[..2].to_vec());
    let other = InstrumentId::new("SOL-USDT").unwrap();
    assert!(
        read_ticks(&root, None, &other, at(0), at(i64::MAX))
            .unwrap()
            .is_empty()
    );

    let mut expected_trades = trades.to_vec();
    expected_trades.sort_by_key(|t| t.ts_event);
    let read = read_trades(&root, Some("binance"), &btc(), at(0), at(i64::MAX)).unwrap();
    assert_eq!(read, expected_trades);
    assert_eq!(count_rows(&root, ArchiveKind::Trades).unwrap(), 3);
    assert_eq!(count_rows(&root, ArchiveKind::Ticks).unwrap(), 5);
}

#[test]
fn rows_within_a_file_are_sorted_by_time() {
    let root = temp_dir("sorted");
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    for ts in [5, 1, 4, 2, 3] {
        archive
            .push_tick("binance", &tick(btc(), DAY1 + ts, "1", "1", ts % 2 == 0))
            .unwrap();
    }
    let summary = archive.flush_all().unwrap();
    let [path] = summary.files.as_slice() else {
        panic!("one file expected: {summary:?}");
    };
    assert!(path.ends_with(format!("part-{}-0.parquet", DAY1 + 1)));
    let mut seen = Vec::new();
    read_batches(path, |col| {
        let ts = col.ts("ts")?;
        let bid = col.f64("bid", true)?;
        for i in 0..col.batch.num_rows() {
            seen.push((ts.value(i) - DAY1, bid.is_valid(i)));
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [(1, false), (2, true), (3, false), (4, true), (5, false)]
    );
}

#[test]
fn no_temporary_file_is_left_and_open_removes_a_crash_s_leftovers() {
    let root = temp_dir("leftovers");
    let mut archive = TickArchive::open(&root, config(2, 10)).unwrap();
    assert_eq!(archive.leftovers_removed(), 0);
    for i in 0..9 {
        archive
            .push_tick(
                "binance",
                &tick(btc(), DAY1 + i * HOUR / 2, "1", "1", false),
            )
            .unwrap();
        archive.flush_due(at(DAY1)).unwrap();
    }
    archive.flush_all().unwrap();
    assert!(files_under(&root).iter().all(|f| !f.ends_with(".tmp")));
    drop(archive);

    // What a crash mid-flush leaves: hidden temporary files beside the parts.
    let hour = root.join("ticks/venue=binance/instrument=BTC-USDT/date=2024-01-02/hour=00");
    std::fs::write(hour.join(".part-1-99-0.tmp"), b"half a file").unwrap();
    let deep = root.join("trades/venue=x/instrument=Y/date=2024-01-02/hour=01");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join(".part-2-99-1.tmp"), b"").unwrap();
    std::fs::write(root.join("keep.tmp"), b"not ours").unwrap();
    let before = count_rows(&root, ArchiveKind::Ticks).unwrap();

    let archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    assert_eq!(archive.leftovers_removed(), 2);
    let files = files_under(&root);
    assert!(
        files
            .iter()
            .all(|f| !f.ends_with(".tmp") || f == "keep.tmp")
    );
    assert_eq!(count_rows(&root, ArchiveKind::Ticks).unwrap(), before);
    assert_eq!(before, 9);
}

#[test]
fn a_second_archive_on_the_same_root_is_refused_until_the_first_closes() {
    let root = temp_dir("lock");
    let first = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    let err = TickArchive::open(&root, ArchiveConfig::default()).unwrap_err();
    assert!(err.to_string().contains("another archive"), "{err}");
    drop(first);
    TickArchive::open(&root, ArchiveConfig::default()).unwrap();
}

#[test]
fn a_failed_flush_keeps_the_buffer_for_the_next_one() {
    let root = temp_dir("retry");
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    archive
        .push_tick("binance", &tick(btc(), DAY1, "1", "1", false))
        .unwrap();
    // A file where the venue folder must go makes the write fail.
    let blocker = root.join("ticks/venue=binance");
    std::fs::write(&blocker, b"").unwrap();
    assert!(matches!(archive.flush_all(), Err(Error::Io { .. })));
    assert_eq!(archive.buffered_rows(), 1);
    std::fs::remove_file(&blocker).unwrap();
    assert_eq!(archive.flush_all().unwrap().rows, 1);
    assert_eq!(all_ticks(&root).len(), 1);
}

#[test]
fn prune_removes_date_folders_whose_whole_day_is_older_than_keep_days() {
    let root = temp_dir("prune");
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    for day in 0..3 {
        let ts = DAY1 + day * DAY + HOUR;
        archive
            .push_tick("binance", &tick(btc(), ts, "1", "1", false))
            .unwrap();
        archive
            .push_trade("kraken", &trade(ts, "1", Side::Buy, "t"))
            .unwrap();
    }
    archive.flush_all().unwrap();
    // Alternative data ages out the same way.
    let news = |day: i64| AltEvent {
        source: "news".to_owned(),
        kind: "headline".to_owned(),
        ts_event: at(DAY1 + day * DAY + HOUR),
        received: at(DAY1 + day * DAY + HOUR),
        payload: "{}".to_owned(),
    };
    write_alt(&root, &[news(0), news(2)]).unwrap();
    let now = at(DAY1 + 2 * DAY + 12 * HOUR); // 2024-01-04T12:00Z
    assert_eq!(prune(&root, 0, now).unwrap(), 0);
    // Keep 1 day: 2024-01-02 ended before 2024-01-03T12:00 and goes; 01-03 stays.
    assert_eq!(prune(&root, 1, now).unwrap(), 3);
    assert!(!root.join("alt/source=news/date=2024-01-02").exists());
    assert!(root.join("alt/source=news/date=2024-01-04").exists());
    assert_eq!(prune(&root, 1, now).unwrap(), 0);
    let ticks = all_ticks(&root);
    assert_eq!(ticks.len(), 2);
    assert_eq!(ticks[0].ts_event, at(DAY1 + DAY + HOUR));
    assert_eq!(count_rows(&root, ArchiveKind::Trades).unwrap(), 2);
    assert!(
        !root
            .join("ticks/venue=binance/instrument=BTC-USDT/date=2024-01-02")
            .exists()
    );
}

#[test]
fn a_venue_that_cannot_name_a_folder_is_refused() {
    let root = temp_dir("venue");
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    let long = "v".repeat(65);
    for venue in [
        "",
        "..",
        "../etc",
        "a/b",
        "a=b",
        "bin ance",
        "é",
        long.as_str(),
    ] {
        let err = archive
            .push_tick(venue, &tick(btc(), DAY1, "1", "1", false))
            .unwrap_err();
        assert!(
            matches!(err, Error::InvalidToken { what: "venue", .. }),
            "{venue:?}: {err}"
        );
        let err = read_ticks(&root, Some(venue), &btc(), at(0), at(1)).unwrap_err();
        assert!(matches!(err, Error::InvalidToken { .. }), "{venue:?}");
    }
    assert_eq!(archive.buffered_rows(), 0);
    archive
        .push_tick(&"v".repeat(64), &tick(btc(), DAY1, "1", "1", false))
        .unwrap();
    archive
        .push_tick("Binance_Futures-2", &tick(btc(), DAY1, "1", "1", false))
        .unwrap();
    assert_eq!(archive.flush_all().unwrap().rows, 2);
}

fn alt(source: &str, kind: &str, ts: i64, payload: &str) -> AltEvent {
    AltEvent {
        source: source.to_owned(),
        kind: kind.to_owned(),
        ts_event: at(ts),
        received: at(ts + 250_000_000),
        payload: payload.to_owned(),
    }
}

#[test]
fn alt_events_are_written_per_source_and_date_and_read_by_range() {
    let root = temp_dir("alt");
    let events = vec![
        alt("news", "headline", DAY1 + DAY + 5, r#"{"title":"later"}"#),
        alt("news", "headline", DAY1 + 10, r#"{"title":"b"}"#),
        alt("funding", "funding_rate", DAY1 + 3, r#"{"rate":"0.0001"}"#),
        alt("news", "headline", DAY1 + 1, r#"{"title":"a ✓"}"#),
    ];
    let files = write_alt(&root, &events).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    assert_eq!(
        names,
        [
            format!(
                "alt/source=funding/date=2024-01-02/part-{}-0.parquet",
                DAY1 + 3
            ),
            format!(
                "alt/source=news/date=2024-01-02/part-{}-0.parquet",
                DAY1 + 1
            ),
            format!(
                "alt/source=news/date=2024-01-03/part-{}-0.parquet",
                DAY1 + DAY + 5
            ),
        ]
    );
    let all = read_alt(&root, "news", at(0), at(i64::MAX), 100).unwrap();
    assert_eq!(
        all,
        vec![events[3].clone(), events[1].clone(), events[0].clone()]
    );
    let first_day = read_alt(&root, "news", at(DAY1), at(DAY1 + DAY), 100).unwrap();
    assert_eq!(first_day, vec![events[3].clone(), events[1].clone()]);
    let limited = read_alt(&root, "news", at(0), at(i64::MAX), 1).unwrap();
    assert_eq!(limited, vec![events[3].clone()]);
    assert_eq!(
        read_alt(&root, "funding", at(0), at(i64::MAX), 10).unwrap(),
        vec![events[2].clone()]
    );
    assert!(
        read_alt(&root, "onchain", at(0), at(i64::MAX), 10)
            .unwrap()
            .is_empty()
    );
    assert!(write_alt(&root, &[]).unwrap().is_empty());
}

#[test]
fn an_alt_write_never_replaces_an_existing_part_file() {
    let root = temp_dir("alt-names");
    let event = alt("news", "headline", DAY1 + 10, "{}");
    let first = write_alt(&root, std::slice::from_ref(&event)).unwrap();
    assert!(first[0].ends_with(format!("part-{}-0.parquet", DAY1 + 10)));
    // A second write with the same first time gets the next free name.
    let second = write_alt(&root, std::slice::from_ref(&event)).unwrap();
    assert!(second[0].ends_with(format!("part-{}-1.parquet", DAY1 + 10)));
    let read = read_alt(&root, "news", at(0), at(i64::MAX), 100).unwrap();
    assert_eq!(read, vec![event.clone(), event]);
}

#[test]
fn alt_sources_and_kinds_that_cannot_name_a_folder_are_refused() {
    let root = temp_dir("alt-bad");
    let good = alt("news", "headline", DAY1, "{}");
    for (source, kind) in [
        ("../x", "headline"),
        ("news", "a/b"),
        ("", "k"),
        ("news", ""),
    ] {
        let bad = alt(source, kind, DAY1, "{}");
        // Nothing is written when any event is refused.
        let err = write_alt(&root, &[good.clone(), bad]).unwrap_err();
        assert!(matches!(err, Error::InvalidToken { .. }), "{err}");
    }
    assert!(!root.join(ALT_DIR).exists());
    let err = read_alt(&root, "..", at(0), at(1), 1).unwrap_err();
    assert!(matches!(err, Error::InvalidToken { what: "source", .. }));
}

/// The files in one hour folder of BTC-USDT ticks on binance.
fn hour_files(root: &Path, hour: &str) -> Vec<String> {
    let dir = root.join(format!(
        "ticks/venue=binance/instrument=BTC-USDT/date=2024-01-02/hour={hour}"
    ));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn finished_hours_are_compacted_into_one_file_losing_nothing() {
    let root = temp_dir("compact");
    let mut archive = TickArchive::open(&root, ArchiveConfig::default()).unwrap();
    // Three flushes in hour 00, two in hour 01, trades in hour 00.
    for (n, ts) in [0, 60, 120, HOUR / SEC, HOUR / SEC + 60].iter().enumerate() {
        for k in 0..3 {
            let t = DAY1 + ts * SEC + k * SEC;
            archive
                .push_tick(
                    "binance",
                    &tick(btc(), t, &format!("{}", 100 + n), "1", k == 0),
                )
                .unwrap();
        }
        archive
            .push_trade(
                "binance",
                &trade(DAY1 + ts * SEC, "100", Side::Buy, &format!("t{n}")),
            )
            .unwrap();
        archive.flush_all().unwrap();
    }
    let before = all_ticks(&root);
    assert_eq!(hour_files(&root, "00").len(), 3);
    // Only hour 00 has ended by 01:30.
    let s = compact(&root, at(DAY1 + HOUR + HOUR / 2)).unwrap();
    assert_eq!((s.hours, s.parts, s.rows), (2, 6, 9 + 3), "{s:?}");
    let files = hour_files(&root, "00");
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].starts_with("hour-"));
    assert_eq!(hour_files(&root, "01").len(), 2);
    assert_eq!(all_ticks(&root), before);
    assert_eq!(count_rows(&root, ArchiveKind::Trades).unwrap(), 5);
    // Nothing left to do: a second pass changes nothing.
    assert_eq!(compact(&root, at(DAY1 + HOUR + HOUR / 2)).unwrap().hours, 0);

    // A part flushed late into the compacted hour is folded in by the next pass.
    archive
        .push_tick("binance", &tick(btc(), DAY1 + 30 * SEC, "99", "1", false))
        .unwrap();
    archive.flush_all().unwrap();
    let s = compact(&root, at(DAY1 + 3 * HOUR)).unwrap();
    assert_eq!(s.hours, 3, "{s:?}");
    assert_eq!(hour_files(&root, "00").len(), 1);
    assert_eq!(all_ticks(&root).len(), before.len() + 1);

    // A crash after the rename, before the removals: the next pass removes the
    // leftovers the compacted file already holds, and nothing is counted twice.
    let dir = root.join("ticks/venue=binance/instrument=BTC-USDT/date=2024-01-02/hour=00");
    let compacted = dir.join(&hour_files(&root, "00")[0]);
    let from = compact::replaced_by(&compacted).unwrap();
    let leftover = dir.join(&from[0]);
    std::fs::copy(&compacted, &leftover).unwrap();
    assert_eq!(all_ticks(&root).len(), 2 * (before.len() + 1) - 6);
    let s = compact(&root, at(DAY1 + 3 * HOUR)).unwrap();
    assert_eq!((s.leftovers, s.hours), (1, 0), "{s:?}");
    assert_eq!(all_ticks(&root).len(), before.len() + 1);
}
