//! The multi-row statements a commit runs, declared once (table, columns, conflict
//! rule) and rendered per dialect and row count, so a whole transaction's writes of
//! one table go out as one statement (or a few, see [`crate::batch`]).

use std::fmt::Write as _;

use crate::StoreKind;
use crate::backend::Sql;

/// One column of a [`Shape`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Col {
    /// The column name.
    name: &'static str,
    /// What PostgreSQL casts the bound text to (`""` when the bound type already fits).
    pg_cast: &'static str,
    /// Whether an upsert's `DO UPDATE` sets it; otherwise the first insert's value stays.
    updated: bool,
}

impl Col {
    const fn new(name: &'static str) -> Col {
        Col {
            name,
            pg_cast: "",
            updated: false,
        }
    }

    /// A decimal, bound as text: NUMERIC in PostgreSQL.
    const fn numeric(self) -> Col {
        Col {
            pg_cast: "::numeric",
            ..self
        }
    }

    /// A JSON body, bound as text: JSONB in PostgreSQL.
    const fn json(self) -> Col {
        Col {
            pg_cast: "::jsonb",
            ..self
        }
    }

    /// Set by the upsert when the update applies.
    const fn updated(self) -> Col {
        Col {
            updated: true,
            ..self
        }
    }
}

/// What a row does when its key is already stored.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Conflict {
    /// `ON CONFLICT (target) DO NOTHING`: the stored row (or the first of the batch) wins.
    Ignore(&'static str),
    /// `ON CONFLICT (target) DO UPDATE SET <updated columns> WHERE <when>`.
    Update {
        /// The conflict target, e.g. `(id)`.
        target: &'static str,
        /// When the update applies (`excluded` is the new row).
        when: &'static str,
    },
}

/// A multi-row `INSERT`, declared once and rendered for any dialect and row count.
#[derive(Debug)]
pub(crate) struct Shape {
    /// The table.
    table: &'static str,
    /// The columns, in bind order.
    columns: &'static [Col],
    /// The conflict rule.
    conflict: Conflict,
    /// What `RETURNING` yields (`""` for nothing); valid in both dialects.
    returning: &'static str,
}

impl Shape {
    /// Values bound per row.
    pub(crate) fn width(&self) -> usize {
        self.columns.len()
    }

    /// Indexes of the columns an upsert never updates (kept from the row's first insert).
    pub(crate) fn insert_only(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.updated)
            .map(|(i, _)| i)
    }

    /// The statement for `rows` rows, placeholders `$1..$n` row after row.
    pub(crate) fn sql(&self, kind: StoreKind, rows: usize) -> String {
        let mut sql = String::with_capacity(128 + rows * self.width() * 10);
        let _ = write!(sql, "INSERT INTO {} (", self.table);
        push_list(&mut sql, self.columns.iter().map(|c| c.name));
        sql.push_str(") VALUES ");
        let mut n = 0;
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for (i, col) in self.columns.iter().enumerate() {
                n += 1;
                let cast = if kind == StoreKind::Postgres {
                    col.pg_cast
                } else {
                    ""
                };
                let sep = if i == 0 { "" } else { ", " };
                let _ = write!(sql, "{sep}${n}{cast}");
            }
            sql.push(')');
        }
        match self.conflict {
            Conflict::Ignore(target) => {
                let _ = write!(sql, " ON CONFLICT {target} DO NOTHING");
            }
            Conflict::Update { target, when } => {
                let _ = write!(sql, " ON CONFLICT {target} DO UPDATE SET ");
                let sets = self.columns.iter().filter(|c| c.updated);
                let sets = sets.map(|c| format!("{0} = excluded.{0}", c.name));
                push_list(&mut sql, sets);
                let _ = write!(sql, " WHERE {when}");
            }
        }
        if !self.returning.is_empty() {
            let _ = write!(sql, " RETURNING {}", self.returning);
        }
        sql
    }
}

fn push_list<S: AsRef<str>>(sql: &mut String, items: impl Iterator<Item = S>) {
    for (i, item) in items.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(item.as_ref());
    }
}

/// Inserts inbox keys; the keys returned are new, the others were handled before.
pub(crate) const INBOX: Shape = Shape {
    table: "inbox",
    columns: &[Col::new("consumer"), Col::new("message_id")],
    conflict: Conflict::Ignore("(consumer, message_id)"),
    returning: "consumer, CAST(message_id AS TEXT)",
};

