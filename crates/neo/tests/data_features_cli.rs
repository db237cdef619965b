//! `neo data features` as a user runs it: point-in-time features on a real price
//! history (changing later bars never changes an earlier row, in CSV and Parquet),
//! values checked by hand and against pandas, Parquet in and out, and refusals.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use arrow_array::{Array, Float64Array, RecordBatch, TimestampNanosecondArray};
use common::{neo, temp_csv, temp_path, text};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Every indicator kind, both forms of a multi-output one, and the derived features.
const ALL: &str = "sma:20,ema:10,wma:10,rsi:14,atr:14,adx:14,roc:10,stddev:20,volatility:20,\
                   macd:12:26:9,bbands:20:2,trange,logret:1,vol_pct:20";

/// 2148 daily GOOG bars (backtesting.py's sample data).
fn goog() -> PathBuf {
    neo_testkit::workspace_root().join("fixtures/ohlcv/GOOG.csv")
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `neo data features --input <input> --features <features> --output <output>`.
fn features(input: &Path, features: &str, output: &Path) -> Output {
    neo(&[
        "data",
        "features",
        "--input",
        input.to_str().unwrap(),
        "--features",
        features,
        "--output",
        output.to_str().unwrap(),
    ])
}

/// GOOG with every price of data row `k` and later multiplied by 1.5.
fn goog_changed_from(k: usize) -> PathBuf {
    let body = std::fs::read_to_string(goog()).unwrap();
    let mut out = String::new();
    for (i, line) in body.lines().enumerate() {
        if i == 0 || i - 1 < k {
            out.push_str(line);
        } else {
            let f: Vec<&str> = line.split(',').collect();
            let scaled: Vec<String> = f[1..5]
                .iter()
                .map(|p| (p.parse::<f64>().unwrap() * 1.5).to_string())
                .collect();
            out.push_str(&format!("{},{},{}", f[0], scaled.join(","), f[5]));
        }
        out.push('\n');
    }
    temp_csv(&out)
}

#[test]
fn csv_rows_before_a_change_are_byte_identical_and_later_rows_differ() {
    let original = temp_path("original.csv");
    let out = features(&goog(), ALL, &original);
    ok(&out);
    assert!(text(&out.stdout).contains("wrote 2148 rows"));
    let before = std::fs::read_to_string(&original).unwrap();
    let before: Vec<&str> = before.lines().collect();
    assert_eq!(before.len(), 2149);
    let header: Vec<&str> = before[0].split(',').collect();
    let sma = header.iter().position(|h| *h == "sma_20").unwrap();
    // One cut inside every indicator's warm-up, one far past it.
    for k in [10, 1500] {
        let changed = temp_path("changed.csv");
        ok(&features(&goog_changed_from(k), ALL, &changed));
        let after = std::fs::read_to_string(&changed).unwrap();
        let after: Vec<&str> = after.lines().collect();
        assert_eq!(after.len(), before.len());
        // Header and data rows 0..k: the same bytes.
        assert_eq!(before[..=k], after[..=k], "a row before {k} changed");
        for row in k + 1..before.len() {
            assert_ne!(
                before[row],
                after[row],
                "data row {} did not change",
                row - 1
            );
            // The features moved too, not only the close column.
            let cell = |line: &str| line.split(',').nth(sma).unwrap().to_owned();
            if !cell(before[row]).is_empty() {
                assert_ne!(cell(before[row]), cell(after[row]), "sma_20 at {}", row - 1);
            }
        }
    }
}

/// One Parquet output: the times, then every Float64 column with its nulls.
struct Frame {
    names: Vec<String>,
    times: Vec<i64>,
    columns: Vec<Vec<Option<f64>>>,
}

fn read_parquet(path: &Path) -> Frame {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let names: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    let mut frame = Frame {
        times: Vec::new(),
        columns: vec![Vec::new(); names.len() - 1],
        names,
    };
    for batch in batches {
        let ts = batch.column(0).as_any();
        let ts = ts.downcast_ref::<TimestampNanosecondArray>().unwrap();
        frame.times.extend(ts.values().iter());
        for (i, column) in frame.columns.iter_mut().enumerate() {
            let values = batch.column(i + 1);
            let values = values.as_any().downcast_ref::<Float64Array>().unwrap();
            column.extend((0..values.len()).map(|r| values.is_valid(r).then(|| values.value(r))));
        }
    }
    frame
}

#[test]
fn parquet_rows_before_a_change_are_equal_and_later_rows_differ() {
    let k = 1000;
    let original = temp_path("original.parquet");
    let changed = temp_path("changed.parquet");
    ok(&features(&goog(), ALL, &original));
    ok(&features(&goog_changed_from(k), ALL, &changed));
    let (a, b) = (read_parquet(&original), read_parquet(&changed));
    assert_eq!(a.names, b.names);
    assert_eq!(a.names[..3], ["ts", "close", "sma_20"]);
    assert_eq!(a.names.len(), 2 + 20);
    assert_eq!(a.times, b.times);
    assert_eq!(a.times.len(), 2148);
    for (name, (x, y)) in a.names[1..].iter().zip(a.columns.iter().zip(&b.columns)) {
        // Bit for bit, nulls included.
        let bits = |v: &[Option<f64>]| v.iter().map(|c| c.map(f64::to_bits)).collect::<Vec<_>>();
        assert_eq!(
            bits(&x[..k]),
            bits(&y[..k]),
            "{name} changed before row {k}"
        );
        assert_ne!(x[k..], y[k..], "{name} did not change after row {k}");
    }
    let close = &a.columns[0];
    let changed_close = &b.columns[0];
    for row in k..close.len() {
        assert_ne!(close[row], changed_close[row], "close at {row}");
    }
}

#[test]
fn values_by_hand_with_empty_warmup_cells() {
    // Closes 100, 110, 99, 100, 101: returns ln 1.1, ln 0.9, ln(100/99), ln 1.01.
    let input = temp_csv(
        "date,open,high,low,close\n2024-01-01,100,100,100,100\n2024-01-02,110,110,110,110\n\
         2024-01-03,99,99,99,99\n2024-01-04,100,100,100,100\n2024-01-05,101,101,101,101\n",
    );
    let output = temp_path("hand.csv");
    let out = neo(&[
        "data",
        "features",
        "--input",
        input.to_str().unwrap(),
        "--features",
        "sma:2",
        "--features",
        "logret:1,vol_pct:2",
        "--output",
        output.to_str().unwrap(),
    ]);
    ok(&out);
    let ln = |x: f64| x.ln();
    // vol_pct:2: the 2-return volatilities are |r1 - r2| / sqrt 2, falling: .20, .12, .0001.
    // The first needs 3 closes; a percentile needs 2 of them: 50 (lowest of 2), then
    // 33.3... (lowest of 3).
    let want = format!(
        "date,close,sma_2,logret_1,vol_pct_2\n\
         2024-01-01T00:00:00Z,100,,,\n\
         2024-01-02T00:00:00Z,110,105,{},\n\
         2024-01-03T00:00:00Z,99,104.5,{},\n\
         2024-01-04T00:00:00Z,100,99.5,{},50\n\
         2024-01-05T00:00:00Z,101,100.5,{},{}\n",
        ln(110.0 / 100.0),
        ln(99.0 / 110.0),
        ln(100.0 / 99.0),
        ln(101.0 / 100.0),
        100.0 / 3.0
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), want);
}

