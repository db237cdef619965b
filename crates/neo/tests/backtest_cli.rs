//! `neo backtest` as a user runs it: the two reference backtests from
//! backtesting.py's GOOG data, trade by trade against the package itself when it
//! is installed, byte-identical reruns, simulated data and clear errors.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn neo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(args)
        .output()
        .expect("run neo")
}

/// A fresh directory under the temp dir for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("neo-backtest-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn goog() -> PathBuf {
    neo_testkit::workspace_root().join("fixtures/ohlcv/GOOG.csv")
}

fn ok_json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "neo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn fx_tie() -> PathBuf {
    neo_testkit::workspace_root().join("fixtures/ohlcv/FX-TIE.csv")
}

/// Runs a cross(10, 20) on GOOG with extra cost flags; returns the JSON and the trades CSV.
fn goog_run(dir: &Path, name: &str, costs: &[&str], strategy: &str) -> (Value, String) {
    run_on(&goog(), dir, name, costs, strategy)
}

/// Runs a cross(10, 20) on `data` with extra cost flags; returns the JSON and the trades CSV.
fn run_on(data: &Path, dir: &Path, name: &str, costs: &[&str], strategy: &str) -> (Value, String) {
    let trades = dir.join(format!("{name}.csv"));
    let mut args = vec![
        "backtest",
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        strategy,
        "--json",
        "--trades",
        trades.to_str().unwrap(),
    ];
    args.extend_from_slice(costs);
    let json = ok_json(&neo(&args));
    (json, std::fs::read_to_string(trades).unwrap())
}

#[test]
fn goog_reference_figures() {
    let dir = temp_dir("figures");
    let (spread, _) = goog_run(&dir, "s", &["--spread", "0.002"], "sma-cross");
    assert_eq!(
        format!("{:.2}", spread["return_pct"].as_f64().unwrap()),
        "589.35"
    );
    assert_eq!(spread["trades"], 93);
    let (commission, _) = goog_run(&dir, "c", &["--commission", "0.002"], "sma-cross");
    assert_eq!(
        format!("{:.2}", commission["return_pct"].as_f64().unwrap()),
        "462.64"
    );
    assert_eq!(commission["trades"], 93);
    for key in [
        "return_pct",
        "buy_hold_return_pct",
        "cagr_pct",
        "sharpe",
        "sortino",
        "max_drawdown_pct",
        "trades",
        "win_rate_pct",
        "profit_factor",
        "exposure_pct",
        "final_equity",
        "bars",
        "elapsed_s",
        "bars_per_s",
    ] {
        assert!(!spread[key].is_null(), "{key} missing: {spread}");
    }
    assert_eq!(spread["bars"], 2148);
}

/// The package's own run of the same backtest, when `backtesting` is installed.
fn reference(data: &Path, costs: &[&str]) -> Option<Value> {
    let script = neo_testkit::workspace_root().join("scripts/reference_backtesting.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(data)
        .args(costs)
        .output()
        .ok()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("No module named"),
            "the reference script failed: {err}"
        );
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(1.0)
}

#[test]
fn matches_backtesting_py_trade_by_trade() {
    let dir = temp_dir("reference");
    let cases: [(&str, &[&str], &[&str]); 3] = [
        ("sma-cross", &["--spread", "0.002"], &[]),
        ("sma-cross", &["--commission", "0.002"], &[]),
        (
            "ema-cross",
            &["--spread", "0.001", "--commission", "0.001"],
            &["--ema"],
        ),
    ];
    for (i, (strategy, costs, extra)) in cases.into_iter().enumerate() {
        let mut ref_args = costs.to_vec();
        ref_args.extend_from_slice(extra);
        let Some(want) = reference(&goog(), &ref_args) else {
            eprintln!(
                "skipped: the backtesting package is not installed (pip install backtesting)"
            );
            return;
        };
        let (got, csv) = goog_run(&dir, &format!("r{i}"), costs, strategy);
        assert_matches(&want, &got, &csv, &format!("{strategy} {costs:?}"));
    }
}

/// An exact tie of the two means is not a cross for backtesting.py (strictly
/// below, then strictly above): FX-TIE's averages tie on flat runs, and a mean
/// off by one bit would trade out of them.
#[test]
fn matches_backtesting_py_on_an_exact_tie() {
    let dir = temp_dir("tie");
    for (i, costs) in [&[][..], &["--commission", "0.0001"][..]]
        .into_iter()
        .enumerate()
    {
        let (got, csv) = run_on(&fx_tie(), &dir, &format!("t{i}"), costs, "sma-cross");
        // The package's count, so the tie is checked even without Python.
        assert_eq!(got["trades"], 11, "{costs:?}: {got}");
        let Some(want) = reference(&fx_tie(), costs) else {
            eprintln!("skipped the package comparison: pip install backtesting");
            continue;
        };
        assert_matches(&want, &got, &csv, &format!("FX-TIE {costs:?}"));
    }
}

