//! What each write is, in SQL and bound values, independent of the backend that
//! runs it. Encoding (JSON bodies, decimal text) happens here, before any
//! transaction starts, so a value that cannot be encoded never holds the write lock.

use neo_domain::contracts::{
    AuditEventV1, FillV1, OrderStatus, OrderV1, PositionV1, SignalEventV1,
};
use neo_domain::{Envelope, MessageId};
use serde::Serialize;
use serde_json::Value;

use crate::backend::{Sql, Val};
use crate::{InboxKey, Op, StoreError};

/// A statement ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Stmt {
    /// The SQL in both dialects.
    pub(crate) sql: &'static Sql,
    /// The values for `$1..$n`.
    pub(crate) vals: Vec<Val>,
}

/// One unit, encoded.
#[derive(Debug, Clone)]
pub(crate) struct UnitPlan {
    /// The inbox insert, when the unit has a key.
    pub(crate) inbox: Option<Stmt>,
    /// The state changes.
    pub(crate) ops: Vec<Stmt>,
    /// The outbox inserts (each returns the new seq, or no row for a duplicate id).
    pub(crate) outbox: Vec<Stmt>,
}

/// Inserts the inbox row; zero rows changed means the message was handled before.
pub(crate) const INBOX_INSERT: Sql = Sql {
    sqlite: "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) \
             ON CONFLICT (consumer, message_id) DO NOTHING",
    pg: "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) \
         ON CONFLICT (consumer, message_id) DO NOTHING",
};

const OUTBOX_INSERT: Sql = Sql {
    sqlite: "INSERT INTO outbox (envelope_id, subject, message_type, correlation_id, ts_event, body) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (envelope_id) DO NOTHING RETURNING seq",
    pg: "INSERT INTO outbox (envelope_id, subject, message_type, correlation_id, ts_event, body) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (envelope_id) DO NOTHING RETURNING seq",
};

/// Serializes the PostgreSQL outbox writers (held until commit): seqs are drawn after
/// it is taken, so seq order is commit order. The key is "neo_outb" in ASCII.
pub(crate) const OUTBOX_LOCK: Sql = Sql {
    sqlite: "SELECT 1",
    pg: "SELECT pg_advisory_xact_lock(7953757764478858594)",
};

const SIGNAL_INSERT: Sql = Sql {
    sqlite: "INSERT INTO signals (id, instrument, source, signal_type, side, priority, price, \
             quantity, strategy, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO NOTHING",
    pg: "INSERT INTO signals (id, instrument, source, signal_type, side, priority, price, \
         quantity, strategy, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, \
         $8::numeric, $9, $10, $11::jsonb) ON CONFLICT (id) DO NOTHING",
};

const ORDER_UPSERT: Sql = Sql {
    sqlite: "INSERT INTO orders (id, intent_id, signal_id, parent_id, instrument, side, order_type, \
             role, status, lifecycle_rank, quantity, filled_quantity, avg_fill_price, limit_price, \
             stop_price, ts_created, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             lifecycle_rank = excluded.lifecycle_rank, quantity = excluded.quantity, \
             filled_quantity = excluded.filled_quantity, avg_fill_price = excluded.avg_fill_price, \
             limit_price = excluded.limit_price, stop_price = excluded.stop_price, \
             ts_event = excluded.ts_event, body = excluded.body \
             WHERE excluded.ts_event > orders.ts_event OR (excluded.ts_event = orders.ts_event \
             AND excluded.lifecycle_rank >= orders.lifecycle_rank)",
    pg: "INSERT INTO orders (id, intent_id, signal_id, parent_id, instrument, side, order_type, \
         role, status, lifecycle_rank, quantity, filled_quantity, avg_fill_price, limit_price, \
         stop_price, ts_created, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
         $10, $11::numeric, $12::numeric, $13::numeric, $14::numeric, $15::numeric, $16, $17, \
         $18::jsonb) \
         ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
         lifecycle_rank = excluded.lifecycle_rank, quantity = excluded.quantity, \
         filled_quantity = excluded.filled_quantity, avg_fill_price = excluded.avg_fill_price, \
         limit_price = excluded.limit_price, stop_price = excluded.stop_price, \
         ts_event = excluded.ts_event, body = excluded.body \
         WHERE excluded.ts_event > orders.ts_event OR (excluded.ts_event = orders.ts_event \
         AND excluded.lifecycle_rank >= orders.lifecycle_rank)",
};

