//! A desk whose market runs in another process: it warms up on the market's
//! stored snapshot, then follows the bus into a share of its own: quotes from
//! the newest of each instrument on, closed candles from a little before the
//! snapshot was written (the ones it already has are skipped), and the feed's
//! connection from the market's heartbeat. Its freshness watch then judges
//! the data as it would a feed of its own: a market role that dies makes the
//! instruments stale and entries are refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use neo_bus::{Bus, BusError, ConsumerSpec, Delivery, Start, Subscription};
use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::subject::patterns;
use neo_domain::{InstrumentId, SubjectPattern, Timestamp};
use neo_store::{StateKey, Store};
use tokio::sync::watch;

use super::MarketShare;
use super::snapshot::{self, MarketFeed, MarketWarm, SILENT_AFTER, SnapshotError};
use crate::Clock;

/// How far before the snapshot candles are read again (a candle that closed
/// while it was being written is not missed).
const CANDLE_OVERLAP: Duration = Duration::from_secs(300);
/// A follower's consumers outlive a dead desk process by this long.
const EXPIRE_AFTER: Duration = Duration::from_secs(60);
/// How often the market's heartbeat is read.
const FEED_EVERY: Duration = Duration::from_secs(2);
/// Deliveries taken at once.
const BATCH: usize = 512;

/// The market's snapshot once one is stored; `None` when shutdown came first.
pub(crate) async fn wait_warm(
    store: &Store,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Option<MarketWarm>, SnapshotError> {
    let mut told = false;
    loop {
        if let Some(warm) = snapshot::read::<MarketWarm>(store, StateKey::MarketWarm).await? {
            return Ok(Some(warm));
        }
        if !told {
            tracing::warn!("no market role has written its history yet: the desk waits for one");
            told = true;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return Ok(None);
        }
    }
}

/// The consumers one desk activation follows.
pub(crate) struct Following<S> {
    pub(crate) ticks: S,
    pub(crate) candles: S,
}

/// Opens this activation's consumers (named for it, so a later activation starts
/// afresh), quotes from the newest of each instrument, candles from before `warm`.
pub(crate) async fn subscribe<B: Bus>(
    bus: &B,
    warm: &MarketWarm,
    now: Timestamp,
) -> Result<Following<B::Subscription>, BusError> {
    let id = format!("{}_{}", std::process::id(), now.as_nanos());
    let spec = |name: &str, filter: SubjectPattern, start: Start| {
        let mut spec = ConsumerSpec::new(&format!("desk_{name}_{id}"), filter);
        spec.start = start;
        spec.expires_after = Some(EXPIRE_AFTER);
        spec
    };
    let overlap = i64::try_from(CANDLE_OVERLAP.as_nanos()).unwrap_or(i64::MAX);
    let since = Start::Since(warm.at.add_nanos(-overlap));
    Ok(Following {
        ticks: bus
            .subscribe(spec(
                "ticks",
                patterns::market_ticks(),
                Start::LatestPerSubject,
            ))
            .await?,
        candles: bus
            .subscribe(spec("candles", patterns::market_candles(), since))
            .await?,
    })
}

/// Moves quotes from `sub` into `share` until shutdown.
pub(crate) async fn ticks<S: Subscription>(
    sub: S,
    share: Arc<MarketShare>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), BusError> {
    let into = share.clone();
    follow(sub, &share, shutdown, move |tick: TickV1| {
        into.push_tick(tick);
        true
    })
    .await
}

/// Moves closed candles from `sub` into `share` until shutdown. `newest` is each
/// instrument's newest candle the desk has: older and equal ones are skipped.
pub(crate) async fn candles<S: Subscription>(
    sub: S,
    share: Arc<MarketShare>,
    mut newest: BTreeMap<InstrumentId, Timestamp>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), BusError> {
    let into = share.clone();
    follow(sub, &share, shutdown, move |candle: CandleV1| {
        let newer = newest
            .get(&candle.instrument)
            .is_none_or(|at| candle.ts_open > *at);
        if newer {
            newest.insert(candle.instrument, candle.ts_open);
            into.push_candle(candle);
        }
        newer
    })
    .await
}

/// Hands each delivery's `P` to `take` (true when it moved the share) and acks it,
/// ringing the desk after a batch that moved anything; until shutdown.
async fn follow<S: Subscription, P: neo_domain::Contract>(
    mut sub: S,
    share: &MarketShare,
    mut shutdown: watch::Receiver<bool>,
    mut take: impl FnMut(P) -> bool,
) -> Result<(), BusError> {
    loop {
        let batch = tokio::select! {
            b = sub.next_batch(BATCH, Duration::from_millis(250)) => b?,
            _ = shutdown.changed() => return Ok(()),
        };
        let mut moved = false;
        for d in batch {
            if let Some(p) = payload::<P>(&d) {
                moved |= take(p);
            }
            d.ack().await?;
        }
        if moved {
            share.ready.notify_one();
        }
    }
}

/// The delivery's contract payload; anything else is counted and skipped.
fn payload<P: neo_domain::Contract>(d: &Delivery) -> Option<P> {
    let decoded = d.envelope().cloned().map(|e| e.decode::<P>());
    match decoded {
        Some(Ok(envelope)) => Some(envelope.payload),
        Some(Err(e)) => {
            skipped(&e);
            None
        }
        None => {
            skipped(&"not an envelope");
            None
        }
    }
}

fn skipped(why: &dyn std::fmt::Display) {
    metrics::counter!(neo_api::metrics::names::MARKET_MESSAGES, "venue" => "bus", "outcome" => "malformed")
        .increment(1);
    tracing::debug!(error = %why, "market data on the bus that does not read");
}

/// Takes the feed's connection from the market's heartbeat every two seconds;
/// a heartbeat older than 15 s shows as a disconnected feed, naming why.
pub(crate) async fn follow_feed(
    store: Store,
    share: Arc<MarketShare>,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(FEED_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let status = match snapshot::read::<MarketFeed>(&store, StateKey::MarketFeed).await {
            Ok(Some(beat)) => {
                let age = clock().nanos_since(beat.at);
                if age > i64::try_from(SILENT_AFTER.as_nanos()).unwrap_or(i64::MAX) {
                    super::FeedStatus {
                        connected: false,
                        last_problem: Some(format!(
                            "the market role last reported {} s ago: is one running?",
                            age / 1_000_000_000
                        )),
                        ..beat.feed
                    }
                } else {
                    beat.feed
                }
            }
            Ok(None) => continue,
            Err(e) => {
                tracing::debug!(error = %e, "could not read the market's heartbeat");
                continue;
            }
        };
        share.update_feed(|f| *f = status);
    }
}
