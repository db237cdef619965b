//! The in-process bus for `neo run`: NATS subject matching, durable groups
//! that keep their queue while no member reads (a restarted consumer resumes),
//! one queue per durable so members share work like a queue group, a
//! duplicate window on envelope ids like JetStream's, and bounded queues with a
//! when-full policy. Durability across a crash comes from the store: the stage
//! runner replays its outbox on start.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use neo_domain::{Envelope, MessageId, Subject, SubjectPattern, subject};
use serde_json::Value;

use crate::delivery::Handle as DeliveryHandle;
use crate::queue::Queue;
use crate::{Bus, BusError, ConsumerSpec, Delivery, Received, Subscription};

/// How long a published id suppresses a republish, as JetStream's default duplicate window.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
struct Pending {
    subject: Subject,
    envelope: Envelope<Value>,
    attempt: u32,
    reason: Option<String>,
}

#[derive(Debug)]
struct Group {
    filter: SubjectPattern,
    queue: Arc<Queue<Pending>>,
}

#[derive(Debug, Default)]
struct Recent {
    seen: BTreeMap<MessageId, tokio::time::Instant>,
    order: VecDeque<(tokio::time::Instant, MessageId)>,
}

impl Recent {
    /// True when `id` was published within the window; records it otherwise.
    fn is_duplicate(&mut self, id: MessageId, now: tokio::time::Instant) -> bool {
        while let Some(&(at, old)) = self.order.front() {
            if now.duration_since(at) < DUPLICATE_WINDOW {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&old) == Some(&at) {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains_key(&id) {
            return true;
        }
        self.seen.insert(id, now);
        self.order.push_back((now, id));
        false
    }
}

#[derive(Debug, Default)]
struct Inner {
    groups: Mutex<BTreeMap<String, Group>>,
    recent: Mutex<Recent>,
}

/// The in-process bus; clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        MemoryBus::default()
    }

    /// Delivers to every durable whose filter matches `subject` (not just the envelope's own subject:
    /// dead letters travel under `dlq.<subject>`).
    async fn route(&self, subject: &Subject, envelope: &Envelope<Value>, reason: Option<&str>) {
        let queues: Vec<Arc<Queue<Pending>>> = lock(&self.inner.groups)
            .values()
            .filter(|g| g.filter.matches(subject))
            .map(|g| Arc::clone(&g.queue))
            .collect();
        for queue in queues {
            let pending = Pending {
                subject: subject.clone(),
                envelope: envelope.clone(),
                attempt: 1,
                reason: reason.map(str::to_owned),
            };
            queue.push(pending).await;
        }
    }

    /// Delivers an envelope to one durable only, bypassing the duplicate window: the
    /// stage runner's replay of its outbox after a restart.
    pub async fn redeliver_to(
        &self,
        durable: &str,
        envelope: Envelope<Value>,
    ) -> Result<(), BusError> {
        let queue = lock(&self.inner.groups)
            .get(durable)
            .map(|g| Arc::clone(&g.queue))
            .ok_or_else(|| BusError::Rejected(format!("no durable consumer {durable}")))?;
        queue
            .push(Pending {
                subject: envelope.subject.clone(),
                envelope,
                attempt: 1,
                reason: None,
            })
            .await;
        Ok(())
    }

    /// Deletes a durable and what waits in its queue, as deleting a JetStream consumer
    /// does: a durable nobody reads would otherwise hold back its publishers once full.
    pub fn remove_durable(&self, durable: &str) -> bool {
        lock(&self.inner.groups).remove(durable).is_some()
    }

    /// Messages waiting for a durable (for metrics and tests).
    pub fn pending(&self, durable: &str) -> usize {
        lock(&self.inner.groups)
            .get(durable)
            .map_or(0, |g| g.queue.len())
    }

    /// Messages a `DropOldest` durable has shed.
    pub fn dropped(&self, durable: &str) -> u64 {
        lock(&self.inner.groups)
            .get(durable)
            .map_or(0, |g| g.queue.dropped())
    }
}

impl Bus for MemoryBus {
    type Subscription = MemorySubscription;

    async fn publish(&self, envelope: &Envelope<Value>) -> Result<(), BusError> {
        let now = tokio::time::Instant::now();
        if lock(&self.inner.recent).is_duplicate(envelope.id, now) {
            return Ok(());
        }
        self.route(&envelope.subject, envelope, None).await;
        Ok(())
    }

    async fn publish_all(&self, envelopes: &[Envelope<Value>]) -> Result<(), BusError> {
        for envelope in envelopes {
            self.publish(envelope).await?;
        }
        Ok(())
    }

    async fn subscribe(&self, spec: ConsumerSpec) -> Result<MemorySubscription, BusError> {
        let mut groups = lock(&self.inner.groups);
        let group = groups.entry(spec.durable.clone()).or_insert_with(|| Group {
            filter: spec.filter.clone(),
            queue: Arc::new(Queue::new(spec.capacity, spec.when_full)),
        });
        // As JetStream does, the durable follows the newest filter it is given.
        group.filter = spec.filter;
        Ok(MemorySubscription {
            bus: self.clone(),
            queue: Arc::clone(&group.queue),
        })
    }
}

/// A member of a durable group.
#[derive(Debug)]
pub struct MemorySubscription {
    bus: MemoryBus,
    queue: Arc<Queue<Pending>>,
}

impl Subscription for MemorySubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let batch = self.queue.pop_batch(max, wait).await;
        Ok(batch
            .into_iter()
            .map(|p| Delivery {
                subject: p.subject.to_string(),
                received: Received::Envelope(p.envelope.clone()),
                attempt: p.attempt,
                dead_letter_reason: p.reason.clone(),
                handle: DeliveryHandle::Memory(Box::new(Handle {
                    bus: self.bus.clone(),
                    queue: Arc::clone(&self.queue),
                    pending: Some(p),
                })),
            })
            .collect())
    }
}

/// An unresolved in-process delivery: dropped without an answer, it is delivered again.
#[derive(Debug)]
pub(crate) struct Handle {
    bus: MemoryBus,
    queue: Arc<Queue<Pending>>,
    pending: Option<Pending>,
}

impl Handle {
    pub(crate) fn ack(mut self) {
        self.pending = None;
    }

    pub(crate) fn nak(mut self, delay: Duration) {
        if let Some(mut pending) = self.pending.take() {
            pending.attempt += 1;
            let queue = Arc::clone(&self.queue);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                queue.push_front_forced(pending);
            });
        }
    }

    pub(crate) async fn dead_letter(
        mut self,
        _subject: &str,
        reason: &str,
    ) -> Result<(), BusError> {
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let dlq = subject::dlq(&pending.subject).map_err(|e| BusError::Encode(e.to_string()))?;
        self.bus.route(&dlq, &pending.envelope, Some(reason)).await;
        Ok(())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(mut pending) = self.pending.take() {
            pending.attempt += 1;
            self.queue.push_front_forced(pending);
        }
    }
}
