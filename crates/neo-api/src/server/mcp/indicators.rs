//! `get_indicators`: the engine's streaming indicators (the same specs as
//! `neo data indicators`) run over the instrument's recent candles, answering
//! each output's latest value and how many bars fed it. Prices become `f64`
//! here because indicators are analytics; nothing flows back into money.

use neo_domain::contracts::CandleV1;
use neo_engine::indicators::Bar;
use neo_engine::indicators::spec;
use serde_json::{Map, Value, json};

use super::tools::ToolError;

/// The latest value of every output of `specs` over `candles` (oldest first).
pub(super) fn latest(candles: &[CandleV1], specs: &[String]) -> Result<Value, ToolError> {
    let bars: Vec<Bar> = candles
        .iter()
        .map(|c| {
            Bar::new(
                c.high.value().to_f64(),
                c.low.value().to_f64(),
                c.close.value().to_f64(),
            )
        })
        .collect();
    let (names, rows) = spec::run(specs, &bars).map_err(|e| ToolError::Arguments(e.to_string()))?;
    let mut values = Map::new();
    for (i, name) in names.iter().enumerate() {
        let last = rows.last().and_then(|row| row.get(i).copied().flatten());
        values.insert(name.clone(), json!(last));
    }
    Ok(json!({
        "bars": candles.len(),
        "as_of": candles.last().map(|c| c.ts_event),
        "values": values,
    }))
}
