//! `neo data validate` and `neo data stats`: an OHLCV file through the core's
//! history gates and summary, printed for a person or as JSON.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use neo_engine::history::{self, Gates};
use serde_json::json;

use crate::ohlcv::{Loaded, load};

fn read(file: &Path) -> Result<Loaded> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    load(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
}

pub(crate) fn validate(file: &Path, as_json: bool, max_jump: f64) -> Result<ExitCode> {
    if !(max_jump.is_finite() && max_jump > 0.0) {
        bail!("--max-jump must be a positive fraction (0.10 is 10%), got {max_jump}");
    }
    let loaded = read(file)?;
    let gates = Gates {
        max_jump,
        ..Gates::default()
    };
    let report = history::validate(&loaded.bars, &gates);
    let passed = report.passed && loaded.unreadable.is_empty();
    if as_json {
        let out = json!({
            "file": file.display().to_string(),
            "passed": passed,
            "unreadable": loaded.unreadable,
            "report": report,
        });
        println!("{out}");
    } else {
        println!(
            "{}: {} bars read, {} unreadable, interval {}",
            file.display(),
            report.bars,
            loaded.unreadable.len(),
            report
                .interval_secs
                .map_or("unknown".to_owned(), |s| format!("{s} s"))
        );
        for line in &loaded.unreadable {
            println!("  unreadable  {line}");
        }
        for f in &report.findings {
            let level = if f.kind.fails() { "error" } else { "flag " };
            let kind = serde_json::to_value(f.kind).unwrap_or_default();
            println!(
                "  {level}  line {:>6}  {:<20} {}  {}",
                f.line,
                kind.as_str().unwrap_or("?"),
                f.ts,
                f.detail
            );
        }
        let summary: Vec<String> = report
            .counts
            .iter()
            .map(|(k, n)| {
                format!(
                    "{} {n}",
                    serde_json::to_value(k)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("?")
                )
            })
            .collect();
        println!(
            "{}{}",
            if passed { "PASSED" } else { "FAILED" },
            if summary.is_empty() {
                String::new()
            } else {
                format!(": {}", summary.join(", "))
            }
        );
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn stats(file: &Path, as_json: bool) -> Result<ExitCode> {
    let loaded = read(file)?;
    let s = history::stats(&loaded.bars);
    if as_json {
        println!(
            "{}",
            json!({ "file": file.display().to_string(), "unreadable": loaded.unreadable.len(), "stats": s })
        );
        return Ok(ExitCode::SUCCESS);
    }
    let num = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.6}"));
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.2}%"));
    println!("file:           {}", file.display());
    println!(
        "bars:           {} ({} unreadable rows skipped)",
        s.bars,
        loaded.unreadable.len()
    );
    println!(
        "span:           {} .. {}",
        s.first.map_or("-".to_owned(), |t| t.to_string()),
        s.last.map_or("-".to_owned(), |t| t.to_string())
    );
    println!(
        "interval:       {}",
        s.interval_secs.map_or("-".to_owned(), |x| format!("{x} s"))
    );
    println!(
        "close:          first {}  last {}  mean {}",
        num(s.first_close),
        num(s.last_close),
        num(s.mean_close)
    );
    println!(
        "range:          low {}  high {}",
        num(s.min_low),
        num(s.max_high)
    );
    println!("volume:         {}", s.total_volume);
    println!("buy and hold:   {}", pct(s.return_pct));
    println!("volatility:     {} per bar", pct(s.volatility_pct));
    println!("max drawdown:   {}", pct(s.max_drawdown_pct));
    Ok(ExitCode::SUCCESS)
}
