//! Reads for the API and for tests: every row decodes from its stored JSON body,
//! so what comes back is exactly the contract that was written.

use neo_domain::contracts::{AuditEventV1, FillV1, OrderV1, PositionV1, SignalEventV1};
use neo_domain::{InstrumentId, MessageId, Timestamp};
use serde::de::DeserializeOwned;

use crate::backend::{Sql, Val};
use crate::{Cursor, Page, StateKey, StateRecord, Store, StoreError, Table};

/// A statement whose only difference between backends is reading the body as text.
macro_rules! body_sql {
    ($sqlite:literal, $pg:literal) => {
        Sql {
            sqlite: $sqlite,
            pg: $pg,
        }
    };
}

const GET_SIGNAL: Sql = body_sql!(
    "SELECT 0, body FROM signals WHERE id = $1",
    "SELECT 0::bigint, body::text FROM signals WHERE id = $1"
);
const LIST_SIGNALS: Sql = body_sql!(
    "SELECT 0, body FROM signals ORDER BY ts_event DESC, id DESC LIMIT $1",
    "SELECT 0::bigint, body::text FROM signals ORDER BY ts_event DESC, id DESC LIMIT $1"
);
const LIST_SIGNALS_BEFORE: Sql = body_sql!(
    "SELECT 0, body FROM signals WHERE (ts_event, id) < ($2, $3) \
     ORDER BY ts_event DESC, id DESC LIMIT $1",
    "SELECT 0::bigint, body::text FROM signals WHERE (ts_event, id) < ($2, $3) \
     ORDER BY ts_event DESC, id DESC LIMIT $1"
);
const GET_ORDER: Sql = body_sql!(
    "SELECT 0, body FROM orders WHERE id = $1",
    "SELECT 0::bigint, body::text FROM orders WHERE id = $1"
);
const LIST_ORDERS: Sql = body_sql!(
    "SELECT 0, body FROM orders ORDER BY ts_created DESC, id DESC LIMIT $1",
    "SELECT 0::bigint, body::text FROM orders ORDER BY ts_created DESC, id DESC LIMIT $1"
);
const LIST_ORDERS_BEFORE: Sql = body_sql!(
    "SELECT 0, body FROM orders WHERE (ts_created, id) < ($2, $3) \
     ORDER BY ts_created DESC, id DESC LIMIT $1",
    "SELECT 0::bigint, body::text FROM orders WHERE (ts_created, id) < ($2, $3) \
     ORDER BY ts_created DESC, id DESC LIMIT $1"
);
const ORDERS_FOR_SIGNAL: Sql = body_sql!(
    "SELECT 0, body FROM orders WHERE signal_id = $1 \
     ORDER BY ts_created, parent_id IS NOT NULL, role, id",
    "SELECT 0::bigint, body::text FROM orders WHERE signal_id = $1 \
     ORDER BY ts_created, parent_id IS NOT NULL, role, id"
);
const FILLS_FOR_SIGNAL: Sql = body_sql!(
    "SELECT 0, body FROM fills WHERE signal_id = $1 ORDER BY ts_event, id",
    "SELECT 0::bigint, body::text FROM fills WHERE signal_id = $1 ORDER BY ts_event, id"
);
const OPEN_ORDERS: Sql = body_sql!(
    "SELECT 0, body FROM orders WHERE status IN ('new', 'accepted', 'partially_filled') \
     ORDER BY ts_created, id",
    "SELECT 0::bigint, body::text FROM orders \
     WHERE status IN ('new', 'accepted', 'partially_filled') ORDER BY ts_created, id"
);
const FILLS_AFTER: Sql = body_sql!(
    "SELECT 0, body FROM fills WHERE (ts_event, id) > ($2, $3) ORDER BY ts_event, id LIMIT $1",
    "SELECT 0::bigint, body::text FROM fills WHERE (ts_event, id) > ($2, $3) \
     ORDER BY ts_event, id LIMIT $1"
);
const GET_POSITION: Sql = body_sql!(
    "SELECT 0, body FROM positions WHERE instrument = $1",
    "SELECT 0::bigint, body::text FROM positions WHERE instrument = $1"
);
const LIST_POSITIONS: Sql = body_sql!(
    "SELECT 0, body FROM positions ORDER BY instrument",
    "SELECT 0::bigint, body::text FROM positions ORDER BY instrument"
);
const AUDIT_FOR: Sql = body_sql!(
    "SELECT 0, body FROM audit_events WHERE correlation_id = $1 ORDER BY ts_event, id",
    "SELECT 0::bigint, body::text FROM audit_events WHERE correlation_id = $1 \
     ORDER BY ts_event, id"
);
const GET_STATE: Sql = body_sql!(
    "SELECT ts_event, body FROM component_state WHERE key = $1",
    "SELECT ts_event, body::text FROM component_state WHERE key = $1"
);

