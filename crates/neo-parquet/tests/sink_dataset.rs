//! The tick archive from the outside: any sequence of pushes and flushes keeps
//! every row exactly once, and pyarrow reads what it wrote as one hive dataset.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use neo_domain::contracts::TickV1;
use neo_domain::{InstrumentId, Price, Quantity, Side, Timestamp};
use neo_parquet::{
    AltEvent, ArchiveConfig, ArchiveKind, TickArchive, TradeRow, count_rows, read_ticks,
    read_trades, write_alt,
};
use proptest::prelude::*;

/// 2024-01-02T00:00:00Z in nanoseconds.
const DAY1: i64 = 1_704_153_600_000_000_000;
const SEC: i64 = 1_000_000_000;

fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("neo-sink-it-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const VENUES: [&str; 2] = ["binance", "kraken"];

fn instruments() -> [InstrumentId; 2] {
    [
        InstrumentId::new("BTC-USDT").unwrap(),
        InstrumentId::new("ETH-USDT").unwrap(),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    /// A tick (or a trade) on venue, instrument, at seconds past DAY1.
    Push {
        venue: usize,
        instrument: usize,
        secs: i64,
        trade: bool,
    },
    /// A flush check this many seconds after the last.
    FlushDue(i64),
    /// A flush of everything.
    FlushAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, 0..2usize, 0..3 * 3600i64, any::<bool>()).prop_map(
            |(venue, instrument, secs, trade)| Op::Push { venue, instrument, secs, trade }
        ),
        2 => (0..8i64).prop_map(Op::FlushDue),
        1 => Just(Op::FlushAll),
    ]
}

/// What was pushed, with the venue's index, to compare with what reads back.
#[derive(Default)]
struct Pushed {
    ticks: Vec<(usize, TickV1)>,
    trades: Vec<(usize, TradeRow)>,
}

/// Applies `op` (the `n`th) to the archive, recording pushes; `now` is the clock.
fn apply(archive: &mut TickArchive, pushed: &mut Pushed, now: &mut i64, n: usize, op: Op) {
    match op {
        Op::Push {
            venue,
            instrument,
            secs,
            trade,
        } => {
            let instrument = instruments()[instrument];
            // The size is the push's number, so every row is told apart.
            let size = Quantity::from_int(n as i64).unwrap();
            let price = Price::from_int(100 + n as i64).unwrap();
            let ts_event = Timestamp::from_nanos(DAY1 + secs * SEC);
            if trade {
                let row = TradeRow {
                    instrument,
                    price,
                    size,
                    ts_event,
                    aggressor: if n.is_multiple_of(2) {
                        Side::Buy
                    } else {
                        Side::Sell
                    },
                    trade_id: format!("t{n}"),
                };
                archive.push_trade(VENUES[venue], &row).unwrap();
                pushed.trades.push((venue, row));
            } else {
                let tick = TickV1 {
                    instrument,
                    price,
                    size,
                    ts_event,
                    bid: n.is_multiple_of(3).then_some(price),
                    ask: None,
                };
                archive.push_tick(VENUES[venue], &tick).unwrap();
                pushed.ticks.push((venue, tick));
            }
        }
        Op::FlushDue(secs) => {
            *now += secs * SEC;
            archive.flush_due(Timestamp::from_nanos(*now)).unwrap();
        }
        Op::FlushAll => {
            archive.flush_all().unwrap();
        }
    }
}

/// The rows of one venue and instrument, in a fixed order.
fn of<T: Clone>(
    rows: &[(usize, T)],
    venue: usize,
    keep: impl Fn(&T) -> bool,
    key: impl Fn(&T) -> (Timestamp, Quantity),
) -> Vec<T> {
    let mut out: Vec<T> = rows
        .iter()
        .filter(|(v, t)| *v == venue && keep(t))
        .map(|(_, t)| t.clone())
        .collect();
    out.sort_by_key(key);
    out
}

