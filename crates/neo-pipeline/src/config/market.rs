//! `[market]`: where prices come from (the simulation, or a venue's public
//! feed), for which instruments, and each venue's endpoints (so tests and
//! regional endpoints can point elsewhere).

use std::path::PathBuf;
use std::time::Duration;

use neo_domain::InstrumentId;
use neo_market::feed::FeedConfig;
use neo_market::venue::Venue;
use serde::Deserialize;

/// Where market data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MarketSource {
    /// The seeded random walk (nothing to reach; the default).
    #[default]
    Sim,
    /// Binance spot's public streams.
    Binance,
    /// Coinbase Advanced Trade's public channels.
    Coinbase,
    /// Kraken's WebSocket v2.
    Kraken,
    /// A stored candle history played back at `[market.replay] speed`.
    Replay,
}

impl MarketSource {
    /// The venue, when the source is one.
    pub fn venue(self) -> Option<Venue> {
        match self {
            MarketSource::Sim | MarketSource::Replay => None,
            MarketSource::Binance => Some(Venue::Binance),
            MarketSource::Coinbase => Some(Venue::Coinbase),
            MarketSource::Kraken => Some(Venue::Kraken),
        }
    }
}

/// `[market.<venue>]`: the venue's endpoints (its public ones when unset).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VenueEndpoints {
    /// WebSocket base URL (`wss://...`).
    pub ws_url: Option<String>,
    /// REST base URL (`https://...`).
    pub rest_url: Option<String>,
}

/// `[market.replay]`: which history `source = "replay"` plays, and how fast.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplayConfig {
    /// A candle store (the hive layout `neo data ingest` and the live archive
    /// write; default `<data dir>/history`), or one OHLCV CSV or Parquet file
    /// holding the only instrument of `[market] instruments`.
    pub path: Option<PathBuf>,
    /// The stored interval to play from a candle store (default 1m).
    pub interval: String,
    /// Times real time (default 1; 60 plays an hour a minute, and NEO's clock runs as fast).
    pub speed: f64,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            path: None,
            interval: "1m".to_owned(),
            speed: 1.0,
        }
    }
}

/// Fastest replay: a day of minutes in under nine seconds.
const MAX_REPLAY_SPEED: f64 = 10_000.0;

/// `[market]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// `sim` (default), `binance`, `coinbase`, `kraken` or `replay`.
    pub source: MarketSource,
    /// Instruments (default BTC-USDT, ETH-USDT, EUR-USD, AAPL; a venue needs its own pairs).
    pub instruments: Vec<String>,
    /// Seed of the simulation: the same seed and start give the same prices.
    pub seed: u64,
    /// Milliseconds between simulated ticks (default 250).
    pub tick_ms: u64,
    /// Minutes of history at start so indicators are warm (simulated, or
    /// fetched from the venue; default 180).
    pub warmup_minutes: u32,
    /// A venue connection silent this long is replaced (default 30 s).
    pub silence_secs: u64,
    /// Archive every tick and trade (and a venue's closed candles) to Parquet
    /// under `<data dir>/history` (default true).
    pub archive: bool,
    /// Days of archived ticks and trades kept (0: forever; default 30).
    pub archive_days: u32,
    /// Binance's endpoints.
    pub binance: VenueEndpoints,
    /// Coinbase's endpoints.
    pub coinbase: VenueEndpoints,
    /// Kraken's endpoints.
    pub kraken: VenueEndpoints,
    /// What `source = "replay"` plays.
    pub replay: ReplayConfig,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            source: MarketSource::Sim,
            instruments: ["BTC-USDT", "ETH-USDT", "EUR-USD", "AAPL"]
                .map(str::to_owned)
                .to_vec(),
            seed: 7,
            tick_ms: 250,
            warmup_minutes: 180,
            silence_secs: 30,
            archive: true,
            archive_days: 30,
            binance: VenueEndpoints::default(),
            coinbase: VenueEndpoints::default(),
            kraken: VenueEndpoints::default(),
            replay: ReplayConfig::default(),
        }
    }
}

impl MarketConfig {
    /// The instruments, parsed (invalid ones are reported by `validate`).
    pub fn instrument_ids(&self) -> Vec<InstrumentId> {
        self.instruments
            .iter()
            .filter_map(|s| InstrumentId::new(s).ok())
            .collect()
    }

