//! Feature flags, the pure part: which named behaviours are on for which unit.
//!
//! A flag is `disabled`, `rolling_out` to a percent of units, `enabled`, or in
//! `rollback` (forced off, with the reason; leaving it takes an explicit
//! change). A unit (a signal's strategy and instrument; the instrument for the
//! ensemble) is in a rollout when a stable hash of (flag, unit) falls under the
//! percent, so a unit in at 25% stays in at 50%. Allow and deny lists name
//! units outright, and a flag is effective only when every flag it requires is
//! (cycles are refused). Evaluation is deterministic: no clock, no I/O; the
//! time-based parts (schedules, staged plans, guard windows) take `now`.

mod cohorts;
mod guards;
mod registry;
mod schedule;
mod wire;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_time;

pub use cohorts::{ClosedTrip, CohortFigures, Cohorts, Comparison, Test};
pub use guards::{Aggregate, Direction, GuardRule, GuardSample, Guards, RuleKind, Trip};
pub use registry::{FlagProblem, Flags};
pub use schedule::{Due, Plan, Scheduled};
pub use wire::{basis_points, percent};

use neo_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// Every flag NEO knows, each gating a real behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagName {
    /// TradingView intake (off: 503 `intake_disabled`, nothing stored).
    TvSlice,
    /// Slack notifications.
    OutputSlack,
    /// Telegram notifications.
    OutputTelegram,
    /// Signed-webhook notifications.
    OutputWebhook,
    /// The LLM agent.
    AgentGpt,
    /// Calibrated confidence (off: raw confidence).
    ConfidenceCalibration,
    /// Drawdown-scaled Kelly sizing (off: no drawdown scale).
    DrawdownKelly,
    /// ATR brackets (off: fixed-percent brackets; every order stays bracketed).
    AtrBrackets,
    /// Adaptive ensemble weights (off: equal weights).
    AdaptiveWeights,
    /// The analyst's use of the regime (off: ignored).
    RegimeAwareness,
    /// The data-quality gates.
    DataQualityGates,
    /// The LLM API budget.
    ApiBudget,
    /// The local model's lifecycle management.
    OllamaLifecycle,
}

impl FlagName {
    /// Every flag, in a fixed order.
    pub const ALL: [FlagName; 13] = [
        FlagName::TvSlice,
        FlagName::OutputSlack,
        FlagName::OutputTelegram,
        FlagName::OutputWebhook,
        FlagName::AgentGpt,
        FlagName::ConfidenceCalibration,
        FlagName::DrawdownKelly,
        FlagName::AtrBrackets,
        FlagName::AdaptiveWeights,
        FlagName::RegimeAwareness,
        FlagName::DataQualityGates,
        FlagName::ApiBudget,
        FlagName::OllamaLifecycle,
    ];

    /// The wire name (`tv_slice`).
    pub const fn as_str(self) -> &'static str {
        match self {
            FlagName::TvSlice => "tv_slice",
            FlagName::OutputSlack => "output_slack",
            FlagName::OutputTelegram => "output_telegram",
            FlagName::OutputWebhook => "output_webhook",
            FlagName::AgentGpt => "agent_gpt",
            FlagName::ConfidenceCalibration => "confidence_calibration",
            FlagName::DrawdownKelly => "drawdown_kelly",
            FlagName::AtrBrackets => "atr_brackets",
            FlagName::AdaptiveWeights => "adaptive_weights",
            FlagName::RegimeAwareness => "regime_awareness",
            FlagName::DataQualityGates => "data_quality_gates",
            FlagName::ApiBudget => "api_budget",
            FlagName::OllamaLifecycle => "ollama_lifecycle",
        }
    }

    /// The seed documents' environment name (`FF_TV_SLICE`).
    pub fn env_alias(self) -> String {
        format!("FF_{}", self.as_str().to_ascii_uppercase())
    }

    /// The flag a wire name or environment alias names.
    pub fn parse(text: &str) -> Option<FlagName> {
        let text = text.trim();
        let text = text
            .strip_prefix("FF_")
            .or_else(|| text.strip_prefix("ff_"))
            .unwrap_or(text);
        FlagName::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(text))
    }
}

