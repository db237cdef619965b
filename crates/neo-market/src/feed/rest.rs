//! Candle history over a venue's public REST API: paged from a start time up
//! to now, each request spaced by the venue's limit, a `429` or `418` (or
//! Kraken's `EAPI:Rate limit exceeded`, sent with a `200`) waited out for as
//! long as its `Retry-After` says (else a doubling pause), a `5xx` or an
//! unreachable venue retried a few times before giving up.

use std::time::Duration;

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use tokio::time::Instant;

use crate::event::ReadError;
use crate::venue::{MINUTE_NANOS, Venue};

/// Attempts per request before the backfill gives up (the stream goes on).
const ATTEMPTS: u32 = 4;
/// Pages per instrument in one backfill (Binance: 16,000 minutes, 11 days).
const MAX_PAGES: usize = 16;
/// The longest `Retry-After` honoured; a longer one gives up this backfill.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// One request's deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a backfill stopped short.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    /// The venue could not be reached or did not answer in time.
    #[error("{url}: {source}")]
    Unreachable {
        /// The request.
        url: String,
        /// What the client saw.
        #[source]
        source: reqwest::Error,
    },
    /// The venue kept answering with an error status.
    #[error("{url}: HTTP {status}")]
    Status {
        /// The request.
        url: String,
        /// The last status.
        status: u16,
    },
    /// The venue kept saying, in its answer's body, that it is throttling us (Kraken).
    #[error("{url}: throttled: {message}")]
    Throttled {
        /// The request.
        url: String,
        /// The venue's error.
        message: String,
    },
    /// The answer could not be read as candles.
    #[error("{url}: {source}")]
    Read {
        /// The request.
        url: String,
        /// What was wrong with it.
        #[source]
        source: ReadError,
    },
}

/// A venue's REST API, asked no faster than its limit allows.
#[derive(Debug)]
pub(crate) struct Rest {
    venue: Venue,
    base: String,
    http: reqwest::Client,
    next_allowed: Instant,
    /// Requests throttled: `429`/`418`, or Kraken's rate-limit error (for the feed's notes).
    pub(crate) throttled: u64,
}

impl Rest {
    pub(crate) fn new(venue: Venue, base: String) -> Self {
        Rest {
            venue,
            base,
            http: reqwest::Client::new(),
            next_allowed: Instant::now(),
            throttled: 0,
        }
    }

    /// Closed one-minute bars of `instrument` opening at `from` or later, up to `now`, oldest first.
    pub(crate) async fn candles(
        &mut self,
        instrument: InstrumentId,
        mut from: Timestamp,
        now: impl Fn() -> Timestamp,
    ) -> Result<Vec<CandleV1>, RestError> {
        let mut bars: Vec<CandleV1> = Vec::new();
        for _ in 0..MAX_PAGES {
            let at = now();
            if at.nanos_since(from) < MINUTE_NANOS {
                break;
            }
            let url = self.venue.candles_url(&self.base, instrument, from, at);
            let body = self.get(&url).await?;
            let page = self
                .venue
                .read_candles(&body, instrument, now())
                .map_err(|source| RestError::Read {
                    url: url.clone(),
                    source,
                })?;
            let fresh: Vec<CandleV1> = page.into_iter().filter(|c| c.ts_open >= from).collect();
            let Some(last) = fresh.last().map(|c| c.ts_open) else {
                break;
            };
            bars.extend(fresh);
            from = last.add_nanos(MINUTE_NANOS);
        }
        Ok(bars)
    }

    /// `instrument`'s increments as the venue lists them.
    pub(crate) async fn increments(
        &mut self,
        instrument: InstrumentId,
    ) -> Result<crate::listing::Increments, RestError> {
        let url = self.venue.listing_url(&self.base, instrument);
        let body = self.get(&url).await?;
        self.venue
            .read_listing(&body, instrument)
            .map_err(|source| RestError::Read { url, source })
    }

    async fn get(&mut self, url: &str) -> Result<String, RestError> {
        let mut pause = Duration::from_millis(500);
        let mut last = None;
        for _ in 0..ATTEMPTS {
            tokio::time::sleep_until(self.next_allowed).await;
            self.next_allowed = Instant::now() + self.venue.rest_spacing();
            match self.attempt(url).await {
                Attempt::Answer(body) => return Ok(body),
                Attempt::Throttled { wait, error } => {
                    self.throttled += 1;
                    let wait = wait.unwrap_or(pause);
                    if wait > MAX_RETRY_AFTER {
                        return Err(error);
                    }
                    // The venue's own word on when to come back holds for every later request
                    // too; never sooner than the venue's spacing.
                    self.next_allowed = self.next_allowed.max(Instant::now() + wait);
                    last = Some(error);
                }
                Attempt::Retry(error) => {
                    last = Some(error);
                    tokio::time::sleep(pause).await;
                }
            }
            pause *= 2;
        }
        Err(last.unwrap_or(RestError::Status {
            url: url.to_owned(),
            status: 0,
        }))
    }

    /// One request, and what to do about its answer.
    async fn attempt(&self, url: &str) -> Attempt {
        let status_error = |status| RestError::Status {
            url: url.to_owned(),
            status,
        };
        let response = match self.http.get(url).timeout(REQUEST_TIMEOUT).send().await {
            Ok(r) => r,
            Err(source) => {
                let url = url.to_owned();
                return Attempt::Retry(RestError::Unreachable { url, source });
            }
        };
        let status = response.status().as_u16();
        if status == 429 || status == 418 {
            let wait = retry_after(&response);
            let error = status_error(status);
            return Attempt::Throttled { wait, error };
        }
        if response.status().is_server_error() {
            return Attempt::Retry(status_error(status));
        }
        // A 4xx other than throttling carries the venue's error in its body: read it.
        let body = match response.text().await {
            Ok(body) => body,
            Err(source) => {
                let url = url.to_owned();
                return Attempt::Retry(RestError::Unreachable { url, source });
            }
        };
        match self.venue.throttled_body(&body) {
            Some(message) => Attempt::Throttled {
                wait: None,
                error: RestError::Throttled {
                    url: url.to_owned(),
                    message,
                },
            },
            None => Attempt::Answer(body),
        }
    }
}

/// What one request came to.
enum Attempt {
    /// A body to read (candles, a listing, or the venue's error).
    Answer(String),
    /// The venue asked us to slow down (for `wait`, when it said).
    Throttled {
        wait: Option<Duration>,
        error: RestError,
    },
    /// Unreachable, a `5xx` or a cut answer: try again after a pause.
    Retry(RestError),
}

/// `Retry-After` in seconds, as both Binance and Coinbase send it.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let secs: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs))
}
