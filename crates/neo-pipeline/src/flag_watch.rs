//! The flags' watcher: picks up changes made by other processes (within a
//! second), rolls a flag back when one of its guard rules trips (by `auto`,
//! with the rule and the measured value, telling every channel still on), and
//! applies schedules and staged plans when they are due.

use std::sync::Arc;
use std::time::Duration;

use neo_api::flags::{FlagBook, WATCH_EVERY};
use neo_api::metrics::names;
use neo_domain::Timestamp;
use neo_domain::contracts::Channel;
use neo_engine::flags::{FlagName, FlagState, Trip};
use neo_notify::render::{Event, FlagRolledBack};
use tokio::sync::{Notify, watch};

use crate::Clock;

/// How often guards, schedules and plans are judged.
const JUDGE_EVERY: Duration = Duration::from_secs(1);

/// Who an automatic rollback is by.
pub const AUTO: &str = "auto";

/// Runs until shutdown.
pub(crate) async fn run(
    book: FlagBook,
    channels: Vec<Channel>,
    wake: Arc<Notify>,
    clock: Clock,
    shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    start_plans(&book, clock()).await;
    watch_flags(
        book,
        Some(Judge {
            channels,
            wake,
            clock,
        }),
        shutdown,
    )
    .await;
    Ok(())
}

/// Keeps a process's flags current without judging them: a gateway or notification
/// worker beside a desk in another process, where the desk's watcher rolls back.
pub(crate) async fn follow(book: FlagBook, shutdown: watch::Receiver<bool>) {
    watch_flags(book, None, shutdown).await;
}

/// What judging the flags needs: where rollbacks are told, and the time.
struct Judge {
    channels: Vec<Channel>,
    wake: Arc<Notify>,
    clock: Clock,
}

/// Reads the stored flags every `WATCH_EVERY`, judging them every `JUDGE_EVERY` when asked.
async fn watch_flags(book: FlagBook, judging: Option<Judge>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(WATCH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut judged = tokio::time::Instant::now();
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        if let Err(e) = book.refresh().await {
            tracing::warn!(error = %e, "flags: could not read the stored flags");
            continue;
        }
        let Some(j) = &judging else { continue };
        if judged.elapsed() < JUDGE_EVERY {
            continue;
        }
        judged = tokio::time::Instant::now();
        judge(&book, &j.channels, &j.wake, (j.clock)()).await;
    }
}

/// Starts the staged plans the config seeded: their first step counts from now
/// (recorded, so a restart does not start them again).
async fn start_plans(book: &FlagBook, now: Timestamp) {
    for (flag, spec) in book.flags().specs() {
        if spec.plan.is_none() || spec.since != Timestamp::EPOCH {
            continue;
        }
        let reason = "the configured staged plan starts";
        if let Err(e) = book
            .change(*flag, spec.clone(), "config", reason, now, Vec::new())
            .await
        {
            tracing::warn!(%flag, error = %e, "flags: could not start the staged plan");
        }
    }
}

/// Rolls back what tripped, then moves what is due.
async fn judge(book: &FlagBook, channels: &[Channel], wake: &Notify, now: Timestamp) {
    let trips = book.trips(now);
    for trip in &trips {
        if let Err(e) = roll_back(book, trip, channels, now).await {
            tracing::warn!(flag = %trip.flag, error = %e, "flags: could not roll back");
        } else {
            wake.notify_one();
        }
    }
    let tripped: Vec<FlagName> = trips.iter().map(|t| t.flag).collect();
    for due in book.flags().due(now, |f| !tripped.contains(&f)) {
        let mut spec = book.spec(due.flag);
        spec.state = due.to;
        match book
            .change(due.flag, spec, "schedule", &due.why, now, Vec::new())
            .await
        {
            Ok(change) => {
                tracing::info!(flag = %due.flag, to = %change.to.state, why = %due.why, "flags: scheduled change")
            }
            Err(e) => {
                tracing::warn!(flag = %due.flag, error = %e, "flags: scheduled change failed")
            }
        }
    }
}

async fn roll_back(
    book: &FlagBook,
    trip: &Trip,
    channels: &[Channel],
    now: Timestamp,
) -> Result<(), neo_api::flags::FlagError> {
    let reason = trip.reason();
    let mut spec = book.spec(trip.flag);
    spec.state = FlagState::Rollback {
        reason: reason.clone(),
    };
    let event = Event::FlagRolledBack(FlagRolledBack {
        flag: trip.flag.as_str().to_owned(),
        by: AUTO.to_owned(),
        reason: reason.clone(),
        ts: now,
    });
    let outbox = event.outbox(channels, now);
    book.change(trip.flag, spec, AUTO, &reason, now, outbox)
        .await?;
    book.reset_guards(trip.flag);
    metrics::counter!(names::FLAG_ROLLBACKS, "flag" => trip.flag.as_str(), "rule" => trip.kind.as_str())
        .increment(1);
    tracing::warn!(flag = %trip.flag, %reason, "flags: rolled back automatically");
    Ok(())
}
