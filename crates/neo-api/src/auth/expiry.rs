//! Keys that expire warn before they stop working: a gauge per key on
//! `/metrics` (seconds left, and 1 while within [`EXPIRY_WARNING_SECS`]) and a
//! log warning whenever a key enters the warning window or expires, with a
//! [`KeyNotice`] for the notifications.

use std::collections::BTreeMap;
use std::time::Duration;

use neo_domain::Timestamp;
use tokio::sync::mpsc::Sender;

use super::{ApiKey, ApiKeys};
use crate::metrics::names;
use crate::server::Clock;

/// How far ahead an expiring key warns: 7 days.
pub const EXPIRY_WARNING_SECS: i64 = 7 * 24 * 60 * 60;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Where a key stands against its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// No expiry, or more than the warning window left.
    Valid,
    /// Expires within [`EXPIRY_WARNING_SECS`]: make and hand out its successor.
    Expiring,
    /// Past its expiry: refused with 401 `key_expired`.
    Expired,
}

impl KeyStatus {
    /// The status of `key` at `now`.
    pub fn of(key: &ApiKey, now: Timestamp) -> KeyStatus {
        match key.expires {
            None => KeyStatus::Valid,
            Some(_) if key.is_expired(now) => KeyStatus::Expired,
            Some(at) if at.nanos_since(now) <= EXPIRY_WARNING_SECS * NANOS_PER_SEC => {
                KeyStatus::Expiring
            }
            Some(_) => KeyStatus::Valid,
        }
    }
}

/// A key entering the warning window or expiring, for whoever notifies people
/// (the pipeline turns it into a notification on every channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNotice {
    /// The key's name (never the key).
    pub name: String,
    /// When it expires.
    pub expires: Timestamp,
    /// Expiring or expired.
    pub status: KeyStatus,
    /// When the watch noticed.
    pub at: Timestamp,
}

/// Sets the expiry gauges of every key that has an expiry, and returns every key's status.
pub fn publish_expiry(keys: &ApiKeys, now: Timestamp) -> Vec<(String, KeyStatus)> {
    let mut statuses = Vec::with_capacity(keys.keys().len());
    for key in keys.keys() {
        let status = KeyStatus::of(key, now);
        if let Some(at) = key.expires {
            // Whole seconds are plenty for a warning; the f64 holds them exactly.
            #[allow(clippy::cast_precision_loss)]
            let left = (at.nanos_since(now) / NANOS_PER_SEC) as f64;
            ::metrics::gauge!(names::API_KEY_EXPIRY, "name" => key.name.clone()).set(left);
            let flag = if status == KeyStatus::Valid { 0.0 } else { 1.0 };
            ::metrics::gauge!(names::API_KEY_EXPIRING, "name" => key.name.clone()).set(flag);
        }
        statuses.push((key.name.clone(), status));
    }
    statuses
}

fn warn(key: &ApiKey, status: KeyStatus) {
    let expires = key.expires.map(|at| at.to_string()).unwrap_or_default();
    match status {
        KeyStatus::Valid => {}
        KeyStatus::Expiring => tracing::warn!(
            key = %key.name, %expires,
            "API key expires within 7 days: make its successor with `neo keys new`, configure both, then drop this one"
        ),
        KeyStatus::Expired => tracing::warn!(
            key = %key.name, %expires,
            "API key has expired and is refused"
        ),
    }
}

/// Publishes the gauges now and every `interval`, warning in the log when a key's status
/// changes (and at once for keys already expiring). Abort the handle to stop it.
pub fn spawn_expiry_watch(
    keys: ApiKeys,
    clock: Clock,
    interval: Duration,
    notices: Option<Sender<KeyNotice>>,
) -> tokio::task::JoinHandle<()> {
    let period = interval.max(Duration::from_millis(1));
    tokio::spawn(async move {
        let mut last: BTreeMap<String, KeyStatus> = BTreeMap::new();
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = clock();
            for ((name, status), key) in publish_expiry(&keys, now).into_iter().zip(keys.keys()) {
                if last.get(&name) != Some(&status) {
                    warn(key, status);
                    if let (Some(tx), Some(expires)) = (&notices, key.expires)
                        && status != KeyStatus::Valid
                    {
                        // When full (key changes are rare: never, in practice) the
                        // notice is dropped; the log line and the gauges still say it.
                        if let Err(e) = tx.try_send(KeyNotice {
                            name: name.clone(),
                            expires,
                            status,
                            at: now,
                        }) {
                            tracing::warn!(key = %name, error = %e, "key-expiry notification dropped");
                        }
                    }
                    last.insert(name, status);
                }
            }
        }
    })
}
