//! The historical store: one Parquet file per instrument and timeframe in
//! hive-style folders, `<root>/instrument=<ID>/timeframe=<TF>/data.parquet`, so
//! pandas, pyarrow, duckdb and polars read the whole store as one dataset with
//! `instrument` and `timeframe` columns.
//!
//! Each file has `ts` (timestamp[ns, UTC]) and `open`, `high`, `low`, `close`,
//! `volume` (Float64), sorted by `ts` with no `ts` twice, Snappy-compressed.
//! Ingesting merges with what is there (new rows win on an equal `ts`) and
//! replaces the file by renaming a finished temporary file over it, so a crash
//! leaves the old file or the new one, never half of one.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use neo_domain::InstrumentId;
use neo_engine::history::Bar;
use neo_engine::market::interval_nanos;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::read::read_ohlcv;
use crate::{Error, Result};

/// The file name inside each partition folder.
pub const PARTITION_FILE: &str = "data.parquet";

/// Rows handed to the writer at a time, so progress can be reported.
const WRITE_BATCH_ROWS: usize = 65_536;

/// A bar interval the store is partitioned by: a count without leading zeros and
/// one of `s`, `m`, `h`, `d` (`1m`, `15m`, `4h`, `1d`), so one interval has one
/// folder name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timeframe {
    text: String,
    nanos: i64,
}

impl Timeframe {
    /// Accepts what the candle aggregator can step by, in its one spelling.
    pub fn new(text: &str) -> Result<Self> {
        let invalid = || Error::InvalidTimeframe(text.chars().take(40).collect());
        if text.starts_with('0') {
            return Err(invalid());
        }
        let nanos = interval_nanos(text).ok_or_else(invalid)?;
        Ok(Timeframe {
            text: text.to_owned(),
            nanos,
        })
    }

    /// The spelling, as in the folder name.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The interval in nanoseconds, to compare with the bars' spacing.
    pub fn nanos(&self) -> i64 {
        self.nanos
    }
}

