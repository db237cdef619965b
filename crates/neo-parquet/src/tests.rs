#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Date64Array, Decimal128Array, Float32Array,
    Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt32Array,
};
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::history::Bar;
use parquet::arrow::ArrowWriter;
use parquet::file::reader::{FileReader, SerializedFileReader};
use proptest::prelude::*;

use super::*;

/// A fresh directory no other test uses.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!(
        "neo-parquet-test-{}-{n}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// 2024-01-02T00:00:00Z and the day after, in seconds.
const DAY1: i64 = 1_704_153_600;
const DAY2: i64 = DAY1 + 86_400;

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_nanos(secs * 1_000_000_000)
}

fn prices() -> Vec<(&'static str, ArrayRef)> {
    vec![
        ("Open", Arc::new(Float64Array::from(vec![10.0, 10.5]))),
        ("HIGH", Arc::new(Float64Array::from(vec![11.0, 12.0]))),
        ("low", Arc::new(Float64Array::from(vec![9.0, 10.0]))),
        ("Close", Arc::new(Float64Array::from(vec![10.5, 11.0]))),
    ]
}

fn with_time(name: &'static str, time: ArrayRef) -> Vec<(&'static str, ArrayRef)> {
    let mut columns = vec![(name, time)];
    columns.extend(prices());
    columns
}

fn read_one(columns: Vec<(&str, ArrayRef)>) -> Result<Ohlcv> {
    let dir = temp_dir("read");
    let path = dir.join("in.parquet");
    write(&path, columns);
    let out = read_ohlcv(&path);
    let _ = std::fs::remove_dir_all(dir);
    out
}

