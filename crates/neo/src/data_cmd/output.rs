//! Where `neo data export` and `neo data features` put their tables: CSV or Parquet
//! by the output's extension, written to a temporary file beside it and renamed into
//! place, so a reader never sees half a file and a failed run leaves no file. Also
//! the refusal both commands report as `error: ...` with exit code 1.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use neo_domain::Timestamp;

use neo_parquet::{Column, Values};

/// A request or input the command will not serve (no such partition, a bad range, an
/// unknown extension, bars out of order): reported as `error: <why>`, exit code 1.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// Stops the command with a [`Refused`] error carrying `message`.
pub(crate) fn refuse<T>(message: impl Into<String>) -> Result<T> {
    Err(Refused(message.into()).into())
}

/// Runs a command, turning a [`Refused`] error into its message on standard error and
/// exit code 1; other errors (unreadable files, a full disk) go on to `main` (exit 2).
pub(crate) fn refusing(command: impl FnOnce() -> Result<ExitCode>) -> Result<ExitCode> {
    match command() {
        Err(err) => match err.downcast_ref::<Refused>() {
            Some(refused) => {
                #[allow(clippy::print_stderr, reason = "the refusal is the command's output")]
                {
                    eprintln!("error: {refused}");
                }
                Ok(ExitCode::from(1))
            }
            None => Err(err),
        },
        done => done,
    }
}

/// The two file formats written, chosen by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Header line, RFC 3339 UTC times, shortest round-trip numbers, empty for none.
    Csv,
    /// `ts` timestamp[ns, UTC] and Float64 columns, null for none.
    Parquet,
}

impl Format {
    /// `.csv`, or `.parquet` / `.pq`, in any letter case; anything else is refused
    /// before any work is done.
    pub(crate) fn of(path: &Path) -> Result<Self> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("csv") {
            Ok(Format::Csv)
        } else if ext.eq_ignore_ascii_case("parquet") || ext.eq_ignore_ascii_case("pq") {
            Ok(Format::Parquet)
        } else {
            refuse(format!(
                "--output {}: unknown extension; name it .csv or .parquet (.pq)",
                path.display()
            ))
        }
    }
}

/// One column's values: in every row, or missing in some (warm-up).
pub(crate) enum Cells {
    /// A value in every row.
    Required(Vec<f64>),
    /// `None` where there is no value: an empty CSV cell, a Parquet null.
    Nullable(Vec<Option<f64>>),
}

/// A table of bars: their open times, then named Float64 columns of the same length.
pub(crate) struct Table {
    /// One time per row, oldest first.
    pub(crate) times: Vec<Timestamp>,
    /// The columns after the time, in order.
    pub(crate) columns: Vec<(String, Cells)>,
}

/// Writes `table` to `path` in `format`: to a temporary file beside it first, renamed
/// over `path` once complete; on error the temporary file is removed.
pub(crate) fn write(table: &Table, path: &Path, format: Format) -> Result<()> {
    for (name, cells) in &table.columns {
        let len = match cells {
            Cells::Required(v) => v.len(),
            Cells::Nullable(v) => v.len(),
        };
        if len != table.times.len() {
            anyhow::bail!(
                "column {name:?} has {len} values for {} rows",
                table.times.len()
            );
        }
    }
    let temp = temp_path(path);
    let result = write_file(table, &temp, format).and_then(|()| {
        std::fs::rename(&temp, path)
            .with_context(|| format!("cannot rename {} to {}", temp.display(), path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// `.<name>.<pid>.tmp` in the output's folder (the same file system, so the rename is
/// atomic; dot-named so dataset readers skip it if a crash leaves it behind).
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy());
    let temp = format!(".{name}.{}.tmp", std::process::id());
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(temp),
        _ => PathBuf::from(temp),
    }
}

/// Writes the whole file and syncs it to disk, so the rename publishes complete data.
fn write_file(table: &Table, temp: &Path, format: Format) -> Result<()> {
    let file = File::create(temp).with_context(|| format!("cannot create {}", temp.display()))?;
    let mut out = BufWriter::new(file);
    let written = match format {
        Format::Csv => write_csv(table, &mut out),
        Format::Parquet => write_parquet(table, temp, &mut out),
    };
    written
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    let file = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot sync {}", temp.display()))
}

/// `date,<columns>`, then one line per row; a missing value is an empty cell.
fn write_csv(table: &Table, out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(b"date")?;
    for (name, _) in &table.columns {
        write!(out, ",{name}")?;
    }
    out.write_all(b"\n")?;
    for (row, ts) in table.times.iter().enumerate() {
        write!(out, "{ts}")?;
        for (_, cells) in &table.columns {
            match cells {
                Cells::Required(v) => write!(out, ",{}", v[row])?,
                Cells::Nullable(v) => match v[row] {
                    Some(x) => write!(out, ",{x}")?,
                    None => out.write_all(b",")?,
                },
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The table through the Parquet writer, `ts` first.
fn write_parquet(table: &Table, path: &Path, out: &mut (impl Write + Send)) -> std::io::Result<()> {
    let times: Vec<i64> = table.times.iter().map(|t| t.as_nanos()).collect();
    let columns: Vec<Column<'_>> = table
        .columns
        .iter()
        .map(|(name, cells)| Column {
            name,
            values: match cells {
                Cells::Required(v) => Values::Required(v),
                Cells::Nullable(v) => Values::Nullable(v),
            },
        })
        .collect();
    neo_parquet::write_table(out, path, &times, &columns).map_err(std::io::Error::other)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            times: vec![
                "2024-01-02T00:00:00Z".parse().unwrap(),
                "2024-01-02T00:01:00.5Z".parse().unwrap(),
            ],
            columns: vec![
                ("close".to_owned(), Cells::Required(vec![10.0, 10.25])),
                ("sma_2".to_owned(), Cells::Nullable(vec![None, Some(1e-7)])),
            ],
        }
    }

    #[test]
    fn csv_has_rfc3339_times_and_empty_warmup_cells() {
        let mut out = Vec::new();
        write_csv(&table(), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "date,close,sma_2\n2024-01-02T00:00:00Z,10,\n\
             2024-01-02T00:01:00.500Z,10.25,0.0000001\n"
        );
    }

    #[test]
    fn formats_come_from_the_extension() {
        for (name, want) in [
            ("a.csv", Some(Format::Csv)),
            ("dir/a.CSV", Some(Format::Csv)),
            ("a.parquet", Some(Format::Parquet)),
            ("a.Pq", Some(Format::Parquet)),
            ("a.json", None),
            ("a", None),
            ("a.csv.gz", None),
        ] {
            let got = Format::of(Path::new(name));
            assert_eq!(got.as_ref().ok().copied(), want, "{name}");
            if let Err(e) = got {
                assert!(e.downcast_ref::<Refused>().is_some());
                assert!(e.to_string().contains("unknown extension"), "{e}");
            }
        }
    }

    #[test]
    fn writes_atomically_and_leaves_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("neo-output-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        write(&table(), &path, Format::Csv).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("date,"));
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out.csv"]);
        // A folder that does not exist: an error, and nothing left behind.
        let missing = dir.join("no/such/out.parquet");
        let err = write(&table(), &missing, Format::Parquet).unwrap_err();
        assert!(format!("{err:#}").contains("cannot create"), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            temp_path(Path::new("x.csv")),
            PathBuf::from(format!(".x.csv.{}.tmp", std::process::id()))
        );
    }
}
