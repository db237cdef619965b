//! Operator control: the trading state, halt and resume, and flatten.
//!
//! A change is a `TradingCommandV1` committed to the outbox (with an inbox key,
//! so a retried request with the same `Idempotency-Key` changes nothing twice)
//! and applied by the desk in order with the signals. The answer waits for the
//! desk's audit of the command (up to [`WAIT`]): 200 with the outcome and the
//! state after it, 409 when risk refused it, or 202 with the command id when
//! the desk has not got to it yet.

use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use neo_domain::contracts::{TradingAction, TradingCommandV1};
use neo_domain::{Envelope, IdKind, Issue, MessageId, subject};
use neo_engine::risk::TradingStatus;
use neo_store::{InboxKey, Op, Unit, UnitOutcome};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rest::{json_body, live, require_json, status_json};
use super::{ApiError, AppState, GATEWAY_CONSUMER};
use crate::auth::Caller;

/// How long a request waits for the desk to apply its command.
pub(super) const WAIT: Duration = Duration::from_secs(5);

/// The audit action the desk writes when it applied or refused a command.
pub const TRADING_COMMAND_AUDIT: &str = "trading.command";

/// `POST /v1/trading/state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateBody {
    state: String,
    reason: String,
}

/// `POST /v1/trading/flatten`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlattenBody {
    reason: String,
}

/// `GET /v1/trading/state`: `{"state", "reason", "since", "by", "cause"}`.
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(status_json(&live(&state)?.trading_status()?)))
}

/// `POST /v1/trading/state` with `{"state": "halted" | "active", "reason"}`.
pub(super) async fn set_state(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: StateBody = parse(
        &headers,
        &body,
        "{\"state\": \"halted\" | \"active\", \"reason\": \"...\"}",
    )?;
    let action = match body.state.as_str() {
        "halted" => TradingAction::Halt,
        "active" => TradingAction::Resume,
        other => {
            return Err(ApiError::Invalid {
                message: format!("state must be \"halted\" or \"active\", got {other:?}"),
                details: vec![Issue::new("/state", "must be halted or active")],
            });
        }
    };
    submit(&state, &headers, action, body.reason, by(caller)).await
}

/// `POST /v1/trading/flatten` with `{"reason"}`.
pub(super) async fn flatten(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body: FlattenBody = parse(&headers, &body, "{\"reason\": \"...\"}")?;
    submit(
        &state,
        &headers,
        TradingAction::Flatten,
        body.reason,
        by(caller),
    )
    .await
}

/// Who gave a command: the operator, named by the API key it came with.
pub(super) fn by(caller: Option<Extension<Caller>>) -> String {
    match caller {
        Some(Extension(Caller(name))) => format!("operator:{name}"),
        None => "operator".to_owned(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    shape: &str,
) -> Result<T, ApiError> {
    require_json(headers)?;
    json_body(body, &format!("the body must be {shape}"))
}

async fn submit(
    state: &AppState,
    headers: &HeaderMap,
    action: TradingAction,
    reason: String,
    by: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    live(state)?;
    let now = (state.clock)();
    let id = command_id(headers, action, now)?;
    let command = TradingCommandV1 {
        id,
        action,
        reason: reason.trim().to_owned(),
        by,
        ts_event: now,
    };
    let issues = neo_domain::Contract::check(&command);
    if !issues.is_empty() {
        return Err(ApiError::Invalid {
            message: "the command is not valid".to_owned(),
            details: issues,
        });
    }
    let envelope = Envelope::new(id, subject::operator_trading(), command, now, id, None)
        .into_json()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let unit = Unit {
        inbox: Some(InboxKey::new(GATEWAY_CONSUMER, id)),
        ops: Vec::<Op>::new(),
        outbox: vec![envelope],
    };
    let outcome = state.writer.commit(vec![unit]).await?;
    let duplicate = matches!(outcome.first(), Some(UnitOutcome::AlreadyHandled));
    if !duplicate {
        state.wake_relay();
    }
    answer(state, id, duplicate).await
}

/// The command's id: from `Idempotency-Key` and the action when given (a retry
/// is the same command; a key reused for another action is another command), else new.
fn command_id(
    headers: &HeaderMap,
    action: TradingAction,
    now: neo_domain::Timestamp,
) -> Result<MessageId, ApiError> {
    if let Some(key) = headers.get("idempotency-key") {
        let key = key
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .ok_or_else(|| {
                ApiError::BadRequest("Idempotency-Key must be 1 to 255 visible characters".into())
            })?;
        return Ok(MessageId::derived(
            IdKind::Other,
            &format!("trading-command:{}:{key}", action.as_str()),
        ));
    }
    let mut random = [0u8; 10];
    SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| ApiError::Internal("no randomness for a command id".to_owned()))?;
    Ok(MessageId::v7(now, random))
}

/// Waits for the desk's audit of the command and answers with it.
async fn answer(
    state: &AppState,
    id: MessageId,
    duplicate: bool,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let applied = state
            .store
            .audit_for(id)
            .await?
            .into_iter()
            .find(|a| a.action == TRADING_COMMAND_AUDIT);
        if let Some(audit) = applied {
            let d = audit.details;
            if d["outcome"] == "refused" {
                return Err(ApiError::Conflict {
                    code: "state_change_refused",
                    message: d["message"].as_str().unwrap_or("refused").to_owned(),
                });
            }
            // The state as the desk left it right after the command (the audit holds it),
            // so a gateway in another process answers as exactly as one beside the desk.
            let status = match serde_json::from_value::<TradingStatus>(d["status"].clone()) {
                Ok(status) => status,
                Err(_) => live(state)?.trading_status()?,
            };
            let mut body = json!({
                "command_id": id.to_string(),
                "duplicate": duplicate,
                "outcome": d["outcome"],
                "trading": status_json(&status),
            });
            if let (Value::Object(b), Some(report)) = (&mut body, d.get("flatten")) {
                b.insert("flatten".to_owned(), report.clone());
            }
            return Ok((StatusCode::OK, Json(body)));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((
                StatusCode::ACCEPTED,
                Json(
                    json!({ "command_id": id.to_string(), "duplicate": duplicate, "outcome": "pending" }),
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
