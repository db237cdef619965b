//! A table of one `ts` column (timestamp[ns, UTC]) and Float64 columns, to any
//! writer: what `neo data export` and `neo data features` write, in the same
//! shape as the store's files (Snappy, so pandas, pyarrow, DuckDB and Polars
//! read them like the store).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::sink::{ts_array, ts_field};
use crate::{Error, Result};

/// One Float64 column's values.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    /// A value in every row (the schema says not null).
    Required(&'a [f64]),
    /// `None` is null.
    Nullable(&'a [Option<f64>]),
}

/// One named Float64 column.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    /// Its name in the file's schema.
    pub name: &'a str,
    /// One value per row.
    pub values: Values<'a>,
}

/// Writes `ts` (nanoseconds since the epoch, UTC) and `columns` as one Parquet
/// file to `out`; `path` names it in errors.
pub fn write_table<W: Write + Send>(
    out: W,
    path: &Path,
    times: &[i64],
    columns: &[Column<'_>],
) -> Result<()> {
    let mut fields = vec![ts_field("ts")];
    fields.extend(columns.iter().map(|c| {
        let nullable = matches!(c.values, Values::Nullable(_));
        Field::new(c.name, DataType::Float64, nullable)
    }));
    let schema = Arc::new(Schema::new(fields));
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let arrow = |cause| Error::Arrow {
        path: path.to_owned(),
        cause,
    };
    let mut arrays: Vec<ArrayRef> = vec![ts_array(times.to_vec())];
    for c in columns {
        arrays.push(match c.values {
            Values::Required(v) => Arc::new(Float64Array::from(v.to_vec())),
            Values::Nullable(v) => Arc::new(Float64Array::from(v.to_vec())),
        });
    }
    let batch = RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(arrow)?;
    let parquet = |cause| Error::Parquet {
        path: path.to_owned(),
        cause,
    };
    let mut writer = ArrowWriter::try_new(out, schema, Some(props)).map_err(parquet)?;
    writer.write(&batch).map_err(parquet)?;
    writer.close().map_err(parquet)?;
    Ok(())
}
