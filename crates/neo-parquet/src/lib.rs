//! NEO's Parquet edge, kept in a leaf crate so parquet's build time and the
//! features it turns on stay out of the rest of the workspace.
//!
//! - [`read_ohlcv`]: an OHLCV Parquet file (pandas, pyarrow, polars, duckdb, ...)
//!   into the core's history [`Bar`]s, with every unreadable row named, like the
//!   CSV loader, so one report lists every problem.
//! - The historical store: hive-style partitions
//!   `<root>/instrument=<ID>/timeframe=<TF>/data.parquet` that other tools read
//!   as one dataset ([`merge_into_partition`], [`read_partition`]).
//! - The tick sink ([`TickArchive`]): every tick and trade a feed sees, buffered
//!   per venue, instrument and UTC hour and written as complete Parquet part
//!   files under `<root>/ticks` and `<root>/trades`; read back with
//!   [`read_ticks`] and [`read_trades`], aged out with [`prune`].
//! - Alternative data ([`AltEvent`]: news, funding rates, on-chain figures) under
//!   `<root>/alt/source=<s>/date=<YYYY-MM-DD>` ([`write_alt`], [`read_alt`]).
//!
//! [`Bar`]: neo_engine::history::Bar

mod alt;
mod compact;
mod csv;
mod history;
mod read;
mod sink;
mod store;
mod table;
mod time;

#[cfg(test)]
mod sink_tests;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use alt::{ALT_DIR, AltEvent, read_alt, write_alt};
pub use compact::{CompactSummary, compact};
pub use csv::{is_parquet, parse_ohlcv_csv, read_ohlcv_file, read_ohlcv_file_with, split_csv_line};
pub use history::{History, HistoryError, read_history, resample, stored_timeframes};
pub use read::{Ohlcv, PRICE_COLUMNS, TIME_COLUMNS, VOLUME_COLUMNS, read_ohlcv, read_ohlcv_with};
pub use sink::{
    ArchiveConfig, ArchiveKind, FlushSummary, TickArchive, TradeRow, count_rows, prune, read_ticks,
    read_trades,
};
pub use store::{
    MergeSummary, PARTITION_FILE, Timeframe, merge_into_partition, partition_path, read_partition,
};
pub use table::{Column, Values, write_table};
pub use time::{parse_time_text, unix_number_nanos};

/// Why a Parquet file could not be read or the store not written, naming the file
/// so the message stands on its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operating system refused (missing file, permissions, full disk, ...).
    #[error("cannot {action} {}: {cause}", path.display())]
    Io {
        /// What was being done: "open", "write", "rename", ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause (in the message, so it shows however the error is printed).
        cause: std::io::Error,
    },
    /// Not Parquet, damaged, or using something this build cannot decode
    /// (compression other than Snappy, for one).
    #[error("{}: cannot read as Parquet: {cause}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, so it shows however the error is printed).
        cause: parquet::errors::ParquetError,
    },
    /// Decoding a batch of rows failed.
    #[error("{}: cannot decode rows: {cause}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, so it shows however the error is printed).
        cause: arrow_schema::ArrowError,
    },
    /// The file is compressed with a codec this build does not decode.
    #[error(
        "{}: column {column:?} is compressed with {codec}; this build reads Snappy-compressed or uncompressed Parquet (rewrite it with compression=\"snappy\")",
        path.display()
    )]
    Compression {
        /// The file.
        path: PathBuf,
        /// The first column found so compressed.
        column: String,
        /// The codec.
        codec: String,
    },
    /// A required column is absent.
    #[error("{}: no {wanted} column (columns: {})", path.display(), found.join(", "))]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// What was looked for, in words.
        wanted: String,
        /// The columns the file has.
        found: Vec<String>,
    },
    /// A column's type cannot be read as what it must hold.
    #[error("{}: column {column:?} is {data_type}; expected {expected}", path.display())]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
        /// The types accepted, in words.
        expected: &'static str,
    },
    /// A CSV file that cannot be read as OHLCV at all (no usable header, empty, not text).
    #[error("{}: {problem}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong with it as a whole.
        problem: String,
    },
    /// The timeframe is not a count and a unit NEO can step by.
    #[error(
        "invalid timeframe {0:?}: expected a whole number without leading zeros and one of s, m, h, d (e.g. 1m, 15m, 4h, 1d)"
    )]
    InvalidTimeframe(String),
    /// A venue, source or kind that cannot name a folder of the archive.
    #[error("invalid {what} {value:?}: expected 1 to 64 ASCII letters, digits, '_' or '-'")]
    InvalidToken {
        /// Which name: "venue", "source" or "kind".
        what: &'static str,
        /// What was given (at most 64 characters of it).
        value: String,
    },
    /// Nothing has been stored for this instrument and timeframe yet.
    #[error("no stored data at {}", path.display())]
    NoPartition {
        /// Where the partition would be.
        path: PathBuf,
    },
    /// A stored partition has rows that do not read back (written by something else,
    /// or damaged).
    #[error("{}: stored partition is damaged: {detail}", path.display())]
    Damaged {
        /// The partition file.
        path: PathBuf,
        /// The first problem.
        detail: String,
    },
}

/// What this crate's fallible functions return.
pub type Result<T, E = Error> = std::result::Result<T, E>;
