//! Streaming candles: ticks in, closed OHLCV bars out.
//!
//! Bars are aligned to multiples of the interval since the Unix epoch (UTC), so a
//! 1-minute bar opens at `hh:mm:00` and closes (`ts_event`) at the next minute. A
//! bar is emitted when a tick of a later interval arrives or when
//! [`CandleAggregator::flush`] is called at or after its end; an interval without
//! ticks produces no bar. Every tick's price counts toward the OHLC (quote-only
//! feeds carry the mid), and volume is the sum of tick sizes.

use std::collections::BTreeMap;

use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{Contract, InstrumentId, Price, Quantity, Timestamp};

/// Why a tick was not aggregated; each is counted, none panics.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CandleError {
    /// The interval is not a fixed length the aggregator can align (`s`, `m`, `h`, `d`).
    #[error("unsupported candle interval {0:?}: use a number and s, m, h or d (e.g. 1m)")]
    Interval(String),
    /// The tick is older than the bar being built (or one already emitted).
    #[error("{instrument}: tick at {ts} is older than the current bar opened at {bar_open}")]
    OutOfOrder {
        /// Whose tick.
        instrument: InstrumentId,
        /// The tick's time.
        ts: Timestamp,
        /// The open of the bar it would have belonged after.
        bar_open: Timestamp,
    },
    /// The tick breaks its own contract (non-positive price, ask below bid).
    #[error("{instrument}: invalid tick: {problem}")]
    InvalidTick {
        /// Whose tick.
        instrument: InstrumentId,
        /// The first problem found.
        problem: String,
    },
    /// Adding the tick's size would overflow the bar's volume.
    #[error("{instrument}: volume overflow")]
    VolumeOverflow {
        /// Whose tick.
        instrument: InstrumentId,
    },
}

/// Counters of what the aggregator did, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandleStats {
    /// Ticks aggregated.
    pub accepted: u64,
    /// Ticks refused as older than the current bar.
    pub out_of_order: u64,
    /// Ticks refused as invalid (or overflowing the volume).
    pub invalid: u64,
    /// Bars emitted.
    pub emitted: u64,
}

/// Nanoseconds in an interval like `1m`, `15s`, `4h`, `1d`; `None` for calendar
/// units (`w`, `M`) and anything malformed.
pub fn interval_nanos(interval: &str) -> Option<i64> {
    let unit = interval.chars().last()?;
    let digits = &interval[..interval.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let count: i64 = digits.parse().ok()?;
    let unit_secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    let nanos = count.checked_mul(unit_secs)?.checked_mul(1_000_000_000)?;
    (nanos > 0).then_some(nanos)
}

/// The bar being built for one instrument.
#[derive(Debug, Clone)]
struct OpenBar {
    ts_open: Timestamp,
    last_ts: Timestamp,
    open: Price,
    high: Price,
    low: Price,
    close: Price,
    volume: Quantity,
}

/// One instrument's state: the open bar and the end of the last emitted one.
#[derive(Debug, Clone, Default)]
struct Series {
    bar: Option<OpenBar>,
    closed_until: Option<Timestamp>,
}

/// Aggregates ticks of any number of instruments into closed candles of one interval.
#[derive(Debug, Clone)]
pub struct CandleAggregator {
    interval: String,
    nanos: i64,
    series: BTreeMap<InstrumentId, Series>,
    stats: CandleStats,
}

impl CandleAggregator {
    /// An aggregator for bars of `interval` (`1m`, `5m`, `1h`, ...).
    pub fn new(interval: &str) -> Result<Self, CandleError> {
        let nanos =
            interval_nanos(interval).ok_or_else(|| CandleError::Interval(interval.into()))?;
        Ok(CandleAggregator {
            interval: interval.to_owned(),
            nanos,
            series: BTreeMap::new(),
            stats: CandleStats::default(),
        })
    }

    /// The interval label put on every candle.
    pub fn interval(&self) -> &str {
        &self.interval
    }

    /// What has been accepted, refused and emitted so far.
    pub fn stats(&self) -> CandleStats {
        self.stats
    }

    fn bucket(&self, ts: Timestamp) -> Timestamp {
        Timestamp::from_nanos(ts.as_nanos().div_euclid(self.nanos) * self.nanos)
    }

    /// Adds a tick; returns the bar it closed, if it is the first of a new interval.
    pub fn push(&mut self, tick: &TickV1) -> Result<Option<CandleV1>, CandleError> {
        let instrument = tick.instrument;
        if let Some(issue) = tick.check().into_iter().next() {
            self.stats.invalid += 1;
            return Err(CandleError::InvalidTick {
                instrument,
                problem: issue.to_string(),
            });
        }
        let bucket = self.bucket(tick.ts_event);
        let series = self.series.entry(instrument).or_default();
        let floor = match (&series.bar, series.closed_until) {
            (Some(bar), _) => Some(bar.ts_open),
            (None, closed) => closed,
        };
        if let Some(floor) = floor
            && bucket < floor
        {
            self.stats.out_of_order += 1;
            return Err(CandleError::OutOfOrder {
                instrument,
                ts: tick.ts_event,
                bar_open: floor,
            });
        }
        let mut closed = None;
        match &mut series.bar {
            Some(bar) if bar.ts_open == bucket => {
                let Ok(volume) = bar.volume.checked_add(tick.size) else {
                    self.stats.invalid += 1;
                    return Err(CandleError::VolumeOverflow { instrument });
                };
                bar.volume = volume;
                bar.high = bar.high.max(tick.price);
                bar.low = bar.low.min(tick.price);
                // A late tick inside the bar counts for range and volume, not the close.
                if tick.ts_event >= bar.last_ts {
                    bar.close = tick.price;
                    bar.last_ts = tick.ts_event;
                }
            }
            slot => {
                let fresh = OpenBar {
                    ts_open: bucket,
                    last_ts: tick.ts_event,
                    open: tick.price,
                    high: tick.price,
                    low: tick.price,
                    close: tick.price,
                    volume: tick.size,
                };
                if let Some(old) = slot.replace(fresh) {
                    closed = Some(old);
                }
            }
        }
        self.stats.accepted += 1;
        Ok(closed.map(|bar| self.emit(instrument, bar)))
    }

    /// Closes every bar whose interval has ended by `now`, in instrument order.
    pub fn flush(&mut self, now: Timestamp) -> Vec<CandleV1> {
        let nanos = self.nanos;
        let due: Vec<(InstrumentId, OpenBar)> = self
            .series
            .iter_mut()
            .filter_map(|(id, series)| {
                let ends = series.bar.as_ref()?.ts_open.add_nanos(nanos);
                if ends <= now {
                    series.bar.take().map(|bar| (*id, bar))
                } else {
                    None
                }
            })
            .collect();
        due.into_iter()
            .map(|(id, bar)| self.emit(id, bar))
            .collect()
    }

    fn emit(&mut self, instrument: InstrumentId, bar: OpenBar) -> CandleV1 {
        let ts_event = bar.ts_open.add_nanos(self.nanos);
        let series = self.series.entry(instrument).or_default();
        series.closed_until = Some(ts_event);
        self.stats.emitted += 1;
        CandleV1 {
            instrument,
            interval: self.interval.clone(),
            ts_open: bar.ts_open,
            ts_event,
            open: bar.open,
            high: bar.high,
            low: bar.low,
            close: bar.close,
            volume: bar.volume,
        }
    }
}
