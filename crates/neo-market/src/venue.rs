//! What differs between venues, as data and pure functions: the venue's name
//! for an instrument, where its stream lives and what subscribes to it, how
//! its messages and candle history read, where its one-minute candles come
//! from, and how fast its public REST API may be asked. The feed
//! ([`crate::feed`]) is the same for all of them.

use std::time::Duration;

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use serde::Deserialize;
use serde_json::json;

use crate::event::{Read, ReadError};

/// An exchange NEO reads public market data from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Venue {
    /// Binance spot: combined streams, `GET /api/v3/klines`.
    Binance,
    /// Coinbase Advanced Trade: channels with sequence numbers, public candles.
    Coinbase,
    /// Kraken WebSocket v2, `GET /0/public/OHLC`.
    Kraken,
}

/// Where a venue's closed one-minute candles come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CandleSource {
    /// The venue marks its one-minute bars closed (Binance `k.x`).
    VenueClosed,
    /// The venue updates the current one-minute bar; the next bar closes it (Kraken).
    VenueRolling,
    /// The venue streams no one-minute bars (Coinbase's are five minutes): built from its trades.
    Trades,
}

/// One-minute candles, in nanoseconds.
pub const MINUTE_NANOS: i64 = 60_000_000_000;

impl Venue {
    /// Every venue, for listings and tests.
    pub const ALL: [Venue; 3] = [Venue::Binance, Venue::Coinbase, Venue::Kraken];

