//! Historical OHLCV bars and the gates they must pass before a backtest may use
//! them: OHLC order, non-negative volume, finite numbers, time strictly moving
//! forwards, no duplicate or missing timestamps, and price jumps over 10% per
//! bar flagged. Pure: the shells read files into [`Bar`]s and print the
//! [`Report`]. Every finding is reported, not just the first.

use std::collections::BTreeMap;

use neo_domain::Timestamp;
use serde::Serialize;

#[cfg(test)]
mod tests;

/// One bar as read from a file; numbers stay as read (NaN and infinities included,
/// so the gates can name them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// 1-based line (or row) in the source, for messages.
    pub line: usize,
    /// Open time.
    pub ts: Timestamp,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Traded volume (0 when the source has none).
    pub volume: f64,
}

/// What a gate found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A price or volume is NaN or infinite.
    NotFinite,
    /// A price is zero or negative.
    NonPositivePrice,
    /// Low above open/close, or high below them.
    OhlcOrder,
    /// Volume below zero.
    NegativeVolume,
    /// A timestamp equal to the previous one.
    DuplicateTimestamp,
    /// A timestamp before the previous one.
    TimeBackwards,
    /// Bars missing between two timestamps (a gap of more than one interval).
    MissingBars,
    /// Close moved more than the jump threshold from the previous close.
    PriceJump,
}

impl FindingKind {
    /// Whether this finding fails validation (a jump or a gap is flagged only).
    pub fn fails(self) -> bool {
        !matches!(self, FindingKind::PriceJump | FindingKind::MissingBars)
    }
}

/// One problem, where it is, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Which gate.
    pub kind: FindingKind,
    /// The source line.
    pub line: usize,
    /// The bar's time.
    pub ts: Timestamp,
    /// What is wrong, with the values.
    pub detail: String,
}

/// The gates' settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gates {
    /// Close-to-close move (fraction) above which a bar is flagged (0.10).
    pub max_jump: f64,
    /// The bar interval in nanoseconds; `None` infers the most common step.
    pub interval_nanos: Option<i64>,
    /// Daily bars skip weekends without counting them missing.
    pub weekdays_only_daily: bool,
}

impl Default for Gates {
    fn default() -> Self {
        Gates {
            max_jump: 0.10,
            interval_nanos: None,
            weekdays_only_daily: true,
        }
    }
}

/// Every finding, and what the series looks like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Bars checked.
    pub bars: usize,
    /// The interval used for the gap check, in seconds (inferred or given).
    pub interval_secs: Option<f64>,
    /// Findings in source order.
    pub findings: Vec<Finding>,
    /// Findings per kind.
    pub counts: BTreeMap<FindingKind, usize>,
    /// True when no finding fails.
    pub passed: bool,
}

const DAY: i64 = 86_400_000_000_000;

