//! `neo data validate` and `neo data stats`: an OHLCV file (CSV or Parquet)
//! through the core's history gates and summary, printed for a person or as JSON.

use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use neo_engine::history::{self, FindingKind, Gates, Report};
use serde_json::json;

use neo_parquet::{Ohlcv, read_ohlcv_file_with};

/// A progress bar on standard error for large files, drawn only for a person:
/// hidden when standard error is not a terminal or the output is JSON.
pub(crate) struct Progress(ProgressBar);

impl Progress {
    pub(crate) fn new(shown: bool) -> Self {
        let bar = if shown && std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {human_pos}/{human_len} rows ({eta} left)",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Progress(bar)
    }

    /// Starts a stage (`reading`, `writing`) from zero.
    pub(crate) fn stage(&self, name: &'static str) {
        self.0.set_message(name);
        self.0.set_position(0);
    }

    /// Moves the bar; the shape the loaders' and the store's callbacks take.
    pub(crate) fn update(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }

    /// Removes the bar before the report is printed.
    pub(crate) fn clear(&self) {
        self.0.finish_and_clear();
    }
}

/// Reads `file` (CSV or Parquet) with a progress bar unless `quiet`.
pub(crate) fn read(file: &Path, quiet: bool) -> Result<Ohlcv> {
    let progress = Progress::new(!quiet);
    progress.stage("reading");
    let loaded = read_ohlcv_file_with(file, &mut |done, total| progress.update(done, total));
    progress.clear();
    Ok(loaded?)
}

/// A finding kind as it is spelled in JSON (`price_jump`).
pub(crate) fn kind_name(kind: FindingKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// `kind n, kind n` over the counts, optionally only failing or only flagged kinds.
pub(crate) fn counts(report: &Report, keep: impl Fn(FindingKind) -> bool) -> String {
    report
        .counts
        .iter()
        .filter(|(k, _)| keep(**k))
        .map(|(k, n)| format!("{} {n}", kind_name(*k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The header line, unreadable rows and findings (all, or only the failing ones).
pub(crate) fn print_findings(file: &Path, loaded: &Ohlcv, report: &Report, only_failing: bool) {
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
        if only_failing && !f.kind.fails() {
            continue;
        }
        let level = if f.kind.fails() { "error" } else { "flag " };
        println!(
            "  {level}  line {:>6}  {:<20} {}  {}",
            f.line,
            kind_name(f.kind),
            f.ts,
            f.detail
        );
    }
}

pub(crate) fn validate(file: &Path, as_json: bool, max_jump: f64) -> Result<ExitCode> {
    if !(max_jump.is_finite() && max_jump > 0.0) {
        bail!("--max-jump must be a positive fraction (0.10 is 10%), got {max_jump}");
    }
    let loaded = read(file, as_json)?;
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
        print_findings(file, &loaded, &report, false);
        let summary = counts(&report, |_| true);
        println!(
            "{}{}",
            if passed { "PASSED" } else { "FAILED" },
            if summary.is_empty() {
                String::new()
            } else {
                format!(": {summary}")
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
    let loaded = read(file, as_json)?;
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
