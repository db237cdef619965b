//! The field names alert templates use, and reading their values: one table of
//! aliases and one reader shared by the JSON and plain-text parsers, so both
//! accept exactly the same alerts.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use neo_domain::contracts::{Priority, SignalType};
use neo_domain::{Fixed, Price, Quantity, Side, Timestamp};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{IntakeError, Problem, ProblemKind, pointer};
use super::passphrase::Secret;
use super::raw::{MarketPosition, RawAlert};

/// A field NEO interprets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Ticker,
    Exchange,
    Side,
    Price,
    Quantity,
    MarketPosition,
    PositionSize,
    PrevMarketPosition,
    PrevPositionSize,
    Strategy,
    Interval,
    Time,
    SourceId,
    Comment,
    Passphrase,
    SignalType,
    Priority,
}

impl Field {
    /// The name used for the field in paths and metadata.
    const fn name(self) -> &'static str {
        match self {
            Field::Ticker => "ticker",
            Field::Exchange => "exchange",
            Field::Side => "side",
            Field::Price => "price",
            Field::Quantity => "quantity",
            Field::MarketPosition => "market_position",
            Field::PositionSize => "position_size",
            Field::PrevMarketPosition => "prev_market_position",
            Field::PrevPositionSize => "prev_market_position_size",
            Field::Strategy => "strategy",
            Field::Interval => "interval",
            Field::Time => "time",
            Field::SourceId => "source_id",
            Field::Comment => "comment",
            Field::Passphrase => "passphrase",
            Field::SignalType => "signal_type",
            Field::Priority => "priority",
        }
    }
}

/// Accepted keys (compared case-insensitively), best first within each field:
/// when a sender gives two aliases, the earlier one is used and the other kept
/// as metadata.
const ALIASES: &[(&str, Field)] = &[
    ("ticker", Field::Ticker),
    ("symbol", Field::Ticker),
    ("tickerid", Field::Ticker),
    ("syminfo.ticker", Field::Ticker),
    ("instrument", Field::Ticker),
    ("exchange", Field::Exchange),
    ("syminfo.prefix", Field::Exchange),
    ("action", Field::Side),
    ("side", Field::Side),
    ("strategy.order.action", Field::Side),
    ("order_action", Field::Side),
    ("direction", Field::Side),
    ("price", Field::Price),
    ("strategy.order.price", Field::Price),
    ("order_price", Field::Price),
    ("close", Field::Price),
    ("quantity", Field::Quantity),
    ("qty", Field::Quantity),
    ("contracts", Field::Quantity),
    ("strategy.order.contracts", Field::Quantity),
    ("size", Field::Quantity),
    ("market_position", Field::MarketPosition),
    ("strategy.market_position", Field::MarketPosition),
    ("position_size", Field::PositionSize),
    ("strategy.position_size", Field::PositionSize),
    ("market_position_size", Field::PositionSize),
    ("strategy.market_position_size", Field::PositionSize),
    ("prev_market_position", Field::PrevMarketPosition),
    ("strategy.prev_market_position", Field::PrevMarketPosition),
    ("prev_market_position_size", Field::PrevPositionSize),
    ("prev_position_size", Field::PrevPositionSize),
    (
        "strategy.prev_market_position_size",
        Field::PrevPositionSize,
    ),
    ("strategy", Field::Strategy),
    ("strategy_name", Field::Strategy),
    ("interval", Field::Interval),
    ("timeframe", Field::Interval),
    ("timenow", Field::Time),
    ("time", Field::Time),
    ("timestamp", Field::Time),
    // Only an explicit id is a key: Pine's `strategy.order.id` (and `order_id`)
    // is the order's *name* ("Long"), repeated on every trade; it stays metadata.
    ("id", Field::SourceId),
    ("alert_id", Field::SourceId),
    ("comment", Field::Comment),
    ("strategy.order.comment", Field::Comment),
    ("message", Field::Comment),
    ("strategy.order.alert_message", Field::Comment),
    ("passphrase", Field::Passphrase),
    ("secret", Field::Passphrase),
    ("password", Field::Passphrase),
    ("type", Field::SignalType),
    ("signal_type", Field::SignalType),
    ("priority", Field::Priority),
];

/// The field a key names, and its rank among that field's aliases.
fn lookup(key: &str) -> Option<(Field, usize)> {
    let key = key.trim();
    ALIASES
        .iter()
        .enumerate()
        .find(|(_, (alias, _))| alias.eq_ignore_ascii_case(key))
        .map(|(rank, (_, field))| (*field, rank))
}

/// True for keys that carry the passphrase: they are redacted from `original`.
pub(crate) fn is_passphrase_key(key: &str) -> bool {
    matches!(lookup(key), Some((Field::Passphrase, _)))
}