const FILL_INSERT: Sql = Sql {
    sqlite: "INSERT INTO fills (id, order_id, signal_id, instrument, side, price, quantity, fee, \
             liquidity, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO NOTHING",
    pg: "INSERT INTO fills (id, order_id, signal_id, instrument, side, price, quantity, fee, \
         liquidity, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6::numeric, $7::numeric, \
         $8::numeric, $9, $10, $11::jsonb) ON CONFLICT (id) DO NOTHING",
};

const POSITION_UPSERT: Sql = Sql {
    sqlite: "INSERT INTO positions (instrument, side, quantity, avg_price, realized_pnl, \
             unrealized_pnl, currency, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (instrument) DO UPDATE SET side = excluded.side, \
             quantity = excluded.quantity, avg_price = excluded.avg_price, \
             realized_pnl = excluded.realized_pnl, unrealized_pnl = excluded.unrealized_pnl, \
             currency = excluded.currency, ts_event = excluded.ts_event, body = excluded.body \
             WHERE excluded.ts_event >= positions.ts_event",
    pg: "INSERT INTO positions (instrument, side, quantity, avg_price, realized_pnl, \
         unrealized_pnl, currency, ts_event, body) VALUES ($1, $2, $3::numeric, $4::numeric, \
         $5::numeric, $6::numeric, $7, $8, $9::jsonb) \
         ON CONFLICT (instrument) DO UPDATE SET side = excluded.side, \
         quantity = excluded.quantity, avg_price = excluded.avg_price, \
         realized_pnl = excluded.realized_pnl, unrealized_pnl = excluded.unrealized_pnl, \
         currency = excluded.currency, ts_event = excluded.ts_event, body = excluded.body \
         WHERE excluded.ts_event >= positions.ts_event",
};

