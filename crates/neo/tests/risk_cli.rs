//! `neo risk size`: the desk's sizing from the command line, defaults and JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

fn size(extra: &[&str]) -> (bool, String, String) {
    size_at("90", extra)
}

fn size_at(stop: &str, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_neo"))
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .args([
            "risk", "size", "--equity", "100000", "--entry", "100", "--stop", stop,
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(probability: &str, drawdown: &str) -> Value {
    let (ok, out, err) = size(&[
        "--probability",
        probability,
        "--reward-risk",
        "2",
        "--drawdown",
        drawdown,
        "--json",
    ]);
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_drawdown_gives_a_strictly_smaller_fraction_on_the_defaults() {
    let calm = json("0.6", "0");
    let hurt = json("0.6", "0.04");
    let f = |v: &Value| v["fraction"].as_f64().unwrap();
    assert!(f(&hurt) < f(&calm), "{hurt} vs {calm}");
    assert_eq!(calm["bound_by"], "cap", "{calm}");
    assert!((f(&calm) - 0.02).abs() < 1e-12);
    for key in [
        "kelly_raw",
        "fraction",
        "drawdown_scale",
        "quantity",
        "notional",
        "bound_by",
    ] {
        assert!(calm.get(key).is_some(), "{key} missing from {calm}");
    }
    // 2% of 100 000 at a 10-point stop is 200 units (a quarter of equity would buy 250);
    // at 4% drawdown the scale is 0.4: 80 units.
    assert_eq!(calm["quantity"], "200");
    assert_eq!(hurt["quantity"], "80");
    assert_eq!(hurt["bound_by"], "cap");
    // A tight stop lets the per-entry notional cap bind instead.
    let (ok, out, err) = size_at(
        "99",
        &["--probability", "0.6", "--reward-risk", "2", "--json"],
    );
    assert!(ok, "{err}");
    let tight: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tight["bound_by"], "notional", "{tight}");
    assert_eq!(tight["quantity"], "250");
}

#[test]
fn no_edge_sizes_zero_and_bad_input_is_an_error() {
    let none = json("0.3", "0");
    assert!(none["fraction"].as_f64().unwrap().abs() < f64::EPSILON);
    assert_eq!(none["quantity"], "0");
    let (ok, out, _) = size(&["--probability", "0.6", "--reward-risk", "2"]);
    assert!(ok);
    assert!(out.contains("bound_by") && out.contains("cap"), "{out}");
    let (ok, _, err) = size(&["--probability", "1.5", "--reward-risk", "-1"]);
    assert!(!ok);
    assert!(
        err.contains("--probability") && err.contains("--reward-risk"),
        "{err}"
    );
}
