//! The stage runner: one loop around a handler `(&mut self, envelope) ->
//! effects` that turns at-least-once delivery into exactly-once effects.
//!
//! For each batch of deliveries: ids already in the consumer's inbox are
//! acknowledged and skipped; the rest are handled; their effects (store ops and
//! outgoing envelopes) are committed together with their inbox keys in one
//! transaction through the group-commit writer; only then are the deliveries
//! acknowledged. A redelivery after a crash finds its id in the inbox. Outgoing
//! envelopes wait in the outbox until the relay has published them.
//! Transient failures are retried with backoff; permanent ones (an
//! undecodable message, a payload that breaks its contract) go to the
//! dead-letter queue at once, so a poison message never blocks the stream.
//!
//! Handlers keep in-memory state only as a cache of what the store holds. A
//! commit that fails for a transient reason (the database is away) is retried
//! with capped backoff until it lands, so that cache never runs ahead of the
//! store; a permanent failure stops the runner so the stage restarts from
//! durable state.

mod relay;
mod replay;
mod retry;

use std::sync::Arc;
use std::time::Duration;

use neo_bus::{Bus, BusError, ConsumerSpec, Delivery, Received, Subscription};
use neo_domain::Envelope;
use neo_store::{InboxKey, Op, Store, StoreError, Unit, UnitOutcome, Writer};
use serde_json::Value;
use tokio::sync::{Notify, watch};

pub use relay::{RelayConfig, run_relay};
pub use replay::{advance_checkpoint, replay_embedded};
pub use retry::Backoff;

/// What handling one message produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effects {
    /// State changes, committed with the message's inbox key.
    pub ops: Vec<Op>,
    /// Messages to publish once the commit is durable.
    pub outbox: Vec<Envelope<Value>>,
    /// Counters to add once the commit is durable: a redelivered message whose
    /// first handling never committed must not count twice.
    pub counts: Vec<Count>,
}

/// One counter increment, recorded by the runner only when its message's effects commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// The metric's name.
    pub name: &'static str,
    /// Its labels, in order.
    pub labels: Vec<(&'static str, String)>,
    /// How much to add.
    pub by: u64,
}

impl Count {
    /// Adds one to `name` with `labels`.
    pub fn one(name: &'static str, labels: Vec<(&'static str, String)>) -> Self {
        Count {
            name,
            labels,
            by: 1,
        }
    }

    fn record(&self) {
        metrics::counter!(self.name, &self.labels).increment(self.by);
    }
}

/// Why a message could not be handled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (a dependency is down): redeliver with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never work (bad payload, contract violation): dead-letter now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// The handler's memory may have changed before it failed (a bug or a
    /// corrupt store): the message is handed back and the stage stops, to
    /// restart from the store rather than run ahead of it.
    #[error("fatal: {0}")]
    Fatal(String),
}

/// A stage's logic.
pub trait Handler: Send + 'static {
    /// Handles one message; called at most once per delivery, possibly again on redelivery.
    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError>;

    /// Slow work a batch needs before it is handled (asking LLM agents), run once
    /// per batch over the messages the inbox has not seen, so they wait together
    /// rather than in turn. The future must not borrow the handler: while it
    /// runs, the runner keeps polling [`Handler::poll`] (market ticks still move
    /// the handler and commit in order); what it resolves to is applied to the
    /// handler before the batch is handled. The handler bounds it (a deadline).
    fn prepare(&mut self, batch: &[&Envelope<Value>]) -> Option<Preparation<Self>>
    where
        Self: Sized,
    {
        let _ = batch;
        None
    }

    /// Work no message caused (market ticks, timers), polled before every pull; its
    /// effects commit without an inbox key, in order with the message batches.
    fn poll(&mut self) -> Result<Option<Effects>, HandlerError> {
        Ok(None)
    }
}

/// A batch's preparation: a future independent of the handler that resolves to
/// what to apply to it.
pub type Preparation<H> = futures::future::BoxFuture<'static, Box<dyn FnOnce(&mut H) + Send>>;

/// How often side work is polled while a batch is being prepared.
const SIDE_WORK_WHILE_PREPARING: Duration = Duration::from_millis(10);

