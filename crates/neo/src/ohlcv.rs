//! Reading OHLCV CSV files into the core's history bars: a header is detected
//! (column names in any letter case: date / datetime / time / timestamp, open,
//! high, low, close, volume), or absent (then `date,open,high,low,close[,volume]`);
//! the index may be a date, a date and time (with or without a zone), or Unix
//! seconds, milliseconds or nanoseconds. Rows that cannot be read are reported
//! by line, with the rest still read, so one report lists every problem.

use chrono::{NaiveDate, NaiveDateTime};
use neo_domain::Timestamp;
use neo_engine::history::Bar;

use crate::data_cmd::split_csv_line;

/// Bars read, and the lines that could not be.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) bars: Vec<Bar>,
    pub(crate) unreadable: Vec<String>,
}

const TIME_NAMES: [&str; 7] = [
    "date",
    "datetime",
    "time",
    "timestamp",
    "open_time",
    "open time",
    "index",
];

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
        time: find(names, &TIME_NAMES).unwrap_or(0),
        prices,
        volume: find(names, &["volume", "vol"]),
        width: names.len(),
    })
}

/// Parses the index cell into UTC nanoseconds.
pub(crate) fn parse_time(text: &str) -> Option<Timestamp> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Some(ts);
    }
    // Eight digits read as a date (20240102) before they could read as epoch seconds.
    if t.len() == 8
        && let Ok(d) = NaiveDate::parse_from_str(t, "%Y%m%d")
    {
        return d
            .and_hms_opt(0, 0, 0)?
            .and_utc()
            .timestamp_nanos_opt()
            .map(Timestamp::from_nanos);
    }
    if let Ok(n) = t.parse::<i64>() {
        // Seconds, milliseconds or nanoseconds since the epoch, by magnitude.
        let nanos = match n.unsigned_abs() {
            0..100_000_000_000 => n.checked_mul(1_000_000_000)?,
            100_000_000_000..100_000_000_000_000 => n.checked_mul(1_000_000)?,
            _ => n,
        };
        return Some(Timestamp::from_nanos(nanos));
    }
    let naive = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y/%m/%d %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        ["%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(t, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    naive
        .and_utc()
        .timestamp_nanos_opt()
        .map(Timestamp::from_nanos)
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

    proptest! {
        #[test]
        fn never_panics(text in "[0-9a-zA-Z,.:\\- \n\"]{0,300}") {
            let _ = load(&text);
        }
    }
}