/// What TradingView leaves when it cannot expand a placeholder.
fn placeholder(text: &str) -> Option<&str> {
    let start = text.find("{{")?;
    let end = text[start..].find("}}")? + start + 2;
    Some(&text[start..end])
}

/// Reads the fields of an alert's top-level object; collects every problem.
pub(crate) fn read_fields(
    map: Map<String, Value>,
    original: Value,
    received_at: Timestamp,
) -> Result<RawAlert, IntakeError> {
    let mut alert = RawAlert::new(received_at);
    alert.original = original;
    let mut candidates: BTreeMap<Field, Vec<(usize, String, Value)>> = BTreeMap::new();
    for (key, value) in map {
        match lookup(&key) {
            Some((field, rank)) => candidates
                .entry(field)
                .or_default()
                .push((rank, key, value)),
            None => {
                alert.metadata.insert(key, value);
            }
        }
    }
    let mut problems = Vec::new();
    for (field, mut values) in candidates {
        values.sort_by_key(|(rank, _, _)| *rank);
        if field == Field::Passphrase {
            // Never echoed, never checked for placeholders, never kept.
            if let Some((_, key, value)) = values.into_iter().find(|(_, _, v)| !is_blank(v)) {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                alert.passphrase = Some(Secret::new(text));
                alert.keys.insert(field.name(), key);
            }
            continue;
        }
        let mut unexpanded = Vec::new();
        for (_, key, value) in &values {
            if let Value::String(s) = value
                && let Some(found) = placeholder(s)
            {
                unexpanded.push(key.clone());
                problems.push(Problem::new(
                    ProblemKind::UnexpandedPlaceholder,
                    pointer(key),
                    format!(
                        "{found} was not replaced by the sender: the placeholder is misspelled or not available for this alert"
                    ),
                ));
            }
        }
        if field == Field::Side {
            check_side_agreement(&values, &mut problems);
        } else if field.is_identity() {
            check_agreement(field, &values, &mut problems);
        }
        let mut chosen = false;
        for (_, key, value) in values {
            if chosen || is_blank(&value) {
                if !is_blank(&value) {
                    alert.metadata.insert(key, value);
                }
                continue;
            }
            chosen = true;
            let path = pointer(&key);
            // An unexpanded placeholder is already reported: no second problem for it.
            if !unexpanded.contains(&key)
                && let Err(problem) = apply(&mut alert, field, &value, &path)
            {
                problems.push(problem);
            }
            alert.keys.insert(field.name(), key);
        }
    }
    derive_positions(&mut alert);
    if problems.is_empty() {
        Ok(alert)
    } else {
        // Placeholders first: the likeliest cause, the one to fix first.
        problems.sort_by_key(|p| p.kind != ProblemKind::UnexpandedPlaceholder);
        Err(IntakeError::Invalid(problems))
    }
}

/// Absent, `null`, or only whitespace: treated as not given (TradingView expands
/// `{{strategy.order.comment}}` to nothing when there is no comment).
fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

impl Field {
    /// Fields whose aliases must agree when several are sent (`ticker` and
    /// `symbol`): they say what and whose the alert is. Others (`time` and
    /// `timenow`, `price` and `close`) legitimately differ, and the best-ranked
    /// alias wins.
    const fn is_identity(self) -> bool {
        matches!(
            self,
            Field::Ticker | Field::Exchange | Field::Strategy | Field::SourceId | Field::SignalType
        )
    }
}

/// Two aliases of an identity field with different values are refused rather
/// than one picked (`ticker` and `symbol` naming two instruments).
fn check_agreement(field: Field, values: &[(usize, String, Value)], problems: &mut Vec<Problem>) {
    let meaning = |v: &Value| -> Option<String> {
        let Value::String(s) = v else { return None };
        let s = s.trim();
        match field {
            // `BINANCE:BTCUSDT` and `BTCUSDT` name the same symbol.
            Field::Ticker => Some(s.rsplit(':').next().unwrap_or(s).to_ascii_uppercase()),
            Field::Exchange => Some(s.to_ascii_uppercase()),
            Field::SignalType => parse_signal_type(s).map(|t| t.to_string()),
            _ => Some(s.to_owned()),
        }
    };
    let given: Vec<(&str, String)> = values
        .iter()
        .filter(|(_, _, v)| !is_blank(v))
        .filter_map(|(_, key, v)| meaning(v).map(|m| (key.as_str(), m)))
        .collect();
    if let Some((first_key, first)) = given.first()
        && let Some((other_key, other)) = given.iter().find(|(_, m)| m != first)
    {
        problems.push(Problem::new(
            ProblemKind::ConflictingFields,
            pointer(other_key),
            format!(
                "says {other:?} but {first_key} says {first:?}: send one {}",
                field.name()
            ),
        ));
    }
}

