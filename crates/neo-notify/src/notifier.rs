//! Delivery: one bounded queue and one worker per enabled channel. A worker
//! sends in order, within the channel's rate limit, retrying failures with
//! backoff (or exactly the server's requested wait) until the notification is
//! delivered or dead. Callers get the outcome back, so a stage acks its input
//! only after the message has really gone out (or been given up on).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use neo_domain::Contract;
use neo_domain::contracts::{Channel, NotificationV1};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::channel::{Failure, Slack, Telegram, Transport, Webhook};
use crate::config::{ConfigError, NotifyConfig};
use crate::pacing::{Backoff, Jitter, RateLimiter};
use crate::render::Event;
use crate::secret::Secret;

/// What became of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The channel accepted it after `attempts` tries.
    Delivered {
        /// Tries it took, the successful one included.
        attempts: u32,
    },
    /// Given up on: route it to the dead-letter queue with the reason.
    Dead {
        /// Tries made (0 when the notification itself was invalid).
        attempts: u32,
        /// The last failure, free of secrets.
        reason: String,
    },
    /// Its channel is not enabled; nothing was sent.
    Disabled,
    /// The worker ended before deciding (runtime shutting down): do not ack,
    /// let the message be redelivered.
    Stopped,
}

/// A snapshot of one channel's counters, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Notifications delivered.
    pub delivered: u64,
    /// Failed attempts that were retried.
    pub retried: u64,
    /// Notifications given up on.
    pub dead: u64,
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    retried: AtomicU64,
    dead: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Counts {
        Counts {
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead: self.dead.load(Ordering::Relaxed),
        }
    }
}

/// Why the notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config has problems (all of them listed).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// `start` was called outside a tokio runtime, so workers cannot be spawned.
    #[error("Notifier::start must run inside a tokio runtime")]
    NoRuntime,
}

struct Job {
    notification: NotificationV1,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Debug)]
struct Lane {
    channel: Channel,
    queue: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

/// The handle callers send through; cheap to clone. Workers stop once every
/// clone is dropped and their queues are drained.
#[derive(Debug, Clone)]
pub struct Notifier {
    lanes: Arc<[Lane]>,
}

/// The worker tasks; [`Workers::join`] waits for them to drain and stop.
#[derive(Debug)]
pub struct Workers {
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Waits until every worker has finished (after all `Notifier` clones are dropped).
    pub async fn join(self) {
        for handle in self.handles {
            // A worker that panicked or was aborted has nothing left to deliver.
            let _ = handle.await;
        }
    }
}

/// Resolves to the [`Outcome`] of an enqueued notification.
#[derive(Debug)]
pub struct Pending(PendingState);

#[derive(Debug)]
enum PendingState {
    Ready(Option<Outcome>),
    Waiting(oneshot::Receiver<Outcome>),
}

impl Future for Pending {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        match &mut self.0 {
            PendingState::Ready(outcome) => Poll::Ready(outcome.take().unwrap_or(Outcome::Stopped)),
            PendingState::Waiting(rx) => {
                Pin::new(rx).poll(cx).map(|r| r.unwrap_or(Outcome::Stopped))
            }
        }
    }
}

impl Notifier {
    /// Validates `config`, then spawns one worker per enabled channel on the
    /// current tokio runtime. Installs rustls' ring provider if none is.
    pub fn start(config: &NotifyConfig) -> Result<(Notifier, Workers), StartError> {
        config.validate()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        // Already installed (by the binary or another crate) is fine too.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.retry.request_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StartError::Client(e.without_url().to_string()))?;

        let mut plans: Vec<Plan> = Vec::new();
        if config.console.enabled {
            plans.push(Plan {
                channel: Channel::Console,
                transport: Transport::Console,
                capacity: config.console.queue_capacity,
                rate: None,
            });
        }
        let s = &config.slack;
        if s.enabled
            && let Some(url) = &s.webhook_url
        {
            let slack = Slack::new(client.clone(), url.clone());
            plans.push(Plan {
                channel: Channel::Slack,
                transport: Transport::Slack(slack),
                capacity: s.queue_capacity,
                rate: Some((s.rate_limit, s.rate_interval_ms)),
            });
        }
        let t = &config.telegram;
        if t.enabled
            && let (Some(token), Some(chat)) = (&t.bot_token, &t.chat_id)
        {
            let telegram = Telegram::new(client.clone(), &t.api_base, token, chat);
            plans.push(Plan {
                channel: Channel::Telegram,
                transport: Transport::Telegram(telegram),
                capacity: t.queue_capacity,
                rate: Some((t.rate_limit, t.rate_interval_ms)),
            });
        }
        let w = &config.webhook;
        if w.enabled
            && let (Some(url), Some(secret)) = (&w.url, &w.secret)
        {
            let webhook = Webhook::new(client.clone(), url.clone(), Secret::clone(secret));
            plans.push(Plan {
                channel: Channel::Webhook,
                transport: Transport::Webhook(webhook),
                capacity: w.queue_capacity,
                rate: Some((w.rate_limit, w.rate_interval_ms)),
            });
        }

        let backoff = Backoff::new(&config.retry);
        let mut lanes = Vec::new();
        let mut handles = Vec::new();
        for (i, plan) in plans.into_iter().enumerate() {
            let Plan {
                channel,
                transport,
                capacity,
                rate,
            } = plan;
            let (queue, rx) = mpsc::channel(capacity.max(1));
            let counters = Arc::new(Counters::default());
            // Each channel gets its own jitter stream; with a seed, a reproducible one.
            let seed = config.retry.jitter_seed.map(|s| s.wrapping_add(i as u64));
            let worker = Worker {
                channel,
                transport,
                backoff: backoff.clone(),
                limiter: rate.map(|(n, ms)| RateLimiter::new(n, Duration::from_millis(ms))),
                jitter: Jitter::new(seed),
                counters: Arc::clone(&counters),
            };
            handles.push(runtime.spawn(worker.run(rx)));
            lanes.push(Lane {
                channel,
                queue,
                counters,
            });
        }
        Ok((
            Notifier {
                lanes: lanes.into(),
            },
            Workers { handles },
        ))
    }

