//! Exactly-once commits: units with inbox keys in one transaction, and the
//! outbox and checkpoint calls the relay and the embedded bus use.

use std::collections::BTreeSet;
use std::time::Duration;

use neo_domain::{Envelope, MessageId};
use serde_json::Value;

use crate::backend::{Sql, Tx, Val};
use crate::plan::{self, OUTBOX_LOCK, UnitPlan};
use crate::{OutboxRow, Store, StoreError, Unit, UnitOutcome};

/// How often a commit that lost a race (deadlock, busy database) is tried in all.
const CONFLICT_ATTEMPTS: u32 = 4;

const HANDLED: Sql = Sql {
    sqlite: "SELECT 0, message_id FROM inbox WHERE consumer = $1 \
             AND message_id IN (SELECT value FROM json_each($2))",
    pg: "SELECT 0::bigint, message_id::text FROM inbox WHERE consumer = $1 \
         AND message_id = ANY($2)",
};

const OUTBOX_PENDING: Sql = Sql {
    sqlite: "SELECT seq, body FROM outbox WHERE relayed = 0 ORDER BY seq LIMIT $1",
    pg: "SELECT seq, body::text FROM outbox WHERE NOT relayed ORDER BY seq LIMIT $1",
};

const OUTBOX_AFTER: Sql = Sql {
    sqlite: "SELECT seq, body FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
    pg: "SELECT seq, body::text FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
};

const MARK_RELAYED: Sql = Sql {
    sqlite: "UPDATE outbox SET relayed = 1 WHERE relayed = 0 \
             AND seq IN (SELECT value FROM json_each($1))",
    pg: "UPDATE outbox SET relayed = TRUE WHERE NOT relayed AND seq = ANY($1)",
};

const CHECKPOINT: Sql = Sql {
    sqlite: "SELECT seq FROM checkpoints WHERE consumer = $1",
    pg: "SELECT seq FROM checkpoints WHERE consumer = $1",
};

impl Store {
    /// Commits all units in ONE transaction and says, per unit, whether it was applied.
    ///
    /// A unit with an inbox key first inserts `(consumer, message_id)` into `inbox`
    /// with `ON CONFLICT DO NOTHING`; when that changes no row the message was
    /// handled before (or by a racing transaction that committed first) and the
    /// unit's ops and outbox rows are skipped. Either every unit's outcome is
    /// durable or (on error) nothing is. A transaction that loses a race
    /// (`Conflict`) is retried a few times before the error is returned.
    pub async fn commit(&self, units: &[Unit]) -> Result<Vec<UnitOutcome>, StoreError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let plans = units
            .iter()
            .map(plan::unit)
            .collect::<Result<Vec<_>, _>>()?;
        let mut attempt = 1;
        loop {
            match self.commit_plans(&plans).await {
                Err(StoreError::Conflict(reason)) if attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(attempt, %reason, "store commit conflicted, retrying");
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// One attempt at committing encoded units.
    async fn commit_plans(&self, plans: &[UnitPlan]) -> Result<Vec<UnitOutcome>, StoreError> {
        let mut tx = self.pools.begin().await?;
        let mut outcomes = Vec::with_capacity(plans.len());
        // Outbox rows are inserted last, after the lock that orders seqs by commit.
        let mut outbox = Vec::new();
        for (i, unit) in plans.iter().enumerate() {
            if let Some(inbox) = &unit.inbox
                && tx.exec(inbox.sql, &inbox.vals).await? == 0
            {
                outcomes.push(UnitOutcome::AlreadyHandled);
                continue;
            }
            for op in &unit.ops {
                tx.exec(op.sql, &op.vals).await?;
            }
            outbox.extend(unit.outbox.iter().map(|stmt| (i, stmt)));
            outcomes.push(UnitOutcome::Applied {
                outbox_seqs: Vec::new(),
            });
        }
        if !outbox.is_empty() {
            if matches!(tx, Tx::Pg(_)) {
                tx.exec(&OUTBOX_LOCK, &[]).await?;
            }
            for (i, stmt) in outbox {
                if let Some(seq) = tx.fetch_opt_i64(stmt.sql, &stmt.vals).await?
                    && let Some(UnitOutcome::Applied { outbox_seqs }) = outcomes.get_mut(i)
                {
                    outbox_seqs.push(seq);
                }
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Which of `ids` this consumer has handled (their inbox rows exist).
    pub async fn handled(
        &self,
        consumer: &str,
        ids: &[MessageId],
    ) -> Result<BTreeSet<MessageId>, StoreError> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let uuids = ids.iter().map(|id| *id.as_uuid()).collect();
        let rows = self
            .pools
            .fetch_pairs(&HANDLED, &[Val::Text(consumer.to_owned()), Val::Ids(uuids)])
            .await?;
        rows.into_iter()
            .map(|(_, id)| {
                id.parse::<MessageId>().map_err(|e| StoreError::Corrupt {
                    table: "inbox",
                    message: format!("message_id {id:?}: {e}"),
                })
            })
            .collect()
    }

    /// Outbox rows not yet relayed, oldest first: the relay publishes them, then marks them.
    pub async fn outbox_pending(&self, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = self
            .pools
            .fetch_pairs(&OUTBOX_PENDING, &[Val::Int(i64::from(limit))])
            .await?;
        rows.into_iter().map(outbox_row).collect()
    }

    /// Marks outbox rows as relayed (published to the bus); unknown or already marked seqs are ignored.
    pub async fn mark_relayed(&self, seqs: &[i64]) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.pools
            .exec(&MARK_RELAYED, &[Val::Ints(seqs.to_vec())])
            .await
            .map(|_| ())
    }

    /// Every outbox row with `seq > after`, relayed or not, in seq order: the embedded
    /// bus replays these on restart (the outbox is its durable log).
    pub async fn outbox_after(&self, after: i64, limit: u32) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = self
            .pools
            .fetch_pairs(
                &OUTBOX_AFTER,
                &[Val::Int(after), Val::Int(i64::from(limit))],
            )
            .await?;
        rows.into_iter().map(outbox_row).collect()
    }

    /// A consumer's replay checkpoint: the highest outbox seq up to which everything
    /// is handled; 0 when it has none.
    pub async fn checkpoint(&self, consumer: &str) -> Result<i64, StoreError> {
        let seq = self
            .pools
            .fetch_i64(&CHECKPOINT, &[Val::Text(consumer.to_owned())])
            .await?;
        Ok(seq.unwrap_or(0))
    }

    /// Moves a consumer's checkpoint forward to `seq` (a lower value than the stored one
    /// is ignored, so late or reordered writes never undo progress). To move it together
    /// with effects, use [`crate::Op::SetCheckpoint`] inside a unit instead.
    pub async fn set_checkpoint(&self, consumer: &str, seq: i64) -> Result<(), StoreError> {
        let stmt = plan::checkpoint(consumer, seq);
        self.pools.exec(stmt.sql, &stmt.vals).await.map(|_| ())
    }
}

fn outbox_row((seq, body): (i64, String)) -> Result<OutboxRow, StoreError> {
    let envelope: Envelope<Value> =
        serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
            table: "outbox",
            message: format!("seq {seq}: {e}"),
        })?;
    Ok(OutboxRow { seq, envelope })
}
