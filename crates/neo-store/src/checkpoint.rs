//! SQLite WAL checkpoints beside the writer. Left to SQLite, the commit that
//! grows the WAL past its threshold copies the WAL into the database and
//! fsyncs it inline, stalling that commit (and every accept waiting behind it)
//! for tens of milliseconds a few times a second under load. With automatic
//! checkpoints off, this task runs a PASSIVE checkpoint every few hundred
//! milliseconds on a read connection: it never blocks the writer, and the WAL
//! stays small. A PASSIVE checkpoint cannot finish while readers hold old
//! snapshots, and under a steady read load (the relay, the API) that can be
//! always: so when the WAL has grown past [`WAL_LIMIT_BYTES`] a TRUNCATE
//! checkpoint (which waits for those readers, briefly holding the writer) folds
//! it back and empties the file, and `journal_size_limit` trims it whenever
//! SQLite restarts it. It stops when the last `Writer` is dropped.

use std::time::Duration;

use tokio::sync::mpsc::WeakSender;

use crate::Store;
use crate::backend::Pools;

/// How often the WAL is folded back into the database.
const EVERY: Duration = Duration::from_millis(250);

/// The WAL size past which it is truncated (and to which SQLite trims it).
pub(crate) const WAL_LIMIT_BYTES: i64 = 64 * 1024 * 1024;

/// Starts the checkpointer for a file-backed SQLite store (nothing for PostgreSQL or memory).
pub(crate) fn spawn<T: Send + 'static>(store: &Store, alive: WeakSender<T>) {
    let Pools::Sqlite { read, .. } = &store.pools else {
        return;
    };
    let read = read.clone();
    tokio::spawn(async move {
        // Only a WAL database has something to checkpoint (an in-memory one has no WAL).
        let mode: Result<(String,), _> =
            sqlx::query_as("PRAGMA journal_mode").fetch_one(&read).await;
        if !matches!(mode, Ok((m,)) if m.eq_ignore_ascii_case("wal")) {
            return;
        }
        let page = page_size(&read).await;
        loop {
            tokio::time::sleep(EVERY).await;
            if alive.upgrade().is_none() {
                break;
            }
            // (busy, frames in the WAL, frames checkpointed)
            let passive: Result<(i64, i64, i64), _> =
                sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_one(&read)
                    .await;
            match passive {
                Ok((_, frames, _)) if frames.saturating_mul(page) > WAL_LIMIT_BYTES => {
                    truncate(&read).await;
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "WAL checkpoint skipped"),
            }
        }
        // The last one: leave a small WAL behind for the next start.
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await;
    });
}

/// The database's page size (a WAL frame holds one page).
async fn page_size(read: &sqlx::SqlitePool) -> i64 {
    sqlx::query_as::<_, (i64,)>("PRAGMA page_size")
        .fetch_one(read)
        .await
        .map_or(4096, |(size,)| size)
}

/// Folds the whole WAL back and empties the file.
async fn truncate(read: &sqlx::SqlitePool) {
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(read)
        .await
    {
        Ok((0, _, _)) => tracing::debug!("WAL truncated"),
        Ok(_) => tracing::debug!("WAL truncation waited too long for readers; next time"),
        Err(e) => tracing::debug!(error = %e, "WAL truncation skipped"),
    }
}
