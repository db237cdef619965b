//! TradingView JSON alerts: the object an alert template renders, read into a
//! [`RawAlert`] with the aliases of [`super::fields`].

use std::cell::RefCell;
use std::fmt;

use neo_domain::Timestamp;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{IntakeError, ProblemKind};
use super::fields::is_passphrase_key;
use super::raw::RawAlert;
use super::text::AlertDocument;

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
    json_document(body)?.into_alert(received_at)
}

/// The object's fields and its redacted copy, before any field is validated.
pub(crate) fn json_document(body: &[u8]) -> Result<AlertDocument, IntakeError> {
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
    Ok(AlertDocument {
        map,
        original: Value::Object(original),
    })
}

/// UTF-8 (a leading byte-order mark is dropped, some senders add one) and then
/// JSON in which no object repeats a key (400 `duplicate_key`: serde would keep
/// the last copy silently, and which one the sender meant is not to be guessed).
pub(crate) fn parse_json(body: &[u8]) -> Result<Value, IntakeError> {
    let text = std::str::from_utf8(body).map_err(|_| IntakeError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let duplicate = RefCell::new(None);
    let seed = Strict {
        path: String::new(),
        duplicate: &duplicate,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| IntakeError::InvalidJson(e.to_string()))?;
    match duplicate.into_inner() {
        Some((path, key)) => Err(IntakeError::DuplicateKey { path, key }),
        None => Ok(value),
    }
}

/// Builds a [`Value`] as serde_json does, noting the first key an object repeats.
struct Strict<'a> {
    path: String,
    duplicate: &'a RefCell<Option<(String, String)>>,
}

impl Strict<'_> {
    fn child(&self, segment: &str) -> Self {
        Strict {
            path: format!(
                "{}/{}",
                self.path,
                segment.replace('~', "~0").replace('/', "~1")
            ),
            duplicate: self.duplicate,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child(&items.len().to_string()))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.child(&key))?;
            if object.contains_key(&key) {
                let mut first = self.duplicate.borrow_mut();
                if first.is_none() {
                    *first = Some((self.path.clone(), key.clone()));
                }
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
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
