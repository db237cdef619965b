//! The subject taxonomy (SPEC.md section 2): every subject NEO publishes is
//! built here, and every subscription pattern too, so the names live in one place.
//!
//! ```text
//! signals.normalized.{priority}.{instrument}.{type}
//! intents.agent_run.{agent}
//! decisions.agent_output.{agent}.{severity}
//! outputs.notification.{channel}
//! outputs.execution.paper
//! audit.events
//! market.ticks.{venue}.{instrument} / market.trades.{venue}.{instrument}
//! market.candles.{venue}.{instrument}            (the payload names the interval)
//! alt.{source}.{kind}
//! execution.orders.{instrument} / execution.fills.{instrument} / execution.positions.{instrument}
//! dlq.{original_subject}
//! ```

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

use crate::InstrumentId;
use crate::contracts::{Channel, Priority, Severity, SignalType};

/// Longest subject NEO builds or accepts (JetStream's practical limit is far larger).
pub const MAX_SUBJECT_LEN: usize = 512;

/// Why a text is not a subject or pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// A token is empty, or contains whitespace, `.`, or a wildcard where none is allowed.
    #[error("invalid subject token {0:?}")]
    InvalidToken(String),
    /// Longer than [`MAX_SUBJECT_LEN`].
    #[error("subject longer than {MAX_SUBJECT_LEN} bytes")]
    TooLong,
    /// `>` anywhere but the last token.
    #[error("'>' must be the last token of a pattern")]
    MisplacedTail,
}

/// A concrete subject (no wildcards): where a message is published.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Subject(String);

/// A subscription pattern with NATS wildcards: `*` one token, `>` the rest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SubjectPattern(String);

/// A token as a subject token: non-empty, no whitespace, no `.`, `*` or `>`.
fn check_token(token: &str) -> Result<(), SubjectError> {
    let bad = token.is_empty()
        || token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>'));
    if bad {
        Err(SubjectError::InvalidToken(token.chars().take(64).collect()))
    } else {
        Ok(())
    }
}

impl Subject {
    /// Parses a concrete subject.
    pub fn new(text: &str) -> Result<Self, SubjectError> {
        if text.len() > MAX_SUBJECT_LEN {
            return Err(SubjectError::TooLong);
        }
        text.split('.').try_for_each(check_token)?;
        Ok(Subject(text.to_owned()))
    }

    /// Joins tokens, checking each.
    fn from_tokens(tokens: &[&str]) -> Result<Self, SubjectError> {
        tokens.iter().try_for_each(|t| check_token(t))?;
        let text = tokens.join(".");
        if text.len() > MAX_SUBJECT_LEN {
            return Err(SubjectError::TooLong);
        }
        Ok(Subject(text))
    }

    /// The subject text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The tokens.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }
}

impl SubjectPattern {
    /// Parses a pattern: tokens, `*`, or a final `>`.
    pub fn new(text: &str) -> Result<Self, SubjectError> {
        if text.len() > MAX_SUBJECT_LEN {
            return Err(SubjectError::TooLong);
        }
        let tokens: Vec<&str> = text.split('.').collect();
        for (i, token) in tokens.iter().enumerate() {
            match *token {
                "*" => {}
                ">" if i + 1 == tokens.len() => {}
                ">" => return Err(SubjectError::MisplacedTail),
                other => check_token(other)?,
            }
        }
        Ok(SubjectPattern(text.to_owned()))
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// NATS matching: `*` matches exactly one token, a final `>` one or more.
    pub fn matches(&self, subject: &Subject) -> bool {
        let mut subject_tokens = subject.tokens();
        for pattern_token in self.0.split('.') {
            match (pattern_token, subject_tokens.next()) {
                (">", Some(_)) => return true,
                ("*", Some(_)) => {}
                (p, Some(s)) if p == s => {}
                _ => return false,
            }
        }
        subject_tokens.next().is_none()
    }
}

impl From<Subject> for SubjectPattern {
    fn from(subject: Subject) -> Self {
        SubjectPattern(subject.0)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for SubjectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        Subject::new(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Subject {
    fn schema_name() -> Cow<'static, str> {
        "Subject".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Concrete bus subject: dot-separated tokens without wildcards.",
            "type": "string",
            "pattern": "^[^.*>\\s]+(\\.[^.*>\\s]+)*$",
            "maxLength": MAX_SUBJECT_LEN,
        })
    }
}

/// `signals.normalized.{priority}.{instrument}.{type}`
pub fn signal_normalized(
    priority: Priority,
    instrument: InstrumentId,
    kind: SignalType,
) -> Subject {
    Subject(format!("signals.normalized.{priority}.{instrument}.{kind}"))
}

/// `intents.agent_run.{agent}`: asks an agent to analyse a signal.
pub fn agent_run(agent: &str) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["intents", "agent_run", agent])
}

