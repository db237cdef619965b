//! What the desk knows about an instrument, as a plain document for an agent
//! that cannot read the desk itself (an LLM's prompt): the analyst's
//! indicators and regime, the standing quote, the position and the trading
//! state. Figures are rounded for reading; nothing here feeds back into money.

use neo_domain::{InstrumentId, Timestamp};
use serde_json::{Map, Value, json};

use super::Desk;

impl Desk {
    /// The instrument's briefing at `now`.
    pub fn briefing(&self, instrument: InstrumentId, now: Timestamp) -> Value {
        let mut out = Map::new();
        out.insert("instrument".to_owned(), json!(instrument));
        out.insert(
            "trading_state".to_owned(),
            json!(self.trading_status().state.to_string()),
        );
        out.insert(
            "position".to_owned(),
            json!(self.net(instrument).to_string()),
        );
        if let Some(tick) = self.ticks.get(&instrument) {
            out.insert(
                "quote".to_owned(),
                json!({ "last": tick.price, "bid": tick.bid, "ask": tick.ask, "ts": tick.ts_event }),
            );
        }
        if let Some(s) = self.analyst.snapshot(&instrument) {
            let round = |v: Option<f64>| v.map(|x| (x * 1e6).round() / 1e6);
            out.insert(
                "indicators".to_owned(),
                json!({
                    "bars": s.bars,
                    "last_close": round(Some(s.close)),
                    "ema_fast": round(s.ema_fast),
                    "ema_slow": round(s.ema_slow),
                    "trend_score": round(s.trend_score),
                    "rsi": round(s.rsi),
                    "atr": round(s.atr),
                    "adx": round(s.adx),
                    "realized_vol": round(s.realized_vol),
                    "regime": s.regime.map(|r| r.to_string()),
                    "regime_probability": round(s.regime_probability),
                    "age_secs": now.nanos_since(s.last_ts).max(0) / 1_000_000_000,
                }),
            );
        }
        Value::Object(out)
    }
}