/// Inserts outbox rows; returns the seq of each new envelope (a known envelope id inserts nothing).
pub(crate) const OUTBOX: Shape = Shape {
    table: "outbox",
    columns: &[
        Col::new("envelope_id"),
        Col::new("subject"),
        Col::new("message_type"),
        Col::new("correlation_id"),
        Col::new("ts_event"),
        Col::new("body").json(),
    ],
    conflict: Conflict::Ignore("(envelope_id)"),
    returning: "seq, CAST(envelope_id AS TEXT)",
};

/// Serializes the PostgreSQL outbox writers (held until commit): seqs are drawn after
/// it is taken, so seq order is commit order. The key is "neo_outb" in ASCII.
pub(crate) const OUTBOX_LOCK: Sql = Sql {
    sqlite: "SELECT 1",
    pg: "SELECT pg_advisory_xact_lock(7953757764478858594)",
};

const SIGNALS: Shape = Shape {
    table: "signals",
    columns: &[
        Col::new("id"),
        Col::new("instrument"),
        Col::new("source"),
        Col::new("signal_type"),
        Col::new("side"),
        Col::new("priority"),
        Col::new("price").numeric(),
        Col::new("quantity").numeric(),
        Col::new("strategy"),
        Col::new("ts_event"),
        Col::new("body").json(),
    ],
    conflict: Conflict::Ignore("(id)"),
    returning: "",
};

/// A newer `ts_event` wins; at an equal one the update applies unless it moves the
/// lifecycle back. [`crate::plan::Upsert::precedence`] is `(ts_event, lifecycle_rank)`
/// to match.
const ORDERS: Shape = Shape {
    table: "orders",
    columns: &[
        Col::new("id"),
        Col::new("intent_id"),
        Col::new("signal_id"),
        Col::new("parent_id"),
        Col::new("instrument"),
        Col::new("side"),
        Col::new("order_type"),
        Col::new("role"),
        Col::new("status").updated(),
        Col::new("lifecycle_rank").updated(),
        Col::new("quantity").numeric().updated(),
        Col::new("filled_quantity").numeric().updated(),
        Col::new("avg_fill_price").numeric().updated(),
        Col::new("limit_price").numeric().updated(),
        Col::new("stop_price").numeric().updated(),
        Col::new("ts_created"),
        Col::new("ts_event").updated(),
        Col::new("body").json().updated(),
    ],
    conflict: Conflict::Update {
        target: "(id)",
        when: "excluded.ts_event > orders.ts_event OR (excluded.ts_event = orders.ts_event \
               AND excluded.lifecycle_rank >= orders.lifecycle_rank)",
    },
    returning: "",
};

const FILLS: Shape = Shape {
    table: "fills",
    columns: &[
        Col::new("id"),
        Col::new("order_id"),
        Col::new("signal_id"),
        Col::new("instrument"),
        Col::new("side"),
        Col::new("price").numeric(),
        Col::new("quantity").numeric(),
        Col::new("fee").numeric(),
        Col::new("liquidity"),
        Col::new("ts_event"),
        Col::new("body").json(),
    ],
    conflict: Conflict::Ignore("(id)"),
    returning: "",
};

/// An older `ts_event` never overwrites a newer one; [`crate::plan::Upsert::precedence`]
/// is `(ts_event, 0)` to match.
const POSITIONS: Shape = Shape {
    table: "positions",
    columns: &[
        Col::new("instrument"),
        Col::new("side").updated(),
        Col::new("quantity").numeric().updated(),
        Col::new("avg_price").numeric().updated(),
        Col::new("realized_pnl").numeric().updated(),
        Col::new("unrealized_pnl").numeric().updated(),
        Col::new("currency").updated(),
        Col::new("ts_event").updated(),
        Col::new("body").json().updated(),
    ],
    conflict: Conflict::Update {
        target: "(instrument)",
        when: "excluded.ts_event >= positions.ts_event",
    },
    returning: "",
};

const AUDIT_EVENTS: Shape = Shape {
    table: "audit_events",
    columns: &[
        Col::new("id"),
        Col::new("actor"),
        Col::new("action"),
        Col::new("entity"),
        Col::new("correlation_id"),
        Col::new("ts_event"),
        Col::new("body").json(),
    ],
    conflict: Conflict::Ignore("(id)"),
    returning: "",
};

/// Moves a checkpoint forward only: a late, lower value never undoes progress.
pub(crate) const CHECKPOINTS: Shape = Shape {
    table: "checkpoints",
    columns: &[Col::new("consumer"), Col::new("seq").updated()],
    conflict: Conflict::Update {
        target: "(consumer)",
        when: "excluded.seq > checkpoints.seq",
    },
    returning: "",
};

