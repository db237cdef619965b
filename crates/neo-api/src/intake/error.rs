//! One error type for everything intake refuses, carrying what the server needs
//! to answer: an HTTP status, a stable machine-readable code, and every problem
//! located by JSON pointer.

use neo_domain::{Issue, Timestamp};

/// What kind of content problem one [`Problem`] is; it becomes the error `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// The top level of a JSON alert is not an object.
    NotAnObject,
    /// A field the signal needs is absent (the ticker).
    MissingField,
    /// A number field holds something that is not an exact decimal.
    BadNumber,
    /// A field holds a value outside what it accepts (an unknown action, a list).
    BadValue,
    /// A time field is neither RFC 3339 nor unix seconds or milliseconds.
    BadTime,
    /// A TradingView `{{placeholder}}` reached NEO unexpanded.
    UnexpandedPlaceholder,
    /// The ticker does not resolve to a canonical instrument.
    UnknownInstrument,
    /// Two fields disagree (`action: buy` with `side: sell`).
    ConflictingFields,
    /// The normalized signal breaks a SignalEventV1 rule.
    ContractViolation,
}

impl ProblemKind {
    /// The stable code clients match on.
    pub const fn code(self) -> &'static str {
        match self {
            ProblemKind::NotAnObject => "not_an_object",
            ProblemKind::MissingField => "missing_field",
            ProblemKind::BadNumber => "bad_number",
            ProblemKind::BadValue => "bad_value",
            ProblemKind::BadTime => "bad_time",
            ProblemKind::UnexpandedPlaceholder => "unexpanded_placeholder",
            ProblemKind::UnknownInstrument => "unknown_instrument",
            ProblemKind::ConflictingFields => "conflicting_fields",
            ProblemKind::ContractViolation => "contract_violation",
        }
    }
}

/// One problem with an alert's content, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The class of problem (the error code).
    pub kind: ProblemKind,
    /// Where (JSON pointer to the field as the sender named it) and what.
    pub issue: Issue,
}

impl Problem {
    /// A problem of `kind` at `path`.
    pub fn new(kind: ProblemKind, path: impl Into<String>, problem: impl Into<String>) -> Self {
        Problem {
            kind,
            issue: Issue::new(path, problem),
        }
    }
}

/// Why an alert was refused. Never a server fault: every variant is the sender's to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The body is not UTF-8 text.
    #[error("the body is not UTF-8 text")]
    NotUtf8,
    /// The body is not JSON.
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    /// The same key twice in one object (or one text alert): which one was meant
    /// is not guessed.
    #[error("the key {key:?} appears twice in the object at {path:?}: send it once")]
    DuplicateKey {
        /// The JSON pointer of the object.
        path: String,
        /// The repeated key.
        key: String,
    },
    /// A plain-text alert line is not `key=value` or `key: value`.
    #[error("line {line} is not `key=value` or `key: value`")]
    BadLine {
        /// 1-based line number.
        line: usize,
    },
    /// The content is readable but not a signal NEO can accept; every problem is listed.
    #[error("{}", summary(.0))]
    Invalid(Vec<Problem>),
    /// The alert's own time is older than the freshness window allows.
    #[error(
        "the alert is from {ts_event}, more than {window_secs} s before it arrived at {received_at}"
    )]
    StaleAlert {
        /// The alert's time.
        ts_event: Timestamp,
        /// When NEO received it.
        received_at: Timestamp,
        /// The window, in seconds.
        window_secs: u64,
    },
    /// The alert's own time is further in the future than the freshness window allows.
    #[error(
        "the alert is dated {ts_event}, more than {window_secs} s after it arrived at {received_at}: check the sender's clock"
    )]
    FutureAlert {
        /// The alert's time.
        ts_event: Timestamp,
        /// When NEO received it.
        received_at: Timestamp,
        /// The window, in seconds.
        window_secs: u64,
    },
    /// No passphrase in an alert that needs one.
    #[error("the alert has no passphrase")]
    MissingPassphrase,
    /// The passphrase does not match (or none is configured to match).
    #[error("the passphrase is not correct")]
    BadPassphrase,
    /// No signature header on a request that needs one.
    #[error("the request has no X-Neo-Signature header")]
    MissingSignature,
    /// The signature header is not `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`.
    #[error("malformed X-Neo-Signature header: {0}")]
    MalformedSignature(String),
    /// No `v1` signature matches the body under any configured secret.
    #[error("no signature matches the body")]
    BadSignature,
    /// The signature's timestamp is outside the tolerance (a replay or a wrong clock).
    #[error("the signature timestamp {t} is more than {tolerance_secs} s from now ({now_secs})")]
    SignatureExpired {
        /// The header's `t`.
        t: i64,
        /// The verifier's time, unix seconds.
        now_secs: i64,
        /// The tolerance, seconds.
        tolerance_secs: u64,
    },
}

