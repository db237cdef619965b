//! The gateway's HTTP server: webhook intake that answers 202 only once the
//! signal is durable (signal row, outbox envelope and inbox key in one
//! transaction), recognises a resent alert by its id, and tells health from
//! readiness.

pub mod checks;
mod error;
mod execution;
pub mod features;
mod flags;
mod history;
mod id_secret;
mod limits;
pub mod mcp;
mod openapi;
mod rest;
mod trading;
mod webhook;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use neo_domain::Timestamp;
use neo_store::{Store, Writer};
use tokio::sync::Notify;

use crate::auth::{self, ApiAuth, Role};
use crate::flags::FlagBook;
use crate::guard::{self, Guards};
use crate::metrics::{Metrics, metrics_router, track_http};
use crate::slo::SloBook;
use serde::Deserialize;
use serde_json::json;

pub use error::ApiError;
pub use limits::{HttpLimits, raise_open_file_limit, serve};
pub use rest::{Live, LiveError, Ticker};
pub use trading::TRADING_COMMAND_AUDIT;

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
    /// Refuse alerts whose own time is further than this many seconds from now
    /// (default 300; 0 turns the check off). Alerts without a time are not checked.
    pub freshness_secs: u64,
    /// The installation secret signal ids are derived under, so nobody can
    /// predict (and pre-claim) another sender's id. Unset: one is created at the
    /// first alert and kept in the store (set it when several gateways share a store).
    pub id_secret: Option<Secret>,
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
            freshness_secs: 300,
            id_secret: None,
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
        if self
            .id_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < 32)
        {
            problems.push("gateway.id_secret must be at least 32 characters".to_owned());
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
    ids: Arc<tokio::sync::OnceCell<id_secret::IdSecret>>,
    live: Option<Arc<dyn Live>>,
    wake: Option<Arc<Notify>>,
    guards: Option<Guards>,
    metrics: Option<Metrics>,
    auth: ApiAuth,
    flags: Option<FlagBook>,
    slo: SloBook,
    history: Option<std::path::PathBuf>,
    archive: Option<std::path::PathBuf>,
    probes: Arc<[Arc<dyn checks::Probe>]>,
    roles: Option<RoleReport>,
}

/// What each role in this process is doing (`/ready`'s `roles`), e.g. a desk on standby.
pub type RoleReport = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

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
            ids: Arc::new(tokio::sync::OnceCell::new()),
            live: None,
            history: None,
            archive: None,
            probes: Arc::from(Vec::new()),
            roles: None,
            wake: None,
            guards: None,
            metrics: None,
            auth: ApiAuth::default(),
            flags: None,
            slo: SloBook::default(),
        }
    }

    /// The running desk behind the live endpoints (tickers, portfolio, risk check).
    pub fn with_live(mut self, live: Arc<dyn Live>) -> Self {
        self.live = Some(live);
        self
    }

    /// The dependencies `GET /v1/system/checks` checks beside the store, bus and market.
    pub fn with_probes(mut self, probes: Vec<Arc<dyn checks::Probe>>) -> Self {
        self.probes = Arc::from(probes);
        self
    }

    /// Where the candle store and the market archive are (for the history and alt-data routes).
    pub fn with_history(
        mut self,
        candles: std::path::PathBuf,
        archive: std::path::PathBuf,
    ) -> Self {
        self.history = Some(candles);
        self.archive = Some(archive);
        self
    }

    /// Rung after each accepted signal so the outbox relay publishes it at once.
    pub fn with_wake(mut self, wake: Arc<Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// IP allow-list and rate limits in front of the webhooks.
    pub fn with_guards(mut self, guards: Guards) -> Self {
        self.guards = Some(guards);
        self
    }

    /// Serves `/metrics` from this recorder.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Who may call the REST API (API keys, public metrics, the API's own rate limits).
    /// Without it, or with no keys, the API serves loopback only.
    pub fn with_auth(mut self, auth: ApiAuth) -> Self {
        self.auth = auth;
        self
    }

    /// The feature flags: served and changed at `/v1/flags`, and `tv_slice` gates the intake.
    pub fn with_flags(mut self, flags: FlagBook) -> Self {
        self.flags = Some(flags);
        self
    }

    /// The roles this process runs and their state, shown by `/ready`.
    pub fn with_roles(mut self, roles: RoleReport) -> Self {
        self.roles = Some(roles);
        self
    }

    /// Where the SLO events go (webhook latency here; the stages feed the rest).
    pub fn with_slo(mut self, slo: SloBook) -> Self {
        self.slo = slo;
        self
    }

    fn wake_relay(&self) {
        if let Some(wake) = &self.wake {
            wake.notify_one();
        }
    }

    fn bucket(&self) -> Duration {
        Duration::from_secs(self.config.dedupe_bucket_secs)
    }
}