    /// The enabled channels, in a fixed order (console, Slack, Telegram, webhook).
    pub fn channels(&self) -> Vec<Channel> {
        self.lanes.iter().map(|l| l.channel).collect()
    }

    /// Queues `n` on its channel, waiting for room when the queue is full
    /// (back-pressure: nothing is dropped); the result resolves when it is
    /// delivered or dead.
    pub async fn enqueue(&self, n: NotificationV1) -> Pending {
        let Some(lane) = self.lanes.iter().find(|l| l.channel == n.channel) else {
            return Pending(PendingState::Ready(Some(Outcome::Disabled)));
        };
        let (reply, rx) = oneshot::channel();
        let job = Job {
            notification: n,
            reply,
        };
        match lane.queue.send(job).await {
            Ok(()) => Pending(PendingState::Waiting(rx)),
            Err(_) => Pending(PendingState::Ready(Some(Outcome::Stopped))),
        }
    }

    /// Queues `n` and waits for its outcome.
    pub async fn send(&self, n: NotificationV1) -> Outcome {
        self.enqueue(n).await.await
    }

    /// Renders `event` for every enabled channel, queues them all, and waits
    /// for every outcome.
    pub async fn notify(&self, event: &Event) -> Vec<(NotificationV1, Outcome)> {
        let mut pending = Vec::new();
        for n in event.render_all(&self.channels()) {
            let receipt = self.enqueue(n.clone()).await;
            pending.push((n, receipt));
        }
        let mut outcomes = Vec::with_capacity(pending.len());
        for (n, receipt) in pending {
            outcomes.push((n, receipt.await));
        }
        outcomes
    }

    /// The counters of one channel (zero when it is not enabled).
    pub fn counts(&self, channel: Channel) -> Counts {
        self.lanes
            .iter()
            .find(|l| l.channel == channel)
            .map(|l| l.counters.snapshot())
            .unwrap_or_default()
    }
}

/// One channel to start: its transport, queue size and rate limit (count, window ms).
struct Plan {
    channel: Channel,
    transport: Transport,
    capacity: usize,
    rate: Option<(u32, u64)>,
}

struct Worker {
    channel: Channel,
    transport: Transport,
    backoff: Backoff,
    limiter: Option<RateLimiter>,
    jitter: Jitter,
    counters: Arc<Counters>,
}

impl Worker {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(job) = rx.recv().await {
            let outcome = self.deliver(&job.notification).await;
            match &outcome {
                Outcome::Delivered { .. } => {
                    self.counters.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Outcome::Dead { attempts, reason } => {
                    self.counters.dead.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        channel = %self.channel,
                        id = %job.notification.id,
                        attempts,
                        reason = %reason,
                        "notification dead"
                    );
                }
                Outcome::Disabled | Outcome::Stopped => {}
            }
            // A caller that stopped waiting still shows up in the counters.
            let _ = job.reply.send(outcome);
        }
    }

    async fn deliver(&mut self, n: &NotificationV1) -> Outcome {
        let issues = n.check();
        if !issues.is_empty() {
            let list: Vec<String> = issues.iter().map(ToString::to_string).collect();
            return Outcome::Dead {
                attempts: 0,
                reason: format!("invalid notification: {}", list.join("; ")),
            };
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(limiter) = &mut self.limiter {
                limiter.acquire().await;
            }
            let (reason, after) = match self.transport.send(n).await {
                Ok(()) => return Outcome::Delivered { attempts: attempt },
                Err(Failure::Permanent { reason }) => {
                    return Outcome::Dead {
                        attempts: attempt,
                        reason,
                    };
                }
                Err(Failure::Retry { reason, after }) => (reason, after),
            };
            if let Some(wait) = after {
                // The server's wait holds for the whole channel, not only this message.
                let capped = wait.min(self.backoff.max_retry_after);
                if let Some(limiter) = &mut self.limiter {
                    limiter.pause_for(capped);
                }
                if wait > self.backoff.max_retry_after {
                    return Outcome::Dead {
                        attempts: attempt,
                        reason: format!(
                            "{reason} (asked to wait {} s, more than max_retry_after_ms)",
                            wait.as_secs()
                        ),
                    };
                }
            }
            if attempt >= self.backoff.max_attempts {
                return Outcome::Dead {
                    attempts: attempt,
                    reason: format!("gave up after {attempt} attempts: {reason}"),
                };
            }
            self.counters.retried.fetch_add(1, Ordering::Relaxed);
            let wait = match after {
                Some(wait) => wait,
                None => self.backoff.delay(attempt, &mut self.jitter),
            };
            tracing::debug!(
                channel = %self.channel,
                id = %n.id,
                attempt,
                wait_ms = wait.as_millis() as u64,
                reason = %reason,
                "notification attempt failed, retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}