/// `SELECT count(*)` for each table (the same text in both dialects).
macro_rules! count_sql {
    ($table:literal) => {
        Sql {
            sqlite: concat!("SELECT count(*) FROM ", $table),
            pg: concat!("SELECT count(*) FROM ", $table),
        }
    };
}

fn count_sql(table: Table) -> &'static Sql {
    const SIGNALS: Sql = count_sql!("signals");
    const ORDERS: Sql = count_sql!("orders");
    const FILLS: Sql = count_sql!("fills");
    const POSITIONS: Sql = count_sql!("positions");
    const AUDIT: Sql = count_sql!("audit_events");
    const INBOX: Sql = count_sql!("inbox");
    const OUTBOX: Sql = count_sql!("outbox");
    const CHECKPOINTS: Sql = count_sql!("checkpoints");
    const COMPONENT_STATE: Sql = count_sql!("component_state");
    match table {
        Table::Signals => &SIGNALS,
        Table::Orders => &ORDERS,
        Table::Fills => &FILLS,
        Table::Positions => &POSITIONS,
        Table::AuditEvents => &AUDIT,
        Table::Inbox => &INBOX,
        Table::Outbox => &OUTBOX,
        Table::Checkpoints => &CHECKPOINTS,
        Table::ComponentState => &COMPONENT_STATE,
    }
}

pub(crate) fn id_val(id: MessageId) -> Val {
    Val::Id(*id.as_uuid())
}

