//! The passphrase TradingView alerts carry in their body (TradingView cannot set
//! headers): compared in constant time, globally or per strategy, and never
//! printed.

use std::collections::BTreeMap;
use std::fmt;

use neo_domain::Issue;
use ring::hmac;
use serde::{Deserialize, Deserializer};

use super::error::IntakeError;
use super::idempotency::Sender;

/// A fixed key: HMAC here only maps both sides to equal-length tags, so the
/// comparison time depends on neither the secret's content nor its length.
const COMPARE_KEY: &[u8] = b"neo/intake/passphrase-compare/v1";

/// A secret text (a configured passphrase, or one an alert carried). Its
/// `Debug` prints `***`, so it cannot leak through logs or error messages.
#[derive(Clone)]
pub struct Secret {
    text: String,
    /// HMAC of the text under [`COMPARE_KEY`], computed once.
    tag: hmac::Tag,
}

impl Secret {
    /// Wraps a secret text.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let tag = hmac::sign(&compare_key(), text.as_bytes());
        Secret { text, tag }
    }

    /// The text, for the rare place that must send it on (never log it).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// True when nothing is configured (an empty secret authenticates nobody).
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Constant-time equality with a given text.
    pub fn matches(&self, given: &str) -> bool {
        !self.text.is_empty()
            && hmac::verify(&compare_key(), given.as_bytes(), self.tag.as_ref()).is_ok()
    }
}

fn compare_key() -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, COMPARE_KEY)
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl PartialEq for Secret {
    /// Constant time, like [`Secret::matches`].
    fn eq(&self, other: &Self) -> bool {
        hmac::verify(&compare_key(), other.text.as_bytes(), self.tag.as_ref()).is_ok()
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Checks an alert's passphrase against the expected secret, in constant time.
/// A missing passphrase is 401 `missing_passphrase`; a wrong one (or an empty
/// expected secret, which authenticates nobody) is 401 `bad_passphrase`.
pub fn check_passphrase(given: Option<&str>, expected: &Secret) -> Result<(), IntakeError> {
    let given = given.ok_or(IntakeError::MissingPassphrase)?;
    if expected.matches(given) {
        Ok(())
    } else {
        Err(IntakeError::BadPassphrase)
    }
}

/// The configured passphrases: one global secret and per-strategy secrets that
/// replace it for alerts naming that strategy (matched case-insensitively).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassphraseConfig {
    /// The secret for alerts whose strategy has none of its own.
    pub global: Option<Secret>,
    /// Strategy name -> its own secret.
    pub per_strategy: BTreeMap<String, Secret>,
}

impl PassphraseConfig {
    /// The secret an alert of `strategy` must carry: its own, else the global one.
    pub fn expected_for(&self, strategy: Option<&str>) -> Option<&Secret> {
        strategy
            .and_then(|name| {
                let name = name.trim();
                self.per_strategy
                    .iter()
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                    .map(|(_, secret)| secret)
            })
            .or(self.global.as_ref())
    }

    /// Checks an alert's passphrase and names the sender by it. With no secret
    /// configured for it, every alert is refused (fail closed): a server that
    /// wants an open endpoint must not call this.
    pub fn check(
        &self,
        given: Option<&str>,
        strategy: Option<&str>,
    ) -> Result<Sender, IntakeError> {
        match self.expected_for(strategy) {
            Some(expected) => check_passphrase(given, expected)
                .map(|()| Sender::holding(expected.expose().as_bytes())),
            None if given.is_none() => Err(IntakeError::MissingPassphrase),
            None => Err(IntakeError::BadPassphrase),
        }
    }

    /// Every problem with the configuration at once: empty secrets, strategy
    /// names that are blank or equal ignoring case.
    pub fn validate(&self) -> Result<(), Vec<Issue>> {
        let mut issues = Vec::new();
        if self.global.as_ref().is_some_and(Secret::is_empty) {
            issues.push(Issue::new("/global", "must not be empty"));
        }
        let mut seen: Vec<String> = Vec::new();
        for (name, secret) in &self.per_strategy {
            let path = format!("/per_strategy{}", super::error::pointer(name));
            let folded = name.trim().to_ascii_lowercase();
            if folded.is_empty() {
                issues.push(Issue::new(path.clone(), "strategy name must not be blank"));
            } else if seen.contains(&folded) {
                issues.push(Issue::new(
                    path.clone(),
                    "names the same strategy as another entry (names match ignoring case)",
                ));
            }
            seen.push(folded);
            if secret.is_empty() {
                issues.push(Issue::new(path, "must not be empty"));
            }
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }
}
