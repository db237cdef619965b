//! The pruner beside the writer: once a minute after start and then every
//! hour, removes what `[store] retention_days` no longer keeps, a thousand
//! rows of each kind per statement with a pause between, so it never holds
//! the database long enough to delay an accept. See `neo_store::Store::prune`
//! for what goes and what stays.

use std::time::Duration;

use neo_api::metrics::names;
use neo_store::{Pruned, Store};
use tokio::sync::watch;

use crate::Clock;

/// Rows of each kind per statement.
const BATCH: u32 = 1_000;
/// The pause between statements.
const PAUSE: Duration = Duration::from_millis(50);
/// The first pass, after start-up settles.
const FIRST: Duration = Duration::from_secs(60);
/// Between passes.
const EVERY: Duration = Duration::from_secs(3_600);

/// Prunes rows older than `keep` until shutdown; `embedded` when the outbox is the bus's log.
pub(crate) async fn run(
    store: Store,
    keep: Duration,
    embedded: bool,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut wait = FIRST;
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        wait = EVERY;
        let total = pass(&store, keep, embedded, &clock, &shutdown).await;
        if total.total() > 0 {
            tracing::info!(
                inbox = total.inbox,
                outbox = total.outbox,
                audit = total.audit,
                orders = total.orders,
                "pruned store rows past retention"
            );
        }
    }
}

/// One pass: batches until nothing is left to remove (or shutdown, or a store error).
async fn pass(
    store: &Store,
    keep: Duration,
    embedded: bool,
    clock: &Clock,
    shutdown: &watch::Receiver<bool>,
) -> Pruned {
    let mut total = Pruned::default();
    while !*shutdown.borrow() {
        let pruned = match store.prune(keep, clock(), BATCH, embedded).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "store pruning failed; retrying next pass");
                break;
            }
        };
        for (kind, n) in [
            ("inbox", pruned.inbox),
            ("outbox", pruned.outbox),
            ("audit", pruned.audit),
            ("orders", pruned.orders),
        ] {
            if n > 0 {
                metrics::counter!(names::STORE_PRUNED, "kind" => kind).increment(n);
            }
        }
        total += pruned;
        if pruned.total() == 0 {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    total
}
