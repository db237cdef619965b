//! Webhook intake, the pure part: what a sender posts becomes a checked
//! `SignalEventV1`, or an [`IntakeError`] that says what to fix (status, code,
//! every problem with its JSON path). No I/O and no clock: time comes in as a
//! parameter, so every rule is a plain function to test.
//!
//! The flow for a TradingView alert:
//! [`parse_alert`] (or [`parse_tradingview_json`] / [`parse_plain_text`]) ->
//! [`PassphraseConfig::check`] -> [`normalize`] -> optionally [`check_freshness`].
//! For the generic webhook: [`verify_signature_detailed`] -> [`ReplayGuard`] ->
//! [`parse_generic`].

mod error;
mod fields;
mod generic;
mod idempotency;
mod json;
mod normalize;
mod passphrase;
mod priority;
mod raw;
mod signature;
mod text;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_strict;

pub use error::{IntakeError, Problem, ProblemKind};
pub use generic::parse_generic;
pub use idempotency::{DEFAULT_BUCKET, IdScope, Sender, SignalIds, differing_fields};
pub use json::parse_tradingview_json;
pub use normalize::{check_freshness, infer_type, normalize};
pub use passphrase::{PassphraseConfig, Secret, check_passphrase};
pub use priority::PriorityRules;
pub use raw::{MarketPosition, RawAlert};
pub use signature::{
    DEFAULT_TOLERANCE_SECS, ReplayGuard, ReplayVerdict, SIGNATURE_HEADER, SignatureHeader,
    VerifiedSignature, sign, verify_signature, verify_signature_detailed,
};
pub use text::{AlertDocument, parse_alert, parse_plain_text, read_document, scan_credentials};
