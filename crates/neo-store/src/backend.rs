//! The thin layer where the two databases differ: SQL text per backend, how
//! each value is bound, and the few fetch shapes the store needs. Everything
//! above it (what to write, what to read) is written once.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{AssertSqlSafe, FromRow, PgPool, Postgres, Row, SqlSafeStr, Sqlite, SqlitePool};
use uuid::Uuid;

use crate::{StoreError, StoreKind};

/// One statement in both dialects; placeholders are `$1..$n` in both (SQLite accepts them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sql {
    /// SQLite text.
    pub(crate) sqlite: &'static str,
    /// PostgreSQL text (with the casts to NUMERIC, JSONB and back).
    pub(crate) pg: &'static str,
}

/// A bound value. Ids bind as UUID in PostgreSQL and as hyphenated text in SQLite;
/// lists bind as arrays (`= ANY($n)`) in PostgreSQL and as JSON text (`json_each($n)`) in SQLite.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// A UUID.
    Id(Uuid),
    /// An optional UUID.
    OptId(Option<Uuid>),
    /// Text (also decimals and JSON bodies; the PostgreSQL SQL casts them).
    Text(String),
    /// Optional text.
    OptText(Option<String>),
    /// An integer (times in nanoseconds, seqs, ranks).
    Int(i64),
    /// A list of UUIDs.
    Ids(Vec<Uuid>),
    /// A list of integers.
    Ints(Vec<i64>),
}

impl Val {
    /// About how many bytes the value takes on the wire (with its length prefix).
    pub(crate) fn wire_len(&self) -> usize {
        4 + match self {
            Val::Id(_) | Val::OptId(Some(_)) => 16,
            Val::Text(t) | Val::OptText(Some(t)) => t.len(),
            Val::OptId(None) | Val::OptText(None) => 0,
            Val::Int(_) => 8,
            Val::Ids(ids) => 20 + 20 * ids.len(),
            Val::Ints(ints) => 20 + 12 * ints.len(),
        }
    }
}

type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments>;
type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

fn sqlite_query<'q, 'v>(
    sql: impl SqlSafeStr,
    vals: impl IntoIterator<Item = &'v Val>,
) -> SqliteQuery<'q> {
    let mut q = sqlx::query::<Sqlite>(sql);
    for v in vals {
        q = match v {
            Val::Id(id) => q.bind(id.hyphenated().to_string()),
            Val::OptId(id) => q.bind(id.map(|id| id.hyphenated().to_string())),
            Val::Text(t) => q.bind(t.clone()),
            Val::OptText(t) => q.bind(t.clone()),
            Val::Int(i) => q.bind(*i),
            Val::Ids(ids) => q.bind(json_array(ids.iter().map(|id| format!("\"{id}\"")))),
            Val::Ints(ints) => q.bind(json_array(ints.iter().map(i64::to_string))),
        };
    }
    q
}

fn pg_query<'q, 'v>(sql: impl SqlSafeStr, vals: impl IntoIterator<Item = &'v Val>) -> PgQuery<'q> {
    let mut q = sqlx::query::<Postgres>(sql);
    for v in vals {
        q = match v {
            Val::Id(id) => q.bind(*id),
            Val::OptId(id) => q.bind(*id),
            Val::Text(t) => q.bind(t.clone()),
            Val::OptText(t) => q.bind(t.clone()),
            Val::Int(i) => q.bind(*i),
            Val::Ids(ids) => q.bind(ids.clone()),
            Val::Ints(ints) => q.bind(ints.clone()),
        };
    }
    q
}

/// `[a,b,c]` from already-encoded JSON items (UUIDs and integers need no escaping).
fn json_array(items: impl Iterator<Item = String>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&item);
    }
    out.push(']');
    out
}

fn sqlite_err(e: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(StoreKind::Sqlite, e)
}

fn pg_err(e: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(StoreKind::Postgres, e)
}

/// A write transaction on either backend.
pub(crate) enum Tx {
    /// SQLite, begun with `BEGIN IMMEDIATE` (takes the write lock up front, so a
    /// deferred read-then-write upgrade can never fail with SQLITE_BUSY midway).
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL, READ COMMITTED.
    Pg(sqlx::Transaction<'static, Postgres>),
}

impl Tx {
    /// Runs a statement; returns the rows it changed.
    pub(crate) async fn exec(&mut self, sql: &Sql, vals: &[Val]) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => sqlite_query(sql.sqlite, vals)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected())
                .map_err(sqlite_err),
            Tx::Pg(tx) => pg_query(sql.pg, vals)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected())
                .map_err(pg_err),
        }
    }

    /// Which database this transaction is on (generated SQL is per dialect).
    pub(crate) fn kind(&self) -> StoreKind {
        match self {
            Tx::Sqlite(_) => StoreKind::Sqlite,
            Tx::Pg(_) => StoreKind::Postgres,
        }
    }

    /// Runs generated SQL (built by [`crate::plan::Shape`] for this dialect, never from input).
    pub(crate) async fn exec_generated<'v>(
        &mut self,
        sql: String,
        vals: impl IntoIterator<Item = &'v Val>,
    ) -> Result<u64, StoreError> {
        match self {
            Tx::Sqlite(tx) => sqlite_query(AssertSqlSafe(sql), vals)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected())
                .map_err(sqlite_err),
            Tx::Pg(tx) => pg_query(AssertSqlSafe(sql), vals)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected())
                .map_err(pg_err),
        }
    }

    /// Runs generated SQL with a `RETURNING` clause and decodes every row it returns.
    pub(crate) async fn fetch_generated<'v, T>(
        &mut self,
        sql: String,
        vals: impl IntoIterator<Item = &'v Val>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        match self {
            Tx::Sqlite(tx) => sqlite_query(AssertSqlSafe(sql), vals)
                .try_map(|row| T::from_row(&row))
                .fetch_all(&mut **tx)
                .await
                .map_err(sqlite_err),
            Tx::Pg(tx) => pg_query(AssertSqlSafe(sql), vals)
                .try_map(|row| T::from_row(&row))
                .fetch_all(&mut **tx)
                .await
                .map_err(pg_err),
        }
    }

    /// Makes everything durable (one fsync on SQLite with synchronous=FULL).
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await.map_err(sqlite_err),
            Tx::Pg(tx) => tx.commit().await.map_err(pg_err),
        }
    }
}

