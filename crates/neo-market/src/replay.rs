//! A candle history played back as if it were live: each bar becomes the
//! ticks a market would have printed inside it (the open; the extreme nearer
//! the open's side first, so a rising bar dips before it rallies; the other
//! extreme; the close, carrying the bar's volume) at a quarter of its interval
//! apart, and at its end the bar itself, closed. Several instruments
//! interleave by time. Pure: the caller decides when "now" is, so a test or a
//! demo can play an hour in a second.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{Quantity, Timestamp};

use crate::event::MarketEvent;

/// Where one instrument's series is: the bar, and which of its five events is next.
#[derive(Debug)]
struct Cursor {
    bars: Vec<CandleV1>,
    bar: usize,
    phase: u8,
}

/// Events of a bar: four ticks, then the closed candle.
const PHASES: u8 = 5;

impl Cursor {
    fn current(&self) -> Option<&CandleV1> {
        self.bars.get(self.bar)
    }

    /// When the next event happens.
    fn due(&self) -> Option<Timestamp> {
        let bar = self.current()?;
        let span = bar.ts_event.nanos_since(bar.ts_open).max(0);
        Some(bar.ts_open.add_nanos(span / 4 * i64::from(self.phase)))
    }

    /// The next event, moving past it.
    fn take(&mut self) -> Option<MarketEvent> {
        let at = self.due()?;
        let bar = self.current()?;
        let rising = bar.close >= bar.open;
        let (price, size) = match (self.phase, rising) {
            (0, _) => (bar.open, Quantity::ZERO),
            (1, true) | (2, false) => (bar.low, Quantity::ZERO),
            (1, false) | (2, true) => (bar.high, Quantity::ZERO),
            (3, _) => (bar.close, bar.volume),
            _ => {
                let candle = bar.clone();
                self.phase = 0;
                self.bar += 1;
                return Some(MarketEvent::Candle {
                    candle,
                    closed: true,
                });
            }
        };
        let tick = TickV1 {
            instrument: bar.instrument,
            price,
            size,
            bid: None,
            ask: None,
            ts_event: at,
        };
        self.phase = (self.phase + 1) % PHASES;
        Some(MarketEvent::Tick(tick))
    }
}

/// Bars of any number of instruments, played in time order.
#[derive(Debug)]
pub struct Replay {
    cursors: Vec<Cursor>,
    /// The next event's time and its cursor, earliest first (ties: the cursor given first).
    queue: BinaryHeap<Reverse<(Timestamp, usize)>>,
    played: u64,
}

impl Replay {
    /// One series per instrument, each sorted by open time (sorted here if not).
    pub fn new(series: Vec<Vec<CandleV1>>) -> Self {
        let mut cursors = Vec::with_capacity(series.len());
        let mut queue = BinaryHeap::new();
        for mut bars in series {
            bars.sort_by_key(|b| b.ts_open);
            let cursor = Cursor {
                bars,
                bar: 0,
                phase: 0,
            };
            if let Some(at) = cursor.due() {
                queue.push(Reverse((at, cursors.len())));
            }
            cursors.push(cursor);
        }
        Replay {
            cursors,
            queue,
            played: 0,
        }
    }

    /// Every event due at or before `now`, in time order.
    pub fn due(&mut self, now: Timestamp) -> Vec<MarketEvent> {
        let mut out = Vec::new();
        while let Some(&Reverse((at, i))) = self.queue.peek() {
            if at > now {
                break;
            }
            self.queue.pop();
            let Some(cursor) = self.cursors.get_mut(i) else {
                continue;
            };
            if let Some(event) = cursor.take() {
                out.push(event);
                self.played += 1;
            }
            if let Some(next) = cursor.due() {
                self.queue.push(Reverse((next, i)));
            }
        }
        out
    }

    /// When the next event is due, or none when everything has played.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    /// Every bar has played.
    pub fn finished(&self) -> bool {
        self.queue.is_empty()
    }

