//! One error type for every store call, sorted by what the caller should do:
//! retry later (`Unavailable`, `Conflict`), fix the input (`Constraint`,
//! `Invalid`), or treat as a bug or damage (`Corrupt`, `Migration`, `Database`).

use sqlx::error::{DatabaseError, ErrorKind};

use crate::StoreKind;

/// Why a store call failed. Cloneable so the group-commit writer can answer
/// every caller of a failed batch with the same error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is shutting down (connection refused, pool
    /// timed out, pool closed, I/O error): transient, the API answers 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The transaction lost a race (deadlock, serialization failure, database busy):
    /// transient, retrying the same commit is safe.
    #[error("transaction conflict: {0}")]
    Conflict(String),
    /// A constraint refused the write (unique, foreign key, not null, check): permanent.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// The database refused a value (e.g. text PostgreSQL cannot store) or it could not be
    /// encoded: permanent for this input.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A stored row does not decode into its contract: data damage or an incompatible writer.
    #[error("corrupt row in {table}: {message}")]
    Corrupt {
        /// The table read.
        table: &'static str,
        /// What failed to decode.
        message: String,
    },
    /// The embedded migrations could not be applied (or the database has unknown ones).
    #[error("migration failed: {0}")]
    Migration(String),
    /// The URL is not a `sqlite:` or `postgres:` URL, or its options are wrong.
    #[error("bad database configuration: {0}")]
    Config(String),
    /// The group-commit writer has stopped; the request was not committed.
    #[error("the store writer is closed")]
    Closed,
    /// Any other database error: probably a bug (bad SQL, unexpected type).
    #[error("database error: {0}")]
    Database(String),
}

impl StoreError {
    /// True when retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Conflict(_))
    }

    /// Classifies a sqlx error from the given backend.
    pub(crate) fn from_sqlx(kind: StoreKind, err: sqlx::Error) -> StoreError {
        match err {
            sqlx::Error::Database(db) => classify_database(kind, db.as_ref()),
            sqlx::Error::Io(e) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Tls(e) => StoreError::Unavailable(format!("tls: {e}")),
            sqlx::Error::PoolTimedOut => {
                StoreError::Unavailable("timed out waiting for a connection".to_owned())
            }
            sqlx::Error::PoolClosed => StoreError::Unavailable("the store is closed".to_owned()),
            sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable("the database worker crashed".to_owned())
            }
            sqlx::Error::Protocol(m) => StoreError::Unavailable(format!("protocol: {m}")),
            sqlx::Error::Configuration(e) => StoreError::Config(e.to_string()),
            sqlx::Error::Migrate(e) => StoreError::Migration(e.to_string()),
            sqlx::Error::Encode(e) => StoreError::Invalid(e.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

/// Sorts a database's own error by its code (SQLSTATE, or SQLite's extended result code).
fn classify_database(kind: StoreKind, db: &dyn DatabaseError) -> StoreError {
    let message = db.message().to_owned();
    match db.kind() {
        ErrorKind::UniqueViolation
        | ErrorKind::ForeignKeyViolation
        | ErrorKind::NotNullViolation
        | ErrorKind::CheckViolation => return StoreError::Constraint(message),
        _ => {}
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    match kind {
        StoreKind::Postgres => classify_sqlstate(&code, message),
        StoreKind::Sqlite => classify_sqlite(&code, message),
    }
}

/// PostgreSQL SQLSTATE classes: <https://www.postgresql.org/docs/current/errcodes-appendix.html>.
fn classify_sqlstate(code: &str, message: String) -> StoreError {
    let message = format!("{message} (SQLSTATE {code})");
    match code {
        // serialization_failure, deadlock_detected, lock_not_available
        "40001" | "40P01" | "55P03" => StoreError::Conflict(message),
        // admin/crash shutdown, cannot connect now, database does not exist (dropped or not yet created)
        "57P01" | "57P02" | "57P03" | "3D000" => StoreError::Unavailable(message),
        // object_not_in_prerequisite_state: the database is not accepting connections
        // (ALTER DATABASE ... ALLOW_CONNECTIONS false, a maintenance window).
        "55000" => StoreError::Unavailable(message),
        _ if code.starts_with("08") || code.starts_with("53") => StoreError::Unavailable(message),
        _ if code.starts_with("23") => StoreError::Constraint(message),
        _ if code.starts_with("22") => StoreError::Invalid(message),
        _ => StoreError::Database(message),
    }
}

/// SQLite primary result codes (the low byte of the extended code): <https://sqlite.org/rescode.html>.
fn classify_sqlite(code: &str, message: String) -> StoreError {
    let primary = code.parse::<i32>().map(|c| c & 0xff).unwrap_or(1);
    let message = format!("{message} (SQLite code {code})");
    match primary {
        // SQLITE_BUSY, SQLITE_LOCKED: another writer held the database past busy_timeout.
        5 | 6 => StoreError::Conflict(message),
        // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_PROTOCOL
        8 | 10 | 13 | 14 | 15 => StoreError::Unavailable(message),
        // SQLITE_CORRUPT, SQLITE_NOTADB
        11 | 26 => StoreError::Corrupt {
            table: "(database file)",
            message,
        },
        // SQLITE_CONSTRAINT
        19 => StoreError::Constraint(message),
        // SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_RANGE
        18 | 20 | 25 => StoreError::Invalid(message),
        _ => StoreError::Database(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_sort_into_transient_and_permanent() {
        assert!(classify_sqlstate("40P01", String::new()).is_transient());
        assert!(classify_sqlstate("08006", String::new()).is_transient());
        assert!(classify_sqlstate("57P01", String::new()).is_transient());
        assert!(classify_sqlstate("55000", String::new()).is_transient());
        assert!(matches!(
            classify_sqlstate("23503", String::new()),
            StoreError::Constraint(_)
        ));
        assert!(matches!(
            classify_sqlstate("22P05", String::new()),
            StoreError::Invalid(_)
        ));
        assert!(matches!(
            classify_sqlstate("42P01", String::new()),
            StoreError::Database(_)
        ));
    }

    #[test]
    fn sqlite_codes_use_the_primary_byte() {
        // SQLITE_BUSY_SNAPSHOT = 517, SQLITE_CONSTRAINT_UNIQUE = 2067, SQLITE_IOERR_FSYNC = 1034
        assert!(matches!(
            classify_sqlite("517", String::new()),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            classify_sqlite("2067", String::new()),
            StoreError::Constraint(_)
        ));
        assert!(matches!(
            classify_sqlite("1034", String::new()),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            classify_sqlite("26", String::new()),
            StoreError::Corrupt { .. }
        ));
    }
}
