//! Opening a store: URL to pools, connection settings for durability, and the
//! embedded migrations (one folder per database).

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::StoreError;
use crate::backend::Pools;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Which database a store talks to (some callers report it; tests name it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreKind {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Connection settings; the defaults suit `neo run` and a small service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL pool size; for SQLite the read pool size (writes always use one connection).
    pub max_connections: u32,
    /// How long a call waits for a connection (including connecting) before failing
    /// with `Unavailable`, so a down database answers 503 instead of hanging.
    pub acquire_timeout: Duration,
    /// SQLite: how long a statement waits for another process's lock before `Conflict`.
    pub busy_timeout: Duration,
    /// Run the embedded migrations on connect.
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            // A down database answers 503 within 2 s, never a hang.
            acquire_timeout: Duration::from_secs(2),
            busy_timeout: Duration::from_secs(2),
            migrate: true,
        }
    }
}

/// NEO's store: one type over SQLite and PostgreSQL. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pools: Pools,
}

impl Store {
    /// Connects with default options and runs the migrations.
    ///
    /// `sqlite://path/to/neo.db` (the file and its folder are created when missing; WAL,
    /// `synchronous=FULL`, foreign keys, busy timeout) or `postgres://user@host/db`.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, &StoreOptions::default()).await
    }

    /// Connects (failing with `Unavailable` within `acquire_timeout` when the database
    /// is down) and runs the migrations unless `options.migrate` is false.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        if let Some(dir) = sqlite_parent_dir(url)? {
            tokio::fs::create_dir_all(&dir).await.map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let store = Store::connect_lazy(url, options)?;
        store.ping().await?;
        if options.migrate {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Builds the pools without connecting or migrating: for a process that must start
    /// while its database is down (readiness answers 503 until [`Store::ping`] succeeds;
    /// call [`Store::migrate`] then).
    pub fn connect_lazy(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let pools = if is_sqlite(url) {
            sqlite_pools(url, options)?
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(e.to_string()))?
                .application_name("neo");
            Pools::Pg(
                PgPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.acquire_timeout)
                    .connect_lazy_with(connect),
            )
        } else {
            return Err(StoreError::Config(format!(
                "the store URL must start with sqlite: or postgres:, got {:?}",
                url.split(':').next().unwrap_or_default()
            )));
        };
        Ok(Store { pools })
    }

    /// Applies the embedded migrations that are not applied yet (idempotent; PostgreSQL
    /// takes an advisory lock so concurrent processes do not race).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATIONS.run(write).await,
            Pools::Pg(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|e| match e {
            MigrateError::Execute(inner) => match StoreError::from_sqlx(self.kind(), inner) {
                transient @ StoreError::Unavailable(_) => transient,
                other => StoreError::Migration(other.to_string()),
            },
            other => StoreError::Migration(other.to_string()),
        })
    }

    /// Which database this is.
    pub fn kind(&self) -> StoreKind {
        self.pools.kind()
    }

    /// Checks the database answers (for readiness): `Unavailable` when it does not,
    /// within the acquire timeout.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pools.ping().await
    }

    /// Closes every connection (waiting for those in use); later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pools.close().await;
    }
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The folder an on-disk SQLite URL's file lives in, when it has one.
fn sqlite_parent_dir(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    if !is_sqlite(url) || is_memory(url) {
        return Ok(None);
    }
    let options =
        SqliteConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
    Ok(options
        .get_filename()
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(std::path::Path::to_path_buf))
}

fn sqlite_pools(url: &str, options: &StoreOptions) -> Result<Pools, StoreError> {
    let connect = SqliteConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(e.to_string()))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(options.busy_timeout);
    let write_pool = |connect: SqliteConnectOptions| {
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            // An idle writer may keep its connection: reopening costs the WAL setup.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(connect)
    };
    if is_memory(url) {
        // One shared in-memory database: a single connection serves reads and writes.
        let pool = write_pool(connect);
        return Ok(Pools::Sqlite {
            write: pool.clone(),
            read: pool,
        });
    }
    let connect = connect
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: an acknowledged commit survives power loss (ARCHITECTURE.md, Delivery).
        .synchronous(SqliteSynchronous::Full)
        // Checkpoints run beside the writer (crate::checkpoint), never inside a commit.
        .pragma("wal_autocheckpoint", "0")
        // A restarted WAL is trimmed back to this size, so a burst does not keep its disk.
        .pragma(
            "journal_size_limit",
            crate::checkpoint::WAL_LIMIT_BYTES.to_string(),
        );
    let read = SqlitePoolOptions::new()
        .max_connections(options.max_connections.max(1))
        .acquire_timeout(options.acquire_timeout)
        .connect_lazy_with(connect.clone());
    Ok(Pools::Sqlite {
        write: write_pool(connect),
        read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend_or_fail_with_config() {
        let opts = StoreOptions::default();
        assert!(matches!(
            Store::connect_lazy("mysql://x", &opts),
            Err(StoreError::Config(_))
        ));
        let dir = sqlite_parent_dir("sqlite://some/dir/neo.db?mode=rwc").unwrap();
        assert_eq!(dir, Some(std::path::PathBuf::from("some/dir")));
        assert_eq!(sqlite_parent_dir("sqlite://neo.db").unwrap(), None);
        assert_eq!(sqlite_parent_dir("sqlite::memory:").unwrap(), None);
    }
}
