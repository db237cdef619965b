//! `neo bench` as a user runs it: every hot path reported, JSON keyed by name.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn neo(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(args)
        .output()
        .expect("run neo")
}

#[test]
fn json_reports_every_benchmark_with_percentiles() {
    let out = neo(&["bench", "--json", "--time-ms", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (name, _) in neo::bench::BENCHMARKS {
        let b = &report[name];
        let (p50, p99, max, ops) = (
            b["p50_ns"].as_f64().unwrap(),
            b["p99_ns"].as_f64().unwrap(),
            b["max_ns"].as_f64().unwrap(),
            b["ops_per_s"].as_f64().unwrap(),
        );
        assert!(
            p50 > 0.0 && p50 <= p99 && p99 <= max && ops > 0.0,
            "{name}: {b}"
        );
    }
}

#[test]
fn filter_selects_and_an_unknown_filter_is_an_error() {
    let out = neo(&["bench", "--time-ms", "5", "--filter", "indicator_ema"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().nth(1).unwrap().starts_with("indicator_ema"));
    let none = neo(&["bench", "--filter", "no-such-benchmark"]);
    assert_eq!(none.status.code(), Some(2));
}

#[test]
fn a_short_soak_sweeps_and_samples_every_table() {
    let out = neo(&[
        "bench",
        "soak",
        "--rate",
        "20",
        "--seconds",
        "8",
        "--keep-secs",
        "2",
        "--sweep-secs",
        "2",
        "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 4, "{text}");
    let removed: u64 = lines.iter().filter_map(|s| s["removed"].as_u64()).sum();
    assert!(
        removed > 0,
        "a 2 s retention removed nothing in 8 s: {text}"
    );
    let last = lines.last().unwrap();
    assert_eq!(last["send_errors"], 0, "{text}");
    assert!(last["db_mib"][1].as_f64().unwrap() > 0.0, "{text}");
}
