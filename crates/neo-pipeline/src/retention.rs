//! The pruner beside the writer: once a minute after start and then every
//! hour, removes what `[store] retention_days` no longer keeps, a thousand
//! rows of each kind per statement with a pause between, so it never holds
//! the database long enough to delay an accept. See `neo_store::Store::prune`
//! for what goes and what stays. Old fills go too once the desk keeps its
//! books in its memory (a restore then no longer replays them); their
//! quantities are carried into a stored total in the same transaction, which
//! position reconciliation adds to the fills still stored.

use std::collections::BTreeMap;
use std::time::Duration;

use neo_api::metrics::names;
use neo_domain::{Fixed, InstrumentId};
use neo_engine::desk::DeskMemory;
use neo_store::{Pruned, StateKey, StateRecord, Store, StoreError};
use tokio::sync::watch;

use crate::Clock;

/// Rows of each kind per statement.
const BATCH: u32 = 1_000;
/// The pause between statements.
const PAUSE: Duration = Duration::from_millis(50);
/// The first pass, after start-up settles.
const FIRST: Duration = Duration::from_secs(60);
/// Between passes.
const EVERY: Duration = Duration::from_secs(3_600);

/// Prunes rows older than `keep` until shutdown; `embedded` when the outbox is the bus's log.
pub(crate) async fn run(
    store: Store,
    keep: Duration,
    embedded: bool,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = FIRST;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        wait = EVERY;
        match sweep(&store, keep, embedded, &clock, &shutdown).await {
            Ok(swept) if swept.total() > 0 => {
                let r = swept.rows;
                tracing::info!(
                    inbox = r.inbox,
                    outbox = r.outbox,
                    audit = r.audit,
                    orders = r.orders,
                    signals = r.signals,
                    fills = swept.fills,
                    "pruned store rows past retention"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "store pruning failed; retrying next pass"),
        }
    }
}

/// Why a sweep (or a reconciliation reading the pruned totals) stopped.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The pruned-fill totals are not what this version writes (never guessed at).
    #[error("the pruned-fill totals: {0}")]
    Totals(#[source] serde_json::Error),
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Inbox, outbox, audit, order and signal rows.
    pub rows: Pruned,
    /// Fills (only once the desk keeps its books in its memory).
    pub fills: u64,
}

impl Swept {
    /// Rows removed in all.
    pub fn total(&self) -> u64 {
        self.rows.total() + self.fills
    }
}

/// Removes now everything older than `keep` that retention removes (`neo store
/// prune`); `embedded` when the outbox is the in-process bus's log.
pub async fn prune_now(
    store: &Store,
    keep: Duration,
    embedded: bool,
    clock: &Clock,
) -> Result<Swept, RetentionError> {
    let (_never, shutdown) = watch::channel(false);
    sweep(store, keep, embedded, clock, &shutdown).await
}

/// The consumers' checkpoints (with the in-process bus: the outbox is its log),
/// then the rows, then the fills.
async fn sweep(
    store: &Store,
    keep: Duration,
    embedded: bool,
    clock: &Clock,
    shutdown: &watch::Receiver<bool>,
) -> Result<Swept, RetentionError> {
    if embedded {
        let keep_nanos = i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
        let expired = clock().add_nanos(keep_nanos.saturating_neg());
        for (consumer, filter) in crate::app::stage_consumers() {
            neo_stage::advance_checkpoint(store, consumer, &filter, Some(expired)).await?;
        }
    }
    let rows = pass(store, keep, embedded, clock, shutdown).await?;
    let fills = prune_fills(store, keep, clock, shutdown).await?;
    Ok(Swept { rows, fills })
}

/// One pass: batches until no kind fills a batch (or shutdown, or a store error).
/// The cutoff is the pass's start: under load rows keep crossing a moving
/// cutoff, and a pass must end.
async fn pass(
    store: &Store,
    keep: Duration,
    embedded: bool,
    clock: &Clock,
    shutdown: &watch::Receiver<bool>,
) -> Result<Pruned, StoreError> {
    let mut total = Pruned::default();
    let now = clock();
    let full = u64::from(BATCH);
    while !*shutdown.borrow() {
        let pruned = store.prune(keep, now, BATCH, embedded).await?;
        for (kind, n) in pruned.by_kind() {
            if n > 0 {
                metrics::counter!(names::STORE_PRUNED, "kind" => kind).increment(n);
            }
        }
        total += pruned;
        if pruned.by_kind().iter().all(|(_, n)| *n < full) {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(total)
}

/// The signed quantity of every pruned fill, per instrument (none pruned yet: empty).
pub(crate) async fn pruned_totals(
    store: &Store,
) -> Result<BTreeMap<InstrumentId, Fixed>, RetentionError> {
    let Some(record) = store.get_state(StateKey::PrunedFills).await? else {
        return Ok(BTreeMap::new());
    };
    serde_json::from_value(record.body).map_err(RetentionError::Totals)
}

/// Whether the stored desk memory holds the books (then fills are not replayed).
async fn books_kept(store: &Store) -> Result<bool, StoreError> {
    let Some(record) = store.get_state(StateKey::Desk).await? else {
        return Ok(false);
    };
    Ok(serde_json::from_value::<DeskMemory>(record.body).is_ok_and(|m| m.ledger.is_some()))
}

/// Removes old fills a batch at a time, each batch with the new running total.
async fn prune_fills(
    store: &Store,
    keep: Duration,
    clock: &Clock,
    shutdown: &watch::Receiver<bool>,
) -> Result<u64, RetentionError> {
    if !books_kept(store).await? {
        return Ok(0);
    }
    let mut totals = pruned_totals(store).await?;
    let mut removed = 0;
    let now = clock();
    while !*shutdown.borrow() {
        let fills = store.prunable_fills(keep, now, BATCH).await?;
        if fills.is_empty() {
            break;
        }
        let last = fills.len() < BATCH as usize;
        let mut next = totals.clone();
        for f in &fills {
            crate::reconcile::add_signed(&mut next, f);
        }
        let body = serde_json::to_value(&next).map_err(RetentionError::Totals)?;
        let record = StateRecord {
            key: StateKey::PrunedFills,
            body,
            ts_event: clock(),
        };
        let n = store.prune_fills(&fills, record).await?;
        totals = next;
        removed += n;
        metrics::counter!(names::STORE_PRUNED, "kind" => "fills").increment(n);
        if last {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(removed)
}
