//! Exactly-once commits: units with inbox keys in one transaction, and the
//! outbox and checkpoint calls the relay and the embedded bus use.

use std::collections::BTreeSet;
use std::time::Duration;

use neo_domain::{Envelope, MessageId};
use serde_json::Value;

use crate::backend::{Sql, Val};
use crate::batch;
use crate::plan::{self, UnitPlan};
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
    /// with `ON CONFLICT DO NOTHING`; when that inserts no row the message was
    /// handled before (or by a racing transaction that committed first, or by an
    /// earlier unit of this call) and the unit's ops and outbox rows are skipped.
    /// Either every unit's outcome is durable or (on error) nothing is. A
    /// transaction that loses a race (`Conflict`) is retried a few times before the
    /// error is returned. The writes go out as a few multi-row statements, not one
    /// statement per write, with the same result as applying the units in order.
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

    /// One attempt at committing encoded units: a few multi-row statements per
    /// transaction (inbox keys, then each kind of op, then the outbox), see [`batch`].
    async fn commit_plans(&self, plans: &[UnitPlan]) -> Result<Vec<UnitOutcome>, StoreError> {
        let mut tx = self.pools.begin().await?;
        let applied = batch::claim_inbox(&mut tx, plans).await?;
        let ops = plans
            .iter()
            .zip(&applied)
            .filter(|(_, applied)| **applied)
            .flat_map(|(plan, _)| &plan.ops);
        batch::write_ops(&mut tx, ops).await?;
        // Outbox rows go last, after the lock that orders seqs by commit.
        let seqs = batch::write_outbox(&mut tx, plans, &applied).await?;
        tx.commit().await?;
        Ok(applied
            .into_iter()
            .zip(seqs)
            .map(|(applied, outbox_seqs)| {
                if applied {
                    UnitOutcome::Applied { outbox_seqs }
                } else {
                    UnitOutcome::AlreadyHandled
                }
            })
            .collect())
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
        let (sql, vals) = plan::checkpoint_statement(self.kind(), consumer, seq);
        self.pools.exec_generated(sql, &vals).await.map(|_| ())
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
