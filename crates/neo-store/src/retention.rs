//! Retention: what grows with every alert and is not needed once old. Each
//! call removes at most a batch of rows of each kind, so a pruner beside the
//! writer holds the database for milliseconds at a time:
//! - inbox rows written before the retention (by the database's clock): a
//!   message older than that cannot be delivered again (the bus keeps less);
//! - relayed outbox rows older than the retention, and in embedded mode only
//!   those every consumer's checkpoint has passed (the rest replay at start);
//! - audit rows older than the retention (stories and flag histories shorten);
//! - settled orders older than the retention, of signals with no working
//!   order left (a restore reads every order of a signal with one);
//! - signals older than the retention with no working order (their stories
//!   have lost their audit rows by then).
//!
//! Fills go separately, through [`Store::prune_fills`]: only once the desk
//! keeps its books in its memory (then a restore no longer replays them), and
//! with their quantities carried into a stored total so position
//! reconciliation still adds up. Kept whatever their age: positions and
//! component state.

use std::time::Duration;

use neo_domain::Timestamp;
use neo_domain::contracts::FillV1;

use crate::backend::{Sql, Val};
use crate::{Op, StateRecord, Store, StoreError};

/// Rows removed by one [`Store::prune`] call, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Inbox rows.
    pub inbox: u64,
    /// Relayed outbox rows.
    pub outbox: u64,
    /// Audit rows.
    pub audit: u64,
    /// Settled orders.
    pub orders: u64,
    /// Signals.
    pub signals: u64,
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.inbox += other.inbox;
        self.outbox += other.outbox;
        self.audit += other.audit;
        self.orders += other.orders;
        self.signals += other.signals;
    }
}

impl Pruned {
    /// Rows removed in all.
    pub fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }

    /// Each kind's count under its metric label.
    pub fn by_kind(&self) -> [(&'static str, u64); 5] {
        [
            ("inbox", self.inbox),
            ("outbox", self.outbox),
            ("audit", self.audit),
            ("orders", self.orders),
            ("signals", self.signals),
        ]
    }
}

const PRUNE_INBOX: Sql = Sql {
    sqlite: "DELETE FROM inbox WHERE (consumer, message_id) IN (
               SELECT consumer, message_id FROM inbox
               WHERE handled_at < CAST(strftime('%s', 'now') AS INTEGER) * 1000000000 - $1
               LIMIT $2)",
    pg: "DELETE FROM inbox WHERE (consumer, message_id) IN (
           SELECT consumer, message_id FROM inbox
           WHERE handled_at < (extract(epoch FROM clock_timestamp()) * 1000000000)::BIGINT - $1
           LIMIT $2)",
};

/// `$3`: 1 when the outbox is the embedded bus's log (keep what a checkpoint has not passed).
const PRUNE_OUTBOX: Sql = Sql {
    sqlite: "DELETE FROM outbox WHERE seq IN (
               SELECT seq FROM outbox
               WHERE relayed = 1 AND ts_event < $1
                 AND ($3 = 0 OR seq <= COALESCE((SELECT MIN(seq) FROM checkpoints), 0))
               ORDER BY seq LIMIT $2)",
    pg: "DELETE FROM outbox WHERE seq IN (
           SELECT seq FROM outbox
           WHERE relayed AND ts_event < $1
             AND ($3 = 0 OR seq <= COALESCE((SELECT MIN(seq) FROM checkpoints), 0))
           ORDER BY seq LIMIT $2)",
};

const PRUNE_AUDIT: Sql = Sql {
    sqlite: "DELETE FROM audit_events WHERE id IN (
               SELECT id FROM audit_events WHERE ts_event < $1 ORDER BY ts_event LIMIT $2)",
    pg: "DELETE FROM audit_events WHERE id IN (
           SELECT id FROM audit_events WHERE ts_event < $1 ORDER BY ts_event LIMIT $2)",
};

const PRUNE_ORDERS: Sql = Sql {
    sqlite: "DELETE FROM orders WHERE id IN (
               SELECT o.id FROM orders o
               WHERE o.status IN ('filled', 'cancelled', 'rejected', 'expired') AND o.ts_event < $1
                 AND NOT EXISTS (SELECT 1 FROM orders w WHERE w.signal_id = o.signal_id
                   AND w.status NOT IN ('filled', 'cancelled', 'rejected', 'expired'))
               LIMIT $2)",
    pg: "DELETE FROM orders WHERE id IN (
           SELECT o.id FROM orders o
           WHERE o.status IN ('filled', 'cancelled', 'rejected', 'expired') AND o.ts_event < $1
             AND NOT EXISTS (SELECT 1 FROM orders w WHERE w.signal_id = o.signal_id
               AND w.status NOT IN ('filled', 'cancelled', 'rejected', 'expired'))
           LIMIT $2)",
};