impl FromStr for Timeframe {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Timeframe::new(s)
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What one merge did, for the person who ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeSummary {
    /// The partition file written.
    pub path: PathBuf,
    /// Bars handed in.
    pub rows_in: usize,
    /// Timestamps that were not in the partition before.
    pub new: usize,
    /// Timestamps that were, now holding the new values.
    pub replaced: usize,
    /// Rows in the partition after the merge.
    pub total: usize,
}

/// The partition file of `instrument` at `timeframe` under `root`.
pub fn partition_path(root: &Path, instrument: &InstrumentId, timeframe: &Timeframe) -> PathBuf {
    root.join(format!("instrument={}", instrument.as_str()))
        .join(format!("timeframe={}", timeframe.as_str()))
        .join(PARTITION_FILE)
}

/// Reads one stored partition back, sorted by time (`line` is the row number);
/// [`Error::NoPartition`] when nothing was stored for it yet.
pub fn read_partition(
    root: &Path,
    instrument: &InstrumentId,
    timeframe: &Timeframe,
) -> Result<Vec<Bar>> {
    read_file(&partition_path(root, instrument, timeframe))
}

fn read_file(path: &Path) -> Result<Vec<Bar>> {
    if !path.exists() {
        return Err(Error::NoPartition {
            path: path.to_owned(),
        });
    }
    let read = read_ohlcv(path)?;
    if let Some(first) = read.unreadable.first() {
        return Err(Error::Damaged {
            path: path.to_owned(),
            detail: format!("{first} ({} unreadable rows)", read.unreadable.len()),
        });
    }
    Ok(read.bars)
}

/// One stored row: time in nanoseconds, then open, high, low, close, volume.
type Row = (i64, [f64; 5]);

/// Merges `bars` into the partition of `instrument` at `timeframe` under `root`
/// (created if missing): a bar whose time is already stored replaces it, and of
/// bars sharing a time the last given wins. Calls `progress(rows_written,
/// rows_total)` while writing. Writers of one partition are serialised by a lock
/// file beside it; the bars are stored as given (run the history gates first).
pub fn merge_into_partition(
    root: &Path,
    instrument: &InstrumentId,
    timeframe: &Timeframe,
    bars: &[Bar],
    progress: &mut dyn FnMut(u64, u64),
) -> Result<MergeSummary> {
    let path = partition_path(root, instrument, timeframe);
    let dir = path.parent().unwrap_or(root).to_owned();
    let io = |action: &'static str, at: &Path| {
        let at = at.to_owned();
        move |cause| Error::Io {
            action,
            path: at,
            cause,
        }
    };
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let lock_path = dir.join(".lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("open", &lock_path))?;
    // Held until `lock` drops; the OS releases it if the process dies.
    lock.lock().map_err(io("lock", &lock_path))?;

    let stored = match read_file(&path) {
        Ok(stored) => sorted_unique(stored.iter()),
        Err(Error::NoPartition { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let incoming = sorted_unique(bars.iter());
    let (rows, replaced) = merge(&stored, &incoming);
    let summary = MergeSummary {
        path: path.clone(),
        rows_in: bars.len(),
        new: incoming.len() - replaced,
        replaced,
        total: rows.len(),
    };
    write_atomically(&path, &rows, progress)?;
    drop(lock);
    Ok(summary)
}

/// Rows sorted by time, the last given winning among rows of one time.
fn sorted_unique<'a>(bars: impl Iterator<Item = &'a Bar>) -> Vec<Row> {
    let mut rows: Vec<Row> = bars
        .map(|b| (b.ts.as_nanos(), [b.open, b.high, b.low, b.close, b.volume]))
        .collect();
    // Stable, and close to linear on sorted input (the usual case).
    rows.sort_by_key(|r| r.0);
    let mut unique: Vec<Row> = Vec::with_capacity(rows.len());
    for row in rows {
        match unique.last_mut() {
            Some(last) if last.0 == row.0 => *last = row,
            _ => unique.push(row),
        }
    }
    unique
}

/// Merges two sorted, unique row lists, `new` winning on an equal time; returns the
/// rows and how many of `new` replaced one of `old`.
fn merge(old: &[Row], new: &[Row]) -> (Vec<Row>, usize) {
    let mut out = Vec::with_capacity(old.len() + new.len());
    let (mut i, mut j, mut replaced) = (0, 0, 0);
    while let (Some(o), Some(n)) = (old.get(i), new.get(j)) {
        match o.0.cmp(&n.0) {
            std::cmp::Ordering::Less => {
                out.push(*o);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(*n);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(*n);
                replaced += 1;
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(old.get(i..).unwrap_or_default());
    out.extend_from_slice(new.get(j..).unwrap_or_default());
    (out, replaced)
}

/// The store's schema: what other tools see.
fn schema() -> SchemaRef {
    let price = |name: &str| Field::new(name, DataType::Float64, false);
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        price("open"),
        price("high"),
        price("low"),
        price("close"),
        price("volume"),
    ]))
}

/// Writes `rows` to a temporary file beside `path`, syncs it and renames it over
/// `path`; on any error the temporary file is removed and `path` is untouched.
fn write_atomically(path: &Path, rows: &[Row], progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Starts with a dot so dataset readers skip it if a crash leaves it behind.
    let temp = dir.join(format!(".{PARTITION_FILE}.{}.tmp", std::process::id()));
    let result = write_file(&temp, rows, progress).and_then(|()| {
        std::fs::rename(&temp, path).map_err(|cause| Error::Io {
            action: "rename into place",
            path: path.to_owned(),
            cause,
        })
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
        return result;
    }
    // Make the rename itself durable (directories cannot be synced on every OS).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn write_file(temp: &Path, rows: &[Row], progress: &mut dyn FnMut(u64, u64)) -> Result<()> {
    let io = |action: &'static str| {
        move |cause| Error::Io {
            action,
            path: temp.to_owned(),
            cause,
        }
    };
    let parquet_error = |cause| Error::Parquet {
        path: temp.to_owned(),
        cause,
    };
    let file = File::create(temp).map_err(io("create"))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let schema = schema();
    let mut writer =
        ArrowWriter::try_new(file, Arc::clone(&schema), Some(props)).map_err(parquet_error)?;
    let total = rows.len() as u64;
    let mut done = 0u64;
    for chunk in rows.chunks(WRITE_BATCH_ROWS) {
        let column = |k: usize| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(
                chunk.iter().map(|(_, v)| v[k]),
            ))
        };
        let ts = TimestampNanosecondArray::from_iter_values(chunk.iter().map(|(ts, _)| *ts))
            .with_timezone("UTC");
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(ts),
                column(0),
                column(1),
                column(2),
                column(3),
                column(4),
            ],
        )
        .map_err(|cause| Error::Arrow {
            path: temp.to_owned(),
            cause,
        })?;
        writer.write(&batch).map_err(parquet_error)?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all().map_err(io("sync"))?;
    Ok(())
}