/// The passphrase and the strategy name an alert's fields carry, read before
/// anything is validated: authentication comes first, so an unauthenticated
/// body is told nothing about its content.
pub(crate) fn credentials(map: &Map<String, Value>) -> (Option<Secret>, Option<String>) {
    let best = |wanted: Field| {
        map.iter()
            .filter_map(|(key, value)| match lookup(key) {
                Some((field, rank)) if field == wanted && !is_blank(value) => Some((rank, value)),
                _ => None,
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, value)| value)
    };
    let passphrase = best(Field::Passphrase).map(|v| match v {
        Value::String(s) => Secret::new(s.clone()),
        other => Secret::new(other.to_string()),
    });
    let strategy = best(Field::Strategy)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned());
    (passphrase, strategy)
}

/// `action: buy` with `side: sell` is refused rather than guessed.
fn check_side_agreement(values: &[(usize, String, Value)], problems: &mut Vec<Problem>) {
    let sides: Vec<(&str, Side)> = values
        .iter()
        .filter_map(|(_, key, v)| match v {
            Value::String(s) => parse_action(s)
                .ok()
                .and_then(|(side, _)| side)
                .map(|side| (key.as_str(), side)),
            _ => None,
        })
        .collect();
    if let Some((first_key, first)) = sides.first()
        && let Some((other_key, other)) = sides.iter().find(|(_, s)| s != first)
    {
        problems.push(Problem::new(
            ProblemKind::ConflictingFields,
            pointer(other_key),
            format!("says {other} but {first_key} says {first}: send one side"),
        ));
    }
}

fn apply(alert: &mut RawAlert, field: Field, value: &Value, path: &str) -> Result<(), Problem> {
    match field {
        Field::Ticker => alert.ticker = Some(text(value, path)?),
        Field::Exchange => alert.exchange = Some(text(value, path)?),
        Field::Side => {
            let word = text(value, path)?;
            let (side, kind) =
                parse_action(&word).map_err(|accepted| bad_value(path, &word, accepted))?;
            alert.side = side;
            alert.action_type = kind;
        }
        Field::Price => alert.price = Some(decimal::<Price>(value, path)?),
        Field::Quantity => alert.quantity = Some(decimal::<Quantity>(value, path)?),
        Field::MarketPosition => alert.market_position = Some(market_position(value, path)?),
        Field::PositionSize => alert.position_size = Some(decimal::<Fixed>(value, path)?),
        Field::PrevMarketPosition => {
            alert.prev_market_position = Some(market_position(value, path)?);
        }
        Field::PrevPositionSize => alert.prev_position_size = Some(decimal::<Fixed>(value, path)?),
        Field::Strategy => alert.strategy = Some(text(value, path)?),
        Field::Interval => alert.interval = Some(interval(value, path)?),
        Field::Time => alert.time = Some(time(value, path)?),
        Field::SourceId => alert.source_id = Some(text(value, path)?),
        Field::Comment => alert.comment = Some(text(value, path)?),
        Field::SignalType => {
            let word = text(value, path)?;
            alert.signal_type = Some(
                parse_signal_type(&word)
                    .ok_or_else(|| bad_value(path, &word, "entry, exit, reverse or alert"))?,
            );
        }
        Field::Priority => {
            let word = text(value, path)?;
            alert.priority = Some(
                word.to_ascii_lowercase()
                    .parse::<Priority>()
                    .map_err(|_| bad_value(path, &word, "high, normal or low"))?,
            );
        }
        // Handled before: it never reaches here.
        Field::Passphrase => {}
    }
    Ok(())
}

/// Keeps the position fields as metadata (normalized) and fills a missing
/// position from the sign of its size.
fn derive_positions(alert: &mut RawAlert) {
    if alert.market_position.is_none() {
        alert.market_position = alert.position_size.map(MarketPosition::from_size);
    }
    if alert.prev_market_position.is_none() {
        alert.prev_market_position = alert.prev_position_size.map(MarketPosition::from_size);
    }
    let words = [
        (Field::MarketPosition, alert.market_position),
        (Field::PrevMarketPosition, alert.prev_market_position),
    ];
    for (field, position) in words {
        if let Some(p) = position {
            alert
                .metadata
                .insert(field.name().to_owned(), Value::from(p.as_str()));
        }
    }
    let sizes = [
        (Field::PositionSize, alert.position_size),
        (Field::PrevPositionSize, alert.prev_position_size),
    ];
    for (field, size) in sizes {
        if let Some(s) = size {
            alert
                .metadata
                .insert(field.name().to_owned(), Value::from(s.to_string()));
        }
    }
}

