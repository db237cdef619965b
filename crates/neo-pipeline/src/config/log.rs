//! `[log]`: how NEO's log lines are written (the level comes from `NEO_LOG`,
//! an `EnvFilter` directive such as `info` or `neo_pipeline=debug,info`).

use serde::Deserialize;

/// The shape of each log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines on a terminal (the default).
    #[default]
    Text,
    /// One JSON object a line, for a log pipeline: the message, the level, the
    /// time and every field, including `signal_id` on each line of a signal's handling.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` (default) or `json`.
    pub format: LogFormat,
}