/// The routes: intake (passphrase or signature), the REST API behind its keys,
/// and liveness, readiness and the API docs, open.
pub fn router(state: AppState) -> Router {
    // Axum's own limit sits above ours, so that ours answers with the JSON error.
    let hard_limit = state.config.max_body_bytes.saturating_add(1);
    let mut hooks = Router::new()
        .route("/v1/webhooks/tradingview", post(webhook::tradingview))
        .route("/v1/webhooks/generic", post(webhook::generic));
    if let Some(guards) = state.guards.clone() {
        hooks = hooks.layer(axum::middleware::from_fn_with_state(guards, guard::guard));
    }
    let gate = |role: Role| {
        axum::middleware::from_fn_with_state(
            state.auth.gate(role, state.clock.clone()),
            auth::require,
        )
    };
    let reads = Router::new()
        .route("/v1/signals", get(rest::signals))
        .route("/v1/signals/{id}", get(rest::story))
        .route("/v1/orders", get(rest::orders))
        .route("/v1/positions", get(rest::positions))
        .route("/v1/portfolio", get(rest::portfolio))
        .route("/v1/tickers", get(rest::tickers))
        .route("/v1/features/{instrument}", get(features::features))
        .route("/v1/history/candles", get(history::candles))
        .route("/v1/execution/quality", get(execution::quality))
        .route("/v1/alt/{source}", get(history::get_alt))
        .route("/v1/trading/state", get(trading::status))
        .route("/v1/flags", get(flags::list))
        .route("/v1/flags/{name}", get(flags::show))
        .route("/v1/flags/{name}/history", get(flags::history))
        .route("/v1/flags/{name}/compare", get(flags::compare))
        .route("/v1/slo", get(slo))
        .route("/v1/system/checks", get(checks::checks))
        .route_service("/mcp", mcp::service(state.clone()))
        .route_layer(gate(Role::Read));
    let operator = Router::new()
        .route("/v1/risk/check", post(rest::risk_check))
        .route("/v1/trading/state", post(trading::set_state))
        .route("/v1/trading/flatten", post(trading::flatten))
        .route("/v1/flags/{name}", put(flags::set))
        .route("/v1/alt/{source}", post(history::post_alt))
        .route_layer(gate(Role::Admin));
    let api = reads
        .merge(operator)
        .route("/health", get(health))
        .route("/ready", get(ready))
        .layer(DefaultBodyLimit::max(hard_limit))
        .with_state(state.clone())
        .merge(openapi::router());
    let api = with_scrape(api, &state).layer(axum::middleware::from_fn_with_state(
        state.auth.clone(),
        auth::loopback_only,
    ));
    hooks
        .layer(DefaultBodyLimit::max(hard_limit))
        .with_state(state)
        .merge(api)
        .layer(axum::middleware::from_fn(track_http))
}

/// A role without the gateway (the desk, notification workers) still answers its
/// orchestrator: liveness, readiness and `/metrics`, under the same key rules; a
/// desk's process also judges `POST /v1/risk/check` (admin), which needs the live desk.
pub fn ops_router(state: AppState, risk_checks: bool) -> Router {
    let mut ops = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready));
    if risk_checks {
        let admin = axum::middleware::from_fn_with_state(
            state.auth.gate(Role::Admin, state.clock.clone()),
            auth::require,
        );
        let hard_limit = state.config.max_body_bytes.saturating_add(1);
        ops = ops.merge(
            Router::new()
                .route("/v1/risk/check", post(rest::risk_check))
                .route_layer(admin)
                .layer(DefaultBodyLimit::max(hard_limit)),
        );
    }
    let ops = ops.with_state(state.clone());
    with_scrape(ops, &state)
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::loopback_only,
        ))
        .layer(axum::middleware::from_fn(track_http))
}

/// `/metrics` merged in when the process records metrics, behind a read key
/// unless `[api] public_metrics`.
fn with_scrape(router: Router, state: &AppState) -> Router {
    let Some(metrics) = state.metrics.clone() else {
        return router;
    };
    let mut scrape = metrics_router(metrics);
    if !state.auth.public_metrics() {
        scrape = scrape.route_layer(axum::middleware::from_fn_with_state(
            state.auth.gate(Role::Read, state.clock.clone()),
            auth::require,
        ));
    }
    router.merge(scrape)
}

/// `GET /v1/slo`: `{"slos": [{"name", "target", "value", "met", "budget_remaining", "burn_rate", ...}]}`.
async fn slo(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "slos": state.slo.report((state.clock)()) }))
}

/// Liveness: the process answers.
async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(json!({ "status": "ok" }))
}

/// How long readiness waits for the store.
const READY_WITHIN: Duration = Duration::from_secs(1);

/// Readiness: the store answers too; 503 otherwise.
async fn ready(
    State(state): State<AppState>,
) -> Result<axum::Json<serde_json::Value>, (StatusCode, axum::Json<serde_json::Value>)> {
    let bus = state.live.as_ref().map_or(Ok(()), |l| l.bus_ready());
    // Within a second whatever the store does: a hung database is not ready.
    let store = tokio::time::timeout(READY_WITHIN, state.store.ping())
        .await
        .unwrap_or_else(|_| {
            Err(neo_store::StoreError::Unavailable(format!(
                "no answer within {} ms",
                READY_WITHIN.as_millis()
            )))
        });
    // Stale market data refuses entries but is not a reason to stop taking alerts: a detail.
    let market = state.live.as_ref().map(|l| l.market((state.clock)()));
    let roles = state.roles.as_ref().map(|r| r());
    match (store, bus) {
        (Ok(()), Ok(())) => Ok(axum::Json(
            json!({ "status": "ready", "store": "ok", "bus": "ok", "market": market, "roles": roles }),
        )),
        (Ok(()), Err(e)) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({ "error": "unavailable", "message": format!("bus: {e}"), "details": [] }),
            ),
        )),
        (Err(e), _) => Err((
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                json!({ "error": "unavailable", "message": format!("store: {e}"), "details": [] }),
            ),
        )),
    }
}