/// Every figure and every trade of a NEO run equals the package's.
fn assert_matches(want: &Value, got: &Value, csv: &str, label: &str) {
    for key in [
        "return_pct",
        "buy_hold_return_pct",
        "cagr_pct",
        "return_ann_pct",
        "volatility_ann_pct",
        "sharpe",
        "sortino",
        "max_drawdown_pct",
        "win_rate_pct",
        "profit_factor",
        "exposure_pct",
        "equity_peak",
    ] {
        let (w, g) = (want[key].as_f64(), got[key].as_f64());
        let same = match (w, g) {
            (Some(w), Some(g)) => close(w, g),
            (w, g) => w.is_none() && g.is_none(),
        };
        assert!(same, "{label} {key}: reference {w:?}, neo {g:?}");
    }
    let final_equity: f64 = got["final_equity"].as_str().unwrap().parse().unwrap();
    assert!(close(want["final_equity"].as_f64().unwrap(), final_equity));
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let trades = want["trade_list"].as_array().unwrap();
    assert_eq!(rows.len(), trades.len(), "{label}: trade count");
    for (n, (row, t)) in rows.iter().zip(trades).enumerate() {
        let sign = if row[4] == "long" { 1 } else { -1 };
        let size: i64 = row[5].parse::<i64>().unwrap() * sign;
        let num = |i: usize| row[i].parse::<f64>().unwrap();
        let same = row[0].parse::<i64>().ok() == t["entry_bar"].as_i64()
            && row[1].parse::<i64>().ok() == t["exit_bar"].as_i64()
            && size == t["size"].as_i64().unwrap()
            && close(num(6), t["entry_price"].as_f64().unwrap())
            && close(num(7), t["exit_price"].as_f64().unwrap())
            && close(num(8), t["pnl"].as_f64().unwrap());
        assert!(same, "{label} trade {n}: neo {row:?}, reference {t}");
    }
}

