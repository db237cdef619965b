//! Plain-text alerts: `key=value` (or `key: value`) lines, mapped onto the same
//! fields as JSON alerts, for senders whose alert message is not JSON.

use neo_domain::Timestamp;
use serde_json::{Map, Value};

use super::error::IntakeError;
use super::fields::{credentials, is_passphrase_key, read_fields};
use super::json::{REDACTED, json_document};
use super::passphrase::Secret;
use super::raw::RawAlert;

/// Reads a plain-text alert: one `key=value` or `key: value` per line (split at
/// the first `=` or `:`, so `ticker=BINANCE:BTCUSDT` works), keys compared
/// case-insensitively, values trimmed and optionally quoted; blank lines and
/// lines starting with `#` ignored. A key given twice is 400 `duplicate_key`; a
/// line without a separator or with an empty key is 400 `bad_line`, naming the
/// line. `original` is the text with the passphrase's
/// value replaced by `***`.
pub fn parse_plain_text(body: &str, received_at: Timestamp) -> Result<RawAlert, IntakeError> {
    text_document(body)?.into_alert(received_at)
}

/// The `key=value` lines as fields, before any is validated.
fn text_document(body: &str) -> Result<AlertDocument, IntakeError> {
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    let mut map = Map::new();
    let mut original = Vec::new();
    for (index, line) in body.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            original.push(line.to_owned());
            continue;
        }
        let split = trimmed
            .find(['=', ':'])
            .ok_or(IntakeError::BadLine { line: index + 1 })?;
        let key = trimmed[..split].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(IntakeError::BadLine { line: index + 1 });
        }
        let value = unquote(trimmed[split + 1..].trim());
        if is_passphrase_key(&key) {
            original.push(format!("{}{REDACTED}", &trimmed[..=split]));
        } else {
            original.push(line.to_owned());
        }
        if map.contains_key(&key) {
            return Err(IntakeError::DuplicateKey {
                path: String::new(),
                key,
            });
        }
        map.insert(key, Value::from(value));
    }
    Ok(AlertDocument {
        map,
        original: Value::from(original.join("\n")),
    })
}

/// `"a b"` or `'a b'` -> `a b`; anything else as written.
fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Reads an alert whatever its content type says: TradingView sends
/// `text/plain` for every message that is not valid JSON, and `application/json`
/// otherwise, so the body decides. A body whose first non-blank character is
/// `{` or `[` is JSON, anything else plain text.
pub fn parse_alert(body: &[u8], received_at: Timestamp) -> Result<RawAlert, IntakeError> {
    read_document(body)?.into_alert(received_at)
}

/// An alert read as far as its syntax (JSON object or `key=value` lines): its
/// fields and the redacted copy kept for the record, none validated yet. The
/// server authenticates from here before it looks at any field's value.
#[derive(Debug, Clone)]
pub struct AlertDocument {
    pub(crate) map: Map<String, Value>,
    pub(crate) original: Value,
}

impl AlertDocument {
    /// The passphrase and strategy name the fields carry (not validated).
    pub fn credentials(&self) -> (Option<Secret>, Option<String>) {
        credentials(&self.map)
    }

    /// Reads and checks every field (422 listing every problem).
    pub fn into_alert(self, received_at: Timestamp) -> Result<RawAlert, IntakeError> {
        read_fields(self.map, self.original, received_at)
    }
}

/// [`parse_alert`]'s first half: the syntax only (400 for bad UTF-8, JSON or
/// lines, a repeated key; 422 for JSON that is not an object).
pub fn read_document(body: &[u8]) -> Result<AlertDocument, IntakeError> {
    let text = std::str::from_utf8(body).map_err(|_| IntakeError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with(['{', '[']) {
        json_document(text.as_bytes())
    } else {
        text_document(text)
    }
}

/// The passphrase and strategy of a body that is not well-formed, read
/// leniently (`"key": "value"` pairs anywhere, or `key=value` lines), so a
/// sender with the right passphrase and a typo in the JSON is told about the
/// typo, and anyone else only that it is not authenticated.
pub fn scan_credentials(body: &[u8]) -> (Option<Secret>, Option<String>) {
    let text = String::from_utf8_lossy(body);
    let mut map = Map::new();
    let mut keep = |key: &str, value: &str| {
        let key = key.trim().to_ascii_lowercase();
        if !map.contains_key(&key) {
            map.insert(key, Value::from(value.trim()));
        }
    };
    let strings = quoted_strings(&text);
    for pair in strings.windows(2) {
        let ((key, _, key_end), (value, value_start, _)) = (&pair[0], &pair[1]);
        if text
            .get(*key_end..*value_start)
            .is_some_and(|gap| gap.trim() == ":")
        {
            keep(key, value);
        }
    }
    for line in text.lines() {
        if let Some(split) = line.find(['=', ':']) {
            keep(&line[..split], unquote(line[split + 1..].trim()));
        }
    }
    credentials(&map)
}

/// Every `"..."` in `text` with the byte offsets of its opening quote and just
/// after its closing one (backslash escapes the next character).
fn quoted_strings(text: &str) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    let mut chars = text.char_indices();
    while let Some((start, c)) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => {
                    end = Some(i + 1);
                    break;
                }
                other => value.push(other),
            }
        }
        let Some(end) = end else { break };
        found.push((value, start, end));
    }
    found
}
