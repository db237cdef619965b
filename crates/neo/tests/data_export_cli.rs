//! `neo data export` as a user runs it: a fixture ingested into a store with the
//! real binary, exported at its own interval and resampled, to CSV and Parquet,
//! with every refusal's exit code and message.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{neo, temp_csv, temp_path, text};

/// 900 one-minute EUR/USD-like bars, 2026-03-02 00:00 to 14:59, no gaps.
fn minutes_fixture() -> PathBuf {
    neo_testkit::workspace_root().join("fixtures/ohlcv/FX-TIE.csv")
}

/// The fixture's rows: time as RFC 3339, then open, high, low, close, volume as written.
fn fixture_rows() -> Vec<(String, [String; 5])> {
    let body = std::fs::read_to_string(minutes_fixture()).unwrap();
    body.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            let time = format!("{}Z", f[0].replace(' ', "T"));
            (time, [1, 2, 3, 4, 5].map(|i| f[i].to_owned()))
        })
        .collect()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn ingest(file: &Path, store: &Path, instrument: &str, timeframe: &str) {
    ok(&neo(&[
        "data",
        "ingest",
        file.to_str().unwrap(),
        "--instrument",
        instrument,
        "--timeframe",
        timeframe,
        "--store",
        store.to_str().unwrap(),
    ]));
}

/// `neo data export --store <store> --instrument <id> --output <output> <extra...>`.
fn export(store: &Path, instrument: &str, output: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "data",
        "export",
        "--store",
        store.to_str().unwrap(),
        "--instrument",
        instrument,
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend(extra);
    neo(&args)
}

/// The data lines of an exported CSV, after checking its header.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let body = std::fs::read_to_string(path).unwrap();
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("date,open,high,low,close,volume"));
    lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

/// A store holding the fixture as EUR-USD 1m.
fn minutes_store() -> PathBuf {
    let store = temp_path("store");
    ingest(&minutes_fixture(), &store, "EUR-USD", "1m");
    store
}

#[test]
fn exports_the_stored_minutes_as_they_are_and_as_hours() {
    let store = minutes_store();
    let fixture = fixture_rows();
    assert_eq!(fixture.len(), 900);

    let minutes = temp_path("minutes.csv");
    let out = export(&store, "EUR-USD", &minutes, &["--interval", "1m"]);
    ok(&out);
    assert!(text(&out.stdout).contains("wrote 900 1m bars of EUR-USD (as stored)"));
    let rows = csv_rows(&minutes);
    assert_eq!(rows.len(), 900);
    let num = |s: &String| s.parse::<f64>().unwrap();
    for (row, (time, values)) in rows.iter().zip(&fixture) {
        assert_eq!(&row[0], time);
        let got: Vec<f64> = row[1..].iter().map(num).collect();
        assert_eq!(got, values.iter().map(num).collect::<Vec<_>>(), "at {time}");
    }

    let hours = temp_path("hours.csv");
    let out = export(&store, "EUR-USD", &hours, &["--interval", "1h"]);
    ok(&out);
    assert!(
        text(&out.stdout).contains("wrote 15 1h bars of EUR-USD (resampled from the stored 1m)"),
        "{}",
        text(&out.stdout)
    );
    let rows = csv_rows(&hours);
    assert_eq!(rows.len(), 15);
    // The first hour, by hand from the fixture's first 60 minutes (and pandas' resample).
    assert_eq!(
        rows[0].join(","),
        "2026-03-02T00:00:00Z,1.08343,1.08343,1.08175,1.0823,60000"
    );
    // Every hour from its minutes: first open, highest high, lowest low, last close, sum.
    for (h, row) in rows.iter().enumerate() {
        let minutes = &fixture[h * 60..(h + 1) * 60];
        assert_eq!(row[0], minutes[0].0);
        let high = minutes
            .iter()
            .map(|m| num(&m.1[1]))
            .fold(f64::MIN, f64::max);
        let low = minutes
            .iter()
            .map(|m| num(&m.1[2]))
            .fold(f64::MAX, f64::min);
        let volume: f64 = minutes.iter().map(|m| num(&m.1[4])).sum();
        assert_eq!(num(&row[1]), num(&minutes[0].1[0]), "open at {}", row[0]);
        assert_eq!(num(&row[2]), high, "high at {}", row[0]);
        assert_eq!(num(&row[3]), low, "low at {}", row[0]);
        assert_eq!(num(&row[4]), num(&minutes[59].1[3]), "close at {}", row[0]);
        assert_eq!(num(&row[5]), volume, "volume at {}", row[0]);
    }
}

