//! Reading OHLCV CSV files into the core's history bars: a header is detected
//! (column names in any letter case: date / datetime / time / timestamp, open,
//! high, low, close, volume), or absent (then `date,open,high,low,close[,volume]`);
//! the index may be a date, a date and time (with or without a zone), or Unix
//! seconds, milliseconds or nanoseconds. Rows that cannot be read are reported
//! by line, with the rest still read, so one report lists every problem.
//! [`load_path`] reads a CSV or a Parquet file (through `neo-parquet`) alike.

use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use neo_domain::Timestamp;
use neo_engine::history::Bar;

use crate::data_cmd::split_csv_line;

/// Bars read, and the lines that could not be.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) bars: Vec<Bar>,
    pub(crate) unreadable: Vec<String>,
}

struct Layout {
    time: usize,
    prices: [usize; 4],
    volume: Option<usize>,
    width: usize,
}

fn find(names: &[String], wanted: &[&str]) -> Option<usize> {
    names
        .iter()
        .position(|n| wanted.iter().any(|w| n.trim().eq_ignore_ascii_case(w)))
}

fn layout_from_header(names: &[String]) -> Result<Layout, String> {
    let mut prices = [0usize; 4];
    for (slot, want) in prices.iter_mut().zip(["open", "high", "low", "close"]) {
        *slot = find(names, &[want]).ok_or_else(|| format!("no {want:?} column in the header"))?;
    }
    Ok(Layout {
        time: find(names, &neo_parquet::TIME_COLUMNS).unwrap_or(0),
        prices,
        volume: find(names, &["volume", "vol"]),
        width: names.len(),
    })
}

/// Parses the index cell into UTC nanoseconds (the same rules as a Parquet
/// file's text or integer time column).
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    neo_parquet::parse_time_text(text)
}

/// Whether `path` is read as Parquet: by its extension, `.parquet` or `.pq` in any
/// letter case; anything else is read as CSV.
pub(crate) fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// Reads an OHLCV file, CSV or Parquet by its extension (see [`is_parquet`]).
pub(crate) fn load_path(path: &Path) -> anyhow::Result<Loaded> {
    load_path_with(path, &mut |_, _| {})
}

