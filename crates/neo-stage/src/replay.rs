//! Embedded mode's recovery: the in-process bus forgets everything on a crash,
//! so on start each consumer is re-offered the outbox rows of its subjects that
//! its inbox does not hold. The scan starts at the consumer's checkpoint and
//! moves it to just before the first row still unhandled, so restarts stay fast.
//! A long run moves the checkpoints the same way without re-offering anything
//! ([`advance_checkpoint`]), so retention can remove the outbox rows behind them.

use neo_bus::{BusError, MemoryBus};
use neo_domain::{SubjectPattern, Timestamp};
use neo_store::{OutboxRow, Store, StoreError};

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the outbox or inbox failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The consumer is not subscribed.
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Moves `consumer`'s checkpoint to just before its first outbox row (matching
/// `filter`) not handled yet, re-offering nothing; returns the checkpoint. Rows
/// from before `expired` count as passed: retention has removed their inbox
/// rows (or soon will), so they can never be told handled, and must never be
/// offered again.
pub async fn advance_checkpoint(
    store: &Store,
    consumer: &str,
    filter: &SubjectPattern,
    expired: Option<Timestamp>,
) -> Result<i64, StoreError> {
    let (_, checkpoint) = unhandled(store, consumer, filter, expired, false).await?;
    Ok(checkpoint)
}

/// Re-offers `consumer` every outbox row matching `filter` that it has not handled
/// (rows from before `expired` count as passed, as for [`advance_checkpoint`]);
/// returns how many were re-offered. Call after the consumer subscribed.
pub async fn replay_embedded(
    bus: &MemoryBus,
    store: &Store,
    consumer: &str,
    filter: &SubjectPattern,
    expired: Option<Timestamp>,
) -> Result<u64, ReplayError> {
    let (rows, _) = unhandled(store, consumer, filter, expired, true).await?;
    let mut offered = 0u64;
    for row in rows {
        bus.redeliver_to(consumer, row.envelope).await?;
        offered += 1;
    }
    Ok(offered)
}

/// `consumer`'s unhandled rows after its checkpoint (`all` of them, or only up to
/// the first page that has one), with the checkpoint moved to just before the
/// first of them (or to the last row, when there is none).
async fn unhandled(
    store: &Store,
    consumer: &str,
    filter: &SubjectPattern,
    expired: Option<Timestamp>,
    all: bool,
) -> Result<(Vec<OutboxRow>, i64), StoreError> {
    let start = store.checkpoint(consumer).await?;
    let mut after = start;
    let mut found: Vec<OutboxRow> = Vec::new();
    loop {
        let rows = store.outbox_after(after, 1000).await?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        let mine: Vec<OutboxRow> = rows
            .into_iter()
            .filter(|r| filter.matches(&r.envelope.subject))
            .filter(|r| expired.is_none_or(|at| r.envelope.ts_event >= at))
            .collect();
        let ids: Vec<_> = mine.iter().map(|r| r.envelope.id).collect();
        let handled = store.handled(consumer, &ids).await?;
        found.extend(
            mine.into_iter()
                .filter(|r| !handled.contains(&r.envelope.id)),
        );
        after = last;
        if !all && !found.is_empty() {
            break;
        }
    }
    let checkpoint = found.first().map_or(after, |r| r.seq - 1);
    if checkpoint > start {
        store.set_checkpoint(consumer, checkpoint).await?;
    }
    Ok((found, checkpoint))
}
