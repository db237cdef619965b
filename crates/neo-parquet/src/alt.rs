//! Alternative data (news, funding rates, on-chain figures) as hive-style Parquet
//! part files, `<root>/alt/source=<s>/date=<YYYY-MM-DD>/part-<first ts>-<seq>.parquet`,
//! with columns `ts`, `received` (timestamp[ns, UTC]), `kind` and `payload`
//! (utf8, JSON text). The source is the folder's `source=` value, not a column:
//! a column named like a partition key makes `pandas.read_parquet(<root>/alt)`
//! fail ("incompatible types: string vs dictionary").
//!
//! This file also holds the part-file plumbing the tick sink shares: token
//! checks, the temporary-file-then-link write, and partition listing and reading.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, PrimitiveArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use chrono::NaiveDate;
use neo_domain::{Fixed, Price, Quantity, Rounding, Timestamp};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::sink::{DAY_NANOS, ts_array, ts_field};
use crate::{Error, Result};

/// The alternative-data dataset's folder under the root.
pub const ALT_DIR: &str = "alt";

/// One alternative-data event (a headline, a funding rate, an on-chain figure),
/// kept as the JSON the source gave so new sources need no schema change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AltEvent {
    /// Who published it (`cryptopanic`, `binance_funding`, ...): a folder name.
    pub source: String,
    /// What it is (`headline`, `funding_rate`, ...).
    pub kind: String,
    /// When it happened, by the source's clock.
    pub ts_event: Timestamp,
    /// When NEO received it (to measure and replay the delay).
    pub received: Timestamp,
    /// The event itself, as JSON text.
    pub payload: String,
}

/// Writes `events` as one part file per (source, UTC date of `ts_event`), rows
/// sorted by time, and returns the files. Every `source` and `kind` is checked
/// before anything is written; on a write error the files already written stay
/// (each is complete).
pub fn write_alt(root: &Path, events: &[AltEvent]) -> Result<Vec<PathBuf>> {
    for e in events {
        check_token("source", &e.source)?;
        check_token("kind", &e.kind)?;
    }
    let mut groups: BTreeMap<(&str, i64), Vec<&AltEvent>> = BTreeMap::new();
    for e in events {
        let day = e.ts_event.as_nanos().div_euclid(DAY_NANOS);
        groups.entry((&e.source, day)).or_default().push(e);
    }
    let mut paths = Vec::with_capacity(groups.len());
    for ((source, day), mut group) in groups {
        group.sort_by_key(|e| e.ts_event);
        let date = Timestamp::from_nanos(day.saturating_mul(DAY_NANOS)).to_datetime();
        let dir = root
            .join(ALT_DIR)
            .join(format!("source={source}"))
            .join(format!("date={}", date.format("%Y-%m-%d")));
        let schema = Arc::new(Schema::new(vec![
            ts_field("ts"),
            ts_field("received"),
            Field::new("kind", DataType::Utf8, false),
            Field::new("payload", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                ts_array(group.iter().map(|e| e.ts_event.as_nanos()).collect()),
                ts_array(group.iter().map(|e| e.received.as_nanos()).collect()),
                Arc::new(StringArray::from_iter_values(group.iter().map(|e| &e.kind))),
                Arc::new(StringArray::from_iter_values(
                    group.iter().map(|e| &e.payload),
                )),
            ],
        )
        .map_err(|cause| Error::Arrow {
            path: dir.clone(),
            cause,
        })?;
        let first = group.first().map_or(0, |e| e.ts_event.as_nanos());
        paths.push(write_part(&dir, first, 0, &batch)?.0);
    }
    Ok(paths)
}

/// The first `limit` events of `source` with `from <= ts_event < to`, sorted by
/// time; only the date folders that can overlap the range are opened, earliest
/// first, and reading stops once `limit` events are certain.
pub fn read_alt(
    root: &Path,
    source: &str,
    from: Timestamp,
    to: Timestamp,
    limit: usize,
) -> Result<Vec<AltEvent>> {
    check_token("source", source)?;
    let base = root.join(ALT_DIR).join(format!("source={source}"));
    let mut days: Vec<(i64, PathBuf)> = list_dirs(&base, "date")?
        .into_iter()
        .filter_map(|(date, dir)| Some((day_start(&date)?, dir)))
        .filter(|&(day, _)| day < to.as_nanos() && day.saturating_add(DAY_NANOS) > from.as_nanos())
        .collect();
    days.sort_by_key(|&(day, _)| day);
    let mut out = Vec::new();
    for (_, dir) in days {
        if out.len() >= limit {
            break;
        }
        let mut day = Vec::new();
        for path in list_parts(&dir)? {
            read_batches(&path, |col| {
                let (ts, received) = (col.ts("ts")?, col.ts("received")?);
                let (kind, payload) = (col.text("kind")?, col.text("payload")?);
                for i in 0..col.batch.num_rows() {
                    let ts_event = Timestamp::from_nanos(ts.value(i));
                    if ts_event >= from && ts_event < to {
                        day.push(AltEvent {
                            source: source.to_owned(),
                            kind: kind.value(i).to_owned(),
                            ts_event,
                            received: Timestamp::from_nanos(received.value(i)),
                            payload: payload.value(i).to_owned(),
                        });
                    }
                }
                Ok(())
            })?;
        }
        day.sort_by_key(|e| e.ts_event);
        out.extend(day);
    }
    out.truncate(limit);
    Ok(out)
}

// ---- Part-file plumbing shared with the tick sink ----

/// Refuses what cannot safely name a folder: 1 to 64 ASCII letters, digits,
/// `_` or `-` (so no `..`, `/` or `=`).
pub(crate) fn check_token(what: &'static str, value: &str) -> Result<()> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidToken {
            what,
            value: value.chars().take(64).collect(),
        })
    }
}

pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |cause| Error::Io {
        action,
        path,
        cause,
    }
}

/// Writes `batch` as a part file in `dir` (created if missing) named
/// `part-<first_ts>-<seq>.parquet` with the first free `seq` from `seq`: to a
/// hidden temporary file, synced, then hard-linked into place (which never
/// replaces a file) and the temporary name removed. Returns the path and `seq` used.
pub(crate) fn write_part(
    dir: &Path,
    first_ts: i64,
    mut seq: u64,
    batch: &RecordBatch,
) -> Result<(PathBuf, u64)> {
    static TEMP: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    let n = TEMP.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".part-{first_ts}-{}-{n}.tmp", std::process::id()));
    let result = write_file(&temp, batch).and_then(|()| {
        loop {
            let path = dir.join(format!("part-{first_ts}-{seq}.parquet"));
            match std::fs::hard_link(&temp, &path) {
                Ok(()) => break Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => seq += 1,
                // No hard links on this file system: rename, which is atomic too.
                Err(_) if !path.exists() => {
                    break std::fs::rename(&temp, &path)
                        .map(|()| path.clone())
                        .map_err(io("rename into place", &path));
                }
                Err(e) => break Err(io("link into place", &path)(e)),
            }
        }
    });
    let _ = std::fs::remove_file(&temp);
    let path = result?;
    // Make the new name durable (directories cannot be synced on every OS).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok((path, seq))
}

fn write_file(temp: &Path, batch: &RecordBatch) -> Result<()> {
    let parquet_error = |cause| Error::Parquet {
        path: temp.to_owned(),
        cause,
    };
    let file = File::create(temp).map_err(io("create", temp))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        // Times are nearly all distinct: a dictionary only costs time there.
        .set_column_dictionary_enabled(ColumnPath::from("ts"), false)
        .build();
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(parquet_error)?;
    writer.write(batch).map_err(parquet_error)?;
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all().map_err(io("sync", temp))
}

