//! Reading an OHLCV Parquet file: columns found by name in any letter case, the
//! usual time and number types converted, and rows with nulls or unreadable times
//! reported by row number while the rest are still read.

use std::fs::File;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Float16Type, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_schema::{DataType, Schema, TimeUnit};
use neo_engine::history::Bar;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;

use crate::time::{parse_time_text, unix_number_nanos};
use crate::{Error, Result};

/// Names (any letter case) a time column may have, in the order they are looked
/// for; `ts` is the store's own, `__index_level_0__` an unnamed pandas index.
pub const TIME_COLUMNS: [&str; 9] = [
    "date",
    "datetime",
    "time",
    "timestamp",
    "open_time",
    "open time",
    "index",
    "ts",
    "__index_level_0__",
];

/// The price columns every file must have, in [`Bar`] order.
pub const PRICE_COLUMNS: [&str; 4] = ["open", "high", "low", "close"];

/// Names (any letter case) the optional volume column may have.
pub const VOLUME_COLUMNS: [&str; 2] = ["volume", "vol"];

/// Bars read, and the rows that could not be, so one report lists every problem.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ohlcv {
    /// Bars in file order; `line` is the 1-based row number.
    pub bars: Vec<Bar>,
    /// One message per row that could not be read, naming the row (`row 7: close is null`).
    pub unreadable: Vec<String>,
}

/// Rows decoded per batch: large enough to be fast, small enough to report progress.
const BATCH_ROWS: usize = 65_536;

const TIME_TYPES: &str = "a timestamp (s, ms, us or ns), date32, date64, \
                          an integer (Unix seconds, ms or ns) or text";
const NUMBER_TYPES: &str = "float16/32/64, an integer or decimal32/64/128";
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// Reads the OHLCV rows of a Parquet file.
pub fn read_ohlcv(path: &Path) -> Result<Ohlcv> {
    read_ohlcv_with(path, &mut |_, _| {})
}

/// Reads the OHLCV rows of a Parquet file, calling `progress(rows_done, rows_total)`
/// after each batch so a caller can draw a progress bar for large files.
pub fn read_ohlcv_with(path: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Ohlcv> {
    let file = File::open(path).map_err(|cause| Error::Io {
        action: "open",
        path: path.to_owned(),
        cause,
    })?;
    let parquet_error = |cause| Error::Parquet {
        path: path.to_owned(),
        cause,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_error)?;
    let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let layout = Layout::find(builder.schema(), path)?;
    // Only the columns used are decoded, so other columns of any type do no harm.
    let mut roots = layout.columns();
    roots.sort_unstable();
    roots.dedup();
    check_compression(&builder, &roots, path)?;
    let position = |column: usize| roots.iter().position(|&c| c == column).unwrap_or(0);
    let (time_at, volume_at) = (position(layout.time), layout.volume.map(position));
    let price_at = layout.prices.map(position);
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(parquet_error)?;

    let mut out = Ohlcv::default();
    let mut row_offset = 0usize;
    for batch in reader {
        let batch = batch.map_err(|cause| Error::Arrow {
            path: path.to_owned(),
            cause,
        })?;
        if batch.num_columns() != roots.len() {
            return Err(Error::MissingColumn {
                path: path.to_owned(),
                wanted: format!("{} decoded columns", roots.len()),
                found: batch
                    .schema_ref()
                    .fields()
                    .iter()
                    .map(|f| f.name().clone())
                    .collect(),
            });
        }
        // Types were checked against the schema up front; stay total anyway.
        let unsupported = |at: usize, expected: &'static str| Error::UnsupportedType {
            path: path.to_owned(),
            column: batch
                .schema_ref()
                .fields()
                .get(at)
                .map(|f| f.name().clone())
                .unwrap_or_default(),
            data_type: batch.column(at).data_type().to_string(),
            expected,
        };
        let times = times(batch.column(time_at).as_ref())
            .ok_or_else(|| unsupported(time_at, TIME_TYPES))?;
        let mut columns = Vec::with_capacity(4);
        for at in price_at {
            columns.push(
                numbers(batch.column(at).as_ref()).ok_or_else(|| unsupported(at, NUMBER_TYPES))?,
            );
        }
        let [open, high, low, close]: [Vec<Option<f64>>; 4] = columns
            .try_into()
            .map_err(|_| unsupported(time_at, NUMBER_TYPES))?;
        let volume = match volume_at {
            Some(at) => Some(
                numbers(batch.column(at).as_ref()).ok_or_else(|| unsupported(at, NUMBER_TYPES))?,
            ),
            None => None,
        };
        for i in 0..batch.num_rows() {
            let row = row_offset + i + 1;
            let nulls: Vec<&str> = PRICE_COLUMNS
                .iter()
                .zip([&open, &high, &low, &close])
                .filter(|(_, col)| col[i].is_none())
                .map(|(name, _)| *name)
                .collect();
            let ts = match &times[i] {
                Err(problem) => {
                    out.unreadable.push(format!("row {row}: {problem}"));
                    continue;
                }
                Ok(ts) => *ts,
            };
            match nulls.as_slice() {
                [] => {}
                [one] => {
                    out.unreadable.push(format!("row {row}: {one} is null"));
                    continue;
                }
                many => {
                    out.unreadable
                        .push(format!("row {row}: {} are null", many.join(", ")));
                    continue;
                }
            }
            let value = |col: &Vec<Option<f64>>| col[i].unwrap_or(f64::NAN);
            out.bars.push(Bar {
                line: row,
                ts: neo_domain::Timestamp::from_nanos(ts),
                open: value(&open),
                high: value(&high),
                low: value(&low),
                close: value(&close),
                // No volume column, or a null volume, reads as 0 like an empty CSV cell.
                volume: volume.as_ref().and_then(|v| v[i]).unwrap_or(0.0),
            });
        }
        row_offset += batch.num_rows();
        progress(row_offset as u64, total.max(row_offset as u64));
    }
    Ok(out)
}

