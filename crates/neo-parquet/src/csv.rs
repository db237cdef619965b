//! Reading OHLCV CSV files into the core's history bars: a header is detected
//! (column names in any letter case: date / datetime / time / timestamp, open,
//! high, low, close, volume), or absent (then `date,open,high,low,close[,volume]`);
//! the index may be a date, a date and time (with or without a zone), or Unix
//! seconds, milliseconds or nanoseconds. Rows that cannot be read are reported
//! by line, with the rest still read, so one report lists every problem.
//! [`read_ohlcv_file`] reads a CSV or a Parquet file alike.

use std::path::Path;

use neo_domain::Timestamp;
use neo_engine::history::Bar;

use crate::{Error, Ohlcv, Result, TIME_COLUMNS, parse_time_text, read_ohlcv_with};

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

fn layout_from_header(names: &[String]) -> std::result::Result<Layout, String> {
    let mut prices = [0usize; 4];
    for (slot, want) in prices.iter_mut().zip(["open", "high", "low", "close"]) {
        *slot = find(names, &[want]).ok_or_else(|| format!("no {want:?} column in the header"))?;
    }
    Ok(Layout {
        time: find(names, &TIME_COLUMNS).unwrap_or(0),
        prices,
        volume: find(names, &["volume", "vol"]),
        width: names.len(),
    })
}

/// Whether `path` is read as Parquet: by its extension, `.parquet` or `.pq` in any
/// letter case; anything else is read as CSV.
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// Reads an OHLCV file, CSV or Parquet by its extension (see [`is_parquet`]).
pub fn read_ohlcv_file(path: &Path) -> Result<Ohlcv> {
    read_ohlcv_file_with(path, &mut |_, _| {})
}

/// [`read_ohlcv_file`], calling `progress(rows_done, rows_total)` while a Parquet file is
/// decoded (a CSV file is read in one go).
pub fn read_ohlcv_file_with(path: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Ohlcv> {
    if is_parquet(path) {
        return read_ohlcv_with(path, progress);
    }
    let csv = |problem: String| Error::Csv {
        path: path.to_owned(),
        problem,
    };
    let bytes = std::fs::read(path).map_err(|cause| Error::Io {
        action: "read",
        path: path.to_owned(),
        cause,
    })?;
    if bytes.starts_with(b"PAR1") {
        return Err(csv(
            "this is a Parquet file; name it .parquet (or .pq) to read it as one".to_owned(),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| csv(format!("not UTF-8 text: {e}")))?;
    parse_ohlcv_csv(&text).map_err(csv)
}

/// Splits one CSV line into fields. A field that starts with a double quote runs to the
/// matching quote and may contain commas; `""` inside it is one quote. Quoted fields
/// that span lines are not supported (the caller reports them as unterminated).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".to_owned()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(c) => return Err(format!("unexpected {c:?} after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

fn is_number(s: &str) -> bool {
    s.trim().parse::<f64>().is_ok()
}

/// Reads the text of an OHLCV CSV file (a problem with the whole file is an error;
/// rows that cannot be read are listed in [`Ohlcv::unreadable`]).
pub fn parse_ohlcv_csv(text: &str) -> std::result::Result<Ohlcv, String> {
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
    Ok(Ohlcv { bars, unreadable })
}

fn row(line: &str, layout: &Layout) -> std::result::Result<(Timestamp, [f64; 4], f64), String> {
    let fields = split_csv_line(line)?;
    if fields.len() != layout.width {
        return Err(format!(
            "expected {} fields, found {}",
            layout.width,
            fields.len()
        ));
    }
    let raw_time = &fields[layout.time];
    let ts =
        parse_time_text(raw_time).ok_or_else(|| format!("cannot read the time {raw_time:?}"))?;
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
        let l = parse_ohlcv_csv(text).unwrap();
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
            assert_eq!(parse_time_text(s), Some(want.parse().unwrap()), "{s}");
        }
    }

    #[test]
    fn headerless_files_and_bad_rows_are_reported_by_line() {
        let l = parse_ohlcv_csv("2024-01-02,1,2,0.5,1.5\nyesterday,1,2,0.5,1.5\n2024-01-04,1,x,0.5,1\n2024-01-05,nan,2,1,1\n").unwrap();
        assert_eq!(l.bars.len(), 2);
        assert!(l.bars[1].open.is_nan());
        assert_eq!(l.unreadable.len(), 2);
        assert!(
            l.unreadable[0].starts_with("line 2: cannot read the time"),
            "{:?}",
            l.unreadable
        );
        assert!(l.unreadable[1].starts_with("line 3: high is not a number"));
        assert!(parse_ohlcv_csv("").is_err());
        assert!(
            parse_ohlcv_csv("time,o,h\n1,2,3\n")
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

    #[test]
    fn splits_plain_and_quoted_fields() {
        assert_eq!(split_csv_line("a,b,,c").unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split_csv_line("").unwrap(), [""]);
        assert_eq!(split_csv_line("\"x, y\",2").unwrap(), ["x, y", "2"]);
        assert_eq!(
            split_csv_line("\"say \"\"hi\"\"\",").unwrap(),
            ["say \"hi\"", ""]
        );
        assert_eq!(split_csv_line("1,\"\"").unwrap(), ["1", ""]);
        assert!(
            split_csv_line("\"open")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(
            split_csv_line("\"a\"b,c")
                .unwrap_err()
                .contains("after a closing quote")
        );
    }

    proptest! {
        #[test]
        fn csv_line_parser_never_panics(line in ".{0,80}") {
            if let Ok(fields) = split_csv_line(&line) {
                prop_assert!(!fields.is_empty());
            }
        }

        #[test]
        fn quoted_fields_round_trip(fields in proptest::collection::vec("[^\"\r\n]{0,8}|\"?[a-z,]{0,4}\"?", 1..6)) {
            let line = fields
                .iter()
                .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(",");
            prop_assert_eq!(split_csv_line(&line).unwrap(), fields);
        }
        #[test]
        fn never_panics(text in "[0-9a-zA-Z,.:\\- \n\"]{0,300}") {
            let _ = parse_ohlcv_csv(&text);
        }
    }
}
