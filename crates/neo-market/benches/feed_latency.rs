//! A feed's latency from the socket to the desk's side of the feed: a local
//! WebSocket server sends Binance `bookTicker` messages (10 every millisecond,
//! 10,000 a second) and the time from just before each frame is written to
//! when its tick reaches the sink (what the desk reads) is recorded. Reading,
//! parsing, normalizing, the candle book and the sink call are all inside.
//! `cargo bench -p neo-market --bench feed_latency`.

// A benchmark program: timing needs the wall clock, and a failed setup should stop it loudly.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::cast_precision_loss
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::SinkExt;
use hdrhistogram::Histogram;
use neo_domain::{InstrumentId, Timestamp};
use neo_market::event::MarketEvent;
use neo_market::feed::{Feed, FeedConfig, FeedNote, MarketSink};
use neo_market::venue::Venue;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const MESSAGES: usize = 50_000;
const PER_MS: usize = 10;

struct Stamps {
    sent: Mutex<Vec<Option<Instant>>>,
    got: Mutex<Vec<Option<Instant>>>,
}

impl MarketSink for Stamps {
    fn events(&self, _venue: Venue, events: Vec<MarketEvent>) {
        let now = Instant::now();
        let mut got = self.got.lock().unwrap();
        for e in events {
            if let MarketEvent::Tick(t) = e
                && let Some(bid) = t.bid
            {
                let i = bid.to_string().parse::<usize>().unwrap() - 1;
                got[i] = Some(now);
            }
        }
    }
    fn note(&self, _venue: Venue, _note: FeedNote) {}
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp::from_nanos(i64::try_from(d.as_nanos()).unwrap())
}

async fn serve(listener: TcpListener, stamps: Arc<Stamps>) {
    let (tcp, _) = listener.accept().await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut i = 0;
    while i < MESSAGES {
        tick.tick().await;
        for _ in 0..PER_MS.min(MESSAGES - i) {
            let text = format!(
                r#"{{"stream":"btcusdt@bookTicker","data":{{"u":{i},"s":"BTCUSDT","b":"{}","B":"1","a":"{}","A":"1"}}}}"#,
                i + 1,
                i + 2
            );
            stamps.sent.lock().unwrap()[i] = Some(Instant::now());
            ws.send(Message::text(text)).await.unwrap();
            i += 1;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stamps = Arc::new(Stamps {
        sent: Mutex::new(vec![None; MESSAGES]),
        got: Mutex::new(vec![None; MESSAGES]),
    });
    let server = tokio::spawn(serve(listener, stamps.clone()));
    let config = FeedConfig {
        ws_url: format!("ws://{addr}"),
        rest_url: "http://127.0.0.1:9".to_owned(),
        warmup: Duration::ZERO,
        ..FeedConfig::new(Venue::Binance, vec![InstrumentId::new("BTC-USDT").unwrap()])
    };
    let feed = Feed::new(config, Arc::new(now));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let sink: Arc<dyn MarketSink> = stamps.clone();
    let run = tokio::spawn(feed.run(sink, rx));
    let started = Instant::now();
    server.await.unwrap();
    let elapsed = started.elapsed();
    stop.send(true).unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(2), run).await;

    let sent = stamps.sent.lock().unwrap();
    let got = stamps.got.lock().unwrap();
    let mut h = Histogram::<u64>::new(3).unwrap();
    let mut missing = 0;
    for (s, g) in sent.iter().zip(got.iter()) {
        match (s, g) {
            (Some(s), Some(g)) => h
                .record(g.saturating_duration_since(*s).as_nanos() as u64)
                .unwrap(),
            _ => missing += 1,
        }
    }
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "feed socket-to-sink latency, {} bookTicker messages at {}/s over {:.1} s: p50 {:.1} µs, p90 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs; {} not received",
        h.len(),
        PER_MS * 1_000,
        elapsed.as_secs_f64(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1_000.0,
        missing
    );
}
