//! The outbox relay: publishes committed envelopes in commit order and marks
//! them relayed. A crash between publish and mark republishes them, which the
//! bus's duplicate window and the consumers' inboxes absorb.

use std::sync::Arc;
use std::time::Duration;

use neo_bus::Bus;
use neo_store::Store;
use tokio::sync::{Notify, watch};

/// How the relay polls.
#[derive(Debug, Clone, Copy)]
pub struct RelayConfig {
    /// Most rows per publish round.
    pub batch: u32,
    /// How long to sleep when the outbox is empty and nobody rings.
    pub idle: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch: 512,
            idle: Duration::from_millis(50),
        }
    }
}

/// Relays until `shutdown` turns true, draining what is pending first. `wake` lets a
/// committer ring the relay instead of waiting for the next poll.
pub async fn run_relay<B: Bus>(
    bus: B,
    store: Store,
    config: RelayConfig,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> u64 {
    let mut relayed = 0u64;
    let mut failures = 0u32;
    let mut reads = crate::Backoff::default();
    loop {
        let rows = match store.outbox_pending(config.batch).await {
            Ok(rows) => {
                reads = crate::Backoff::default();
                rows
            }
            Err(e) => {
                if reads.fail() {
                    tracing::warn!(error = %e, failures = reads.failures(), "relay cannot read the outbox; waiting for the store");
                }
                tokio::select! {
                    () = tokio::time::sleep(reads.delay()) => {}
                    _ = shutdown.changed() => {}
                }
                Vec::new()
            }
        };
        if rows.is_empty() {
            if *shutdown.borrow() {
                return relayed;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(config.idle) => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let envelopes: Vec<_> = rows.iter().map(|r| r.envelope.clone()).collect();
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let published = bus.publish_all(&envelopes).await;
        match published {
            Ok(()) => match store.mark_relayed(&seqs).await {
                Ok(()) => {
                    failures = 0;
                    relayed += seqs.len() as u64;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "relay cannot mark rows; they will be republished")
                }
            },
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, pending = seqs.len(), "relay cannot publish; retrying");
                if *shutdown.borrow() && failures > 50 {
                    return relayed;
                }
                tokio::time::sleep(Duration::from_millis(20 * u64::from(failures.min(25)))).await;
            }
        }
    }
}
