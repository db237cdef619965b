//! The read API: signals and the whole story of each, orders, positions, the
//! portfolio, tickers, and a dry-run risk check. Stored things come from the
//! store; live things (quotes, the account, risk) from the running desk
//! behind [`Live`], which answers 503 when no desk runs in this process.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use neo_domain::contracts::{AuditEventV1, CandleV1, OrderIntentV1};
use neo_domain::{InstrumentId, Issue, MessageId, Price, Quantity, Timestamp};
use neo_engine::desk::AccountSummary;
use neo_engine::risk::{Refusal, TradingStatus};
use neo_store::Cursor;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApiError, AppState};

/// One instrument's market now (`GET /v1/tickers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticker {
    /// Canonical symbol.
    pub instrument: String,
    /// Last trade price.
    pub price: Price,
    /// Best bid.
    pub bid: Option<Price>,
    /// Best ask.
    pub ask: Option<Price>,
    /// Volume traded since the feed started.
    pub volume: Quantity,
    /// Time of the last tick.
    pub ts: Timestamp,
}

/// What the running pipeline shares with the API: quotes, the account, risk, the bus.
pub trait Live: Send + Sync + 'static {
    /// Every instrument's latest quote, in symbol order.
    fn tickers(&self) -> Vec<Ticker>;
    /// The account now (or as the desk last published it, in another process).
    fn portfolio(&self, now: Timestamp) -> Result<AccountSummary, LiveError>;
    /// Judges an intent against the live account without acting on it; only a
    /// process holding the desk can.
    fn risk_check(
        &self,
        intent: OrderIntentV1,
        now: Timestamp,
    ) -> Result<Result<(), Refusal>, LiveError>;
    /// Whether the bus is usable (for `/ready`).
    fn bus_ready(&self) -> Result<(), String>;
    /// The trading state, since when, why and by whom.
    fn trading_status(&self) -> Result<TradingStatus, LiveError>;
    /// The instrument's newest `count` closed candles, oldest first (the feed's interval).
    fn candles(&self, instrument: InstrumentId, count: usize) -> Vec<CandleV1>;
    /// What the desk is using about the instrument: indicators, regime, quote, position.
    fn briefing(&self, instrument: InstrumentId, now: Timestamp) -> Result<Value, LiveError>;
    /// Market data's source, connection and each instrument's freshness (for `/ready`).
    fn market(&self, now: Timestamp) -> Value;
}

/// Why a live answer cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The desk is elsewhere or not running yet (503).
    #[error("{0}")]
    Unavailable(String),
    /// The desk failed to compute it (a bug; 500).
    #[error("{0}")]
    Failed(String),
}

impl From<LiveError> for ApiError {
    fn from(e: LiveError) -> Self {
        match e {
            LiveError::Unavailable(m) => ApiError::DeskUnavailable(m),
            LiveError::Failed(m) => ApiError::Internal(m),
        }
    }
}

/// A JSON body as `T`, or 422 naming the first field that does not fit (as a JSON pointer).
pub(super) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    message: &str,
) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let pointer = if path == "." {
            String::new()
        } else {
            format!("/{}", path.replace('.', "/"))
        };
        ApiError::Invalid {
            message: message.to_owned(),
            details: vec![Issue::new(pointer, e.into_inner().to_string())],
        }
    })
}

/// The trading state as the operator API shows it.
pub(super) fn status_json(status: &TradingStatus) -> Value {
    json!({
        "state": status.state,
        "reason": status.cause.reason(),
        "since": status.since,
        "by": status.cause.by(),
        "cause": status.cause,
    })
}

/// `?limit=&cursor=` on listings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

const MAX_LIMIT: u32 = 500;

/// `?limit=&cursor=` read so that a malformed query is a JSON 400 like every
/// other refusal (axum's own `Query` answers text/plain).
pub(super) struct Page(PageQuery);

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<PageQuery>::try_from_uri(&parts.uri)
            .map(|Query(q)| Page(q))
            .map_err(|e| ApiError::BadRequest(format!("bad query string: {}", e.body_text())))
    }
}

/// A request's media type, lower-case and without parameters (`None` when it
/// sent no `Content-Type`; an unreadable one reads as empty).
pub(super) fn media_type(headers: &HeaderMap) -> Option<String> {
    headers.get(axum::http::header::CONTENT_TYPE).map(|v| {
        v.to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })
}

/// A JSON body's content type: `application/json` (or `+json`), else 415, so a
/// cross-site form cannot post a text body the JSON reader would accept.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers).as_deref() {
        Some("application/json") => Ok(()),
        Some(m) if m.starts_with("application/") && m.ends_with("+json") => Ok(()),
        other => Err(ApiError::UnsupportedMediaType {
            got: other.unwrap_or("").to_owned(),
            accepts: "application/json",
        }),
    }
}

impl PageQuery {
    fn parse(&self) -> Result<(u32, Option<Cursor>), ApiError> {
        let limit = self.limit.unwrap_or(50);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {limit}"
            )));
        }
        let cursor = match &self.cursor {
            None => None,
            Some(text) => Some(decode_cursor(text).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "cursor {text:?} is not one this API returned (use the `next` value as is)"
                ))
            })?),
        };
        Ok((limit, cursor))
    }
}

