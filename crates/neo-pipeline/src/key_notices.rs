//! API keys about to expire, told to people on every notification channel:
//! the expiry watch's notices become notifications in the outbox (ids derived
//! from key, expiry and stage, so a restart does not warn twice).

use std::sync::Arc;

use neo_api::auth::{KeyNotice, KeyStatus};
use neo_domain::Envelope;
use neo_domain::contracts::Channel;
use neo_notify::render::{ApiKeyExpiring, Event};
use neo_store::{Unit, Writer};
use tokio::sync::Notify;
use tokio::sync::mpsc::{Sender, channel};
use tokio::task::JoinHandle;

/// Notices waiting to be committed (a key changes stage a few times a year).
const QUEUE: usize = 64;

/// Where the expiry watch sends its notices, and the task that commits them.
pub(crate) fn spawn(
    writer: Writer,
    channels: Vec<Channel>,
    wake: Arc<Notify>,
) -> (Sender<KeyNotice>, JoinHandle<()>) {
    // Bounded; when full the watch drops the notice and says so in the log.
    let (tx, mut rx) = channel::<KeyNotice>(QUEUE);
    let task = tokio::spawn(async move {
        while let Some(notice) = rx.recv().await {
            let unit = Unit {
                inbox: None,
                ops: Vec::new(),
                outbox: envelopes(&notice, &channels),
            };
            match writer.commit(vec![unit]).await {
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    tracing::warn!(key = %notice.name, error = %e, "could not queue the key-expiry notification")
                }
            }
        }
    });
    (tx, task)
}

/// One notification per channel for a notice.
fn envelopes(notice: &KeyNotice, channels: &[Channel]) -> Vec<Envelope<serde_json::Value>> {
    let event = Event::ApiKeyExpiring(ApiKeyExpiring {
        name: notice.name.clone(),
        expires: notice.expires,
        expired: notice.status == KeyStatus::Expired,
        ts: notice.at,
    });
    event.outbox(channels, notice.at)
}
