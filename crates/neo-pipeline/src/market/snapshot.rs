//! What the active market role leaves in the store for desks in other
//! processes: its recent closed candles and each instrument's increments
//! (rewritten when a candle closes), which a desk warms up on before it
//! follows the bus, and its feed's connection (rewritten every second, the
//! market's heartbeat).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::desk::InstrumentSteps;
use neo_store::{StateKey, Store, StoreError, Unit, Writer};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{CANDLE_HISTORY, FeedStatus, MarketShare};
use crate::Clock;
use crate::roles::view::state;

/// How often the market writes its heartbeat (and looks for newly closed candles).
pub(crate) const WRITE_EVERY: Duration = Duration::from_secs(1);
/// A heartbeat older than this means no market role is running.
pub(crate) const SILENT_AFTER: Duration = Duration::from_secs(15);

/// The market's recent history, as of `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MarketWarm {
    pub(crate) at: Timestamp,
    pub(crate) steps: BTreeMap<InstrumentId, InstrumentSteps>,
    pub(crate) candles: BTreeMap<InstrumentId, Vec<CandleV1>>,
}

impl MarketWarm {
    /// Every instrument's candles in one history, oldest first.
    pub(crate) fn history(&self) -> Vec<CandleV1> {
        let mut all: Vec<CandleV1> = self.candles.values().flatten().cloned().collect();
        all.sort_by_key(|c| c.ts_open);
        all
    }
}

/// The market's feed as last noted, as of `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MarketFeed {
    pub(crate) at: Timestamp,
    pub(crate) feed: FeedStatus,
}

/// The active market's writer of both records.
pub(crate) struct Snapshots {
    pub(crate) share: Arc<MarketShare>,
    pub(crate) steps: BTreeMap<InstrumentId, InstrumentSteps>,
    pub(crate) instruments: Vec<InstrumentId>,
    pub(crate) writer: Writer,
    pub(crate) clock: Clock,
}

impl Snapshots {
    /// Writes every second until shutdown; a failed write is tried again next time.
    /// Nobody in this process takes the share's queued data (desks follow the
    /// bus), so each round also empties it.
    pub(crate) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(WRITE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut written = None;
        while !*shutdown.borrow() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            drop(self.share.take());
            if let Err(e) = self.write(&mut written).await {
                tracing::warn!(error = %e, "the market could not write its snapshot");
            }
        }
    }

    async fn write(
        &self,
        written: &mut Option<BTreeMap<InstrumentId, Timestamp>>,
    ) -> Result<(), StoreError> {
        let now = (self.clock)();
        let feed = MarketFeed {
            at: now,
            feed: self.share.feed_status(),
        };
        let mut ops = vec![state(StateKey::MarketFeed, &feed, now)];
        let newest = self.share.newest_candles(&self.instruments);
        if written.as_ref() != Some(&newest) {
            ops.push(state(StateKey::MarketWarm, &self.warm(now), now));
        }
        self.writer
            .commit(vec![Unit {
                inbox: None,
                ops,
                outbox: Vec::new(),
            }])
            .await?;
        *written = Some(newest);
        Ok(())
    }

    fn warm(&self, now: Timestamp) -> MarketWarm {
        MarketWarm {
            at: now,
            steps: self.steps.clone(),
            candles: self
                .instruments
                .iter()
                .map(|i| (*i, self.share.candles(*i, CANDLE_HISTORY)))
                .collect(),
        }
    }
}

/// Why the market's stored history or heartbeat could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The record is not what this version writes (never guessed at).
    #[error("the market's stored {key} does not read: {source}")]
    Shape {
        /// Which record.
        key: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// The stored record under `key`, `None` when no market wrote one yet.
pub(crate) async fn read<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: StateKey,
) -> Result<Option<T>, SnapshotError> {
    let Some(record) = store.get_state(key).await? else {
        return Ok(None);
    };
    serde_json::from_value(record.body)
        .map(Some)
        .map_err(|source| SnapshotError::Shape {
            key: key.as_str(),
            source,
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::{Price, Quantity};

    use super::*;

    fn candle(instrument: InstrumentId, minute: i64) -> CandleV1 {
        let p = Price::from_int(100 + minute).unwrap();
        CandleV1 {
            instrument,
            interval: "1m".to_owned(),
            ts_open: Timestamp::from_nanos(minute * 60_000_000_000),
            ts_event: Timestamp::from_nanos((minute + 1) * 60_000_000_000),
            open: p,
            high: p,
            low: p,
            close: p,
            volume: Quantity::ZERO,
        }
    }

    #[test]
    fn a_warm_snapshot_round_trips_and_interleaves_instruments_by_time() {
        let (btc, eth) = (
            InstrumentId::new("BTC-USDT").unwrap(),
            InstrumentId::new("ETH-USDT").unwrap(),
        );
        let steps = BTreeMap::from([(
            btc,
            InstrumentSteps {
                price_step: Price::from_int(1).unwrap(),
                lot_step: Quantity::from_int(1).unwrap(),
            },
        )]);
        let warm = MarketWarm {
            at: Timestamp::from_nanos(5),
            steps,
            candles: BTreeMap::from([
                (btc, vec![candle(btc, 0), candle(btc, 1)]),
                (eth, vec![candle(eth, 0), candle(eth, 1)]),
            ]),
        };
        let back: MarketWarm =
            serde_json::from_value(serde_json::to_value(&warm).unwrap()).unwrap();
        assert_eq!(back, warm);
        let order: Vec<(InstrumentId, i64)> = back
            .history()
            .iter()
            .map(|c| (c.instrument, c.ts_open.as_nanos() / 60_000_000_000))
            .collect();
        assert_eq!(order, vec![(btc, 0), (eth, 0), (btc, 1), (eth, 1)]);
        assert_eq!(back.steps[&btc].lot_step, Quantity::from_int(1).unwrap());
    }
}
