//! One active writer per account: a PostgreSQL session-level advisory lock,
//! held on a connection taken out of the pool for as long as the holder lives.
//! When the holder dies (or its session is terminated) the server releases the
//! lock at once, so a standby waiting on [`Store::try_lease`] takes over; the
//! old holder finds out on its next [`Lease::check`] and must stop writing.

use std::time::Duration;

use sqlx::{Connection, PgConnection};

use crate::backend::Pools;
use crate::{Store, StoreError, StoreKind};

/// A held lease; dropping it closes its session, which releases the lock.
#[derive(Debug)]
pub struct Lease {
    name: String,
    held: Held,
}

#[derive(Debug)]
enum Held {
    /// SQLite is one process's file: the lease is the process itself.
    Embedded,
    /// The session holding the advisory lock.
    Session(Box<PgConnection>),
}

/// How long a lease query may take before the lease counts as lost.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Store {
    /// Takes the lease `name` when no other session holds it: `None` while another does.
    /// On SQLite (one process per file) it is always granted.
    pub async fn try_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        let pool = match &self.pools {
            Pools::Sqlite { .. } => {
                return Ok(Some(Lease {
                    name: name.to_owned(),
                    held: Held::Embedded,
                }));
            }
            Pools::Pg(pool) => pool,
        };
        let fail = |e| StoreError::from_sqlx(StoreKind::Postgres, e);
        let mut session = pool.acquire().await.map_err(fail)?.detach();
        // The server drops a vanished holder's session (and so the lock) within about
        // 15 s instead of the kernel's hours of TCP keepalive (PostgreSQL 12+ for the
        // user timeout; an older server keeps its defaults).
        for setting in [
            "SET tcp_keepalives_idle = 5",
            "SET tcp_keepalives_interval = 2",
            "SET tcp_keepalives_count = 3",
            "SET tcp_user_timeout = 10000",
        ] {
            if let Err(e) = sqlx::raw_sql(setting).execute(&mut session).await {
                tracing::debug!(error = %e, setting, "lease session setting not applied");
            }
        }
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(name))
            .fetch_one(&mut session)
            .await
            .map_err(fail)?;
        if !taken {
            let _ = session.close().await;
            return Ok(None);
        }
        Ok(Some(Lease {
            name: name.to_owned(),
            held: Held::Session(Box::new(session)),
        }))
    }
}

impl Lease {
    /// The lease's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Confirms the lease still holds: its session answers and still owns the lock.
    /// An error means the lease is lost (another process may hold it now).
    pub async fn check(&mut self) -> Result<(), StoreError> {
        let Held::Session(session) = &mut self.held else {
            return Ok(());
        };
        let query = sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
             AND pid = pg_backend_pid() AND granted \
             AND ((classid::bigint << 32) | objid::bigint) = $1",
        )
        .bind(lock_key(&self.name))
        .fetch_one(session.as_mut());
        let held = match tokio::time::timeout(CHECK_TIMEOUT, query).await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(StoreError::from_sqlx(StoreKind::Postgres, e)),
            Err(_) => {
                return Err(StoreError::Unavailable(format!(
                    "the lease {:?} did not answer within {CHECK_TIMEOUT:?}",
                    self.name
                )));
            }
        };
        if held == 0 {
            return Err(StoreError::Unavailable(format!(
                "the lease {:?} is no longer held",
                self.name
            )));
        }
        Ok(())
    }

    /// Gives the lease up now (a standby can take it at once).
    pub async fn release(self) {
        if let Held::Session(session) = self.held {
            let _ = session.close().await;
        }
    }
}

/// The advisory lock's key: FNV-1a of the name (stable across versions and machines),
/// kept positive so `pg_locks` shows it the same way.
fn lock_key(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("neo:{name}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::try_from(hash >> 1).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(lock_key("desk:paper"), lock_key("desk:paper"));
        assert_ne!(lock_key("desk:paper"), lock_key("desk:other"));
    }
}
