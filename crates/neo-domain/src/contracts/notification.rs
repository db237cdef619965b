//! NotificationV1: what NEO tells people, and on which channel.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue, text_enum};
use crate::{MessageId, Timestamp};

text_enum! {
    /// Where a notification goes; a subject token.
    pub enum Channel {
        /// The process's own log output.
        Console => "console",
        /// A Slack incoming webhook.
        Slack => "slack",
        /// A Telegram chat through the Bot API.
        Telegram => "telegram",
        /// A generic HMAC-signed webhook.
        Webhook => "webhook",
    }
}

text_enum! {
    /// What happened.
    pub enum NotificationKind {
        /// An order filled.
        OrderFilled => "order_filled",
        /// A stop-loss or take-profit closed a position.
        BracketHit => "bracket_hit",
        /// Risk refused a signal.
        SignalRefused => "signal_refused",
        /// Trading moved between active, reducing and halted.
        TradingStateChanged => "trading_state_changed",
        /// An API key expires within seven days, or has expired.
        ApiKeyExpiring => "api_key_expiring",
        /// A feature flag was rolled back (a guard rule tripped, or an operator).
        FlagRolledBack => "flag_rolled_back",
        /// The LLM API spend passed 80% of a budget cap, or reached it.
        LlmBudget => "llm_budget",
        /// An instrument's market data went stale (entries refused), or is fresh again.
        MarketData => "market_data",
        /// The stored fills, the stored position and the desk disagree on a position.
        PositionMismatch => "position_mismatch",
    }
}

/// A message for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NotificationV1 {
    /// Derived from its cause and channel, so a retry sends it once.
    pub id: MessageId,
    /// Where it goes.
    pub channel: Channel,
    /// What happened.
    pub kind: NotificationKind,
    /// The signal whose story this is part of (absent only for trading-state
    /// changes, API-key expiry, flag rollbacks, LLM budget, market-data and position-mismatch notices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal_id: Option<MessageId>,
    /// The sender's own alert id, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// One line.
    pub title: String,
    /// The body; it names the signal id so a person can find the story.
    pub text: String,
    /// When the event happened.
    pub ts_event: Timestamp,
}

impl Contract for NotificationV1 {
    const TYPE_NAME: &'static str = "NotificationV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        let needs_signal = !matches!(
            self.kind,
            NotificationKind::TradingStateChanged
                | NotificationKind::ApiKeyExpiring
                | NotificationKind::FlagRolledBack
                | NotificationKind::LlmBudget
                | NotificationKind::MarketData
                | NotificationKind::PositionMismatch
        );
        c.require_with(
            !needs_signal || self.signal_id.is_some(),
            "/signal_id",
            || format!("{} notifications must name their signal", self.kind),
        );
        if let Some(id) = self.signal_id {
            c.require(
                self.text.contains(&id.to_string()),
                "/text",
                "must name the signal id",
            );
        }
        c.text(&self.title, "/title", 256);
        c.text(&self.text, "/text", 4000);
        c.optional_text(self.source_id.as_deref(), "/source_id", 256);
        c.finish()
    }
}
