-- Fills by time: replaying and reconciling read them in (ts_event, id) order,
-- and retention finds the old ones the same way.
CREATE INDEX fills_by_time ON fills (ts_event, id);
