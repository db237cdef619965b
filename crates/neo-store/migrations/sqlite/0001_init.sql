-- NEO store schema for SQLite (embedded mode).
-- Ids are lower-case hyphenated UUID text, times are INTEGER nanoseconds since
-- the Unix epoch (UTC), decimals are their canonical text (exact), and `body`
-- holds the full contract as JSON text: reads decode the body, the other
-- columns exist for keys, filters and indexes. STRICT tables refuse mis-typed values.

CREATE TABLE signals (
    id          TEXT PRIMARY KEY NOT NULL,
    instrument  TEXT NOT NULL,
    source      TEXT NOT NULL,
    signal_type TEXT NOT NULL,
    side        TEXT,
    priority    TEXT NOT NULL,
    price       TEXT,
    quantity    TEXT,
    strategy    TEXT,
    ts_event    INTEGER NOT NULL,
    body        TEXT NOT NULL
) STRICT;
CREATE INDEX signals_by_time ON signals (ts_event DESC, id DESC);
CREATE INDEX signals_by_instrument ON signals (instrument, ts_event DESC);

CREATE TABLE orders (
    id              TEXT PRIMARY KEY NOT NULL,
    intent_id       TEXT NOT NULL,
    signal_id       TEXT NOT NULL,
    parent_id       TEXT,
    instrument      TEXT NOT NULL,
    side            TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    role            TEXT NOT NULL,
    status          TEXT NOT NULL,
    lifecycle_rank  INTEGER NOT NULL,
    quantity        TEXT NOT NULL,
    filled_quantity TEXT NOT NULL,
    avg_fill_price  TEXT,
    limit_price     TEXT,
    stop_price      TEXT,
    ts_created      INTEGER NOT NULL,
    ts_event        INTEGER NOT NULL,
    body            TEXT NOT NULL
) STRICT;
CREATE INDEX orders_by_signal ON orders (signal_id, ts_created, id);
CREATE INDEX orders_by_time ON orders (ts_created DESC, id DESC);
CREATE INDEX orders_by_instrument_status ON orders (instrument, status);

CREATE TABLE fills (
    id         TEXT PRIMARY KEY NOT NULL,
    order_id   TEXT NOT NULL,
    signal_id  TEXT NOT NULL,
    instrument TEXT NOT NULL,
    side       TEXT NOT NULL,
    price      TEXT NOT NULL,
    quantity   TEXT NOT NULL,
    fee        TEXT NOT NULL,
    liquidity  TEXT NOT NULL,
    ts_event   INTEGER NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX fills_by_signal ON fills (signal_id, ts_event, id);
CREATE INDEX fills_by_order ON fills (order_id, ts_event);

CREATE TABLE positions (
    instrument     TEXT PRIMARY KEY NOT NULL,
    side           TEXT NOT NULL,
    quantity       TEXT NOT NULL,
    avg_price      TEXT,
    realized_pnl   TEXT NOT NULL,
    unrealized_pnl TEXT NOT NULL,
    currency       TEXT NOT NULL,
    ts_event       INTEGER NOT NULL,
    body           TEXT NOT NULL
) STRICT;

CREATE TABLE audit_events (
    id             TEXT PRIMARY KEY NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    entity         TEXT,
    correlation_id TEXT,
    ts_event       INTEGER NOT NULL,
    body           TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_correlation ON audit_events (correlation_id, ts_event, id);
CREATE INDEX audit_by_time ON audit_events (ts_event DESC, id DESC);

-- One row per (consumer, message) handled: inserted in the same transaction as
-- the message's effects, so a redelivered message finds its row and is skipped.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
) STRICT, WITHOUT ROWID;

-- Outgoing envelopes, written with the effects that produced them and relayed
-- afterwards. `seq` never repeats (AUTOINCREMENT); in embedded mode this table
-- is the bus's durable log, replayed from each consumer's checkpoint.
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    envelope_id    TEXT NOT NULL UNIQUE,
    subject        TEXT NOT NULL,
    message_type   TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    ts_event       INTEGER NOT NULL,
    relayed        INTEGER NOT NULL DEFAULT 0 CHECK (relayed IN (0, 1)),
    body           TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_pending ON outbox (seq) WHERE relayed = 0;

-- Per-consumer replay position of the embedded bus (outbox seqs start at 1;
-- a negative checkpoint is a bug and is refused).
CREATE TABLE checkpoints (
    consumer TEXT PRIMARY KEY NOT NULL,
    seq      INTEGER NOT NULL CHECK (seq >= 0)
) STRICT;
