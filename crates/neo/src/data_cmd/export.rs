//! `neo data export`: one instrument's bars from the historical store at any
//! interval the store can make exactly, over a time range, to CSV or Parquet.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::history::Bar;
use neo_parquet::Timeframe;

use super::ingest::{default_store, parse_instrument, parse_timeframe};
use super::output::{self, Cells, Format, Table, refuse};

/// `neo data export` arguments.
#[derive(Args)]
pub(crate) struct ExportArgs {
    /// The store's root directory [default: neo-data/history, as `neo data ingest`].
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
    /// The instrument, canonical form: BTC-USDT, EUR-USD, AAPL.
    #[arg(long, value_name = "ID", value_parser = parse_instrument)]
    instrument: InstrumentId,
    /// The bar interval to write: a count and one of s, m, h, d (1m, 5m, 15m, 1h, 4h, 1d).
    #[arg(long, value_name = "TF", value_parser = parse_timeframe)]
    interval: Timeframe,
    /// Write bars opening at or after this time: RFC 3339 (2024-01-02T09:30:00Z, any
    /// offset), a date and time without a zone (UTC), a date (midnight UTC) or Unix
    /// seconds or milliseconds.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<Timestamp>,
    /// Write bars opening before this time (exclusive); the forms --from takes.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<Timestamp>,
    /// Also write resampled buckets whose last bar is not stored (a bucket still
    /// forming, or a session that ends before the bucket does, such as daily bars
    /// made from an exchange's minutes).
    #[arg(long)]
    partial: bool,
    /// The file to write: CSV when named .csv, Parquet when named .parquet or .pq.
    #[arg(long, value_name = "FILE")]
    output: PathBuf,
}

fn parse_time(text: &str) -> Result<Timestamp, String> {
    neo_parquet::parse_time_text(text).ok_or_else(|| {
        format!("cannot read {text:?} as a time; expected RFC 3339 (2024-01-02T09:30:00Z) or a date (2024-01-02)")
    })
}

/// Runs `neo data export`: refuses what it cannot serve before reading the store.
pub(crate) fn run(args: ExportArgs) -> Result<ExitCode> {
    let format = Format::of(&args.output)?;
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        return refuse(format!(
            "--from {from} is not before --to {to}; the range is [from, to)"
        ));
    }
    let root = args.store.clone().unwrap_or_else(default_store);
    let range = (args.from, args.to);
    let history = match neo_parquet::read_history(
        &root,
        &args.instrument,
        &args.interval,
        range,
        args.partial,
    ) {
        Ok(h) => h,
        Err(neo_parquet::HistoryError::Store(e)) => return Err(e.into()),
        Err(refused) => return refuse(refused.to_string()),
    };
    output::write(&table(&history.bars), &args.output, format)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    report(&args, &history.source, &history.bars, history.left_out);
    Ok(ExitCode::SUCCESS)
}

/// The summary printed after writing.
fn report(args: &ExportArgs, source: &Timeframe, out: &[Bar], partial: usize) {
    let made = if *source == args.interval {
        "as stored".to_owned()
    } else {
        format!("resampled from the stored {source}")
    };
    println!(
        "wrote {} {} bars of {} ({made}) to {}",
        out.len(),
        args.interval,
        args.instrument,
        args.output.display()
    );
    match (out.first(), out.last()) {
        (Some(first), Some(last)) => println!("  first {}, last {}", first.ts, last.ts),
        _ => println!("  nothing stored in the range"),
    }
    if partial > 0 {
        println!(
            "  left out {partial} bucket(s) whose last bar is not stored (--partial keeps them)"
        );
    }
}

/// The store's columns, as a table to write.
fn table(bars: &[Bar]) -> Table {
    let column = |name: &str, f: fn(&Bar) -> f64| {
        (
            name.to_owned(),
            Cells::Required(bars.iter().map(f).collect()),
        )
    };
    Table {
        times: bars.iter().map(|b| b.ts).collect(),
        columns: vec![
            column("open", |b| b.open),
            column("high", |b| b.high),
            column("low", |b| b.low),
            column("close", |b| b.close),
            column("volume", |b| b.volume),
        ],
    }
}