const AUDIT_INSERT: Sql = Sql {
    sqlite: "INSERT INTO audit_events (id, actor, action, entity, correlation_id, ts_event, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    pg: "INSERT INTO audit_events (id, actor, action, entity, correlation_id, ts_event, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO NOTHING",
};

/// Moves a checkpoint forward only: a late, lower value never undoes progress.
pub(crate) const CHECKPOINT_UPSERT: Sql = Sql {
    sqlite: "INSERT INTO checkpoints (consumer, seq) VALUES ($1, $2) ON CONFLICT (consumer) \
             DO UPDATE SET seq = excluded.seq WHERE excluded.seq > checkpoints.seq",
    pg: "INSERT INTO checkpoints (consumer, seq) VALUES ($1, $2) ON CONFLICT (consumer) \
         DO UPDATE SET seq = excluded.seq WHERE excluded.seq > checkpoints.seq",
};

fn id(id: MessageId) -> Val {
    Val::Id(*id.as_uuid())
}

fn opt_id(id: Option<MessageId>) -> Val {
    Val::OptId(id.map(|id| *id.as_uuid()))
}

fn text(t: impl ToString) -> Val {
    Val::Text(t.to_string())
}

fn opt_text<T: ToString>(t: Option<T>) -> Val {
    Val::OptText(t.map(|t| t.to_string()))
}

fn json<T: Serialize>(what: &'static str, value: &T) -> Result<Val, StoreError> {
    serde_json::to_string(value)
        .map(Val::Text)
        .map_err(|e| StoreError::Invalid(format!("{what} does not encode as JSON: {e}")))
}

/// Orders the lifecycle so that, at equal `ts_event`, a stale update cannot move an order back.
fn lifecycle_rank(status: OrderStatus) -> i64 {
    match status {
        OrderStatus::New => 0,
        OrderStatus::Accepted => 1,
        OrderStatus::PartiallyFilled => 2,
        OrderStatus::Filled
        | OrderStatus::Cancelled
        | OrderStatus::Rejected
        | OrderStatus::Expired => 3,
    }
}

/// The inbox insert for a key.
pub(crate) fn inbox(key: &InboxKey) -> Stmt {
    Stmt {
        sql: &INBOX_INSERT,
        vals: vec![text(&key.consumer), id(key.message_id)],
    }
}

/// The outbox insert for an envelope.
pub(crate) fn outbox(env: &Envelope<Value>) -> Result<Stmt, StoreError> {
    Ok(Stmt {
        sql: &OUTBOX_INSERT,
        vals: vec![
            id(env.id),
            text(env.subject.as_str()),
            text(&env.message_type),
            id(env.correlation_id),
            Val::Int(env.ts_event.as_nanos()),
            json("envelope", env)?,
        ],
    })
}

fn signal(s: &SignalEventV1) -> Result<Stmt, StoreError> {
    Ok(Stmt {
        sql: &SIGNAL_INSERT,
        vals: vec![
            id(s.id),
            text(s.instrument.as_str()),
            text(s.source),
            text(s.signal_type),
            opt_text(s.side),
            text(s.priority),
            opt_text(s.price),
            opt_text(s.quantity),
            opt_text(s.strategy.as_deref()),
            Val::Int(s.ts_event.as_nanos()),
            json("signal", s)?,
        ],
    })
}

fn order(o: &OrderV1) -> Result<Stmt, StoreError> {
    Ok(Stmt {
        sql: &ORDER_UPSERT,
        vals: vec![
            id(o.id),
            id(o.intent_id),
            id(o.signal_id),
            opt_id(o.parent_id),
            text(o.instrument.as_str()),
            text(o.side),
            text(o.order_type),
            text(o.role),
            text(o.status),
            Val::Int(lifecycle_rank(o.status)),
            text(o.quantity),
            text(o.filled_quantity),
            opt_text(o.avg_fill_price),
            opt_text(o.limit_price),
            opt_text(o.stop_price),
            Val::Int(o.ts_created.as_nanos()),
            Val::Int(o.ts_event.as_nanos()),
            json("order", o)?,
        ],
    })
}

fn fill(f: &FillV1) -> Result<Stmt, StoreError> {
    Ok(Stmt {
        sql: &FILL_INSERT,
        vals: vec![
            id(f.id),
            id(f.order_id),
            id(f.signal_id),
            text(f.instrument.as_str()),
            text(f.side),
            text(f.price),
            text(f.quantity),
            text(f.fee),
            text(f.liquidity),
            Val::Int(f.ts_event.as_nanos()),
            json("fill", f)?,
        ],
    })
}

fn position(p: &PositionV1) -> Result<Stmt, StoreError> {
    Ok(Stmt {
        sql: &POSITION_UPSERT,
        vals: vec![
            text(p.instrument.as_str()),
            text(p.side),
            text(p.quantity),
            opt_text(p.avg_price),
            text(p.realized_pnl),
            text(p.unrealized_pnl),
            text(&p.currency),
            Val::Int(p.ts_event.as_nanos()),
            json("position", p)?,
        ],
    })
}

fn audit(a: &AuditEventV1) -> Result<Stmt, StoreError> {
    Ok(Stmt {
        sql: &AUDIT_INSERT,
        vals: vec![
            id(a.id),
            text(&a.actor),
            text(&a.action),
            opt_text(a.entity.as_deref()),
            opt_id(a.correlation_id),
            Val::Int(a.ts_event.as_nanos()),
            json("audit event", a)?,
        ],
    })
}

/// The checkpoint upsert.
pub(crate) fn checkpoint(consumer: &str, seq: i64) -> Stmt {
    Stmt {
        sql: &CHECKPOINT_UPSERT,
        vals: vec![text(consumer), Val::Int(seq)],
    }
}

/// The statement for one op.
pub(crate) fn op(op: &Op) -> Result<Stmt, StoreError> {
    match op {
        Op::InsertSignal(s) => signal(s),
        Op::UpsertOrder(o) => order(o),
        Op::InsertFill(f) => fill(f),
        Op::UpsertPosition(p) => position(p),
        Op::InsertAudit(a) => audit(a),
        Op::SetCheckpoint { consumer, seq } => Ok(checkpoint(consumer, *seq)),
    }
}

/// Encodes one unit.
pub(crate) fn unit(unit: &crate::Unit) -> Result<UnitPlan, StoreError> {
    Ok(UnitPlan {
        inbox: unit.inbox.as_ref().map(inbox),
        ops: unit.ops.iter().map(op).collect::<Result<_, _>>()?,
        outbox: unit.outbox.iter().map(outbox).collect::<Result<_, _>>()?,
    })
}
