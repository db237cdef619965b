//! The schema registry: every v1 contract's JSON Schema, generated from the Rust
//! type (the checked-in `schemas/v1/*.schema.json` must equal it), and
//! validation that reports every problem with its JSON path.

mod compat;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

pub use compat::breaking_changes;

use crate::contracts::{
    AgentOutputV1, AltEventV1, AuditEventV1, CandleV1, Contract, FillV1, Issue, LlmVerdictV1,
    NotificationV1, OrderIntentV1, OrderV1, PositionV1, SignalEventV1, TickV1, TradeV1,
    TradingCommandV1,
};
use crate::{Envelope, SubjectPattern};

/// Name of the envelope schema; its payload is validated against the type it names.
pub const ENVELOPE: &str = "EnvelopeV1";

/// One registered contract.
pub struct SchemaEntry {
    /// Registry and file name (`SignalEventV1` -> `SignalEventV1.schema.json`).
    pub name: &'static str,
    /// One line on what the message is for.
    pub about: &'static str,
    /// The subjects it is published on.
    pub subjects: &'static str,
    generate: fn() -> Value,
    check: fn(&Value) -> Vec<Issue>,
    roundtrip: fn(&Value) -> Result<Value, Issue>,
}

fn generate<T: JsonSchema>() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.to_value()
}

/// Deserializes into `T`, locating a failure by JSON pointer.
fn decode<'a, T: serde::Deserialize<'a>>(value: &'a Value) -> Result<T, Issue> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => Some(format!("/{}", escape(key))),
                serde_path_to_error::Segment::Enum { .. }
                | serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        Issue::new(pointer, e.into_inner().to_string())
    })
}

/// JSON pointer escaping of one key.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Through the Rust type and back: what a stage would re-emit.
fn roundtrip_typed<T: Contract>(value: &Value) -> Result<Value, Issue> {
    let typed: T = decode(value)?;
    serde_json::to_value(&typed).map_err(|e| Issue::new("", e.to_string()))
}

/// The envelope through its own type, and its payload through the type it names.
fn roundtrip_envelope(value: &Value) -> Result<Value, Issue> {
    let envelope: Envelope<Value> = decode(value)?;
    let entry = find(&envelope.message_type)
        .filter(|e| e.name != ENVELOPE)
        .ok_or_else(|| Issue::new("/type", "unknown type"))?;
    let envelope = envelope.try_map_payload(|p| {
        (entry.roundtrip)(&p).map_err(|i| Issue::new(format!("/payload{}", i.path), i.problem))
    })?;
    serde_json::to_value(&envelope).map_err(|e| Issue::new("", e.to_string()))
}

/// Deserializes into `T` and runs its checks; called only on schema-valid JSON.
fn check_typed<T: Contract>(value: &Value) -> Vec<Issue> {
    match decode::<T>(value) {
        Ok(typed) => typed.check(),
        Err(issue) => vec![issue],
    }
}

macro_rules! entry {
    ($ty:ty, $about:literal, $subjects:literal) => {
        SchemaEntry {
            name: <$ty as Contract>::TYPE_NAME,
            about: $about,
            subjects: $subjects,
            generate: generate::<$ty>,
            check: check_typed::<$ty>,
            roundtrip: roundtrip_typed::<$ty>,
        }
    };
}

static REGISTRY: &[SchemaEntry] = &[
    entry!(
        SignalEventV1,
        "A normalized trading signal (webhook, strategy or API).",
        "signals.normalized.>"
    ),
    entry!(
        AgentOutputV1,
        "An agent's analysis of a signal.",
        "decisions.agent_output.>"
    ),
    entry!(
        OrderIntentV1,
        "A sized, bracketed, risk-approved order to place.",
        "outputs.execution.paper"
    ),
    entry!(TickV1, "A trade or quote update.", "market.ticks.*.*"),
    entry!(
        TradeV1,
        "A trade as a venue reported it.",
        "market.trades.*.*"
    ),
    entry!(CandleV1, "An OHLCV bar.", "market.candles.*.*"),
    entry!(
        AltEventV1,
        "Alternative data (news, funding rates, on-chain figures) with its source and time.",
        "alt.*.*"
    ),
    entry!(
        OrderV1,
        "An order and its lifecycle state.",
        "execution.orders.*"
    ),
    entry!(
        FillV1,
        "An execution of (part of) an order.",
        "execution.fills.*"
    ),
    entry!(
        PositionV1,
        "A net position with its PnL.",
        "execution.positions.*"
    ),
    entry!(
        NotificationV1,
        "A message for people on a channel.",
        "outputs.notification.*"
    ),
    entry!(AuditEventV1, "An audited action.", "audit.events"),
    entry!(
        TradingCommandV1,
        "An operator's halt, resume or flatten, applied by the desk.",
        "signals.operator.trading"
    ),
    entry!(
        LlmVerdictV1,
        "A language model's answer about a signal: a proposal, checked before the LLM agent's AgentOutputV1 is made from it.",
        "decisions.agent_output.llm.*"
    ),
    SchemaEntry {
        name: ENVELOPE,
        about: "The envelope around every message; its payload is checked against its type.",
        subjects: ">",
        generate: generate::<Envelope<Value>>,
        check: check_envelope,
        roundtrip: roundtrip_envelope,
    },
];

