//! Compaction of the tick and trade archive: once an hour is over, the part
//! files its minute flushes wrote become one file per (venue, instrument,
//! hour), so a month of data is a few thousand files, not a hundred thousand.
//!
//! Crash-safe like a flush: the hour's rows are written to a temporary file,
//! synced, and renamed to `hour-<first ts>-<n>.parquet`, whose key-value
//! metadata (`neo.compacted_from`) names the files it replaces; only then are
//! those removed. A crash between the rename and the removals leaves both,
//! and the next pass (one runs when the archive starts) removes the listed
//! leftovers before anything else. A part flushed late into a compacted hour
//! is folded in by the next pass.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use neo_domain::Timestamp;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::alt::{day_start, io, list_dirs, list_parts};
use crate::sink::{ArchiveKind, HOUR_NANOS};
use crate::{Error, Result};

/// The metadata key naming the files a compacted file replaces.
const FROM_KEY: &str = "neo.compacted_from";

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactSummary {
    /// Hours compacted into one file.
    pub hours: usize,
    /// Part files folded in (and removed).
    pub parts: usize,
    /// Rows written.
    pub rows: usize,
    /// Leftovers of an interrupted pass removed.
    pub leftovers: usize,
}

/// Compacts every hour of ticks and trades under `root` that ended at or
/// before `before` and holds more than one file.
pub fn compact(root: &Path, before: Timestamp) -> Result<CompactSummary> {
    let mut summary = CompactSummary::default();
    for kind in [ArchiveKind::Ticks, ArchiveKind::Trades] {
        for (_, venue) in list_dirs(&root.join(kind.dir_name()), "venue")? {
            for (_, instrument) in list_dirs(&venue, "instrument")? {
                for (date, day) in list_dirs(&instrument, "date")? {
                    let Some(start) = day_start(&date) else {
                        continue;
                    };
                    for (hour, dir) in list_dirs(&day, "hour")? {
                        let Some(h) = hour.parse::<i64>().ok().filter(|h| (0..24).contains(h))
                        else {
                            continue;
                        };
                        let end = start.saturating_add((h + 1) * HOUR_NANOS);
                        if end <= before.as_nanos() {
                            compact_hour(&dir, &mut summary)?;
                        }
                    }
                }
            }
        }
    }
    Ok(summary)
}

/// The files a compacted file says it replaces (none for a plain part).
pub(crate) fn replaced_by(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(io("open", path))?;
    let reader = SerializedFileReader::new(file).map_err(|cause| Error::Parquet {
        path: path.to_owned(),
        cause,
    })?;
    let from = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|e| e.key == FROM_KEY))
        .and_then(|e| e.value.clone())
        .unwrap_or_default();
    Ok(from
        .split(',')
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect())
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes what an interrupted pass left: files a compacted file already holds.
fn finish_interrupted(dir: &Path, files: &[PathBuf], summary: &mut CompactSummary) -> Result<()> {
    for path in files.iter().filter(|p| name_of(p).starts_with("hour-")) {
        for name in replaced_by(path)? {
            let leftover = dir.join(&name);
            if leftover != *path && leftover.exists() {
                std::fs::remove_file(&leftover).map_err(io("remove", &leftover))?;
                summary.leftovers += 1;
            }
        }
    }
    Ok(())
}

fn compact_hour(dir: &Path, summary: &mut CompactSummary) -> Result<()> {
    finish_interrupted(dir, &list_parts(dir)?, summary)?;
    let files = list_parts(dir)?;
    if files.len() < 2 {
        return Ok(());
    }
    let mut batches: Vec<RecordBatch> = Vec::new();
    for path in &files {
        let file = File::open(path).map_err(io("open", path))?;
        let parquet_error = |cause| Error::Parquet {
            path: path.clone(),
            cause,
        };
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(parquet_error)?
            .build()
            .map_err(parquet_error)?;
        for batch in reader {
            batches.push(batch.map_err(|cause| Error::Arrow {
                path: path.clone(),
                cause,
            })?);
        }
    }
    let names: Vec<String> = files.iter().map(|p| name_of(p)).collect();
    write_hour(dir, &names, &batches)?;
    for old in &files {
        std::fs::remove_file(old).map_err(io("remove", old))?;
    }
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    summary.hours += 1;
    summary.parts += files.len();
    summary.rows += batches.iter().map(RecordBatch::num_rows).sum::<usize>();
    Ok(())
}

/// Writes `batches` (one schema) as the hour's file, naming `from` in its metadata.
fn write_hour(dir: &Path, from: &[String], batches: &[RecordBatch]) -> Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let Some(schema) = batches.first().map(RecordBatch::schema) else {
        return Err(Error::Damaged {
            path: dir.to_owned(),
            detail: "an hour's part files hold no rows".to_owned(),
        });
    };
    let first = from
        .iter()
        .filter_map(|n| n.split('-').nth(1))
        .filter_map(|t| t.parse::<i64>().ok())
        .min()
        .unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".hour-{first}-{}-{n}.tmp", std::process::id()));
    let parquet_error = |cause| Error::Parquet {
        path: temp.clone(),
        cause,
    };
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            FROM_KEY.to_owned(),
            from.join(","),
        )]))
        .build();
    let file = File::create(&temp).map_err(io("create", &temp))?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet_error)?;
    for batch in batches {
        writer.write(batch).map_err(parquet_error)?;
    }
    let file = writer.into_inner().map_err(parquet_error)?;
    file.sync_all().map_err(io("sync", &temp))?;
    let mut seq = n;
    let path = loop {
        let path = dir.join(format!("hour-{first}-{seq}.parquet"));
        if !path.exists() {
            break path;
        }
        seq += 1;
    };
    std::fs::rename(&temp, &path).map_err(io("rename into place", &path))?;
    Ok(path)
}