/// The connection pools behind a [`crate::Store`].
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    /// SQLite: one connection for writes (SQLite has one writer anyway; queueing in
    /// the pool is cheaper than spinning on the file lock) and a few for reads (WAL
    /// lets them run beside the writer).
    Sqlite {
        /// The single-connection write pool (also runs migrations).
        write: SqlitePool,
        /// The read pool.
        read: SqlitePool,
    },
    /// PostgreSQL: one pool for everything.
    Pg(PgPool),
}

impl Pools {
    /// Which database this is.
    pub(crate) fn kind(&self) -> StoreKind {
        match self {
            Pools::Sqlite { .. } => StoreKind::Sqlite,
            Pools::Pg(_) => StoreKind::Postgres,
        }
    }

    /// Begins a write transaction.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        match self {
            Pools::Sqlite { write, .. } => write
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map(Tx::Sqlite)
                .map_err(sqlite_err),
            Pools::Pg(pool) => pool.begin().await.map(Tx::Pg).map_err(pg_err),
        }
    }

    /// Runs one write statement in its own transaction; returns the rows it changed.
    pub(crate) async fn exec(&self, sql: &Sql, vals: &[Val]) -> Result<u64, StoreError> {
        match self {
            Pools::Sqlite { write, .. } => sqlite_query(sql.sqlite, vals)
                .execute(write)
                .await
                .map(|r| r.rows_affected())
                .map_err(sqlite_err),
            Pools::Pg(pool) => pg_query(sql.pg, vals)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(pg_err),
        }
    }

    /// Runs one generated write statement in its own transaction; returns the rows it changed.
    pub(crate) async fn exec_generated(
        &self,
        sql: String,
        vals: &[Val],
    ) -> Result<u64, StoreError> {
        match self {
            Pools::Sqlite { write, .. } => sqlite_query(AssertSqlSafe(sql), vals)
                .execute(write)
                .await
                .map(|r| r.rows_affected())
                .map_err(sqlite_err),
            Pools::Pg(pool) => pg_query(AssertSqlSafe(sql), vals)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(pg_err),
        }
    }

    /// Reads rows of `(integer, text)`: `(seq, body)`, `(0, body)`, `(0, id)`.
    pub(crate) async fn fetch_pairs(
        &self,
        sql: &Sql,
        vals: &[Val],
    ) -> Result<Vec<(i64, String)>, StoreError> {
        match self {
            Pools::Sqlite { read, .. } => sqlite_query(sql.sqlite, vals)
                .try_map(|row| <(i64, String) as FromRow<'_, _>>::from_row(&row))
                .fetch_all(read)
                .await
                .map_err(sqlite_err),
            Pools::Pg(pool) => pg_query(sql.pg, vals)
                .try_map(|row| <(i64, String) as FromRow<'_, _>>::from_row(&row))
                .fetch_all(pool)
                .await
                .map_err(pg_err),
        }
    }

    /// Reads one integer (a count, a checkpoint); `None` when there is no row.
    pub(crate) async fn fetch_i64(
        &self,
        sql: &Sql,
        vals: &[Val],
    ) -> Result<Option<i64>, StoreError> {
        match self {
            Pools::Sqlite { read, .. } => sqlite_query(sql.sqlite, vals)
                .try_map(|row| row.try_get::<i64, _>(0))
                .fetch_optional(read)
                .await
                .map_err(sqlite_err),
            Pools::Pg(pool) => pg_query(sql.pg, vals)
                .try_map(|row| row.try_get::<i64, _>(0))
                .fetch_optional(pool)
                .await
                .map_err(pg_err),
        }
    }

    /// Checks that a connection can be had and answers (`SELECT 1`).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        const PING: Sql = Sql {
            sqlite: "SELECT 1",
            pg: "SELECT 1::bigint",
        };
        self.fetch_i64(&PING, &[]).await.map(|_| ())
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub(crate) async fn close(&self) {
        match self {
            Pools::Sqlite { write, read } => {
                read.close().await;
                write.close().await;
            }
            Pools::Pg(pool) => pool.close().await,
        }
    }
}
