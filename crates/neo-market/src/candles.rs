//! One-minute candles for the desk, whichever way the venue gives them: passed
//! through when the venue marks them closed, closed by the next bar when it
//! only updates the current one, or built from its trades. Each instrument's
//! newest closed bar is remembered, so the stream and the REST backfill can
//! overlap without a bar reaching the desk twice or out of order, and the
//! backfill after a gap knows where to start. Pure.

use std::collections::BTreeMap;

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::market::CandleAggregator;

use crate::event::MarketEvent;
use crate::venue::{CandleSource, MINUTE_NANOS};

/// The one-minute interval label.
const ONE_MINUTE: &str = "1m";

/// Closed one-minute bars per instrument, each once and in order.
#[derive(Debug, Clone)]
pub struct CandleBook {
    source: CandleSource,
    last_closed: BTreeMap<InstrumentId, Timestamp>,
    rolling: BTreeMap<InstrumentId, CandleV1>,
    trades: CandleAggregator,
}

impl CandleBook {
    /// A book for a venue whose bars come from `source`.
    pub fn new(source: CandleSource) -> Self {
        CandleBook {
            source,
            last_closed: BTreeMap::new(),
            rolling: BTreeMap::new(),
            // "1m" is a valid interval: the constructor cannot fail on it.
            trades: CandleAggregator::new(ONE_MINUTE)
                .unwrap_or_else(|_| unreachable!("1m is a valid interval")),
        }
    }

    /// The bar `event` closed, if any (new, one minute long, after the last one handed out).
    pub fn on_event(&mut self, event: &MarketEvent) -> Option<CandleV1> {
        let closed = match (self.source, event) {
            (CandleSource::VenueClosed, MarketEvent::Candle { candle, closed }) => {
                closed.then(|| candle.clone())
            }
            (CandleSource::VenueRolling, MarketEvent::Candle { candle, .. }) => self.roll(candle),
            // Only trades build bars: a quote's mid is not a traded price.
            (CandleSource::Trades, MarketEvent::Tick(tick)) if !tick.size.is_zero() => {
                self.trades.push(tick).ok().flatten()
            }
            _ => None,
        }?;
        self.admit(closed)
    }

    /// The bars of a REST answer not handed out yet, oldest first.
    pub fn on_backfill(&mut self, bars: Vec<CandleV1>) -> Vec<CandleV1> {
        bars.into_iter().filter_map(|c| self.admit(c)).collect()
    }

    /// Where a backfill of `instrument` starts: the bar after the newest
    /// closed one, or `fallback` when none was seen.
    pub fn resume_from(&self, instrument: InstrumentId, fallback: Timestamp) -> Timestamp {
        self.last_closed
            .get(&instrument)
            .map_or(fallback, |t| t.add_nanos(MINUTE_NANOS))
    }

    fn roll(&mut self, candle: &CandleV1) -> Option<CandleV1> {
        if candle.interval != ONE_MINUTE {
            return None;
        }
        match self.rolling.get(&candle.instrument) {
            Some(held) if candle.ts_open > held.ts_open => {
                self.rolling.insert(candle.instrument, candle.clone())
            }
            Some(held) if candle.ts_open < held.ts_open => None,
            _ => {
                self.rolling.insert(candle.instrument, candle.clone());
                None
            }
        }
    }

    fn admit(&mut self, candle: CandleV1) -> Option<CandleV1> {
        if candle.interval != ONE_MINUTE
            || candle.ts_event.nanos_since(candle.ts_open) != MINUTE_NANOS
        {
            return None;
        }
        match self.last_closed.get(&candle.instrument) {
            Some(last) if candle.ts_open <= *last => None,
            _ => {
                self.last_closed.insert(candle.instrument, candle.ts_open);
                Some(candle)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::contracts::TickV1;
    use neo_domain::{Price, Quantity};
    use proptest::prelude::*;

    use super::*;

    fn at(minute: i64) -> Timestamp {
        Timestamp::from_unix_secs(1_700_000_040 + minute * 60).unwrap()
    }

    fn bar(minute: i64, close: i64) -> CandleV1 {
        let p = Price::from_int(close).unwrap();
        CandleV1 {
            instrument: InstrumentId::new("BTC-USDT").unwrap(),
            interval: "1m".to_owned(),
            ts_open: at(minute),
            ts_event: at(minute + 1),
            open: p,
            high: p,
            low: p,
            close: p,
            volume: Quantity::from_int(1).unwrap(),
        }
    }

    fn event(candle: CandleV1, closed: bool) -> MarketEvent {
        MarketEvent::Candle { candle, closed }
    }

    #[test]
    fn closed_bars_pass_once_and_in_order() {
        let mut book = CandleBook::new(CandleSource::VenueClosed);
        assert_eq!(book.on_event(&event(bar(0, 10), false)), None);
        assert_eq!(book.on_event(&event(bar(0, 11), true)), Some(bar(0, 11)));
        assert_eq!(book.on_event(&event(bar(0, 11), true)), None);
        let backfill = book.on_backfill(vec![bar(0, 11), bar(1, 12), bar(2, 13)]);
        assert_eq!(backfill, vec![bar(1, 12), bar(2, 13)]);
        assert_eq!(book.resume_from(bar(0, 1).instrument, at(-100)), at(3));
        assert_eq!(book.on_event(&event(bar(1, 12), true)), None);
    }

    #[test]
    fn a_rolling_bar_closes_when_the_next_one_starts() {
        let mut book = CandleBook::new(CandleSource::VenueRolling);
        assert_eq!(book.on_event(&event(bar(0, 10), false)), None);
        assert_eq!(book.on_event(&event(bar(0, 12), false)), None);
        assert_eq!(book.on_event(&event(bar(1, 13), false)), Some(bar(0, 12)));
        let mut five = bar(2, 1);
        five.interval = "5m".to_owned();
        assert_eq!(book.on_event(&event(five, false)), None);
    }

    #[test]
    fn trades_build_bars_and_quotes_do_not() {
        let mut book = CandleBook::new(CandleSource::Trades);
        let tick = |secs: i64, price: i64, size: i64| {
            MarketEvent::Tick(TickV1 {
                instrument: InstrumentId::new("BTC-USDT").unwrap(),
                price: Price::from_int(price).unwrap(),
                size: Quantity::from_int(size).unwrap(),
                bid: None,
                ask: None,
                ts_event: at(0).add_nanos(secs * 1_000_000_000),
            })
        };
        assert_eq!(book.on_event(&tick(1, 10, 1)), None);
        assert_eq!(book.on_event(&tick(2, 99, 0)), None);
        assert_eq!(book.on_event(&tick(30, 12, 2)), None);
        let closed = book.on_event(&tick(61, 11, 1)).unwrap();
        assert_eq!(closed.high, Price::from_int(12).unwrap());
        assert_eq!(closed.volume, Quantity::from_int(3).unwrap());
    }

    proptest! {
        /// Whatever mix of stream and backfill, bars leave strictly in order, each once.
        #[test]
        fn bars_leave_strictly_increasing(steps in prop::collection::vec((0i64..30, any::<bool>()), 0..80)) {
            let mut book = CandleBook::new(CandleSource::VenueClosed);
            let mut out = Vec::new();
            for (minute, backfill) in steps {
                if backfill {
                    out.extend(book.on_backfill(vec![bar(minute, 1), bar(minute + 1, 1)]));
                } else if let Some(c) = book.on_event(&event(bar(minute, 1), true)) {
                    out.push(c);
                }
            }
            prop_assert!(out.windows(2).all(|w| w[0].ts_open < w[1].ts_open));
        }
    }
}
