//! LlmVerdictV1: what a language model must answer about a signal. It is a
//! proposal checked like any input: an answer that does not parse as this
//! exact shape, or breaks its rules, is rejected and recorded, never traded.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Checks, Contract, Issue, Recommendation};
use crate::{InstrumentId, Price, Timestamp};

/// Longest rationale a verdict may carry.
pub const RATIONALE_MAX: usize = 4_000;

/// A model's verdict on one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmVerdictV1 {
    /// What it proposes.
    pub recommendation: Recommendation,
    /// Its confidence in [0, 1].
    #[schemars(range(min = 0.0, max = 1.0))]
    pub confidence: f64,
    /// Why, in words (shown in the signal's story).
    pub rationale: String,
    /// The instrument it judged; when given it must be the signal's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument: Option<InstrumentId>,
    /// A stop-loss it suggests (risk still builds the bracket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss: Option<Price>,
    /// A take-profit it suggests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Price>,
}

impl Contract for LlmVerdictV1 {
    const TYPE_NAME: &'static str = "LlmVerdictV1";

    /// A verdict is an answer, not an event: the `AgentOutputV1` made from it carries the time.
    fn ts_event(&self) -> Timestamp {
        Timestamp::EPOCH
    }

    fn check(&self) -> Vec<Issue> {
        let mut c = Checks::default();
        c.require(
            self.confidence.is_finite() && (0.0..=1.0).contains(&self.confidence),
            "/confidence",
            "must be between 0 and 1",
        );
        c.text(&self.rationale, "/rationale", RATIONALE_MAX);
        for (price, path) in [
            (self.stop_loss, "/stop_loss"),
            (self.take_profit, "/take_profit"),
        ] {
            c.require(
                price.is_none_or(|p| p.value().is_positive()),
                path,
                "must be above zero",
            );
        }
        c.finish()
    }
}
