//! NEO's event bus. One [`Bus`] trait with two implementations: [`MemoryBus`]
//! (in-process, bounded queues with a stated when-full policy, for `neo run`)
//! and [`JetStreamBus`] (NATS JetStream: file-backed streams, deduplication on
//! the envelope id, durable pull consumers with explicit acks, bounded
//! redelivery and a dead-letter queue). Delivery is at-least-once; the stage
//! runner's inbox turns it into exactly-once effects.

mod delivery;
pub mod jetstream;
pub mod memory;
mod queue;

use std::future::Future;
use std::time::Duration;

use neo_domain::{Envelope, SubjectPattern, Timestamp};
use serde_json::Value;

pub use delivery::{Delivery, Received};
pub use jetstream::{JetStreamBus, NatsConfig, StreamStats};
pub use memory::MemoryBus;
pub use queue::WhenFull;

/// Header naming why a message was dead-lettered.
pub const DLQ_REASON_HEADER: &str = "Neo-Dlq-Reason";
/// Header naming the subject a dead letter was first published on.
pub const DLQ_SUBJECT_HEADER: &str = "Neo-Original-Subject";

/// Why the bus could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker is unreachable or timed out: retry later (503 at the API).
    #[error("bus unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the request (bad stream or consumer config, no stream for a subject).
    #[error("bus refused: {0}")]
    Rejected(String),
    /// The message could not be encoded.
    #[error("cannot encode message: {0}")]
    Encode(String),
    /// The bus has shut down.
    #[error("bus closed")]
    Closed,
}

/// A durable consumer: who reads, what, and how redelivery works.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Durable name; processes using the same name share the messages (a queue group).
    pub durable: String,
    /// Which subjects it reads.
    pub filter: SubjectPattern,
    /// Deliveries before a failing message is dead-lettered.
    pub max_deliver: u32,
    /// Delay before the n-th redelivery (the last one repeats).
    pub backoff: Vec<Duration>,
    /// How long a delivery may stay unacknowledged before it is redelivered (JetStream).
    pub ack_wait: Duration,
    /// In-process queue capacity.
    pub capacity: usize,
    /// In-process policy when the queue is full.
    pub when_full: WhenFull,
    /// Where a new consumer starts reading (a durable that exists resumes where it was).
    pub start: Start,
    /// A consumer nobody has read for this long is removed (JetStream): for
    /// per-process followers whose name dies with the process. `None` keeps it.
    pub expires_after: Option<Duration>,
}

/// Where a new consumer starts in what the bus has stored.
///
/// The in-process bus keeps no history, so there every start is "what is
/// published from now on"; JetStream reads its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Start {
    /// Everything still stored: work that must not be missed.
    #[default]
    Stored,
    /// The newest stored message of each subject, then everything new: a
    /// follower of state that newer messages replace (quotes).
    LatestPerSubject,
    /// Everything stored at or after this time: a follower catching up from a snapshot.
    Since(Timestamp),
}

impl ConsumerSpec {
    /// A consumer with NEO's defaults: 5 deliveries, backoff 100 ms, 1 s, 5 s, 30 s
    /// ack wait, a 10,000-message queue that applies back-pressure.
    pub fn new(durable: &str, filter: SubjectPattern) -> Self {
        ConsumerSpec {
            durable: durable.to_owned(),
            filter,
            max_deliver: 5,
            backoff: vec![
                Duration::from_millis(100),
                Duration::from_secs(1),
                Duration::from_secs(5),
            ],
            ack_wait: Duration::from_secs(30),
            capacity: 10_000,
            when_full: WhenFull::Block,
            start: Start::Stored,
            expires_after: None,
        }
    }

    /// The delay before redelivery after `attempt` deliveries.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let index = (attempt.max(1) as usize - 1).min(self.backoff.len().saturating_sub(1));
        self.backoff
            .get(index)
            .copied()
            .unwrap_or(Duration::from_secs(1))
    }
}

/// Publishes envelopes and opens durable subscriptions.
pub trait Bus: Clone + Send + Sync + 'static {
    /// What [`Bus::subscribe`] returns.
    type Subscription: Subscription;

    /// Publishes and waits until the bus has it (JetStream: stored and acknowledged).
    /// Publishing the same envelope id twice within the duplicate window stores it once.
    fn publish(
        &self,
        envelope: &Envelope<Value>,
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Publishes many, waiting for all acknowledgements together (one round trip's latency).
    fn publish_all(
        &self,
        envelopes: &[Envelope<Value>],
    ) -> impl Future<Output = Result<(), BusError>> + Send;

    /// Opens (creating if needed) the durable consumer.
    fn subscribe(
        &self,
        spec: ConsumerSpec,
    ) -> impl Future<Output = Result<Self::Subscription, BusError>> + Send;

    /// Whether the bus can carry messages now (for readiness); the reason when not.
    fn health(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A durable consumer's stream of deliveries.
pub trait Subscription: Send + 'static {
    /// Up to `max` deliveries, waiting at most `wait` for the first; empty when none came.
    fn next_batch(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Delivery>, BusError>> + Send;
}