fn bad_value(path: &str, word: &str, accepted: &str) -> Problem {
    let shown: String = word.chars().take(64).collect();
    Problem::new(
        ProblemKind::BadValue,
        path,
        format!("{shown:?} is not one of: {accepted}"),
    )
}

/// A text field: a string, trimmed. Anything else is refused, not coerced (a
/// number where a ticker belongs is a broken template, not a ticker).
fn text(value: &Value, path: &str) -> Result<String, Problem> {
    match value {
        Value::String(s) => Ok(s.trim().to_owned()),
        other => Err(Problem::new(
            ProblemKind::BadValue,
            path,
            format!("must be a string, not {}", super::json::kind_of(other)),
        )),
    }
}

/// The interval: text, or a whole number of minutes (TradingView's `{{interval}}`
/// unquoted is `15`).
fn interval(value: &Value, path: &str) -> Result<String, Problem> {
    match value {
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
        other => text(other, path),
    }
}

/// An exact decimal from a string or a JSON number.
fn decimal<T>(value: &Value, path: &str) -> Result<T, Problem>
where
    T: FromStr + DeserializeOwned,
    T::Err: Display,
{
    let bad = |message: String| Problem::new(ProblemKind::BadNumber, path, message);
    match value {
        Value::String(s) => s.trim().parse::<T>().map_err(|e| bad(e.to_string())),
        Value::Number(_) => {
            serde_json::from_value::<T>(value.clone()).map_err(|e| bad(e.to_string()))
        }
        _ => Err(bad("must be a number or a string holding one".to_owned())),
    }
}

/// Unix times at or above this magnitude are milliseconds (as seconds they would be after the year 5000).
const MILLIS_THRESHOLD: i128 = 100_000_000_000;

/// RFC 3339, or unix seconds or milliseconds (number or numeric string, fractions allowed).
fn time(value: &Value, path: &str) -> Result<Timestamp, Problem> {
    let bad = |message: String| Problem::new(ProblemKind::BadTime, path, message);
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => {
            return Err(bad(
                "must be RFC 3339 text or unix seconds or milliseconds".to_owned()
            ));
        }
    };
    let Ok(units) = text.parse::<Fixed>() else {
        return Timestamp::parse_rfc3339(&text).map_err(|_| {
            bad(format!(
                "{:?} is neither RFC 3339 (2026-11-21T21:09:03Z) nor unix seconds or milliseconds",
                text.chars().take(64).collect::<String>()
            ))
        });
    };
    // Fixed keeps 10^-9 units: read as seconds, the raw value is nanoseconds.
    let raw = units.raw();
    let nanos = if (raw / 1_000_000_000).abs() >= MILLIS_THRESHOLD {
        raw / 1_000
    } else {
        raw
    };
    i64::try_from(nanos)
        .map(Timestamp::from_nanos)
        .map_err(|_| bad(format!("unix time {text} is out of range")))
}

fn market_position(value: &Value, path: &str) -> Result<MarketPosition, Problem> {
    let word = text(value, path)?;
    match word.to_ascii_lowercase().as_str() {
        "long" => Ok(MarketPosition::Long),
        "short" => Ok(MarketPosition::Short),
        "flat" | "none" => Ok(MarketPosition::Flat),
        _ => Err(bad_value(path, &word, "long, short or flat")),
    }
}

/// What an action word means: a side, a signal type, or both.
pub(crate) fn parse_action(word: &str) -> Result<(Option<Side>, Option<SignalType>), &'static str> {
    let word = word.trim().to_ascii_lowercase().replace([' ', '-'], "_");
    let meaning = match word.as_str() {
        "buy" | "long" => (Some(Side::Buy), None),
        "sell" | "short" => (Some(Side::Sell), None),
        "exit_long" | "close_long" => (Some(Side::Sell), Some(SignalType::Exit)),
        "exit_short" | "close_short" | "cover" => (Some(Side::Buy), Some(SignalType::Exit)),
        "exit" | "close" | "flat" | "close_all" => (None, Some(SignalType::Exit)),
        "alert" | "info" | "none" => (None, Some(SignalType::Alert)),
        _ => {
            return Err(
                "buy, sell, long, short, exit_long, exit_short, exit, close, flat or alert",
            );
        }
    };
    Ok(meaning)
}

fn parse_signal_type(word: &str) -> Option<SignalType> {
    match word.trim().to_ascii_lowercase().as_str() {
        "entry" | "enter" | "open" => Some(SignalType::Entry),
        "exit" | "close" => Some(SignalType::Exit),
        "reverse" | "reversal" => Some(SignalType::Reverse),
        "alert" | "info" => Some(SignalType::Alert),
        _ => None,
    }
}
