//! Request guards for the webhook routes, run as axum middleware before any body
//! is read: a source-address allow list (403 `forbidden_ip`) and per-address and
//! per-key rate limits (429 `rate_limited` with `Retry-After`), so a stranger or a
//! runaway alert loop costs almost nothing.
//!
//! Wiring: `router.layer(axum::middleware::from_fn_with_state(guards, guard))`, and
//! serve with `into_make_service_with_connect_info::<SocketAddr>()` so the peer
//! address is known; without it every request counts as one "unknown" source.

mod allow;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use serde_json::json;

pub use allow::{IpAllowList, IpRule, IpRuleError};

use crate::metrics::names;

/// TradingView's webhook sender addresses (from its webhook help page), the suggested
/// `allow_ips` for a gateway that only TradingView calls.
pub const TRADINGVIEW_IPS: [&str; 4] = [
    "52.89.214.238",
    "34.212.75.30",
    "54.218.53.128",
    "52.32.178.7",
];

/// The header naming the caller's API key, so each key holder gets its own rate bucket.
pub const KEY_HEADER: &str = "x-neo-key";

/// Housekeeping (dropping idle rate-limit buckets) runs once per this many guarded requests,
/// so the bucket maps never hold more than the keys seen since the last sweep plus the busy ones.
pub const HOUSEKEEPING_EVERY: u64 = 4096;

/// `[gateway.guard]` in the config file: who may call the webhook routes and how often.
///
/// For a TradingView-only gateway, allow its four webhook senders
/// ([`TRADINGVIEW_IPS`]): `allow_ips = ["52.89.214.238", "34.212.75.30", "54.218.53.128", "52.32.178.7"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GuardConfig {
    /// Addresses or CIDR blocks (IPv4 and IPv6, e.g. `"10.0.0.0/8"`) allowed to call; empty allows all.
    pub allow_ips: Vec<String>,
    /// Requests per second allowed from one source address (default 100; 0 turns the limit off).
    pub rate_limit_per_ip: u32,
    /// Requests per second allowed per `X-Neo-Key` value (default 50; 0 turns the limit off).
    pub rate_limit_per_key: u32,
    /// Requests a bucket may take at once before the rate applies, the same size for both
    /// limits; default 200, twice the default per-address rate (set about twice your largest rate).
    pub burst: u32,
    /// Addresses or CIDR blocks of the proxies in front of NEO (default none). Only when the
    /// connection comes from one of them is `X-Forwarded-For` read, and then the client is the
    /// right-most entry that is not a trusted proxy (as nginx's `real_ip_recursive`): entries
    /// to its left were written by the client and prove nothing.
    pub trusted_proxies: Vec<String>,
    /// Replaced by `trusted_proxies`; kept only so an old config gets a clear error.
    pub trust_forwarded_for: Option<bool>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            allow_ips: Vec::new(),
            rate_limit_per_ip: 100,
            rate_limit_per_key: 50,
            burst: 200,
            trusted_proxies: Vec::new(),
            trust_forwarded_for: None,
        }
    }
}

impl GuardConfig {
    /// Every problem, at once, so one edit of the config file fixes them all.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(errors) = IpAllowList::parse(&self.allow_ips) {
            for (i, entry, e) in errors {
                problems.push(format!("allow_ips[{i}] = {entry:?}: {e}"));
            }
        }
        if let Err(errors) = IpAllowList::parse(&self.trusted_proxies) {
            for (i, entry, e) in errors {
                problems.push(format!("trusted_proxies[{i}] = {entry:?}: {e}"));
            }
        }
        if self.trust_forwarded_for.is_some() {
            problems.push(
                "trust_forwarded_for was replaced by trusted_proxies: list the addresses or \
                 CIDR blocks of your proxies, e.g. trusted_proxies = [\"10.0.0.0/8\"]"
                    .to_owned(),
            );
        }
        if self.burst == 0 && (self.rate_limit_per_ip > 0 || self.rate_limit_per_key > 0) {
            problems.push(
                "burst is 0 while a rate limit is on: every request would be refused \
                 (set burst to about twice the rate, or both rates to 0)"
                    .to_owned(),
            );
        }
        problems
    }
}

/// Why guards could not be built from their config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// The config has problems; each entry says what to fix.
    #[error("invalid guard config: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
}

/// Which rate limit refused a request, named as in the refusal's details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `rate_limit_per_ip`.
    PerIp,
    /// `rate_limit_per_key`.
    PerKey,
}

impl Limit {
    /// The name used in refusal details (`per_ip`, `per_key`).
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::PerIp => "per_ip",
            Limit::PerKey => "per_key",
        }
    }
}

fn describe_source(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "an unknown address".to_owned(), |ip| ip.to_string())
}

