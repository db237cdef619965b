//! One WebSocket connection to a venue: connect (bounded in time), subscribe,
//! backfill what was missed, then read until the connection errs, closes, or
//! stays silent past the limit. Pings go out on a timer; the venue's pings are
//! answered by the WebSocket layer as it reads.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::{Feed, FeedNote, MarketSink, Phase};
use crate::watch::Sequence;

/// How long a connection (TCP, TLS and the upgrade) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How a connection ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// NEO is stopping.
    Shutdown,
    /// The connection is gone.
    Lost {
        /// Why.
        reason: String,
        /// Messages it delivered.
        read: u64,
        /// Whether it had connected.
        phase: Phase,
    },
}

fn failed(reason: impl Into<String>) -> Ended {
    Ended::Lost {
        reason: reason.into(),
        read: 0,
        phase: Phase::Connecting,
    }
}

fn lost(reason: impl Into<String>, read: u64) -> Ended {
    Ended::Lost {
        reason: reason.into(),
        read,
        phase: Phase::Streaming,
    }
}

/// Connects, subscribes, backfills and reads until the connection ends.
pub(super) async fn run(
    feed: &mut Feed,
    sink: &dyn MarketSink,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let venue = feed.config.venue;
    let url = venue.stream_url(&feed.config.ws_url, &feed.config.instruments);
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(&url));
    let ws = tokio::select! {
        r = connect => match r {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return failed(format!("cannot connect to {url}: {e}")),
            Err(_) => return failed(format!("no connection to {url} within {} s", CONNECT_TIMEOUT.as_secs())),
        },
        _ = shutdown.changed() => return Ended::Shutdown,
    };
    let (mut tx, mut rx) = ws.split();
    for subscription in venue.subscriptions(&feed.config.instruments) {
        if let Err(e) = tx.send(Message::text(subscription)).await {
            return failed(format!("subscribing: {e}"));
        }
    }
    tracing::info!(%venue, %url, "market feed connected");
    sink.note(venue, FeedNote::Connected);
    // Subscribed first, so what arrives during the backfill waits in the socket.
    feed.catch_up(sink).await;

    let mut sequence = Sequence::default();
    let mut ping = tokio::time::interval_at(
        Instant::now() + feed.config.ping_every,
        feed.config.ping_every,
    );
    let mut heard = Instant::now();
    let mut read = 0u64;
    loop {
        let silent_at = heard + feed.config.silence;
        tokio::select! {
            _ = shutdown.changed() => {
                let _ = tx.send(Message::Close(None)).await;
                return Ended::Shutdown;
            }
            _ = ping.tick() => {
                if let Err(e) = tx.send(Message::Ping(Vec::new().into())).await {
                    return lost(format!("ping: {e}"), read);
                }
            }
            () = tokio::time::sleep_until(silent_at) => {
                let secs = feed.config.silence.as_secs_f64();
                return lost(format!("no message for {secs} s"), read);
            }
            next = rx.next() => match next {
                None => return lost("the venue closed the connection", read),
                Some(Err(e)) => return lost(e.to_string(), read),
                Some(Ok(Message::Text(text))) => {
                    heard = Instant::now();
                    read += 1;
                    if let Some(gap) = feed.on_text(text.as_str(), sink, &mut sequence) {
                        tracing::warn!(%venue, expected = gap.expected, got = gap.got, "sequence gap; backfilling candles");
                        sink.note(venue, FeedNote::Gap(gap));
                        feed.catch_up(sink).await;
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map_or_else(String::new, |f| format!(": {} {}", f.code, f.reason));
                    return lost(format!("the venue closed the connection{why}"), read);
                }
                // Pings are answered as the stream is read; pongs and binary frames carry no data.
                Some(Ok(_)) => {}
            },
        }
    }
}
