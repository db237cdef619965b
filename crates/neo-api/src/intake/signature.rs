//! The generic webhook's signature: `X-Neo-Signature: t=<unix seconds>,v1=<hex
//! HMAC-SHA256 of "<t>.<raw body>">`. The timestamp is inside the signed text,
//! so an old request cannot be re-dated; several `v1` entries let a sender sign
//! with the old and the new secret while keys rotate.

use std::collections::BTreeSet;

use neo_domain::Timestamp;
use ring::hmac;

use super::error::IntakeError;
use super::idempotency::Sender;

/// The header's name.
pub const SIGNATURE_HEADER: &str = "X-Neo-Signature";

/// The default tolerance between the signature's `t` and the verifier's clock, both ways.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Most `v1` entries one header may carry (key rotation needs two or three).
const MAX_SIGNATURES: usize = 8;

/// A parsed signature header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    /// The `t` as written (it is part of the signed text).
    pub t_text: String,
    /// `t` as unix seconds.
    pub t: i64,
    /// The `v1` signatures, decoded from hex (32 bytes each).
    pub v1: Vec<Vec<u8>>,
}

impl SignatureHeader {
    /// Parses `t=<digits>,v1=<64 hex>[,v1=...]`; spaces around entries are
    /// allowed and entries with other names (`v0=`) are ignored, so a later
    /// scheme can be added alongside. Exactly one `t` and at least one `v1`.
    pub fn parse(header: &str) -> Result<Self, IntakeError> {
        let malformed = |why: &str| IntakeError::MalformedSignature(why.to_owned());
        if header.trim().is_empty() {
            return Err(IntakeError::MissingSignature);
        }
        let mut t = None;
        let mut v1 = Vec::new();
        for entry in header.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| malformed("entries must be name=value"))?;
            match name.trim() {
                "t" => {
                    if t.is_some() {
                        return Err(malformed("more than one t"));
                    }
                    let value = value.trim();
                    if value.is_empty()
                        || value.len() > 18
                        || !value.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(malformed("t must be unix seconds (digits only)"));
                    }
                    let seconds = value
                        .parse::<i64>()
                        .map_err(|_| malformed("t must be unix seconds (digits only)"))?;
                    t = Some((value.to_owned(), seconds));
                }
                "v1" => {
                    if v1.len() == MAX_SIGNATURES {
                        return Err(malformed("too many v1 signatures"));
                    }
                    v1.push(
                        decode_hex(value.trim())
                            .ok_or_else(|| malformed("v1 must be 64 hex digits (HMAC-SHA256)"))?,
                    );
                }
                _ => {}
            }
        }
        let (t_text, t) = t.ok_or_else(|| malformed("no t=<unix seconds>"))?;
        if v1.is_empty() {
            return Err(malformed("no v1=<hex signature>"));
        }
        Ok(SignatureHeader { t_text, t, v1 })
    }
}

/// A signature that verified: its time and the matching signature (lower-case
/// hex), which is what a [`ReplayGuard`] should remember (the raw header can be
/// reordered or padded by a replayer; the signature cannot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The header's `t`, unix seconds.
    pub t: i64,
    /// The `v1` that matched, lower-case hex.
    pub signature: String,
    /// Who signed: the secret that matched, as a sender.
    pub sender: Sender,
}

/// Verifies the header against the raw body under any of `secrets` (several
/// while keys rotate), in constant time per comparison (`ring::hmac::verify`).
/// Returns `t`. Errors (all 401): no header, malformed header, `t` more than
/// `tolerance_secs` away from `now` either way, no signature matching.
/// Replays within the tolerance are the caller's to refuse (see [`ReplayGuard`]).
pub fn verify_signature(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: Timestamp,
    tolerance_secs: u64,
) -> Result<i64, IntakeError> {
    verify_signature_detailed(header, body, secrets, now, tolerance_secs).map(|v| v.t)
}

