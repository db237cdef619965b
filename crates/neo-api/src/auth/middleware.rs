//! The two middlewares: [`require`] (a key with the route's role, then the
//! per-key rate limit) and [`loopback_only`] (while no key is configured, only
//! requests addressed to loopback and not made by a foreign web page).

use std::net::IpAddr;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, HOST, ORIGIN};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiAuth, ApiKey, AuthError, Role};
use crate::guard::Refusal;
use crate::metrics::names;
use crate::server::Clock;

/// The state of [`require`] on one group of routes: the policy, the role they need, the clock.
#[derive(Clone)]
pub struct Gate {
    auth: ApiAuth,
    role: Role,
    clock: Clock,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("auth", &self.auth)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The key text of an `Authorization: Bearer <key>` header (scheme case-insensitive).
pub fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = value.split_once(' ')?;
    let key = key.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !key.is_empty()).then_some(key)
}

impl Gate {
    pub(super) fn new(auth: ApiAuth, role: Role, clock: Clock) -> Gate {
        Gate { auth, role, clock }
    }

    /// The configured key this request carries, if it may call a route needing this gate's role.
    pub fn authenticate(&self, parts: &Parts) -> Result<&ApiKey, AuthError> {
        let presented = bearer_key(&parts.headers).ok_or(AuthError::Unauthorized(
            "this endpoint needs an API key: send Authorization: Bearer <key>",
        ))?;
        let key = self
            .auth
            .keys()
            .identify(presented)
            .ok_or(AuthError::Unauthorized(
                "the API key is not one this NEO knows",
            ))?;
        if key.is_expired((self.clock)()) {
            return Err(AuthError::KeyExpired {
                name: key.name.clone(),
            });
        }
        if !key.role.reaches(self.role) {
            return Err(AuthError::Forbidden {
                name: key.name.clone(),
                has: key.role,
                needs: self.role,
            });
        }
        Ok(key)
    }

    /// Whether the request's key holds this gate's role (for a check inside a
    /// route, such as an MCP tool that needs more than its route).
    pub(crate) fn permits(&self, parts: &Parts) -> bool {
        self.admit(parts).is_ok()
    }

    /// Once keys are configured: the per-address limit, then the key, then the per-key limit.
    /// A keyless NEO serves only this machine, whose scripts may poll as fast as they like.
    fn admit(&self, parts: &Parts) -> Result<Option<Caller>, Turned> {
        if !self.auth.needs_keys() {
            return Ok(None);
        }
        let limits = self.auth.limits();
        let ip: Option<IpAddr> = match limits {
            Some(limits) => limits.check_address(parts).map_err(Turned::Limited)?,
            None => None,
        };
        let key = self.authenticate(parts).map_err(Turned::Refused)?;
        if let Some(limits) = limits {
            limits.check_key(&key.name, ip).map_err(Turned::Limited)?;
        }
        tracing::trace!(key = %key.name, path = %parts.uri.path(), "API key accepted");
        Ok(Some(Caller(key.name.clone())))
    }
}

/// Why [`Gate::admit`] turned a request away.
enum Turned {
    Limited(Refusal),
    Refused(AuthError),
}

impl Turned {
    fn into_response(self, parts: &Parts) -> Response {
        match self {
            Turned::Limited(refusal) => {
                ::metrics::counter!(names::API_REFUSALS, "reason" => refusal.code()).increment(1);
                refusal.into_response()
            }
            Turned::Refused(error) => refused(error, parts),
        }
    }
}

fn refused(error: AuthError, parts: &Parts) -> Response {
    ::metrics::counter!(names::API_REFUSALS, "reason" => error.code()).increment(1);
    // The key text never reaches the log; its name only once it matched a configured digest.
    tracing::info!(code = error.code(), path = %parts.uri.path(), "API request refused: {error}");
    error.into_response()
}

/// The middleware: `axum::middleware::from_fn_with_state(auth.gate(role, clock), require)`.
/// 401 without a known key, 401 `key_expired`, 403 for a role too low, 429 over a limit.
pub async fn require(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match gate.admit(&parts) {
        Ok(caller) => {
            if let Some(caller) = caller {
                parts.extensions.insert(caller);
            }
            next.run(Request::from_parts(parts, body)).await
        }
        Err(turned) => turned.into_response(&parts),
    }
}

/// The name of the key a request was admitted with, for the record (operator
/// commands say who gave them); absent when no keys are configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// Whether a `Host` (or URI authority) names loopback: `localhost`, a loopback address
/// (`127.0.0.1`, `[::1]`), with or without a port.
pub fn is_loopback_authority(text: &str) -> bool {
    let text = text.trim();
    let port_ok = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    let host = if let Some(rest) = text.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(port_ok)) {
            return false;
        }
        inner
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if port_ok(port) => host,
            Some(_) => return false,
            None => text,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The browser checks of a keyless NEO: the request names a loopback host, and a web
/// page that made it was served from loopback too.
fn browser_check(headers: &HeaderMap, uri: &Uri) -> Result<(), AuthError> {
    let host = match headers.get(HOST) {
        Some(value) => Some(value.to_str().unwrap_or("(not text)").to_owned()),
        None => uri.authority().map(|a| a.as_str().to_owned()),
    };
    if let Some(host) = host
        && !is_loopback_authority(&host)
    {
        return Err(AuthError::MisdirectedHost(host));
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let text = origin.to_str().unwrap_or("(not text)");
        let authority = text
            .strip_prefix("http://")
            .or_else(|| text.strip_prefix("https://"));
        if !authority.is_some_and(is_loopback_authority) {
            return Err(AuthError::ForeignOrigin(text.to_owned()));
        }
    }
    Ok(())
}

/// The middleware on every non-webhook route: while no key is configured, 421
/// `misdirected_host` for a `Host` that is not loopback (a DNS-rebinding page) and 403
/// `forbidden_origin` for a foreign `Origin` (a cross-site form). With keys, it does nothing.
pub async fn loopback_only(State(auth): State<ApiAuth>, req: Request, next: Next) -> Response {
    if !auth.needs_keys()
        && let Err(error) = browser_check(req.headers(), req.uri())
    {
        let (parts, _) = req.into_parts();
        return refused(error, &parts);
    }
    next.run(req).await
}