    /// Events played so far.
    pub fn played(&self) -> u64 {
        self.played
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use neo_domain::{InstrumentId, Price};
    use proptest::prelude::*;

    use super::*;
    use neo_engine::market::CandleAggregator;

    const MINUTE: i64 = 60_000_000_000;

    fn bar(instrument: &str, minute: i64, ohlc: [i64; 4], volume: i64) -> CandleV1 {
        let p = |x: i64| Price::new(neo_domain::Fixed::from_int(x)).unwrap();
        let open = Timestamp::from_nanos(1_699_999_980_000_000_000 + minute * MINUTE);
        CandleV1 {
            instrument: InstrumentId::new(instrument).unwrap(),
            interval: "1m".to_owned(),
            ts_open: open,
            ts_event: open.add_nanos(MINUTE),
            open: p(ohlc[0]),
            high: p(ohlc[1]),
            low: p(ohlc[2]),
            close: p(ohlc[3]),
            volume: Quantity::new(neo_domain::Fixed::from_int(volume)).unwrap(),
        }
    }

    fn prices(events: &[MarketEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                MarketEvent::Tick(t) => t.price.to_string(),
                MarketEvent::Candle { candle, .. } => format!("bar {}", candle.close),
                MarketEvent::Trade(_) => "trade".to_owned(),
            })
            .collect()
    }

    #[test]
    fn a_rising_bar_dips_first_a_falling_one_rallies_first() {
        let up = bar("BTC-USD", 0, [10, 14, 9, 13], 5);
        let down = bar("BTC-USD", 1, [13, 15, 8, 9], 7);
        let mut replay = Replay::new(vec![vec![down.clone(), up.clone()]]);
        let all = replay.due(Timestamp::from_nanos(i64::MAX));
        assert_eq!(
            prices(&all),
            [
                "10", "9", "14", "13", "bar 13", "13", "15", "8", "9", "bar 9"
            ]
        );
        assert!(replay.finished());
        assert_eq!(replay.played(), 10);
        let MarketEvent::Tick(close) = &all[3] else {
            unreachable!()
        };
        assert_eq!(close.size, up.volume);
        assert_eq!(close.ts_event, up.ts_open.add_nanos(MINUTE / 4 * 3));
        assert_eq!(
            all[4],
            MarketEvent::Candle {
                candle: up,
                closed: true
            }
        );
    }

    #[test]
    fn plays_only_what_is_due_and_interleaves_instruments() {
        let a = vec![
            bar("BTC-USD", 0, [1, 2, 1, 2], 1),
            bar("BTC-USD", 1, [2, 3, 2, 3], 1),
        ];
        let b = vec![bar("ETH-USD", 0, [5, 6, 5, 6], 1)];
        let start = a[0].ts_open;
        let mut replay = Replay::new(vec![a, b]);
        assert!(replay.due(start.add_nanos(-1)).is_empty());
        let first = replay.due(start);
        assert_eq!(prices(&first), ["1", "5"]);
        assert_eq!(replay.next_due(), Some(start.add_nanos(MINUTE / 4)));
        let to_end_of_first = replay.due(start.add_nanos(MINUTE));
        // Both bars close at the minute; the next one of BTC opens then too.
        assert_eq!(
            prices(&to_end_of_first),
            ["1", "5", "2", "6", "2", "6", "bar 2", "2", "bar 6"]
        );
    }

    proptest! {
        /// Played through the simulation's candle aggregator, the ticks rebuild every bar
        /// exactly (open, high, low, close), and every event is in time order.
        #[test]
        fn ticks_rebuild_the_bars(raw in proptest::collection::vec((1i64..100, 0i64..20, 0i64..20, 0i64..40), 1..40)) {
            let bars: Vec<CandleV1> = raw
                .iter()
                .enumerate()
                .map(|(i, &(o, up, down, c))| {
                    let (high, low) = (o + up, (o - down).max(1));
                    let close = low + c % (high - low + 1);
                    bar("BTC-USD", i64::try_from(i).unwrap(), [o, high, low, close], 3)
                })
                .collect();
            let mut replay = Replay::new(vec![bars.clone()]);
            let events = replay.due(Timestamp::from_nanos(i64::MAX));
            let mut book = CandleAggregator::new("1m").unwrap();
            let mut last = Timestamp::from_nanos(0);
            let mut rebuilt = Vec::new();
            for e in &events {
                if let MarketEvent::Tick(t) = e {
                    prop_assert!(t.ts_event >= last);
                    last = t.ts_event;
                    if let Some(c) = book.push(t).unwrap() {
                        rebuilt.push(c);
                    }
                }
            }
            // The aggregator closes a bar when the next one's first tick arrives.
            for (got, want) in rebuilt.iter().zip(&bars) {
                prop_assert_eq!((got.open, got.high, got.low, got.close), (want.open, want.high, want.low, want.close));
            }
            prop_assert_eq!(rebuilt.len(), bars.len() - 1);
        }
    }
}