/// Why a guard turned a request away; answers in the project's JSON error shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The source address is not in `allow_ips`.
    #[error("requests from {} are not allowed: the address is not in the gateway's allow list", describe_source(*ip))]
    ForbiddenIp {
        /// The source address, if known.
        ip: Option<IpAddr>,
    },
    /// A rate limit is exhausted.
    #[error("too many requests ({} limit of {rate} per second): retry in {retry_after_secs} s", limit.as_str())]
    RateLimited {
        /// The limit that refused.
        limit: Limit,
        /// That limit's requests per second.
        rate: u32,
        /// Whole seconds until a request would pass again (at least 1).
        retry_after_secs: u64,
        /// The source address, if known.
        ip: Option<IpAddr>,
    },
}

impl Refusal {
    /// The HTTP status: 403 or 429.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::ForbiddenIp { .. } => StatusCode::FORBIDDEN,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// The stable machine-readable code, also the `reason` label of the rejection counter.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ForbiddenIp { .. } => "forbidden_ip",
            Refusal::RateLimited { .. } => "rate_limited",
        }
    }

    fn detail(&self) -> (&'static str, String) {
        match self {
            Refusal::ForbiddenIp { ip } => (
                "source_ip",
                format!("{} is not in allow_ips", describe_source(*ip)),
            ),
            Refusal::RateLimited {
                limit, rate, ip, ..
            } => {
                let whom = match limit {
                    Limit::PerIp => format!("from {}", describe_source(*ip)),
                    Limit::PerKey => "for this key".to_owned(),
                };
                (
                    limit.as_str(),
                    format!("more than {rate} requests per second {whom}"),
                )
            }
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (path, problem) = self.detail();
        let body = json!({
            "error": self.code(),
            "message": self.to_string(),
            "details": [{ "path": path, "problem": problem }],
        });
        let mut response = (self.status(), Json(body)).into_response();
        if let Refusal::RateLimited {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

/// The caller's rate-limit key: the `X-Neo-Key` header, if present and not blank.
/// Without one, only the per-address limit applies.
pub fn request_key(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(KEY_HEADER)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// One `X-Forwarded-For` entry as an address (bare, `[v6]`, or with a port).
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(allow::canonical(ip));
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Some(allow::canonical(sock.ip()));
    }
    entry
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .and_then(|s| s.parse().ok())
        .map(allow::canonical)
}

/// The client behind a chain of trusted proxies: walking every `X-Forwarded-For` header
/// from the right, the first entry that is not a trusted proxy (the left-most one when all
/// are). `None` when that entry is unreadable: the client then counts as unknown.
fn forwarded_client<'a>(
    headers: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &IpAllowList,
) -> Option<Option<IpAddr>> {
    let mut last = None;
    for header in headers.rev() {
        for entry in header.rsplit(',') {
            let ip = forwarded_entry(entry);
            match ip {
                Some(ip) if trusted.contains(ip) => last = Some(Some(ip)),
                other => return Some(other),
            }
        }
    }
    last
}

/// Keys are SHA-256 digests: bounded memory per bucket, and no API key kept in memory.
type KeyDigest = [u8; 32];

fn digest_key(key: &str) -> KeyDigest {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, key.as_bytes()).as_ref());
    out
}

/// One keyed limiter and the rate it enforces (for the refusal message).
struct Bucketed<K: Clone + std::hash::Hash + Eq> {
    limiter: DefaultKeyedRateLimiter<K>,
    rate: u32,
}

impl<K: Clone + std::hash::Hash + Eq> Bucketed<K> {
    fn new(rate: u32, burst: NonZeroU32) -> Option<Self> {
        let per_second = NonZeroU32::new(rate)?;
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Bucketed {
            limiter: RateLimiter::dashmap(quota),
            rate,
        })
    }

    /// `Err(seconds to wait)` when the bucket is empty.
    fn check(&self, key: &K) -> Result<(), u64> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait: Duration = not_until.wait_time_from(self.limiter.clock().now());
            let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            whole.max(1)
        })
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

struct Inner {
    allow: IpAllowList,
    trusted_proxies: IpAllowList,
    /// Keyed by source address; `None` is the single bucket of requests with no known address.
    per_ip: Option<Bucketed<Option<IpAddr>>>,
    per_key: Option<Bucketed<KeyDigest>>,
    seen: AtomicU64,
}

/// The guards built from a [`GuardConfig`]: cheap to clone (one `Arc`), shared by every request.
#[derive(Clone)]
pub struct Guards {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Guards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guards")
            .field("allow", &self.inner.allow)
            .field("trusted_proxies", &self.inner.trusted_proxies)
            .field("per_ip", &self.inner.per_ip.as_ref().map(|b| b.rate))
            .field("per_key", &self.inner.per_key.as_ref().map(|b| b.rate))
            .finish()
    }
}