impl Store {
    /// Decodes rows of `(_, body)` from `table`.
    pub(crate) async fn bodies<T: DeserializeOwned>(
        &self,
        table: &'static str,
        sql: &Sql,
        vals: &[Val],
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.pools.fetch_pairs(sql, vals).await?;
        rows.into_iter()
            .map(|(_, body)| {
                serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
                    table,
                    message: e.to_string(),
                })
            })
            .collect()
    }

    /// One page, newest first: fetches one extra row to know whether another page follows.
    async fn page<T: DeserializeOwned>(
        &self,
        table: &'static str,
        (first, after): (&Sql, &Sql),
        limit: u32,
        before: Option<Cursor>,
        cursor_of: impl Fn(&T) -> Cursor,
    ) -> Result<Page<T>, StoreError> {
        if limit == 0 {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let fetch = Val::Int(i64::from(limit) + 1);
        let mut items: Vec<T> = match before {
            None => self.bodies(table, first, &[fetch]).await?,
            Some(c) => {
                let vals = [fetch, Val::Int(c.ts.as_nanos()), id_val(c.id)];
                self.bodies(table, after, &vals).await?
            }
        };
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// A signal by id.
    pub async fn get_signal(&self, id: MessageId) -> Result<Option<SignalEventV1>, StoreError> {
        let mut rows = self.bodies("signals", &GET_SIGNAL, &[id_val(id)]).await?;
        Ok(rows.pop())
    }

    /// Signals newest first (by `ts_event`, then id), `limit` per page, older than `before`.
    pub async fn list_signals(
        &self,
        limit: u32,
        before: Option<Cursor>,
    ) -> Result<Page<SignalEventV1>, StoreError> {
        let sql = (&LIST_SIGNALS, &LIST_SIGNALS_BEFORE);
        self.page("signals", sql, limit, before, |s: &SignalEventV1| Cursor {
            ts: s.ts_event,
            id: s.id,
        })
        .await
    }

    /// An order by id.
    pub async fn get_order(&self, id: MessageId) -> Result<Option<OrderV1>, StoreError> {
        let mut rows = self.bodies("orders", &GET_ORDER, &[id_val(id)]).await?;
        Ok(rows.pop())
    }

    /// Orders newest first by creation time (`ts_created`, which never changes, so
    /// pages are stable while orders update), then id.
    pub async fn list_orders(
        &self,
        limit: u32,
        before: Option<Cursor>,
    ) -> Result<Page<OrderV1>, StoreError> {
        let sql = (&LIST_ORDERS, &LIST_ORDERS_BEFORE);
        self.page("orders", sql, limit, before, |o: &OrderV1| Cursor {
            ts: o.ts_created,
            id: o.id,
        })
        .await
    }

    /// A signal's orders, oldest first (entry before its bracket children).
    pub async fn orders_for_signal(
        &self,
        signal_id: MessageId,
    ) -> Result<Vec<OrderV1>, StoreError> {
        self.bodies("orders", &ORDERS_FOR_SIGNAL, &[id_val(signal_id)])
            .await
    }

    /// A signal's fills, oldest first.
    pub async fn fills_for_signal(&self, signal_id: MessageId) -> Result<Vec<FillV1>, StoreError> {
        self.bodies("fills", &FILLS_FOR_SIGNAL, &[id_val(signal_id)])
            .await
    }

    /// Orders still working (new, accepted, partially filled), oldest first.
    pub async fn open_orders(&self) -> Result<Vec<OrderV1>, StoreError> {
        self.bodies("orders", &OPEN_ORDERS, &[]).await
    }

    /// Fills oldest first (by `ts_event`, then id), `limit` of them after `after`
    /// (from the beginning when `None`): replaying them rebuilds the account exactly.
    pub async fn fills_after(
        &self,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<Vec<FillV1>, StoreError> {
        let (ts, id) = match after {
            Some(c) => (c.ts.as_nanos(), *c.id.as_uuid()),
            None => (i64::MIN, uuid::Uuid::nil()),
        };
        let vals = [Val::Int(i64::from(limit)), Val::Int(ts), Val::Id(id)];
        self.bodies("fills", &FILLS_AFTER, &vals).await
    }

    /// The position in one instrument, when there is one.
    pub async fn get_position(
        &self,
        instrument: &InstrumentId,
    ) -> Result<Option<PositionV1>, StoreError> {
        let vals = [Val::Text(instrument.as_str().to_owned())];
        let mut rows = self.bodies("positions", &GET_POSITION, &vals).await?;
        Ok(rows.pop())
    }

    /// Every position (flat ones included), by instrument.
    pub async fn list_positions(&self) -> Result<Vec<PositionV1>, StoreError> {
        self.bodies("positions", &LIST_POSITIONS, &[]).await
    }

    /// The audit trail of one story (everything sharing a correlation id), oldest first.
    pub async fn audit_for(
        &self,
        correlation_id: MessageId,
    ) -> Result<Vec<AuditEventV1>, StoreError> {
        self.bodies("audit_events", &AUDIT_FOR, &[id_val(correlation_id)])
            .await
    }

    /// A component's state as last committed, to restore it after a restart; `None`
    /// when it was never written, `Corrupt` when the stored body is not JSON.
    pub async fn get_state(&self, key: StateKey) -> Result<Option<StateRecord>, StoreError> {
        let vals = [Val::Text(key.as_str().to_owned())];
        let Some((ts, body)) = self.pools.fetch_pairs(&GET_STATE, &vals).await?.pop() else {
            return Ok(None);
        };
        let body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt {
            table: "component_state",
            message: format!("{}: {e}", key.as_str()),
        })?;
        Ok(Some(StateRecord {
            key,
            body,
            ts_event: Timestamp::from_nanos(ts),
        }))
    }

    /// The database's size on disk in bytes (SQLite: the file's pages, free ones
    /// included; PostgreSQL: the database), for soak runs and capacity planning.
    pub async fn size_bytes(&self) -> Result<u64, StoreError> {
        const SIZE: Sql = Sql {
            sqlite: "SELECT p.page_count * s.page_size FROM pragma_page_count() p, pragma_page_size() s",
            pg: "SELECT pg_database_size(current_database())::bigint",
        };
        let n = self.pools.fetch_i64(&SIZE, &[]).await?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }

    /// How many rows a table holds (tests and metrics).
    pub async fn count(&self, table: Table) -> Result<u64, StoreError> {
        let n = self.pools.fetch_i64(count_sql(table), &[]).await?;
        Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
    }
}
