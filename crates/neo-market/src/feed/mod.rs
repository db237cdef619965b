//! The live feed from one venue: REST candle history first (so indicators are
//! warm), then the WebSocket stream, read into normalized events for a
//! [`MarketSink`]. A lost connection (an error, a close, no frame at all for
//! `silence`, or a ping of ours unanswered for `pong_timeout`) is reconnected
//! after a jittered, doubling pause; each (re)connection subscribes again and
//! backfills the candles missed since the newest closed one; a gap in the
//! venue's sequence numbers backfills too. A message that cannot be read is
//! noted with its outcome and skipped.

mod rest;
mod session;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Price, Timestamp};
use tokio::sync::watch;

pub use rest::RestError;

use crate::candles::CandleBook;
use crate::event::MarketEvent;
use crate::venue::Venue;
use crate::watch::{Gap, Sequence};
use rest::Rest;
use session::Ended;

/// Where the feed reads the time (the pipeline's clock; a test's fixed one).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The first pause after a lost connection; it doubles up to `max_backoff`.
/// With the jitter on top, at most one connection a second: inside Binance's
/// 300 per 5 minutes per IP, the strictest of the three.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// How one venue's feed connects and what it reads.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// The venue.
    pub venue: Venue,
    /// Its WebSocket base URL.
    pub ws_url: String,
    /// Its REST base URL.
    pub rest_url: String,
    /// What to subscribe to.
    pub instruments: Vec<InstrumentId>,
    /// How much candle history to fetch at start.
    pub warmup: Duration,
    /// A connection that delivers no frame (data, ping or pong) for this long is dropped and reconnected.
    pub silence: Duration,
    /// How often NEO pings the venue (keeps idle paths open, finds dead ones).
    pub ping_every: Duration,
    /// A ping of ours unanswered this long means a dead connection (reconnected),
    /// even while the venue still sends: the path back to it is gone.
    pub pong_timeout: Duration,
    /// The longest pause between reconnection attempts.
    pub max_backoff: Duration,
}

impl FeedConfig {
    /// The venue's public endpoints, an hour of warm-up, 30 s of silence (Binance
    /// pings every 20 s), pings every 10 s, each answered within 10 s.
    pub fn new(venue: Venue, instruments: Vec<InstrumentId>) -> Self {
        FeedConfig {
            venue,
            ws_url: venue.default_ws_url().to_owned(),
            rest_url: venue.default_rest_url().to_owned(),
            instruments,
            warmup: Duration::from_secs(3_600),
            silence: Duration::from_secs(30),
            ping_every: Duration::from_secs(10),
            pong_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// What happened on a feed, besides its data (for metrics, logs and health).
#[derive(Debug, Clone, PartialEq)]
pub enum FeedNote {
    /// A message was read (`ok`) or skipped (the [`crate::event::ReadError::outcome`]).
    Message {
        /// `ok`, `not_json`, `unknown`, `malformed` or `venue_error`.
        outcome: &'static str,
    },
    /// Connected and subscribed.
    Connected,
    /// A connection failed or was lost; a reconnection follows.
    Disconnected {
        /// Why.
        reason: String,
        /// While connecting, or after connecting.
        phase: Phase,
    },
    /// The venue's sequence numbers skipped: candles are backfilled.
    Gap(Gap),
    /// Missed candles fetched over REST after a (re)connection or a gap.
    Backfilled {
        /// For which instrument.
        instrument: InstrumentId,
        /// How many new closed bars.
        candles: usize,
    },
    /// A backfill failed; the stream goes on and the next one tries again.
    BackfillFailed {
        /// Why.
        reason: String,
    },
    /// The venue's REST API throttled a request (`429`/`418`, or Kraken's
    /// rate-limit error in a `200`): waited out.
    Throttled,
}

/// When a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before it was connected and subscribed.
    Connecting,
    /// After: an established connection was lost.
    Streaming,
}

impl Phase {
    /// The `phase` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Streaming => "streaming",
        }
    }
}

