//! The generic signed webhook's body: a SignalEventV1 as JSON, with `id` and
//! `source` optional, validated against the contract's schema and rules.

use std::time::Duration;

use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{Contract, IdKind, MessageId, Timestamp};
use serde_json::Value;

use super::error::{IntakeError, Problem, ProblemKind};
use super::idempotency::{DEFAULT_BUCKET, signal_id};
use super::json::{kind_of, parse_json};

/// Reads a SignalEventV1-shaped body (after its signature was verified).
/// `source` may be omitted and must otherwise be `api`; `id` may be omitted and
/// is then derived like a TradingView alert's ([`signal_id`] with `source_id`,
/// else the content and the default bucket), so a resend is a duplicate. Every
/// schema and contract problem is listed (422 `contract_violation`).
pub fn parse_generic(body: &[u8], received_at: Timestamp) -> Result<SignalEventV1, IntakeError> {
    parse_generic_with_bucket(body, received_at, DEFAULT_BUCKET)
}

/// [`parse_generic`] with an explicit idempotency bucket.
pub fn parse_generic_with_bucket(
    body: &[u8],
    received_at: Timestamp,
    bucket: Duration,
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
    let derive_id = !map.contains_key("id");
    if derive_id {
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
    if derive_id {
        signal.id = signal_id(
            signal.source,
            signal.source_id.as_deref(),
            &signal,
            received_at,
            bucket,
        );
    }
    Ok(signal)
}
