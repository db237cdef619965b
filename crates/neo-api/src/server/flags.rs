//! `/v1/flags`: every flag's settings and guards, one flag, its history, and
//! changing it (admin). A change is written with its history in one commit and
//! is in force in this process at once, in every other within a second.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use neo_domain::{Issue, Timestamp};
use neo_engine::flags::{FlagName, FlagSpec, GuardRule};
use serde_json::{Map, Value, json};

use super::rest::{json_body, require_json};
use super::trading::by;
use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::flags::{FlagBook, FlagChange, FlagError};

/// Fields a change may leave out to keep what the flag has.
const KEPT: [&str; 5] = ["allow", "deny", "requires", "schedule", "plan"];

fn book(state: &AppState) -> Result<&FlagBook, ApiError> {
    state
        .flags
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("no flags are kept in this process".to_owned()))
}

fn name(text: &str) -> Result<FlagName, ApiError> {
    text.parse::<FlagName>().map_err(ApiError::NotFound)
}

/// One flag as served: name, alias, settings, and its guards' figures.
fn flag_json(book: &FlagBook, flag: FlagName, now: Timestamp) -> Value {
    let mut out = Map::new();
    out.insert("name".into(), json!(flag.as_str()));
    out.insert("alias".into(), json!(flag.env_alias()));
    if let Ok(Value::Object(spec)) = serde_json::to_value(book.spec(flag)) {
        out.extend(spec);
    }
    let guards: Vec<Value> = book
        .guard_figures(now)
        .into_iter()
        .filter(|(rule, _, _)| rule.flag == flag)
        .map(|(rule, value, samples)| guard_json(&rule, value, samples))
        .collect();
    out.insert("guards".into(), Value::Array(guards));
    Value::Object(out)
}

fn guard_json(rule: &GuardRule, value: Option<f64>, samples: usize) -> Value {
    json!({
        "rule": rule.kind.as_str(),
        "threshold": rule.threshold,
        "trips_when": rule.direction,
        "aggregate": rule.aggregate,
        "window_secs": rule.window_secs,
        "min_samples": rule.min_samples,
        "value": value,
        "samples": samples,
    })
}

/// `GET /v1/flags`: `{"version", "flags": [...]}`.
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let book = book(&state)?;
    let now = (state.clock)();
    let flags: Vec<Value> = FlagName::ALL
        .into_iter()
        .map(|f| flag_json(book, f, now))
        .collect();
    Ok(Json(json!({ "version": book.version(), "flags": flags })))
}

/// `GET /v1/flags/{name}` (the name or its `FF_` alias).
pub(super) async fn show(
    State(state): State<AppState>,
    Path(flag): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let book = book(&state)?;
    Ok(Json(flag_json(book, name(&flag)?, (state.clock)())))
}

/// `GET /v1/flags/{name}/history`: every change, oldest first.
pub(super) async fn history(
    State(state): State<AppState>,
    Path(flag): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let flag = name(&flag)?;
    let changes = book(&state)?.history(flag).await.map_err(flag_error)?;
    Ok(Json(json!({ "flag": flag.as_str(), "changes": changes })))
}

/// `GET /v1/flags/{name}/compare`: the on and off cohorts' figures and tests.
pub(super) async fn compare(
    State(state): State<AppState>,
    Path(flag): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let flag = name(&flag)?;
    let comparison = book(&state)?.compare(flag);
    Ok(Json(json!({
        "flag": flag.as_str(),
        "since": "this process started",
        "enabled": comparison.enabled,
        "disabled": comparison.disabled,
        "tests": {
            "win_rate": comparison.win_rate_test,
            "mean_r": comparison.mean_r_test,
            "brier": comparison.brier_test,
        },
    })))
}

/// `PUT /v1/flags/{name}` with `{"state", "percent"?, "reason"?, "allow"?, "deny"?,
/// "requires"?, "schedule"?, "plan"?}`; lists left out keep what the flag has.
pub(super) async fn set(
    State(state): State<AppState>,
    Path(flag): Path<String>,
    caller: Option<Extension<Caller>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let flag = name(&flag)?;
    let book = book(&state)?;
    require_json(&headers)?;
    let shape = "the body must be a JSON object such as {\"state\": \"rolling_out\", \"percent\": 25, \"reason\": \"...\"}";
    let Value::Object(mut fields) = json_body::<Value>(&body, shape)? else {
        return Err(ApiError::Invalid {
            message: shape.to_owned(),
            details: vec![Issue::new("", "must be a JSON object")],
        });
    };
    if fields.contains_key("since") {
        return Err(ApiError::Invalid {
            message: "since is set by NEO when the state changes".to_owned(),
            details: vec![Issue::new("/since", "cannot be set")],
        });
    }
    let reason = match fields.get("reason") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(r)) => r.trim().to_owned(),
        Some(_) => {
            return Err(ApiError::Invalid {
                message: "reason must be text".to_owned(),
                details: vec![Issue::new("/reason", "must be a string")],
            });
        }
    };
    if let Ok(Value::Object(current)) = serde_json::to_value(book.spec(flag)) {
        for key in KEPT {
            if let (false, Some(v)) = (fields.contains_key(key), current.get(key)) {
                fields.insert(key.to_owned(), v.clone());
            }
        }
    }
    // The settings' own error is the message ("rolling_out needs a percent").
    let spec: FlagSpec =
        serde_json::from_value(Value::Object(fields)).map_err(|e| ApiError::Invalid {
            message: format!("the flag settings are not valid: {e}"),
            details: vec![Issue::new("", e.to_string())],
        })?;
    let reason = if reason.is_empty() {
        "no reason given".to_owned()
    } else {
        reason
    };
    let now = (state.clock)();
    let change = book
        .change(flag, spec, &by(caller), &reason, now, Vec::new())
        .await
        .map_err(flag_error)?;
    Ok(Json(changed_json(book, &change, now)))
}

fn changed_json(book: &FlagBook, change: &FlagChange, now: Timestamp) -> Value {
    json!({
        "flag": flag_json(book, change.flag, now),
        "change": change,
    })
}

fn flag_error(e: FlagError) -> ApiError {
    match e {
        FlagError::Invalid(problems) => ApiError::Invalid {
            message: "the flags would not be valid".to_owned(),
            details: problems
                .iter()
                .map(|p| Issue::new("", p.to_string()))
                .collect(),
        },
        FlagError::Store(e) => e.into(),
        FlagError::Corrupt(e) => ApiError::Internal(format!("stored flags: {e}")),
    }
}
