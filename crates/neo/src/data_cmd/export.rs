//! `neo data export`: one instrument's bars from the historical store at any
//! interval the store can make exactly, over a time range, to CSV or Parquet.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::history::Bar;
use neo_parquet::{PARTITION_FILE, Timeframe};

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
    let stored = stored_timeframes(&root, &args.instrument, &args.interval)?;
    let source = choose_source(&stored, &args.interval)
        .or_else(|why| refuse(format!("{}: {why}", args.instrument)))?;
    let bars = neo_parquet::read_partition(&root, &args.instrument, &source)?;
    let buckets = if source == args.interval {
        bars.into_iter().map(|b| (b, true)).collect()
    } else {
        resample(&bars, source.nanos(), args.interval.nanos())
    };
    let in_range =
        |ts: Timestamp| args.from.is_none_or(|f| ts >= f) && args.to.is_none_or(|t| ts < t);
    let mut partial = 0usize;
    let mut out = Vec::new();
    for (bar, closed) in buckets.into_iter().filter(|(b, _)| in_range(b.ts)) {
        if closed || args.partial {
            out.push(bar);
        } else {
            partial += 1;
        }
    }
    output::write(&table(&out), &args.output, format)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    report(&args, &source, &out, partial);
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

/// The timeframes with a partition file for `instrument` under `root`, finest first.
/// Refused when there is none.
fn stored_timeframes(
    root: &Path,
    instrument: &InstrumentId,
    interval: &Timeframe,
) -> Result<Vec<Timeframe>> {
    let none = || {
        refuse(format!(
            "no stored data for {instrument} in {} (`neo data ingest` fills the store)",
            root.display()
        ))
    };
    // `<root>/instrument=<ID>`, two levels above any of its partition files.
    let partition = neo_parquet::partition_path(root, instrument, interval);
    let Some(dir) = partition.parent().and_then(Path::parent) else {
        return none();
    };
    if !dir.is_dir() {
        return none();
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let name = entry.file_name();
        let Some(tf) = name.to_str().and_then(|n| n.strip_prefix("timeframe=")) else {
            continue;
        };
        if let Ok(tf) = Timeframe::new(tf)
            && entry.path().join(PARTITION_FILE).is_file()
        {
            found.push(tf);
        }
    }
    found.sort_by_key(Timeframe::nanos);
    if found.is_empty() {
        return none();
    }
    Ok(found)
}

