//! AuditEventV1: an append-only record of everything NEO decided or changed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Checks, Contract, Issue};
use crate::{MessageId, Timestamp};

/// One audited action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditEventV1 {
    /// The event's id.
    pub id: MessageId,
    /// Who or what acted: a component (`risk`, `oms`) or an API key name.
    pub actor: String,
    /// What was done, dotted lower-case (`signal.accepted`, `order.filled`, `flag.changed`).
    pub action: String,
    /// The thing acted on (an id or name), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The originating signal, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<MessageId>,
    /// Whatever else explains the action (before/after values, reasons).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// When it happened.
    pub ts_event: Timestamp,
}

impl Contract for AuditEventV1 {
    const TYPE_NAME: &'static str = "AuditEventV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.text(&self.actor, "/actor", 128);
        let action_ok = !self.action.is_empty()
            && self.action.len() <= 128
            && self.action.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        c.require(
            action_ok,
            "/action",
            "must be dotted lower-case words, e.g. order.filled",
        );
        c.optional_text(self.entity.as_deref(), "/entity", 256);
        c.require(
            self.details.is_null() || self.details.is_object(),
            "/details",
            "must be an object when present",
        );
        c.finish()
    }
}
