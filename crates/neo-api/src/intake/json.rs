//! TradingView JSON alerts: the object an alert template renders, read into a
//! [`RawAlert`] with the aliases of [`super::fields`].

use neo_domain::Timestamp;
use serde_json::Value;

use super::error::{IntakeError, ProblemKind};
use super::fields::{is_passphrase_key, read_fields};
use super::raw::RawAlert;

/// What replaces the passphrase in the stored copy of the payload.
pub(crate) const REDACTED: &str = "***";

/// Reads a JSON alert. 400 when the body is not UTF-8 or not JSON; 422 when the
/// top level is not an object or a field is unusable (every problem listed).
/// Unknown fields become metadata; the passphrase is taken out and replaced by
/// `***` in `original`.
pub fn parse_tradingview_json(
    body: &[u8],
    received_at: Timestamp,
) -> Result<RawAlert, IntakeError> {
    let map = match parse_json(body)? {
        Value::Object(map) => map,
        other => {
            return Err(IntakeError::one(
                ProblemKind::NotAnObject,
                "",
                format!("the alert must be a JSON object, not {}", kind_of(&other)),
            ));
        }
    };
    let mut original = map.clone();
    for (key, value) in original.iter_mut() {
        if is_passphrase_key(key) {
            *value = Value::from(REDACTED);
        }
    }
    read_fields(map, Value::Object(original), received_at)
}

/// UTF-8 (a leading byte-order mark is dropped, some senders add one) and then JSON.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, IntakeError> {
    let text = std::str::from_utf8(body).map_err(|_| IntakeError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str(text).map_err(|e| IntakeError::InvalidJson(e.to_string()))
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
