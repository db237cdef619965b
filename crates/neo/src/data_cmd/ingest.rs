//! `neo data ingest`: an OHLCV file (CSV or Parquet) through the same gates as
//! `neo data validate`, then merged into the historical Parquet store, or refused
//! with nothing written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use neo_domain::InstrumentId;
use neo_engine::history::{self, Gates};
use neo_parquet::{MergeSummary, Timeframe};
use serde_json::json;

use crate::data_check::{Progress, counts, print_findings, read};

/// `neo data ingest` arguments.
#[derive(Args)]
pub(crate) struct IngestArgs {
    /// The OHLCV file: Parquet when named .parquet or .pq, CSV otherwise.
    file: PathBuf,
    /// The instrument, canonical form: BTC-USDT, EUR-USD, AAPL.
    #[arg(long, value_name = "ID", value_parser = parse_instrument)]
    instrument: InstrumentId,
    /// The bar interval: a count and one of s, m, h, d (1m, 15m, 4h, 1d).
    #[arg(long, value_name = "TF", value_parser = parse_timeframe)]
    timeframe: Timeframe,
    /// The store's root directory [default: neo-data/history].
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// Print one JSON object instead of the text report.
    #[arg(long)]
    json: bool,
    /// Close-to-close move (fraction) flagged as a jump.
    #[arg(long, default_value_t = 0.10)]
    max_jump: f64,
}

/// `--instrument`, for clap (also `neo data export`'s).
pub(super) fn parse_instrument(text: &str) -> Result<InstrumentId, String> {
    InstrumentId::new(text).map_err(|e| e.to_string())
}

/// `--timeframe`, for clap (also `neo data export`'s `--interval`).
pub(super) fn parse_timeframe(text: &str) -> Result<Timeframe, String> {
    Timeframe::new(text).map_err(|e| e.to_string())
}

/// The store under the data directory `neo run` uses.
pub(super) fn default_store() -> PathBuf {
    neo_pipeline::config::default_data_dir().join("history")
}

/// Why the bars do not fit `--timeframe`, if they do not: their most common
/// spacing must be the timeframe. Three bars or fewer may also be spaced by whole
/// multiples of it (Friday to Monday for daily bars).
fn timeframe_mismatch(bars: &[history::Bar], timeframe: &Timeframe) -> Option<String> {
    let step = history::infer_interval(bars)?;
    let want = timeframe.nanos();
    let fits = step == want || (step > want && step % want == 0 && bars.len() <= 3);
    (!fits).then(|| {
        #[allow(clippy::cast_precision_loss, reason = "a message")]
        let secs = step as f64 / 1e9;
        format!(
            "the bars are mostly {secs} s apart, but --timeframe {timeframe} is {} s",
            want / 1_000_000_000
        )
    })
}

pub(crate) fn run(args: IngestArgs) -> Result<ExitCode> {
    let IngestArgs {
        file,
        instrument,
        timeframe,
        store,
        json,
        max_jump,
    } = args;
    if !(max_jump.is_finite() && max_jump > 0.0) {
        bail!("--max-jump must be a positive fraction (0.10 is 10%), got {max_jump}");
    }
    let root = store.unwrap_or_else(default_store);
    let target = neo_parquet::partition_path(&root, &instrument, &timeframe);
    let loaded = read(&file, json)?;
    let gates = Gates {
        max_jump,
        interval_nanos: Some(timeframe.nanos()),
        ..Gates::default()
    };
    let report = history::validate(&loaded.bars, &gates);
    let mut refusals = Vec::new();
    if !loaded.unreadable.is_empty() {
        refusals.push(format!("{} unreadable row(s)", loaded.unreadable.len()));
    }
    let failing = counts(&report, |k| k.fails());
    if !failing.is_empty() {
        refusals.push(failing);
    }
    if loaded.bars.is_empty() {
        refusals.push("no bars to ingest".to_owned());
    }
    refusals.extend(timeframe_mismatch(&loaded.bars, &timeframe));
    let flags = counts(&report, |k| !k.fails());
    let header = json!({
        "file": file.display().to_string(),
        "instrument": instrument.as_str(),
        "timeframe": timeframe.as_str(),
        "path": target.display().to_string(),
    });

    if !refusals.is_empty() {
        if json {
            let mut out = header;
            out["written"] = json!(false);
            out["refused"] = json!(refusals);
            out["unreadable"] = json!(loaded.unreadable);
            out["report"] = json!(report);
            println!("{out}");
        } else {
            print_findings(&file, &loaded, &report, true);
            if !flags.is_empty() {
                println!("  (also flagged, not blocking: {flags})");
            }
            println!(
                "REFUSED: {}; nothing written to {}",
                refusals.join("; "),
                target.display()
            );
        }
        return Ok(ExitCode::from(1));
    }

    let progress = Progress::new(!json);
    progress.stage("writing");
    let merged = neo_parquet::merge_into_partition(
        &root,
        &instrument,
        &timeframe,
        &loaded.bars,
        &mut |done, total| progress.update(done, total),
    );
    progress.clear();
    let MergeSummary {
        path,
        rows_in,
        new,
        replaced,
        total,
    } = merged?;
    if json {
        let mut out = header;
        out["written"] = json!(true);
        out["rows_read"] = json!(rows_in);
        out["new"] = json!(new);
        out["replaced"] = json!(replaced);
        out["total"] = json!(total);
        out["report"] = json!(report);
        println!("{out}");
    } else {
        print_written(&file, &path, &flags, rows_in, new, replaced, total);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_written(
    file: &Path,
    path: &Path,
    flags: &str,
    rows_in: usize,
    new: usize,
    replaced: usize,
    total: usize,
) {
    println!("{}: passed the data gates", file.display());
    if !flags.is_empty() {
        println!("  flagged, not blocking: {flags} (`neo data validate` lists them)");
    }
    println!("wrote {}", path.display());
    println!("  rows read {rows_in}, new {new}, replaced {replaced}, total in partition {total}");
}
