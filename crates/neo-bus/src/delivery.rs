//! One delivered message and what the consumer does with it: ack, nak with a
//! delay, or dead-letter with a reason.

use std::time::Duration;

use neo_domain::Envelope;
use serde_json::Value;

use crate::{BusError, jetstream, memory};

/// What arrived: an envelope, or bytes that are not one (dead-letter those at once).
#[derive(Debug, Clone)]
pub enum Received {
    /// A decodable envelope.
    Envelope(Envelope<Value>),
    /// Not an envelope; the reason says why.
    Undecodable {
        /// Why it could not be read.
        reason: String,
    },
}

/// The transport behind a delivery.
#[derive(Debug)]
pub(crate) enum Handle {
    Memory(Box<memory::Handle>),
    JetStream(Box<jetstream::Handle>),
}

/// One delivery of a message to a durable consumer.
#[derive(Debug)]
pub struct Delivery {
    /// The subject it was published on.
    pub subject: String,
    /// Its content.
    pub received: Received,
    /// 1 on first delivery, then 2, 3, ...
    pub attempt: u32,
    /// On a dead letter (read from `dlq.>`): why it was dead-lettered.
    pub dead_letter_reason: Option<String>,
    pub(crate) handle: Handle,
}

impl Delivery {
    /// The envelope, when it decoded.
    pub fn envelope(&self) -> Option<&Envelope<Value>> {
        match &self.received {
            Received::Envelope(e) => Some(e),
            Received::Undecodable { .. } => None,
        }
    }

    /// Done: never deliver it again (JetStream waits for the server's confirmation).
    pub async fn ack(self) -> Result<(), BusError> {
        match self.handle {
            Handle::Memory(h) => {
                h.ack();
                Ok(())
            }
            Handle::JetStream(h) => h.ack().await,
        }
    }

    /// Not now: deliver it again after `delay`.
    pub async fn nak(self, delay: Duration) -> Result<(), BusError> {
        match self.handle {
            Handle::Memory(h) => {
                h.nak(delay);
                Ok(())
            }
            Handle::JetStream(h) => h.nak(delay).await,
        }
    }

    /// Never: publish it unchanged to `dlq.<subject>` with `reason`, then stop delivering it.
    pub async fn dead_letter(self, reason: &str) -> Result<(), BusError> {
        match self.handle {
            Handle::Memory(h) => h.dead_letter(&self.subject, reason).await,
            Handle::JetStream(h) => h.dead_letter(&self.subject, reason).await,
        }
    }
}