/// Where a feed's output goes (the pipeline's market share and bus, a test's recorder).
pub trait MarketSink: Send + Sync + 'static {
    /// Ticks, trades and closed one-minute candles, in the order they were read.
    fn events(&self, venue: Venue, events: Vec<MarketEvent>);
    /// Everything else that happened.
    fn note(&self, venue: Venue, note: FeedNote);
}

/// One venue's feed.
pub struct Feed {
    config: FeedConfig,
    clock: Clock,
    book: CandleBook,
    rest: Rest,
    quotes: BTreeMap<InstrumentId, (Price, Price)>,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("config", &self.config)
            .finish()
    }
}

impl Feed {
    /// A feed on `config`, not yet connected.
    pub fn new(config: FeedConfig, clock: Clock) -> Self {
        let book = CandleBook::new(config.venue.candle_source());
        let rest = Rest::new(config.venue, config.rest_url.clone());
        Feed {
            config,
            clock,
            book,
            rest,
            quotes: BTreeMap::new(),
        }
    }

    /// The venue.
    pub fn venue(&self) -> Venue {
        self.config.venue
    }

    /// The warm-up history of every instrument over REST, oldest first per
    /// instrument, and a problem per instrument whose history could not be had.
    pub async fn warm_up(&mut self) -> (Vec<CandleV1>, Vec<RestError>) {
        let start = self.warmup_start();
        let mut history = Vec::new();
        let mut problems = Vec::new();
        for instrument in self.config.instruments.clone() {
            let clock = self.clock.clone();
            match self.rest.candles(instrument, start, move || clock()).await {
                Ok(bars) => history.extend(self.book.on_backfill(bars)),
                Err(e) => problems.push(e),
            }
        }
        (history, problems)
    }

    /// Each instrument's increments as the venue lists them, and a problem per
    /// instrument whose listing could not be had (the caller keeps its presets).
    pub async fn increments(
        &mut self,
    ) -> (
        BTreeMap<InstrumentId, crate::listing::Increments>,
        Vec<RestError>,
    ) {
        let mut found = BTreeMap::new();
        let mut problems = Vec::new();
        for instrument in self.config.instruments.clone() {
            match self.rest.increments(instrument).await {
                Ok(i) => {
                    found.insert(instrument, i);
                }
                Err(e) => problems.push(e),
            }
        }
        (found, problems)
    }

