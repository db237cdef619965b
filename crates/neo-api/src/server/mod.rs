//! The gateway's HTTP server: webhook intake that answers 202 only once the
//! signal is durable (signal row, outbox envelope and inbox key in one
//! transaction), recognises a resent alert by its id, and tells health from
//! readiness.

mod error;
mod webhook;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use neo_domain::Timestamp;
use neo_store::{Store, Writer};
use serde::Deserialize;
use serde_json::json;

pub use error::ApiError;

use crate::intake::{PassphraseConfig, PriorityRules, ReplayGuard, Secret};

/// The inbox consumer name under which accepted signals are recorded (their dedupe key).
pub const GATEWAY_CONSUMER: &str = "gateway";

/// `[gateway]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// The passphrase TradingView alerts carry in their body.
    pub passphrase: Option<Secret>,
    /// Per-strategy passphrases, overriding the global one.
    pub strategy_passphrases: BTreeMap<String, Secret>,
    /// Secrets for `X-Neo-Signature` on the generic webhook (several while rotating keys).
    pub signing_secrets: Vec<Secret>,
    /// Accepted clock skew for signed requests, in seconds.
    pub signature_tolerance_secs: u64,
    /// Largest body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Refuse alerts whose own time is further than this from now (unset: no check).
    pub freshness_secs: Option<u64>,
    /// Alerts without a sender id resent within this many seconds are the same alert.
    pub dedupe_bucket_secs: u64,
    /// How priorities are assigned.
    pub priority: PriorityRules,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            passphrase: None,
            strategy_passphrases: BTreeMap::new(),
            signing_secrets: Vec::new(),
            signature_tolerance_secs: 300,
            max_body_bytes: 64 * 1024,
            freshness_secs: None,
            dedupe_bucket_secs: 60,
            priority: PriorityRules::default(),
        }
    }
}

impl GatewayConfig {
    /// Every problem, at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self
            .passphrase
            .as_ref()
            .is_none_or(|p| p.expose().is_empty())
            && self.strategy_passphrases.is_empty()
        {
            problems.push(
                "gateway.passphrase is not set: every TradingView alert would be refused"
                    .to_owned(),
            );
        }
        if self.signing_secrets.iter().any(|s| s.expose().len() < 16) {
            problems.push("gateway.signing_secrets must each be at least 16 characters".to_owned());
        }
        if self.max_body_bytes < 256 {
            problems.push("gateway.max_body_bytes must be at least 256".to_owned());
        }
        if self.dedupe_bucket_secs == 0 {
            problems.push("gateway.dedupe_bucket_secs must be above 0".to_owned());
        }
        if let Err(issues) = self.priority.validate() {
            problems.extend(
                issues
                    .into_iter()
                    .map(|i| format!("gateway.priority{}: {}", i.path, i.problem)),
            );
        }
        problems
    }

    fn passphrases(&self) -> PassphraseConfig {
        PassphraseConfig {
            global: self.passphrase.clone(),
            per_strategy: self.strategy_passphrases.clone(),
        }
    }
}

/// Where "now" comes from: the wall clock in `neo run`, a fixed instant in tests.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    config: Arc<GatewayConfig>,
    passphrases: Arc<PassphraseConfig>,
    store: Store,
    writer: Writer,
    clock: Clock,
    replays: Arc<Mutex<ReplayGuard>>,
}

impl AppState {
    /// Shared state over a store and its group-commit writer.
    pub fn new(config: GatewayConfig, store: Store, writer: Writer, clock: Clock) -> Self {
        let replays = ReplayGuard::new(100_000, config.signature_tolerance_secs);
        AppState {
            passphrases: Arc::new(config.passphrases()),
            config: Arc::new(config),
            store,
            writer,
            clock,
            replays: Arc::new(Mutex::new(replays)),
        }
    }

    fn bucket(&self) -> Duration {
        Duration::from_secs(self.config.dedupe_bucket_secs)
    }
}

/// The routes: intake, liveness and readiness.
pub fn router(state: AppState) -> Router {
    // Axum's own limit sits above ours, so that ours answers with the JSON error.
    let hard_limit = state.config.max_body_bytes.saturating_add(1);
    Router::new()
        .route("/v1/webhooks/tradingview", post(webhook::tradingview))
        .route("/v1/webhooks/generic", post(webhook::generic))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .layer(DefaultBodyLimit::max(hard_limit))
        .with_state(state)
}

/// Liveness: the process answers.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// Readiness: the store answers too; 503 otherwise.
async fn ready(
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, (StatusCode, axum::Json<serde_json::Value>)> {
    match state.store.ping().await {
        Ok(()) => Ok(axum::Json(json!({ "status": "ready", "store": "ok" }))),
        Err(e) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({ "error": "unavailable", "message": format!("store: {e}"), "details": [] }),
            ),
        )),
    }
}