/// An older `ts_event` never overwrites a newer one (at an equal one the later write
/// wins); [`crate::plan::Upsert::precedence`] is `(ts_event, 0)` to match.
const COMPONENT_STATE: Shape = Shape {
    table: "component_state",
    columns: &[
        Col::new("key"),
        Col::new("ts_event").updated(),
        Col::new("body").json().updated(),
    ],
    conflict: Conflict::Update {
        target: "(key)",
        when: "excluded.ts_event >= component_state.ts_event",
    },
    returning: "",
};

/// The table an op writes; each is one multi-row statement per commit (ops of
/// different kinds touch different tables, so their relative order is irrelevant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `signals`.
    Signal,
    /// `orders`.
    Order,
    /// `fills`.
    Fill,
    /// `positions`.
    Position,
    /// `audit_events`.
    Audit,
    /// `checkpoints`.
    Checkpoint,
    /// `component_state`.
    State,
}

impl Kind {
    /// Every kind, in the order a commit writes them.
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Signal,
        Kind::Order,
        Kind::Fill,
        Kind::Position,
        Kind::Audit,
        Kind::Checkpoint,
        Kind::State,
    ];

    /// The statement shape of this kind.
    pub(crate) fn shape(self) -> &'static Shape {
        match self {
            Kind::Signal => &SIGNALS,
            Kind::Order => &ORDERS,
            Kind::Fill => &FILLS,
            Kind::Position => &POSITIONS,
            Kind::Audit => &AUDIT_EVENTS,
            Kind::Checkpoint => &CHECKPOINTS,
            Kind::State => &COMPONENT_STATE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(sql: &str) -> String {
        sql.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// One row renders exactly the single-row statements commits ran one op at a time.
    #[test]
    fn one_row_is_the_single_row_statement() {
        let cases: [(&Shape, &str, &str); 7] = [
            (
                &SIGNALS,
                "INSERT INTO signals (id, instrument, source, signal_type, side, priority, price, \
                 quantity, strategy, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11) ON CONFLICT (id) DO NOTHING",
                "INSERT INTO signals (id, instrument, source, signal_type, side, priority, price, \
                 quantity, strategy, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, \
                 $8::numeric, $9, $10, $11::jsonb) ON CONFLICT (id) DO NOTHING",
            ),
            (
                &ORDERS,
                "INSERT INTO orders (id, intent_id, signal_id, parent_id, instrument, side, \
                 order_type, role, status, lifecycle_rank, quantity, filled_quantity, \
                 avg_fill_price, limit_price, stop_price, ts_created, ts_event, body) VALUES ($1, \
                 $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON \
                 CONFLICT (id) DO UPDATE SET status = excluded.status, lifecycle_rank = \
                 excluded.lifecycle_rank, quantity = excluded.quantity, filled_quantity = \
                 excluded.filled_quantity, avg_fill_price = excluded.avg_fill_price, limit_price = \
                 excluded.limit_price, stop_price = excluded.stop_price, ts_event = \
                 excluded.ts_event, body = excluded.body WHERE excluded.ts_event > orders.ts_event \
                 OR (excluded.ts_event = orders.ts_event AND excluded.lifecycle_rank >= \
                 orders.lifecycle_rank)",
                "INSERT INTO orders (id, intent_id, signal_id, parent_id, instrument, side, \
                 order_type, role, status, lifecycle_rank, quantity, filled_quantity, \
                 avg_fill_price, limit_price, stop_price, ts_created, ts_event, body) VALUES ($1, \
                 $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::numeric, $12::numeric, $13::numeric, \
                 $14::numeric, $15::numeric, $16, $17, $18::jsonb) ON CONFLICT (id) DO UPDATE SET \
                 status = excluded.status, lifecycle_rank = excluded.lifecycle_rank, quantity = \
                 excluded.quantity, filled_quantity = excluded.filled_quantity, avg_fill_price = \
                 excluded.avg_fill_price, limit_price = excluded.limit_price, stop_price = \
                 excluded.stop_price, ts_event = excluded.ts_event, body = excluded.body WHERE \
                 excluded.ts_event > orders.ts_event OR (excluded.ts_event = orders.ts_event AND \
                 excluded.lifecycle_rank >= orders.lifecycle_rank)",
            ),
            (
                &FILLS,
                "INSERT INTO fills (id, order_id, signal_id, instrument, side, price, quantity, \
                 fee, liquidity, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11) ON CONFLICT (id) DO NOTHING",
                "INSERT INTO fills (id, order_id, signal_id, instrument, side, price, quantity, \
                 fee, liquidity, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6::numeric, \
                 $7::numeric, $8::numeric, $9, $10, $11::jsonb) ON CONFLICT (id) DO NOTHING",
            ),
            (
                &POSITIONS,
                "INSERT INTO positions (instrument, side, quantity, avg_price, realized_pnl, \
                 unrealized_pnl, currency, ts_event, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                 $9) ON CONFLICT (instrument) DO UPDATE SET side = excluded.side, quantity = \
                 excluded.quantity, avg_price = excluded.avg_price, realized_pnl = \
                 excluded.realized_pnl, unrealized_pnl = excluded.unrealized_pnl, currency = \
                 excluded.currency, ts_event = excluded.ts_event, body = excluded.body WHERE \
                 excluded.ts_event >= positions.ts_event",
                "INSERT INTO positions (instrument, side, quantity, avg_price, realized_pnl, \
                 unrealized_pnl, currency, ts_event, body) VALUES ($1, $2, $3::numeric, \
                 $4::numeric, $5::numeric, $6::numeric, $7, $8, $9::jsonb) ON CONFLICT \
                 (instrument) DO UPDATE SET side = excluded.side, quantity = excluded.quantity, \
                 avg_price = excluded.avg_price, realized_pnl = excluded.realized_pnl, \
                 unrealized_pnl = excluded.unrealized_pnl, currency = excluded.currency, ts_event \
                 = excluded.ts_event, body = excluded.body WHERE excluded.ts_event >= \
                 positions.ts_event",
            ),
            (
                &AUDIT_EVENTS,
                "INSERT INTO audit_events (id, actor, action, entity, correlation_id, ts_event, \
                 body) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                "INSERT INTO audit_events (id, actor, action, entity, correlation_id, ts_event, \
                 body) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT (id) DO NOTHING",
            ),
            (
                &CHECKPOINTS,
                "INSERT INTO checkpoints (consumer, seq) VALUES ($1, $2) ON CONFLICT (consumer) DO \
                 UPDATE SET seq = excluded.seq WHERE excluded.seq > checkpoints.seq",
                "INSERT INTO checkpoints (consumer, seq) VALUES ($1, $2) ON CONFLICT (consumer) DO \
                 UPDATE SET seq = excluded.seq WHERE excluded.seq > checkpoints.seq",
            ),
            (
                &COMPONENT_STATE,
                "INSERT INTO component_state (key, ts_event, body) VALUES ($1, $2, $3) ON \
                 CONFLICT (key) DO UPDATE SET ts_event = excluded.ts_event, body = excluded.body \
                 WHERE excluded.ts_event >= component_state.ts_event",
                "INSERT INTO component_state (key, ts_event, body) VALUES ($1, $2, $3::jsonb) ON \
                 CONFLICT (key) DO UPDATE SET ts_event = excluded.ts_event, body = excluded.body \
                 WHERE excluded.ts_event >= component_state.ts_event",
            ),
        ];
        for (shape, sqlite, pg) in cases {
            assert_eq!(shape.sql(StoreKind::Sqlite, 1), normalized(sqlite));
            assert_eq!(shape.sql(StoreKind::Postgres, 1), normalized(pg));
        }
    }

    #[test]
    fn rows_follow_each_other_with_their_own_placeholders() {
        assert_eq!(
            INBOX.sql(StoreKind::Postgres, 3),
            "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2), ($3, $4), ($5, $6) \
             ON CONFLICT (consumer, message_id) DO NOTHING \
             RETURNING consumer, CAST(message_id AS TEXT)"
        );
        let outbox = OUTBOX.sql(StoreKind::Postgres, 2);
        let rows = "VALUES ($1, $2, $3, $4, $5, $6::jsonb), ($7, $8, $9, $10, $11, $12::jsonb) \
                    ON CONFLICT (envelope_id) DO NOTHING RETURNING seq, CAST(envelope_id AS TEXT)";
        assert!(outbox.contains(&normalized(rows)), "{outbox}");
        let orders: Vec<usize> = ORDERS.insert_only().collect();
        assert_eq!(orders, [0, 1, 2, 3, 4, 5, 6, 7, 15]);
        assert_eq!(POSITIONS.insert_only().collect::<Vec<_>>(), [0]);
        assert_eq!(COMPONENT_STATE.insert_only().collect::<Vec<_>>(), [0]);
    }
}