fn summary(problems: &[Problem]) -> String {
    match problems {
        [] => "the alert is not valid".to_owned(),
        [one] => format!("invalid alert: {}", one.issue),
        [first, rest @ ..] => format!(
            "invalid alert: {} (and {} more problem{})",
            first.issue,
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

impl IntakeError {
    /// The HTTP status to answer with: 400 unreadable, 401 not authenticated, 422 invalid content.
    pub fn status(&self) -> u16 {
        match self {
            IntakeError::NotUtf8
            | IntakeError::InvalidJson(_)
            | IntakeError::DuplicateKey { .. }
            | IntakeError::BadLine { .. } => 400,
            IntakeError::MissingPassphrase
            | IntakeError::BadPassphrase
            | IntakeError::MissingSignature
            | IntakeError::MalformedSignature(_)
            | IntakeError::BadSignature
            | IntakeError::SignatureExpired { .. } => 401,
            IntakeError::Invalid(_)
            | IntakeError::StaleAlert { .. }
            | IntakeError::FutureAlert { .. } => 422,
        }
    }

    /// A stable machine-readable code (`invalid_json`, `bad_number`, ...); for
    /// several content problems, the code of the first.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::NotUtf8 => "not_utf8",
            IntakeError::InvalidJson(_) => "invalid_json",
            IntakeError::DuplicateKey { .. } => "duplicate_key",
            IntakeError::BadLine { .. } => "bad_line",
            IntakeError::Invalid(problems) => problems
                .first()
                .map_or("invalid_content", |p| p.kind.code()),
            IntakeError::StaleAlert { .. } => "stale_alert",
            IntakeError::FutureAlert { .. } => "future_alert",
            IntakeError::MissingPassphrase => "missing_passphrase",
            IntakeError::BadPassphrase => "bad_passphrase",
            IntakeError::MissingSignature => "missing_signature",
            IntakeError::MalformedSignature(_) => "malformed_signature",
            IntakeError::BadSignature => "bad_signature",
            IntakeError::SignatureExpired { .. } => "signature_expired",
        }
    }

    /// Every problem with its JSON path, for the `details` of the answer. Empty
    /// for authentication failures: they say nothing about the secret.
    pub fn details(&self) -> Vec<Issue> {
        match self {
            IntakeError::Invalid(problems) => problems.iter().map(|p| p.issue.clone()).collect(),
            IntakeError::InvalidJson(_) | IntakeError::NotUtf8 | IntakeError::BadLine { .. } => {
                vec![Issue::new("", self.to_string())]
            }
            IntakeError::DuplicateKey { path, key } => {
                vec![Issue::new(
                    format!("{path}/{}", pointer(key).trim_start_matches('/')),
                    self.to_string(),
                )]
            }
            IntakeError::StaleAlert { .. } | IntakeError::FutureAlert { .. } => {
                vec![Issue::new("/time", self.to_string())]
            }
            IntakeError::MissingPassphrase
            | IntakeError::BadPassphrase
            | IntakeError::MissingSignature
            | IntakeError::MalformedSignature(_)
            | IntakeError::BadSignature
            | IntakeError::SignatureExpired { .. } => Vec::new(),
        }
    }

    /// The content problems, when this is [`IntakeError::Invalid`] (tests and metrics by reason).
    pub fn problems(&self) -> &[Problem] {
        match self {
            IntakeError::Invalid(problems) => problems,
            _ => &[],
        }
    }

    /// An `Invalid` error with one problem.
    pub(crate) fn one(
        kind: ProblemKind,
        path: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        IntakeError::Invalid(vec![Problem::new(kind, path, problem)])
    }
}

/// A JSON pointer to a top-level key (`/` + the key with `~` and `/` escaped).
pub(crate) fn pointer(key: &str) -> String {
    format!("/{}", key.replace('~', "~0").replace('/', "~1"))
}
