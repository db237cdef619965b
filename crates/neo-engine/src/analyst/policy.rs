//! Combining the agents' answers into the one decision the desk acts on, by a
//! declared policy. The rule analyst always answers; an LLM's answer may be
//! missing (late, failed, over budget, invalid, switched off), and then the
//! rule analyst decides alone with the reason recorded. Whatever the policy,
//! the result is a proposal like any other: risk, sizing and brackets follow.

use neo_domain::contracts::{AgentOutputV1, Recommendation};
use serde::{Deserialize, Serialize};

/// How the answers combine (`[agents] policy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The rule analyst decides; other agents are recorded only.
    #[default]
    RuleOnly,
    /// Act only when the LLM agrees with the rule analyst; a disagreement holds.
    LlmMustAgree,
    /// Each answer counts by its agent's track-record weight and confidence.
    Weighted,
}

/// Why an LLM's answer is not there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Missing {
    /// No answer within the deadline.
    Late,
    /// Every provider failed (each one's reason).
    Failed(String),
    /// The API budget is spent.
    BudgetExhausted,
    /// The answer was not a valid verdict.
    Invalid(String),
    /// The agent is off (its flag).
    Disabled,
    /// Not asked: an exit is the rule analyst's alone (an LLM never keeps a position open).
    NotAsked,
}

impl Missing {
    /// One phrase for the rationale.
    pub fn describe(&self) -> String {
        match self {
            Missing::Late => "the LLM did not answer within the deadline".to_owned(),
            Missing::Failed(why) => format!("the LLM failed ({why})"),
            Missing::BudgetExhausted => "the LLM budget is exhausted".to_owned(),
            Missing::Invalid(why) => format!("the LLM's answer was not a valid verdict ({why})"),
            Missing::Disabled => "the LLM agent is off".to_owned(),
            Missing::NotAsked => "the LLM is not asked about exits".to_owned(),
        }
    }
}

/// The combined decision and how it was reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    /// What the desk acts on (the rule analyst's output, its recommendation,
    /// confidence and rationale set by the policy).
    pub decision: AgentOutputV1,
    /// Whether the LLM's answer shaped it.
    pub llm_used: bool,
}

/// Track-record weights (e.g. from Brier scores), each above zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// The rule analyst's.
    pub rule: f64,
    /// The LLM's.
    pub llm: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            rule: 1.0,
            llm: 1.0,
        }
    }
}

/// Combines `rule` and the LLM's answer (or why there is none) under `policy`.
pub fn combine(
    policy: Policy,
    rule: AgentOutputV1,
    llm: Result<&AgentOutputV1, &Missing>,
    weights: Weights,
) -> Combined {
    let llm = match (policy, llm) {
        (Policy::RuleOnly, _) => return unchanged(rule, None),
        // Reducing risk is never held or overruled: a close stands whatever the LLM says.
        (_, Ok(_)) if rule.recommendation == Recommendation::Close => {
            return unchanged(rule, Some("a close is the rule analyst's alone".to_owned()));
        }
        (_, Err(missing)) => return unchanged(rule, Some(missing.describe())),
        (_, Ok(llm)) => llm,
    };
    let mut decision = rule;
    let agree = decision.recommendation == llm.recommendation;
    match policy {
        Policy::RuleOnly => {}
        Policy::LlmMustAgree if agree => {
            decision.confidence = decision.confidence.min(llm.confidence);
            note(&mut decision, format!("the LLM agrees: {}", llm.rationale));
        }
        Policy::LlmMustAgree => {
            let proposed = decision.recommendation;
            decision.recommendation = Recommendation::Hold;
            note(
                &mut decision,
                format!(
                    "held: the rule analyst said {proposed} but the LLM said {} ({})",
                    llm.recommendation, llm.rationale
                ),
            );
        }
        Policy::Weighted => weigh(&mut decision, llm, weights, agree),
    }
    Combined {
        decision,
        llm_used: true,
    }
}

/// The answer with the larger weight x confidence wins; its confidence is its
/// share of the total (the agreeing case: the weighted mean).
fn weigh(decision: &mut AgentOutputV1, llm: &AgentOutputV1, w: Weights, agree: bool) {
    let (wr, wl) = (w.rule.max(f64::MIN_POSITIVE), w.llm.max(f64::MIN_POSITIVE));
    let (r, l) = (wr * decision.confidence, wl * llm.confidence);
    let total = wr + wl;
    if agree {
        decision.confidence = ((r + l) / total).clamp(0.0, 1.0);
        note(
            decision,
            format!(
                "the LLM agrees (weight {:.2} of {:.2}): {}",
                wl, total, llm.rationale
            ),
        );
    } else if l > r {
        let overruled = decision.recommendation;
        decision.recommendation = llm.recommendation;
        decision.confidence = if r + l > 0.0 { l / (r + l) } else { 0.0 };
        note(
            decision,
            format!(
                "the LLM outweighs the rule analyst's {overruled}: {}",
                llm.rationale
            ),
        );
    } else {
        decision.confidence = if r + l > 0.0 { r / (r + l) } else { 0.0 };
        note(
            decision,
            format!(
                "the rule analyst outweighs the LLM's {}: {}",
                llm.recommendation, llm.rationale
            ),
        );
    }
}

fn unchanged(mut rule: AgentOutputV1, why: Option<String>) -> Combined {
    if let Some(why) = why {
        note(&mut rule, format!("{why}: the rule analyst decides alone"));
    }
    Combined {
        decision: rule,
        llm_used: false,
    }
}