#[test]
fn parquet_input_gives_the_same_bytes_as_its_csv() {
    // GOOG through the store and out as Parquet gives the same features as its CSV.
    let store = temp_path("store");
    ok(&neo(&[
        "data",
        "ingest",
        goog().to_str().unwrap(),
        "--instrument",
        "GOOG",
        "--timeframe",
        "1d",
        "--store",
        store.to_str().unwrap(),
    ]));
    let exported = temp_path("goog.parquet");
    ok(&neo(&[
        "data",
        "export",
        "--store",
        store.to_str().unwrap(),
        "--instrument",
        "GOOG",
        "--interval",
        "1d",
        "--output",
        exported.to_str().unwrap(),
    ]));
    let (from_csv, from_parquet) = (temp_path("a.csv"), temp_path("b.csv"));
    ok(&features(&goog(), ALL, &from_csv));
    ok(&features(&exported, ALL, &from_parquet));
    assert_eq!(
        std::fs::read(&from_csv).unwrap(),
        std::fs::read(&from_parquet).unwrap()
    );
}

/// A Python script printing, as JSON, what pyarrow and pandas see in the features
/// file `output` (computed on GOOG), with pandas' own SMA and log returns to compare.
fn check_script(output: &Path) -> String {
    format!(
        r#"
import json, numpy as np, pandas as pd, pyarrow.parquet as pq
t = pq.read_table({output:?})
df = t.to_pandas()
src = pd.read_csv({goog:?}, index_col=0)
close = src["Close"].to_numpy()
print(json.dumps({{
    "schema": [f"{{f.name}}:{{f.type}}:{{f.nullable}}" for f in t.schema],
    "nulls": {{c: t.column(c).null_count for c in t.column_names}},
    "first_ts": df["ts"].iloc[0].isoformat(),
    "close_same": bool((df["close"].to_numpy() == close).all()),
    "sma_err": float(np.nanmax(np.abs(df["sma_20"] - pd.Series(close).rolling(20).mean()))),
    "logret_err": float(np.nanmax(np.abs(df["logret_1"] - np.log(pd.Series(close)).diff()))),
    "vol_pct_range": [float(df["vol_pct_20"].min()), float(df["vol_pct_20"].max())],
}}))
"#,
        output = output.to_str().unwrap(),
        goog = goog().to_str().unwrap()
    )
}

