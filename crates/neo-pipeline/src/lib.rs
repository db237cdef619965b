//! Every NEO role wired into one running pipeline: the simulated market feed,
//! the desk stage (analyst, risk, OMS, portfolio), the notification stage, the
//! outbox relay and the HTTP server, over the in-process bus or NATS
//! JetStream and SQLite or PostgreSQL. `neo run` is [`app::start`] plus a
//! supervisor; the end-to-end tests start the same thing in-process.

pub mod agents;
pub mod app;
pub mod config;
mod desk_metrics;
pub mod desk_reads;
pub mod desk_stage;
pub mod flag_watch;
mod key_notices;
pub mod market;
pub mod notify_stage;
pub mod operator;
mod passphrase;
mod probes;
pub mod reconcile;
mod restore;
pub mod retention;
pub mod roles;
mod slo_probe;

use std::sync::Arc;

use neo_domain::Timestamp;

pub use app::{PipelineError, Running, serve, start};
pub use config::Config;
pub use roles::Role;

/// Where "now" comes from (the wall clock in `neo run`).
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock: the one place the shells read it.
pub fn wall_clock() -> Clock {
    Arc::new(|| {
        #[allow(clippy::disallowed_methods)]
        // The live pipeline runs on wall-clock time by definition.
        let now = std::time::SystemTime::now();
        let nanos = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Timestamp::from_nanos(nanos)
    })
}