#[test]
fn reruns_are_byte_identical() {
    let dir = temp_dir("rerun");
    let run = |tag: &str| {
        let (trades, report) = (
            dir.as_path().join(format!("{tag}.csv")),
            dir.as_path().join(format!("{tag}.html")),
        );
        let out = neo(&[
            "backtest",
            "--data",
            "sim:seed=11,bars=20000",
            "--strategy",
            "ema-cross",
            "--param",
            "fast=8",
            "--param",
            "slow=30",
            "--commission",
            "0.0005",
            "--json",
            "--trades",
            trades.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ]);
        let mut json = ok_json(&out);
        let map = json.as_object_mut().unwrap();
        assert!(map.remove("elapsed_s").unwrap().as_f64().unwrap() >= 0.0);
        assert!(map.remove("bars_per_s").unwrap().as_f64().unwrap() > 0.0);
        (
            json,
            std::fs::read(trades).unwrap(),
            std::fs::read_to_string(report).unwrap(),
        )
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert_eq!(a.0["bars"], 20000);
    assert!(a.0["trades"].as_u64().unwrap() > 50, "{}", a.0);
    assert!(a.2.contains("<svg") && a.2.contains("Drawdown"));
}

#[test]
fn bad_input_is_named() {
    let data = goog();
    let data = data.to_str().unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["--data", data, "--strategy", "magic"], "unknown strategy"),
        (
            &[
                "--data",
                data,
                "--strategy",
                "sma-cross",
                "--param",
                "fast=x",
            ],
            "fast",
        ),
        (
            &[
                "--data",
                data,
                "--strategy",
                "sma-cross",
                "--param",
                "depth=3",
            ],
            "no parameter",
        ),
        (
            &[
                "--data",
                data,
                "--strategy",
                "sma-cross",
                "--param",
                "fast=30",
            ],
            "shorter than slow",
        ),
        (
            &["--data", "sim:seed=1", "--strategy", "ema-cross"],
            "seed and bars are required",
        ),
        (
            &[
                "--data",
                data,
                "--strategy",
                "sma-cross",
                "--commission",
                "0.5",
            ],
            "commission",
        ),
        (
            &["--data", "/no/such/file.csv", "--strategy", "sma-cross"],
            "file.csv",
        ),
    ];
    for (args, needle) in cases {
        let mut full = vec!["backtest"];
        full.extend_from_slice(args);
        let out = neo(&full);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn data_that_fails_the_gates_is_refused() {
    let dir = temp_dir("gates");
    let file = dir.as_path().join("bad.csv");
    std::fs::write(
        &file,
        "date,open,high,low,close\n2024-01-01,10,11,9,10\n2024-01-02,10,9,11,10\n2024-01-03,10,11,9,10\n",
    )
    .unwrap();
    let out = neo(&[
        "backtest",
        "--data",
        file.to_str().unwrap(),
        "--strategy",
        "sma-cross",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("neo data validate"), "{err}");
}

#[test]
fn the_historical_store_backtests_like_the_csv() {
    let dir = temp_dir("store");
    let store = dir.join("history");
    let data = goog();
    let out = neo(&[
        "data",
        "ingest",
        data.to_str().unwrap(),
        "--instrument",
        "GOOG",
        "--timeframe",
        "1d",
        "--store",
        store.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partition = store.join("instrument=GOOG/timeframe=1d/data.parquet");
    let from_store = ok_json(&neo(&[
        "backtest",
        "--data",
        partition.to_str().unwrap(),
        "--strategy",
        "sma-cross",
        "--spread",
        "0.002",
        "--json",
    ]));
    let (from_csv, _) = goog_run(&dir, "csv", &["--spread", "0.002"], "sma-cross");
    for key in ["return_pct", "trades", "final_equity", "bars", "sharpe"] {
        assert_eq!(from_store[key], from_csv[key], "{key}");
    }
}

#[test]
fn the_table_names_every_figure_and_marks_the_undefined() {
    let out = neo(&[
        "backtest",
        "--data",
        "sim:seed=3,bars=3000",
        "--strategy",
        "ensemble",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    for row in [
        "return",
        "buy & hold return",
        "Sharpe",
        "max drawdown",
        "trades",
        "throughput",
        "forecast Brier",
        "weight stability",
        "regime accuracy",
        "regime delay",
        "calibration ECE",
        "Kelly scale (min)",
        "bracket success",
        "R-multiple",
        "ATR accuracy",
    ] {
        assert!(table.contains(row), "{row} missing:\n{table}");
    }
    // Two days of minute bars with no losing day: Sortino is undefined, not NaN.
    assert!(!table.contains("NaN"), "{table}");
}

#[test]
fn weekly_bars_backtest() {
    let dir = temp_dir("weekly");
    let file = dir.join("weekly.csv");
    let mut csv = String::from("date,open,high,low,close,volume\n");
    // 60 Mondays of a zig-zag, so the averages cross both ways.
    let start = 1_704_067_200i64; // 2024-01-01, a Monday
    for week in 0..60i64 {
        let level = 100.0 + 10.0 * ((week as f64) / 6.0).sin();
        let ts = start + week * 7 * 86_400;
        csv.push_str(&format!(
            "{ts},{level:.2},{:.2},{:.2},{level:.2},1000\n",
            level + 1.0,
            level - 1.0
        ));
    }
    std::fs::write(&file, csv).unwrap();
    let json = ok_json(&neo(&[
        "backtest",
        "--data",
        file.to_str().unwrap(),
        "--strategy",
        "sma-cross",
        "--param",
        "fast=3",
        "--param",
        "slow=8",
        "--json",
    ]));
    assert_eq!(json["bars"], 60);
    assert!(json["trades"].as_u64().unwrap() >= 2, "{json}");
}

/// The desk's per-feature figures (what staged rollouts are judged on) come out
/// of an ensemble backtest in `--json` and in the HTML report.
#[test]
fn the_ensemble_reports_the_desks_figures() {
    let dir = temp_dir("figures-desk");
    let report = dir.join("report.html");
    let json = ok_json(&neo(&[
        "backtest",
        "--data",
        "sim:seed=3,bars=20000",
        "--strategy",
        "ensemble",
        "--json",
        "--report",
        report.to_str().unwrap(),
    ]));
    let fraction = |key: &str| {
        let v = json[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {json}"));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
        v
    };
    for key in [
        "calibration_ece",
        "bracket_success_rate",
        "atr_accuracy",
        "regime_accuracy",
    ] {
        fraction(key);
    }
    let scale = fraction("kelly_scale_min");
    assert!(scale > 0.0, "the scale never reaches zero: {scale}");
    assert!(json["r_multiple_mean"].as_f64().unwrap().is_finite());
    assert!(json["bracket_exits"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(
        json["calibration_outcomes"], json["trades"],
        "every round trip is learned"
    );
    assert!(json["atr_checks"].as_u64().unwrap() > 10_000, "{json}");
    assert_eq!(json["desk"]["atr_checks"], json["atr_checks"]);
    let html = std::fs::read_to_string(report).unwrap();
    assert!(html.contains("<h2>Decisions</h2>"), "no decisions section");
    for key in [
        "calibration_ece",
        "kelly_scale_min",
        "bracket_success_rate",
        "r_multiple_mean",
        "atr_accuracy",
    ] {
        assert!(
            html.contains(&format!("<td>{key}</td>")),
            "{key} missing from the report"
        );
    }
}