impl Guards {
    /// Checks the config (every problem at once) and builds the allow list and limiters.
    pub fn new(config: &GuardConfig) -> Result<Guards, GuardError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(GuardError::InvalidConfig(problems));
        }
        let parse = |entries: &[String]| {
            IpAllowList::parse(entries).map_err(|errors| {
                GuardError::InvalidConfig(
                    errors.into_iter().map(|(_, _, e)| e.to_string()).collect(),
                )
            })
        };
        let allow = parse(&config.allow_ips)?;
        let trusted_proxies = parse(&config.trusted_proxies)?;
        // validate() refused burst 0 with a limit on; with both limits off the burst is unused.
        let burst = NonZeroU32::new(config.burst).unwrap_or(NonZeroU32::MIN);
        Ok(Guards {
            inner: Arc::new(Inner {
                allow,
                trusted_proxies,
                per_ip: Bucketed::new(config.rate_limit_per_ip, burst),
                per_key: Bucketed::new(config.rate_limit_per_key, burst),
                seen: AtomicU64::new(0),
            }),
        })
    }

    /// The allow list in force.
    pub fn allow_list(&self) -> &IpAllowList {
        &self.inner.allow
    }

    /// The address a request is judged by: the connection's peer, unless that peer is a
    /// trusted proxy, in which case the right-most `X-Forwarded-For` entry that is not
    /// (an unreadable entry, or a header that is not text, makes the client unknown).
    pub fn source_ip(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| allow::canonical(addr.ip()))?;
        if !self.inner.trusted_proxies.contains(peer) {
            return Some(peer);
        }
        let values: Vec<Option<&str>> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().ok())
            .collect();
        if values.iter().any(Option::is_none) {
            return None;
        }
        forwarded_client(values.into_iter().flatten(), &self.inner.trusted_proxies)
            .unwrap_or(Some(peer))
    }

    /// Runs every guard on a request's head: allow list, then per-address, then per-key limit.
    pub fn check(&self, parts: &Parts) -> Result<(), Refusal> {
        let ip = self.source_ip(parts);
        if !self.inner.allow.permits(ip) {
            self.housekeeping_tick();
            return Err(Refusal::ForbiddenIp { ip });
        }
        let ip = self.check_address(parts)?;
        match request_key(parts) {
            Some(key) => self.check_key(&key, ip),
            None => Ok(()),
        }
    }

    /// The per-address limit alone (no allow list), as the REST API applies it before
    /// authentication; returns the address judged, for [`Guards::check_key`].
    pub fn check_address(&self, parts: &Parts) -> Result<Option<IpAddr>, Refusal> {
        self.housekeeping_tick();
        let ip = self.source_ip(parts);
        if let Some(per_ip) = &self.inner.per_ip {
            per_ip
                .check(&ip)
                .map_err(|retry_after_secs| Refusal::RateLimited {
                    limit: Limit::PerIp,
                    rate: per_ip.rate,
                    retry_after_secs,
                    ip,
                })?;
        }
        Ok(ip)
    }

    /// The per-key limit for `key` (an `X-Neo-Key` value, or an API key's configured name).
    pub fn check_key(&self, key: &str, ip: Option<IpAddr>) -> Result<(), Refusal> {
        let Some(per_key) = &self.inner.per_key else {
            return Ok(());
        };
        per_key
            .check(&digest_key(key))
            .map_err(|retry_after_secs| Refusal::RateLimited {
                limit: Limit::PerKey,
                rate: per_key.rate,
                retry_after_secs,
                ip,
            })
    }

    /// Drops idle buckets now (a full bucket is the same as no bucket, so nothing is lost).
    pub fn housekeeping(&self) {
        if let Some(b) = &self.inner.per_ip {
            b.sweep();
        }
        if let Some(b) = &self.inner.per_key {
            b.sweep();
        }
    }

    fn housekeeping_tick(&self) {
        let n = self.inner.seen.fetch_add(1, Ordering::Relaxed);
        if n % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1 {
            self.housekeeping();
        }
    }

    /// Also sweeps on a timer, so memory is returned after a burst of strangers even when
    /// traffic stops (sweeps already run every [`HOUSEKEEPING_EVERY`] requests). The task
    /// ends by itself once every `Guards` clone is dropped; abort the handle to stop it sooner.
    pub fn spawn_housekeeping(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let period = interval.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { break };
                Guards { inner }.housekeeping();
            }
        })
    }
}

/// The middleware: `axum::middleware::from_fn_with_state(guards, guard)`. A refused request
/// is answered here (403/429 JSON) and counted in `neo_signals_rejected_total{reason}`.
/// A missing `ConnectInfo` is not an error: the source is then "unknown".
pub async fn guard(State(guards): State<Guards>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    match guards.check(&parts) {
        Ok(()) => next.run(Request::from_parts(parts, body)).await,
        Err(refusal) => {
            ::metrics::counter!(names::SIGNALS_REJECTED, "reason" => refusal.code()).increment(1);
            match &refusal {
                Refusal::ForbiddenIp { ip } => {
                    tracing::info!(source = %describe_source(*ip), path = %parts.uri.path(), "refused: address not allowed");
                }
                Refusal::RateLimited { limit, ip, .. } => {
                    tracing::debug!(source = %describe_source(*ip), limit = limit.as_str(), "refused: rate limited");
                }
            }
            refusal.into_response()
        }
    }
}
