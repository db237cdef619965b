//! A venue's live feed feeding the share: ticks to the quote board and the
//! desk, closed candles to the desk and the history; what happens to the
//! connection goes to `/metrics`, the log and `/ready`.

use neo_api::metrics::names;
use neo_market::event::MarketEvent;
use neo_market::feed::{FeedNote, MarketSink};
use neo_market::venue::Venue;

use super::MarketShare;

impl MarketSink for MarketShare {
    fn events(&self, _venue: Venue, events: Vec<MarketEvent>) {
        for event in events {
            match event {
                MarketEvent::Tick(tick) => self.push_tick(tick),
                MarketEvent::Candle {
                    candle,
                    closed: true,
                } => self.push_candle(candle),
                // Trades go to the tick sink (issue 15's next part); open bars are not final.
                MarketEvent::Trade(_) | MarketEvent::Candle { .. } => {}
            }
        }
        self.ready.notify_one();
    }

    fn note(&self, venue: Venue, note: FeedNote) {
        let v = venue.name();
        match note {
            FeedNote::Message { outcome } => {
                metrics::counter!(names::MARKET_MESSAGES, "venue" => v, "outcome" => outcome)
                    .increment(1);
            }
            FeedNote::Connected => {
                metrics::gauge!(names::MARKET_CONNECTED, "venue" => v).set(1.0);
                self.update_feed(|f| {
                    f.venue = Some(v.to_owned());
                    f.connected = true;
                });
            }
            FeedNote::Disconnected { reason, phase } => {
                metrics::gauge!(names::MARKET_CONNECTED, "venue" => v).set(0.0);
                let phase = phase.as_str();
                metrics::counter!(names::MARKET_DISCONNECTS, "venue" => v, "phase" => phase)
                    .increment(1);
                self.update_feed(|f| {
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
                self.update_feed(|f| f.last_problem = Some(reason));
            }
            FeedNote::Throttled => {
                metrics::counter!(names::MARKET_REST, "venue" => v, "outcome" => "throttled")
                    .increment(1);
            }
        }
    }
}
