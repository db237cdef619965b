//! The intake handlers: parse, authenticate, normalize, commit, then answer 202.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{Envelope, MessageId, Timestamp, subject};
use neo_engine::flags::{FlagName, signal_unit};
use neo_engine::slo::SloName;
use neo_store::{InboxKey, Op, Unit, UnitOutcome};
use serde_json::{Value, json};

use super::id_secret::IdSecret;
use super::rest::media_type;
use super::{ApiError, AppState, GATEWAY_CONSUMER};
use crate::intake::{self, IdScope, IntakeError, ReplayVerdict, Secret, Sender, SignalIds};
use crate::metrics::names;
use crate::slo::SloBook;

/// How the body is to be read, from its content type.
enum Body {
    /// JSON, or a body to sniff (TradingView sends JSON as text/plain when the message parses).
    Alert,
    /// Refused.
    Unsupported(String),
}

fn body_kind(headers: &HeaderMap, json_only: bool) -> Body {
    let Some(media) = media_type(headers) else {
        return Body::Alert;
    };
    match media.as_str() {
        "application/json" => Body::Alert,
        "text/plain" | "" if !json_only => Body::Alert,
        _ => Body::Unsupported(media),
    }
}

fn read(state: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let limit = state.config.max_body_bytes;
    match body {
        Ok(bytes) if bytes.len() <= limit => Ok(bytes),
        Ok(_) => Err(ApiError::TooLarge { limit }),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError::TooLarge { limit })
        }
        Err(rejection) => Err(ApiError::UnreadableBody(rejection.body_text())),
    }
}

/// Counts a refused request by its error code.
fn counted<T>(result: Result<T, ApiError>) -> Result<T, ApiError> {
    if let Err(e) = &result {
        metrics::counter!(names::SIGNALS_REJECTED, "reason" => e.code()).increment(1);
    }
    result
}

/// The webhook-accept SLO's event: how long the answer took.
fn record_accept(slo: &SloBook, started: Timestamp, now: Timestamp) {
    #[allow(clippy::cast_precision_loss)]
    let secs = now.nanos_since(started).max(0) as f64 / 1e9;
    slo.record_latency(SloName::WebhookAccept, secs, now);
}

/// `POST /v1/webhooks/tradingview`: a TradingView alert, JSON or `key=value` text.
pub(super) async fn tradingview(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (slo, clock) = (state.slo.clone(), state.clock.clone());
    let started = clock();
    let answer = counted(tradingview_inner(state, headers, body).await);
    record_accept(&slo, started, clock());
    answer
}

/// `POST /v1/webhooks/generic`: a SignalEventV1-shaped body signed with `X-Neo-Signature`.
pub(super) async fn generic(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (slo, clock) = (state.slo.clone(), state.clock.clone());
    let started = clock();
    let answer = counted(generic_inner(state, headers, body).await);
    record_accept(&slo, started, clock());
    answer
}

async fn tradingview_inner(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Body::Unsupported(got) = body_kind(&headers, false) {
        return Err(ApiError::UnsupportedMediaType {
            got,
            accepts: "application/json or text/plain",
        });
    }
    let body = read(&state, body)?;
    let received_at = (state.clock)();
    // Authenticate first: an unauthenticated body is told nothing about its content.
    let document = intake::read_document(&body);
    let (passphrase, strategy) = match &document {
        Ok(doc) => doc.credentials(),
        Err(_) => intake::scan_credentials(&body),
    };
    let given = passphrase.as_ref().map(Secret::expose);
    let sender = state.passphrases.check(given, strategy.as_deref())?;
    let raw = document?.into_alert(received_at)?;
    let ids = state.signal_ids().await?;
    let scope = IdScope {
        ids,
        sender: &sender,
        bucket: state.bucket(),
    };
    let signal = intake::normalize(
        raw,
        SignalSource::Tradingview,
        &state.config.priority,
        received_at,
        &scope,
    )?;
    if let Some(book) = &state.flags {
        let unit = signal_unit(signal.strategy.as_deref(), signal.instrument);
        if !book.is_on(FlagName::TvSlice, &unit) {
            return Err(ApiError::IntakeDisabled {
                flag: FlagName::TvSlice.as_str(),
                unit,
            });
        }
    }
    let window = state.config.freshness_secs;
    if window > 0 {
        intake::check_freshness(
            signal.ts_event,
            received_at,
            std::time::Duration::from_secs(window),
        )?;
    }
    accept(&state, signal, received_at, &scope).await
}

