//! The SLOs' shell: one tracker per process, fed by the stages and the
//! intake, read by `GET /v1/slo`. Cheap to clone; recording takes a short lock.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use neo_domain::Timestamp;
use neo_engine::slo::{SloName, SloReport, SloSpec, SloTracker};

/// Where every part of NEO records its SLO events.
#[derive(Debug, Clone)]
pub struct SloBook {
    tracker: Arc<Mutex<SloTracker>>,
}

impl Default for SloBook {
    fn default() -> Self {
        SloBook::new(&BTreeMap::new())
    }
}

impl SloBook {
    /// A book over the seed objectives with `overrides`.
    pub fn new(overrides: &BTreeMap<SloName, SloSpec>) -> Self {
        SloBook {
            tracker: Arc::new(Mutex::new(SloTracker::new(overrides))),
        }
    }

    /// One event, good or not.
    pub fn record(&self, name: SloName, good: bool, at: Timestamp) {
        self.lock().record(name, good, at);
    }

    /// One latency in seconds.
    pub fn record_latency(&self, name: SloName, secs: f64, at: Timestamp) {
        self.lock().record_latency(name, secs, at);
    }

    /// Every SLO now.
    pub fn report(&self, now: Timestamp) -> Vec<SloReport> {
        self.lock().report(now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SloTracker> {
        self.tracker.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
