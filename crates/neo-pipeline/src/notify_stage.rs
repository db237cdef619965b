//! The notification stage: NotificationV1 messages from the bus go to their
//! channel's worker (which paces, retries and honours 429 waits); once the
//! outcome is known it is recorded in the audit trail with the message's inbox
//! key, and only then is the delivery acknowledged. A notification that could
//! not be delivered after the last retry goes to the dead-letter queue with
//! the reason. Deliveries wait concurrently, so a slow channel never holds up
//! another; at most `max_in_flight` are open at once.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use neo_api::flags::FlagBook;
use neo_api::metrics::names;
use neo_api::slo::SloBook;
use neo_bus::{Bus, ConsumerSpec, Delivery, Received, Subscription};
use neo_domain::contracts::{AuditEventV1, Channel, NotificationV1};
use neo_domain::{IdKind, MessageId};
use neo_engine::flags::{FlagName, FlagState, GuardSample, RuleKind, signal_unit};
use neo_engine::slo::SloName;
use neo_notify::{Notifier, Outcome};
use neo_stage::StageError;
use neo_store::{InboxKey, Op, Store, Unit, Writer};
use serde_json::json;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument as _;

use crate::Clock;

/// The inbox consumer (and durable name) of the notification stage.
pub const NOTIFY_CONSUMER: &str = "notify";

/// Everything the stage needs.
pub struct NotifyStage<B: Bus> {
    /// Where notifications arrive.
    pub bus: B,
    /// For the inbox check.
    pub store: Store,
    /// For the outcome commits.
    pub writer: Writer,
    /// The channel workers.
    pub notifier: Notifier,
    /// The durable consumer.
    pub consumer: ConsumerSpec,
    /// Most notifications waiting for an outcome at once.
    pub max_in_flight: usize,
    /// Time source for the audit records.
    pub clock: Clock,
    /// The `output_*` flags (a channel whose flag is off sends nothing) and
    /// their error-rate guards.
    pub flags: Option<FlagBook>,
    /// Where delivery latency and losses are recorded.
    pub slo: SloBook,
}

/// Tries at recording a sent notification's outcome before handing it back.
const RECORD_TRIES: u32 = 30;