    fn endpoints(&self, venue: Venue) -> &VenueEndpoints {
        match venue {
            Venue::Binance => &self.binance,
            Venue::Coinbase => &self.coinbase,
            Venue::Kraken => &self.kraken,
        }
    }

    /// The live feed's settings, when the source is a venue.
    pub fn feed(&self) -> Option<FeedConfig> {
        let venue = self.source.venue()?;
        let endpoints = self.endpoints(venue);
        let defaults = FeedConfig::new(venue, self.instrument_ids());
        Some(FeedConfig {
            ws_url: endpoints.ws_url.clone().unwrap_or(defaults.ws_url.clone()),
            rest_url: endpoints
                .rest_url
                .clone()
                .unwrap_or(defaults.rest_url.clone()),
            warmup: Duration::from_secs(u64::from(self.warmup_minutes) * 60),
            silence: Duration::from_secs(self.silence_secs),
            ..defaults
        })
    }

    /// How many times faster than real time NEO's clock runs: the replay's speed,
    /// or none for a live or simulated market.
    pub fn clock_speed(&self) -> Option<f64> {
        (self.source == MarketSource::Replay).then_some(self.replay.speed)
    }

    /// Every problem with `[market]`.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.instruments.is_empty() {
            problems.push("market.instruments must name at least one instrument".to_owned());
        }
        for s in &self.instruments {
            if let Err(e) = InstrumentId::new(s) {
                problems.push(format!("market.instruments: {s:?}: {e}"));
            }
        }
        if !(10..=60_000).contains(&self.tick_ms) {
            problems.push(format!(
                "market.tick_ms must be between 10 and 60000, got {}",
                self.tick_ms
            ));
        }
        if self.warmup_minutes > 7 * 24 * 60 {
            problems.push("market.warmup_minutes must be at most a week (10080)".to_owned());
        }
        if !(1..=3_600).contains(&self.silence_secs) {
            problems.push(format!(
                "market.silence_secs must be between 1 and 3600, got {}",
                self.silence_secs
            ));
        }
        let speed = self.replay.speed;
        if !(speed.is_finite() && speed > 0.0 && speed <= MAX_REPLAY_SPEED) {
            problems.push(format!(
                "market.replay.speed must be above 0 and at most {MAX_REPLAY_SPEED}, got {speed}"
            ));
        }
        if let Err(e) = neo_parquet::Timeframe::new(&self.replay.interval) {
            problems.push(format!("market.replay.interval: {e}"));
        }
        for venue in Venue::ALL {
            let e = self.endpoints(venue);
            let name = venue.name();
            if let Some(url) = &e.ws_url
                && !(url.starts_with("ws://") || url.starts_with("wss://"))
            {
                problems.push(format!(
                    "market.{name}.ws_url must start with ws:// or wss:// (got {url:?})"
                ));
            }
            if let Some(url) = &e.rest_url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                problems.push(format!(
                    "market.{name}.rest_url must start with http:// or https:// (got {url:?})"
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_listed_and_a_venue_gets_its_endpoints() {
        let bad = MarketConfig {
            instruments: vec!["BTC.USDT".to_owned()],
            silence_secs: 0,
            binance: VenueEndpoints {
                ws_url: Some("http://x".to_owned()),
                rest_url: Some("ftp://x".to_owned()),
            },
            ..MarketConfig::default()
        };
        let problems = bad.validate();
        assert_eq!(problems.len(), 4, "{problems:?}");
        let replay = MarketConfig {
            replay: ReplayConfig {
                path: None,
                interval: "7x".to_owned(),
                speed: f64::NAN,
            },
            ..MarketConfig::default()
        };
        assert_eq!(replay.validate().len(), 2, "{:?}", replay.validate());
        assert_eq!(replay.clock_speed(), None);
        let good = MarketConfig {
            source: MarketSource::Binance,
            instruments: vec!["BTC-USDT".to_owned()],
            binance: VenueEndpoints {
                ws_url: Some("ws://127.0.0.1:1".to_owned()),
                rest_url: None,
            },
            ..MarketConfig::default()
        };
        assert!(good.validate().is_empty());
        let feed = good.feed().unwrap_or_else(|| unreachable!());
        assert_eq!(feed.ws_url, "ws://127.0.0.1:1");
        assert_eq!(feed.rest_url, "https://api.binance.com");
        assert_eq!(feed.warmup, Duration::from_secs(180 * 60));
        assert!(MarketConfig::default().feed().is_none());
    }
}
