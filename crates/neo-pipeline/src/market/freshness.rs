//! Each instrument's freshness, watched once a second: its age on `/metrics`,
//! and a notification on every channel when it goes stale (older than risk's
//! `max_data_age_secs`, the same limit that refuses entries) and when it is
//! fresh again. An instrument with no tick since start counts from the start,
//! so a venue down at start is reported once the limit has passed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use neo_api::metrics::names;
use neo_domain::contracts::Channel;
use neo_domain::{InstrumentId, Timestamp};
use neo_notify::render::{Event, MarketDataNotice};
use neo_store::{Unit, Writer};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use super::MarketShare;
use crate::Clock;

/// How often freshness is checked.
const EVERY: Duration = Duration::from_secs(1);

/// An instrument that went stale or came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Which.
    pub instrument: InstrumentId,
    /// Stale now (else fresh again).
    pub stale: bool,
    /// Seconds since its newest tick (none: no tick since start).
    pub age_secs: Option<u64>,
}

/// Which instruments are stale, and since when NEO has been watching.
#[derive(Debug, Clone)]
pub struct StaleWatch {
    instruments: Vec<InstrumentId>,
    max_age_nanos: i64,
    started: Timestamp,
    stale: BTreeSet<InstrumentId>,
}

impl StaleWatch {
    /// Watches `instruments` from `started` against `max_age`.
    pub fn new(instruments: Vec<InstrumentId>, max_age: Duration, started: Timestamp) -> Self {
        StaleWatch {
            instruments,
            max_age_nanos: i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX),
            started,
            stale: BTreeSet::new(),
        }
    }

    /// The instruments whose state changed at `now`, given each one's newest tick time.
    pub fn check(
        &mut self,
        last_seen: &BTreeMap<InstrumentId, Timestamp>,
        now: Timestamp,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        for &instrument in &self.instruments {
            let seen = last_seen.get(&instrument).copied();
            let age_nanos = now.nanos_since(seen.unwrap_or(self.started));
            let stale = age_nanos > self.max_age_nanos;
            let age_secs = seen.map(|_| u64::try_from(age_nanos / 1_000_000_000).unwrap_or(0));
            metrics::gauge!(names::MARKET_AGE, "instrument" => instrument.to_string())
                .set(nanos_as_secs(age_nanos));
            metrics::gauge!(names::MARKET_STALE, "instrument" => instrument.to_string())
                .set(if stale { 1.0 } else { 0.0 });
            let changed = if stale {
                self.stale.insert(instrument)
            } else {
                self.stale.remove(&instrument)
            };
            if changed {
                changes.push(Change {
                    instrument,
                    stale,
                    age_secs,
                });
            }
        }
        changes
    }
}

#[allow(clippy::cast_precision_loss)] // a gauge: seconds to the nearest nanosecond is plenty
fn nanos_as_secs(nanos: i64) -> f64 {
    nanos.max(0) as f64 / 1e9
}

/// Each instrument's age and staleness for `/ready`, and whether the live feed is connected.
pub fn details(
    share: &MarketShare,
    instruments: &[InstrumentId],
    max_age: Duration,
    now: Timestamp,
) -> Value {
    details_of(
        &share.last_seen(),
        &share.feed_status(),
        instruments,
        max_age,
        now,
    )
}

/// The same from what a desk published: each instrument's last data and the feed.
pub fn details_of(
    seen: &BTreeMap<InstrumentId, Timestamp>,
    feed: &crate::market::FeedStatus,
    instruments: &[InstrumentId],
    max_age: Duration,
    now: Timestamp,
) -> Value {
    let max_nanos = i64::try_from(max_age.as_nanos()).unwrap_or(i64::MAX);
    let per: serde_json::Map<String, Value> = instruments
        .iter()
        .map(|i| {
            let age = seen.get(i).map(|t| now.nanos_since(*t));
            let stale = age.is_none_or(|a| a > max_nanos);
            let age_secs = age.map(nanos_as_secs);
            (
                i.to_string(),
                json!({ "age_secs": age_secs, "stale": stale }),
            )
        })
        .collect();
    json!({
        "source": feed.venue.as_deref().unwrap_or("sim"),
        "connected": feed.venue.is_none() || feed.connected,
        "last_problem": feed.last_problem,
        "max_data_age_secs": max_age.as_secs(),
        "instruments": per,
    })
}

/// Where the watch sends notifications.
pub struct Outlet {
    /// The store's writer (notifications go through the outbox).
    pub writer: Writer,
    /// Every enabled channel.
    pub channels: Vec<Channel>,
    /// Rung after a commit so the relay sends at once.
    pub wake: Arc<Notify>,
}

/// Checks every second until shutdown.
pub async fn run(
    mut watch: StaleWatch,
    share: Arc<MarketShare>,
    outlet: Outlet,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        let now = clock();
        for change in watch.check(&share.last_seen(), now) {
            notify(&outlet, &change, watch.max_age_nanos, now).await;
        }
    }
}

async fn notify(outlet: &Outlet, change: &Change, max_age_nanos: i64, now: Timestamp) {
    if change.stale {
        tracing::warn!(instrument = %change.instrument, age_secs = ?change.age_secs, "market data stale: entries refused");
    } else {
        tracing::info!(instrument = %change.instrument, "market data fresh again");
    }
    let event = Event::MarketData(MarketDataNotice {
        instrument: change.instrument.to_string(),
        stale: change.stale,
        age_secs: change.age_secs,
        max_age_secs: u64::try_from(max_age_nanos / 1_000_000_000).unwrap_or(0),
        ts: now,
    });
    let outbox = event.outbox(&outlet.channels, now);
    let unit = Unit {
        inbox: None,
        ops: Vec::new(),
        outbox,
    };
    match outlet.writer.commit(vec![unit]).await {
        Ok(_) => outlet.wake.notify_one(),
        Err(e) => tracing::warn!(error = %e, "could not queue the market-data notification"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn stale_once_then_fresh_once() {
        let btc = InstrumentId::new("BTC-USDT").unwrap();
        let t = |s: i64| Timestamp::from_unix_secs(1_700_000_000 + s).unwrap();
        let mut w = StaleWatch::new(vec![btc], Duration::from_secs(300), t(0));
        let none = BTreeMap::new();
        assert!(w.check(&none, t(299)).is_empty(), "counts from the start");
        let went = w.check(&none, t(301));
        assert_eq!(went.len(), 1);
        assert!(went[0].stale && went[0].age_secs.is_none());
        assert!(w.check(&none, t(400)).is_empty(), "told once");
        let seen = BTreeMap::from([(btc, t(399))]);
        let back = w.check(&seen, t(400));
        assert_eq!(
            back,
            vec![Change {
                instrument: btc,
                stale: false,
                age_secs: Some(1)
            }]
        );
        assert!(w.check(&seen, t(600)).is_empty());
        assert!(w.check(&seen, t(700))[0].stale);
    }
}
