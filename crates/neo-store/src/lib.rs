//! NEO's persistence over SQLite (the embedded default) and PostgreSQL, one
//! [`Store`] type over both, built so that a stage's effects are committed
//! exactly once over at-least-once delivery.
//!
//! A stage hands [`Store::commit`] (or the group-commit [`Writer`]) a batch of
//! [`Unit`]s: each is the effects of handling one message (state changes as
//! [`Op`]s plus outgoing envelopes) together with that message's [`InboxKey`].
//! All units of a call are one transaction. A unit whose inbox key is already
//! present is skipped ([`UnitOutcome::AlreadyHandled`]) and changes nothing,
//! so a redelivered message cannot apply twice, even when two consumers race.
//! Outgoing envelopes land in the outbox in the same transaction and a relay
//! publishes them afterwards ([`Store::outbox_pending`], [`Store::mark_relayed`]);
//! in embedded mode the outbox is also the bus's durable log
//! ([`Store::outbox_after`], [`Store::checkpoint`]).
//!
//! Storage choices (both databases): times are integer nanoseconds (exact);
//! ids are UUID in PostgreSQL and lower-case hyphenated text in SQLite;
//! decimals are NUMERIC (bound and read through text casts) in PostgreSQL and
//! canonical text in SQLite; every row keeps its full contract as JSON (JSONB
//! in PostgreSQL), which is what reads decode, so values round-trip unchanged.

mod backend;
mod batch;
mod checkpoint;
mod commit;
mod error;
mod lease;
mod plan;
mod read;
mod retention;
mod shape;
mod store;
mod writer;

use neo_domain::contracts::{AuditEventV1, FillV1, OrderV1, PositionV1, SignalEventV1};
use neo_domain::{Envelope, MessageId, Timestamp};
use serde_json::Value;

pub use error::StoreError;
pub use lease::Lease;
pub use retention::Pruned;
pub use store::{Store, StoreKind, StoreOptions};
pub use writer::{Writer, WriterConfig, WriterStats};

/// The effects of handling one message, applied all together or not at all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Unit {
    /// The message handled; `None` for effects that do not come from a message (they always apply).
    pub inbox: Option<InboxKey>,
    /// State changes.
    pub ops: Vec<Op>,
    /// Outgoing messages, relayed to the bus after the commit.
    pub outbox: Vec<Envelope<Value>>,
}

/// Identifies a handled message per consumer, so that each consumer applies each message once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InboxKey {
    /// The consuming stage (its durable name).
    pub consumer: String,
    /// The envelope id of the message handled.
    pub message_id: MessageId,
}

impl InboxKey {
    /// Convenience constructor, so call sites stay one line.
    pub fn new(consumer: impl Into<String>, message_id: MessageId) -> Self {
        InboxKey {
            consumer: consumer.into(),
            message_id,
        }
    }
}

/// One state change; every op is idempotent, so replaying a unit without an inbox key is harmless.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Records a signal; ignored when its id already exists.
    InsertSignal(SignalEventV1),
    /// Creates or updates an order. A newer `ts_event` wins; at an equal `ts_event` an
    /// update applies unless it would move the lifecycle backwards (new < accepted <
    /// partially filled < terminal), so a stale update never overwrites a newer one.
    UpsertOrder(OrderV1),
    /// Records a fill; ignored when its id already exists.
    InsertFill(FillV1),
    /// Creates or replaces the position of an instrument; an older `ts_event` never
    /// overwrites a newer one (at an equal `ts_event` the later write wins).
    UpsertPosition(PositionV1),
    /// Records an audit event; ignored when its id already exists.
    InsertAudit(AuditEventV1),
    /// Moves a consumer's replay checkpoint forward (never backwards).
    SetCheckpoint {
        /// The consumer.
        consumer: String,
        /// The outbox seq below which (inclusive) everything is handled.
        seq: i64,
    },
    /// Creates or replaces a component's state document; an older `ts_event` never
    /// overwrites a newer one (at an equal `ts_event` the later write wins).
    PutState(StateRecord),
}