/// `decisions.agent_output.{agent}.{severity}`
pub fn agent_output(agent: &str, severity: Severity) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["decisions", "agent_output", agent, severity.as_str()])
}

/// `outputs.notification.{channel}`
pub fn notification(channel: Channel) -> Subject {
    Subject(format!("outputs.notification.{channel}"))
}

/// `outputs.execution.paper`: risk-approved order intents for the paper OMS.
pub fn execution_paper() -> Subject {
    Subject("outputs.execution.paper".to_owned())
}

/// `audit.events`
pub fn audit_events() -> Subject {
    Subject("audit.events".to_owned())
}

/// `market.ticks.{venue}.{instrument}`: quotes and trade prices (`sim` for the simulation).
pub fn market_ticks(venue: &str, instrument: InstrumentId) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["market", "ticks", venue, instrument.as_str()])
}

/// `market.trades.{venue}.{instrument}`: each trade as the venue reported it.
pub fn market_trades(venue: &str, instrument: InstrumentId) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["market", "trades", venue, instrument.as_str()])
}

/// `market.candles.{venue}.{instrument}`: closed candles (the payload names the interval).
pub fn market_candles(venue: &str, instrument: InstrumentId) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["market", "candles", venue, instrument.as_str()])
}

/// `alt.{source}.{kind}`: alternative data (news, funding rates, on-chain figures).
pub fn alt(source: &str, kind: &str) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["alt", source, kind])
}

/// `execution.orders.{instrument}`: order state changes.
pub fn execution_orders(instrument: InstrumentId) -> Subject {
    Subject(format!("execution.orders.{instrument}"))
}

/// `execution.fills.{instrument}`
pub fn execution_fills(instrument: InstrumentId) -> Subject {
    Subject(format!("execution.fills.{instrument}"))
}

/// `execution.positions.{instrument}`
pub fn execution_positions(instrument: InstrumentId) -> Subject {
    Subject(format!("execution.positions.{instrument}"))
}

/// `dlq.{original}`: where a message that cannot be handled goes, under its own subject.
pub fn dlq(original: &Subject) -> Result<Subject, SubjectError> {
    if original.0.len() + 4 > MAX_SUBJECT_LEN {
        return Err(SubjectError::TooLong);
    }
    Ok(Subject(format!("dlq.{original}")))
}

/// Where operator trading commands go (halt, resume, flatten), for the desk.
pub fn operator_trading() -> Subject {
    Subject("signals.operator.trading".to_owned())
}

/// Subscription patterns for each family, e.g. what the analyst or the DLQ stream listens to.
pub mod patterns {
    use super::SubjectPattern;

    fn fixed(text: &str) -> SubjectPattern {
        SubjectPattern(text.to_owned())
    }

    /// Every normalized signal.
    pub fn signals() -> SubjectPattern {
        fixed("signals.normalized.>")
    }
    /// What the desk takes: every normalized signal and every operator command.
    pub fn desk_inputs() -> SubjectPattern {
        fixed("signals.>")
    }
    /// Every agent run request.
    pub fn agent_runs() -> SubjectPattern {
        fixed("intents.agent_run.*")
    }
    /// Every agent output.
    pub fn agent_outputs() -> SubjectPattern {
        fixed("decisions.agent_output.>")
    }
    /// Every notification.
    pub fn notifications() -> SubjectPattern {
        fixed("outputs.notification.*")
    }
    /// Every market data message.
    pub fn market() -> SubjectPattern {
        fixed("market.>")
    }
    /// Every venue's quotes and prices (what a desk follows).
    pub fn market_ticks() -> SubjectPattern {
        fixed("market.ticks.>")
    }
    /// Every venue's closed candles (what a desk's indicators take).
    pub fn market_candles() -> SubjectPattern {
        fixed("market.candles.>")
    }
    /// Every alternative-data event.
    pub fn alt() -> SubjectPattern {
        fixed("alt.>")
    }
    /// Every execution event.
    pub fn execution() -> SubjectPattern {
        fixed("execution.>")
    }
    /// Every dead letter.
    pub fn dlq() -> SubjectPattern {
        fixed("dlq.>")
    }
}

#[cfg(test)]
mod tests;