/// Refuses up front a used column compressed with a codec this build leaves out,
/// naming it, rather than failing mid-file with a decoder message.
fn check_compression(
    builder: &ParquetRecordBatchReaderBuilder<File>,
    roots: &[usize],
    path: &Path,
) -> Result<()> {
    let schema = builder.parquet_schema();
    for group in builder.metadata().row_groups() {
        for (leaf, chunk) in group.columns().iter().enumerate() {
            if leaf >= schema.num_columns() || !roots.contains(&schema.get_column_root_idx(leaf)) {
                continue;
            }
            let codec = match chunk.compression() {
                Compression::UNCOMPRESSED | Compression::SNAPPY => continue,
                Compression::GZIP(_) => "gzip".to_owned(),
                Compression::ZSTD(_) => "zstd".to_owned(),
                Compression::BROTLI(_) => "brotli".to_owned(),
                Compression::LZ4 | Compression::LZ4_RAW => "lz4".to_owned(),
                Compression::LZO => "lzo".to_owned(),
            };
            return Err(Error::Compression {
                path: path.to_owned(),
                column: chunk.column_path().string(),
                codec,
            });
        }
    }
    Ok(())
}

/// Where the columns are in the file's schema.
struct Layout {
    time: usize,
    prices: [usize; 4],
    volume: Option<usize>,
}

fn named(schema: &Schema, wanted: &[&str]) -> Option<usize> {
    schema.fields().iter().position(|f| {
        let name = f.name().trim();
        wanted.iter().any(|w| name.eq_ignore_ascii_case(w))
    })
}

fn is_time_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    )
}

fn time_type_ok(t: &DataType) -> bool {
    is_time_type(t)
        || t.is_integer()
        || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn number_type_ok(t: &DataType) -> bool {
    t.is_floating()
        || t.is_integer()
        || matches!(
            t,
            DataType::Decimal32(..)
                | DataType::Decimal64(..)
                | DataType::Decimal128(..)
                | DataType::Null
        )
}

impl Layout {
    fn find(schema: &Schema, path: &Path) -> Result<Self> {
        let found = || {
            schema
                .fields()
                .iter()
                .map(|f| format!("{} ({})", f.name(), f.data_type()))
                .collect::<Vec<_>>()
        };
        // A column named like a time; else the first column typed as one.
        let time = TIME_COLUMNS
            .iter()
            .find_map(|w| named(schema, &[w]))
            .or_else(|| {
                schema
                    .fields()
                    .iter()
                    .position(|f| is_time_type(f.data_type()))
            })
            .ok_or_else(|| Error::MissingColumn {
                path: path.to_owned(),
                wanted: format!(
                    "time column (named one of {}, or typed as a timestamp or date)",
                    TIME_COLUMNS.join(", ")
                ),
                found: found(),
            })?;
        let mut prices = [0usize; 4];
        for (slot, want) in prices.iter_mut().zip(PRICE_COLUMNS) {
            *slot = named(schema, &[want]).ok_or_else(|| Error::MissingColumn {
                path: path.to_owned(),
                wanted: format!("{want:?}"),
                found: found(),
            })?;
        }
        let layout = Layout {
            time,
            prices,
            volume: named(schema, &VOLUME_COLUMNS),
        };
        match layout.bad_type(schema) {
            Some(err) => Err(err.into_error(path)),
            None => Ok(layout),
        }
    }

    fn columns(&self) -> Vec<usize> {
        let mut columns = vec![self.time];
        columns.extend(self.prices);
        columns.extend(self.volume);
        columns
    }

    /// The first column whose type cannot be read, by position in `schema`.
    fn bad_type(&self, schema: &Schema) -> Option<TypeProblem> {
        let field = |i: usize| schema.fields().get(i);
        if let Some(f) = field(self.time)
            && !time_type_ok(f.data_type())
        {
            return Some(TypeProblem::new(f, TIME_TYPES));
        }
        self.prices
            .iter()
            .chain(self.volume.as_ref())
            .filter_map(|&i| field(i))
            .find(|f| !number_type_ok(f.data_type()))
            .map(|f| TypeProblem::new(f, NUMBER_TYPES))
    }
}

struct TypeProblem {
    column: String,
    data_type: String,
    expected: &'static str,
}

impl TypeProblem {
    fn new(field: &arrow_schema::Field, expected: &'static str) -> Self {
        TypeProblem {
            column: field.name().clone(),
            data_type: field.data_type().to_string(),
            expected,
        }
    }

    fn into_error(self, path: &Path) -> Error {
        Error::UnsupportedType {
            path: path.to_owned(),
            column: self.column,
            data_type: self.data_type,
            expected: self.expected,
        }
    }
}

/// A column of numbers as `f64` (nulls as `None`); `None` for a type not read.
fn numbers(col: &dyn Array) -> Option<Vec<Option<f64>>> {
    macro_rules! each {
        ($t:ty, $conv:expr) => {
            col.as_primitive_opt::<$t>()?
                .iter()
                .map(|v| v.map($conv))
                .collect()
        };
    }
    let scale = |s: &i8| 10f64.powi(i32::from(*s));
    #[allow(
        clippy::cast_precision_loss,
        reason = "prices beyond 2^53 lose digits, as in any f64"
    )]
    let values = match col.data_type() {
        DataType::Float64 => each!(Float64Type, |v| v),
        DataType::Float32 => each!(Float32Type, f64::from),
        DataType::Float16 => each!(Float16Type, |v| v.to_f64()),
        DataType::Int8 => each!(Int8Type, f64::from),
        DataType::Int16 => each!(Int16Type, f64::from),
        DataType::Int32 => each!(Int32Type, f64::from),
        DataType::Int64 => each!(Int64Type, |v| v as f64),
        DataType::UInt8 => each!(UInt8Type, f64::from),
        DataType::UInt16 => each!(UInt16Type, f64::from),
        DataType::UInt32 => each!(UInt32Type, f64::from),
        DataType::UInt64 => each!(UInt64Type, |v| v as f64),
        DataType::Decimal32(_, s) => {
            let d = scale(s);
            each!(Decimal32Type, |v| f64::from(v) / d)
        }
        DataType::Decimal64(_, s) => {
            let d = scale(s);
            each!(Decimal64Type, |v| v as f64 / d)
        }
        DataType::Decimal128(_, s) => {
            let d = scale(s);
            each!(Decimal128Type, |v| v as f64 / d)
        }
        DataType::Null => vec![None; col.len()],
        _ => return None,
    };
    Some(values)
}