/// An interval's short name in its largest whole unit (`60s` is `1m`, `3600s` `1h`).
pub fn interval_name(nanos: i64) -> String {
    const S: i64 = 1_000_000_000;
    for (unit, size) in [("d", 86_400 * S), ("h", 3_600 * S), ("m", 60 * S)] {
        if nanos % size == 0 && nanos / size <= 9_999 {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{}s", (nanos / S).max(1))
}

/// The most common step between consecutive increasing timestamps.
pub fn infer_interval(bars: &[Bar]) -> Option<i64> {
    let mut steps: BTreeMap<i64, usize> = BTreeMap::new();
    for w in bars.windows(2) {
        let step = w[1].ts.nanos_since(w[0].ts);
        if step > 0 {
            *steps.entry(step).or_default() += 1;
        }
    }
    // Most frequent; ties go to the smallest step.
    steps
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(step, _)| step)
}

/// Day of the week of a UTC time, Monday 0 to Sunday 6.
pub(crate) fn weekday(ts: Timestamp) -> i64 {
    // 1970-01-01 was a Thursday (3 with Monday = 0).
    (ts.as_nanos().div_euclid(DAY) + 3).rem_euclid(7)
}

/// Bars missing between `a` and `b` at `step`, not counting weekend days for daily bars.
fn missing_between(a: Timestamp, b: Timestamp, step: i64, skip_weekends: bool) -> i64 {
    let gap = b.nanos_since(a);
    if gap <= step {
        return 0;
    }
    let slots = gap / step - 1;
    if !(skip_weekends && step == DAY) {
        return slots;
    }
    (1..=slots)
        .filter(|k| weekday(a.add_nanos(k * step)) < 5)
        .count() as i64
}

/// Runs every gate over the bars, in order.
pub fn validate(bars: &[Bar], gates: &Gates) -> Report {
    let mut findings = Vec::new();
    let mut push = |kind, bar: &Bar, detail: String| {
        findings.push(Finding {
            kind,
            line: bar.line,
            ts: bar.ts,
            detail,
        });
    };
    let interval = gates.interval_nanos.or_else(|| infer_interval(bars));
    let mut previous: Option<&Bar> = None;
    for bar in bars {
        let values = [
            ("open", bar.open),
            ("high", bar.high),
            ("low", bar.low),
            ("close", bar.close),
            ("volume", bar.volume),
        ];
        let bad: Vec<String> = values
            .iter()
            .filter(|(_, v)| !v.is_finite())
            .map(|(n, v)| format!("{n} = {v}"))
            .collect();
        if !bad.is_empty() {
            push(FindingKind::NotFinite, bar, bad.join(", "));
        } else {
            let prices = &values[..4];
            let non_positive: Vec<String> = prices
                .iter()
                .filter(|(_, v)| *v <= 0.0)
                .map(|(n, v)| format!("{n} = {v}"))
                .collect();
            if !non_positive.is_empty() {
                push(FindingKind::NonPositivePrice, bar, non_positive.join(", "));
            }
            let top = bar.open.max(bar.close);
            let bottom = bar.open.min(bar.close);
            if bar.low > bottom || bar.high < top || bar.low > bar.high {
                push(
                    FindingKind::OhlcOrder,
                    bar,
                    format!(
                        "needs low <= open, close <= high: open {} high {} low {} close {}",
                        bar.open, bar.high, bar.low, bar.close
                    ),
                );
            }
            if bar.volume < 0.0 {
                push(
                    FindingKind::NegativeVolume,
                    bar,
                    format!("volume = {}", bar.volume),
                );
            }
        }
        if let Some(prev) = previous {
            let step = bar.ts.nanos_since(prev.ts);
            if step == 0 {
                push(
                    FindingKind::DuplicateTimestamp,
                    bar,
                    format!("same time as line {}", prev.line),
                );
            } else if step < 0 {
                push(
                    FindingKind::TimeBackwards,
                    bar,
                    format!("{} is before {} (line {})", bar.ts, prev.ts, prev.line),
                );
            } else if let Some(interval) = interval.filter(|i| *i > 0) {
                let missing = missing_between(prev.ts, bar.ts, interval, gates.weekdays_only_daily);
                if missing > 0 {
                    push(
                        FindingKind::MissingBars,
                        bar,
                        format!(
                            "{missing} bar(s) missing since {} (line {})",
                            prev.ts, prev.line
                        ),
                    );
                }
            }
            if prev.close.is_finite() && prev.close > 0.0 && bar.close.is_finite() {
                let jump = (bar.close / prev.close - 1.0).abs();
                if jump > gates.max_jump {
                    push(
                        FindingKind::PriceJump,
                        bar,
                        format!(
                            "close moved {:.1}% from {} to {}",
                            jump * 100.0,
                            prev.close,
                            bar.close
                        ),
                    );
                }
            }
            // Time going backwards keeps the later bar as the reference, so one bad
            // row is reported once, not again for every row after it.
            if step > 0 {
                previous = Some(bar);
            }
        } else {
            previous = Some(bar);
        }
    }
    let mut counts = BTreeMap::new();
    for f in &findings {
        *counts.entry(f.kind).or_default() += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let interval_secs = interval.map(|i| i as f64 / 1e9);
    Report {
        bars: bars.len(),
        interval_secs,
        passed: findings.iter().all(|f| !f.kind.fails()),
        findings,
        counts,
    }
}

/// What a series holds (`neo data stats`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Bars.
    pub bars: usize,
    /// First bar's time.
    pub first: Option<Timestamp>,
    /// Last bar's time.
    pub last: Option<Timestamp>,
    /// The most common step, in seconds.
    pub interval_secs: Option<f64>,
    /// First close.
    pub first_close: Option<f64>,
    /// Last close.
    pub last_close: Option<f64>,
    /// Lowest low.
    pub min_low: Option<f64>,
    /// Highest high.
    pub max_high: Option<f64>,
    /// Mean close.
    pub mean_close: Option<f64>,
    /// Sum of volume.
    pub total_volume: f64,
    /// Buy and hold from the first close to the last, percent.
    pub return_pct: Option<f64>,
    /// Standard deviation of close-to-close returns, percent per bar.
    pub volatility_pct: Option<f64>,
    /// Largest fall of the close from a previous peak, percent.
    pub max_drawdown_pct: Option<f64>,
}

/// Summary statistics over the finite bars (use `validate` for the others).
#[allow(clippy::cast_precision_loss)]
pub fn stats(bars: &[Bar]) -> Stats {
    let good: Vec<&Bar> = bars
        .iter()
        .filter(|b| {
            [b.open, b.high, b.low, b.close, b.volume]
                .iter()
                .all(|v| v.is_finite())
        })
        .collect();
    let n = good.len();
    let closes: Vec<f64> = good.iter().map(|b| b.close).collect();
    let returns: Vec<f64> = closes
        .windows(2)
        .filter(|w| w[0] > 0.0)
        .map(|w| w[1] / w[0] - 1.0)
        .collect();
    let volatility = (returns.len() > 1).then(|| {
        let mean = returns.iter().sum::<f64>() / returns.len() as f64;
        let var =
            returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
        var.sqrt() * 100.0
    });
    let mut peak = f64::MIN;
    let mut max_dd: Option<f64> = None;
    for &c in &closes {
        peak = peak.max(c);
        if peak > 0.0 {
            let dd = (peak - c) / peak * 100.0;
            max_dd = Some(max_dd.map_or(dd, |m: f64| m.max(dd)));
        }
    }
    Stats {
        bars: bars.len(),
        first: bars.first().map(|b| b.ts),
        last: bars.last().map(|b| b.ts),
        interval_secs: infer_interval(bars).map(|i| i as f64 / 1e9),
        first_close: closes.first().copied(),
        last_close: closes.last().copied(),
        min_low: good.iter().map(|b| b.low).reduce(f64::min),
        max_high: good.iter().map(|b| b.high).reduce(f64::max),
        mean_close: (n > 0).then(|| closes.iter().sum::<f64>() / n as f64),
        total_volume: good.iter().map(|b| b.volume).sum(),
        return_pct: match (closes.first(), closes.last()) {
            (Some(&a), Some(&b)) if a > 0.0 => Some((b / a - 1.0) * 100.0),
            _ => None,
        },
        volatility_pct: volatility,
        max_drawdown_pct: max_dd,
    }
}
