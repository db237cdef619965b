//! `[api]` in the config file: the API keys that may call the read and operator
//! endpoints, and whether `/metrics` needs one. Only each key's SHA-256 is
//! configured, so the file never holds a key.

use std::collections::BTreeSet;

use neo_domain::Timestamp;
use serde::Deserialize;

use super::Role;

/// `[api]`: who may call the REST API (webhooks keep their passphrase or signature).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// `[[api.keys]]`: any number; several at once let a key be rotated without downtime.
    pub keys: Vec<ApiKeyConfig>,
    /// Serve `/metrics` without a key (a scraper on a private network); default false.
    pub public_metrics: bool,
}

/// One `[[api.keys]]` entry, as written (checked by [`ApiConfig::validate`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiKeyConfig {
    /// Who holds the key (logs and the expiry gauge name it; the key itself never appears).
    pub name: String,
    /// `read` (every read endpoint) or `admin` (also operator actions and the risk check).
    pub role: String,
    /// The key's SHA-256 as 64 hex digits, as `neo keys new` prints it.
    pub sha256: String,
    /// RFC 3339 instant from which the key is refused (optional).
    pub expires: Option<String>,
}

/// Longest key name: it labels a metric series and log lines.
pub const MAX_NAME_LEN: usize = 64;

impl ApiKeyConfig {
    /// The role, if the text names one.
    pub fn parsed_role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    /// The digest, if the text is 64 hex digits.
    pub fn parsed_digest(&self) -> Option<[u8; 32]> {
        crate::hex::decode(self.sha256.trim())?.try_into().ok()
    }

    /// The expiry, `Ok(None)` when there is none.
    pub fn parsed_expires(&self) -> Result<Option<Timestamp>, String> {
        self.expires
            .as_deref()
            .map(|text| Timestamp::parse_rfc3339(text.trim()).map_err(|e| e.to_string()))
            .transpose()
    }

    fn problems(&self, at: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !name_ok {
            problems.push(format!(
                "{at}.name {:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-', '_' or '.'",
                self.name
            ));
        }
        if self.parsed_role().is_none() {
            problems.push(format!(
                "{at}.role {:?} must be \"read\" or \"admin\"",
                self.role
            ));
        }
        if self.parsed_digest().is_none() {
            let hint = if self.sha256.starts_with(super::KEY_PREFIX) {
                " (this looks like the key itself: configure only its SHA-256, never the key)"
            } else {
                ""
            };
            problems.push(format!(
                "{at}.sha256 must be the key's SHA-256 as 64 hex digits, as `neo keys new` prints it{hint}"
            ));
        }
        if let Err(e) = self.parsed_expires() {
            problems.push(format!(
                "{at}.expires: {e} (write e.g. 2027-06-30T00:00:00Z)"
            ));
        }
        problems
    }
}

impl ApiConfig {
    /// Every problem, at once: bad names, roles, digests and expiries, and duplicates.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut names = BTreeSet::new();
        let mut digests = BTreeSet::new();
        for (i, key) in self.keys.iter().enumerate() {
            let at = format!("api.keys[{i}]");
            problems.extend(key.problems(&at));
            if !key.name.is_empty() && !names.insert(key.name.as_str()) {
                problems.push(format!(
                    "{at}.name {:?} is used by another key: names must be unique",
                    key.name
                ));
            }
            if let Some(digest) = key.parsed_digest()
                && !digests.insert(digest)
            {
                problems.push(format!(
                    "{at}.sha256 is the same as another key's: the same key cannot have two names"
                ));
            }
        }
        problems
    }

    /// Whether any key is configured (the API then needs one; without, NEO serves loopback only).
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }
}
