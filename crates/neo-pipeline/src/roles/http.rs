//! Every process's HTTP server on its `[server]` port: the gateway's webhooks
//! and REST API when this process runs the gateway role, otherwise liveness,
//! readiness and `/metrics` alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use neo_api::auth::{ApiAuth, spawn_expiry_watch};
use neo_api::guard::{GuardConfig, Guards};
use neo_api::metrics::Metrics;
use neo_api::server::{AppState, GatewayConfig, Live, RoleReport, ops_router, router, serve};
use neo_bus::Bus;
use tokio::sync::watch;

use super::{Context, Tasks};
use crate::{Config, PipelineError};

/// What the server is built with besides the context.
pub(crate) struct Http {
    /// The gateway's settings (with the webhook passphrase resolved).
    pub(crate) gateway: GatewayConfig,
    /// Serve the webhooks and the REST API (the gateway role), or only the probes.
    pub(crate) full: bool,
    /// This process runs the desk role: it judges risk checks even without the gateway.
    pub(crate) desk: bool,
    pub(crate) live: Arc<dyn Live>,
    pub(crate) metrics: Metrics,
    pub(crate) roles: RoleReport,
    /// Stops the server first when the process shuts down.
    pub(crate) stop: watch::Receiver<bool>,
}

/// Binds `[server]` and serves until `http.stop`.
pub(crate) async fn serve_http<B: Bus>(
    ctx: &Context<B>,
    tasks: &mut Tasks,
    http: Http,
) -> Result<SocketAddr, PipelineError> {
    let config = &ctx.config;
    let setup = |e: &dyn std::fmt::Display| PipelineError::Setup(e.to_string());
    let guards = Guards::new(&config.guard).map_err(|e| setup(&e))?;
    let housekeeping = guards.spawn_housekeeping(Duration::from_secs(60));
    let (auth, api_housekeeping) = api_auth(config)?;
    let (watched_keys, watch_clock) = (auth.keys().clone(), ctx.clock.clone());
    let upkeep = http.metrics.spawn_upkeep(Duration::from_secs(5));
    let (limits, max_body_bytes) = (config.server.limits.clone(), http.gateway.max_body_bytes);
    let state = AppState::new(
        http.gateway,
        ctx.store.clone(),
        ctx.writer.clone(),
        ctx.clock.clone(),
    )
    .with_live(http.live)
    .with_history(ctx.data_dir.join("history"), ctx.data_dir.join("market"))
    .with_probes(crate::probes::probes(config))
    .with_wake(ctx.wake.clone())
    .with_guards(guards)
    .with_auth(auth)
    .with_metrics(http.metrics)
    .with_flags(ctx.flags.clone())
    .with_slo(ctx.slo.clone())
    .with_roles(http.roles);
    ctx.toolbox.serve(state.clone());
    let app = if http.full {
        router(state)
    } else {
        ops_router(state, http.desk)
    };
    let bind = format!("{}:{}", config.server.host, config.server.port);
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| PipelineError::Setup(format!("cannot listen on {bind}: {e}")))?;
    let addr = listener.local_addr().map_err(|e| setup(&e))?;
    // Started once serving is sure, so a failed bind leaves no task behind.
    let (key_notices, key_notice_task) =
        crate::key_notices::spawn(ctx.writer.clone(), ctx.channels.clone(), ctx.wake.clone());
    let expiry_watch = spawn_expiry_watch(
        watched_keys,
        watch_clock,
        Duration::from_secs(60),
        Some(key_notices),
    );
    let mut stop = http.stop;
    tasks.spawn("http", async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let served = serve(listener, app, &limits, max_body_bytes, stopped).await;
        housekeeping.abort();
        api_housekeeping.abort();
        expiry_watch.abort();
        key_notice_task.abort();
        upkeep.abort();
        served
    });
    Ok(addr)
}

/// The REST API's keys and its own rate limits (the guard's rates and proxies, no allow
/// list: that names webhook senders, not operators), with their housekeeping task.
fn api_auth(config: &Config) -> Result<(ApiAuth, tokio::task::JoinHandle<()>), PipelineError> {
    let limits = Guards::new(&GuardConfig {
        allow_ips: Vec::new(),
        ..config.guard.clone()
    })
    .map_err(|e| PipelineError::Setup(e.to_string()))?;
    let housekeeping = limits.spawn_housekeeping(Duration::from_secs(60));
    let auth = ApiAuth::new(&config.api)
        .map_err(|e| PipelineError::Setup(e.to_string()))?
        .with_limits(limits);
    Ok((auth, housekeeping))
}