    /// The label in config, metrics and subjects.
    pub fn name(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::Coinbase => "coinbase",
            Venue::Kraken => "kraken",
        }
    }

    /// The public WebSocket endpoint.
    pub fn default_ws_url(self) -> &'static str {
        match self {
            Venue::Binance => "wss://stream.binance.com:9443",
            Venue::Coinbase => "wss://advanced-trade-ws.coinbase.com",
            Venue::Kraken => "wss://ws.kraken.com/v2",
        }
    }

    /// The public REST endpoint.
    pub fn default_rest_url(self) -> &'static str {
        match self {
            Venue::Binance => "https://api.binance.com",
            Venue::Coinbase => "https://api.coinbase.com",
            Venue::Kraken => "https://api.kraken.com",
        }
    }

    /// The shortest pause between two REST requests: well inside each venue's
    /// published public limits (Binance 6,000 weight a minute, a kline page
    /// costing 2; Coinbase 10 public requests a second; Kraken's public
    /// counter, about one a second).
    pub fn rest_spacing(self) -> Duration {
        match self {
            Venue::Binance => Duration::from_millis(100),
            Venue::Coinbase => Duration::from_millis(150),
            Venue::Kraken => Duration::from_millis(1_100),
        }
    }

    /// The most one-minute bars one REST request returns.
    pub fn candle_page(self) -> usize {
        match self {
            Venue::Binance => 1_000,
            Venue::Coinbase => 300,
            Venue::Kraken => 720,
        }
    }

    /// Where the one-minute candles come from.
    pub fn candle_source(self) -> CandleSource {
        match self {
            Venue::Binance => CandleSource::VenueClosed,
            Venue::Kraken => CandleSource::VenueRolling,
            Venue::Coinbase => CandleSource::Trades,
        }
    }

    /// The venue's symbol for `instrument` (`BTC-USDT`: Binance `BTCUSDT`,
    /// Coinbase `BTC-USDT`, Kraken `BTC/USDT`).
    pub fn symbol(self, instrument: InstrumentId) -> String {
        let id = instrument.to_string();
        match self {
            Venue::Binance => id.replace('-', ""),
            Venue::Coinbase => id,
            Venue::Kraken => id.replace('-', "/"),
        }
    }

    /// The URL to connect to for `instruments` (Binance names its streams in the URL).
    pub fn stream_url(self, ws_url: &str, instruments: &[InstrumentId]) -> String {
        let base = ws_url.trim_end_matches('/');
        match self {
            Venue::Binance => {
                let streams: Vec<String> = instruments
                    .iter()
                    .flat_map(|i| {
                        let s = self.symbol(*i).to_ascii_lowercase();
                        [
                            format!("{s}@trade"),
                            format!("{s}@bookTicker"),
                            format!("{s}@kline_1m"),
                        ]
                    })
                    .collect();
                format!("{base}/stream?streams={}", streams.join("/"))
            }
            Venue::Coinbase | Venue::Kraken => base.to_owned(),
        }
    }

    /// The messages to send once connected (Coinbase takes one channel per
    /// message and closes a connection that subscribes to nothing within 5 s).
    pub fn subscriptions(self, instruments: &[InstrumentId]) -> Vec<String> {
        let symbols: Vec<String> = instruments.iter().map(|i| self.symbol(*i)).collect();
        match self {
            Venue::Binance => Vec::new(),
            Venue::Coinbase => ["heartbeats", "ticker", "market_trades"]
                .iter()
                .map(|channel| {
                    json!({ "type": "subscribe", "product_ids": symbols, "channel": channel })
                        .to_string()
                })
                .collect(),
            Venue::Kraken => vec![
                json!({ "method": "subscribe", "params": { "channel": "ticker", "symbol": symbols } })
                    .to_string(),
                json!({ "method": "subscribe", "params": { "channel": "trade", "symbol": symbols, "snapshot": false } })
                    .to_string(),
                json!({ "method": "subscribe", "params": { "channel": "ohlc", "symbol": symbols, "interval": 1 } })
                    .to_string(),
            ],
        }
    }

    /// The events in one WebSocket text message received at `received`.
    pub fn read(self, text: &str, received: Timestamp) -> Result<Read, ReadError> {
        match self {
            Venue::Binance => crate::binance::read(text, received),
            Venue::Coinbase => crate::coinbase::read(text),
            Venue::Kraken => crate::kraken::read(text, received),
        }
    }

    /// The REST request for one-minute bars of `instrument` opening at or after `from`, up to `now`.
    pub fn candles_url(
        self,
        rest_url: &str,
        instrument: InstrumentId,
        from: Timestamp,
        now: Timestamp,
    ) -> String {
        let base = rest_url.trim_end_matches('/');
        let symbol = self.symbol(instrument);
        let from_ms = from.as_nanos().div_euclid(1_000_000);
        let from_s = from.as_nanos().div_euclid(1_000_000_000);
        match self {
            Venue::Binance => format!(
                "{base}/api/v3/klines?symbol={symbol}&interval=1m&startTime={from_ms}&limit={}",
                self.candle_page()
            ),
            Venue::Coinbase => {
                let page_secs = i64::try_from(self.candle_page()).unwrap_or(300) * 60;
                let end = (from_s + page_secs).min(now.as_nanos().div_euclid(1_000_000_000));
                format!(
                    "{base}/api/v3/brokerage/market/products/{symbol}/candles?start={from_s}&end={end}&granularity=ONE_MINUTE"
                )
            }
            // Kraken's REST names pairs without the slash, and Bitcoin XBT.
            Venue::Kraken => {
                let pair = symbol.replace('/', "").replacen("BTC", "XBT", 1);
                // `since` is exclusive: one second earlier keeps the bar opening at `from`.
                format!(
                    "{base}/0/public/OHLC?pair={pair}&interval=1&since={}",
                    from_s - 1
                )
            }
        }
    }

    /// The REST request for `instrument`'s listing (its price and quantity increments).
    pub fn listing_url(self, rest_url: &str, instrument: InstrumentId) -> String {
        let base = rest_url.trim_end_matches('/');
        let symbol = self.symbol(instrument);
        match self {
            Venue::Binance => format!("{base}/api/v3/exchangeInfo?symbol={symbol}"),
            Venue::Coinbase => format!("{base}/api/v3/brokerage/market/products/{symbol}"),
            Venue::Kraken => {
                let pair = symbol.replace('/', "").replacen("BTC", "XBT", 1);
                format!("{base}/0/public/AssetPairs?pair={pair}")
            }
        }
    }

    /// The increments in a listing answer for `instrument`.
    pub fn read_listing(
        self,
        text: &str,
        instrument: InstrumentId,
    ) -> Result<crate::listing::Increments, ReadError> {
        match self {
            Venue::Binance => crate::listing::binance(text, &self.symbol(instrument)),
            Venue::Coinbase => crate::listing::coinbase(text),
            Venue::Kraken => crate::listing::kraken(text),
        }
    }

    /// The venue's word, in a REST answer's body, that it is throttling us
    /// (Kraken says so with HTTP 200; the others with a `429` status).
    pub fn throttled_body(self, text: &str) -> Option<String> {
        match self {
            Venue::Binance | Venue::Coinbase => None,
            Venue::Kraken => crate::backfill::kraken_throttled(text),
        }
    }

    /// The closed bars in a REST answer, oldest first.
    pub fn read_candles(
        self,
        text: &str,
        instrument: InstrumentId,
        now: Timestamp,
    ) -> Result<Vec<CandleV1>, ReadError> {
        let mut bars = match self {
            Venue::Binance => crate::backfill::binance_klines(text, instrument, "1m", now),
            Venue::Coinbase => crate::backfill::coinbase_candles(text, instrument, 60, now),
            Venue::Kraken => crate::backfill::kraken_ohlc(text, instrument, 1, now),
        }?;
        bars.sort_by_key(|c| c.ts_open);
        Ok(bars)
    }
}

