//! Message ids: UUIDv7 (time-ordered, so indexes stay append-only) for new
//! messages, and name-based UUIDv5 where an idempotency key exists, so that the
//! same alert or intent always gets the same id and a retry cannot duplicate it.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;

/// What an idempotency key identifies: the same key under two kinds gives two ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// A signal, keyed by its source and the sender's alert id or content hash.
    Signal,
    /// An agent's decision, keyed by signal and agent.
    Decision,
    /// An order intent, keyed by the decision it comes from.
    Intent,
    /// An order, keyed by its intent and role (entry, stop-loss, take-profit).
    Order,
    /// A fill, keyed by order and fill sequence.
    Fill,
    /// A notification, keyed by its cause and channel.
    Notification,
    /// Anything else with a stable key (audit events, tests).
    Other,
}

impl IdKind {
    /// One fixed namespace per kind (UUIDv5 namespaces derived from NEO's own).
    fn namespace(self) -> Uuid {
        let name = match self {
            IdKind::Signal => "signal",
            IdKind::Decision => "decision",
            IdKind::Intent => "intent",
            IdKind::Order => "order",
            IdKind::Fill => "fill",
            IdKind::Notification => "notification",
            IdKind::Other => "other",
        };
        Uuid::new_v5(&NEO_NAMESPACE, name.as_bytes())
    }
}

/// NEO's root namespace for name-based ids (fixed forever: changing it changes every derived id).
const NEO_NAMESPACE: Uuid = Uuid::from_u128(0x6e65_6f00_7472_6164_696e_6700_0000_0001);

/// The id of a message or entity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MessageId(Uuid);

impl MessageId {
    /// A new time-ordered id: `random` comes from the shell (the core has no entropy source).
    pub fn v7(ts: Timestamp, random: [u8; 10]) -> Self {
        let millis = u64::try_from(ts.as_unix_millis()).unwrap_or(0);
        MessageId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid())
    }

    /// The id derived from an idempotency key: equal keys, equal ids, on every machine.
    pub fn derived(kind: IdKind, key: &str) -> Self {
        MessageId(Uuid::new_v5(&kind.namespace(), key.as_bytes()))
    }

    /// A version 8 id from 16 bytes the caller derived (a keyed hash of an
    /// idempotency key, so nobody without the key can predict it).
    pub const fn custom(bytes: [u8; 16]) -> Self {
        MessageId(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }

    /// From a UUID parsed elsewhere (database rows).
    pub const fn from_uuid(uuid: Uuid) -> Self {
        MessageId(uuid)
    }

    /// The UUID.
    pub const fn as_uuid(&self) -> &Uuid {
        &self.0
    }

    /// The UUID version: 7 for new ids, 5 for derived ones, 8 for keyed ones.
    pub fn version(&self) -> usize {
        self.0.get_version_num()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({})", self.0.hyphenated())
    }
}

impl std::str::FromStr for MessageId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(MessageId)
    }
}

impl JsonSchema for MessageId {
    fn schema_name() -> Cow<'static, str> {
        "MessageId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "UUID: v7 for new messages, v5 when derived from an idempotency key, v8 when derived under an installation secret.",
            "type": "string",
            "format": "uuid",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_kind_scoped() {
        let a = MessageId::derived(IdKind::Signal, "tradingview:alert-1");
        assert_eq!(a, MessageId::derived(IdKind::Signal, "tradingview:alert-1"));
        assert_ne!(a, MessageId::derived(IdKind::Signal, "tradingview:alert-2"));
        assert_ne!(a, MessageId::derived(IdKind::Order, "tradingview:alert-1"));
        assert_eq!(a.version(), 5);
        // Pinned: if this changes, every stored id and every dedupe key changes with it.
        assert_eq!(a.to_string(), "cf49f6d0-aeb7-5b63-9356-0aa30dbf764e");
    }

    #[test]
    fn v7_ids_sort_by_time() {
        let early = MessageId::v7(Timestamp::from_unix_millis(1_000).unwrap(), [0xff; 10]);
        let late = MessageId::v7(Timestamp::from_unix_millis(1_001).unwrap(), [0; 10]);
        assert!(early < late);
        assert_eq!(early.version(), 7);
        let text = late.to_string();
        assert_eq!(text.parse::<MessageId>().unwrap(), late);
        assert_eq!(serde_json::to_string(&late).unwrap(), format!("\"{text}\""));
    }
}