/// Every registered contract, envelope last.
pub fn registry() -> &'static [SchemaEntry] {
    REGISTRY
}

/// The entry named `name` (exact, as listed by [`registry`]).
pub fn find(name: &str) -> Option<&'static SchemaEntry> {
    REGISTRY.iter().find(|e| e.name == name)
}

/// A schema that does not compile: a bug in NEO, never the input's fault.
#[derive(Debug, thiserror::Error)]
#[error("schema {name} does not compile: {message}")]
pub struct SchemaBug {
    /// The contract.
    pub name: &'static str,
    /// The compiler's words.
    pub message: String,
}

type Compiled = BTreeMap<&'static str, Result<jsonschema::Validator, String>>;

fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        REGISTRY
            .iter()
            .map(|e| {
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&e.schema())
                    .map_err(|err| err.to_string());
                (e.name, validator)
            })
            .collect()
    })
}

impl SchemaEntry {
    /// The JSON Schema (draft 2020-12).
    pub fn schema(&self) -> Value {
        (self.generate)()
    }

    /// The schema as written to `schemas/v1/<name>.schema.json`.
    pub fn render(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.schema()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// File name under `schemas/v1/`.
    pub fn file_name(&self) -> String {
        format!("{}.schema.json", self.name)
    }

    /// The document decoded into its Rust type and encoded again; a valid
    /// document in canonical form comes back unchanged.
    pub fn roundtrip(&self, instance: &Value) -> Result<Value, Issue> {
        (self.roundtrip)(instance)
    }

    /// Every problem with `instance`: schema violations first; when there are
    /// none, the rules beyond the schema. Empty means valid.
    pub fn validate(&self, instance: &Value) -> Result<Vec<Issue>, SchemaBug> {
        let validator = match compiled().get(self.name) {
            Some(Ok(v)) => v,
            Some(Err(message)) => {
                return Err(SchemaBug {
                    name: self.name,
                    message: message.clone(),
                });
            }
            None => {
                return Err(SchemaBug {
                    name: self.name,
                    message: "not compiled".into(),
                });
            }
        };
        let mut issues: Vec<Issue> = validator
            .iter_errors(instance)
            .map(|e| {
                let mut path = e.instance_path().as_str().to_owned();
                // A missing field is reported where the field belongs, not at its parent.
                if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
                    && let Some(name) = property.as_str()
                {
                    path = format!("{path}/{}", escape(name));
                }
                Issue::new(path, e.to_string())
            })
            .collect();
        if issues.is_empty() {
            issues = (self.check)(instance);
        }
        Ok(issues)
    }
}

/// The envelope's own rules: a known payload type and version, a subject of that
/// type's family (or a dead-letter subject), and a valid payload.
fn check_envelope(value: &Value) -> Vec<Issue> {
    let envelope: Envelope<Value> = match decode(value) {
        Ok(e) => e,
        Err(issue) => return vec![issue],
    };
    let Some(entry) = find(&envelope.message_type).filter(|e| e.name != ENVELOPE) else {
        let known: Vec<&str> = REGISTRY
            .iter()
            .map(|e| e.name)
            .filter(|n| *n != ENVELOPE)
            .collect();
        return vec![Issue::new(
            "/type",
            format!(
                "unknown type {:?}; known: {}",
                envelope.message_type,
                known.join(", ")
            ),
        )];
    };
    let mut issues = Vec::new();
    if envelope.schema_version != 1 {
        issues.push(Issue::new(
            "/schema_version",
            format!(
                "{} is version 1, not {}",
                entry.name, envelope.schema_version
            ),
        ));
    }
    let family_ok = [entry.subjects, "dlq.>"]
        .iter()
        .filter_map(|p| SubjectPattern::new(p).ok())
        .any(|p| p.matches(&envelope.subject));
    if !family_ok {
        issues.push(Issue::new(
            "/subject",
            format!(
                "a {} is published on {}, not {}",
                entry.name, entry.subjects, envelope.subject
            ),
        ));
    }
    match entry.validate(&envelope.payload) {
        Ok(payload_issues) => issues.extend(
            payload_issues
                .into_iter()
                .map(|i| Issue::new(format!("/payload{}", i.path), i.problem)),
        ),
        Err(bug) => issues.push(Issue::new("/payload", bug.to_string())),
    }
    issues
}

#[cfg(test)]
mod tests;
