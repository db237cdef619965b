//! The flags' shell: the settings in force (the config's seed overlaid by every
//! change stored since), changes written to the store with their history, a
//! board every process reads without a lock on the hot path, and the guard
//! rules' windows. A change is one commit (the new settings, the audit record
//! of who changed what from what to what and why, and any notifications); every
//! process sees it within a second by watching the stored version.

mod book;

pub use book::{FlagBook, FlagChange, FlagError, FlagsDoc};

/// The audit action of a flag change.
pub const FLAG_CHANGED: &str = "flag.changed";

/// How often a process looks for changes made elsewhere (a change takes effect
/// everywhere within a second).
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(250);
