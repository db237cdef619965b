//! Longer candles from shorter ones (1m into 5m, 15m, 1h, ...), exactly: the
//! first open, the highest high, the lowest low, the last close and the summed
//! volume of each aligned bucket. A bucket is only given once closed (its last
//! minute is in), so indicators never read a half-built bar.

use neo_domain::contracts::CandleV1;

use super::candles::interval_nanos;

/// Why candles could not be resampled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    /// The target interval is not a number and a unit (`5m`, `1h`).
    #[error("interval {0:?}: expected a number and a unit (1m, 5m, 1h, 1d)")]
    Interval(String),
    /// The target is shorter than the source, or not a whole multiple of it.
    #[error("interval {target:?} is not a whole multiple of the {base:?} candles")]
    NotMultiple {
        /// The wanted interval.
        target: String,
        /// The candles' interval.
        base: String,
    },
    /// Summed volume overflowed.
    #[error("volume overflowed")]
    Overflow,
}

/// `candles` (one instrument, one interval, oldest first) as closed `interval` candles.
pub fn resample(candles: &[CandleV1], interval: &str) -> Result<Vec<CandleV1>, ResampleError> {
    let target =
        interval_nanos(interval).ok_or_else(|| ResampleError::Interval(interval.to_owned()))?;
    let Some(first) = candles.first() else {
        return Ok(Vec::new());
    };
    let source = interval_nanos(&first.interval)
        .ok_or_else(|| ResampleError::Interval(first.interval.clone()))?;
    if target < source || target % source != 0 {
        return Err(ResampleError::NotMultiple {
            target: interval.to_owned(),
            base: first.interval.clone(),
        });
    }
    if target == source {
        return Ok(candles.to_vec());
    }
    let mut out: Vec<CandleV1> = Vec::new();
    let mut open: Option<(i64, CandleV1)> = None;
    for c in candles {
        let start = c.ts_open.as_nanos().div_euclid(target) * target;
        match &mut open {
            Some((bucket, bar)) if *bucket == start => {
                bar.high = bar.high.max(c.high);
                bar.low = bar.low.min(c.low);
                bar.close = c.close;
                bar.ts_event = c.ts_event;
                bar.volume = bar
                    .volume
                    .checked_add(c.volume)
                    .map_err(|_| ResampleError::Overflow)?;
            }
            _ => {
                if let Some((bucket, bar)) = open.take() {
                    push_closed(&mut out, bucket, target, bar);
                }
                let mut bar = c.clone();
                bar.interval = interval.to_owned();
                bar.ts_open = neo_domain::Timestamp::from_nanos(start);
                open = Some((start, bar));
            }
        }
    }
    if let Some((bucket, bar)) = open {
        push_closed(&mut out, bucket, target, bar);
    }
    Ok(out)
}

fn push_closed(out: &mut Vec<CandleV1>, bucket: i64, target: i64, bar: CandleV1) {
    if bar.ts_event.as_nanos() >= bucket.saturating_add(target) {
        out.push(bar);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::{InstrumentId, Price, Quantity, Timestamp};

    use super::*;

    fn minute(i: i64, close: &str) -> CandleV1 {
        let p: Price = close.parse().unwrap();
        CandleV1 {
            instrument: InstrumentId::new("BTC-USDT").unwrap(),
            interval: "1m".to_owned(),
            ts_open: Timestamp::from_nanos(i * 60_000_000_000),
            ts_event: Timestamp::from_nanos((i + 1) * 60_000_000_000),
            open: p,
            high: p,
            low: p,
            close: p,
            volume: "1.5".parse::<Quantity>().unwrap(),
        }
    }

    #[test]
    fn five_minutes_take_first_open_extremes_last_close_and_summed_volume() {
        let closes = ["10", "12", "9", "11", "10.5", "13", "14"];
        let ones: Vec<CandleV1> = closes
            .iter()
            .enumerate()
            .map(|(i, c)| minute(i as i64, c))
            .collect();
        let fives = resample(&ones, "5m").unwrap();
        assert_eq!(fives.len(), 1, "the second bucket has only 2 of 5 minutes");
        let f = &fives[0];
        assert_eq!(f.interval, "5m");
        assert_eq!(f.open.to_string(), "10");
        assert_eq!(f.high.to_string(), "12");
        assert_eq!(f.low.to_string(), "9");
        assert_eq!(f.close.to_string(), "10.5");
        assert_eq!(f.volume.to_string(), "7.5");
        assert_eq!(f.ts_event, ones[4].ts_event);
    }

    #[test]
    fn bad_intervals_are_refused() {
        let ones = vec![minute(0, "1")];
        assert!(matches!(
            resample(&ones, "7x"),
            Err(ResampleError::Interval(_))
        ));
        assert!(matches!(
            resample(&ones, "90s"),
            Err(ResampleError::NotMultiple { .. })
        ));
        assert!(matches!(
            resample(&ones, "30s"),
            Err(ResampleError::NotMultiple { .. })
        ));
        assert_eq!(resample(&ones, "1m").unwrap().len(), 1);
        assert!(resample(&[], "1h").unwrap().is_empty());
    }
}
