//! Signal ids that make resends harmless and cannot be pre-claimed: the same
//! alert from the same sender always gets the same id, so the store's unique key
//! turns a retry into a duplicate, not a second trade; and the id is a keyed hash
//! under the installation's secret, so nobody else can compute it.
//!
//! The idempotency key, namespaced by source and sender (the credential the
//! request authenticated with):
//!
//! - with an explicit `id` from the sender: `[source, sender, "id", strategy, id]`,
//!   whatever the content and time, so a resend is recognised however late it
//!   comes (a changed content under the same id is the server's 409);
//! - without one: `[source, sender, "content", instrument, side, type, price,
//!   quantity, strategy, interval, comment, bucket]` with the time bucket
//!   `floor(received_at / bucket)`, so the same alert resent within one bucket is
//!   one alert.
//!
//! Keys are JSON arrays, so no field's text can imitate a separator. Buckets
//! are fixed windows: a resend that crosses a boundary lands in the next one,
//! which [`SignalIds::previous_bucket_id`] lets the server check too.

use std::time::Duration;

use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{MessageId, Timestamp};
use ring::{digest, hmac};
use serde_json::json;

/// The default time bucket for alerts without a sender id.
pub const DEFAULT_BUCKET: Duration = Duration::from_secs(60);

/// Who sent a request: a fingerprint of the credential it authenticated with
/// (never the credential itself), so two senders' keys never collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    tag: String,
}

impl Sender {
    /// The sender holding `credential` (a passphrase or a signing secret).
    pub fn holding(credential: &[u8]) -> Self {
        let hash = digest::digest(&digest::SHA256, credential);
        let tag = hash.as_ref()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Sender { tag }
    }
}

/// The installation's id derivation: HMAC-SHA256 under its secret.
#[derive(Debug, Clone)]
pub struct SignalIds {
    key: hmac::Key,
}

impl SignalIds {
    /// Ids under `secret` (the installation's; at least 32 random bytes).
    pub fn new(secret: &[u8]) -> Self {
        SignalIds {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// The id of `signal` from `sender` (see the module doc): its explicit
    /// `source_id` when it has one, else its content within `bucket`.
    pub fn id(
        &self,
        sender: &Sender,
        signal: &SignalEventV1,
        received_at: Timestamp,
        bucket: Duration,
    ) -> MessageId {
        let key = match &signal.source_id {
            Some(id) => explicit_key(signal.source, sender, signal.strategy.as_deref(), id),
            None => content_key(
                signal.source,
                sender,
                signal,
                bucket_index(received_at, bucket),
            ),
        };
        self.derive(&key)
    }

    /// The id the same content had one bucket earlier (`None` with an explicit
    /// id: its id does not depend on time).
    pub fn previous_bucket_id(
        &self,
        sender: &Sender,
        signal: &SignalEventV1,
        received_at: Timestamp,
        bucket: Duration,
    ) -> Option<MessageId> {
        if signal.source_id.is_some() {
            return None;
        }
        let index = bucket_index(received_at, bucket).saturating_sub(1);
        Some(self.derive(&content_key(signal.source, sender, signal, index)))
    }

    /// The first 16 bytes of the key's HMAC, as a version 8 UUID.
    fn derive(&self, key: &str) -> MessageId {
        let tag = hmac::sign(&self.key, key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag.as_ref()[..16]);
        MessageId::custom(bytes)
    }
}

/// Where a signal's id comes from: the installation's derivation, the sender
/// and the dedupe bucket (what normalization needs to give a signal its id).
#[derive(Debug, Clone, Copy)]
pub struct IdScope<'a> {
    /// The installation's derivation.
    pub ids: &'a SignalIds,
    /// Who sent the alert.
    pub sender: &'a Sender,
    /// Alerts without an explicit id resent within this window are one alert.
    pub bucket: Duration,
}

impl IdScope<'_> {
    /// [`SignalIds::id`] in this scope.
    pub fn id(&self, signal: &SignalEventV1, received_at: Timestamp) -> MessageId {
        self.ids.id(self.sender, signal, received_at, self.bucket)
    }

    /// [`SignalIds::previous_bucket_id`] in this scope.
    pub fn previous_bucket_id(
        &self,
        signal: &SignalEventV1,
        received_at: Timestamp,
    ) -> Option<MessageId> {
        self.ids
            .previous_bucket_id(self.sender, signal, received_at, self.bucket)
    }
}

fn bucket_index(received_at: Timestamp, bucket: Duration) -> i64 {
    let nanos = i64::try_from(bucket.as_nanos()).unwrap_or(i64::MAX).max(1);
    received_at.as_nanos().div_euclid(nanos)
}

fn explicit_key(source: SignalSource, sender: &Sender, strategy: Option<&str>, id: &str) -> String {
    json!([source, sender.tag, "id", strategy, id]).to_string()
}

fn content_key(source: SignalSource, sender: &Sender, s: &SignalEventV1, bucket: i64) -> String {
    json!([
        source,
        sender.tag,
        "content",
        s.instrument,
        s.side,
        s.signal_type,
        s.price,
        s.quantity,
        s.strategy,
        s.interval,
        s.comment,
        bucket,
    ])
    .to_string()
}

/// The content fields of two signals under one key that differ, by name (what a
/// 409 `idempotency_conflict` lists).
pub fn differing_fields(first: &SignalEventV1, again: &SignalEventV1) -> Vec<&'static str> {
    let pairs = [
        ("instrument", first.instrument == again.instrument),
        ("side", first.side == again.side),
        ("signal_type", first.signal_type == again.signal_type),
        ("price", first.price == again.price),
        ("quantity", first.quantity == again.quantity),
        ("strategy", first.strategy == again.strategy),
        ("interval", first.interval == again.interval),
        ("comment", first.comment == again.comment),
    ];
    pairs
        .into_iter()
        .filter(|(_, same)| !same)
        .map(|(name, _)| name)
        .collect()
}
