//! A bounded queue with a stated policy when full: signals, intents, orders
//! and fills never drop (the publisher waits), market data may drop the oldest.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

/// What a full queue does with a new message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// The publisher waits for room: back-pressure, nothing lost.
    Block,
    /// The oldest queued message is dropped (and counted): for ticks, where only the latest matters.
    DropOldest,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    dropped: u64,
}

/// A multi-producer, multi-consumer bounded queue.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    capacity: usize,
    policy: WhenFull,
    not_empty: Notify,
    not_full: Notify,
}

impl<T> Queue<T> {
    pub(crate) fn new(capacity: usize, policy: WhenFull) -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.min(4096)),
                dropped: 0,
            }),
            capacity: capacity.max(1),
            policy,
            not_empty: Notify::new(),
            not_full: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A poisoned lock only means another thread panicked mid-push; the deque is intact.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an item, waiting for room or dropping the oldest as the policy says.
    pub(crate) async fn push(&self, item: T) {
        let mut item = Some(item);
        loop {
            let room = self.not_full.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.lock();
                if state.items.len() >= self.capacity && self.policy == WhenFull::DropOldest {
                    state.items.pop_front();
                    state.dropped += 1;
                }
                if state.items.len() < self.capacity {
                    if let Some(item) = item.take() {
                        state.items.push_back(item);
                    }
                    drop(state);
                    self.not_empty.notify_one();
                    return;
                }
            }
            room.await;
        }
    }

    /// Adds an item even when full: redeliveries must never be lost or block a drop.
    pub(crate) fn push_front_forced(&self, item: T) {
        self.lock().items.push_front(item);
        self.not_empty.notify_one();
    }

    /// Up to `max` items, waiting at most `wait` for the first.
    pub(crate) async fn pop_batch(&self, max: usize, wait: Duration) -> Vec<T> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let ready = self.not_empty.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            {
                let mut state = self.lock();
                if !state.items.is_empty() {
                    let n = max.max(1).min(state.items.len());
                    let batch: Vec<T> = state.items.drain(..n).collect();
                    let more = !state.items.is_empty();
                    drop(state);
                    self.not_full.notify_waiters();
                    if more {
                        self.not_empty.notify_one();
                    }
                    return batch;
                }
            }
            if tokio::time::timeout_at(deadline, ready).await.is_err() {
                return Vec::new();
            }
        }
    }

    /// Items waiting.
    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Items dropped by the `DropOldest` policy.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn drop_oldest_keeps_the_newest() {
        let q = Queue::new(3, WhenFull::DropOldest);
        for i in 0..5 {
            q.push(i).await;
        }
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.pop_batch(10, Duration::ZERO).await, [2, 3, 4]);
    }

    #[tokio::test]
    async fn block_waits_for_room_and_loses_nothing() {
        let q = Arc::new(Queue::new(2, WhenFull::Block));
        let producer = {
            let q = Arc::clone(&q);
            tokio::spawn(async move {
                for i in 0..100 {
                    q.push(i).await;
                }
            })
        };
        let mut got = Vec::new();
        while got.len() < 100 {
            got.extend(q.pop_batch(7, Duration::from_secs(5)).await);
            assert!(q.len() <= 2);
        }
        producer.await.unwrap();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        assert_eq!(q.dropped(), 0);
    }

    #[tokio::test]
    async fn pop_times_out_empty_and_forced_items_come_first() {
        let q = Queue::new(1, WhenFull::Block);
        assert!(q.pop_batch(1, Duration::from_millis(10)).await.is_empty());
        q.push(1).await;
        q.push_front_forced(0);
        assert_eq!(q.pop_batch(5, Duration::ZERO).await, [0, 1]);
    }
}