/// `<nanos>_<uuid>`: opaque to clients, stable across restarts.
fn encode_cursor(c: Cursor) -> String {
    format!("{}_{}", c.ts.as_nanos(), c.id)
}

fn decode_cursor(text: &str) -> Option<Cursor> {
    let (ts, id) = text.split_once('_')?;
    Some(Cursor {
        ts: Timestamp::from_nanos(ts.parse().ok()?),
        id: id.parse().ok()?,
    })
}

fn page_json<T: Serialize>(items: Vec<T>, next: Option<Cursor>) -> Json<Value> {
    Json(json!({ "items": items, "next": next.map(encode_cursor) }))
}

fn parse_id(text: &str) -> Result<MessageId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "{text:?} is not a signal id (a UUID like the 202 answer gave)"
        ))
    })
}

pub(super) fn live(state: &AppState) -> Result<&dyn Live, ApiError> {
    state
        .live
        .as_deref()
        .ok_or_else(|| ApiError::DeskUnavailable("no trading desk runs in this process".to_owned()))
}

/// `GET /v1/signals`: newest first.
pub(super) async fn signals(
    State(state): State<AppState>,
    Page(q): Page,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = q.parse()?;
    let page = state.store.list_signals(limit, cursor).await?;
    Ok(page_json(page.items, page.next))
}

/// `GET /v1/signals/{id}`: the signal, what was decided, ordered, filled and sent.
pub(super) async fn story(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let Some(signal) = state.store.get_signal(id).await? else {
        return Err(ApiError::NotFound(format!("no signal {id}")));
    };
    let orders = state.store.orders_for_signal(id).await?;
    let fills = state.store.fills_for_signal(id).await?;
    let audit = state.store.audit_for(id).await?;
    let pick = |prefix: &str| -> Vec<Value> {
        audit
            .iter()
            .filter(|a| a.action.starts_with(prefix))
            .map(|a: &AuditEventV1| a.details.clone())
            .collect()
    };
    let status = if !fills.is_empty() {
        "filled"
    } else if audit.iter().any(|a| a.action == "refusal") {
        "refused"
    } else if audit.iter().any(|a| a.action == "decision") {
        "decided"
    } else {
        "accepted"
    };
    Ok(Json(json!({
        "signal": signal,
        "status": status,
        "decisions": pick("decision"),
        "agents": pick("agent_output"),
        "intents": pick("intent"),
        "refusals": pick("refusal"),
        "orders": orders,
        "fills": fills,
        "notifications": pick("notification"),
    })))
}

/// `GET /v1/orders`: newest first.
pub(super) async fn orders(
    State(state): State<AppState>,
    Page(q): Page,
) -> Result<Json<Value>, ApiError> {
    let (limit, cursor) = q.parse()?;
    let page = state.store.list_orders(limit, cursor).await?;
    Ok(page_json(page.items, page.next))
}

/// `GET /v1/positions`: every instrument that traded.
pub(super) async fn positions(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let positions = state.store.list_positions().await?;
    Ok(Json(json!({ "items": positions })))
}

/// `GET /v1/portfolio`: cash, equity, PnL, drawdown, trading state.
pub(super) async fn portfolio(
    State(state): State<AppState>,
) -> Result<Json<AccountSummary>, ApiError> {
    let now = (state.clock)();
    Ok(Json(live(&state)?.portfolio(now)?))
}

/// `GET /v1/tickers`: the simulated (or live) market now.
pub(super) async fn tickers(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": live(&state)?.tickers() })))
}

/// `POST /v1/risk/check`: an OrderIntentV1 in; approved, or refused with every reason.
pub(super) async fn risk_check(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    require_json(&headers)?;
    let intent: OrderIntentV1 = json_body(&body, "the body is not an OrderIntentV1")?;
    let now = (state.clock)();
    Ok(Json(judge(live(&state)?, intent, now)?))
}

/// Risk's verdict on `intent` against the live account: approved, or every reason not.
pub(super) fn judge(
    live: &dyn Live,
    intent: OrderIntentV1,
    now: Timestamp,
) -> Result<Value, LiveError> {
    Ok(match live.risk_check(intent, now)? {
        Ok(()) => json!({ "approved": true, "reasons": [] }),
        Err(refusal) => json!({
            "approved": false,
            "state": refusal.state,
            "reasons": refusal.reasons.iter().map(|r| json!({
                "code": r.code(),
                "message": r.to_string(),
            })).collect::<Vec<_>>(),
        }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = Cursor {
            ts: Timestamp::from_nanos(1_750_000_000_123_456_789),
            id: "0199a2b3-0000-7000-8000-000000000001".parse().unwrap(),
        };
        assert_eq!(decode_cursor(&encode_cursor(c)), Some(c));
        for bad in [
            "",
            "_",
            "12",
            "x_0199a2b3-0000-7000-8000-000000000001",
            "1_notauuid",
        ] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