/// How a stage consumes.
#[derive(Debug, Clone)]
pub struct StageConfig {
    /// The durable consumer (its name is also the inbox key).
    pub consumer: ConsumerSpec,
    /// Most deliveries per batch (one transaction).
    pub batch: usize,
    /// How long to wait for a first delivery before looping.
    pub wait: Duration,
    /// Rung after a commit that wrote outbox rows, so the relay publishes them at once.
    pub wake: Option<Arc<Notify>>,
    /// Told what each batch did (for metrics); the runner itself records nothing.
    pub observer: Option<StageObserver>,
}

/// Receives the counts each batch added (applied, duplicates, retried, dead-lettered).
#[derive(Clone)]
pub struct StageObserver(pub Arc<dyn Fn(&StageStats) + Send + Sync>);

impl std::fmt::Debug for StageObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StageObserver")
    }
}

impl StageConfig {
    /// Batches of up to 256, waiting 50 ms.
    pub fn new(consumer: ConsumerSpec) -> Self {
        StageConfig {
            consumer,
            batch: 256,
            wait: Duration::from_millis(50),
            wake: None,
            observer: None,
        }
    }
}

/// Why a stage stopped.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The bus refused the subscription (bad config): not worth retrying.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A commit failed for good (or the store was still away at shutdown): the
    /// stage must restart from durable state.
    #[error("commit failed, restart from the store: {0}")]
    Store(#[from] StoreError),
    /// Side work failed half-way: the handler's state may be ahead of the store.
    #[error("side work failed, restart from the store: {0}")]
    SideWork(HandlerError),
    /// Handling a message failed after the handler's state changed.
    #[error("handler failed, restart from the store: {0}")]
    Handler(HandlerError),
}

impl StageStats {
    /// What was added since `earlier`.
    pub fn since(&self, earlier: StageStats) -> StageStats {
        StageStats {
            applied: self.applied - earlier.applied,
            duplicates: self.duplicates - earlier.duplicates,
            retried: self.retried - earlier.retried,
            dead_lettered: self.dead_lettered - earlier.dead_lettered,
        }
    }
}

/// What a stage did, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StageStats {
    /// Messages whose effects this run committed.
    pub applied: u64,
    /// Deliveries skipped because their id was already in the inbox.
    pub duplicates: u64,
    /// Deliveries handed back for a later retry.
    pub retried: u64,
    /// Messages sent to the dead-letter queue.
    pub dead_lettered: u64,
}

