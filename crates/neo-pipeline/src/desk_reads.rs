//! What HTTP reads of the desk in this process (the account, the trading
//! state, each instrument's briefing), published by the desk stage at the end
//! of every step while it holds the desk anyway. Readers take the latest
//! published copy and never wait on the live desk, however busy it is. The
//! account and trading state are always current; the briefings (the costly
//! part, four JSON documents) are made again at most every 250 ms, and after
//! every operator command (a halt changes every briefing's trading state).

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use neo_domain::{InstrumentId, Timestamp};
use neo_engine::desk::{AccountSummary, Desk};
use neo_engine::risk::TradingStatus;
use serde_json::Value;

/// How stale a briefing may be after market data alone.
const BRIEFINGS_EVERY_NANOS: i64 = 250_000_000;

/// One published copy.
#[derive(Debug, Clone)]
pub struct Reads {
    /// The account (or why it could not be summarized).
    pub portfolio: Result<AccountSummary, String>,
    /// The trading state machine.
    pub trading: TradingStatus,
    /// Each instrument's briefing.
    pub briefings: BTreeMap<InstrumentId, Value>,
    /// When the briefings were made.
    pub briefed_at: Timestamp,
}

/// The latest copy, shared by the desk stage (writer) and HTTP (readers).
#[derive(Debug)]
pub struct DeskReads {
    instruments: Vec<InstrumentId>,
    latest: RwLock<Option<Arc<Reads>>>,
}

impl DeskReads {
    /// Nothing published yet, for these instruments' briefings.
    pub fn new(instruments: Vec<InstrumentId>) -> Self {
        DeskReads {
            instruments,
            latest: RwLock::new(None),
        }
    }

    /// Publishes `desk` as of `now`; `fresh_briefings` forces the briefings to be
    /// made again (a signal or command may have changed a position or the state).
    pub fn publish(&self, desk: &Desk, now: Timestamp, fresh_briefings: bool) {
        let previous = self.latest();
        let (briefings, briefed_at) = match previous {
            Some(p)
                if !fresh_briefings && now.nanos_since(p.briefed_at) < BRIEFINGS_EVERY_NANOS =>
            {
                (p.briefings.clone(), p.briefed_at)
            }
            _ => (
                self.instruments
                    .iter()
                    .map(|i| (*i, desk.briefing(*i, now)))
                    .collect(),
                now,
            ),
        };
        let reads = Reads {
            portfolio: desk.summary(now).map_err(|e| e.to_string()),
            trading: desk.trading_status().clone(),
            briefings,
            briefed_at,
        };
        *self.latest.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(reads));
    }

    /// The latest copy, `None` before the desk first published.
    pub fn latest(&self) -> Option<Arc<Reads>> {
        self.latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
