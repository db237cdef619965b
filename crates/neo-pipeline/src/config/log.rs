//! `[log]`: how NEO's log lines are written (the level comes from `NEO_LOG`,
//! an `EnvFilter` directive such as `info` or `neo_pipeline=debug,info`), and
//! `[telemetry]`: where its spans are exported.

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

/// `[telemetry]`: OpenTelemetry span export (off unless an endpoint is set).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// An OTLP/HTTP collector's base URL (`http://127.0.0.1:4318`); spans go to
    /// `{otlp_endpoint}/v1/traces` as OTLP JSON.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` resource attribute (default `neo`).
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            otlp_endpoint: None,
            service_name: "neo".to_owned(),
        }
    }
}

impl TelemetryConfig {
    /// Every problem with `[telemetry]`.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(url) = &self.otlp_endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            problems.push(format!(
                "telemetry.otlp_endpoint must start with http:// or https:// (got {url:?})"
            ));
        }
        if self.service_name.trim().is_empty() {
            problems.push("telemetry.service_name must not be empty".to_owned());
        }
        problems
    }
}
