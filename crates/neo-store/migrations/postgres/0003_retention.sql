-- Retention: when each inbox row was written (the database's own clock, in
-- nanoseconds), so rows older than the retention can be pruned. Rows already
-- there count as written now.

ALTER TABLE inbox
    ADD COLUMN handled_at BIGINT NOT NULL
    DEFAULT ((extract(epoch FROM clock_timestamp()) * 1000000000)::BIGINT);
CREATE INDEX inbox_by_time ON inbox (handled_at);
CREATE INDEX outbox_relayed_by_time ON outbox (ts_event) WHERE relayed;