#[test]
fn every_time_type_reads_as_the_same_instant() {
    let secs = vec![DAY1, DAY2];
    let nanos: Vec<i64> = secs.iter().map(|s| s * 1_000_000_000).collect();
    let cases: Vec<(&str, &'static str, ArrayRef)> = vec![
        (
            "timestamp s",
            "date",
            Arc::new(TimestampSecondArray::from(secs.clone())),
        ),
        (
            "timestamp ms utc",
            "Date",
            Arc::new(
                TimestampMillisecondArray::from(secs.iter().map(|s| s * 1000).collect::<Vec<_>>())
                    .with_timezone("UTC"),
            ),
        ),
        (
            "timestamp us tz",
            "DateTime",
            Arc::new(
                TimestampMicrosecondArray::from(
                    secs.iter().map(|s| s * 1_000_000).collect::<Vec<_>>(),
                )
                .with_timezone("America/New_York"),
            ),
        ),
        (
            "timestamp ns",
            "__index_level_0__",
            Arc::new(TimestampNanosecondArray::from(nanos.clone())),
        ),
        (
            "date32",
            "time",
            Arc::new(Date32Array::from(vec![19_724, 19_725])),
        ),
        (
            "date64",
            "timestamp",
            Arc::new(Date64Array::from(
                secs.iter().map(|s| s * 1000).collect::<Vec<_>>(),
            )),
        ),
        (
            "int64 seconds",
            "open_time",
            Arc::new(Int64Array::from(secs.clone())),
        ),
        (
            "int64 ms",
            "index",
            Arc::new(Int64Array::from(
                secs.iter().map(|s| s * 1000).collect::<Vec<_>>(),
            )),
        ),
        ("int64 ns", "TS", Arc::new(Int64Array::from(nanos.clone()))),
        (
            "int32 seconds",
            "date",
            Arc::new(Int32Array::from(
                secs.iter()
                    .map(|s| i32::try_from(*s).unwrap())
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "text",
            "date",
            Arc::new(StringArray::from(vec![
                "2024-01-02",
                "2024-01-03T00:00:00Z",
            ])),
        ),
        (
            "named otherwise, typed as a time",
            "Datum",
            Arc::new(TimestampSecondArray::from(secs.clone())),
        ),
    ];
    for (what, name, time) in cases {
        let out = read_one(with_time(name, time)).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(out.unreadable.is_empty(), "{what}: {:?}", out.unreadable);
        let got: Vec<Timestamp> = out.bars.iter().map(|b| b.ts).collect();
        assert_eq!(got, vec![ts(DAY1), ts(DAY2)], "{what}");
        assert_eq!(
            (out.bars[1].line, out.bars[1].close, out.bars[1].volume),
            (2, 11.0, 0.0)
        );
    }
}

#[test]
fn every_number_type_reads_as_f64() {
    let time: ArrayRef = Arc::new(Int64Array::from(vec![DAY1, DAY2]));
    let decimal = Decimal128Array::from(vec![1050_i128, 1100])
        .with_precision_and_scale(10, 2)
        .unwrap();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("date", time),
        ("open", Arc::new(Float32Array::from(vec![10.0_f32, 10.5]))),
        ("high", Arc::new(Int32Array::from(vec![11, 12]))),
        ("low", Arc::new(UInt32Array::from(vec![9, 10]))),
        ("close", Arc::new(decimal)),
        ("Volume", Arc::new(Int64Array::from(vec![100, 250]))),
    ];
    let out = read_one(columns).unwrap();
    assert!(out.unreadable.is_empty(), "{:?}", out.unreadable);
    let b = out.bars[1];
    assert_eq!(
        (b.open, b.high, b.low, b.close, b.volume),
        (10.5, 12.0, 10.0, 11.0, 250.0)
    );
    assert_eq!(out.bars[0].close, 10.5);
}

#[test]
fn nulls_are_problems_of_their_row_not_of_the_file() {
    let columns: Vec<(&str, ArrayRef)> = vec![
        (
            "date",
            Arc::new(Int64Array::from(vec![
                Some(DAY1),
                None,
                Some(DAY2),
                Some(DAY2 + 86_400),
                Some(i64::MAX),
            ])),
        ),
        (
            "open",
            Arc::new(Float64Array::from(vec![
                Some(1.0),
                Some(1.0),
                None,
                Some(1.0),
                Some(1.0),
            ])),
        ),
        (
            "high",
            Arc::new(Float64Array::from(vec![
                Some(2.0),
                Some(2.0),
                Some(2.0),
                Some(2.0),
                Some(2.0),
            ])),
        ),
        (
            "low",
            Arc::new(Float64Array::from(vec![
                Some(0.5),
                Some(0.5),
                None,
                Some(f64::NAN),
                Some(0.5),
            ])),
        ),
        (
            "close",
            Arc::new(Float64Array::from(vec![
                Some(1.5),
                None,
                Some(1.5),
                Some(1.5),
                Some(1.5),
            ])),
        ),
        (
            "vol",
            Arc::new(Float64Array::from(vec![
                None,
                Some(1.0),
                Some(1.0),
                Some(1.0),
                Some(1.0),
            ])),
        ),
    ];
    let out = read_one(columns).unwrap();
    assert_eq!(
        out.unreadable,
        vec![
            "row 2: time is null".to_owned(),
            "row 3: open, low are null".to_owned(),
        ]
    );
    // NaN stays NaN for the gates to name; a null volume reads as 0; a huge
    // integer is nanoseconds by the magnitude rule.
    assert_eq!(out.bars.len(), 3);
    assert_eq!((out.bars[0].line, out.bars[0].volume), (1, 0.0));
    assert!(out.bars[1].low.is_nan());
    assert_eq!(out.bars[2].ts, Timestamp::from_nanos(i64::MAX));

    let out = read_one(with_time(
        "date",
        Arc::new(StringArray::from(vec!["2024-01-02", "yesterday"])),
    ))
    .unwrap();
    assert_eq!(
        out.unreadable,
        vec!["row 2: cannot read the time \"yesterday\""]
    );
    let out = read_one(with_time(
        "date",
        Arc::new(TimestampSecondArray::from(vec![DAY1, i64::MAX / 10])),
    ))
    .unwrap();
    assert!(
        out.unreadable[0].starts_with("row 2: time ")
            && out.unreadable[0].ends_with("out of range"),
        "{:?}",
        out.unreadable
    );
}

#[test]
fn bad_files_are_clear_errors() {
    let dir = temp_dir("bad");
    let err = read_ohlcv(&dir.join("missing.parquet")).unwrap_err();
    assert!(matches!(err, Error::Io { action: "open", .. }), "{err}");
    let not_parquet = dir.join("text.parquet");
    std::fs::write(&not_parquet, "date,open\n1,2\n").unwrap();
    let err = read_ohlcv(&not_parquet).unwrap_err().to_string();
    assert!(err.contains("cannot read as Parquet"), "{err}");

    let no_close: Vec<(&str, ArrayRef)> =
        with_time("date", Arc::new(Int64Array::from(vec![DAY1, DAY2])))
            .into_iter()
            .filter(|(n, _)| *n != "Close")
            .collect();
    let err = read_one(no_close).unwrap_err().to_string();
    assert!(
        err.contains("no \"close\" column (columns: date (Int64), Open"),
        "{err}"
    );

    let no_time = prices();
    let err = read_one(no_time).unwrap_err().to_string();
    assert!(err.contains("no time column"), "{err}");

    let mut bool_close = with_time("date", Arc::new(Int64Array::from(vec![DAY1, DAY2])));
    bool_close[4] = ("close", Arc::new(BooleanArray::from(vec![true, false])));
    let err = read_one(bool_close).unwrap_err().to_string();
    assert!(
        err.contains("column \"close\" is Boolean; expected float16/32/64"),
        "{err}"
    );
    let binary_time: ArrayRef = Arc::new(BinaryArray::from_vec(vec![b"x", b"y"]));
    let err = read_one(with_time("date", binary_time))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column \"date\" is Binary; expected a timestamp"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unused_columns_of_any_type_are_not_decoded() {
    let mut columns = with_time("date", Arc::new(Int64Array::from(vec![DAY1, DAY2])));
    columns.push((
        "notes",
        Arc::new(BinaryArray::from_vec(vec![b"a", b"b"])) as ArrayRef,
    ));
    columns.push(("flag", Arc::new(BooleanArray::from(vec![true, false]))));
    let out = read_one(columns).unwrap();
    assert_eq!(out.bars.len(), 2);
}

#[test]
fn the_unix_number_rule_matches_the_csv_loader() {
    assert_eq!(unix_number_nanos(DAY1), Some(DAY1 * 1_000_000_000));
    assert_eq!(unix_number_nanos(DAY1 * 1000), Some(DAY1 * 1_000_000_000));
    assert_eq!(
        unix_number_nanos(DAY1 * 1_000_000_000),
        Some(DAY1 * 1_000_000_000)
    );
    assert_eq!(unix_number_nanos(-DAY1), Some(-DAY1 * 1_000_000_000));
    for (text, want) in [
        ("1704153600", "2024-01-02T00:00:00Z"),
        ("20240102", "2024-01-02T00:00:00Z"),
        ("2024-01-02T00:00:00+01:00", "2024-01-01T23:00:00Z"),
        ("2024/01/02 09:30:00", "2024-01-02T09:30:00Z"),
    ] {
        assert_eq!(parse_time_text(text), Some(want.parse().unwrap()), "{text}");
    }
    assert_eq!(parse_time_text("soon"), None);
}

#[test]
fn timeframes_have_one_spelling() {
    for ok in ["1m", "15m", "4h", "1d", "30s", "1000d"] {
        let tf = Timeframe::new(ok).unwrap();
        assert_eq!(tf.to_string(), ok);
    }
    assert_eq!(Timeframe::new("4h").unwrap().nanos(), 4 * 3_600_000_000_000);
    for bad in [
        "", "d", "0d", "01d", "1w", "1M", "1x", "1 d", "-1d", "10000d",
    ] {
        let err = Timeframe::new(bad).unwrap_err().to_string();
        assert!(err.starts_with("invalid timeframe"), "{bad}: {err}");
    }
}

fn bar(secs: i64, close: f64) -> Bar {
    Bar {
        line: 0,
        ts: ts(secs),
        open: close,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume: 10.0,
    }
}

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

#[test]
fn the_store_layout_and_schema_are_what_other_tools_expect() {
    let root = temp_dir("layout");
    let tf = Timeframe::new("1d").unwrap();
    let err = read_partition(&root, &btc(), &tf).unwrap_err();
    assert!(matches!(err, Error::NoPartition { .. }), "{err}");

    let mut seen = Vec::new();
    let summary = merge_into_partition(
        &root,
        &btc(),
        &tf,
        &[bar(DAY2, 2.0), bar(DAY1, 1.0)],
        &mut |done, total| seen.push((done, total)),
    )
    .unwrap();
    let path = root.join("instrument=BTC-USDT/timeframe=1d/data.parquet");
    assert_eq!(summary.path, path);
    assert_eq!(partition_path(&root, &btc(), &tf), path);
    assert_eq!(
        (
            summary.rows_in,
            summary.new,
            summary.replaced,
            summary.total
        ),
        (2, 2, 0, 2)
    );
    assert_eq!(seen, vec![(2, 2)]);

    let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    let column = |i: usize| meta.file_metadata().schema_descr().column(i);
    let names: Vec<String> = (0..6).map(|i| column(i).name().to_owned()).collect();
    assert_eq!(names, ["ts", "open", "high", "low", "close", "volume"]);
    let ts_type = format!("{:?}", column(0).logical_type_ref());
    assert!(
        ts_type.contains("is_adjusted_to_u_t_c: true") && ts_type.contains("NANOS"),
        "{ts_type}"
    );
    assert_eq!(
        meta.row_group(0).column(1).compression(),
        parquet::basic::Compression::SNAPPY
    );

    let back = read_partition(&root, &btc(), &tf).unwrap();
    assert_eq!(
        back.iter().map(|b| b.ts).collect::<Vec<_>>(),
        [ts(DAY1), ts(DAY2)]
    );
    // Only the data file and the (dot-named) lock are left: no temporary file.
    let mut files: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, [".lock", "data.parquet"]);
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn a_damaged_partition_is_refused_and_left_alone() {
    let root = temp_dir("damaged");
    let tf = Timeframe::new("1h").unwrap();
    let path = partition_path(&root, &btc(), &tf);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "not parquet").unwrap();
    let err = merge_into_partition(&root, &btc(), &tf, &[bar(DAY1, 1.0)], &mut |_, _| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read as Parquet"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not parquet");
    let _ = std::fs::remove_dir_all(root);
}

#[test]
fn large_inputs_cross_batches_with_rows_numbered_through() {
    let root = temp_dir("large");
    let tf = Timeframe::new("1m").unwrap();
    let n = 70_000_i64;
    let bars: Vec<Bar> = (0..n)
        .map(|i| bar(DAY1 + 60 * i, 100.0 + (i % 7) as f64))
        .collect();
    let mut calls = 0;
    merge_into_partition(&root, &btc(), &tf, &bars, &mut |_, _| calls += 1).unwrap();
    assert_eq!(calls, 2);
    let back = read_partition(&root, &btc(), &tf).unwrap();
    assert_eq!(back.len(), 70_000);
    assert_eq!(back[69_999].line, 70_000);
    assert_eq!(back[69_999].ts, bars[69_999].ts);
    assert_eq!(back[69_999].close, bars[69_999].close);
    let _ = std::fs::remove_dir_all(root);
}

/// Bars with distinct-enough times in a small range so merges overlap.
fn arb_bars() -> impl Strategy<Value = Vec<Bar>> {
    let value = prop_oneof![0.0..1e6_f64, -1e3..0.0_f64, Just(0.0)];
    proptest::collection::vec(
        (
            0i64..40,
            value.clone(),
            value.clone(),
            value.clone(),
            value.clone(),
            value,
        ),
        0..30,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(day, open, high, low, close, volume)| Bar {
                line: 0,
                ts: ts(DAY1 + day * 86_400),
                open,
                high,
                low,
                close,
                volume,
            })
            .collect()
    })
}