#[test]
fn ranges_are_from_inclusive_to_exclusive_in_any_time_form() {
    let store = minutes_store();
    let out_path = temp_path("range.csv");
    let rows = |extra: &[&str]| {
        ok(&export(&store, "EUR-USD", &out_path, extra));
        csv_rows(&out_path)
    };
    let hours = rows(&[
        "--interval",
        "1h",
        "--from",
        "2026-03-02T01:00:00Z",
        "--to",
        "2026-03-02T03:00:00Z",
    ]);
    let times: Vec<&str> = hours.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(times, ["2026-03-02T01:00:00Z", "2026-03-02T02:00:00Z"]);
    // An offset, and a zone-less time taken as UTC: 00:30 to 01:00 UTC.
    let minutes = rows(&[
        "--interval",
        "1m",
        "--from",
        "2026-03-02T01:30:00+01:00",
        "--to",
        "2026-03-02 01:00:00",
    ]);
    assert_eq!(minutes.len(), 30);
    assert_eq!(minutes[0][0], "2026-03-02T00:30:00Z");
    assert_eq!(minutes[29][0], "2026-03-02T00:59:00Z");
    // Dates are midnight UTC; only one bound is fine.
    assert_eq!(rows(&["--interval", "15m", "--to", "2026-03-03"]).len(), 60);
    assert_eq!(
        rows(&["--interval", "15m", "--from", "2026-03-02"]).len(),
        60
    );
    // A range with nothing stored writes the header only, and says so.
    let out = export(
        &store,
        "EUR-USD",
        &out_path,
        &["--interval", "1h", "--from", "2027-01-01"],
    );
    ok(&out);
    assert!(text(&out.stdout).contains("nothing stored in the range"));
    assert!(csv_rows(&out_path).is_empty());
}

#[test]
fn a_stored_interval_is_used_as_is_and_unfinished_buckets_are_left_out() {
    let store = temp_path("partial-store");
    // 90 minutes, 00:00 to 01:29: the second hour lacks its last minute.
    let close = |m: u32| 100.0 + f64::from(m) / 10.0;
    let mut minutes = String::from("date,open,high,low,close,volume\n");
    for m in 0..90 {
        let c = close(m);
        minutes.push_str(&format!(
            "2024-01-02 {:02}:{:02}:00,{c},{},{},{c},2\n",
            m / 60,
            m % 60,
            c + 1.0,
            c - 1.0
        ));
    }
    ingest(&temp_csv(&minutes), &store, "TEST-A", "1m");
    let out_path = temp_path("partial.csv");
    let out = export(&store, "TEST-A", &out_path, &["--interval", "1h"]);
    ok(&out);
    assert!(
        text(&out.stdout).contains("left out 1 bucket(s) whose last bar is not stored"),
        "{}",
        text(&out.stdout)
    );
    let rows = csv_rows(&out_path);
    assert_eq!(rows.len(), 1);
    // Minute 0's open, minute 59's high and close, minute 0's low, 60 volumes of 2.
    let (first, last) = (close(0), close(59));
    let want = format!(
        "2024-01-02T00:00:00Z,{first},{},{},{last},120",
        last + 1.0,
        first - 1.0
    );
    assert_eq!(rows[0].join(","), want);
    ok(&export(
        &store,
        "TEST-A",
        &out_path,
        &["--interval", "1h", "--partial"],
    ));
    let rows = csv_rows(&out_path);
    assert_eq!(rows.len(), 2);
    let (first, last) = (close(60), close(89));
    let want = format!(
        "2024-01-02T01:00:00Z,{first},{},{},{last},60",
        last + 1.0,
        first - 1.0
    );
    assert_eq!(rows[1].join(","), want);

    // With hourly bars stored too, 1h reads them; 30m still comes from the minutes.
    let hours = temp_csv(
        "date,open,high,low,close,volume\n2024-01-02 00:00,500,501,499,500,1\n\
         2024-01-02 01:00,500,501,499,500.5,1\n2024-01-02 02:00,500,501,499,501,1\n",
    );
    ingest(&hours, &store, "TEST-A", "1h");
    let out = export(&store, "TEST-A", &out_path, &["--interval", "1h"]);
    ok(&out);
    assert!(text(&out.stdout).contains("(as stored)"));
    let closes: Vec<String> = csv_rows(&out_path)
        .into_iter()
        .map(|r| r[4].clone())
        .collect();
    assert_eq!(closes, ["500", "500.5", "501"]);
    let out = export(&store, "TEST-A", &out_path, &["--interval", "30m"]);
    ok(&out);
    assert!(text(&out.stdout).contains("resampled from the stored 1m"));
    assert_eq!(csv_rows(&out_path).len(), 3);
}