async fn generic_inner(
    state: AppState,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Body::Unsupported(got) = body_kind(&headers, true) {
        return Err(ApiError::UnsupportedMediaType {
            got,
            accepts: "application/json",
        });
    }
    let body = read(&state, body)?;
    let now = (state.clock)();
    let signature = headers
        .get(intake::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Intake(IntakeError::MissingSignature))?;
    let secrets: Vec<&[u8]> = state
        .config
        .signing_secrets
        .iter()
        .map(|s| s.expose().as_bytes())
        .collect();
    let verified = intake::verify_signature_detailed(
        signature,
        &body,
        &secrets,
        now,
        state.config.signature_tolerance_secs,
    )?;
    match state.replays().check(verified.t, &verified.signature) {
        ReplayVerdict::Fresh => {}
        ReplayVerdict::Replay => return Err(ApiError::Replayed),
        ReplayVerdict::Full => return Err(ApiError::ReplayGuardFull),
    }
    let answer = signed(&state, &body, now, &verified.sender).await;
    if answer.is_err() {
        // Not committed: a retry of this request is not a replay.
        state.replays().forget(verified.t, &verified.signature);
    }
    answer
}

/// The signed body, once its signature is held by the replay guard.
async fn signed(
    state: &AppState,
    body: &[u8],
    now: Timestamp,
    sender: &Sender,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ids = state.signal_ids().await?;
    let scope = IdScope {
        ids,
        sender,
        bucket: state.bucket(),
    };
    let signal = intake::parse_generic(body, now, &scope)?;
    accept(state, signal, now, &scope).await
}

/// Commits the signal, its outbox envelope and its inbox key together. A key
/// seen before is the same alert again (202, `duplicate: true`) when its content
/// matches what was accepted, and a 409 `idempotency_conflict` naming the
/// fields that differ when it does not.
async fn accept(
    state: &AppState,
    signal: SignalEventV1,
    received_at: Timestamp,
    scope: &IdScope<'_>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if let Some(previous) = scope.previous_bucket_id(&signal, received_at)
        && state
            .store
            .handled(GATEWAY_CONSUMER, &[previous])
            .await?
            .contains(&previous)
    {
        // Resent across a bucket boundary: still the alert accepted a moment ago.
        metrics::counter!(names::SIGNALS_DUPLICATE, "source" => signal.source.as_str())
            .increment(1);
        return Ok(answer(previous, true));
    }
    let (id, source) = (signal.id, signal.source);
    let subject =
        subject::signal_normalized(signal.priority, signal.instrument, signal.signal_type);
    let envelope = Envelope::new(id, subject, signal.clone(), received_at, id, None)
        .into_json()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let unit = Unit {
        inbox: Some(InboxKey::new(GATEWAY_CONSUMER, id)),
        ops: vec![Op::InsertSignal(signal.clone())],
        outbox: vec![envelope],
    };
    let outcome = state.writer.commit(vec![unit]).await?;
    let duplicate = matches!(outcome.first(), Some(UnitOutcome::AlreadyHandled));
    tracing::info!(
        signal_id = %id,
        source = %source,
        instrument = %signal.instrument,
        duplicate,
        "alert accepted"
    );
    if duplicate {
        conflict_check(state, &signal).await?;
        metrics::counter!(names::SIGNALS_DUPLICATE, "source" => source.as_str()).increment(1);
    } else {
        state.wake_relay();
        metrics::counter!(names::SIGNALS_ACCEPTED, "source" => source.as_str()).increment(1);
    }
    Ok(answer(id, duplicate))
}

/// A duplicate's content against the alert first accepted under its id.
async fn conflict_check(state: &AppState, again: &SignalEventV1) -> Result<(), ApiError> {
    let Some(first) = state.store.get_signal(again.id).await? else {
        return Ok(());
    };
    let fields = intake::differing_fields(&first, again);
    if fields.is_empty() {
        Ok(())
    } else {
        Err(ApiError::IdempotencyConflict { fields })
    }
}

fn answer(id: MessageId, duplicate: bool) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "signal_id": id.to_string(), "duplicate": duplicate })),
    )
}

impl AppState {
    /// The installation's id derivation, loaded (or created) on first use.
    async fn signal_ids(&self) -> Result<&SignalIds, ApiError> {
        let secret = self
            .ids
            .get_or_try_init(|| {
                IdSecret::load(
                    self.config.id_secret.as_ref(),
                    &self.store,
                    &self.writer,
                    (self.clock)(),
                )
            })
            .await?;
        Ok(secret.ids())
    }

    /// The replay guard (a poisoned lock only means another request panicked
    /// mid-check; the guard's set is intact).
    fn replays(&self) -> std::sync::MutexGuard<'_, intake::ReplayGuard> {
        self.replays
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
