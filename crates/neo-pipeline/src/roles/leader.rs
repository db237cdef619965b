//! One active process per lease: the desk (one writer per account) and the
//! market (one source of prices) each run where their store lease is held.
//! A process that does not hold it stands by, asking every 250 ms, and takes
//! over the moment it is free (the holder died or its session was cut). A
//! leader that loses its lease stops what it ran, so two never act at once,
//! and stands by to lead again.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use neo_store::{Lease, Store};
use tokio::sync::watch;

use super::Tasks;
use crate::PipelineError;

/// How often a standby asks for the lease (failover takes at most this plus a restore).
const STANDBY_POLL: Duration = Duration::from_millis(250);
/// How often a leader confirms it still holds the lease.
const LEASE_CHECK: Duration = Duration::from_secs(1);

/// Whether this process leads its role now (for `/ready`).
#[derive(Debug, Default)]
pub(crate) struct LeaderState {
    active: AtomicBool,
}

impl LeaderState {
    /// `active` or `standby`.
    pub(crate) fn describe(&self) -> &'static str {
        if self.active.load(Ordering::Relaxed) {
            "active"
        } else {
            "standby"
        }
    }

    pub(crate) fn set(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }
}

/// A leader's lease and the tasks it runs while it holds it.
pub(crate) struct Active {
    pub(crate) lease: Lease,
    pub(crate) tasks: Tasks,
}

/// How a leader's run ended.
enum Ended {
    Shutdown,
    Failed(String),
    LostLease(String),
}

/// What a role does around its leadership.
pub(crate) struct Leadership<A, L> {
    /// The lease's name (`desk`, `market`).
    pub(crate) lease: &'static str,
    pub(crate) store: Store,
    pub(crate) state: std::sync::Arc<LeaderState>,
    /// Starts the role's tasks, holding the lease (`None`: shutdown came first).
    pub(crate) activate: A,
    /// Called when the lease was lost and the tasks stopped.
    pub(crate) on_lost: L,
}

impl<A, F, L> Leadership<A, L>
where
    A: Fn(Lease) -> F + Send + 'static,
    F: Future<Output = Result<Option<Active>, PipelineError>> + Send + 'static,
    L: Fn() + Send + 'static,
{
    /// Leads at once when `now` and the lease is free (so start-up problems show
    /// at once), else stands by; the lead loop runs supervised as `task`.
    pub(crate) async fn start(
        self,
        now: bool,
        tasks: &mut Tasks,
        task: &'static str,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), PipelineError> {
        let lease = if now {
            self.store.try_lease(self.lease).await?
        } else {
            None
        };
        let first = match lease {
            Some(lease) => (self.activate)(lease).await?,
            None => {
                let role = self.lease;
                tracing::info!(
                    role,
                    "the {role} lease is not this process's: standing by to take over"
                );
                None
            }
        };
        self.state.set(first.is_some());
        tasks.spawn(task, self.run(first, shutdown));
        Ok(())
    }

    /// Leads while holding the lease, from `first` if already leading; stands by
    /// while another process does; at shutdown returns. A lease lost to a store
    /// outage or a cut session stops the tasks (their state may be behind what
    /// another leader did meanwhile) and waits to lead again, started afresh.
    pub(crate) async fn run(
        self,
        mut active: Option<Active>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), String> {
        let role = self.lease;
        loop {
            let current = match active.take() {
                Some(current) => current,
                None => {
                    let Some(lease) = wait_for_lease(&self.store, role, &mut shutdown).await else {
                        return Ok(());
                    };
                    let started = tokio::time::Instant::now();
                    let Some(current) = (self.activate)(lease).await.map_err(|e| e.to_string())?
                    else {
                        return Ok(());
                    };
                    tracing::warn!(
                        role,
                        start_ms = started.elapsed().as_millis(),
                        "took over as the active {role}"
                    );
                    current
                }
            };
            self.state.set(true);
            match run_active(current, shutdown.clone()).await {
                Ended::Shutdown => return Ok(()),
                Ended::Failed(reason) => return Err(reason),
                Ended::LostLease(reason) => {
                    self.state.set(false);
                    (self.on_lost)();
                    tracing::warn!(role, %reason, "lost the {role} lease: stopped, standing by");
                }
            }
        }
    }
}

/// The lease once this process may lead, `None` at shutdown.
async fn wait_for_lease(
    store: &Store,
    name: &'static str,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<Lease> {
    let mut failures = 0u32;
    loop {
        tokio::select! {
            () = tokio::time::sleep(STANDBY_POLL) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return None;
        }
        match store.try_lease(name).await {
            Ok(Some(lease)) => return Some(lease),
            Ok(None) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures.is_power_of_two() {
                    tracing::warn!(role = name, error = %e, failures, "a standby cannot reach the store");
                }
            }
        }
    }
}

/// Runs until shutdown, a task's end, or the lease's loss (then everything stops).
async fn run_active(mut active: Active, mut shutdown: watch::Receiver<bool>) -> Ended {
    let mut check = tokio::time::interval(LEASE_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ended = loop {
        tokio::select! {
            _ = check.tick() => {
                if let Err(e) = active.lease.check().await {
                    break Ended::LostLease(e.to_string());
                }
            }
            next = active.tasks.next() => match next {
                None => break Ended::Shutdown,
                Some((name, Err(e))) => break Ended::Failed(format!("{name}: {e}")),
                Some((name, Ok(()))) if !*shutdown.borrow() => {
                    break Ended::Failed(format!("{name} stopped unexpectedly"));
                }
                Some(_) => {}
            },
            _ = shutdown.changed() => {}
        }
    };
    if !matches!(ended, Ended::Shutdown) {
        active.tasks.abort_all();
    }
    while active.tasks.next().await.is_some() {}
    active.lease.release().await;
    ended
}
