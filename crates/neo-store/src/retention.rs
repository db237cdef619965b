//! Retention: what grows with every alert and is not needed once old. Each
//! call removes at most a batch of rows of each kind, so a pruner beside the
//! writer holds the database for milliseconds at a time:
//! - inbox rows written before the retention (by the database's clock): a
//!   message older than that cannot be delivered again (the bus keeps less);
//! - relayed outbox rows older than the retention, and in embedded mode only
//!   those every consumer's checkpoint has passed (the rest replay at start);
//! - audit rows older than the retention (stories and flag histories shorten);
//! - settled orders older than the retention, of signals with no working
//!   order left (a restore reads every order of a signal with one).
//!
//! Kept whatever their age: signals, fills and positions (the desk restores
//! its positions and cash from every fill), and component state.

use std::time::Duration;

use neo_domain::Timestamp;

use crate::backend::{Sql, Val};
use crate::{Store, StoreError};

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
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Pruned) {
        self.inbox += other.inbox;
        self.outbox += other.outbox;
        self.audit += other.audit;
        self.orders += other.orders;
    }
}

impl Pruned {
    /// Rows removed in all.
    pub fn total(&self) -> u64 {
        self.inbox + self.outbox + self.audit + self.orders
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

impl Store {
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
        let orders = self.pools.exec(&PRUNE_ORDERS, &[cutoff, limit]).await?;
        Ok(Pruned {
            inbox,
            outbox,
            audit,
            orders,
        })
    }
}