/// Removes every `*.tmp` file under `dir` (recursively); returns how many.
pub(crate) fn remove_temp_files(dir: &Path) -> Result<usize> {
    let mut removed = 0;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io("list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io("list", dir))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(io("inspect", &path))?;
        if kind.is_dir() {
            removed += remove_temp_files(&path)?;
        } else if path.extension().is_some_and(|e| e == "tmp") {
            std::fs::remove_file(&path).map_err(io("remove", &path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The `key=value` sub-folders of `dir` as (value, path), sorted by value (every
/// sub-folder, named as is, when `key` is empty); none when `dir` is missing.
pub(crate) fn list_dirs(dir: &Path, key: &str) -> Result<Vec<(String, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("list", dir))?;
        let path = entry.path();
        if !entry.file_type().map_err(io("inspect", &path))?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let value = if key.is_empty() {
            Some(name.as_str())
        } else {
            name.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
        };
        if let Some(value) = value {
            out.push((value.to_owned(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// The finished part files in `dir` (`*.parquet` not hidden), sorted by name.
pub(crate) fn list_parts(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("list", dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("list", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".parquet") && !name.starts_with(['.', '_']) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Midnight UTC of a `YYYY-MM-DD` folder value, in nanoseconds.
pub(crate) fn day_start(date: &str) -> Option<i64> {
    NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)?
        .and_utc()
        .timestamp_nanos_opt()
}

/// One decoded batch of a part file, with what names a bad row.
pub(crate) struct Columns<'a> {
    pub(crate) batch: &'a RecordBatch,
    path: &'a Path,
    /// Rows of the file before this batch.
    offset: usize,
}

impl<'a> Columns<'a> {
    fn column(&self, name: &str, nullable: bool) -> Result<&'a dyn Array> {
        let column = self
            .batch
            .column_by_name(name)
            .ok_or_else(|| Error::MissingColumn {
                path: self.path.to_owned(),
                wanted: format!("{name:?}"),
                found: self
                    .batch
                    .schema_ref()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect(),
            })?;
        if !nullable && column.null_count() > 0 {
            return Err(Error::Damaged {
                path: self.path.to_owned(),
                detail: format!("column {name:?} has nulls"),
            });
        }
        Ok(column.as_ref())
    }

    fn unsupported(&self, name: &str, expected: &'static str) -> Error {
        Error::UnsupportedType {
            path: self.path.to_owned(),
            column: name.to_owned(),
            data_type: self
                .batch
                .column_by_name(name)
                .map(|c| c.data_type().to_string())
                .unwrap_or_default(),
            expected,
        }
    }

    /// A timestamp[ns] column without nulls.
    pub(crate) fn ts(&self, name: &str) -> Result<&'a PrimitiveArray<TimestampNanosecondType>> {
        self.column(name, false)?
            .as_primitive_opt()
            .ok_or_else(|| self.unsupported(name, "timestamp[ns]"))
    }

    /// A Float64 column (nulls only when `nullable`).
    pub(crate) fn f64(
        &self,
        name: &str,
        nullable: bool,
    ) -> Result<&'a PrimitiveArray<Float64Type>> {
        self.column(name, nullable)?
            .as_primitive_opt()
            .ok_or_else(|| self.unsupported(name, "float64"))
    }

    /// A utf8 column without nulls.
    pub(crate) fn text(&self, name: &str) -> Result<&'a StringArray> {
        self.column(name, false)?
            .as_string_opt()
            .ok_or_else(|| self.unsupported(name, "utf8"))
    }

    /// The error for row `row` of this batch.
    pub(crate) fn damaged(&self, row: usize, what: String) -> Error {
        Error::Damaged {
            path: self.path.to_owned(),
            detail: format!("row {}: {what}", self.offset + row + 1),
        }
    }

    /// A stored Float64 back as a price.
    pub(crate) fn price(&self, value: f64, row: usize) -> Result<Price> {
        Fixed::from_f64(value, Rounding::HalfEven)
            .ok()
            .and_then(|v| Price::new(v).ok())
            .ok_or_else(|| self.damaged(row, format!("{value} is not a price")))
    }

    /// A stored Float64 back as a quantity.
    pub(crate) fn quantity(&self, value: f64, row: usize) -> Result<Quantity> {
        Fixed::from_f64(value, Rounding::HalfEven)
            .ok()
            .and_then(|v| Quantity::new(v).ok())
            .ok_or_else(|| self.damaged(row, format!("{value} is not a quantity")))
    }
}

/// Calls `each` with every batch of the Parquet file at `path`.
pub(crate) fn read_batches(
    path: &Path,
    mut each: impl FnMut(&Columns<'_>) -> Result<()>,
) -> Result<()> {
    let file = File::open(path).map_err(io("open", path))?;
    let parquet_error = |cause| Error::Parquet {
        path: path.to_owned(),
        cause,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet_error)?
        .with_batch_size(65_536)
        .build()
        .map_err(parquet_error)?;
    let mut offset = 0;
    for batch in reader {
        let batch = batch.map_err(|cause| Error::Arrow {
            path: path.to_owned(),
            cause,
        })?;
        each(&Columns {
            batch: &batch,
            path,
            offset,
        })?;
        offset += batch.num_rows();
    }
    Ok(())
}