/// Runs until shutdown; then waits for the notifications in flight.
pub async fn run_notify_stage<B: Bus>(
    stage: NotifyStage<B>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StageError> {
    let mut subscription = stage.bus.subscribe(stage.consumer.clone()).await?;
    let permits = Arc::new(Semaphore::new(stage.max_in_flight.max(1)));
    let in_flight: Arc<Mutex<BTreeSet<MessageId>>> = Arc::default();
    let shared = Arc::new(stage);
    let mut lookups = neo_stage::Backoff::default();
    while !*shutdown.borrow() {
        let batch = tokio::select! {
            batch = subscription.next_batch(256, Duration::from_millis(50)) => batch,
            _ = shutdown.changed() => break,
        };
        let deliveries = match batch {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "notify stage: pull failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        if deliveries.is_empty() {
            continue;
        }
        let ids: Vec<_> = deliveries
            .iter()
            .filter_map(|d| d.envelope().map(|e| e.id))
            .collect();
        let handled = match shared.store.handled(NOTIFY_CONSUMER, &ids).await {
            Ok(handled) => {
                lookups = neo_stage::Backoff::default();
                handled
            }
            Err(e) if e.is_transient() => {
                // The store is away: hand the batch back and wait (nothing was sent).
                for delivery in deliveries {
                    settle(delivery.nak(lookups.delay()).await);
                }
                if lookups.fail() {
                    tracing::warn!(error = %e, failures = lookups.failures(), "notify stage: inbox lookup failed; waiting for the store");
                }
                tokio::select! {
                    () = tokio::time::sleep(lookups.delay()) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for delivery in deliveries {
            let id = delivery.envelope().map(|e| e.id);
            let busy = id.is_some_and(|id| {
                let set = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
                handled.contains(&id) || set.contains(&id)
            });
            if busy {
                settle(delivery.ack().await);
                continue;
            }
            let decoded = decode(&delivery);
            shared.slo.record(
                SloName::ContractCompliance,
                decoded.is_ok(),
                (shared.clock)(),
            );
            let notification = match decoded {
                Ok(n) => n,
                Err(reason) => {
                    shared
                        .slo
                        .record(SloName::MessageLoss, false, (shared.clock)());
                    metrics::counter!(names::BUS_DEAD_LETTERS, "stage" => NOTIFY_CONSUMER)
                        .increment(1);
                    settle(delivery.dead_letter(&reason).await);
                    continue;
                }
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                break;
            };
            in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(notification.id);
            let (shared, in_flight) = (shared.clone(), in_flight.clone());
            tokio::spawn(async move {
                let id = notification.id;
                // Every line of the delivery names the signal it tells of (when it is about one).
                let span = tracing::info_span!(
                    "notification",
                    stage = NOTIFY_CONSUMER,
                    signal_id = notification.signal_id.map(tracing::field::display),
                    channel = %notification.channel,
                    notification_id = %id
                );
                deliver(&shared, delivery, notification)
                    .instrument(span)
                    .await;
                in_flight
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
                drop(permit);
            });
        }
    }
    // Let what is in flight finish (each is bounded by the channel's retry budget).
    let _ = permits
        .acquire_many(u32::try_from(shared.max_in_flight.max(1)).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// The flag that gates a channel (the console has none).
fn output_flag(channel: Channel) -> Option<FlagName> {
    match channel {
        Channel::Slack => Some(FlagName::OutputSlack),
        Channel::Telegram => Some(FlagName::OutputTelegram),
        Channel::Webhook => Some(FlagName::OutputWebhook),
        Channel::Console => None,
    }
}

/// The unit a notification is judged as: its signal's strategy and instrument,
/// looked up only when the flag's answer depends on the unit.
async fn unit_of<B: Bus>(
    stage: &NotifyStage<B>,
    n: &NotificationV1,
    book: &FlagBook,
    flag: FlagName,
) -> String {
    let spec = book.spec(flag);
    let uniform = spec.allow.is_empty()
        && spec.deny.is_empty()
        && !matches!(spec.state, FlagState::RollingOut { .. });
    let signal = match (uniform, n.signal_id) {
        (false, Some(id)) => stage.store.get_signal(id).await.ok().flatten(),
        _ => None,
    };
    signal.map_or_else(
        || signal_unit(None, "-"),
        |s| signal_unit(s.strategy.as_deref(), s.instrument),
    )
}

/// Every attempt is a sample for the channel's error-rate rule: failed ones 1, the delivery 0.
fn observe(book: &FlagBook, flag: FlagName, outcome: &Outcome, now: neo_domain::Timestamp) {
    let (attempts, delivered) = match outcome {
        Outcome::Delivered { attempts } => (*attempts, true),
        Outcome::Dead { attempts, .. } => (*attempts, false),
        Outcome::Disabled | Outcome::Stopped => return,
    };
    let failures = if delivered {
        attempts.saturating_sub(1)
    } else {
        attempts.max(1)
    };
    let sample = |value| GuardSample {
        flag,
        kind: RuleKind::ErrorRate,
        value,
        reference: 0.0,
    };
    for _ in 0..failures {
        book.observe(sample(1.0), now);
    }
    if delivered {
        book.observe(sample(0.0), now);
    }
}

fn decode(delivery: &Delivery) -> Result<NotificationV1, String> {
    match &delivery.received {
        Received::Envelope(e) => e
            .clone()
            .decode::<NotificationV1>()
            .map(|e| e.payload)
            .map_err(|e| format!("not a notification: {e}")),
        Received::Undecodable { reason } => Err(reason.clone()),
    }
}

/// Sends one notification, records the outcome with the inbox key, then settles the delivery.
async fn deliver<B: Bus>(stage: &NotifyStage<B>, delivery: Delivery, n: NotificationV1) {
    let channel = n.channel;
    let flag = output_flag(channel);
    let off = match (&stage.flags, flag) {
        (Some(book), Some(flag)) => !book.is_on(flag, &unit_of(stage, &n, book, flag).await),
        _ => false,
    };
    let outcome = if off {
        None
    } else {
        Some(stage.notifier.enqueue(n.clone()).await.await)
    };
    let (label, attempts, reason) = match &outcome {
        None => (
            "skipped",
            0,
            flag.map(|f| format!("flag {f} is off: nothing was sent")),
        ),
        Some(Outcome::Delivered { attempts }) => ("delivered", *attempts, None),
        Some(Outcome::Dead { attempts, reason }) => ("dead", *attempts, Some(reason.clone())),
        Some(Outcome::Disabled) => ("disabled", 0, None),
        Some(Outcome::Stopped) => {
            settle(delivery.nak(Duration::from_secs(1)).await);
            return;
        }
    };
    if let (Some(book), Some(flag), Some(outcome)) = (&stage.flags, flag, &outcome) {
        observe(book, flag, outcome, (stage.clock)());
    }
    metrics::counter!(names::NOTIFICATIONS, "channel" => channel.as_str(), "outcome" => label)
        .increment(1);
    match &reason {
        Some(reason) if label == "dead" => {
            tracing::warn!(outcome = label, attempts, %reason, "notification not delivered");
        }
        _ => tracing::info!(outcome = label, attempts, "notification {label}"),
    }
    let now = (stage.clock)();
    // Only what reached people: a skipped or disabled channel would flatter the latency.
    if let (Some(e), "delivered") = (delivery.envelope(), label) {
        #[allow(clippy::cast_precision_loss)]
        let secs = now.nanos_since(e.ts_init).max(0) as f64 / 1e9;
        metrics::histogram!(names::WEBHOOK_TO_NOTIFICATION, "channel" => channel.as_str())
            .record(secs);
        stage
            .slo
            .record_latency(SloName::WebhookToNotification, secs, now);
    }
    if matches!(label, "delivered" | "dead") {
        let delivered = label == "delivered";
        stage.slo.record(SloName::MessageLoss, delivered, now);
        stage.slo.record(SloName::DailySuccess, delivered, now);
    }
    let record = AuditEventV1 {
        id: MessageId::derived(IdKind::Other, &format!("audit:notification:{}", n.id)),
        actor: "notify".to_owned(),
        action: format!("notification.{label}"),
        entity: Some(n.id.to_string()),
        correlation_id: n.signal_id,
        details: json!({
            "notification": n,
            "outcome": label,
            "attempts": attempts,
            "reason": reason,
            "ts": now,
        }),
        ts_event: now,
    };
    let unit = Unit {
        inbox: Some(InboxKey::new(NOTIFY_CONSUMER, n.id)),
        ops: vec![Op::InsertAudit(record)],
        outbox: Vec::new(),
    };
    // The message went out: record that, riding out a store outage, rather than
    // hand it back and send it twice (given up after about two minutes).
    let mut backoff = neo_stage::Backoff::default();
    while let Err(e) = stage.writer.commit(vec![unit.clone()]).await {
        let give_up = !e.is_transient() || backoff.failures() >= RECORD_TRIES;
        if backoff.fail() || give_up {
            tracing::warn!(error = %e, failures = backoff.failures(), "could not record a notification outcome");
        }
        if give_up {
            settle(delivery.nak(Duration::from_secs(1)).await);
            return;
        }
        tokio::time::sleep(backoff.delay()).await;
    }
    match reason {
        Some(reason) => {
            metrics::counter!(names::BUS_DEAD_LETTERS, "stage" => NOTIFY_CONSUMER).increment(1);
            settle(delivery.dead_letter(&reason).await);
        }
        None => settle(delivery.ack().await),
    }
}

fn settle(result: Result<(), neo_bus::BusError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "notify stage: could not settle a delivery; it will come back");
    }
}