/// Runs a stage until `shutdown` turns true (then finishes the batch in hand) or a commit fails.
pub async fn run_stage<B: Bus, H: Handler>(
    bus: B,
    store: Store,
    writer: Writer,
    mut handler: H,
    config: StageConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<StageStats, StageError> {
    let consumer = config.consumer.durable.clone();
    let spec = config.consumer.clone();
    let mut subscription = bus.subscribe(config.consumer).await?;
    let mut stats = StageStats::default();
    let mut bus_errors = 0u32;
    let mut lookups = Backoff::default();
    while !*shutdown.borrow() {
        let batch = tokio::select! {
            batch = subscription.next_batch(config.batch, config.wait) => batch,
            _ = shutdown.changed() => break,
        };
        // Side work (a quote, a closed candle) after every pull: what arrived while the
        // pull waited came before these messages, so a signal is judged on it.
        poll_side_work(
            &writer,
            &mut handler,
            &consumer,
            config.wake.as_ref(),
            &mut shutdown,
        )
        .await?;
        let deliveries = match batch {
            Ok(d) => {
                bus_errors = 0;
                d
            }
            Err(e) => {
                // The broker is away: wait (growing, capped) and pull again; nothing is lost.
                bus_errors = bus_errors.saturating_add(1);
                tracing::warn!(stage = %consumer, error = %e, "pull failed");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(bus_errors.min(20)))).await;
                continue;
            }
        };
        if deliveries.is_empty() {
            continue;
        }
        let before = stats;
        let deliveries = match skip_handled(&store, &consumer, deliveries, &mut stats).await {
            Ok(fresh) => {
                lookups = Backoff::default();
                fresh
            }
            Err((e, deliveries)) => {
                // Cannot tell what was handled, and nothing changed yet: hand the batch
                // back and wait for the store (a permanent error stops the stage).
                let retry = spec.delay_after(1);
                futures::future::join_all(deliveries.into_iter().map(|d| d.nak(retry))).await;
                if !e.is_transient() {
                    return Err(StageError::Store(e));
                }
                if lookups.fail() {
                    tracing::warn!(stage = %consumer, error = %e, failures = lookups.failures(), "inbox lookup failed; waiting for the store");
                }
                tokio::select! {
                    () = tokio::time::sleep(lookups.delay()) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
        };
        if !deliveries.is_empty() {
            let batch = Batch {
                writer: &writer,
                consumer: &consumer,
                spec: &spec,
                wake: config.wake.as_ref(),
            };
            handle_batch(&batch, &mut handler, deliveries, &mut stats, &mut shutdown).await?;
        }
        if let Some(observer) = &config.observer {
            (observer.0)(&stats.since(before));
        }
    }
    Ok(stats)
}

/// Commits what the handler did outside messages (retrying while the store is
/// away); a handler error stops the stage.
async fn poll_side_work<H: Handler>(
    writer: &Writer,
    handler: &mut H,
    consumer: &str,
    wake: Option<&Arc<Notify>>,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), StageError> {
    match handler.poll() {
        Ok(Some(effects)) if !(effects.ops.is_empty() && effects.outbox.is_empty()) => {
            let unit = Unit {
                inbox: None,
                ops: effects.ops,
                outbox: effects.outbox,
            };
            let wrote_outbox = !unit.outbox.is_empty();
            retry::commit_until_done(writer, vec![unit], consumer, shutdown).await?;
            effects.counts.iter().for_each(Count::record);
            if wrote_outbox {
                ring(wake);
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::error!(stage = %consumer, error = %e, "side work failed");
            return Err(StageError::SideWork(e));
        }
    }
    Ok(())
}

/// Acknowledges deliveries whose id is already in the inbox, so the handler never sees a
/// duplicate (its in-memory state stays a faithful cache); returns the rest.
async fn skip_handled(
    store: &Store,
    consumer: &str,
    deliveries: Vec<Delivery>,
    stats: &mut StageStats,
) -> Result<Vec<Delivery>, (StoreError, Vec<Delivery>)> {
    let ids: Vec<_> = deliveries
        .iter()
        .filter_map(|d| d.envelope().map(|e| e.id))
        .collect();
    let handled = match store.handled(consumer, &ids).await {
        Ok(handled) => handled,
        Err(e) => return Err((e, deliveries)),
    };
    if handled.is_empty() {
        return Ok(deliveries);
    }
    let (done, fresh): (Vec<_>, Vec<_>) = deliveries
        .into_iter()
        .partition(|d| d.envelope().is_some_and(|e| handled.contains(&e.id)));
    stats.duplicates += done.len() as u64;
    for result in futures::future::join_all(done.into_iter().map(Delivery::ack)).await {
        settle(result, consumer);
    }
    Ok(fresh)
}

/// What handling a batch needs besides the handler and its deliveries.
struct Batch<'a> {
    writer: &'a Writer,
    consumer: &'a str,
    spec: &'a ConsumerSpec,
    wake: Option<&'a Arc<Notify>>,
}

/// Handles one batch: dead letters, handler calls, one commit (retried while the
/// store is away), then acks.
async fn handle_batch<H: Handler>(
    batch: &Batch<'_>,
    handler: &mut H,
    deliveries: Vec<Delivery>,
    stats: &mut StageStats,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), StageError> {
    let Batch {
        writer,
        consumer,
        spec,
        wake,
    } = *batch;
    let mut units = Vec::with_capacity(deliveries.len());
    let mut counts = Vec::with_capacity(deliveries.len());
    let mut committing = Vec::with_capacity(deliveries.len());
    let mut fatal = None;
    let fresh: Vec<&Envelope<Value>> = deliveries
        .iter()
        .filter_map(|d| match &d.received {
            Received::Envelope(e) => Some(e),
            Received::Undecodable { .. } => None,
        })
        .collect();
    let preparation = if fresh.is_empty() {
        None
    } else {
        handler.prepare(&fresh)
    };
    drop(fresh);
    if let Some(mut preparation) = preparation {
        // Ticks keep moving the handler (and commit, in order) while the batch waits.
        let apply = loop {
            tokio::select! {
                apply = &mut preparation => break apply,
                () = tokio::time::sleep(SIDE_WORK_WHILE_PREPARING) => {
                    if let Err(e) = poll_side_work(writer, handler, consumer, wake, shutdown).await {
                        // Nothing of the batch was handled: hand it all back.
                        let retry = spec.delay_after(1);
                        futures::future::join_all(deliveries.into_iter().map(|d| d.nak(retry))).await;
                        return Err(e);
                    }
                }
            }
        };
        apply(handler);
    }
    for delivery in deliveries {
        if fatal.is_some() {
            // Not handled: hand it back for the restarted stage.
            settle(delivery.nak(spec.delay_after(1)).await, consumer);
            continue;
        }
        let envelope = match &delivery.received {
            Received::Envelope(e) => e,
            Received::Undecodable { reason } => {
                let reason = reason.clone();
                settle(delivery.dead_letter(&reason).await, consumer);
                stats.dead_lettered += 1;
                continue;
            }
        };
        // Every line logged while handling it names the signal it belongs to.
        let span = tracing::info_span!(
            "message",
            stage = %consumer,
            signal_id = %envelope.correlation_id,
            message_type = %envelope.message_type
        );
        match span.in_scope(|| handler.handle(envelope)) {
            Ok(effects) => {
                units.push(Unit {
                    inbox: Some(InboxKey::new(consumer, envelope.id)),
                    ops: effects.ops,
                    outbox: effects.outbox,
                });
                counts.push(effects.counts);
                committing.push(delivery);
            }
            Err(HandlerError::Permanent(reason)) => {
                span.in_scope(|| tracing::warn!(%reason, "dead-lettered: it can never be handled"));
                settle(delivery.dead_letter(&reason).await, consumer);
                stats.dead_lettered += 1;
            }
            Err(HandlerError::Transient(reason)) if delivery.attempt >= spec.max_deliver => {
                let reason = format!("gave up after {} deliveries: {reason}", delivery.attempt);
                span.in_scope(|| tracing::warn!(%reason, "dead-lettered"));
                settle(delivery.dead_letter(&reason).await, consumer);
                stats.dead_lettered += 1;
            }
            Err(HandlerError::Transient(_)) => {
                let delay = spec.delay_after(delivery.attempt);
                settle(delivery.nak(delay).await, consumer);
                stats.retried += 1;
            }
            Err(e @ HandlerError::Fatal(_)) => {
                span.in_scope(|| tracing::error!(error = %e, "handler failed; stopping"));
                settle(delivery.nak(spec.delay_after(1)).await, consumer);
                fatal = Some(e);
            }
        }
    }
    if units.is_empty() {
        return fatal.map_or(Ok(()), |e| Err(StageError::Handler(e)));
    }
    let wrote_outbox = units.iter().any(|u| !u.outbox.is_empty());
    let outcomes = match retry::commit_until_done(writer, units, consumer, shutdown).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            // Nothing was written: hand everything back, and stop so state is rebuilt.
            let retry = spec.delay_after(1);
            futures::future::join_all(committing.into_iter().map(|d| d.nak(retry))).await;
            return Err(StageError::Store(e));
        }
    };
    if wrote_outbox {
        ring(wake);
    }
    for (outcome, counts) in outcomes.iter().zip(&counts) {
        match outcome {
            UnitOutcome::Applied { .. } => {
                stats.applied += 1;
                counts.iter().for_each(Count::record);
            }
            UnitOutcome::AlreadyHandled => stats.duplicates += 1,
        }
    }
    // Durable now: acknowledge. A lost ack only means a redelivery the inbox absorbs.
    for result in futures::future::join_all(committing.into_iter().map(Delivery::ack)).await {
        settle(result, consumer);
    }
    fatal.map_or(Ok(()), |e| Err(StageError::Handler(e)))
}

fn ring(wake: Option<&Arc<Notify>>) {
    if let Some(wake) = wake {
        wake.notify_one();
    }
}

/// A failed ack, nak or dead-letter is logged, not fatal: the message comes back and is deduped.
fn settle(result: Result<(), BusError>, stage: &str) {
    if let Err(e) = result {
        tracing::warn!(stage, error = %e, "could not settle a delivery; it will be redelivered");
    }
}