const PRUNE_SIGNALS: Sql = Sql {
    sqlite: "DELETE FROM signals WHERE id IN (
               SELECT s.id FROM signals s
               WHERE s.ts_event < $1
                 AND NOT EXISTS (SELECT 1 FROM orders w WHERE w.signal_id = s.id
                   AND w.status NOT IN ('filled', 'cancelled', 'rejected', 'expired'))
               LIMIT $2)",
    pg: "DELETE FROM signals WHERE id IN (
           SELECT s.id FROM signals s
           WHERE s.ts_event < $1
             AND NOT EXISTS (SELECT 1 FROM orders w WHERE w.signal_id = s.id
               AND w.status NOT IN ('filled', 'cancelled', 'rejected', 'expired'))
           LIMIT $2)",
};

/// Fills older than `$1` of signals with no working order, oldest first, `$2` of them.
const PRUNABLE_FILLS: Sql = Sql {
    sqlite: "SELECT 0, f.body FROM fills f
             WHERE f.ts_event < $1
               AND NOT EXISTS (SELECT 1 FROM orders w WHERE w.signal_id = f.signal_id
                 AND w.status NOT IN ('filled', 'cancelled', 'rejected', 'expired'))
             ORDER BY f.ts_event, f.id LIMIT $2",
    pg: "SELECT 0::bigint, f.body::text FROM fills f
         WHERE f.ts_event < $1
           AND NOT EXISTS (SELECT 1 FROM orders w WHERE w.signal_id = f.signal_id
             AND w.status NOT IN ('filled', 'cancelled', 'rejected', 'expired'))
         ORDER BY f.ts_event, f.id LIMIT $2",
};

const DELETE_FILL: Sql = Sql {
    sqlite: "DELETE FROM fills WHERE id = $1",
    pg: "DELETE FROM fills WHERE id = $1",
};

impl Store {
    /// At most `limit` fills older than `keep` at `now` whose signal has no working
    /// order, oldest first: what [`Store::prune_fills`] may remove.
    pub async fn prunable_fills(
        &self,
        keep: Duration,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<FillV1>, StoreError> {
        let keep_nanos = i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = Val::Int(now.as_nanos().saturating_sub(keep_nanos));
        self.bodies(
            "fills",
            &PRUNABLE_FILLS,
            &[cutoff, Val::Int(i64::from(limit))],
        )
        .await
    }

    /// Removes `fills` and writes `totals` (the caller's running total of every
    /// pruned fill's quantity) in one transaction, so the two never disagree.
    /// Returns the fills removed.
    pub async fn prune_fills(
        &self,
        fills: &[FillV1],
        totals: StateRecord,
    ) -> Result<u64, StoreError> {
        let state = crate::plan::op(&Op::PutState(totals))?;
        let mut tx = self.pools.begin().await?;
        let mut removed = 0;
        for f in fills {
            removed += tx.exec(&DELETE_FILL, &[crate::read::id_val(f.id)]).await?;
        }
        crate::batch::write_ops(&mut tx, std::iter::once(&state)).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes at most `batch` rows of each kind older than `keep` at `now`
    /// (see the module's list); `embedded` when the outbox is the embedded
    /// bus's log. Call again until it removes nothing.
    pub async fn prune(
        &self,
        keep: Duration,
        now: Timestamp,
        batch: u32,
        embedded: bool,
    ) -> Result<Pruned, StoreError> {
        let keep_nanos = i64::try_from(keep.as_nanos()).unwrap_or(i64::MAX);
        let cutoff = Val::Int(now.as_nanos().saturating_sub(keep_nanos));
        let limit = Val::Int(i64::from(batch));
        let inbox = self
            .pools
            .exec(&PRUNE_INBOX, &[Val::Int(keep_nanos), limit.clone()])
            .await?;
        let log = Val::Int(i64::from(embedded));
        let outbox = self
            .pools
            .exec(&PRUNE_OUTBOX, &[cutoff.clone(), limit.clone(), log])
            .await?;
        let audit = self
            .pools
            .exec(&PRUNE_AUDIT, &[cutoff.clone(), limit.clone()])
            .await?;
        let orders = self
            .pools
            .exec(&PRUNE_ORDERS, &[cutoff.clone(), limit.clone()])
            .await?;
        let signals = self.pools.exec(&PRUNE_SIGNALS, &[cutoff, limit]).await?;
        Ok(Pruned {
            inbox,
            outbox,
            audit,
            orders,
            signals,
        })
    }
}