/// Like [`verify_signature`], also returning the signature that matched.
pub fn verify_signature_detailed(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: Timestamp,
    tolerance_secs: u64,
) -> Result<VerifiedSignature, IntakeError> {
    let parsed = SignatureHeader::parse(header)?;
    let now_secs = now.as_nanos().div_euclid(1_000_000_000);
    let tolerance = i64::try_from(tolerance_secs).unwrap_or(i64::MAX);
    if now_secs.abs_diff(parsed.t) > tolerance.unsigned_abs() {
        return Err(IntakeError::SignatureExpired {
            t: parsed.t,
            now_secs,
            tolerance_secs,
        });
    }
    let mut message = Vec::with_capacity(parsed.t_text.len() + 1 + body.len());
    message.extend_from_slice(parsed.t_text.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        for candidate in &parsed.v1 {
            if hmac::verify(&key, &message, candidate).is_ok() {
                return Ok(VerifiedSignature {
                    t: parsed.t,
                    signature: crate::hex::encode(candidate),
                    sender: Sender::holding(secret),
                });
            }
        }
    }
    Err(IntakeError::BadSignature)
}

/// The header value a sender puts on `body` at unix time `t` (for NEO's own
/// senders, `neo send-alert` and tests).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(t.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={t},v1={}", crate::hex::encode(ctx.sign().as_ref()))
}

/// A SHA-256 signature's 64 hex digits as bytes.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    crate::hex::decode(text)
}

/// What [`ReplayGuard::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// Not seen before: remembered now, process it.
    Fresh,
    /// Seen before within the tolerance: refuse it.
    Replay,
    /// The guard is full of live entries: refuse (fail closed) and retry later.
    Full,
}

/// Remembers verified `(t, signature)` pairs so a captured request cannot be
/// replayed within the tolerance. Bounded: it holds at most `capacity`
/// entries, and forgets those that can no longer pass verification anyway.
/// Without a clock, "can no longer pass" is judged from the newest `t` seen:
/// the verifier accepted it, so now >= newest - tolerance, and an entry with
/// `t < newest - 2 * tolerance` is older than now - tolerance.
#[derive(Debug, Clone)]
pub struct ReplayGuard {
    seen: BTreeSet<(i64, String)>,
    capacity: usize,
    tolerance_secs: i64,
    newest: i64,
}

impl ReplayGuard {
    /// A guard for signatures verified with `tolerance_secs`, holding at most `capacity` entries.
    pub fn new(capacity: usize, tolerance_secs: u64) -> Self {
        ReplayGuard {
            seen: BTreeSet::new(),
            capacity: capacity.max(1),
            tolerance_secs: i64::try_from(tolerance_secs).unwrap_or(i64::MAX / 4),
            newest: i64::MIN,
        }
    }

    /// True when `(t, sig)` is new (and now remembered); false for a replay or
    /// when the guard is full (see [`ReplayGuard::check`] to tell them apart).
    pub fn check_and_remember(&mut self, t: i64, sig: &str) -> bool {
        self.check(t, sig) == ReplayVerdict::Fresh
    }

    /// Classifies `(t, sig)` and remembers it when fresh. `sig` is compared
    /// ignoring ASCII case.
    pub fn check(&mut self, t: i64, sig: &str) -> ReplayVerdict {
        self.newest = self.newest.max(t);
        let horizon = self
            .newest
            .saturating_sub(self.tolerance_secs.saturating_mul(2));
        while let Some((oldest, _)) = self.seen.first() {
            if *oldest >= horizon {
                break;
            }
            self.seen.pop_first();
        }
        let entry = (t, sig.to_ascii_lowercase());
        if self.seen.contains(&entry) {
            return ReplayVerdict::Replay;
        }
        if self.seen.len() >= self.capacity {
            return ReplayVerdict::Full;
        }
        self.seen.insert(entry);
        ReplayVerdict::Fresh
    }

    /// Forgets `(t, sig)`: its request was not committed, so a retry of it is
    /// not a replay.
    pub fn forget(&mut self, t: i64, sig: &str) {
        self.seen.remove(&(t, sig.to_ascii_lowercase()));
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}