#[test]
fn pyarrow_reads_the_parquet_output_with_nulls_for_warmup() {
    let output = temp_path("py.parquet");
    ok(&features(
        &goog(),
        "sma:20,rsi:14,macd:12:26:9,logret:1,vol_pct:20",
        &output,
    ));
    let Some(out) = python(&check_script(&output)) else {
        return;
    };
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["schema"],
        serde_json::json!([
            "ts:timestamp[ns, tz=UTC]:False",
            "close:double:False",
            "sma_20:double:True",
            "rsi_14:double:True",
            "macd_12_26_9:double:True",
            "macd_signal_12_26_9:double:True",
            "macd_hist_12_26_9:double:True",
            "logret_1:double:True",
            "vol_pct_20:double:True"
        ])
    );
    // Warm-ups as nulls: sma 19, rsi 14, macd 33 (TA-Lib gives its three outputs
    // together), logret 1, vol_pct 39 (20 closes before the first volatility, then
    // 20 volatilities).
    let nulls = &v["nulls"];
    assert_eq!(
        [
            &nulls["ts"],
            &nulls["close"],
            &nulls["sma_20"],
            &nulls["rsi_14"],
            &nulls["macd_12_26_9"],
            &nulls["macd_signal_12_26_9"],
            &nulls["logret_1"],
            &nulls["vol_pct_20"]
        ],
        [0, 0, 19, 14, 33, 33, 1, 39]
            .map(serde_json::Value::from)
            .each_ref()
    );
    assert_eq!(v["first_ts"], "2004-08-19T00:00:00+00:00");
    assert_eq!(v["close_same"], true);
    assert!(v["sma_err"].as_f64().unwrap() < 1e-9, "{}", v["sma_err"]);
    assert!(
        v["logret_err"].as_f64().unwrap() < 1e-12,
        "{}",
        v["logret_err"]
    );
    let range = v["vol_pct_range"].as_array().unwrap();
    assert!(range[0].as_f64().unwrap() > 0.0 && range[1].as_f64().unwrap() == 100.0);
}

#[test]
fn refusals_exit_1_naming_the_problem_and_write_nothing() {
    let good = temp_csv("date,open,high,low,close\n2024-01-02,1,2,0.5,1\n");
    let output = temp_path("refused.csv");
    for (input, spec, message) in [
        (
            good.clone(),
            "sma:2,kama:3",
            "invalid feature \"kama:3\": unknown feature \"kama\"",
        ),
        (
            good.clone(),
            "logret:0",
            "invalid feature \"logret:0\": period must be between 1 and",
        ),
        (
            good.clone(),
            "sma:20,logret:1,SMA:20",
            "--features: column \"sma_20\" would appear twice",
        ),
        (
            temp_csv("date,open,high,low,close\n2024-01-03,1,2,0.5,1\n2024-01-02,1,2,0.5,1\n"),
            "sma:2",
            "line 3: 2024-01-02T00:00:00Z is not after the previous bar's 2024-01-03T00:00:00Z",
        ),
        (
            temp_csv("date,open,high,low,close\n2024-01-02,1,2,0.5,0\n"),
            "logret:1",
            "line 2: prices must be finite and the close above zero",
        ),
        (
            temp_csv("date,open,high,low,close\n2024-01-02,1,2,0.5,1\n2024-01-03,1,2,x,1\n"),
            "sma:2",
            "1 unreadable row(s), the first: line 3: low is not a number",
        ),
    ] {
        let out = features(&input, spec, &output);
        assert_eq!(out.status.code(), Some(1), "{spec}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(message),
            "{message:?} missing from {}",
            text(&out.stderr)
        );
        assert!(!output.exists(), "{spec} wrote a file");
    }
    let out = features(&good, "sma:2", &temp_path("out.xlsx"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown extension; name it .csv or .parquet"));
    // An input that cannot be read at all is an I/O error (exit 2), as in `neo data stats`.
    let out = features(&temp_path("missing.csv"), "sma:2", &output);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
    assert!(!output.exists());
}

/// Runs a Python script, or `None` when pyarrow and pandas are not installed.
fn python(script: &str) -> Option<Output> {
    neo_testkit::python::with_pyarrow(script)
}
