//! Reading a model's answer: exactly one JSON object of the [`LlmVerdictV1`]
//! shape (a Markdown code fence around it is tolerated), every contract rule
//! met, and the signal's instrument if it names one. Anything else is an
//! error with the reason, never a decision.

use neo_domain::InstrumentId;
use neo_domain::contracts::{Contract, Issue, LlmVerdictV1};

/// Why an answer is not a verdict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VerdictError {
    /// The answer is not one JSON object.
    #[error("the answer is not a JSON object: {0}")]
    NotJson(String),
    /// A field is missing, unknown or of the wrong type.
    #[error("the answer is not a verdict: {0}")]
    Shape(String),
    /// It parses but breaks a rule (confidence out of range, empty rationale).
    #[error("the verdict breaks its rules: {}", .0.iter().map(|i| format!("{} {}", i.path, i.problem)).collect::<Vec<_>>().join("; "))]
    Rules(Vec<Issue>),
    /// It judges another instrument than the signal's.
    #[error("the verdict is about {got}, not the signal's {want}")]
    WrongInstrument {
        /// What it named.
        got: InstrumentId,
        /// The signal's.
        want: InstrumentId,
    },
}

/// Most bytes of an answer that are read (a longer one is refused).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// The verdict in `answer`, for a signal on `instrument`.
pub fn parse(answer: &str, instrument: InstrumentId) -> Result<LlmVerdictV1, VerdictError> {
    if answer.len() > MAX_ANSWER_BYTES {
        return Err(VerdictError::NotJson(format!(
            "{} bytes, over the {MAX_ANSWER_BYTES} read",
            answer.len()
        )));
    }
    let body = unfence(answer.trim());
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| VerdictError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(VerdictError::NotJson(
            "a JSON value that is not an object".to_owned(),
        ));
    }
    let verdict: LlmVerdictV1 =
        serde_json::from_value(value).map_err(|e| VerdictError::Shape(e.to_string()))?;
    let issues = verdict.check();
    if !issues.is_empty() {
        return Err(VerdictError::Rules(issues));
    }
    match verdict.instrument {
        Some(got) if got != instrument => Err(VerdictError::WrongInstrument {
            got,
            want: instrument,
        }),
        _ => Ok(verdict),
    }
}

/// The inside of one Markdown code fence (```json ... ```), or the text itself.
fn unfence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.strip_prefix("json").unwrap_or(rest);
    rest.strip_suffix("```").map_or(text, str::trim)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::contracts::Recommendation;
    use proptest::prelude::*;

    use super::*;

    fn btc() -> InstrumentId {
        InstrumentId::new("BTC-USDT").unwrap()
    }

    #[test]
    fn a_plain_or_fenced_verdict_reads() {
        let plain = r#"{"recommendation":"buy","confidence":0.7,"rationale":"trend"}"#;
        let fenced = format!("```json\n{plain}\n```");
        for text in [plain, fenced.as_str()] {
            let v = parse(text, btc()).unwrap();
            assert_eq!(v.recommendation, Recommendation::Buy);
        }
    }

    #[test]
    fn everything_else_is_refused_with_its_reason() {
        let cases = [
            ("Sure! I think you should buy.", "not a JSON object"),
            ("[1, 2]", "not an object"),
            (
                r#"{"recommendation":"yolo","confidence":0.7,"rationale":"x"}"#,
                "not a verdict",
            ),
            (
                r#"{"recommendation":"buy","confidence":0.7,"rationale":"x","size":9}"#,
                "not a verdict",
            ),
            (
                r#"{"recommendation":"buy","confidence":7,"rationale":"x"}"#,
                "/confidence",
            ),
            (
                r#"{"recommendation":"buy","confidence":0.7,"rationale":""}"#,
                "/rationale",
            ),
            (
                r#"{"recommendation":"buy","confidence":0.7,"rationale":"x","instrument":"ETH-USDT"}"#,
                "not the signal's BTC-USDT",
            ),
        ];
        for (text, why) in cases {
            let e = parse(text, btc()).unwrap_err();
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
        let huge = "x".repeat(MAX_ANSWER_BYTES + 1);
        assert!(matches!(parse(&huge, btc()), Err(VerdictError::NotJson(_))));
    }

    proptest! {
        /// Any text at all: a verdict or an error, never a panic.
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text, btc());
        }

        /// Whatever parses holds every rule.
        #[test]
        fn what_parses_is_valid(confidence in -2.0f64..3.0, rationale in "\\PC{0,20}") {
            let text = serde_json::json!({
                "recommendation": "sell", "confidence": confidence, "rationale": rationale
            }).to_string();
            if let Ok(v) = parse(&text, btc()) {
                prop_assert!((0.0..=1.0).contains(&v.confidence));
                prop_assert!(!v.rationale.trim().is_empty());
            }
        }
    }
}