impl std::fmt::Display for FlagName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FlagName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        FlagName::parse(text).ok_or_else(|| {
            let known: Vec<&str> = FlagName::ALL.iter().map(|f| f.as_str()).collect();
            format!("unknown flag {text:?} (known: {})", known.join(", "))
        })
    }
}

/// Where a flag stands. On the wire: `{"state": "rolling_out", "percent": 25}`,
/// `{"state": "rollback", "reason": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::StateWire", into = "wire::StateWire")]
pub enum FlagState {
    /// Off for every unit.
    Disabled,
    /// On for the units whose hash falls under `basis_points` (of 10,000).
    RollingOut {
        /// The share of units, in hundredths of a percent (2,500 = 25%).
        basis_points: u16,
    },
    /// On for every unit.
    Enabled,
    /// Forced off; leaving it takes an explicit change.
    Rollback {
        /// Why (the rule and the measured value, or the operator's words).
        reason: String,
    },
}

/// The unit a signal is judged as: its strategy and instrument
/// (`breakout:BTC-USDT`; `-` stands for no strategy).
pub fn signal_unit(strategy: Option<&str>, instrument: impl std::fmt::Display) -> String {
    let strategy = strategy
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("-");
    format!("{strategy}:{instrument}")
}

/// Most basis points a rollout can name (100%).
pub const ALL_UNITS: u16 = 10_000;

impl FlagState {
    /// The state's name (`rolling_out`), for metrics and messages.
    pub fn kind(&self) -> &'static str {
        match self {
            FlagState::Disabled => "disabled",
            FlagState::RollingOut { .. } => "rolling_out",
            FlagState::Enabled => "enabled",
            FlagState::Rollback { .. } => "rollback",
        }
    }

    /// The share of units it covers in basis points (a rollback covers none).
    pub fn basis_points(&self) -> u16 {
        match self {
            FlagState::Disabled | FlagState::Rollback { .. } => 0,
            FlagState::RollingOut { basis_points } => *basis_points,
            FlagState::Enabled => ALL_UNITS,
        }
    }
}

impl std::fmt::Display for FlagState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlagState::RollingOut { basis_points } => {
                write!(f, "rolling_out {}%", wire::percent_text(*basis_points))
            }
            FlagState::Rollback { reason } => write!(f, "rollback ({reason})"),
            other => f.write_str(other.kind()),
        }
    }
}

/// One flag's settings, as stored, configured and served: on the wire the
/// state's fields sit beside the rest (`{"state": "rolling_out", "percent":
/// 25, "allow": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::SpecWire", into = "wire::SpecWire")]
pub struct FlagSpec {
    /// Its state.
    pub state: FlagState,
    /// Units always in (unless the flag is off or in rollback).
    pub allow: Vec<String>,
    /// Units never in.
    pub deny: Vec<String>,
    /// Flags that must be effective for this one to be.
    pub requires: Vec<FlagName>,
    /// Time-based changes: at each time, the flag moves to that state.
    pub schedule: Vec<Scheduled>,
    /// A staged rollout that advances while the flag's guards hold.
    pub plan: Option<Plan>,
    /// When the state last changed (schedules and plans count from it).
    pub since: Timestamp,
}

impl FlagSpec {
    /// A flag in `state` with no lists, requirements or schedule.
    pub fn new(state: FlagState) -> Self {
        FlagSpec {
            state,
            allow: Vec::new(),
            deny: Vec::new(),
            requires: Vec::new(),
            schedule: Vec::new(),
            plan: None,
            since: Timestamp::EPOCH,
        }
    }
}

/// Where a unit falls among 10,000 buckets for a flag: FNV-1a (64-bit) of the
/// flag's name, a separator and the unit, so it never changes between
/// versions, machines or runs.
pub fn bucket(flag: FlagName, unit: &str) -> u16 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in flag.as_str().bytes().chain([0u8]).chain(unit.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    // The top bits mix best; 10,000 divides 2^64 unevenly by under 1e-15.
    u16::try_from((hash >> 16) % u64::from(ALL_UNITS)).unwrap_or(0)
}
