//! SQLite WAL checkpoints beside the writer. Left to SQLite, the commit that
//! grows the WAL past its threshold copies the WAL into the database and
//! fsyncs it inline, stalling that commit (and every accept waiting behind it)
//! for tens of milliseconds a few times a second under load. With automatic
//! checkpoints off, this task runs a PASSIVE checkpoint every few hundred
//! milliseconds on a read connection: it never blocks the writer, and the WAL
//! stays small. It stops when the last `Writer` is dropped.

use std::time::Duration;

use tokio::sync::mpsc::WeakSender;

use crate::Store;
use crate::backend::Pools;

/// How often the WAL is folded back into the database.
const EVERY: Duration = Duration::from_millis(250);

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
        loop {
            tokio::time::sleep(EVERY).await;
            if alive.upgrade().is_none() {
                break;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&read)
                .await
            {
                tracing::debug!(error = %e, "WAL checkpoint skipped");
            }
        }
        // The last one: leave a small WAL behind for the next start.
        let _ = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await;
    });
}
