//! NEO's notification delivery: render what happened into `NotificationV1`s
//! that always name the signal, and deliver them to the console, Slack,
//! Telegram or a signed webhook, in order per channel, within each channel's
//! rate limit, retrying with backoff and honouring 429 waits, and reporting
//! what could not be delivered so it can go to the dead-letter queue.
//!
//! ```no_run
//! # async fn demo(event: neo_notify::render::Event) -> Result<(), neo_notify::StartError> {
//! let config = neo_notify::NotifyConfig::default();
//! let (notifier, workers) = neo_notify::Notifier::start(&config)?;
//! for (notification, outcome) in notifier.notify(&event).await {
//!     println!("{} on {}: {outcome:?}", notification.id, notification.channel);
//! }
//! drop(notifier);
//! workers.join().await;
//! # Ok(()) }
//! ```

mod channel;
pub mod check;
pub mod config;
mod notifier;
mod outbox;
mod pacing;
pub mod render;
mod secret;
pub mod signature;

pub use config::{ConfigError, ConfigProblem, NotifyConfig};
pub use notifier::{Counts, Notifier, Outcome, Pending, StartError, Workers};
pub use secret::Secret;
