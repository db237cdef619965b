//! Why the API turned a request away before any handler ran, in the API's JSON
//! error shape (`{"error", "message", "details"}`); 401s carry
//! `WWW-Authenticate: Bearer` so clients know what to send.

use axum::Json;
use axum::http::header::WWW_AUTHENTICATE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Role;

/// Longest echo of a refused `Host` or `Origin` value in a message.
const ECHO_LIMIT: usize = 100;

fn echo(text: &str) -> String {
    text.chars().take(ECHO_LIMIT).collect()
}

/// A refusal by the API's authentication, authorization or browser checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer` header, or a key that is not configured.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// A configured key past its `expires`.
    #[error("the API key {name:?} expired: ask for a new one")]
    KeyExpired {
        /// The key's configured name.
        name: String,
    },
    /// A valid key whose role does not reach the endpoint's.
    #[error("the API key {name:?} has role {has}; this endpoint needs {needs}")]
    Forbidden {
        /// The key's configured name.
        name: String,
        /// Its role.
        has: Role,
        /// The role the endpoint needs.
        needs: Role,
    },
    /// Without keys NEO answers only requests addressed to loopback (DNS rebinding defence).
    #[error(
        "this NEO serves only localhost while no API key is configured; Host {} is not loopback",
        echo(.0)
    )]
    MisdirectedHost(String),
    /// Without keys NEO refuses requests a web page on another origin made (CSRF defence).
    #[error(
        "this NEO serves only localhost while no API key is configured; requests from the web page at {} are refused",
        echo(.0)
    )]
    ForeignOrigin(String),
}

impl AuthError {
    /// The HTTP status: 401, 403 or 421.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Unauthorized(_) | AuthError::KeyExpired { .. } => StatusCode::UNAUTHORIZED,
            AuthError::Forbidden { .. } | AuthError::ForeignOrigin(_) => StatusCode::FORBIDDEN,
            AuthError::MisdirectedHost(_) => StatusCode::MISDIRECTED_REQUEST,
        }
    }

    /// The stable machine-readable code, also the `reason` label of the refusal counter.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthorized(_) => "unauthorized",
            AuthError::KeyExpired { .. } => "key_expired",
            AuthError::Forbidden { .. } => "forbidden",
            AuthError::MisdirectedHost(_) => "misdirected_host",
            AuthError::ForeignOrigin(_) => "forbidden_origin",
        }
    }

    fn detail(&self) -> Option<(&'static str, String)> {
        match self {
            AuthError::Unauthorized(_) | AuthError::KeyExpired { .. } => None,
            AuthError::Forbidden { needs, .. } => Some(("role", format!("needs {needs}"))),
            AuthError::MisdirectedHost(_) => Some((
                "host",
                "use http://localhost or http://127.0.0.1, or configure [[api.keys]]".to_owned(),
            )),
            AuthError::ForeignOrigin(_) => Some((
                "origin",
                "only pages served from localhost may call this NEO without a key".to_owned(),
            )),
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let details: Vec<_> = self
            .detail()
            .into_iter()
            .map(|(path, problem)| json!({ "path": path, "problem": problem }))
            .collect();
        let body = json!({ "error": self.code(), "message": self.to_string(), "details": details });
        let challenge = match &self {
            AuthError::Unauthorized(_) => Some("Bearer"),
            AuthError::KeyExpired { .. } => {
                Some("Bearer error=\"invalid_token\", error_description=\"the key expired\"")
            }
            _ => None,
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let Some(challenge) = challenge {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}
