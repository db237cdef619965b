//! Plain-text alerts: `key=value` (or `key: value`) lines, mapped onto the same
//! fields as JSON alerts, for senders whose alert message is not JSON.

use neo_domain::Timestamp;
use serde_json::{Map, Value};

use super::error::IntakeError;
use super::fields::{is_passphrase_key, read_fields};
use super::json::{REDACTED, parse_tradingview_json};
use super::raw::RawAlert;

/// Reads a plain-text alert: one `key=value` or `key: value` per line (split at
/// the first `=` or `:`, so `ticker=BINANCE:BTCUSDT` works), keys compared
/// case-insensitively, values trimmed and optionally quoted; blank lines and
/// lines starting with `#` ignored. A later line with the same key replaces an
/// earlier one. A line without a separator or with an empty key is 400
/// `bad_line`, naming the line. `original` is the text with the passphrase's
/// value replaced by `***`.
pub fn parse_plain_text(body: &str, received_at: Timestamp) -> Result<RawAlert, IntakeError> {
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
        map.insert(key, Value::from(value));
    }
    read_fields(map, Value::from(original.join("\n")), received_at)
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
    let text = std::str::from_utf8(body).map_err(|_| IntakeError::NotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with(['{', '[']) {
        parse_tradingview_json(text.as_bytes(), received_at)
    } else {
        parse_plain_text(text, received_at)
    }
}
