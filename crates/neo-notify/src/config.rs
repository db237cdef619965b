//! Notification config: the `[notify.*]` sections of `neo.toml`. Every section
//! refuses unknown keys (a typo must not silently disable a channel) and
//! [`NotifyConfig::validate`] lists every problem at once.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use neo_domain::contracts::Channel;

use crate::secret::Secret;

/// The whole `[notify]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// `[notify.console]`: log lines, on by default so a new user sees something.
    pub console: ConsoleConfig,
    /// `[notify.slack]`: a Slack incoming webhook.
    pub slack: SlackConfig,
    /// `[notify.telegram]`: a Telegram chat through the Bot API.
    pub telegram: TelegramConfig,
    /// `[notify.webhook]`: a generic HMAC-signed webhook.
    pub webhook: WebhookConfig,
    /// `[notify.retry]`: attempts, backoff and timeouts shared by the network channels.
    pub retry: RetryConfig,
}

/// `[notify.console]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Whether notifications are written to the log (default true).
    pub enabled: bool,
    /// Notifications waiting before `send` waits for room (default 1024).
    pub queue_capacity: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            queue_capacity: 1024,
        }
    }
}

/// `[notify.slack]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackConfig {
    /// Whether Slack gets notifications (default false).
    pub enabled: bool,
    /// The incoming-webhook URL; a secret, since it grants posting rights.
    pub webhook_url: Option<Secret>,
    /// Messages allowed per `rate_interval_ms` (Slack allows about 1/s per webhook).
    pub rate_limit: u32,
    /// The rate-limit window, milliseconds (default 1000).
    pub rate_interval_ms: u64,
    /// Notifications waiting before `send` waits for room (default 1024).
    pub queue_capacity: usize,
}

impl Default for SlackConfig {
    fn default() -> Self {
        SlackConfig {
            enabled: false,
            webhook_url: None,
            rate_limit: 1,
            rate_interval_ms: 1000,
            queue_capacity: 1024,
        }
    }
}

/// `[notify.telegram]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelegramConfig {
    /// Whether Telegram gets notifications (default false).
    pub enabled: bool,
    /// The bot token from BotFather; a secret (it is part of every request path).
    pub bot_token: Option<Secret>,
    /// The chat: a numeric id (`-100...`) or `@channelname`; TOML string or integer.
    #[serde(deserialize_with = "string_or_int")]
    pub chat_id: Option<String>,
    /// The Bot API base URL (default `https://api.telegram.org`; tests use a mock).
    pub api_base: String,
    /// Messages allowed per `rate_interval_ms` (Telegram allows about 1/s per chat).
    pub rate_limit: u32,
    /// The rate-limit window, milliseconds (default 1000).
    pub rate_interval_ms: u64,
    /// Notifications waiting before `send` waits for room (default 1024).
    pub queue_capacity: usize,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            enabled: false,
            bot_token: None,
            chat_id: None,
            api_base: "https://api.telegram.org".to_owned(),
            rate_limit: 1,
            rate_interval_ms: 1000,
            queue_capacity: 1024,
        }
    }
}

/// `[notify.webhook]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Whether the webhook gets notifications (default false).
    pub enabled: bool,
    /// Where the signed NotificationV1 JSON is POSTed.
    pub url: Option<String>,
    /// The HMAC-SHA256 key for `X-Neo-Signature`; a secret.
    pub secret: Option<Secret>,
    /// Messages allowed per `rate_interval_ms` (default 10).
    pub rate_limit: u32,
    /// The rate-limit window, milliseconds (default 1000).
    pub rate_interval_ms: u64,
    /// Notifications waiting before `send` waits for room (default 1024).
    pub queue_capacity: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            enabled: false,
            url: None,
            secret: None,
            rate_limit: 10,
            rate_interval_ms: 1000,
            queue_capacity: 1024,
        }
    }
}

/// `[notify.retry]`: how hard the network channels try before a notification is dead.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per notification, the first included (default 5).
    pub max_attempts: u32,
    /// Backoff before the second attempt, milliseconds; doubles per attempt (default 500).
    pub initial_backoff_ms: u64,
    /// Cap on one backoff, milliseconds (default 30000).
    pub max_backoff_ms: u64,
    /// A server asking to wait longer than this (429) makes the message dead
    /// instead of blocking the channel (default 300000, five minutes).
    pub max_retry_after_ms: u64,
    /// Timeout of one HTTP request, milliseconds (default 10000).
    pub request_timeout_ms: u64,
    /// Seed of the jitter generator; unset means a per-process random seed.
    pub jitter_seed: Option<u64>,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            initial_backoff_ms: 500,
            max_backoff_ms: 30_000,
            max_retry_after_ms: 300_000,
            request_timeout_ms: 10_000,
            jitter_seed: None,
        }
    }
}

/// One thing wrong with the config, at its TOML path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, e.g. `notify.slack.webhook_url`.
    pub path: String,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

