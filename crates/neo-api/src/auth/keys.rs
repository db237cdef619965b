//! The configured keys at run time: each a name, a role, a SHA-256 digest and
//! an optional expiry. A presented key is hashed and compared with every digest
//! in fixed time, so neither the key nor how much of it matched leaks; keys
//! are made here too (`neo keys new`), from the system's secure random source.

use std::fmt;

use neo_domain::Timestamp;
use ring::rand::{SecureRandom, SystemRandom};

use super::config::ApiConfig;
use super::{KEY_PREFIX, Role};

/// Why the keys could not be built from their config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyConfigError {
    /// The `[api]` section has problems; each entry says what to fix.
    #[error("invalid [api] config: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Why a key could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyGenError {
    /// The system's random source failed (it should not; nothing was printed).
    #[error("the system random source failed")]
    Random,
}

/// One configured key: who holds it and what it may do; the key itself is not kept.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The holder's name from the config.
    pub name: String,
    /// What the key may call.
    pub role: Role,
    /// From this instant on the key is refused.
    pub expires: Option<Timestamp>,
    digest: [u8; 32],
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// Whether the key is refused at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires.is_some_and(|at| now >= at)
    }
}

/// Every configured key; empty means the API is served to loopback without keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

impl ApiKeys {
    /// Checks the config (every problem at once) and keeps names, roles, digests and expiries.
    pub fn from_config(config: &ApiConfig) -> Result<ApiKeys, KeyConfigError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(KeyConfigError::Invalid(problems));
        }
        let mut keys = Vec::with_capacity(config.keys.len());
        for (i, key) in config.keys.iter().enumerate() {
            let bad = || KeyConfigError::Invalid(vec![format!("api.keys[{i}] is invalid")]);
            keys.push(ApiKey {
                name: key.name.clone(),
                role: key.parsed_role().ok_or_else(bad)?,
                expires: key.parsed_expires().map_err(|_| bad())?,
                digest: key.parsed_digest().ok_or_else(bad)?,
            });
        }
        Ok(ApiKeys { keys })
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys, in configured order.
    pub fn keys(&self) -> &[ApiKey] {
        &self.keys
    }

    /// The configured key whose digest is the presented key's. Every digest is compared,
    /// each in fixed time, so the answer's timing says nothing about which (or how much) matched.
    pub fn identify(&self, presented: &str) -> Option<&ApiKey> {
        let digest = sha256(presented.as_bytes());
        let mut found = None;
        for key in &self.keys {
            if same_digest(&key.digest, &digest) && found.is_none() {
                found = Some(key);
            }
        }
        found
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

/// Compares two digests touching every byte, with no branch on their contents.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The SHA-256 of a key as 64 hex digits, the form `[[api.keys]] sha256` takes.
pub fn key_digest_hex(key: &str) -> String {
    crate::hex::encode(&sha256(key.as_bytes()))
}

/// A freshly made key: shown once to the operator, then only its digest is configured.
#[derive(Clone, PartialEq, Eq)]
pub struct NewKey {
    key: String,
    sha256: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("sha256", &self.sha256)
            .finish_non_exhaustive()
    }
}

impl NewKey {
    /// `neo_` and 32 random bytes in hex (256 bits: guessing is hopeless, so no lockout is needed).
    pub fn generate() -> Result<NewKey, KeyGenError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KeyGenError::Random)?;
        let key = format!("{KEY_PREFIX}{}", crate::hex::encode(&bytes));
        Ok(NewKey {
            sha256: key_digest_hex(&key),
            key,
        })
    }

    /// The key itself, to hand to its holder once.
    pub fn expose(&self) -> &str {
        &self.key
    }

    /// Its SHA-256 in hex, for the config.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The `[[api.keys]]` lines to paste into `neo.toml`.
    pub fn config_lines(&self, name: &str, role: Role, expires: Option<Timestamp>) -> String {
        let mut lines = format!(
            "[[api.keys]]\nname = {name:?}\nrole = \"{}\"\nsha256 = \"{}\"\n",
            role.as_str(),
            self.sha256
        );
        if let Some(at) = expires {
            lines.push_str(&format!("expires = \"{at}\"\n"));
        }
        lines
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::auth::config::ApiKeyConfig;

    #[test]
    fn digests_compare_equal_only_when_every_byte_is() {
        let a = sha256(b"one");
        let mut b = a;
        assert!(same_digest(&a, &b));
        b[31] ^= 1;
        assert!(!same_digest(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!same_digest(&a, &b));
    }

    #[test]
    fn a_new_key_is_prefixed_random_and_identified_by_its_digest() {
        let one = NewKey::generate().unwrap();
        let two = NewKey::generate().unwrap();
        assert_ne!(one.expose(), two.expose());
        assert!(one.expose().starts_with(KEY_PREFIX));
        assert_eq!(one.expose().len(), KEY_PREFIX.len() + 64);
        assert!(!format!("{one:?}").contains(one.expose()));
        let config = ApiConfig {
            keys: vec![ApiKeyConfig {
                name: "ops".into(),
                role: "admin".into(),
                sha256: one.sha256().to_owned(),
                expires: None,
            }],
            public_metrics: false,
        };
        let keys = ApiKeys::from_config(&config).unwrap();
        assert_eq!(keys.identify(one.expose()).unwrap().name, "ops");
        assert!(keys.identify(two.expose()).is_none());
        assert!(keys.identify("").is_none());
        assert!(!format!("{keys:?}").contains(one.sha256()));
    }

    #[test]
    fn config_lines_carry_the_digest_and_expiry_never_the_key() {
        let key = NewKey::generate().unwrap();
        let at = Timestamp::parse_rfc3339("2027-06-30T00:00:00Z").unwrap();
        let lines = key.config_lines("ci", Role::Read, Some(at));
        assert!(
            lines.contains("expires = \"2027-06-30T00:00:00Z\""),
            "{lines}"
        );
        assert!(!lines.contains(key.expose()));
        assert_eq!(key_digest_hex(key.expose()), key.sha256());
    }
}
