//! A small Parquet writer for the tables `neo data export` and `neo data features`
//! write: one `ts` column (INT64, TIMESTAMP(NANOS, UTC)) and Float64 columns, required
//! or nullable, PLAIN-encoded and uncompressed, one data page per column chunk.
//!
//! Why not the `parquet` crate: the `neo` binary reaches Parquet only through
//! `neo-parquet` (a leaf crate that keeps parquet's build cost in one place) and that
//! crate writes the store's fixed schema only. The format written here is the
//! baseline every reader supports (pyarrow, pandas, polars, duckdb, parquet-rs); the
//! file metadata is Thrift's compact protocol, written field by field below.

use std::io::{self, Write};

/// Rows per row group, so a reader can stream a large file a group at a time.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// Parquet's physical types used here.
const INT64: i32 = 2;
const DOUBLE: i32 = 5;
/// Field repetition: a value in every row, or possibly null.
const REQUIRED: i32 = 0;
const OPTIONAL: i32 = 1;
/// Encodings: plain values, run-length encoded definition levels.
const PLAIN: i32 = 0;
const RLE: i32 = 3;

/// Thrift compact protocol field types.
const T_TRUE: u8 = 1;
const T_I32: u8 = 5;
const T_I64: u8 = 6;
const T_BINARY: u8 = 8;
const T_LIST: u8 = 9;
const T_STRUCT: u8 = 12;

/// The values of one Float64 column, so the writer knows whether it may hold nulls.
pub(crate) enum Values<'a> {
    /// A value in every row (schema: required double).
    Required(&'a [f64]),
    /// `None` is written as null (schema: optional double).
    Nullable(&'a [Option<f64>]),
}

/// One named Float64 column of the table being written.
pub(crate) struct Column<'a> {
    /// The column's name in the file's schema.
    pub(crate) name: &'a str,
    /// Its values, one per row.
    pub(crate) values: Values<'a>,
}

/// Thrift compact protocol output: fields are written with their ids relative to the
/// previous field of the same struct, so the writer keeps one last id per open struct.
struct Thrift {
    buf: Vec<u8>,
    last: Vec<i16>,
}

impl Thrift {
    /// An empty buffer, at the top-level struct.
    fn new() -> Self {
        Thrift {
            buf: Vec::new(),
            last: vec![0],
        }
    }

