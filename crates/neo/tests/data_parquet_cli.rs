//! `neo data ...` on Parquet files and the historical store as a user runs it:
//! the real binary, its output, its errors, its exit codes and the store it writes.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{neo, temp_csv, temp_path, text};

/// A Parquet file shaped like pandas' `df.to_parquet()` of a frame with an unnamed
/// DatetimeIndex: price columns, an int64 volume and `__index_level_0__` last.
fn pandas_like_parquet(closes: &[Option<f64>]) -> PathBuf {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampNanosecondArray};

    let day = 86_400_000_000_000_i64;
    // Tuesday 2024-01-02 onwards, weekdays only.
    let times: Vec<i64> = (0..closes.len() as i64)
        .map(|i| 1_704_153_600_000_000_000 + (i + 2 * (i / 4)) * day)
        .collect();
    let n = closes.len();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("Open", Arc::new(Float64Array::from(vec![10.0; n]))),
        ("High", Arc::new(Float64Array::from(vec![12.0; n]))),
        ("Low", Arc::new(Float64Array::from(vec![9.0; n]))),
        ("Close", Arc::new(Float64Array::from(closes.to_vec()))),
        ("Volume", Arc::new(Int64Array::from(vec![100; n]))),
        (
            "__index_level_0__",
            Arc::new(TimestampNanosecondArray::from(times)),
        ),
    ];
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let path = temp_path("input.parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    path
}