/// One component's durable state document (the desk's memory, later flags and budgets).
#[derive(Debug, Clone, PartialEq)]
pub struct StateRecord {
    /// Whose state it is (the row's key).
    pub key: StateKey,
    /// The document itself; the component owns its shape and types it at its edge.
    pub body: Value,
    /// When the state changed, so a stale write never replaces a newer state.
    pub ts_event: Timestamp,
}

/// Which component's state: a closed set, so no caller invents keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StateKey {
    /// The trading desk (trading state, high-water mark, calibrator, open round trips).
    Desk,
    /// The gateway's installation secret, under which signal ids are derived.
    Gateway,
    /// The feature flags changed since the config seeded them (and their version).
    Flags,
    /// The LLM agents' API spend this UTC day and month.
    LlmBudget,
    /// The LLM agent's recent calls per instrument and both agents' track records.
    AgentMemory,
    /// What the active desk shows (account, trading state, quotes, briefings), for
    /// gateways in other processes; rewritten every second, never restored from.
    DeskView,
    /// The active desk's recent closed candles per instrument, for the same readers.
    DeskCandles,
    /// The active market role's recent closed candles and instrument increments:
    /// what a desk in another process warms up on before following the bus.
    MarketWarm,
    /// The active market role's feed connection, rewritten every second (its heartbeat).
    MarketFeed,
    /// The signed quantity, per instrument, of every fill retention removed: what
    /// position reconciliation adds to the fills still stored.
    PrunedFills,
}

impl StateKey {
    /// The stored key text, fixed forever because rows are found by it.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateKey::Desk => "desk",
            StateKey::Gateway => "gateway",
            StateKey::Flags => "flags",
            StateKey::LlmBudget => "llm_budget",
            StateKey::AgentMemory => "agent_memory",
            StateKey::DeskView => "desk_view",
            StateKey::DeskCandles => "desk_candles",
            StateKey::MarketWarm => "market_warm",
            StateKey::MarketFeed => "market_feed",
            StateKey::PrunedFills => "pruned_fills",
        }
    }
}

/// What a commit did with one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitOutcome {
    /// The unit's ops and outbox rows were written.
    Applied {
        /// The seqs of the outbox rows this unit inserted, in the unit's order (an envelope
        /// whose id was already in the outbox inserts nothing and has no seq here).
        outbox_seqs: Vec<i64>,
    },
    /// Its inbox key was already present: nothing was written.
    AlreadyHandled,
}

impl UnitOutcome {
    /// True when the unit's effects were written by this commit.
    pub fn is_applied(&self) -> bool {
        matches!(self, UnitOutcome::Applied { .. })
    }
}

/// An outbox row: an envelope and its position in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    /// Increasing with commit order; never reused.
    pub seq: i64,
    /// The message to publish.
    pub envelope: Envelope<Value>,
}

/// Where a page of a time-ordered listing ends: pass it back to get the next (older) page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The sort time of the last item returned.
    pub ts: Timestamp,
    /// Its id, which breaks ties between equal times.
    pub id: MessageId,
}

/// One page of a listing, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor for the next page; `None` when this page is the last.
    pub next: Option<Cursor>,
}

/// The store's tables, for row counts in tests and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `signals`.
    Signals,
    /// `orders`.
    Orders,
    /// `fills`.
    Fills,
    /// `positions`.
    Positions,
    /// `audit_events`.
    AuditEvents,
    /// `inbox`.
    Inbox,
    /// `outbox`.
    Outbox,
    /// `checkpoints`.
    Checkpoints,
    /// `component_state`.
    ComponentState,
}

impl Table {
    /// Every table, for metrics loops.
    pub const ALL: [Table; 9] = [
        Table::Signals,
        Table::Orders,
        Table::Fills,
        Table::Positions,
        Table::AuditEvents,
        Table::Inbox,
        Table::Outbox,
        Table::Checkpoints,
        Table::ComponentState,
    ];

    /// The SQL table name (also a fine metrics label).
    pub const fn name(self) -> &'static str {
        match self {
            Table::Signals => "signals",
            Table::Orders => "orders",
            Table::Fills => "fills",
            Table::Positions => "positions",
            Table::AuditEvents => "audit_events",
            Table::Inbox => "inbox",
            Table::Outbox => "outbox",
            Table::Checkpoints => "checkpoints",
            Table::ComponentState => "component_state",
        }
    }
}