fn key(b: &Bar) -> (i64, [u64; 5]) {
    (
        b.ts.as_nanos(),
        [b.open, b.high, b.low, b.close, b.volume].map(f64::to_bits),
    )
}

/// What the store should hold: later bars win on an equal time, sorted by time.
fn expected(batches: &[&[Bar]]) -> Vec<(i64, [u64; 5])> {
    let mut map = std::collections::BTreeMap::new();
    for batch in batches {
        for b in *batch {
            let (t, v) = key(b);
            map.insert(t, v);
        }
    }
    map.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn write_then_read_round_trips_sorted_and_deduplicated(bars in arb_bars()) {
        let root = temp_dir("roundtrip");
        let tf = Timeframe::new("1d").unwrap();
        let s = merge_into_partition(&root, &btc(), &tf, &bars, &mut |_, _| {}).unwrap();
        let back = read_partition(&root, &btc(), &tf).unwrap();
        let _ = std::fs::remove_dir_all(&root);
        let want = expected(&[&bars]);
        prop_assert_eq!(back.iter().map(key).collect::<Vec<_>>(), want.clone());
        prop_assert_eq!((s.rows_in, s.new, s.replaced, s.total), (bars.len(), want.len(), 0, want.len()));
        let lines: Vec<usize> = back.iter().map(|b| b.line).collect();
        prop_assert_eq!(lines, (1..=want.len()).collect::<Vec<_>>());
    }

    #[test]
    fn merging_keeps_old_rows_and_lets_new_rows_win(old in arb_bars(), new in arb_bars()) {
        let root = temp_dir("merge");
        let tf = Timeframe::new("1d").unwrap();
        merge_into_partition(&root, &btc(), &tf, &old, &mut |_, _| {}).unwrap();
        let s = merge_into_partition(&root, &btc(), &tf, &new, &mut |_, _| {}).unwrap();
        let back = read_partition(&root, &btc(), &tf).unwrap();
        let _ = std::fs::remove_dir_all(&root);
        let want = expected(&[&old, &new]);
        prop_assert_eq!(back.iter().map(key).collect::<Vec<_>>(), want.clone());
        let old_times: std::collections::BTreeSet<i64> = old.iter().map(|b| b.ts.as_nanos()).collect();
        let new_times: std::collections::BTreeSet<i64> = new.iter().map(|b| b.ts.as_nanos()).collect();
        let replaced = new_times.intersection(&old_times).count();
        prop_assert_eq!(
            (s.rows_in, s.new, s.replaced, s.total),
            (new.len(), new_times.len() - replaced, replaced, want.len())
        );
    }
}
