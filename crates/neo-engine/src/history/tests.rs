#![allow(clippy::unwrap_used, clippy::float_cmp)]

use proptest::prelude::*;

use super::*;

const MINUTE: i64 = 60_000_000_000;

fn t0() -> Timestamp {
    // A Monday.
    "2026-03-02T00:00:00Z".parse().unwrap()
}

fn clean(n: usize, step: i64) -> Vec<Bar> {
    (0..n)
        .map(|i| {
            let c = 100.0 + (i as f64 * 0.7).sin();
            Bar {
                line: i + 2,
                ts: t0().add_nanos(i as i64 * step),
                open: c - 0.1,
                high: c + 0.5,
                low: c - 0.5,
                close: c,
                volume: 10.0,
            }
        })
        .collect()
}

fn kinds(r: &Report) -> Vec<(FindingKind, usize)> {
    r.findings.iter().map(|f| (f.kind, f.line)).collect()
}

#[test]
fn a_clean_series_passes() {
    let r = validate(&clean(500, MINUTE), &Gates::default());
    assert!(r.passed && r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.interval_secs, Some(60.0));
}

#[test]
fn every_defect_is_reported_at_its_line() {
    let mut bars = clean(20, MINUTE);
    bars[2].low = bars[2].open + 1.0; // low above open
    bars[4].volume = -1.0;
    bars[6].close = f64::NAN;
    bars[8].ts = bars[7].ts; // duplicate
    bars[10].ts = bars[9].ts.add_nanos(-MINUTE); // backwards
    bars[12].close = bars[11].close * 1.5; // jump
    bars[12].high = bars[12].close + 1.0;
    bars[15].open = 0.0;
    bars[15].low = 0.0;
    for b in &mut bars[17..] {
        b.ts = b.ts.add_nanos(5 * MINUTE); // a gap of five bars before line 19
    }
    let r = validate(&bars, &Gates::default());
    assert!(!r.passed);
    let found = kinds(&r);
    for expected in [
        (FindingKind::OhlcOrder, 4),
        (FindingKind::NegativeVolume, 6),
        (FindingKind::NotFinite, 8),
        (FindingKind::DuplicateTimestamp, 10),
        (FindingKind::TimeBackwards, 12),
        (FindingKind::PriceJump, 14),
        (FindingKind::NonPositivePrice, 17),
        (FindingKind::MissingBars, 19),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
    let gap = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::MissingBars && f.line == 19)
        .unwrap();
    assert!(gap.detail.starts_with("5 bar(s) missing"), "{}", gap.detail);
}

#[test]
fn jumps_and_gaps_are_flagged_but_do_not_fail() {
    let mut bars = clean(10, MINUTE);
    bars[5].close *= 1.2;
    bars[5].high = bars[5].close + 1.0;
    bars[9].ts = bars[9].ts.add_nanos(10 * MINUTE);
    let r = validate(&bars, &Gates::default());
    assert!(r.passed, "{:?}", r.findings);
    assert_eq!(
        r.counts.get(&FindingKind::PriceJump),
        Some(&2),
        "up and back down"
    );
    assert_eq!(r.counts.get(&FindingKind::MissingBars), Some(&1));
}

#[test]
fn daily_bars_skip_weekends() {
    let day = 86_400_000_000_000;
    // Monday to Friday, then the next Monday: no gap; then a Wednesday: Tuesday is missing.
    let mut bars = clean(5, day);
    let mut next = clean(1, day);
    next[0].ts = t0().add_nanos(7 * day);
    next[0].line = 7;
    let mut wed = clean(1, day);
    wed[0].ts = t0().add_nanos(9 * day);
    wed[0].line = 8;
    bars.extend(next);
    bars.extend(wed);
    let r = validate(&bars, &Gates::default());
    assert_eq!(
        kinds(&r),
        [(FindingKind::MissingBars, 8)],
        "{:?}",
        r.findings
    );
    assert!(r.findings[0].detail.starts_with("1 bar(s)"));
}

#[test]
fn stats_summarise_the_series() {
    let mut bars = clean(3, MINUTE);
    for (b, c) in bars.iter_mut().zip([100.0, 120.0, 90.0]) {
        b.close = c;
        b.open = c;
        b.high = c + 1.0;
        b.low = c - 1.0;
    }
    let s = stats(&bars);
    assert_eq!(s.bars, 3);
    assert!(
        (s.return_pct.unwrap() + 10.0).abs() < 1e-9,
        "{:?}",
        s.return_pct
    );
    assert_eq!(s.max_drawdown_pct, Some(25.0));
    assert_eq!((s.min_low, s.max_high), (Some(89.0), Some(121.0)));
    assert_eq!(s.total_volume, 30.0);
    assert_eq!(s.interval_secs, Some(60.0));
}

proptest! {
    #[test]
    fn validation_never_panics_and_counts_add_up(
        rows in prop::collection::vec((any::<i32>(), any::<f64>(), any::<f64>(), any::<f64>(), any::<f64>(), any::<f64>()), 0..60)
    ) {
        let bars: Vec<Bar> = rows.iter().enumerate().map(|(i, &(t, o, h, l, c, v))| Bar {
            line: i + 1,
            ts: Timestamp::from_nanos(i64::from(t) * 1_000_000_000),
            open: o, high: h, low: l, close: c, volume: v,
        }).collect();
        let r = validate(&bars, &Gates::default());
        prop_assert_eq!(r.counts.values().sum::<usize>(), r.findings.len());
        prop_assert_eq!(r.passed, r.findings.iter().all(|f| !f.kind.fails()));
        let _ = stats(&bars);
    }
}
