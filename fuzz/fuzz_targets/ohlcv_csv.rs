//! Any text as an OHLCV CSV file (what replay, backtests and `neo data` read):
//! the reader and its line splitter never panic; fields quoted back into a
//! line split into the same fields; every non-blank line after the header is
//! either a bar or a named unreadable row, the bars in line order; and a bar
//! the data-quality gates pass is finite with positive prices, low <= open,
//! close <= high, and no negative volume. (The reader keeps whatever numbers a
//! row holds; judging them is the gates' promise, checked here with it.)
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use neo_engine::history::{FindingKind, Gates, validate};
use neo_parquet::{parse_ohlcv_csv, split_csv_line};

fuzz_target!(|text: &str| {
    if let Ok(fields) = split_csv_line(text) {
        let quoted: Vec<String> = fields
            .iter()
            .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
            .collect();
        assert_eq!(split_csv_line(&quoted.join(",")).as_ref(), Ok(&fields));
    }
    let Ok(read) = parse_ohlcv_csv(text) else {
        return;
    };
    let lines = text.lines().count();
    let filled = text
        .lines()
        .map(|l| l.strip_prefix('\u{feff}').unwrap_or(l))
        .filter(|l| !l.trim().is_empty())
        .count();
    let rows = read.bars.len() + read.unreadable.len();
    assert!(rows == filled || rows + 1 == filled, "{rows} rows of {filled} lines");
    assert!(read.bars.windows(2).all(|w| w[0].line < w[1].line));
    assert!(read.bars.iter().all(|b| 1 <= b.line && b.line <= lines));

    let report = validate(&read.bars, &Gates::default());
    assert_eq!(report.bars, read.bars.len());
    let judged: BTreeSet<usize> = report
        .findings
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::NotFinite
                    | FindingKind::NonPositivePrice
                    | FindingKind::OhlcOrder
                    | FindingKind::NegativeVolume
            )
        })
        .map(|f| f.line)
        .collect();
    for b in read.bars.iter().filter(|b| !judged.contains(&b.line)) {
        let prices = [b.open, b.high, b.low, b.close];
        assert!(prices.iter().all(|p| p.is_finite() && *p > 0.0), "{b:?}");
        assert!(b.volume.is_finite() && b.volume >= 0.0, "{b:?}");
        assert!(b.low <= b.open.min(b.close) && b.open.max(b.close) <= b.high, "{b:?}");
    }
});