/// A column of times as UTC nanoseconds, or per row what is wrong; `None` for a
/// type not read.
fn times(col: &dyn Array) -> Option<Vec<Result<i64, String>>> {
    fn scaled(v: i64, factor: i64) -> Result<i64, String> {
        v.checked_mul(factor)
            .ok_or_else(|| format!("time {v} is out of range"))
    }
    fn unix(v: i64) -> Result<i64, String> {
        unix_number_nanos(v).ok_or_else(|| format!("time {v} is out of range"))
    }
    fn text(v: &str) -> Result<i64, String> {
        parse_time_text(v)
            .map(|t| t.as_nanos())
            .ok_or_else(|| format!("cannot read the time {v:?}"))
    }
    let null = || Err("time is null".to_owned());
    macro_rules! each {
        ($t:ty, $conv:expr) => {
            col.as_primitive_opt::<$t>()?
                .iter()
                .map(|v| v.map_or_else(null, $conv))
                .collect()
        };
    }
    macro_rules! strings {
        ($array:expr) => {
            $array.iter().map(|v| v.map_or_else(null, text)).collect()
        };
    }
    let values = match col.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            each!(TimestampSecondType, |v| scaled(v, 1_000_000_000))
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            each!(TimestampMillisecondType, |v| scaled(v, 1_000_000))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            each!(TimestampMicrosecondType, |v| scaled(v, 1_000))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => each!(TimestampNanosecondType, Ok),
        DataType::Date32 => each!(Date32Type, |v| scaled(i64::from(v), NANOS_PER_DAY)),
        DataType::Date64 => each!(Date64Type, |v| scaled(v, 1_000_000)),
        DataType::Int8 => each!(Int8Type, |v| unix(i64::from(v))),
        DataType::Int16 => each!(Int16Type, |v| unix(i64::from(v))),
        DataType::Int32 => each!(Int32Type, |v| unix(i64::from(v))),
        DataType::Int64 => each!(Int64Type, unix),
        DataType::UInt8 => each!(UInt8Type, |v| unix(i64::from(v))),
        DataType::UInt16 => each!(UInt16Type, |v| unix(i64::from(v))),
        DataType::UInt32 => each!(UInt32Type, |v| unix(i64::from(v))),
        DataType::UInt64 => each!(UInt64Type, |v| i64::try_from(v)
            .map_err(|_| format!("time {v} is out of range"))
            .and_then(unix)),
        DataType::Utf8 => strings!(col.as_string_opt::<i32>()?),
        DataType::LargeUtf8 => strings!(col.as_string_opt::<i64>()?),
        DataType::Utf8View => strings!(col.as_string_view_opt()?),
        _ => return None,
    };
    Some(values)
}