/// A Python script printing, as JSON, what pyarrow sees in the exported `parquet`
/// and whether it holds the same bars as the exported `csv`.
fn check_script(parquet: &Path, csv: &Path) -> String {
    format!(
        r#"
import json, pandas as pd, pyarrow.parquet as pq
t = pq.read_table({parquet:?})
df = t.to_pandas()
csv = pd.read_csv({csv:?})
print(json.dumps({{
    "schema": [f"{{f.name}}:{{f.type}}:{{f.nullable}}" for f in t.schema],
    "rows": t.num_rows,
    "first_ts": df["ts"].iloc[0].isoformat(),
    "same_as_csv": bool((df[["open", "high", "low", "close", "volume"]].values
                         == csv[["open", "high", "low", "close", "volume"]].values).all()),
    "same_times": [x.isoformat().replace("+00:00", "Z") for x in df["ts"]] == list(csv["date"]),
}}))
"#,
        parquet = parquet.to_str().unwrap(),
        csv = csv.to_str().unwrap()
    )
}

#[test]
fn parquet_exports_have_the_store_schema_and_read_back() {
    let store = minutes_store();
    let dir = temp_path("parquet-out");
    std::fs::create_dir_all(&dir).unwrap();
    let parquet = dir.join("hours.parquet");
    let csv = dir.join("hours.csv");
    ok(&export(&store, "EUR-USD", &parquet, &["--interval", "1h"]));
    ok(&export(&store, "EUR-USD", &csv, &["--interval", "1h"]));
    // Nothing but the two outputs: the temporary files were renamed into place.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["hours.csv", "hours.parquet"]);

    // NEO reads its own export as an OHLCV Parquet file.
    let out = neo(&["data", "stats", parquet.to_str().unwrap(), "--json"]);
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["bars"], 15);
    assert_eq!(v["stats"]["first"], "2026-03-02T00:00:00Z");
    assert_eq!(v["stats"]["interval_secs"], 3600.0);
    assert_eq!(v["stats"]["total_volume"], 900_000.0);

    let Some(out) = python(&check_script(&parquet, &csv)) else {
        return;
    };
    ok(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["schema"],
        serde_json::json!([
            "ts:timestamp[ns, tz=UTC]:False",
            "open:double:False",
            "high:double:False",
            "low:double:False",
            "close:double:False",
            "volume:double:False"
        ])
    );
    assert_eq!(v["rows"], 15);
    assert_eq!(v["first_ts"], "2026-03-02T00:00:00+00:00");
    assert_eq!(v["same_as_csv"], true);
    assert_eq!(v["same_times"], true);
}

#[test]
fn refusals_exit_1_naming_the_problem_and_write_nothing() {
    let store = minutes_store();
    let output = temp_path("refused.csv");
    for (instrument, extra, message) in [
        (
            "BTC-USDT",
            &["--interval", "1h"][..],
            "no stored data for BTC-USDT in",
        ),
        (
            "EUR-USD",
            &["--interval", "30s"][..],
            "EUR-USD: interval 30s is finer than anything stored (stored: 1m)",
        ),
        (
            "EUR-USD",
            &["--interval", "90s"][..],
            "no stored timeframe divides interval 90s evenly (stored: 1m)",
        ),
        (
            "EUR-USD",
            &[
                "--interval",
                "1h",
                "--from",
                "2026-03-02",
                "--to",
                "2026-03-02T00:00:00Z",
            ][..],
            "--from 2026-03-02T00:00:00Z is not before --to 2026-03-02T00:00:00Z",
        ),
    ] {
        let out = export(&store, instrument, &output, extra);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{extra:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(message),
            "{message:?} missing from {}",
            text(&out.stderr)
        );
        assert!(!output.exists(), "{extra:?} wrote a file");
    }
    let json = temp_path("out.json");
    let out = export(&store, "EUR-USD", &json, &["--interval", "1h"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown extension; name it .csv or .parquet"));
    assert!(!json.exists());
    // A store folder that does not exist is the same refusal.
    let out = export(
        &temp_path("nowhere"),
        "EUR-USD",
        &output,
        &["--interval", "1h"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no stored data for EUR-USD"));
    // Arguments that do not parse are usage errors (exit 2), as everywhere in clap.
    for (args, message) in [
        (
            ["--interval", "1w", "--to", "2027-01-01"],
            "invalid timeframe \"1w\"",
        ),
        (
            ["--interval", "1h", "--from", "yesterday"],
            "cannot read \"yesterday\" as a time",
        ),
    ] {
        let out = export(&store, "EUR-USD", &output, &args);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
    }
}

#[test]
fn the_default_store_is_the_one_ingest_fills() {
    let dir = temp_path("cwd");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_neo"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        ok(&out);
    };
    let fixture = minutes_fixture();
    run(&[
        "data",
        "ingest",
        fixture.to_str().unwrap(),
        "--instrument",
        "EUR-USD",
        "--timeframe",
        "1m",
    ]);
    run(&[
        "data",
        "export",
        "--instrument",
        "EUR-USD",
        "--interval",
        "5m",
        "--output",
        "fives.csv",
    ]);
    assert_eq!(csv_rows(&dir.join("fives.csv")).len(), 180);
}

/// Runs a Python script, or `None` when pyarrow and pandas are not installed.
fn python(script: &str) -> Option<Output> {
    neo_testkit::python::with_pyarrow(script)
}
