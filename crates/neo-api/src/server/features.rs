//! Online features: what the desk is using about an instrument right now (the
//! analyst's indicators and regime, the quote, the position), the current
//! realized volatility's percentile within the day of candles NEO holds, and
//! the data's freshness. `GET /v1/features/{instrument}` serves it; the MCP
//! tool `get_indicators` hands the LLM the same document.

use axum::Json;
use axum::extract::{Path, State};
use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::indicators::{Indicator as _, RealizedVolatility};
use serde_json::{Value, json};

use super::rest::{Live, LiveError, live};
use super::{ApiError, AppState};

/// Bars in the volatility window.
pub const VOL_PERIOD: usize = 20;
/// Candles the percentile is taken over (a day of minutes).
const HISTORY: usize = 1_440;

/// The features document of `instrument` at `now`.
pub fn document(
    live: &dyn Live,
    instrument: InstrumentId,
    now: Timestamp,
) -> Result<Value, LiveError> {
    let mut doc = live.briefing(instrument, now)?;
    let candles = live.candles(instrument, HISTORY);
    let freshness = live.market(now)["instruments"][instrument.as_str()].clone();
    if let Value::Object(map) = &mut doc {
        map.insert("volatility".to_owned(), volatility(&candles));
        map.insert("freshness".to_owned(), freshness);
        map.insert("ts".to_owned(), json!(now));
    }
    Ok(doc)
}

/// The newest `VOL_PERIOD`-bar realized volatility (per bar) and the share of
/// the window's values at or below it, in percent: the same rank as `neo data
/// features`' `vol_pct:20` at the newest bar over the same candles.
fn volatility(candles: &[CandleV1]) -> Value {
    let Ok(mut vol) = RealizedVolatility::new(VOL_PERIOD) else {
        return Value::Null;
    };
    let values: Vec<f64> = candles
        .iter()
        .filter_map(|c| vol.update(c.close.value().to_f64()))
        .filter(|v| v.is_finite())
        .collect();
    let Some(&last) = values.last() else {
        return json!({ "period": VOL_PERIOD, "value": null, "percentile": null, "values": 0 });
    };
    let at_or_below = values.iter().filter(|v| **v <= last).count();
    #[allow(clippy::cast_precision_loss)] // counts of at most a day of candles
    let percentile = 100.0 * at_or_below as f64 / values.len() as f64;
    json!({ "period": VOL_PERIOD, "value": last, "percentile": percentile, "values": values.len() })
}

/// `GET /v1/features/{instrument}`.
pub(super) async fn features(
    State(state): State<AppState>,
    Path(instrument): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = InstrumentId::new(&instrument)
        .map_err(|e| ApiError::BadRequest(format!("instrument {instrument:?}: {e}")))?;
    let live = live(&state)?;
    if !live.tickers().iter().any(|t| t.instrument == id.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no market data for {id}: it is not one of [market] instruments, or nothing has arrived yet"
        )));
    }
    Ok(Json(document(live, id, (state.clock)())?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::{Fixed, Price, Quantity, Rounding};

    use super::*;

    fn candles(closes: &[f64]) -> Vec<CandleV1> {
        closes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = Price::new(Fixed::from_f64(*c, Rounding::HalfEven).unwrap()).unwrap();
                let t = Timestamp::from_unix_secs(1_700_000_000 + 60 * i64::try_from(i).unwrap())
                    .unwrap();
                CandleV1 {
                    instrument: InstrumentId::new("BTC-USDT").unwrap(),
                    interval: "1m".to_owned(),
                    ts_open: t,
                    ts_event: t.add_nanos(60_000_000_000),
                    open: p,
                    high: p,
                    low: p,
                    close: p,
                    volume: Quantity::ZERO,
                }
            })
            .collect()
    }

    #[test]
    fn the_newest_volatility_is_ranked_within_the_window() {
        // Calm, then a burst: the newest volatility is the highest seen.
        let mut closes: Vec<f64> = (0..60).map(|i| 100.0 + f64::from(i % 2) * 0.01).collect();
        closes.extend([103.0, 97.0, 104.0]);
        let v = volatility(&candles(&closes));
        assert_eq!(v["percentile"], 100.0);
        assert_eq!(v["values"], 63 - 20);
        let few = volatility(&candles(&[100.0, 101.0]));
        assert!(few["percentile"].is_null());
    }
}
