//! The group-commit writer: many concurrent callers, one transaction (and one
//! fsync) per batch. Callers queue on a bounded channel (when it is full they
//! wait: back-pressure, nothing is dropped); one task takes everything queued,
//! commits it together and answers each caller after the commit is durable.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::{Store, StoreError, Unit, UnitOutcome};

/// How the writer batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// Requests that may wait in the queue; when it is full, [`Writer::commit`] waits.
    pub capacity: usize,
    /// Most units per transaction (a single larger request is still committed whole).
    pub max_units: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            capacity: 1024,
            max_units: 512,
        }
    }
}

/// What the writer has done so far, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Requests answered.
    pub requests: u64,
    /// Units in those requests.
    pub units: u64,
    /// Transactions attempted (merged batches plus solo retries).
    pub transactions: u64,
    /// Merged batches that failed and were retried request by request.
    pub split_batches: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    units: AtomicU64,
    transactions: AtomicU64,
    split_batches: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }
}

struct Request {
    units: Vec<Unit>,
    reply: oneshot::Sender<Result<Vec<UnitOutcome>, StoreError>>,
}

/// A handle to the group-commit writer; cheap to clone. The writer task stops once every
/// handle is dropped and the queue is drained.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Request>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Commits `units` (atomically, together with whatever else is queued) and returns
    /// their outcomes once durable; same semantics as [`Store::commit`]. Waits while the
    /// queue is full. Dropping the returned future does not withdraw a queued request.
    pub async fn commit(&self, units: Vec<Unit>) -> Result<Vec<UnitOutcome>, StoreError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request { units, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            requests: c.requests.load(Ordering::Relaxed),
            units: c.units.load(Ordering::Relaxed),
            transactions: c.transactions.load(Ordering::Relaxed),
            split_batches: c.split_batches.load(Ordering::Relaxed),
        }
    }
}

impl Store {
    /// Starts a group-commit writer on this store (call inside a Tokio runtime). The task
    /// ends after every [`Writer`] is dropped and the queued requests are committed; await
    /// the handle to know the last commit is done.
    pub fn writer(&self, config: WriterConfig) -> (Writer, JoinHandle<()>) {
        let (queue, requests) = mpsc::channel(config.capacity.max(1));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(run(
            self.clone(),
            requests,
            config.max_units.max(1),
            Arc::clone(&counters),
        ));
        crate::checkpoint::spawn(self, queue.downgrade());
        (Writer { queue, counters }, task)
    }
}

async fn run(
    store: Store,
    mut requests: mpsc::Receiver<Request>,
    max_units: usize,
    counters: Arc<Counters>,
) {
    let mut carried: Option<Request> = None;
    let mut failing = 0u64;
    loop {
        let first = match carried.take() {
            Some(request) => request,
            None => match requests.recv().await {
                Some(request) => request,
                None => break,
            },
        };
        let mut units = first.units.len();
        let mut batch = vec![first];
        while units < max_units {
            let Ok(next) = requests.try_recv() else {
                break;
            };
            if units + next.units.len() > max_units {
                carried = Some(next);
                break;
            }
            units += next.units.len();
            batch.push(next);
        }
        if commit_batch(&store, batch, &counters, failing).await {
            if failing > 0 {
                tracing::info!(
                    failed_batches = failing,
                    "store writer: commits succeed again"
                );
            }
            failing = 0;
        } else {
            failing += 1;
        }
    }
    tracing::debug!("store writer stopped: every handle dropped and the queue drained");
}

/// Commits a batch in one transaction; if that fails for a reason one request could
/// cause, commits each request alone so a bad request fails by itself. False when
/// the batch failed; `failing` batches in a row failed before it, and only every
/// power of two is logged, so an outage does not flood the log.
async fn commit_batch(
    store: &Store,
    batch: Vec<Request>,
    counters: &Counters,
    failing: u64,
) -> bool {
    let mut units = Vec::new();
    let mut parts: Vec<(Range<usize>, oneshot::Sender<_>)> = Vec::with_capacity(batch.len());
    for mut request in batch {
        let start = units.len();
        units.append(&mut request.units);
        parts.push((start..units.len(), request.reply));
    }
    Counters::bump(&counters.requests, parts.len() as u64);
    Counters::bump(&counters.units, units.len() as u64);
    Counters::bump(&counters.transactions, 1);
    let error = match store.commit(&units).await {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for (range, reply) in parts {
                let mine: Vec<UnitOutcome> = outcomes.by_ref().take(range.len()).collect();
                // A caller that stopped waiting needs no answer.
                let _ = reply.send(Ok(mine));
            }
            return true;
        }
        Err(error) => error,
    };
    // Alone, each request would fail the same way when the database is down: answer now.
    if parts.len() == 1 || matches!(error, StoreError::Unavailable(_)) {
        if (failing + 1).is_power_of_two() {
            tracing::warn!(%error, requests = parts.len(), failed_batches = failing + 1, "store writer batch failed");
        }
        for (_, reply) in parts {
            let _ = reply.send(Err(error.clone()));
        }
        return false;
    }
    tracing::warn!(%error, requests = parts.len(), "store writer batch failed; retrying each request alone");
    Counters::bump(&counters.split_batches, 1);
    let mut any = false;
    for (range, reply) in parts {
        Counters::bump(&counters.transactions, 1);
        let result = store.commit(&units[range]).await;
        any |= result.is_ok();
        let _ = reply.send(result);
    }
    any
}
