//! `neo slo`: a running NEO's service level objectives, one line each.

use std::process::ExitCode;

use serde_json::Value;

use crate::flags_cmd::{Target, fetch, number};

pub(crate) fn run(target: &Target) -> anyhow::Result<ExitCode> {
    let runtime = crate::api_client::runtime()?;
    let (status, answer) = runtime.block_on(fetch(target, "GET", "/v1/slo", None))?;
    if target.json || !(200..300).contains(&status) {
        println!(
            "{}",
            serde_json::to_string_pretty(&answer).unwrap_or_default()
        );
        return Ok(if (200..300).contains(&status) {
            ExitCode::SUCCESS
        } else {
            println!("NEO answered {status}");
            ExitCode::from(1)
        });
    }
    println!(
        "{:<25} {:>12} {:>10} {:>5} {:>8} {:>8} {:>7}  events",
        "slo", "target", "value", "met", "budget", "burn 1h", "alert"
    );
    for s in answer["slos"].as_array().into_iter().flatten() {
        println!("{}", line(s));
    }
    Ok(ExitCode::SUCCESS)
}

fn line(s: &Value) -> String {
    let value = match (s["value"].as_f64(), s["threshold_secs"].as_f64()) {
        (Some(v), Some(_)) => format!("{}ms", number(&Value::from((v * 1000.0).round()))),
        (Some(v), None) => format!("{:.4}", v),
        (None, _) => "-".to_owned(),
    };
    let target = match s["threshold_secs"].as_f64() {
        Some(t) => format!(
            "p{}<={}ms",
            number(&Value::from(
                (s["target"].as_f64().unwrap_or(0.0) * 100.0).round()
            )),
            number(&Value::from((t * 1000.0).round()))
        ),
        None => number(&s["target"]),
    };
    format!(
        "{:<25} {:>12} {:>10} {:>5} {:>8} {:>8} {:>7}  {}/{}",
        s["name"].as_str().unwrap_or("?"),
        target,
        value,
        if s["met"].as_bool() == Some(true) {
            "yes"
        } else {
            "NO"
        },
        s["budget_remaining"]
            .as_f64()
            .map_or("-".to_owned(), |b| format!("{:.0}%", b * 100.0)),
        s["burn_rate"]
            .as_f64()
            .map_or("-".to_owned(), |b| format!("{b:.2}")),
        s["alert"].as_str().unwrap_or("-"),
        s["good"],
        s["total"]
    )
}
