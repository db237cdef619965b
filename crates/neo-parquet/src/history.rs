//! Reading the candle store back at any interval it can make exactly: the
//! interval's own partition when stored, else the finest stored timeframe
//! that divides it, resampled in UTC-aligned buckets. `neo data export` and
//! `GET /v1/history/candles` both read through here.

use std::path::{Path, PathBuf};

use neo_domain::{InstrumentId, Timestamp};
use neo_engine::history::Bar;

use crate::{Error, PARTITION_FILE, Timeframe, partition_path, read_partition};

/// Bars read for one request.
#[derive(Debug, Clone)]
pub struct History {
    /// The stored timeframe they were made from.
    pub source: Timeframe,
    /// The bars in the range, oldest first.
    pub bars: Vec<Bar>,
    /// Resampled buckets left out because their last bar is not stored.
    pub left_out: usize,
}

/// Why the store cannot serve a request.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Nothing is stored for the instrument.
    #[error("no stored data for {instrument} in {} (`neo data ingest` or a live feed fills the store)", root.display())]
    NoData {
        /// The instrument asked for.
        instrument: InstrumentId,
        /// The store.
        root: PathBuf,
    },
    /// Something is stored, but not at an interval that makes this one exactly.
    #[error("{instrument}: {why}")]
    Interval {
        /// The instrument asked for.
        instrument: InstrumentId,
        /// What is stored and why it does not serve.
        why: String,
    },
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] Error),
}

/// `instrument`'s bars at `interval` opening in `[from, to)`; with `partial`,
/// resampled buckets whose last bar is not stored are kept.
pub fn read_history(
    root: &Path,
    instrument: &InstrumentId,
    interval: &Timeframe,
    (from, to): (Option<Timestamp>, Option<Timestamp>),
    partial: bool,
) -> Result<History, HistoryError> {
    let stored = stored_timeframes(root, instrument)?;
    if stored.is_empty() {
        return Err(HistoryError::NoData {
            instrument: *instrument,
            root: root.to_owned(),
        });
    }
    let source = choose_source(&stored, interval).map_err(|why| HistoryError::Interval {
        instrument: *instrument,
        why,
    })?;
    let bars = read_partition(root, instrument, &source)?;
    let buckets = if source == *interval {
        bars.into_iter().map(|b| (b, true)).collect()
    } else {
        resample(&bars, source.nanos(), interval.nanos())
    };
    let in_range = |ts: Timestamp| from.is_none_or(|f| ts >= f) && to.is_none_or(|t| ts < t);
    let mut left_out = 0usize;
    let mut out = Vec::new();
    for (bar, closed) in buckets.into_iter().filter(|(b, _)| in_range(b.ts)) {
        if closed || partial {
            out.push(bar);
        } else {
            left_out += 1;
        }
    }
    Ok(History {
        source,
        bars: out,
        left_out,
    })
}

/// The timeframes with a partition file for `instrument` under `root`, finest
/// first (none when nothing is stored).
pub fn stored_timeframes(root: &Path, instrument: &InstrumentId) -> Result<Vec<Timeframe>, Error> {
    // `<root>/instrument=<ID>`, two levels above any of its partition files.
    let any = Timeframe::new("1m").map_err(|_| Error::NoPartition {
        path: root.to_owned(),
    })?;
    let partition = partition_path(root, instrument, &any);
    let Some(dir) = partition.parent().and_then(Path::parent) else {
        return Ok(Vec::new());
    };
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let io = |cause| Error::Io {
        action: "list",
        path: dir.to_owned(),
        cause,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
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
            "interval {interval} is finer than anything stored (stored: {list})"
        ));
    }
    stored
        .iter()
        .find(|tf| interval.nanos() % tf.nanos() == 0)
        .cloned()
        .ok_or_else(|| {
            format!("no stored timeframe divides interval {interval} evenly (stored: {list})")
        })
}

/// `bars` (sorted, `source` nanoseconds each) as buckets of `target` nanoseconds
/// aligned to the Unix epoch, so to UTC (hours start on the hour, days at midnight
/// UTC): the first open, the highest high, the lowest low, the last close and the
/// summed volume, each with whether it is closed. Closed is the rule of
/// `neo_engine::market::resample`: the bucket's last bar is in (its end reaches the
/// bucket's end); buckets missing bars inside are built from the bars present.
pub fn resample(bars: &[Bar], source: i64, target: i64) -> Vec<(Bar, bool)> {
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
            "interval 1m is finer than anything stored (stored: 5m, 1h)"
        );
        let err = choose_source(&coarse, &Timeframe::new("7m").unwrap()).unwrap_err();
        assert_eq!(
            err,
            "no stored timeframe divides interval 7m evenly (stored: 5m, 1h)"
        );
        assert_eq!(
            choose_source(&coarse, &Timeframe::new("10m").unwrap())
                .unwrap()
                .as_str(),
            "5m"
        );
    }
}
