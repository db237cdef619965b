//! `GET /v1/execution/quality`: how the paper executions went over a time
//! range: slippage against the arrival price in basis points, fill ratio and
//! decision-to-fill latency, by instrument, side and order type (the core's
//! `quality_report` over the stored orders and fills).

use axum::Json;
use axum::extract::State;
use neo_domain::contracts::{FillV1, OrderV1};
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::oms::quality_report;
use neo_store::Cursor;
use serde_json::{Value, json};

use super::history::Range;
use super::{ApiError, AppState};

/// Rows read per store page.
const PAGE: u32 = 500;

/// `?from=&to=&instrument=`: orders created, and fills made, in `[from, to)`.
pub(super) async fn quality(
    State(state): State<AppState>,
    Range(q): Range,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = q.range()?;
    let instrument = q
        .instrument
        .as_deref()
        .map(|t| {
            InstrumentId::new(t).map_err(|e| ApiError::BadRequest(format!("instrument {t:?}: {e}")))
        })
        .transpose()?;
    let keep = |ts: Timestamp, i: InstrumentId| {
        from.is_none_or(|f| ts >= f)
            && to.is_none_or(|t| ts < t)
            && instrument.is_none_or(|x| x == i)
    };
    let orders = orders_since(&state, from).await?;
    let orders: Vec<OrderV1> = orders
        .into_iter()
        .filter(|o| keep(o.ts_created, o.instrument))
        .collect();
    let fills: Vec<FillV1> = all_fills(&state)
        .await?
        .into_iter()
        .filter(|f| keep(f.ts_event, f.instrument))
        .collect();
    let report = quality_report(&orders, &fills);
    Ok(Json(json!({
        "from": from,
        "to": to,
        "instrument": instrument,
        "groups": report.groups,
        "total": report.total,
    })))
}

/// Orders newest first until one was created before `from`.
async fn orders_since(state: &AppState, from: Option<Timestamp>) -> Result<Vec<OrderV1>, ApiError> {
    let mut out = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = state.store.list_orders(PAGE, cursor).await?;
        let older = page
            .items
            .last()
            .is_some_and(|o| from.is_some_and(|f| o.ts_created < f));
        out.extend(page.items);
        match page.next {
            Some(next) if !older => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Every stored fill, oldest first.
async fn all_fills(state: &AppState) -> Result<Vec<FillV1>, ApiError> {
    let mut out: Vec<FillV1> = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = state.store.fills_after(PAGE, after).await?;
        let full = page.len() == PAGE as usize;
        after = page.last().map(|f| Cursor {
            ts: f.ts_event,
            id: f.id,
        });
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}
