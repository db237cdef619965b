//! What HTTP reads as "live": when this process holds the active desk, the
//! copy its stage publishes after every step (never the locked desk, except a
//! risk check's dry run, which needs the live state as it is); otherwise the
//! view the active desk published to the store.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use neo_api::server::{Live, LiveError, Ticker};
use neo_domain::contracts::{CandleV1, OrderIntentV1};
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::desk::{AccountSummary, Desk};
use neo_engine::risk::{Refusal, TradingStatus};
use serde_json::Value;

use super::view::Follower;
use crate::desk_reads::{DeskReads, Reads};
use crate::desk_stage::lock;
use crate::market::MarketShare;

/// The bus's readiness check, without its type.
pub(crate) type BusHealth = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// The active desk of this process, what its stage publishes, and its market share.
pub(crate) struct LiveDesk {
    pub(crate) desk: Arc<Mutex<Desk>>,
    pub(crate) reads: Arc<DeskReads>,
    pub(crate) share: Arc<MarketShare>,
    pub(crate) instruments: Vec<InstrumentId>,
    pub(crate) max_data_age: Duration,
}

impl LiveDesk {
    fn reads(&self) -> Result<Arc<Reads>, LiveError> {
        self.reads.latest().ok_or_else(|| {
            LiveError::Unavailable("the desk has not published its state yet".to_owned())
        })
    }
    fn portfolio(&self) -> Result<AccountSummary, LiveError> {
        self.reads()?.portfolio.clone().map_err(LiveError::Failed)
    }
    fn market(&self, now: Timestamp) -> Value {
        crate::market::freshness::details(&self.share, &self.instruments, self.max_data_age, now)
    }
}

/// This process's answer to [`Live`]: its own desk once active, else the
/// published view (when the desk may run elsewhere), else 503.
pub(crate) struct ProcessLive {
    bus: BusHealth,
    desk: RwLock<Option<Arc<LiveDesk>>>,
    view: Option<Arc<Follower>>,
}

impl ProcessLive {
    /// Answers from `view` until a desk is set.
    pub(crate) fn new(bus: BusHealth, view: Option<Arc<Follower>>) -> Self {
        ProcessLive {
            bus,
            desk: RwLock::new(None),
            view,
        }
    }

    /// This process's desk became active.
    pub(crate) fn set_desk(&self, desk: Arc<LiveDesk>) {
        *self.desk.write().unwrap_or_else(PoisonError::into_inner) = Some(desk);
    }

    /// This process's desk stopped (it lost the lease).
    pub(crate) fn clear_desk(&self) {
        *self.desk.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn desk(&self) -> Option<Arc<LiveDesk>> {
        self.desk
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn view(&self) -> Result<&Follower, LiveError> {
        self.view.as_deref().ok_or_else(|| {
            LiveError::Unavailable("the desk is not running yet in this process".to_owned())
        })
    }
}

impl Live for ProcessLive {
    fn tickers(&self) -> Vec<Ticker> {
        match (self.desk(), &self.view) {
            (Some(desk), _) => desk.share.tickers(),
            (None, Some(view)) => view.tickers(),
            (None, None) => Vec::new(),
        }
    }
    fn portfolio(&self, now: Timestamp) -> Result<AccountSummary, LiveError> {
        match self.desk() {
            Some(desk) => desk.portfolio(),
            None => self.view()?.portfolio(now),
        }
    }
    fn risk_check(
        &self,
        intent: OrderIntentV1,
        now: Timestamp,
    ) -> Result<Result<(), Refusal>, LiveError> {
        match self.desk() {
            Some(desk) => Ok(lock(&desk.desk).check(intent, now)),
            None => Err(LiveError::Unavailable(
                "risk checks need the live desk, which is not active in this process: \
                 POST /v1/risk/check to the active desk process's [server] port"
                    .to_owned(),
            )),
        }
    }
    fn bus_ready(&self) -> Result<(), String> {
        (self.bus)()
    }
    fn trading_status(&self) -> Result<TradingStatus, LiveError> {
        match self.desk() {
            Some(desk) => Ok(desk.reads()?.trading.clone()),
            None => self.view()?.trading_status(),
        }
    }
    fn candles(&self, instrument: InstrumentId, count: usize) -> Vec<CandleV1> {
        match (self.desk(), &self.view) {
            (Some(desk), _) => desk.share.candles(instrument, count),
            (None, Some(view)) => view.candles(instrument, count),
            (None, None) => Vec::new(),
        }
    }
    fn briefing(&self, instrument: InstrumentId, _now: Timestamp) -> Result<Value, LiveError> {
        match self.desk() {
            Some(desk) => Ok(desk
                .reads()?
                .briefings
                .get(&instrument)
                .cloned()
                .unwrap_or(Value::Null)),
            None => self.view()?.briefing(instrument),
        }
    }
    fn market(&self, now: Timestamp) -> Value {
        match (self.desk(), &self.view) {
            (Some(desk), _) => desk.market(now),
            (None, Some(view)) => view.market(now),
            (None, None) => Value::Null,
        }
    }
}
