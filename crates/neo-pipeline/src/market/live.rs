//! Where market data goes, whatever its source: ticks to the quote board and
//! the desk, closed candles to the desk and the history, and, over NATS,
//! everything onto the bus. A venue feed's connection notes go to `/metrics`,
//! the log and `/ready`.

use std::sync::Arc;

use neo_api::metrics::names;
use neo_market::event::MarketEvent;
use neo_market::feed::{FeedNote, MarketSink};
use neo_market::venue::Venue;

use super::MarketShare;
use super::archive::Archiver;
use super::publish::Publisher;
use crate::Clock;

/// The one place market data fans out from.
pub struct Fanout {
    /// The desk's and the quote board's share.
    pub share: Arc<MarketShare>,
    /// The bus, when NEO runs over NATS.
    pub publisher: Option<Publisher>,
    /// The Parquet archive (`[market] archive`).
    pub archiver: Option<Archiver>,
    /// For the envelopes' `ts_init`.
    pub clock: Clock,
}

impl Fanout {
    /// Hands `events` from `source` (a venue, or `sim`) to everyone who takes them.
    pub fn deliver(&self, source: &str, events: Vec<MarketEvent>) {
        if let Some(p) = &self.publisher {
            p.publish(source, &events, (self.clock)());
        }
        if let Some(a) = &self.archiver {
            a.archive(source, &events);
        }
        for event in events {
            match event {
                MarketEvent::Tick(tick) => self.share.push_tick(tick),
                MarketEvent::Candle {
                    candle,
                    closed: true,
                } => self.share.push_candle(candle),
                // Trades go to the bus and the archive; open bars are not final.
                MarketEvent::Trade(_) | MarketEvent::Candle { .. } => {}
            }
        }
        self.share.ready.notify_one();
    }
}

impl MarketSink for Fanout {
    fn events(&self, venue: Venue, events: Vec<MarketEvent>) {
        self.deliver(venue.name(), events);
    }

    fn note(&self, venue: Venue, note: FeedNote) {
        let v = venue.name();
        let share = &self.share;
        match note {
            FeedNote::Message { outcome } => {
                metrics::counter!(names::MARKET_MESSAGES, "venue" => v, "outcome" => outcome)
                    .increment(1);
            }
            FeedNote::Connected => {
                metrics::gauge!(names::MARKET_CONNECTED, "venue" => v).set(1.0);
                share.update_feed(|f| {
                    f.venue = Some(v.to_owned());
                    f.connected = true;
                });
            }
            FeedNote::Disconnected { reason, phase } => {
                metrics::gauge!(names::MARKET_CONNECTED, "venue" => v).set(0.0);
                let phase = phase.as_str();
                metrics::counter!(names::MARKET_DISCONNECTS, "venue" => v, "phase" => phase)
                    .increment(1);
                share.update_feed(|f| {
                    f.venue = Some(v.to_owned());
                    f.connected = false;
                    f.last_problem = Some(reason);
                });
            }
            FeedNote::Gap(_) => {
                metrics::counter!(names::MARKET_GAPS, "venue" => v).increment(1);
            }
            FeedNote::Backfilled { candles, .. } => {
                let n = u64::try_from(candles).unwrap_or(u64::MAX);
                metrics::counter!(names::MARKET_BACKFILLED, "venue" => v).increment(n);
            }
            FeedNote::BackfillFailed { reason } => {
                metrics::counter!(names::MARKET_REST, "venue" => v, "outcome" => "failed")
                    .increment(1);
                share.update_feed(|f| f.last_problem = Some(reason));
            }
            FeedNote::Throttled => {
                metrics::counter!(names::MARKET_REST, "venue" => v, "outcome" => "throttled")
                    .increment(1);
            }
        }
    }
}
