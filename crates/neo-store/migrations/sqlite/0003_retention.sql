-- Retention: when each inbox row was written (the database's own clock, in
-- nanoseconds, whole seconds), so rows older than the retention can be pruned.
-- SQLite cannot add a column with a computed default, so the table is rebuilt;
-- rows already there count as written now.

CREATE TABLE inbox_new (
    consumer   TEXT NOT NULL,
    message_id TEXT NOT NULL,
    handled_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER) * 1000000000),
    PRIMARY KEY (consumer, message_id)
) STRICT, WITHOUT ROWID;
INSERT INTO inbox_new (consumer, message_id) SELECT consumer, message_id FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_new RENAME TO inbox;
CREATE INDEX inbox_by_time ON inbox (handled_at);
CREATE INDEX outbox_relayed_by_time ON outbox (ts_event) WHERE relayed = 1;