    /// An unsigned LEB128 varint.
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A signed integer, zigzag-encoded then as a varint.
    fn zigzag(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A field header: the id as a delta from the previous field when it fits.
    fn field(&mut self, id: i16, kind: u8) {
        let last = self.last.last().copied().unwrap_or(0);
        match id - last {
            delta @ 1..=15 => self.buf.push(((delta as u8) << 4) | kind),
            _ => {
                self.buf.push(kind);
                self.zigzag(i64::from(id));
            }
        }
        if let Some(slot) = self.last.last_mut() {
            *slot = id;
        }
    }

    /// An i32 field (Parquet enums are i32 fields too).
    fn i32(&mut self, id: i16, v: i32) {
        self.field(id, T_I32);
        self.zigzag(i64::from(v));
    }

    /// An i64 field.
    fn i64(&mut self, id: i16, v: i64) {
        self.field(id, T_I64);
        self.zigzag(v);
    }

    /// A string field, length first.
    fn string(&mut self, id: i16, s: &str) {
        self.field(id, T_BINARY);
        self.varint(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// A `true` boolean field (the value is in the field header).
    fn flag(&mut self, id: i16) {
        self.field(id, T_TRUE);
    }

    /// A list field's header: its element type and length; the elements follow.
    fn list(&mut self, id: i16, kind: u8, len: usize) {
        self.field(id, T_LIST);
        if len < 15 {
            self.buf.push(((len as u8) << 4) | kind);
        } else {
            self.buf.push(0xF0 | kind);
            self.varint(len as u64);
        }
    }

    /// Opens a struct: a field of one, or (`id` `None`) an element of a list of them.
    fn open(&mut self, id: Option<i16>) {
        if let Some(id) = id {
            self.field(id, T_STRUCT);
        }
        self.last.push(0);
    }

    /// Closes the struct opened last (or the top-level one) with its stop byte.
    fn close(&mut self) {
        self.buf.push(0);
        self.last.pop();
    }
}

/// Where one column chunk landed, for the footer.
struct Chunk {
    physical: i32,
    name: String,
    nullable: bool,
    offset: u64,
    size: u64,
    values: usize,
}

/// Counts what is written so chunks know their file offsets.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    /// Writes `bytes` and counts them.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// Writes a Parquet file of `times` (UTC nanoseconds, column `ts`) and `columns`
/// (each as long as `times`) to `out`; an error names the column of the wrong length.
pub(crate) fn write(out: impl Write, times: &[i64], columns: &[Column<'_>]) -> io::Result<()> {
    for c in columns {
        let len = match c.values {
            Values::Required(v) => v.len(),
            Values::Nullable(v) => v.len(),
        };
        if len != times.len() {
            return Err(io::Error::other(format!(
                "column {:?} has {len} values for {} rows",
                c.name,
                times.len()
            )));
        }
    }
    let mut out = Counting {
        inner: out,
        written: 0,
    };
    out.put(b"PAR1")?;
    let mut groups = Vec::new();
    let mut start = 0;
    while start < times.len() {
        let end = (start + ROW_GROUP_ROWS).min(times.len());
        let mut chunks = Vec::with_capacity(columns.len() + 1);
        let ts = plain_i64(&times[start..end]);
        chunks.push(put_chunk(&mut out, "ts", INT64, None, &ts, end - start)?);
        for c in columns {
            let (levels, data) = match c.values {
                Values::Required(v) => (None, plain_f64(v[start..end].iter().copied())),
                Values::Nullable(v) => {
                    let part = &v[start..end];
                    let data = plain_f64(part.iter().flatten().copied());
                    (Some(definition_levels(part)), data)
                }
            };
            let chunk = put_chunk(&mut out, c.name, DOUBLE, levels, &data, end - start)?;
            chunks.push(chunk);
        }
        groups.push((end - start, chunks));
        start = end;
    }
    let footer = footer(times.len(), columns, &groups);
    out.put(&footer)?;
    out.put(&(footer.len() as u32).to_le_bytes())?;
    out.put(b"PAR1")?;
    out.inner.flush()
}

/// PLAIN encoding of INT64: little-endian, back to back.
fn plain_i64(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// PLAIN encoding of DOUBLE: little-endian IEEE 754, back to back (nulls left out).
fn plain_f64(values: impl Iterator<Item = f64>) -> Vec<u8> {
    values.flat_map(f64::to_le_bytes).collect()
}

/// The definition levels of a nullable column (1 present, 0 null) in the RLE hybrid
/// encoding at bit width 1, one run per stretch of equal levels, with the 4-byte
/// length prefix a version 1 data page carries.
fn definition_levels(values: &[Option<f64>]) -> Vec<u8> {
    let mut runs = Thrift::new();
    let mut i = 0;
    while let Some(first) = values.get(i) {
        let present = first.is_some();
        let len = values[i..]
            .iter()
            .take_while(|v| v.is_some() == present)
            .count();
        runs.varint((len as u64) << 1);
        runs.buf.push(u8::from(present));
        i += len;
    }
    let mut out = (runs.buf.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&runs.buf);
    out
}

/// Writes one column chunk (a page header and one data page) and says where it is.
fn put_chunk<W: Write>(
    out: &mut Counting<W>,
    name: &str,
    physical: i32,
    levels: Option<Vec<u8>>,
    data: &[u8],
    rows: usize,
) -> io::Result<Chunk> {
    let nullable = levels.is_some();
    let levels = levels.unwrap_or_default();
    let page_size = levels.len() + data.len();
    let too_big = || io::Error::other(format!("column {name:?}: a page over 2 GiB"));
    let page_size = i32::try_from(page_size).map_err(|_| too_big())?;
    let rows_i32 = i32::try_from(rows).map_err(|_| too_big())?;
    let mut header = Thrift::new();
    header.i32(1, 0); // type: DATA_PAGE
    header.i32(2, page_size); // uncompressed_page_size
    header.i32(3, page_size); // compressed_page_size
    header.open(Some(5)); // data_page_header
    header.i32(1, rows_i32); // num_values, nulls included
    header.i32(2, PLAIN); // encoding
    header.i32(3, RLE); // definition_level_encoding
    header.i32(4, RLE); // repetition_level_encoding
    header.close();
    header.close();
    let offset = out.written;
    out.put(&header.buf)?;
    out.put(&levels)?;
    out.put(data)?;
    Ok(Chunk {
        physical,
        name: name.to_owned(),
        nullable,
        offset,
        size: out.written - offset,
        values: rows,
    })
}

/// The file metadata (Thrift `FileMetaData`): the schema, then every row group's
/// column chunks.
fn footer(rows: usize, columns: &[Column<'_>], groups: &[(usize, Vec<Chunk>)]) -> Vec<u8> {
    let mut t = Thrift::new();
    t.i32(1, 1); // version
    t.list(2, T_STRUCT, columns.len() + 2); // schema: the root, ts, then the columns
    t.open(None);
    t.string(4, "schema");
    t.i32(5, (columns.len() + 1) as i32); // num_children
    t.close();
    t.open(None);
    t.i32(1, INT64);
    t.i32(3, REQUIRED);
    t.string(4, "ts");
    t.open(Some(10)); // logicalType
    t.open(Some(8)); // TIMESTAMP
    t.flag(1); // isAdjustedToUTC
    t.open(Some(2)); // unit
    t.open(Some(3)); // NANOS
    t.close();
    t.close();
    t.close();
    t.close();
    t.close();
    for c in columns {
        t.open(None);
        t.i32(1, DOUBLE);
        let nullable = matches!(c.values, Values::Nullable(_));
        t.i32(3, if nullable { OPTIONAL } else { REQUIRED });
        t.string(4, c.name);
        t.close();
    }
    t.i64(3, rows as i64); // num_rows
    t.list(4, T_STRUCT, groups.len()); // row_groups
    for (group_rows, chunks) in groups {
        row_group(&mut t, *group_rows, chunks);
    }
    t.string(6, concat!("neo version ", env!("CARGO_PKG_VERSION")));
    t.close();
    t.buf
}

/// One Thrift `RowGroup`, an element of the footer's list.
fn row_group(t: &mut Thrift, rows: usize, chunks: &[Chunk]) {
    t.open(None);
    t.list(1, T_STRUCT, chunks.len()); // columns
    for c in chunks {
        t.open(None);
        t.i64(2, c.offset as i64); // file_offset
        t.open(Some(3)); // meta_data
        t.i32(1, c.physical);
        let encodings: &[i32] = if c.nullable { &[PLAIN, RLE] } else { &[PLAIN] };
        t.list(2, T_I32, encodings.len());
        for &e in encodings {
            t.zigzag(i64::from(e));
        }
        t.list(3, T_BINARY, 1); // path_in_schema
        t.varint(c.name.len() as u64);
        t.buf.extend_from_slice(c.name.as_bytes());
        t.i32(4, 0); // codec: UNCOMPRESSED
        t.i64(5, c.values as i64);
        t.i64(6, c.size as i64); // total_uncompressed_size, page header included
        t.i64(7, c.size as i64); // total_compressed_size
        t.i64(9, c.offset as i64); // data_page_offset
        t.close();
        t.close();
    }
    let bytes: u64 = chunks.iter().map(|c| c.size).sum();
    t.i64(2, bytes as i64); // total_byte_size
    t.i64(3, rows as i64); // num_rows
    t.close();
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use arrow_array::{Array, Float64Array, RecordBatch, TimestampNanosecondArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    /// Writes a file and reads it back with parquet-rs (small files: one batch).
    fn round_trip(name: &str, times: &[i64], columns: &[Column<'_>]) -> RecordBatch {
        let path = std::env::temp_dir().join(format!(
            "neo-parquet-writer-{}-{name}.parquet",
            std::process::id()
        ));
        write(std::fs::File::create(&path).unwrap(), times, columns).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let schema = builder.schema().clone();
        let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        std::fs::remove_file(&path).unwrap();
        assert!(batches.len() <= 1, "small files read as one batch");
        batches
            .into_iter()
            .next()
            .unwrap_or_else(|| RecordBatch::new_empty(schema))
    }

    #[test]
    fn compact_protocol_matches_the_specification() {
        let mut t = Thrift::new();
        t.i32(1, -1); // delta 1, i32, zigzag(-1) = 1
        t.i64(20, 300); // delta 19: long form, id zigzag 40, zigzag(300) = 600
        t.string(21, "ab");
        t.list(22, T_I32, 20);
        t.close();
        assert_eq!(
            t.buf,
            [
                0x15, 0x01, 0x06, 0x28, 0xD8, 0x04, 0x18, 0x02, b'a', b'b', 0x19, 0xF5, 0x14, 0x00
            ]
        );
        let levels = definition_levels(&[Some(1.0), None, None, Some(2.0), Some(3.0)]);
        assert_eq!(levels, [6, 0, 0, 0, 0x02, 1, 0x04, 0, 0x04, 1]);
    }

    #[test]
    fn parquet_rs_reads_back_every_value_and_null() {
        let n = 40usize;
        let times: Vec<i64> = (0..n as i64)
            .map(|i| 1_700_000_000_000_000_000 + i)
            .collect();
        let closes: Vec<f64> = (0..n).map(|i| i as f64 * 0.5).collect();
        let sparse: Vec<Option<f64>> = (0..n)
            .map(|i| (i % 3 != 0 && i > 4).then_some(i as f64))
            .collect();
        let columns = [
            Column {
                name: "close",
                values: Values::Required(&closes),
            },
            Column {
                name: "sma_2",
                values: Values::Nullable(&sparse),
            },
        ];
        let batch = round_trip("values", &times, &columns);
        assert_eq!(batch.num_rows(), n);
        let schema = batch.schema();
        assert_eq!(
            schema.field(0).data_type().to_string(),
            "Timestamp(ns, \"UTC\")"
        );
        assert!(!schema.field(1).is_nullable());
        assert!(schema.field(2).is_nullable());
        let column = |i: usize| batch.column(i).as_any();
        let ts = column(0)
            .downcast_ref::<TimestampNanosecondArray>()
            .unwrap();
        assert_eq!(ts.values().to_vec(), times);
        let close = column(1).downcast_ref::<Float64Array>().unwrap();
        assert_eq!(close.values().to_vec(), closes);
        let sma = column(2).downcast_ref::<Float64Array>().unwrap();
        let got: Vec<Option<f64>> = (0..n)
            .map(|i| sma.is_valid(i).then(|| sma.value(i)))
            .collect();
        assert_eq!(got, sparse);
    }

    #[test]
    fn empty_tables_and_mismatched_columns() {
        // No rows: a valid file with the schema and no row group.
        let empty = [Column {
            name: "close",
            values: Values::Nullable(&[]),
        }];
        let batch = round_trip("empty", &[], &empty);
        assert_eq!((batch.num_rows(), batch.num_columns()), (0, 2));
        // A column of the wrong length is refused before anything is written.
        let mut out = Vec::new();
        let closes = [1.0, 2.0];
        let short = [Column {
            name: "close",
            values: Values::Required(&closes),
        }];
        let err = write(&mut out, &[1, 2, 3], &short).unwrap_err();
        assert!(
            err.to_string()
                .contains("\"close\" has 2 values for 3 rows")
        );
        assert!(out.is_empty());
    }
}
