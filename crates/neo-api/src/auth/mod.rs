//! Who may call what on the REST API. With `[[api.keys]]` configured, every read
//! endpoint needs a `read` or `admin` key and operator actions an `admin` one,
//! sent as `Authorization: Bearer <key>`; without keys NEO serves loopback only
//! and refuses requests addressed to another host or made by a web page on
//! another origin (DNS rebinding and CSRF defences). Webhooks keep their own
//! passphrase or signature, and health, readiness and the API docs stay open.
//!
//! Wiring: the server's `router()` puts [`require`] (via [`ApiAuth::gate`]) on
//! each protected route and [`loopback_only`] on every non-webhook route.

mod config;
mod error;
mod expiry;
mod keys;
mod middleware;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

pub use config::{ApiConfig, ApiKeyConfig, MAX_NAME_LEN};
pub use error::AuthError;
pub use expiry::{EXPIRY_WARNING_SECS, KeyNotice, KeyStatus, publish_expiry, spawn_expiry_watch};
pub use keys::{ApiKey, ApiKeys, KeyConfigError, KeyGenError, NewKey, key_digest_hex};
pub use middleware::{Caller, Gate, bearer_key, is_loopback_authority, loopback_only, require};

use crate::guard::Guards;

/// Every key NEO makes starts with this, so a leaked one is easy to search for.
pub const KEY_PREFIX: &str = "neo_";

/// What a key may do; `admin` includes everything `read` may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Signals, orders, positions, portfolio, tickers, the trading state, metrics.
    Read,
    /// Also halt, resume, flatten and the risk check.
    Admin,
}

impl Role {
    /// The config spelling (`read`, `admin`), if `text` is one.
    pub fn parse(text: &str) -> Option<Role> {
        match text.trim() {
            "read" => Some(Role::Read),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Admin => "admin",
        }
    }

    /// Whether a key with this role may call an endpoint needing `needed`.
    pub fn reaches(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The API's access policy, shared by every request: the keys, whether metrics are
/// public, and the rate limits the REST API has of its own (per address and per key).
#[derive(Debug, Clone, Default)]
pub struct ApiAuth {
    keys: Arc<ApiKeys>,
    public_metrics: bool,
    limits: Option<Guards>,
}

impl ApiAuth {
    /// The policy of an `[api]` section (checked: every problem at once).
    pub fn new(config: &ApiConfig) -> Result<ApiAuth, KeyConfigError> {
        Ok(ApiAuth {
            keys: Arc::new(ApiKeys::from_config(config)?),
            public_metrics: config.public_metrics,
            limits: None,
        })
    }

    /// Rate limits for the REST API once keys are configured, separate from the webhooks'
    /// buckets; build them without an allow list (it names webhook senders, not operators).
    pub fn with_limits(mut self, limits: Guards) -> Self {
        self.limits = Some(limits);
        self
    }

    /// The configured keys.
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }

    /// Whether the API needs keys (otherwise it serves loopback only).
    pub fn needs_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Whether `/metrics` is open (configured so, or no keys at all).
    pub fn public_metrics(&self) -> bool {
        self.public_metrics || self.keys.is_empty()
    }

    /// The middleware state for routes needing `role`, judged at the time `clock` tells.
    pub fn gate(&self, role: Role, clock: crate::server::Clock) -> Gate {
        Gate::new(self.clone(), role, clock)
    }

    fn limits(&self) -> Option<&Guards> {
        self.limits.as_ref()
    }
}
