//! Riding out a store outage: a commit that fails for a transient reason (the
//! database refuses connections, a pool timeout, a lost race) is tried again
//! with capped exponential backoff until it succeeds or shutdown is asked. The
//! handler's in-memory state already holds the effects, so committing them late
//! keeps it a faithful cache of the store; giving up would leave it ahead.

use std::time::Duration;

use neo_store::{StoreError, Unit, UnitOutcome, Writer};
use tokio::sync::watch;

/// First wait after a failure.
const FIRST: Duration = Duration::from_millis(100);
/// Longest wait between tries.
const CAP: Duration = Duration::from_secs(5);
/// At the cap, one log line per this many tries (once a minute).
const LOG_EVERY_AT_CAP: u32 = 12;

/// Where a retry loop against the store stands: how long to wait next and
/// whether to say so (shared by every loop that must outlive an outage).
#[derive(Debug, Clone, Copy, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The wait before the next try: 100 ms doubling to 5 s.
    pub fn delay(self) -> Duration {
        let factor = 1u32 << self.failures.saturating_sub(1).min(6);
        (FIRST * factor).min(CAP)
    }

    /// Counts a failure; true when it is worth a log line (each doubling, then
    /// once a minute), so an outage is reported without flooding the log.
    pub fn fail(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.delay() < CAP
            || self.failures.is_power_of_two()
            || self.failures.is_multiple_of(LOG_EVERY_AT_CAP)
    }

    /// Failures since the last success.
    pub fn failures(self) -> u32 {
        self.failures
    }
}

/// Commits `units`, retrying transient failures until the store answers or
/// `shutdown` turns true (then the last error is returned: nothing was written,
/// the deliveries stay unacknowledged and come back after the restart).
pub(crate) async fn commit_until_done(
    writer: &Writer,
    units: Vec<Unit>,
    consumer: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Vec<UnitOutcome>, StoreError> {
    let mut backoff = Backoff::default();
    loop {
        let error = match writer.commit(units.clone()).await {
            Ok(outcomes) => {
                if backoff.failures() > 0 {
                    tracing::info!(
                        stage = %consumer,
                        failures = backoff.failures(),
                        "the store is back: committed"
                    );
                }
                return Ok(outcomes);
            }
            Err(e) if e.is_transient() => e,
            Err(e) => return Err(e),
        };
        if backoff.fail() {
            tracing::warn!(
                stage = %consumer,
                error = %error,
                failures = backoff.failures(),
                retry_in_ms = backoff.delay().as_millis(),
                "commit failed; retrying until the store is back"
            );
        }
        if *shutdown.borrow() {
            return Err(error);
        }
        tokio::select! {
            () = tokio::time::sleep(backoff.delay()) => {}
            _ = shutdown.changed() => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_to_its_cap_and_the_log_thins_out() {
        let mut b = Backoff::default();
        let mut waits = Vec::new();
        let mut logged = 0;
        for _ in 0..120 {
            logged += u32::from(b.fail());
            waits.push(b.delay().as_millis());
        }
        assert_eq!(&waits[..8], &[100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert!(waits.iter().all(|w| *w <= 5000));
        // 120 failures at up to 5 s is about ten minutes: a line for each of the
        // first waits, then about one a minute.
        assert!((12..=20).contains(&logged), "{logged} lines");
    }
}