impl std::fmt::Display for Venue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn btc() -> InstrumentId {
        InstrumentId::new("BTC-USDT").unwrap()
    }

    #[test]
    fn each_venue_names_the_instrument_its_own_way_and_reads_it_back() {
        assert_eq!(Venue::Binance.symbol(btc()), "BTCUSDT");
        assert_eq!(Venue::Coinbase.symbol(btc()), "BTC-USDT");
        assert_eq!(Venue::Kraken.symbol(btc()), "BTC/USDT");
        let url = Venue::Binance.stream_url("ws://127.0.0.1:9/", &[btc()]);
        assert_eq!(
            url,
            "ws://127.0.0.1:9/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@kline_1m"
        );
        let trade = r#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":5,"p":"100.5","q":"2","T":1700000000000,"m":false}}"#;
        let read = Venue::Binance
            .read(trade, Timestamp::from_unix_millis(1).unwrap())
            .unwrap();
        assert_eq!(read.events.len(), 2);
    }

    #[test]
    fn subscriptions_name_every_instrument_on_every_channel() {
        let eth = InstrumentId::new("ETH-USD").unwrap();
        let cb = Venue::Coinbase.subscriptions(&[btc(), eth]);
        assert_eq!(cb.len(), 3);
        assert!(
            cb.iter()
                .all(|m| m.contains("\"BTC-USDT\"") && m.contains("\"ETH-USD\""))
        );
        let kr = Venue::Kraken.subscriptions(&[btc()]);
        assert!(
            kr.iter()
                .any(|m| m.contains("\"ohlc\"") && m.contains("\"interval\":1"))
        );
        assert!(Venue::Binance.subscriptions(&[btc()]).is_empty());
    }

    #[test]
    fn candle_requests_start_at_the_first_missing_bar() {
        let from = Timestamp::from_unix_secs(1_700_000_040).unwrap();
        let now = Timestamp::from_unix_secs(1_700_000_400).unwrap();
        let b = Venue::Binance.candles_url("http://h/", btc(), from, now);
        assert_eq!(
            b,
            "http://h/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=1700000040000&limit=1000"
        );
        let c = Venue::Coinbase.candles_url("http://h", btc(), from, now);
        assert!(c.ends_with(
            "/products/BTC-USDT/candles?start=1700000040&end=1700000400&granularity=ONE_MINUTE"
        ));
        let k = Venue::Kraken.candles_url("http://h", btc(), from, now);
        assert_eq!(
            k,
            "http://h/0/public/OHLC?pair=XBTUSDT&interval=1&since=1700000039"
        );
    }
}