/// The partition to read for `interval`: the interval itself when stored (its bars
/// are the source's own, nothing to rebuild), else the finest stored timeframe that
/// divides it; why not, naming what is stored.
fn choose_source(stored: &[Timeframe], interval: &Timeframe) -> Result<Timeframe, String> {
    if let Some(same) = stored.iter().find(|tf| *tf == interval) {
        return Ok(same.clone());
    }
    let list = stored
        .iter()
        .map(Timeframe::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if stored.iter().all(|tf| tf.nanos() > interval.nanos()) {
        return Err(format!(
            "--interval {interval} is finer than anything stored (stored: {list})"
        ));
    }
    stored
        .iter()
        .find(|tf| interval.nanos() % tf.nanos() == 0)
        .cloned()
        .ok_or_else(|| {
            format!("no stored timeframe divides --interval {interval} evenly (stored: {list})")
        })
}

/// `bars` (sorted, `source` nanoseconds each) as buckets of `target` nanoseconds
/// aligned to the Unix epoch, so to UTC (hours start on the hour, days at midnight
/// UTC): the first open, the highest high, the lowest low, the last close and the
/// summed volume, each with whether it is closed. Closed is the rule of
/// `neo_engine::market::resample`: the bucket's last bar is in (its end reaches the
/// bucket's end); buckets missing bars inside are built from the bars present.
fn resample(bars: &[Bar], source: i64, target: i64) -> Vec<(Bar, bool)> {
    let mut out: Vec<(Bar, bool)> = Vec::new();
    let mut open: Option<(i64, Bar, i64)> = None;
    let close = |bucket: i64, bar: Bar, last: i64| {
        let closed = last.saturating_add(source) >= bucket.saturating_add(target);
        (bar, closed)
    };
    for b in bars {
        let ts = b.ts.as_nanos();
        let bucket = ts.div_euclid(target) * target;
        match &mut open {
            Some((start, bar, last)) if *start == bucket => {
                bar.high = bar.high.max(b.high);
                bar.low = bar.low.min(b.low);
                bar.close = b.close;
                bar.volume += b.volume;
                *last = ts;
            }
            _ => {
                if let Some((start, bar, last)) = open.take() {
                    out.push(close(start, bar, last));
                }
                let bar = Bar {
                    ts: Timestamp::from_nanos(bucket),
                    ..*b
                };
                open = Some((bucket, bar, ts));
            }
        }
    }
    if let Some((start, bar, last)) = open {
        out.push(close(start, bar, last));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use neo_domain::contracts::CandleV1;
    use neo_domain::{Price, Quantity};

    use super::*;

    const MINUTE: i64 = 60_000_000_000;

    fn bar(minute: i64, close: f64) -> Bar {
        Bar {
            line: 0,
            ts: Timestamp::from_nanos(minute * MINUTE),
            open: close - 0.5,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1.5,
        }
    }

    fn tfs(list: &[&str]) -> Vec<Timeframe> {
        list.iter().map(|t| Timeframe::new(t).unwrap()).collect()
    }

    #[test]
    fn buckets_take_first_open_extremes_last_close_and_summed_volume() {
        let closes = [10.0, 12.0, 9.0, 11.0, 10.5, 13.0, 14.0];
        let bars: Vec<Bar> = closes
            .iter()
            .enumerate()
            .map(|(i, c)| bar(i as i64, *c))
            .collect();
        let out = resample(&bars, MINUTE, 5 * MINUTE);
        assert_eq!(out.len(), 2);
        let (first, closed) = &out[0];
        assert!(closed);
        assert_eq!(first.ts, Timestamp::EPOCH);
        assert_eq!(
            (first.open, first.high, first.low, first.close, first.volume),
            (9.5, 13.0, 8.0, 10.5, 7.5)
        );
        let (second, closed) = &out[1];
        assert!(!closed, "minutes 5 and 6 of 5..9");
        assert_eq!(
            (second.open, second.close, second.volume),
            (12.5, 14.0, 3.0)
        );
        // A gap inside a bucket whose last minute is in still closes it.
        let gappy = [bar(0, 1.0), bar(4, 2.0), bar(7, 3.0), bar(9, 4.0)];
        let out = resample(&gappy, MINUTE, 5 * MINUTE);
        assert_eq!(
            out.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
            [true, true]
        );
        // Before the epoch, buckets still align (floor, not truncation).
        let early = resample(&[bar(-1, 1.0)], MINUTE, 5 * MINUTE);
        assert_eq!(early[0].0.ts.as_nanos(), -5 * MINUTE);
    }

    #[test]
    fn agrees_with_the_engines_resampler() {
        let closes = [
            10.0, 12.0, 9.0, 11.0, 10.5, 13.0, 14.0, 12.5, 12.0, 11.0, 13.5,
        ];
        let bars: Vec<Bar> = closes
            .iter()
            .enumerate()
            .map(|(i, c)| bar(i as i64 + 3, *c))
            .collect();
        let candles: Vec<CandleV1> = bars
            .iter()
            .map(|b| {
                let price = |v: f64| v.to_string().parse::<Price>().unwrap();
                CandleV1 {
                    instrument: InstrumentId::new("BTC-USDT").unwrap(),
                    interval: "1m".to_owned(),
                    ts_open: b.ts,
                    ts_event: b.ts.add_nanos(MINUTE),
                    open: price(b.open),
                    high: price(b.high),
                    low: price(b.low),
                    close: price(b.close),
                    volume: "1.5".parse::<Quantity>().unwrap(),
                }
            })
            .collect();
        let engine = neo_engine::market::resample(&candles, "5m").unwrap();
        let ours: Vec<Bar> = resample(&bars, MINUTE, 5 * MINUTE)
            .into_iter()
            .filter_map(|(b, closed)| closed.then_some(b))
            .collect();
        assert_eq!(engine.len(), ours.len());
        for (e, o) in engine.iter().zip(&ours) {
            assert_eq!(e.ts_open, o.ts);
            let got = [o.open, o.high, o.low, o.close, o.volume].map(|v| v.to_string());
            let want = [
                e.open.to_string(),
                e.high.to_string(),
                e.low.to_string(),
                e.close.to_string(),
                e.volume.to_string(),
            ];
            assert_eq!(got, want);
        }
    }

    #[test]
    fn the_source_is_the_interval_itself_or_the_finest_divisor() {
        let stored = tfs(&["1m", "5m", "1h", "1d"]);
        let pick = |i: &str| choose_source(&stored, &Timeframe::new(i).unwrap());
        assert_eq!(pick("1h").unwrap().as_str(), "1h");
        assert_eq!(pick("1d").unwrap().as_str(), "1d");
        assert_eq!(pick("4h").unwrap().as_str(), "1m");
        assert_eq!(pick("15m").unwrap().as_str(), "1m");
        let coarse = tfs(&["5m", "1h"]);
        let err = choose_source(&coarse, &Timeframe::new("1m").unwrap()).unwrap_err();
        assert_eq!(
            err,
            "--interval 1m is finer than anything stored (stored: 5m, 1h)"
        );
        let err = choose_source(&coarse, &Timeframe::new("7m").unwrap()).unwrap_err();
        assert_eq!(
            err,
            "no stored timeframe divides --interval 7m evenly (stored: 5m, 1h)"
        );
        assert_eq!(
            choose_source(&coarse, &Timeframe::new("10m").unwrap())
                .unwrap()
                .as_str(),
            "5m"
        );
    }
}