/// Everything pushed reads back exactly once, per venue and instrument.
fn assert_read_back(root: &Path, pushed: &Pushed) {
    assert_eq!(
        count_rows(root, ArchiveKind::Ticks).unwrap(),
        pushed.ticks.len()
    );
    assert_eq!(
        count_rows(root, ArchiveKind::Trades).unwrap(),
        pushed.trades.len()
    );
    let (from, to) = (
        Timestamp::from_nanos(i64::MIN),
        Timestamp::from_nanos(i64::MAX),
    );
    let tick_key = |t: &TickV1| (t.ts_event, t.size);
    let trade_key = |t: &TradeRow| (t.ts_event, t.size);
    for (v, venue) in VENUES.iter().enumerate() {
        for instrument in instruments() {
            let want = of(&pushed.ticks, v, |t| t.instrument == instrument, tick_key);
            let mut got = read_ticks(root, Some(venue), &instrument, from, to).unwrap();
            got.sort_by_key(tick_key);
            assert_eq!(got, want);
            let want = of(&pushed.trades, v, |t| t.instrument == instrument, trade_key);
            let mut got = read_trades(root, Some(venue), &instrument, from, to).unwrap();
            got.sort_by_key(trade_key);
            assert_eq!(got, want);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn no_row_is_lost_or_written_twice(
        ops in prop::collection::vec(op(), 0..80),
        max_rows in 1..6usize,
        max_age in 1..10u64,
    ) {
        let root = temp_dir("prop");
        let config = ArchiveConfig { max_rows, max_age: Duration::from_secs(max_age) };
        let mut archive = TickArchive::open(&root, config).unwrap();
        let (mut pushed, mut now) = (Pushed::default(), DAY1);
        for (n, op) in ops.into_iter().enumerate() {
            apply(&mut archive, &mut pushed, &mut now, n, op);
        }
        let buffered = archive.buffered_rows();
        prop_assert_eq!(archive.flush_all().unwrap().rows, buffered);
        prop_assert_eq!(archive.buffered_rows(), 0);
        assert_read_back(&root, &pushed);
        drop(archive);
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// Runs a Python script, or `None` when pyarrow and pandas are not installed.
fn python(script: &str) -> Option<std::process::Output> {
    neo_testkit::python::with_pyarrow(script)
}

/// Writes 1,000 ticks over two venues and several hours, and one alt event;
/// returns how many ticks.
fn write_sample(root: &Path) -> usize {
    let mut archive = TickArchive::open(root, ArchiveConfig::default()).unwrap();
    let [btc, eth] = instruments();
    let mut pushed = 0;
    for i in 0..500i64 {
        for (venue, instrument) in [("binance", btc), ("kraken", eth)] {
            let price = Price::from_int(42_000 + i).unwrap();
            let tick = TickV1 {
                instrument,
                price,
                size: Quantity::from_int(1).unwrap(),
                bid: (i % 2 == 0).then_some(price),
                ask: None,
                // Every 37 s for 500 rows: across several hours.
                ts_event: Timestamp::from_nanos(DAY1 + 22 * 3600 * SEC + i * 37 * SEC),
            };
            archive.push_tick(venue, &tick).unwrap();
            pushed += 1;
        }
        if i % 100 == 0 {
            archive.flush_all().unwrap();
        }
    }
    archive.flush_all().unwrap();
    let news = AltEvent {
        source: "news".into(),
        kind: "headline".into(),
        ts_event: Timestamp::from_nanos(DAY1),
        received: Timestamp::from_nanos(DAY1 + SEC),
        payload: r#"{"title":"hello"}"#.into(),
    };
    write_alt(root, &[news]).unwrap();
    pushed
}

#[test]
fn pyarrow_and_pandas_read_the_archive_as_hive_datasets() {
    let root = temp_dir("pyarrow");
    let pushed = write_sample(&root);
    let script = format!(
        r#"
import json, pandas as pd, pyarrow.dataset as ds
root = {root:?}
ticks = ds.dataset(root + "/ticks", format="parquet", partitioning="hive").to_table()
df = pd.read_parquet(root + "/ticks")
alt = pd.read_parquet(root + "/alt")
print(json.dumps({{
    "rows": ticks.num_rows,
    "pandas_rows": len(df),
    "ts": str(ticks.schema.field("ts").type),
    "bid": str(ticks.schema.field("bid").type),
    "bid_nulls": ticks.column("bid").null_count,
    "venues": sorted(set(str(v) for v in df["venue"])),
    "dates": sorted(set(str(v) for v in df["date"])),
    "alt_rows": len(alt),
    "alt_source": str(alt["source"].iloc[0]),
}}))
"#,
        root = root.to_str().unwrap()
    );
    let Some(out) = python(&script) else { return };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("pyarrow: {stdout}");
    let expect = format!(
        r#"{{"rows": {pushed}, "pandas_rows": {pushed}, "ts": "timestamp[ns, tz=UTC]", "bid": "double", "bid_nulls": 500, "venues": ["binance", "kraken"], "dates": ["2024-01-02", "2024-01-03"], "alt_rows": 1, "alt_source": "news"}}"#
    );
    assert_eq!(stdout.trim(), expect);
}
