//! What each write is, as bound values for a row of its [`Shape`](crate::shape::Shape),
//! independent of the backend that runs it. Encoding (JSON bodies, decimal text)
//! happens here, before any transaction starts, so a value that cannot be encoded
//! never holds the write lock.

use neo_domain::contracts::{
    AuditEventV1, FillV1, OrderStatus, OrderV1, PositionV1, SignalEventV1,
};
use neo_domain::{Envelope, MessageId};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::backend::Val;
use crate::shape::{CHECKPOINTS, Kind};
use crate::{InboxKey, Op, StateRecord, StoreError, StoreKind, Unit};

/// Which stored row an upsert targets and whether it wins over another write of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upsert {
    /// The conflict key (order id, instrument, consumer, state key).
    pub(crate) key: String,
    /// A write applies over the current row when its precedence is `>=` the row's,
    /// exactly as the shape's `WHERE` compares them.
    pub(crate) precedence: (i64, i64),
}

/// One op, encoded.
#[derive(Debug, Clone)]
pub(crate) struct OpRow {
    /// Its table.
    pub(crate) kind: Kind,
    /// For upserts, key and precedence (used to merge writes of one key in a batch).
    pub(crate) upsert: Option<Upsert>,
    /// The values, in the shape's column order.
    pub(crate) vals: Vec<Val>,
}

/// One outgoing envelope, encoded.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// Its id (the outbox's unique key, returned with the new seq).
    pub(crate) envelope_id: Uuid,
    /// The values, in [`crate::shape::OUTBOX`]'s column order.
    pub(crate) vals: Vec<Val>,
}

/// One unit, encoded.
#[derive(Debug, Clone)]
pub(crate) struct UnitPlan {
    /// The message handled, when the unit has one.
    pub(crate) inbox: Option<InboxKey>,
    /// The state changes.
    pub(crate) ops: Vec<OpRow>,
    /// The outbox rows.
    pub(crate) outbox: Vec<Outgoing>,
}

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

/// The outbox row for an envelope.
pub(crate) fn outbox(env: &Envelope<Value>) -> Result<Outgoing, StoreError> {
    Ok(Outgoing {
        envelope_id: *env.id.as_uuid(),
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

fn insert(kind: Kind, vals: Vec<Val>) -> OpRow {
    OpRow {
        kind,
        upsert: None,
        vals,
    }
}

fn upsert(kind: Kind, key: String, precedence: (i64, i64), vals: Vec<Val>) -> OpRow {
    OpRow {
        kind,
        upsert: Some(Upsert { key, precedence }),
        vals,
    }
}

fn signal(s: &SignalEventV1) -> Result<OpRow, StoreError> {
    Ok(insert(
        Kind::Signal,
        vec![
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
    ))
}

fn order(o: &OrderV1) -> Result<OpRow, StoreError> {
    let rank = lifecycle_rank(o.status);
    let ts = o.ts_event.as_nanos();
    Ok(upsert(
        Kind::Order,
        o.id.as_uuid().to_string(),
        (ts, rank),
        vec![
            id(o.id),
            id(o.intent_id),
            id(o.signal_id),
            opt_id(o.parent_id),
            text(o.instrument.as_str()),
            text(o.side),
            text(o.order_type),
            text(o.role),
            text(o.status),
            Val::Int(rank),
            text(o.quantity),
            text(o.filled_quantity),
            opt_text(o.avg_fill_price),
            opt_text(o.limit_price),
            opt_text(o.stop_price),
            Val::Int(o.ts_created.as_nanos()),
            Val::Int(ts),
            json("order", o)?,
        ],
    ))
}

fn fill(f: &FillV1) -> Result<OpRow, StoreError> {
    Ok(insert(
        Kind::Fill,
        vec![
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
    ))
}

fn position(p: &PositionV1) -> Result<OpRow, StoreError> {
    let ts = p.ts_event.as_nanos();
    Ok(upsert(
        Kind::Position,
        p.instrument.as_str().to_owned(),
        (ts, 0),
        vec![
            text(p.instrument.as_str()),
            text(p.side),
            text(p.quantity),
            opt_text(p.avg_price),
            text(p.realized_pnl),
            text(p.unrealized_pnl),
            text(&p.currency),
            Val::Int(ts),
            json("position", p)?,
        ],
    ))
}

fn audit(a: &AuditEventV1) -> Result<OpRow, StoreError> {
    Ok(insert(
        Kind::Audit,
        vec![
            id(a.id),
            text(&a.actor),
            text(&a.action),
            opt_text(a.entity.as_deref()),
            opt_id(a.correlation_id),
            Val::Int(a.ts_event.as_nanos()),
            json("audit event", a)?,
        ],
    ))
}

/// The state upsert: keyed by the component, newest `ts_event` first, then the later write.
fn state(r: &StateRecord) -> Result<OpRow, StoreError> {
    let ts = r.ts_event.as_nanos();
    Ok(upsert(
        Kind::State,
        r.key.as_str().to_owned(),
        (ts, 0),
        vec![
            text(r.key.as_str()),
            Val::Int(ts),
            json("component state", &r.body)?,
        ],
    ))
}

/// The checkpoint upsert. A negative seq takes precedence over every other write of the
/// consumer, so a batch still sends it and the database's CHECK refuses the commit, as
/// it would refuse that write on its own.
pub(crate) fn checkpoint(consumer: &str, seq: i64) -> OpRow {
    let precedence = if seq < 0 { (i64::MAX, 0) } else { (seq, 0) };
    upsert(
        Kind::Checkpoint,
        consumer.to_owned(),
        precedence,
        vec![text(consumer), Val::Int(seq)],
    )
}

/// The statement that moves one checkpoint on its own, outside a unit.
pub(crate) fn checkpoint_statement(
    kind: StoreKind,
    consumer: &str,
    seq: i64,
) -> (String, Vec<Val>) {
    (CHECKPOINTS.sql(kind, 1), checkpoint(consumer, seq).vals)
}

/// The row for one op.
pub(crate) fn op(op: &Op) -> Result<OpRow, StoreError> {
    match op {
        Op::InsertSignal(s) => signal(s),
        Op::UpsertOrder(o) => order(o),
        Op::InsertFill(f) => fill(f),
        Op::UpsertPosition(p) => position(p),
        Op::InsertAudit(a) => audit(a),
        Op::SetCheckpoint { consumer, seq } => Ok(checkpoint(consumer, *seq)),
        Op::PutState(r) => state(r),
    }
}

/// Encodes one unit.
pub(crate) fn unit(unit: &Unit) -> Result<UnitPlan, StoreError> {
    Ok(UnitPlan {
        inbox: unit.inbox.clone(),
        ops: unit.ops.iter().map(op).collect::<Result<_, _>>()?,
        outbox: unit.outbox.iter().map(outbox).collect::<Result<_, _>>()?,
    })
}