    /// Streams until `shutdown` turns true, reconnecting whenever the connection is lost.
    pub async fn run(mut self, sink: Arc<dyn MarketSink>, mut shutdown: watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            if *shutdown.borrow() {
                return;
            }
            let (reason, read, phase) = match session::run(&mut self, &*sink, &mut shutdown).await {
                Ended::Shutdown => return,
                Ended::Lost {
                    reason,
                    read,
                    phase,
                } => (reason, read, phase),
            };
            tracing::warn!(venue = %self.config.venue, %reason, read, phase = phase.as_str(), "market feed connection failed; reconnecting");
            sink.note(self.config.venue, FeedNote::Disconnected { reason, phase });
            // A connection that delivered data was healthy: start the pauses over.
            failures = if read > 0 {
                1
            } else {
                failures.saturating_add(1)
            };
            let pause = jittered(backoff(failures, self.config.max_backoff));
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    fn warmup_start(&self) -> Timestamp {
        let nanos = i64::try_from(self.config.warmup.as_nanos()).unwrap_or(i64::MAX);
        (self.clock)().add_nanos(nanos.saturating_neg())
    }

    /// Fetches every instrument's closed candles since its newest one, for the sink.
    async fn catch_up(&mut self, sink: &dyn MarketSink) {
        let fallback = self.warmup_start();
        let throttled = self.rest.throttled;
        for instrument in self.config.instruments.clone() {
            let from = self.book.resume_from(instrument, fallback);
            let clock = self.clock.clone();
            match self.rest.candles(instrument, from, move || clock()).await {
                Ok(bars) => {
                    let fresh = self.book.on_backfill(bars);
                    let candles = fresh.len();
                    if candles > 0 {
                        let events = fresh
                            .into_iter()
                            .map(|candle| MarketEvent::Candle {
                                candle,
                                closed: true,
                            })
                            .collect();
                        sink.events(self.config.venue, events);
                    }
                    sink.note(
                        self.config.venue,
                        FeedNote::Backfilled {
                            instrument,
                            candles,
                        },
                    );
                }
                Err(e) => {
                    tracing::warn!(venue = %self.config.venue, error = %e, "candle backfill failed");
                    let reason = e.to_string();
                    sink.note(self.config.venue, FeedNote::BackfillFailed { reason });
                }
            }
        }
        for _ in throttled..self.rest.throttled {
            sink.note(self.config.venue, FeedNote::Throttled);
        }
    }

    /// Reads one text message into the sink; the gap it revealed, if any.
    fn on_text(&mut self, text: &str, sink: &dyn MarketSink, seq: &mut Sequence) -> Option<Gap> {
        let venue = self.config.venue;
        let read = match venue.read(text, (self.clock)()) {
            Ok(read) => read,
            Err(e) => {
                tracing::debug!(%venue, error = %e, "skipped a market message");
                sink.note(
                    venue,
                    FeedNote::Message {
                        outcome: e.outcome(),
                    },
                );
                return None;
            }
        };
        sink.note(venue, FeedNote::Message { outcome: "ok" });
        let gap = read.sequence.and_then(|s| seq.observe(s));
        let mut out = Vec::with_capacity(read.events.len() + 1);
        for mut event in read.events {
            self.quote(&mut event);
            let closed = self.book.on_event(&event);
            if !matches!(event, MarketEvent::Candle { .. }) {
                out.push(event);
            }
            if let Some(candle) = closed {
                out.push(MarketEvent::Candle {
                    candle,
                    closed: true,
                });
            }
        }
        if !out.is_empty() {
            sink.events(venue, out);
        }
        gap
    }
}

impl Feed {
    /// Remembers each quote, and gives a trade tick inside the standing quote
    /// its bid and ask, so a paper order fills at the book, not the last print.
    fn quote(&mut self, event: &mut MarketEvent) {
        let MarketEvent::Tick(tick) = event else {
            return;
        };
        match (tick.bid, tick.ask) {
            (Some(bid), Some(ask)) => {
                self.quotes.insert(tick.instrument, (bid, ask));
            }
            (None, None) => {
                if let Some(&(bid, ask)) = self.quotes.get(&tick.instrument)
                    && bid <= tick.price
                    && tick.price <= ask
                {
                    tick.bid = Some(bid);
                    tick.ask = Some(ask);
                }
            }
            _ => {}
        }
    }
}

/// 1 s doubling per failure, capped.
fn backoff(failures: u32, max: Duration) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(10);
    (FIRST_BACKOFF * factor).min(max)
}

/// `d` plus up to half of it again, so many clients do not come back in step
/// (never less than `d`: the pause is also the connection rate limit).
fn jittered(d: Duration) -> Duration {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let thousandths = u32::try_from(random % 1_000).unwrap_or(0);
    d + d * thousandths / 2_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_to_the_cap_and_jitter_adds_at_most_half() {
        let max = Duration::from_secs(30);
        assert_eq!(backoff(1, max), Duration::from_secs(1));
        assert_eq!(backoff(2, max), Duration::from_secs(2));
        assert_eq!(backoff(6, max), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX, max), Duration::from_secs(30));
        for _ in 0..200 {
            let j = jittered(Duration::from_secs(10));
            assert!(j >= Duration::from_secs(10) && j <= Duration::from_secs(15));
        }
    }
}
