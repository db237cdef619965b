//! The active desk's view for other processes: every second it writes what
//! HTTP shows (account, trading state, quotes, briefings, feed freshness) to
//! the store, and its candles when a new one closed; gateways elsewhere
//! follow those rows instead of locking a desk they do not have.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use neo_api::server::{LiveError, Ticker};
use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::desk::AccountSummary;
use neo_engine::risk::TradingStatus;
use neo_store::{Op, StateKey, StateRecord, Store, StoreError, Unit, Writer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;

use crate::Clock;
use crate::market::{CANDLE_HISTORY, FeedStatus, MarketShare};

/// How often the active desk publishes its view.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// How often a follower reads it.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);
/// A view older than this means no desk is active: answers are 503, not stale numbers.
const STALE_AFTER: Duration = Duration::from_secs(15);

/// What the desk shows, as of `at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeskView {
    at: Timestamp,
    portfolio: AccountSummary,
    trading: TradingStatus,
    tickers: Vec<Ticker>,
    briefings: BTreeMap<InstrumentId, Value>,
    seen: BTreeMap<InstrumentId, Timestamp>,
    feed: FeedStatus,
    instruments: Vec<InstrumentId>,
    max_data_age_secs: u64,
}

/// The active desk's side: what it publishes from (the copy its stage keeps, never the locked desk).
pub(crate) struct Publisher {
    pub(crate) reads: Arc<crate::desk_reads::DeskReads>,
    pub(crate) share: Arc<MarketShare>,
    pub(crate) writer: Writer,
    pub(crate) clock: Clock,
    pub(crate) instruments: Vec<InstrumentId>,
    pub(crate) max_data_age: Duration,
}

impl Publisher {
    /// Publishes every second until shutdown; a failed write is retried next time.
    pub(crate) async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(PUBLISH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut candles_at = BTreeMap::new();
        while !*shutdown.borrow() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if let Err(e) = self.publish(&mut candles_at).await {
                tracing::warn!(error = %e, "the desk could not publish its view");
            }
        }
    }

    async fn publish(
        &self,
        candles_at: &mut BTreeMap<InstrumentId, Timestamp>,
    ) -> Result<(), StoreError> {
        let now = (self.clock)();
        let Some(view) = self.view(now) else {
            return Ok(());
        };
        let mut ops = vec![state(StateKey::DeskView, &view, now)];
        let newest = self.share.newest_candles(&self.instruments);
        if newest != *candles_at {
            let all: BTreeMap<InstrumentId, Vec<CandleV1>> = self
                .instruments
                .iter()
                .map(|i| (*i, self.share.candles(*i, CANDLE_HISTORY)))
                .collect();
            ops.push(state(StateKey::DeskCandles, &all, now));
        }
        self.writer
            .commit(vec![Unit {
                inbox: None,
                ops,
                outbox: Vec::new(),
            }])
            .await?;
        *candles_at = newest;
        Ok(())
    }

    fn view(&self, now: Timestamp) -> Option<DeskView> {
        let reads = self.reads.latest()?;
        let portfolio = match &reads.portfolio {
            Ok(p) => p.clone(),
            Err(e) => {
                tracing::error!(error = %e, "the desk's account cannot be summarized");
                return None;
            }
        };
        Some(DeskView {
            at: now,
            portfolio,
            trading: reads.trading.clone(),
            tickers: self.share.tickers(),
            briefings: reads.briefings.clone(),
            seen: self.share.last_seen(),
            feed: self.share.feed_status(),
            instruments: self.instruments.clone(),
            max_data_age_secs: self.max_data_age.as_secs(),
        })
    }
}

/// A state document as a write (a body that does not encode is stored as null).
pub(crate) fn state<T: Serialize>(key: StateKey, body: &T, now: Timestamp) -> Op {
    Op::PutState(StateRecord {
        key,
        body: serde_json::to_value(body).unwrap_or(Value::Null),
        ts_event: now,
    })
}

