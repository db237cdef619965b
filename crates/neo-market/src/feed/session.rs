//! One WebSocket connection to a venue: connect (bounded in time), subscribe,
//! backfill what was missed, then read until the connection errs, closes, or
//! is judged dead. Any frame from the venue (text, binary, ping or pong) is a
//! sign of life; the venue's pings are answered by the WebSocket layer as it
//! reads (tungstenite queues the pong and writes it on the next read). Our own
//! pings go out on a timer, and one left unanswered past `pong_timeout` is a
//! dead connection even while the venue still sends (a half-open path).

use std::time::Duration;

use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Feed, FeedNote, MarketSink, Phase};
use crate::watch::Sequence;

/// How long a connection (TCP, TLS and the upgrade) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

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

/// When a connection is due to be judged dead: silence since the last frame
/// heard, or the oldest of our pings still unanswered. Pure on the instants given.
#[derive(Debug, Clone, Copy)]
pub(super) struct Liveness {
    silence: Duration,
    pong_timeout: Duration,
    heard: Instant,
    pong_due: Option<Instant>,
}

impl Liveness {
    /// A connection heard from at `now`, with no ping out.
    pub(super) fn new(silence: Duration, pong_timeout: Duration, now: Instant) -> Self {
        Liveness {
            silence,
            pong_timeout,
            heard: now,
            pong_due: None,
        }
    }

    /// Any frame from the venue arrived at `now`.
    pub(super) fn heard(&mut self, now: Instant) {
        self.heard = now;
    }

    /// A pong arrived at `now`: every ping out is answered.
    pub(super) fn ponged(&mut self, now: Instant) {
        self.heard = now;
        self.pong_due = None;
    }

    /// We pinged at `now`; the oldest unanswered ping keeps its deadline.
    pub(super) fn pinged(&mut self, now: Instant) {
        self.pong_due.get_or_insert(now + self.pong_timeout);
    }

    /// The next instant the connection is judged dead, and why it would be.
    pub(super) fn deadline(&self) -> (Instant, String) {
        let silent_at = self.heard + self.silence;
        match self.pong_due {
            Some(due) if due < silent_at => {
                let secs = self.pong_timeout.as_secs_f64();
                (due, format!("no pong to our ping within {secs} s"))
            }
            _ => {
                let secs = self.silence.as_secs_f64();
                (silent_at, format!("no message for {secs} s"))
            }
        }
    }
}

/// Connects, subscribes, backfills and reads until the connection ends.
pub(super) async fn run(
    feed: &mut Feed,
    sink: &dyn MarketSink,
    shutdown: &mut watch::Receiver<bool>,
) -> Ended {
    let (mut tx, rx) = match connect(feed, shutdown).await {
        Ok(halves) => halves,
        Err(ended) => return ended,
    };
    let venue = feed.config.venue;
    sink.note(venue, FeedNote::Connected);
    // Subscribed first, so what arrives during the backfill waits in the socket.
    feed.catch_up(sink).await;
    let ended = stream(feed, sink, shutdown, &mut tx, rx).await;
    if matches!(ended, Ended::Shutdown) {
        let _ = tx.send(Message::Close(None)).await;
    }
    ended
}

/// Opens the connection and sends the venue's subscriptions.
async fn connect(
    feed: &Feed,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(SplitSink<Socket, Message>, SplitStream<Socket>), Ended> {
    let venue = feed.config.venue;
    let url = venue.stream_url(&feed.config.ws_url, &feed.config.instruments);
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(&url));
    let ws = tokio::select! {
        r = connect => match r {
            Ok(Ok((ws, _))) => ws,
            Ok(Err(e)) => return Err(failed(format!("cannot connect to {url}: {e}"))),
            Err(_) => return Err(failed(format!("no connection to {url} within {} s", CONNECT_TIMEOUT.as_secs()))),
        },
        _ = shutdown.changed() => return Err(Ended::Shutdown),
    };
    let (mut tx, rx) = ws.split();
    for subscription in venue.subscriptions(&feed.config.instruments) {
        if let Err(e) = tx.send(Message::text(subscription)).await {
            return Err(failed(format!("subscribing: {e}")));
        }
    }
    tracing::info!(%venue, %url, "market feed connected");
    Ok((tx, rx))
}

/// Reads frames, pings on the timer, and judges liveness until the connection ends.
async fn stream(
    feed: &mut Feed,
    sink: &dyn MarketSink,
    shutdown: &mut watch::Receiver<bool>,
    tx: &mut SplitSink<Socket, Message>,
    mut rx: SplitStream<Socket>,
) -> Ended {
    let venue = feed.config.venue;
    let mut sequence = Sequence::default();
    let every = feed.config.ping_every;
    let mut ping = tokio::time::interval_at(Instant::now() + every, every);
    let mut live = Liveness::new(
        feed.config.silence,
        feed.config.pong_timeout,
        Instant::now(),
    );
    let mut read = 0u64;
    loop {
        let (dead_at, why) = live.deadline();
        tokio::select! {
            _ = shutdown.changed() => return Ended::Shutdown,
            _ = ping.tick() => {
                if let Err(e) = tx.send(Message::Ping(Vec::new().into())).await {
                    return lost(format!("ping: {e}"), read);
                }
                live.pinged(Instant::now());
            }
            () = tokio::time::sleep_until(dead_at) => return lost(why, read),
            next = rx.next() => match next {
                None => return lost("the venue closed the connection", read),
                Some(Err(e)) => return lost(e.to_string(), read),
                Some(Ok(Message::Text(text))) => {
                    live.heard(Instant::now());
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
                Some(Ok(Message::Pong(_))) => live.ponged(Instant::now()),
                // A ping is answered on the next read; binary and raw frames carry no data but show life.
                Some(Ok(_)) => live.heard(Instant::now()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_or_an_unanswered_ping_whichever_comes_first() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut live = Liveness::new(s(30), s(5), t0);
        assert_eq!(live.deadline().0, t0 + s(30));
        live.heard(t0 + s(20));
        assert_eq!(live.deadline().0, t0 + s(50));
        live.pinged(t0 + s(21));
        live.pinged(t0 + s(24));
        let (at, why) = live.deadline();
        assert_eq!(at, t0 + s(26), "the oldest unanswered ping counts");
        assert!(why.contains("pong"), "{why}");
        live.heard(t0 + s(25));
        assert_eq!(live.deadline().0, t0 + s(26), "data does not answer a ping");
        live.ponged(t0 + s(25));
        let (at, why) = live.deadline();
        assert_eq!(at, t0 + s(55));
        assert!(why.contains("no message"), "{why}");
        // A ping due after the silence limit leaves silence the judge.
        live.pinged(t0 + s(54));
        assert_eq!(live.deadline().0, t0 + s(55));
    }
}
