//! The envelope every message travels in: identity, routing, timing and causality
//! around a contract payload, so any stage can dedupe, trace and replay it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contracts::Contract;
use crate::{MessageId, Subject, Timestamp};

/// A message on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "EnvelopeV1")]
pub struct Envelope<P = Value> {
    /// Unique, and deterministic where the payload has an idempotency key (the bus dedupes on it).
    pub id: MessageId,
    /// Where it is published.
    pub subject: Subject,
    /// The payload's contract name, e.g. `SignalEventV1`.
    #[serde(rename = "type")]
    pub message_type: String,
    /// The payload's major schema version.
    pub schema_version: u32,
    /// When the thing described happened.
    pub ts_event: Timestamp,
    /// When NEO created this message.
    pub ts_init: Timestamp,
    /// The originating signal (or the message's own id when it starts a story).
    pub correlation_id: MessageId,
    /// The message that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<MessageId>,
    /// The contract.
    pub payload: P,
}

impl<P: Contract> Envelope<P> {
    /// Wraps a contract; type, version and `ts_event` come from the payload.
    pub fn new(
        id: MessageId,
        subject: Subject,
        payload: P,
        ts_init: Timestamp,
        correlation_id: MessageId,
        causation_id: Option<MessageId>,
    ) -> Self {
        Envelope {
            id,
            subject,
            message_type: P::TYPE_NAME.to_owned(),
            schema_version: P::SCHEMA_VERSION,
            ts_event: payload.ts_event(),
            ts_init,
            correlation_id,
            causation_id,
            payload,
        }
    }

    /// The same envelope with a JSON payload (what crosses the bus).
    pub fn into_json(self) -> Result<Envelope<Value>, serde_json::Error> {
        self.try_map_payload(|p| serde_json::to_value(&p))
    }
}

impl<P> Envelope<P> {
    /// The same envelope around a converted payload.
    pub fn try_map_payload<Q, E>(
        self,
        f: impl FnOnce(P) -> Result<Q, E>,
    ) -> Result<Envelope<Q>, E> {
        Ok(Envelope {
            payload: f(self.payload)?,
            id: self.id,
            subject: self.subject,
            message_type: self.message_type,
            schema_version: self.schema_version,
            ts_event: self.ts_event,
            ts_init: self.ts_init,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
        })
    }
}

impl Envelope<Value> {
    /// The typed envelope, when the payload is a `P` (the `type` field must name it).
    pub fn decode<P: Contract>(self) -> Result<Envelope<P>, DecodeError> {
        if self.message_type != P::TYPE_NAME {
            return Err(DecodeError::WrongType {
                expected: P::TYPE_NAME,
                found: self.message_type,
            });
        }
        self.try_map_payload(|p| serde_json::from_value(p).map_err(DecodeError::Payload))
    }
}

/// Why an envelope's payload is not the contract a stage expects.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The envelope carries another type.
    #[error("expected a {expected} payload, found {found}")]
    WrongType {
        /// The type the stage handles.
        expected: &'static str,
        /// The type the envelope names.
        found: String,
    },
    /// The payload does not deserialize.
    #[error("payload does not match its type: {0}")]
    Payload(serde_json::Error),
}