/// A process without the active desk: the last view read from the store.
pub(crate) struct Follower {
    clock: Clock,
    view: RwLock<Option<DeskView>>,
    candles: RwLock<BTreeMap<InstrumentId, Vec<CandleV1>>>,
}

impl Follower {
    /// Nothing read yet.
    pub(crate) fn new(clock: Clock) -> Self {
        Follower {
            clock,
            view: RwLock::new(None),
            candles: RwLock::new(BTreeMap::new()),
        }
    }

    /// Reads the view twice a second (the candles every tenth time) until shutdown.
    pub(crate) async fn run(self: Arc<Self>, store: Store, mut shutdown: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(FOLLOW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut round = 0u64;
        while !*shutdown.borrow() {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if let Err(e) = self.read(&store, round.is_multiple_of(10)).await {
                tracing::debug!(error = %e, "could not read the desk's view");
            }
            round += 1;
        }
    }

    async fn read(&self, store: &Store, candles: bool) -> Result<(), StoreError> {
        if let Some(record) = store.get_state(StateKey::DeskView).await? {
            match serde_json::from_value::<DeskView>(record.body) {
                Ok(view) => *self.view.write().unwrap_or_else(PoisonError::into_inner) = Some(view),
                Err(e) => tracing::warn!(error = %e, "the desk's view does not read"),
            }
        }
        if candles && let Some(record) = store.get_state(StateKey::DeskCandles).await? {
            match serde_json::from_value(record.body) {
                Ok(all) => *self.candles.write().unwrap_or_else(PoisonError::into_inner) = all,
                Err(e) => tracing::warn!(error = %e, "the desk's candles do not read"),
            }
        }
        Ok(())
    }

    /// The view when it is recent enough to stand for the desk.
    fn fresh(&self) -> Result<DeskView, LiveError> {
        let view = self.view.read().unwrap_or_else(PoisonError::into_inner);
        let Some(view) = view.as_ref() else {
            return Err(LiveError::Unavailable(
                "no desk has published its state yet: is a desk role running?".to_owned(),
            ));
        };
        let age = (self.clock)().nanos_since(view.at);
        if age > i64::try_from(STALE_AFTER.as_nanos()).unwrap_or(i64::MAX) {
            return Err(LiveError::Unavailable(format!(
                "the desk last published its state {} s ago: is a desk role running?",
                age / 1_000_000_000
            )));
        }
        Ok(view.clone())
    }

    pub(crate) fn tickers(&self) -> Vec<Ticker> {
        self.fresh().map(|v| v.tickers).unwrap_or_default()
    }

    pub(crate) fn portfolio(&self, _now: Timestamp) -> Result<AccountSummary, LiveError> {
        Ok(self.fresh()?.portfolio)
    }

    pub(crate) fn trading_status(&self) -> Result<TradingStatus, LiveError> {
        Ok(self.fresh()?.trading)
    }

    pub(crate) fn briefing(&self, instrument: InstrumentId) -> Result<Value, LiveError> {
        Ok(self
            .fresh()?
            .briefings
            .remove(&instrument)
            .unwrap_or(Value::Null))
    }

    pub(crate) fn candles(&self, instrument: InstrumentId, count: usize) -> Vec<CandleV1> {
        let all = self.candles.read().unwrap_or_else(PoisonError::into_inner);
        let Some(candles) = all.get(&instrument) else {
            return Vec::new();
        };
        candles[candles.len().saturating_sub(count)..].to_vec()
    }

    pub(crate) fn market(&self, now: Timestamp) -> Value {
        match self.fresh() {
            Ok(v) => crate::market::freshness::details_of(
                &v.seen,
                &v.feed,
                &v.instruments,
                Duration::from_secs(v.max_data_age_secs),
                now,
            ),
            Err(e) => {
                serde_json::json!({ "source": "desk", "connected": false, "last_problem": e.to_string() })
            }
        }
    }
}
