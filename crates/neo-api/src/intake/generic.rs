//! The generic signed webhook's body: a SignalEventV1 as JSON, with `id` and
//! `source` optional, validated against the contract's schema and rules.

use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{Contract, IdKind, MessageId, Timestamp};
use serde_json::Value;

use super::error::{IntakeError, Problem, ProblemKind};
use super::idempotency::IdScope;
use super::json::{kind_of, parse_json};

/// Reads a SignalEventV1-shaped body (after its signature was verified).
/// `source` may be omitted and must otherwise be `api`. The signal's id is
/// always derived ([`IdScope::id`]): the sender's key is `source_id`, else the
/// `id` it sent (a UUID), else the content within the bucket, so a resend is a
/// duplicate and no sender can choose (or pre-claim) a stored id. Every schema
/// and contract problem is listed (422 `contract_violation`).
pub fn parse_generic(
    body: &[u8],
    received_at: Timestamp,
    scope: &IdScope<'_>,
) -> Result<SignalEventV1, IntakeError> {
    let mut map = match parse_json(body)? {
        Value::Object(map) => map,
        other => {
            return Err(IntakeError::one(
                ProblemKind::NotAnObject,
                "",
                format!("the signal must be a JSON object, not {}", kind_of(&other)),
            ));
        }
    };
    match map.get("source") {
        None => {
            map.insert("source".into(), Value::from(SignalSource::Api.as_str()));
        }
        Some(Value::String(s)) if s == SignalSource::Api.as_str() => {}
        Some(_) => {
            return Err(IntakeError::one(
                ProblemKind::ContractViolation,
                "/source",
                "the generic webhook only takes source \"api\" (or none)",
            ));
        }
    }
    let sent_id = map.get("id").and_then(Value::as_str).map(str::to_owned);
    if !map.contains_key("id") {
        // A placeholder so the document is complete; replaced below.
        map.insert(
            "id".into(),
            Value::from(MessageId::derived(IdKind::Signal, "").to_string()),
        );
    }
    let value = Value::Object(map);
    let issues =
        match neo_domain::schema::find(SignalEventV1::TYPE_NAME).map(|e| e.validate(&value)) {
            Some(Ok(issues)) => issues,
            // The registry always has the contract; should it not, serde and check() still judge.
            _ => Vec::new(),
        };
    let invalid = |issues: Vec<neo_domain::Issue>| {
        IntakeError::Invalid(
            issues
                .into_iter()
                .map(|i| Problem::new(ProblemKind::ContractViolation, i.path, i.problem))
                .collect(),
        )
    };
    if !issues.is_empty() {
        return Err(invalid(issues));
    }
    let mut signal: SignalEventV1 = serde_json::from_value(value)
        .map_err(|e| IntakeError::one(ProblemKind::ContractViolation, "", e.to_string()))?;
    let issues = signal.check();
    if !issues.is_empty() {
        return Err(invalid(issues));
    }
    if signal.source_id.is_none() {
        signal.source_id = sent_id;
    }
    signal.id = scope.id(&signal, received_at);
    Ok(signal)
}
