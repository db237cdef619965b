//! The historical store over HTTP: candles at any interval the store makes
//! exactly (`GET /v1/history/candles`), and alternative data (news, funding
//! rates, on-chain figures) posted in (`POST /v1/alt/{source}`, admin) and
//! read back by source and time (`GET /v1/alt/{source}`). Reads and writes are
//! file I/O, so they run on the blocking pool.

use std::path::PathBuf;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use neo_domain::contracts::AltEventV1;
use neo_domain::{Contract, InstrumentId, Timestamp};
use neo_parquet::{AltEvent, HistoryError, Timeframe};
use serde::Deserialize;
use serde_json::{Value, json};

use super::rest::{json_body, require_json};
use super::{ApiError, AppState};

/// Most bars or events one answer holds.
const MAX_LIMIT: usize = 10_000;

/// `?instrument=&interval=&from=&to=&limit=` (or `?from=&to=&limit=&kind=` for alt data).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RangeQuery {
    pub(super) instrument: Option<String>,
    interval: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    kind: Option<String>,
}

/// The query read so that a malformed one is a JSON 400.
pub(super) struct Range(pub(super) RangeQuery);

impl<S: Send + Sync> FromRequestParts<S> for Range {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Query::<RangeQuery>::try_from_uri(&parts.uri)
            .map(|Query(q)| Range(q))
            .map_err(|e| ApiError::BadRequest(format!("bad query string: {}", e.body_text())))
    }
}

impl RangeQuery {
    fn time(text: Option<&str>, name: &str) -> Result<Option<Timestamp>, ApiError> {
        text.map(|t| {
            neo_parquet::parse_time_text(t).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "{name}: cannot read {t:?} as a time (RFC 3339, a date, or Unix seconds or milliseconds)"
                ))
            })
        })
        .transpose()
    }

    pub(super) fn range(&self) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
        let from = Self::time(self.from.as_deref(), "from")?;
        let to = Self::time(self.to.as_deref(), "to")?;
        if let (Some(f), Some(t)) = (from, to)
            && f >= t
        {
            return Err(ApiError::BadRequest(format!(
                "from {f} is not before to {t}"
            )));
        }
        Ok((from, to))
    }

    fn limit(&self, default: usize) -> Result<usize, ApiError> {
        match self.limit.unwrap_or(default) {
            n @ 1..=MAX_LIMIT => Ok(n),
            n => Err(ApiError::BadRequest(format!(
                "limit must be between 1 and {MAX_LIMIT}, got {n}"
            ))),
        }
    }
}

fn root(state: &AppState) -> Result<PathBuf, ApiError> {
    state
        .history
        .clone()
        .ok_or_else(|| ApiError::Unavailable("no history store in this process".to_owned()))
}

fn archive(state: &AppState) -> Result<PathBuf, ApiError> {
    state
        .archive
        .clone()
        .ok_or_else(|| ApiError::Unavailable("no market archive in this process".to_owned()))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("the history read stopped: {e}")))
}

/// `GET /v1/history/candles`: bars opening in `[from, to)`, oldest first, at most `limit`;
/// `next` is the `from` of the following page when there is more.
pub(super) async fn candles(
    State(state): State<AppState>,
    Range(q): Range,
) -> Result<Json<Value>, ApiError> {
    let text = q
        .instrument
        .as_deref()
        .ok_or_else(|| ApiError::BadRequest("instrument is required".to_owned()))?;
    let instrument = InstrumentId::new(text)
        .map_err(|e| ApiError::BadRequest(format!("instrument {text:?}: {e}")))?;
    let interval_text = q.interval.as_deref().unwrap_or("1m");
    let interval = Timeframe::new(interval_text)
        .map_err(|e| ApiError::BadRequest(format!("interval {interval_text:?}: {e}")))?;
    let (range, limit) = (q.range()?, q.limit(1_000)?);
    let root = root(&state)?;
    let iv = interval.clone();
    let read = blocking(move || neo_parquet::read_history(&root, &instrument, &iv, range, false))
        .await?
        .map_err(|e| match e {
            HistoryError::NoData { .. } => ApiError::NotFound(e.to_string()),
            HistoryError::Interval { .. } => ApiError::BadRequest(e.to_string()),
            HistoryError::Store(s) => ApiError::Internal(s.to_string()),
        })?;
    let next = read.bars.get(limit).map(|b| b.ts);
    let bars: Vec<Value> = read
        .bars
        .iter()
        .take(limit)
        .map(|b| json!({ "ts": b.ts, "open": b.open, "high": b.high, "low": b.low, "close": b.close, "volume": b.volume }))
        .collect();
    Ok(Json(json!({
        "instrument": instrument,
        "interval": interval.as_str(),
        "source": read.source.as_str(),
        "bars": bars,
        "next": next,
    })))
}

/// `POST /v1/alt/{source}?kind=K`: stores one JSON object with its time
/// (`ts` in the body when given, else now) and source; 201 once it is on disk.
pub(super) async fn post_alt(
    State(state): State<AppState>,
    Path(source): Path<String>,
    Range(q): Range,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_json(&headers)?;
    let payload: Value = json_body(&body, "the body is not JSON")?;
    let received = (state.clock)();
    let ts_event = match payload.get("ts") {
        Some(Value::String(t)) => RangeQuery::time(Some(t), "ts")?.unwrap_or(received),
        Some(_) => {
            return Err(ApiError::BadRequest(
                "ts must be an RFC 3339 time".to_owned(),
            ));
        }
        None => received,
    };
    let event = AltEventV1 {
        source,
        kind: q.kind.unwrap_or_else(|| "event".to_owned()),
        ts_event,
        payload,
    };
    let issues = event.check();
    if !issues.is_empty() {
        return Err(ApiError::Invalid {
            message: "not an alternative-data event".to_owned(),
            details: issues,
        });
    }
    let row = AltEvent {
        source: event.source.clone(),
        kind: event.kind.clone(),
        ts_event,
        received,
        payload: event.payload.to_string(),
    };
    let root = archive(&state)?;
    blocking(move || neo_parquet::write_alt(&root, &[row]))
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "source": event.source, "kind": event.kind, "ts_event": ts_event, "received": received }),
        ),
    ))
}

/// `GET /v1/alt/{source}?from=&to=&limit=`: the source's events in `[from, to)`, oldest first.
pub(super) async fn get_alt(
    State(state): State<AppState>,
    Path(source): Path<String>,
    Range(q): Range,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = q.range()?;
    let limit = q.limit(1_000)?;
    let (from, to) = (
        from.unwrap_or(Timestamp::from_nanos(0)),
        to.unwrap_or(Timestamp::from_nanos(i64::MAX)),
    );
    let root = archive(&state)?;
    let src = source.clone();
    let events = blocking(move || neo_parquet::read_alt(&root, &src, from, to, limit))
        .await?
        .map_err(|e| match e {
            neo_parquet::Error::InvalidToken { .. } => ApiError::BadRequest(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        })?;
    let items: Vec<Value> = events
        .into_iter()
        .map(|e| {
            let payload = serde_json::from_str(&e.payload).unwrap_or(Value::String(e.payload));
            json!({ "source": e.source, "kind": e.kind, "ts_event": e.ts_event, "received": e.received, "payload": payload })
        })
        .collect();
    Ok(Json(json!({ "source": source, "items": items })))
}