fn json_of(out: &Output) -> serde_json::Value {
    let parsed = serde_json::from_slice(&out.stdout);
    assert!(
        parsed.is_ok(),
        "not JSON: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    parsed.unwrap()
}

#[test]
fn validate_and_stats_read_parquet_files() {
    let good = pandas_like_parquet(&[Some(10.5), Some(11.0), Some(10.8)]);
    let out = neo(&["data", "validate", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("3 bars read, 0 unreadable"));
    assert!(text(&out.stdout).contains("PASSED"));

    let out = neo(&["data", "stats", good.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json_of(&out);
    assert_eq!(v["stats"]["bars"], 3);
    assert_eq!(v["stats"]["first"], "2024-01-02T00:00:00Z");
    assert_eq!(v["stats"]["last_close"], 10.8);
    assert_eq!(v["stats"]["total_volume"], 300.0);

    // A null is a problem of its row, named by row number; the rest is still checked.
    let nulls = pandas_like_parquet(&[Some(10.5), None, Some(13.0)]);
    let out = neo(&["data", "validate", nulls.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json_of(&out);
    assert_eq!(v["unreadable"], serde_json::json!(["row 2: close is null"]));
    assert_eq!(v["report"]["counts"]["ohlc_order"], 1);

    // Not Parquet inside, or a Parquet file without the .parquet name: clear errors.
    let fake = temp_path("fake.parquet");
    std::fs::write(&fake, "date,open,high,low,close\n").unwrap();
    let out = neo(&["data", "stats", fake.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read as Parquet"),
        "{}",
        text(&out.stderr)
    );
    let misnamed = temp_path("data.csv");
    std::fs::copy(&good, &misnamed).unwrap();
    let out = neo(&["data", "validate", misnamed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("this is a Parquet file"));
}

fn ingest(file: &Path, store: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "data",
        "ingest",
        file.to_str().unwrap(),
        "--instrument",
        "BTC-USDT",
        "--timeframe",
        "1d",
        "--store",
        store.to_str().unwrap(),
    ];
    args.extend(extra);
    neo(&args)
}

fn partition(store: &Path) -> PathBuf {
    store.join("instrument=BTC-USDT/timeframe=1d/data.parquet")
}

#[test]
fn ingest_writes_a_partition_and_merges_again_without_duplicates() {
    let store = temp_path("store");
    let first = temp_csv(
        "date,open,high,low,close,volume\n2024-01-01,10,11,9,10.5,100\n\
         2024-01-02,10.5,12,10,11,120\n2024-01-03,11,11.5,10.8,11.2,90\n",
    );
    let out = ingest(&first, &store, &[]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = text(&out.stdout);
    assert!(
        report.contains("rows read 3, new 3, replaced 0, total in partition 3"),
        "{report}"
    );
    assert!(
        report.contains(&partition(&store).display().to_string()),
        "{report}"
    );
    assert!(partition(&store).is_file());

    // Overlapping days win with their new values; one new day is added.
    let second = temp_csv(
        "date,open,high,low,close,volume\n2024-01-02,10.5,12,10,11.1,120\n\
         2024-01-03,11,11.5,10.8,11.3,90\n2024-01-04,11.3,11.6,11,11.4,80\n",
    );
    let out = ingest(&second, &store, &["--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json_of(&out);
    assert_eq!(v["written"], true);
    assert_eq!(
        (&v["rows_read"], &v["new"], &v["replaced"], &v["total"]),
        (&3.into(), &1.into(), &2.into(), &4.into())
    );
    assert_eq!(v["path"], partition(&store).display().to_string());
    // The stored partition is itself a Parquet input: four bars, sorted, the new close.
    let stored = partition(&store);
    let v = json_of(&neo(&["data", "stats", stored.to_str().unwrap(), "--json"]));
    assert_eq!(v["stats"]["bars"], 4);
    assert_eq!(v["stats"]["first"], "2024-01-01T00:00:00Z");
    assert_eq!(v["stats"]["last_close"], 11.4);
    assert_eq!(v["stats"]["mean_close"], (10.5 + 11.1 + 11.3 + 11.4) / 4.0);
    let out = neo(&["data", "validate", stored.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stdout));

    // The same file again changes nothing but replaces its rows with themselves.
    let v = json_of(&ingest(&second, &store, &["--json"]));
    assert_eq!(
        (&v["new"], &v["replaced"], &v["total"]),
        (&0.into(), &3.into(), &4.into())
    );
    // A Parquet input goes into the same store.
    // 2024-01-02 to 2024-01-05: three stored days replaced, one new.
    let pq = pandas_like_parquet(&[Some(10.5), Some(11.0), Some(10.8), Some(10.9)]);
    let v = json_of(&ingest(&pq, &store, &["--json"]));
    assert_eq!(
        (&v["new"], &v["replaced"], &v["total"]),
        (&1.into(), &3.into(), &5.into())
    );
    // Only the data file (and the dot-named lock) is in the partition: no temp file left.
    let names: Vec<String> = std::fs::read_dir(stored.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(names, ["data.parquet"]);
}

#[test]
fn ingest_refuses_data_that_fails_a_gate_and_writes_nothing() {
    let store = temp_path("refused-store");
    let bad = temp_csv(
        "date,open,high,low,close\n2024-01-02,10,11,9,10.5\n2024-01-03,10.5,12,13,11\n\
         2024-01-03,11,12,10,11\n2024-01-04,1,2,0.5,x\n",
    );
    let out = ingest(&bad, &store, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    for needle in [
        "unreadable  line 5: close is not a number",
        "error  line      3  ohlc_order",
        "error  line      4  duplicate_timestamp",
        "REFUSED",
        "nothing written",
    ] {
        assert!(
            report.contains(needle),
            "{needle:?} missing from:\n{report}"
        );
    }
    assert!(!store.exists(), "the store was created for a refused file");

    // With a partition already there, a refusal leaves it byte for byte.
    let good = temp_csv("date,open,high,low,close\n2024-01-02,10,11,9,10.5\n");
    assert!(ingest(&good, &store, &[]).status.success());
    let before = std::fs::read(partition(&store)).unwrap();
    let out = ingest(&bad, &store, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["written"], false);
    assert_eq!(v["report"]["counts"]["duplicate_timestamp"], 1);
    assert_eq!(std::fs::read(partition(&store)).unwrap(), before);

    // Hourly bars are not daily ones; an empty file has nothing to ingest.
    let hourly = temp_csv(
        "time,open,high,low,close\n2024-01-02 00:00,1,2,0.5,1\n2024-01-02 01:00,1,2,0.5,1\n\
         2024-01-02 02:00,1,2,0.5,1\n2024-01-02 03:00,1,2,0.5,1\n",
    );
    let out = ingest(&hourly, &store, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("mostly 3600 s apart, but --timeframe 1d is 86400 s"));
    let header_only = temp_csv("date,open,high,low,close\n");
    let out = ingest(&header_only, &store, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no bars to ingest"));
    assert_eq!(std::fs::read(partition(&store)).unwrap(), before);
}

#[test]
fn ingest_checks_its_arguments() {
    let good = temp_csv("date,open,high,low,close\n2024-01-02,10,11,9,10.5\n");
    let store = temp_path("args-store");
    for (args, message) in [
        (
            ["--instrument", "btc-usdt", "--timeframe", "1d"],
            "must be A-Z and 0-9",
        ),
        (
            ["--instrument", "BTC-USDT", "--timeframe", "1w"],
            "invalid timeframe \"1w\"",
        ),
        (
            ["--instrument", "BTC-USDT", "--timeframe", "01d"],
            "invalid timeframe",
        ),
    ] {
        let mut all = vec![
            "data",
            "ingest",
            good.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ];
        all.extend(args);
        let out = neo(&all);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
    }
    let out = ingest(&good, &store, &["--max-jump", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--max-jump must be a positive fraction"));
    let out = ingest(&temp_path("missing.parquet"), &store, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot open"),
        "{}",
        text(&out.stderr)
    );
    assert!(!store.exists());
}

#[test]
fn ingest_defaults_to_the_store_under_neo_data() {
    let dir = temp_path("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let good = temp_csv("date,open,high,low,close\n2024-01-02,10,11,9,10.5\n");
    let out = Command::new(env!("CARGO_BIN_EXE_neo"))
        .args([
            "data",
            "ingest",
            good.to_str().unwrap(),
            "--instrument",
            "EUR-USD",
            "--timeframe",
            "4h",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        dir.join("neo-data/history/instrument=EUR-USD/timeframe=4h/data.parquet")
            .is_file()
    );
}

/// Runs a Python script, or `None` when pyarrow and pandas are not installed.
fn python(script: &str) -> Option<Output> {
    neo_testkit::python::with_pyarrow(script)
}

#[test]
fn pandas_files_load_and_the_store_reads_in_pandas_and_pyarrow() {
    let input = temp_path("pandas.parquet");
    let zstd = temp_path("pandas-zstd.parquet");
    let store = temp_path("py-store");
    let write = format!(
        r#"
import pandas as pd
idx = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])
df = pd.DataFrame({{"Open": [10.0, 10.5, 11.0], "High": [11.0, 12.0, 11.5],
                   "Low": [9.0, 10.0, 10.8], "Close": [10.5, 11.0, 11.2],
                   "Volume": [100, 120, 90]}}, index=idx)
df.to_parquet({input:?})
df.to_parquet({zstd:?}, compression="zstd")
"#,
        input = input.to_str().unwrap(),
        zstd = zstd.to_str().unwrap()
    );
    let Some(out) = python(&write) else { return };
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ingest(&input, &store, &["--json"]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(json_of(&out)["total"], 3);
    // This build decodes Snappy (pandas' default) only, and says so.
    let out = neo(&["data", "validate", zstd.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is compressed with zstd; this build reads Snappy"),
        "{}",
        text(&out.stderr)
    );

    let read = format!(
        r#"
import json, pandas as pd, pyarrow.dataset as ds, pyarrow.parquet as pq
root = {root:?}
part = pq.read_table(root + "/instrument=BTC-USDT/timeframe=1d/data.parquet")
df = pd.read_parquet(root)
table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
print(json.dumps({{
    "schema": [f"{{f.name}}:{{f.type}}" for f in part.schema],
    "rows": len(df),
    "instrument": sorted(set(str(x) for x in df["instrument"])),
    "timeframe": sorted(set(str(x) for x in df["timeframe"])),
    "first_ts": df["ts"].iloc[0].isoformat(),
    "ts_tz": str(df["ts"].dt.tz),
    "closes": [float(x) for x in df["close"]],
    "dataset_rows": table.num_rows,
}}))
"#,
        root = store.to_str().unwrap()
    );
    let out = python(&read).unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = json_of(&out);
    assert_eq!(
        v["schema"],
        serde_json::json!([
            "ts:timestamp[ns, tz=UTC]",
            "open:double",
            "high:double",
            "low:double",
            "close:double",
            "volume:double"
        ])
    );
    assert_eq!(v["rows"], 3);
    assert_eq!(v["dataset_rows"], 3);
    assert_eq!(v["instrument"], serde_json::json!(["BTC-USDT"]));
    assert_eq!(v["timeframe"], serde_json::json!(["1d"]));
    assert_eq!(v["first_ts"], "2024-01-02T00:00:00+00:00");
    assert_eq!(v["ts_tz"], "UTC");
    assert_eq!(v["closes"], serde_json::json!([10.5, 11.0, 11.2]));
}
