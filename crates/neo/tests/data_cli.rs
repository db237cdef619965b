//! `neo data ...` on CSV files as a user runs it: the real binary, its output,
//! its errors and its exit codes (Parquet and the store: `data_parquet_cli.rs`).

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Output;

use common::{neo, temp_csv, temp_path, text};
use neo_testkit::workspace_root;

fn indicators(input: &Path, specs: &[&str], extra: &[&str]) -> Output {
    let mut args = vec!["data", "indicators", "--input", input.to_str().unwrap()];
    for spec in specs {
        args.extend(["--indicator", spec]);
    }
    args.extend(extra);
    neo(&args)
}

/// Output rows as cells, header included.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

const SAMPLE: &str = "Date,OPEN,High,low,Close,Volume\n\
                      2024-01-01,10,11,9,10.5,100\n\
                      2024-01-02,10.5,12,10,11.75,150\n\
                      2024-01-03,11.75,12.5,11,12.25,90\n\
                      2024-01-04,12.25,13,8,8.5,300\n";

#[test]
fn appends_columns_after_the_input_with_blank_warmup() {
    let input = temp_csv(SAMPLE);
    let out = indicators(&input, &["sma:3", "trange", "rsi:2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 5);
    assert_eq!(
        rows[0].join(","),
        "Date,OPEN,High,low,Close,Volume,sma_3,trange,rsi_2"
    );
    // Input columns are copied as given.
    for (row, line) in rows[1..].iter().zip(SAMPLE.lines().skip(1)) {
        assert_eq!(row[..6].join(","), line);
    }
    // Warm-up: SMA(3) from row 3, true range from row 2, RSI(2) from row 3.
    assert_eq!((rows[1][6].as_str(), rows[2][6].as_str()), ("", ""));
    assert_eq!(
        (
            rows[1][7].as_str(),
            rows[1][8].as_str(),
            rows[2][8].as_str()
        ),
        ("", "", "")
    );
    let cell = |r: usize, c: usize| rows[r][c].parse::<f64>().unwrap();
    let sma = (10.5 + 11.75 + 12.25) / 3.0;
    assert!((cell(3, 6) - sma).abs() < 1e-12, "{}", rows[3][6]);
    // Row 4: high 13, low 8, previous close 12.25 -> range 5.
    assert!((cell(4, 7) - 5.0).abs() < 1e-12);
    // RSI(2) at row 3: both changes are gains.
    assert!((cell(3, 8) - 100.0).abs() < 1e-12);
}

#[test]
fn matches_the_talib_reference_files_end_to_end() {
    let dir = workspace_root().join("crates/neo-engine/tests/data/talib/main");
    let out = indicators(
        &dir.join("ohlcv.csv"),
        &["macd:12:26:9", "adx:14", "bbands:20:2"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ours = rows(&text(&out.stdout));
    let mut compared = 0;
    for (file, first_col) in [("macd_12_26_9", 6), ("adx_14", 9), ("bbands_20_2", 12)] {
        let reference = rows(&std::fs::read_to_string(dir.join(format!("{file}.csv"))).unwrap());
        assert_eq!(reference.len(), ours.len());
        for (r, (want, got)) in reference.iter().zip(&ours).enumerate() {
            for (c, w) in want.iter().enumerate() {
                let g = &got[first_col + c];
                if r == 0 || w.is_empty() {
                    assert_eq!(g, w, "row {r} col {}", first_col + c);
                    continue;
                }
                let (w, g) = (w.parse::<f64>().unwrap(), g.parse::<f64>().unwrap());
                assert!(
                    (g - w).abs() <= 1e-9 * w.abs().max(1e-3),
                    "row {r}: {g} vs {w}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 10_000, "{compared}");
}

#[test]
fn output_flag_writes_the_file_and_nothing_to_stdout() {
    let input = temp_csv(SAMPLE);
    let target = temp_path("out.csv");
    let out = indicators(
        &input,
        &["ema:2", "bbands:2:1.5"],
        &["--output", target.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(&target).unwrap();
    let to_stdout = text(&indicators(&input, &["ema:2", "bbands:2:1.5"], &[]).stdout);
    assert_eq!(written, to_stdout);
    assert!(written.starts_with(
        "Date,OPEN,High,low,Close,Volume,ema_2,bb_upper_2_1.5,bb_middle_2_1.5,bb_lower_2_1.5\n"
    ));
}

#[test]
fn quoted_fields_and_missing_volume_are_fine() {
    let input = temp_csv(
        "time,open,high,low,close\n\"Jan 1, 2024\",1,2,0.5,1.5\n\"Jan 2, 2024\",1.5,3,1,2.5\n",
    );
    let out = indicators(&input, &["sma:2"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "time,open,high,low,close,sma_2\n\"Jan 1, 2024\",1,2,0.5,1.5,\n\"Jan 2, 2024\",1.5,3,1,2.5,2\n"
    );
}

/// Runs a failing case: exit 2, the message on stderr, and `--output` never created.
fn fails_with(input: &Path, specs: &[&str], message: &str) {
    let target = temp_path("never.csv");
    let out = indicators(input, specs, &["--output", target.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(message), "wanted {message:?} in: {stderr}");
    assert!(out.stdout.is_empty());
    assert!(!target.exists(), "{target:?} was written on error");
}

#[test]
fn bad_specs_are_usage_errors() {
    let input = temp_csv(SAMPLE);
    fails_with(
        &input,
        &["sma:0"],
        "invalid --indicator \"sma:0\": period must be between 1",
    );
    fails_with(
        &input,
        &["macd:26:12:9"],
        "must be shorter than the slow period",
    );
    fails_with(&input, &["sma:20", "kama:3"], "unknown indicator \"kama\"");
    fails_with(
        &input,
        &["rsi:fourteen"],
        "\"fourteen\" is not a whole number",
    );
    fails_with(&input, &["sma:5", "sma:5"], "\"sma_5\" would appear twice");
    let no_spec = neo(&["data", "indicators", "--input", input.to_str().unwrap()]);
    assert_eq!(no_spec.status.code(), Some(2));
}

#[test]
fn malformed_input_names_the_line() {
    let bad_number = temp_csv(&format!("{SAMPLE}2024-01-05,8,9,7,abc,10\n"));
    fails_with(
        &bad_number,
        &["sma:2"],
        "line 6: close is not a number: \"abc\"",
    );
    let short_row = temp_csv("date,open,high,low,close\nd,1,2,0.5\n");
    fails_with(
        &short_row,
        &["sma:2"],
        "line 2: expected 5 fields like the header, found 4",
    );
    let open_quote = temp_csv("date,open,high,low,close\n\"d,1,2,0.5,1\n");
    fails_with(&open_quote, &["sma:2"], "line 2: unterminated quoted field");
    let no_close = temp_csv("date,open,high,low,last\nd,1,2,0.5,1\n");
    fails_with(&no_close, &["sma:2"], "line 1: no \"close\" column");
    let empty = temp_csv("");
    fails_with(&empty, &["sma:2"], "the file is empty");
    fails_with(&temp_path("missing.csv"), &["sma:2"], "cannot read");
}

#[test]
fn validate_passes_a_clean_file_and_lists_every_problem_of_a_bad_one() {
    let clean = temp_csv(
        "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,10,11,120\n2024-01-04,11,11.5,10.8,11.2,90\n",
    );
    let out = neo(&["data", "validate", clean.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("PASSED"));

    let bad = temp_csv(
        "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n2024-01-03,10.5,12,13,11,120\n\
         2024-01-03,11,12,10,11,-1\nnot-a-date,1,2,0.5,1,1\n2024-01-01,11,12,10,11,5\n2024-01-04,NaN,12,10,11,5\n",
    );
    let out = neo(&["data", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    for needle in [
        "line      3  ohlc_order",
        "line      4  negative_volume",
        "line      4  duplicate_timestamp",
        "line 5: cannot read the time",
        "line      6  time_backwards",
        "line      7  not_finite",
        "FAILED",
    ] {
        assert!(
            report.contains(needle),
            "{needle:?} missing from:\n{report}"
        );
    }
    let out = neo(&["data", "validate", bad.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["unreadable"].as_array().unwrap().len(), 1);
    assert_eq!(v["report"]["counts"]["ohlc_order"], 1);
}

#[test]
fn stats_summarise_a_file() {
    let file = temp_csv(
        "1704153600,100,101,99,100,10\n1704153660,100,121,100,120,10\n1704153720,120,120,89,90,10\n",
    );
    let out = neo(&["data", "stats", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["bars"], 3);
    assert_eq!(v["stats"]["interval_secs"], 60.0);
    assert_eq!(v["stats"]["max_drawdown_pct"], 25.0);
    assert_eq!(v["stats"]["first"], "2024-01-02T00:00:00Z");
    let out = neo(&["data", "stats", "/nonexistent.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
}

// ---- Parquet input and `neo data ingest` ----