/// Appends a sentence to the rationale, within the contract's length.
fn note(decision: &mut AgentOutputV1, text: String) {
    let text = text.trim();
    let mut chars = text.chars();
    let sentence: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    let stop = if sentence.ends_with(['.', '!', '?']) {
        ""
    } else {
        "."
    };
    let mut joined = format!("{} {sentence}{stop}", decision.rationale.trim_end());
    let mut end = joined.len().min(8_000);
    while !joined.is_char_boundary(end) {
        end -= 1;
    }
    joined.truncate(end);
    decision.rationale = joined;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::float_cmp)]

    use std::collections::BTreeMap;

    use neo_domain::contracts::{Contract, Severity};
    use neo_domain::{IdKind, InstrumentId, MessageId, Timestamp};

    use super::*;

    fn output(agent: &str, recommendation: Recommendation, confidence: f64) -> AgentOutputV1 {
        AgentOutputV1 {
            id: MessageId::derived(IdKind::Decision, agent),
            signal_id: MessageId::derived(IdKind::Signal, "s"),
            agent: agent.to_owned(),
            instrument: InstrumentId::new("BTC-USDT").unwrap(),
            recommendation,
            confidence,
            rationale: format!("{agent} says so."),
            severity: Severity::Info,
            ts_event: Timestamp::EPOCH,
            features: BTreeMap::new(),
            flags: BTreeMap::new(),
        }
    }

    use Recommendation::{Buy, Hold, Sell};

    #[test]
    fn rule_only_ignores_the_llm() {
        let c = combine(
            Policy::RuleOnly,
            output("rule", Buy, 0.6),
            Ok(&output("llm", Sell, 0.9)),
            Weights::default(),
        );
        assert_eq!(
            (c.decision.recommendation, c.decision.confidence, c.llm_used),
            (Buy, 0.6, false)
        );
    }

    #[test]
    fn a_missing_answer_leaves_the_rule_analyst_deciding_with_the_reason() {
        for missing in [
            Missing::Late,
            Missing::Failed("openai: server error 500".into()),
            Missing::BudgetExhausted,
            Missing::Invalid("not a JSON object".into()),
            Missing::Disabled,
        ] {
            for policy in [Policy::LlmMustAgree, Policy::Weighted] {
                let c = combine(
                    policy,
                    output("rule", Buy, 0.6),
                    Err(&missing),
                    Weights::default(),
                );
                assert_eq!((c.decision.recommendation, c.llm_used), (Buy, false));
                assert!(
                    c.decision
                        .rationale
                        .to_lowercase()
                        .contains(&missing.describe().to_lowercase()),
                    "{}",
                    c.decision.rationale
                );
                assert!(c.decision.check().is_empty());
            }
        }
    }

    #[test]
    fn a_close_stands_whatever_the_llm_says() {
        for policy in [Policy::LlmMustAgree, Policy::Weighted] {
            let heavy = Weights {
                rule: 0.1,
                llm: 10.0,
            };
            let c = combine(
                policy,
                output("rule", Recommendation::Close, 0.0),
                Ok(&output("llm", Buy, 1.0)),
                heavy,
            );
            assert_eq!(
                (c.decision.recommendation, c.llm_used),
                (Recommendation::Close, false)
            );
            assert!(
                c.decision.rationale.contains("alone"),
                "{}",
                c.decision.rationale
            );
        }
    }

    #[test]
    fn must_agree_holds_on_a_disagreement_and_takes_the_lower_confidence_otherwise() {
        let c = combine(
            Policy::LlmMustAgree,
            output("rule", Buy, 0.7),
            Ok(&output("llm", Sell, 0.9)),
            Weights::default(),
        );
        assert_eq!(c.decision.recommendation, Hold);
        assert!(
            c.decision.rationale.contains("The LLM said sell")
                || c.decision.rationale.contains("the LLM said sell"),
            "{}",
            c.decision.rationale
        );
        let c = combine(
            Policy::LlmMustAgree,
            output("rule", Buy, 0.7),
            Ok(&output("llm", Buy, 0.55)),
            Weights::default(),
        );
        assert_eq!(
            (c.decision.recommendation, c.decision.confidence),
            (Buy, 0.55)
        );
    }

    #[test]
    fn weighted_follows_the_heavier_answer() {
        let w = Weights {
            rule: 1.0,
            llm: 3.0,
        };
        let c = combine(
            Policy::Weighted,
            output("rule", Buy, 0.6),
            Ok(&output("llm", Sell, 0.6)),
            w,
        );
        assert_eq!(c.decision.recommendation, Sell);
        assert!((c.decision.confidence - 0.75).abs() < 1e-12);
        let c = combine(
            Policy::Weighted,
            output("rule", Buy, 0.6),
            Ok(&output("llm", Buy, 0.8)),
            w,
        );
        assert_eq!(c.decision.recommendation, Buy);
        assert!(
            (c.decision.confidence - 0.75).abs() < 1e-12,
            "weighted mean of 0.6 and 0.8 at 1:3"
        );
        let c = combine(
            Policy::Weighted,
            output("rule", Buy, 0.9),
            Ok(&output("llm", Sell, 0.2)),
            w,
        );
        assert_eq!(c.decision.recommendation, Buy);
        assert!(c.decision.check().is_empty());
    }
}