/// [`load_path`], calling `progress(rows_done, rows_total)` while a Parquet file is
/// decoded (a CSV file is read in one go).
pub(crate) fn load_path_with(
    path: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> anyhow::Result<Loaded> {
    if is_parquet(path) {
        let read = neo_parquet::read_ohlcv_with(path, progress)?;
        return Ok(Loaded {
            bars: read.bars,
            unreadable: read.unreadable,
        });
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.starts_with(b"PAR1") {
        bail!(
            "{}: this is a Parquet file; name it .parquet (or .pq) to read it as one",
            path.display()
        );
    }
    let text =
        String::from_utf8(bytes).map_err(|e| anyhow!("{}: not UTF-8 text: {e}", path.display()))?;
    load(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

fn is_number(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok()
}

/// Reads the text of an OHLCV CSV file.
pub(crate) fn load(text: &str) -> Result<Loaded, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_prefix('\u{feff}').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let Some(&(first_no, first)) = lines.peek() else {
        return Err("the file is empty".to_owned());
    };
    let first_fields = split_csv_line(first).map_err(|e| format!("line {first_no}: {e}"))?;
    let header = first_fields.iter().skip(1).all(|f| !is_number(f));
    let layout = if header {
        lines.next();
        layout_from_header(&first_fields).map_err(|e| format!("line {first_no}: {e}"))?
    } else {
        if first_fields.len() < 5 {
            return Err(format!(
                "line {first_no}: no header, and fewer than 5 columns (date,open,high,low,close[,volume])"
            ));
        }
        Layout {
            time: 0,
            prices: [1, 2, 3, 4],
            volume: (first_fields.len() > 5).then_some(5),
            width: first_fields.len(),
        }
    };
    let mut bars = Vec::new();
    let mut unreadable = Vec::new();
    for (no, line) in lines {
        match row(line, &layout) {
            Ok((ts, p, volume)) => bars.push(Bar {
                line: no,
                ts,
                open: p[0],
                high: p[1],
                low: p[2],
                close: p[3],
                volume,
            }),
            Err(e) => unreadable.push(format!("line {no}: {e}")),
        }
    }
    Ok(Loaded { bars, unreadable })
}

fn row(line: &str, layout: &Layout) -> Result<(Timestamp, [f64; 4], f64), String> {
    let fields = split_csv_line(line)?;
    if fields.len() != layout.width {
        return Err(format!(
            "expected {} fields, found {}",
            layout.width,
            fields.len()
        ));
    }
    let raw_time = &fields[layout.time];
    let ts = parse_time(raw_time).ok_or_else(|| format!("cannot read the time {raw_time:?}"))?;
    let mut prices = [0.0; 4];
    for ((value, i), name) in prices
        .iter_mut()
        .zip(layout.prices)
        .zip(["open", "high", "low", "close"])
    {
        let raw = fields[i].trim();
        *value = raw
            .parse::<f64>()
            .map_err(|_| format!("{name} is not a number: {raw:?}"))?;
    }
    let volume = match layout.volume {
        Some(i) if !fields[i].trim().is_empty() => {
            let raw = fields[i].trim();
            raw.parse::<f64>()
                .map_err(|_| format!("volume is not a number: {raw:?}"))?
        }
        _ => 0.0,
    };
    Ok((ts, prices, volume))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::float_cmp)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_headers_in_any_case_and_every_index_form() {
        let text = "\u{feff}Date,Open,High,Low,Close,Adj Close,Volume\n\
                    2024-01-02,10,11,9,10.5,10.4,100\n\
                    2024-01-03 00:00:00,10.5,12,10,11,11,\n";
        let l = load(text).unwrap();
        assert!(l.unreadable.is_empty(), "{:?}", l.unreadable);
        assert_eq!(l.bars.len(), 2);
        assert_eq!(l.bars[0].ts, "2024-01-02T00:00:00Z".parse().unwrap());
        assert_eq!((l.bars[0].close, l.bars[0].volume), (10.5, 100.0));
        assert_eq!(l.bars[1].volume, 0.0);
        for (s, want) in [
            ("1704153600", "2024-01-02T00:00:00Z"),
            ("1704153600000", "2024-01-02T00:00:00Z"),
            ("2024-01-02T00:00:00+01:00", "2024-01-01T23:00:00Z"),
            ("2024-01-02 09:30", "2024-01-02T09:30:00Z"),
            ("20240102", "2024-01-02T00:00:00Z"),
        ] {
            assert_eq!(parse_time(s), Some(want.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn headerless_files_and_bad_rows_are_reported_by_line() {
        let l = load("2024-01-02,1,2,0.5,1.5\nyesterday,1,2,0.5,1.5\n2024-01-04,1,x,0.5,1\n2024-01-05,nan,2,1,1\n").unwrap();
        assert_eq!(l.bars.len(), 2);
        assert!(l.bars[1].open.is_nan());
        assert_eq!(l.unreadable.len(), 2);
        assert!(
            l.unreadable[0].starts_with("line 2: cannot read the time"),
            "{:?}",
            l.unreadable
        );
        assert!(l.unreadable[1].starts_with("line 3: high is not a number"));
        assert!(load("").is_err());
        assert!(
            load("time,o,h\n1,2,3\n")
                .unwrap_err()
                .contains("no \"open\" column")
        );
    }

    #[test]
    fn parquet_is_chosen_by_extension() {
        for (name, parquet) in [
            ("a.parquet", true),
            ("dir.csv/a.PQ", true),
            ("a.Parquet", true),
            ("a.csv", false),
            ("a.parquet.csv", false),
            ("parquet", false),
            ("a.txt", false),
        ] {
            assert_eq!(is_parquet(Path::new(name)), parquet, "{name}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(text in "[0-9a-zA-Z,.:\\- \n\"]{0,300}") {
            let _ = load(&text);
        }
    }
}
