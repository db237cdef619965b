//! AgentOutputV1: what an agent (the rule-based analyst, an LLM) concludes about a signal.
//! An agent only proposes; risk decides.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue, text_enum};
use crate::{InstrumentId, MessageId, Timestamp};

text_enum! {
    /// What the agent proposes.
    pub enum Recommendation {
        /// Open or add long (or cover a short).
        Buy => "buy",
        /// Open or add short (or sell a long).
        Sell => "sell",
        /// Flatten the position.
        Close => "close",
        /// Do nothing.
        Hold => "hold",
    }
}

text_enum! {
    /// How much attention a decision deserves; a subject token.
    pub enum Severity {
        /// Routine.
        Info => "info",
        /// Worth a look (conflicting evidence, unusual volatility).
        Warning => "warning",
        /// Needs a person (risk breach, data problem).
        Critical => "critical",
    }
}

/// One agent's analysis of one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AgentOutputV1 {
    /// Derived from signal and agent, so re-running an agent on a redelivered signal is idempotent.
    pub id: MessageId,
    /// The signal this answers.
    pub signal_id: MessageId,
    /// Agent name, a subject token (`rule`, `llm`).
    pub agent: String,
    /// The signal's instrument.
    pub instrument: InstrumentId,
    /// What the agent proposes.
    pub recommendation: Recommendation,
    /// Raw confidence in [0, 1], before calibration.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: f64,
    /// Why, in words.
    pub rationale: String,
    /// Attention level.
    pub severity: Severity,
    /// When the analysis finished.
    pub ts_event: Timestamp,
    /// The inputs that mattered (indicator values, regime scores), for the record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub features: BTreeMap<String, f64>,
    /// The feature flags in effect for the signal's unit (name to on/off), for the record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub flags: BTreeMap<String, bool>,
}

impl Contract for AgentOutputV1 {
    const TYPE_NAME: &'static str = "AgentOutputV1";

    fn ts_event(&self) -> Timestamp {
        self.ts_event
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.token(&self.agent, "/agent");
        c.require(
            self.confidence.is_finite() && (0.0..=1.0).contains(&self.confidence),
            "/confidence",
            "must be between 0 and 1",
        );
        c.text(&self.rationale, "/rationale", 8192);
        for (name, _) in self.features.iter().filter(|(_, v)| !v.is_finite()) {
            c.require(
                false,
                &format!("/features/{name}"),
                "must be a finite number",
            );
        }
        c.finish()
    }
}
