-- NEO store schema for PostgreSQL (service mode).
-- Ids are UUID, times are BIGINT nanoseconds since the Unix epoch (UTC, exact),
-- decimals are NUMERIC written and read through text casts (exact), and `body`
-- holds the full contract as JSONB: reads decode the body, the other columns
-- exist for keys, filters, indexes and SQL analytics.

CREATE TABLE signals (
    id          UUID PRIMARY KEY,
    instrument  TEXT NOT NULL,
    source      TEXT NOT NULL,
    signal_type TEXT NOT NULL,
    side        TEXT,
    priority    TEXT NOT NULL,
    price       NUMERIC,
    quantity    NUMERIC,
    strategy    TEXT,
    ts_event    BIGINT NOT NULL,
    body        JSONB NOT NULL
);
CREATE INDEX signals_by_time ON signals (ts_event DESC, id DESC);
CREATE INDEX signals_by_instrument ON signals (instrument, ts_event DESC);

CREATE TABLE orders (
    id              UUID PRIMARY KEY,
    intent_id       UUID NOT NULL,
    signal_id       UUID NOT NULL,
    parent_id       UUID,
    instrument      TEXT NOT NULL,
    side            TEXT NOT NULL,
    order_type      TEXT NOT NULL,
    role            TEXT NOT NULL,
    status          TEXT NOT NULL,
    lifecycle_rank  SMALLINT NOT NULL,
    quantity        NUMERIC NOT NULL,
    filled_quantity NUMERIC NOT NULL,
    avg_fill_price  NUMERIC,
    limit_price     NUMERIC,
    stop_price      NUMERIC,
    ts_created      BIGINT NOT NULL,
    ts_event        BIGINT NOT NULL,
    body            JSONB NOT NULL
);
CREATE INDEX orders_by_signal ON orders (signal_id, ts_created, id);
CREATE INDEX orders_by_time ON orders (ts_created DESC, id DESC);
CREATE INDEX orders_by_instrument_status ON orders (instrument, status);

CREATE TABLE fills (
    id         UUID PRIMARY KEY,
    order_id   UUID NOT NULL,
    signal_id  UUID NOT NULL,
    instrument TEXT NOT NULL,
    side       TEXT NOT NULL,
    price      NUMERIC NOT NULL,
    quantity   NUMERIC NOT NULL,
    fee        NUMERIC NOT NULL,
    liquidity  TEXT NOT NULL,
    ts_event   BIGINT NOT NULL,
    body       JSONB NOT NULL
);
CREATE INDEX fills_by_signal ON fills (signal_id, ts_event, id);
CREATE INDEX fills_by_order ON fills (order_id, ts_event);

CREATE TABLE positions (
    instrument     TEXT PRIMARY KEY,
    side           TEXT NOT NULL,
    quantity       NUMERIC NOT NULL,
    avg_price      NUMERIC,
    realized_pnl   NUMERIC NOT NULL,
    unrealized_pnl NUMERIC NOT NULL,
    currency       TEXT NOT NULL,
    ts_event       BIGINT NOT NULL,
    body           JSONB NOT NULL
);

CREATE TABLE audit_events (
    id             UUID PRIMARY KEY,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    entity         TEXT,
    correlation_id UUID,
    ts_event       BIGINT NOT NULL,
    body           JSONB NOT NULL
);
CREATE INDEX audit_by_correlation ON audit_events (correlation_id, ts_event, id);
CREATE INDEX audit_by_time ON audit_events (ts_event DESC, id DESC);

-- One row per (consumer, message) handled, inserted in the same transaction as
-- the message's effects. A concurrent insert of the same key waits on the
-- unique index until the first transaction ends, then inserts nothing.
CREATE TABLE inbox (
    consumer   TEXT NOT NULL,
    message_id UUID NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

-- Outgoing envelopes, relayed after commit. Writers take a transaction-level
-- advisory lock before inserting here, so seq order is commit order and a
-- reader paging by seq never skips a row that commits later.
CREATE TABLE outbox (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    envelope_id    UUID NOT NULL UNIQUE,
    subject        TEXT NOT NULL,
    message_type   TEXT NOT NULL,
    correlation_id UUID NOT NULL,
    ts_event       BIGINT NOT NULL,
    relayed        BOOLEAN NOT NULL DEFAULT FALSE,
    body           JSONB NOT NULL
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE NOT relayed;

-- Per-consumer replay position of the embedded bus (outbox seqs start at 1;
-- a negative checkpoint is a bug and is refused).
CREATE TABLE checkpoints (
    consumer TEXT PRIMARY KEY,
    seq      BIGINT NOT NULL CHECK (seq >= 0)
);
