-- Durable state documents of long-lived components (the trading desk's memory,
-- later feature flags and budgets), one row per component key. Written by the
-- same commit as the decision that changed it; a newer ts_event (nanoseconds)
-- wins, and at an equal ts_event the later write wins. `body` is JSONB.

CREATE TABLE component_state (
    key      TEXT PRIMARY KEY,
    ts_event BIGINT NOT NULL,
    body     JSONB NOT NULL
);