/// Every problem found by [`NotifyConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid notify config ({} problems): {}", .0.len(), join(.0))]
pub struct ConfigError(pub Vec<ConfigProblem>);

fn join(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn require(&mut self, ok: bool, path: &str, problem: &str) {
        if !ok {
            self.0.push(ConfigProblem {
                path: path.to_owned(),
                problem: problem.to_owned(),
            });
        }
    }

    /// A URL that reqwest can POST to: http or https with a host.
    fn url(&mut self, url: &str, path: &str) {
        let ok = reqwest::Url::parse(url)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .unwrap_or(false);
        self.require(ok, path, "must be an http:// or https:// URL");
    }

    fn queue_and_rate(&mut self, section: &str, capacity: usize, rate: Option<(u32, u64)>) {
        self.require(
            capacity > 0,
            &format!("notify.{section}.queue_capacity"),
            "must be at least 1",
        );
        if let Some((limit, interval_ms)) = rate {
            self.require(
                limit > 0,
                &format!("notify.{section}.rate_limit"),
                "must be at least 1",
            );
            self.require(
                interval_ms > 0,
                &format!("notify.{section}.rate_interval_ms"),
                "must be at least 1",
            );
        }
    }
}

fn present(secret: Option<&Secret>) -> bool {
    secret.is_some_and(|s| !s.is_blank())
}

impl NotifyConfig {
    /// The channels a notifier started on this config delivers to, in the fixed order
    /// (console, Slack, Telegram, webhook): what a desk in another process renders for.
    pub fn channels(&self) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.console.enabled {
            out.push(Channel::Console);
        }
        if self.slack.enabled && self.slack.webhook_url.is_some() {
            out.push(Channel::Slack);
        }
        if self.telegram.enabled
            && self.telegram.bot_token.is_some()
            && self.telegram.chat_id.is_some()
        {
            out.push(Channel::Telegram);
        }
        if self.webhook.enabled && self.webhook.url.is_some() && self.webhook.secret.is_some() {
            out.push(Channel::Webhook);
        }
        out
    }

    /// Checks the config, returning every problem at once (never a secret's value).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems(Vec::new());
        p.queue_and_rate("console", self.console.queue_capacity, None);

        let slack = &self.slack;
        p.queue_and_rate(
            "slack",
            slack.queue_capacity,
            Some((slack.rate_limit, slack.rate_interval_ms)),
        );
        if slack.enabled {
            match slack.webhook_url.as_ref().filter(|s| !s.is_blank()) {
                None => p.require(
                    false,
                    "notify.slack.webhook_url",
                    "required when Slack is enabled",
                ),
                Some(url) => p.url(url.expose(), "notify.slack.webhook_url"),
            }
        }

        let tg = &self.telegram;
        p.queue_and_rate(
            "telegram",
            tg.queue_capacity,
            Some((tg.rate_limit, tg.rate_interval_ms)),
        );
        if tg.enabled {
            p.require(
                present(tg.bot_token.as_ref()),
                "notify.telegram.bot_token",
                "required when Telegram is enabled",
            );
            p.require(
                tg.chat_id.as_deref().is_some_and(|c| !c.trim().is_empty()),
                "notify.telegram.chat_id",
                "required when Telegram is enabled",
            );
            p.url(&tg.api_base, "notify.telegram.api_base");
        }

        let wh = &self.webhook;
        p.queue_and_rate(
            "webhook",
            wh.queue_capacity,
            Some((wh.rate_limit, wh.rate_interval_ms)),
        );
        if wh.enabled {
            match wh.url.as_deref().filter(|u| !u.trim().is_empty()) {
                None => p.require(
                    false,
                    "notify.webhook.url",
                    "required when the webhook is enabled",
                ),
                Some(url) => p.url(url, "notify.webhook.url"),
            }
            p.require(
                present(wh.secret.as_ref()),
                "notify.webhook.secret",
                "required when the webhook is enabled (it signs every request)",
            );
        }

        let r = &self.retry;
        p.require(
            r.max_attempts >= 1,
            "notify.retry.max_attempts",
            "must be at least 1",
        );
        p.require(
            r.initial_backoff_ms >= 1,
            "notify.retry.initial_backoff_ms",
            "must be at least 1",
        );
        p.require(
            r.max_backoff_ms >= r.initial_backoff_ms,
            "notify.retry.max_backoff_ms",
            "must be at least initial_backoff_ms",
        );
        p.require(
            r.request_timeout_ms >= 1,
            "notify.retry.request_timeout_ms",
            "must be at least 1",
        );
        if p.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(p.0))
        }
    }
}

impl RetryConfig {
    /// The timeout of one HTTP request.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
}

/// Telegram chat ids are numbers, channel names are strings: accept both.
fn string_or_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(i64),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|raw| match raw {
        Raw::Text(text) => text,
        Raw::Int(n) => n.to_string(),
    }))
}
