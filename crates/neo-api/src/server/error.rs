//! One error type for every HTTP answer that is not a success: a status and a
//! JSON body `{"error", "message", "details": [{"path", "problem"}]}`. Bad input
//! is 4xx, a dependency that is down is 503, and 500 is kept for bugs.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use neo_domain::Issue;
use neo_store::StoreError;
use serde_json::json;

use crate::intake::IntakeError;

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Parsing, authentication or validation of the alert failed.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// The body is larger than the configured limit.
    #[error("body larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The content type is not one this endpoint reads.
    #[error("unsupported content type {got:?}: send {accepts}")]
    UnsupportedMediaType {
        /// What the request said.
        got: String,
        /// What the endpoint takes.
        accepts: &'static str,
    },
    /// The body could not be read (the sender broke off mid-request).
    #[error("could not read the body: {0}")]
    UnreadableBody(String),
    /// A signed request seen before.
    #[error("this signature was already used: sign every request anew")]
    Replayed,
    /// The replay guard holds as many live signatures as it may: nothing was
    /// accepted (failing closed), retry shortly.
    #[error("too many signed requests in the tolerance window: retry shortly")]
    ReplayGuardFull,
    /// An idempotency key already accepted with different content.
    #[error("this id was already used for an alert with a different {}: send a new id for a new alert", .fields.join(", "))]
    IdempotencyConflict {
        /// The content fields that differ from the first alert's.
        fields: Vec<&'static str>,
    },
    /// A query parameter or path segment is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Nothing has that id.
    #[error("{0}")]
    NotFound(String),
    /// A JSON body that does not describe what the endpoint takes.
    #[error("{message}")]
    Invalid {
        /// One sentence.
        message: String,
        /// Where and what.
        details: Vec<Issue>,
    },
    /// The request is valid but the system's state refuses it (resuming during a drawdown breach).
    #[error("{message}")]
    Conflict {
        /// The stable code.
        code: &'static str,
        /// One sentence.
        message: String,
    },
    /// The store cannot be reached: nothing was accepted, retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The live desk cannot answer here (not running yet, or in another process).
    #[error("{0}")]
    DeskUnavailable(String),
    /// The intake is switched off by its flag: nothing was stored.
    #[error("{flag} is off for {unit}: this intake accepts nothing until the flag is on again")]
    IntakeDisabled {
        /// The flag (`tv_slice`).
        flag: &'static str,
        /// The unit it is off for (`strategy:instrument`).
        unit: String,
    },
    /// A bug or a broken deployment (corrupt data, failed migration).
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) | StoreError::Conflict(_) | StoreError::Closed => {
                ApiError::Unavailable(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Intake(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::UnreadableBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Replayed => StatusCode::UNAUTHORIZED,
            ApiError::ReplayGuardFull => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::IdempotencyConflict { .. } => StatusCode::CONFLICT,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unavailable(_)
            | ApiError::DeskUnavailable(_)
            | ApiError::IntakeDisabled { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Intake(e) => e.code(),
            ApiError::TooLarge { .. } => "body_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::UnreadableBody(_) => "unreadable_body",
            ApiError::Replayed => "replayed_signature",
            ApiError::ReplayGuardFull => "replay_guard_full",
            ApiError::IdempotencyConflict { .. } => "idempotency_conflict",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid { .. } => "invalid",
            ApiError::Conflict { code, .. } => code,
            ApiError::Unavailable(_) => "unavailable",
            ApiError::DeskUnavailable(_) => "desk_unavailable",
            ApiError::IntakeDisabled { .. } => "intake_disabled",
            ApiError::Internal(_) => "internal",
        }
    }

    fn details(&self) -> Vec<Issue> {
        match self {
            ApiError::Intake(e) => e.details(),
            ApiError::Invalid { details, .. } => details.clone(),
            ApiError::IdempotencyConflict { fields } => fields
                .iter()
                .map(|f| {
                    Issue::new(
                        format!("/{f}"),
                        "differs from the alert first accepted under this id",
                    )
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(reason) = &self {
            tracing::error!(%reason, "internal error answering a request");
        }
        let body =
            json!({ "error": self.code(), "message": self.to_string(), "details": self.details() });
        (self.status(), Json(body)).into_response()
    }
}
