//! NEO's tools, once: what an MCP client (over `/mcp` or `neo mcp`) and NEO's
//! own LLM agent call. Each tool is a name, a description, a JSON Schema for
//! its arguments, the API role it needs, and whether the LLM agent may call it
//! (only reads: an agent proposes, it never acts, and never burns the CPU on a
//! backtest). Arguments are checked strictly: an unknown or malformed one is a
//! tool error naming it, never a guess.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use neo_domain::InstrumentId;
use neo_domain::contracts::{CandleV1, OrderIntentV1};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::backtest;
use crate::auth::Role;
use crate::server::rest::{self, live};
use crate::server::{ApiError, AppState, flags};

/// Most candles a tool reads or returns.
pub const MAX_CANDLES: usize = 1_440;

/// One tool as listed.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// Its name.
    pub name: &'static str,
    /// What it does, for the model or person choosing it.
    pub description: &'static str,
    /// Its arguments' JSON Schema.
    pub input_schema: Value,
    /// The API role a caller needs when keys are set.
    pub role: Role,
    /// Whether NEO's own LLM agent may call it.
    pub for_agents: bool,
}

/// Why a tool call gave no result.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No tool has that name.
    #[error("no tool named {0:?}")]
    Unknown(String),
    /// The arguments do not fit the tool's schema.
    #[error("invalid arguments: {0}")]
    Arguments(String),
    /// The caller's key lacks the role the tool needs.
    #[error("{tool} needs an {role} key")]
    Forbidden {
        /// The tool.
        tool: &'static str,
        /// The role it needs.
        role: Role,
    },
    /// The API refused or failed (not found, unavailable, invalid).
    #[error("{}", api_text(.0))]
    Api(#[from] ApiError),
    /// A bounded tool ran out of time.
    #[error("{tool} did not finish within {secs} s")]
    TimedOut {
        /// The tool.
        tool: &'static str,
        /// Its limit.
        secs: u64,
    },
    /// The backtest refused its inputs or failed.
    #[error("backtest: {0}")]
    Backtest(String),
}

fn api_text(e: &ApiError) -> String {
    match e {
        ApiError::Invalid { message, details } if !details.is_empty() => {
            let issues: Vec<String> = details
                .iter()
                .map(|i| format!("{} {}", i.path, i.problem))
                .collect();
            format!("{message}: {}", issues.join("; "))
        }
        other => other.to_string(),
    }
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

fn instrument_prop() -> Value {
    json!({ "type": "string", "description": "Canonical instrument, e.g. BTC-USDT" })
}

/// Every tool, in a fixed order.
pub fn catalog() -> Vec<ToolSpec> {
    let interval = json!({ "type": "string", "description": "Candle interval: 1m (the feed's), or a multiple such as 5m, 15m, 1h", "default": "1m" });
    vec![
        ToolSpec {
            name: "get_ticker",
            description: "The instrument's latest quote: last price, bid, ask, volume and time.",
            input_schema: object(json!({ "instrument": instrument_prop() }), &["instrument"]),
            role: Role::Read,
            for_agents: true,
        },
        ToolSpec {
            name: "get_candles",
            description: "The instrument's newest closed candles, oldest first (OHLCV, exact decimals as strings).",
            input_schema: object(
                json!({ "instrument": instrument_prop(), "interval": interval,
                        "count": { "type": "integer", "minimum": 1, "maximum": MAX_CANDLES, "default": 100 } }),
                &["instrument"],
            ),
            role: Role::Read,
            for_agents: true,
        },
        ToolSpec {
            name: "get_indicators",
            description: "Technical indicators over the instrument's recent candles, specs as in `neo data indicators` (sma:20, ema:50, rsi:14, atr:14, adx:14, macd:12:26:9, bbands:20:2, ...): the latest value of each output, plus what the desk itself uses (regime, trend, volatility).",
            input_schema: object(
                json!({ "instrument": instrument_prop(), "interval": interval,
                        "specs": { "type": "array", "items": { "type": "string" }, "minItems": 1, "maxItems": 12 } }),
                &["instrument", "specs"],
            ),
            role: Role::Read,
            for_agents: true,
        },
        ToolSpec {
            name: "get_portfolio",
            description: "The paper account now: cash, equity, realized and unrealized PnL, drawdown, trading state.",
            input_schema: object(json!({}), &[]),
            role: Role::Read,
            for_agents: true,
        },
        ToolSpec {
            name: "get_positions",
            description: "Every instrument's position (quantity, average price, PnL).",
            input_schema: object(json!({}), &[]),
            role: Role::Read,
            for_agents: true,
        },
        ToolSpec {
            name: "get_signal_story",
            description: "One alert's whole story: the signal, each agent's answer, the decision, intents, refusals, orders, fills and notifications.",
            input_schema: object(
                json!({ "id": { "type": "string", "description": "The signal id (a UUID)" } }),
                &["id"],
            ),
            role: Role::Read,
            for_agents: false,
        },
        ToolSpec {
            name: "risk_check",
            description: "A dry run of pre-trade risk on an order intent (an OrderIntentV1): approved, or every reason it would be refused. Nothing is placed.",
            input_schema: object(
                json!({ "intent": { "type": "object", "description": "An OrderIntentV1 (see the resource neo://schemas/v1/OrderIntentV1)" } }),
                &["intent"],
            ),
            role: Role::Admin,
            for_agents: false,
        },
        ToolSpec {
            name: "list_flags",
            description: "Every feature flag: state, rollout percent, allow/deny lists and guard rules.",
            input_schema: object(json!({}), &[]),
            role: Role::Read,
            for_agents: true,
        },
        ToolSpec {
            name: "run_backtest",
            description: "A moving-average crossover backtest over the instrument's recent candles (at most 1,440 bars, 5 s): return, drawdown, Sharpe, trades.",
            input_schema: object(
                json!({ "instrument": instrument_prop(), "interval": interval,
                        "strategy": { "type": "string", "enum": ["sma-cross", "ema-cross"], "default": "sma-cross" },
                        "fast": { "type": "integer", "minimum": 1, "maximum": 500, "default": 10 },
                        "slow": { "type": "integer", "minimum": 2, "maximum": 1000, "default": 20 },
                        "bars": { "type": "integer", "minimum": 10, "maximum": MAX_CANDLES, "default": MAX_CANDLES } }),
                &["instrument"],
            ),
            role: Role::Admin,
            for_agents: false,
        },
    ]
}

/// The tool named `name`.
pub fn find(name: &str) -> Option<ToolSpec> {
    catalog().into_iter().find(|t| t.name == name)
}

fn args<T: DeserializeOwned>(value: Value) -> Result<T, ToolError> {
    let value = if value.is_null() { json!({}) } else { value };
    serde_json::from_value(value).map_err(|e| ToolError::Arguments(e.to_string()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Instrument {
    instrument: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Candles {
    instrument: String,
    #[serde(default = "one_minute")]
    interval: String,
    #[serde(default = "hundred")]
    count: usize,
}

fn one_minute() -> String {
    "1m".to_owned()
}

fn hundred() -> usize {
    100
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Indicators {
    instrument: String,
    #[serde(default = "one_minute")]
    interval: String,
    specs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Story {
    id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskCheck {
    intent: Value,
}

/// Calls tool `name` with `arguments` (an object, or null for none).
pub async fn call(state: &AppState, name: &str, arguments: Value) -> Result<Value, ToolError> {
    let now = (state.clock)();
    match name {
        "get_ticker" => {
            let a: Instrument = args(arguments)?;
            let id = instrument(&a.instrument)?;
            let tickers = live(state)?.tickers();
            let ticker = tickers
                .into_iter()
                .find(|t| t.instrument == id.as_str())
                .ok_or_else(|| ApiError::NotFound(format!("no quote for {id}")))?;
            Ok(json!(ticker))
        }
        "get_candles" => {
            let a: Candles = args(arguments)?;
            let (id, candles) = candles(state, &a.instrument, &a.interval, a.count)?;
            Ok(
                json!({ "instrument": id, "interval": a.interval, "candles": candles.iter().map(bar_json).collect::<Vec<_>>() }),
            )
        }
        "get_indicators" => {
            let a: Indicators = args(arguments)?;
            let (id, candles) = candles(state, &a.instrument, &a.interval, MAX_CANDLES)?;
            let mut out = super::indicators::latest(&candles, &a.specs)?;
            if let Value::Object(map) = &mut out {
                map.insert("instrument".to_owned(), json!(id));
                map.insert("interval".to_owned(), json!(a.interval));
                let desk = crate::server::features::document(live(state)?, id, now)
                    .map_err(ApiError::from)?;
                map.insert("desk".to_owned(), desk);
            }
            Ok(out)
        }
        "get_portfolio" => {
            let _: NoArgs = args(arguments)?;
            Ok(json!(rest::portfolio(State(state.clone())).await?.0))
        }
        "get_positions" => {
            let _: NoArgs = args(arguments)?;
            Ok(rest::positions(State(state.clone())).await?.0)
        }
        "get_signal_story" => {
            let a: Story = args(arguments)?;
            Ok(rest::story(State(state.clone()), Path(a.id)).await?.0)
        }
        "risk_check" => {
            let a: RiskCheck = args(arguments)?;
            let intent: OrderIntentV1 = serde_json::from_value(a.intent).map_err(|e| {
                ToolError::Arguments(format!("intent is not an OrderIntentV1: {e}"))
            })?;
            Ok(rest::judge(live(state)?, intent, now).map_err(ApiError::from)?)
        }
        "list_flags" => {
            let _: NoArgs = args(arguments)?;
            let Json(flags) = flags::list(State(state.clone())).await?;
            Ok(flags)
        }
        "run_backtest" => {
            let a: backtest::Request = args(arguments)?;
            let (id, candles) = candles(state, &a.instrument, &a.interval, a.bars)?;
            let run = tokio::task::spawn_blocking(move || backtest::run(id, &candles, &a));
            match tokio::time::timeout(backtest::LIMIT, run).await {
                Ok(Ok(result)) => result,
                Ok(Err(e)) => Err(ToolError::Backtest(format!("the run failed: {e}"))),
                Err(_) => Err(ToolError::TimedOut {
                    tool: "run_backtest",
                    secs: backtest::LIMIT.as_secs(),
                }),
            }
        }
        other => Err(ToolError::Unknown(other.to_owned())),
    }
}

fn instrument(text: &str) -> Result<InstrumentId, ToolError> {
    InstrumentId::new(text.trim())
        .map_err(|e| ToolError::Arguments(format!("instrument {text:?}: {e}")))
}

/// The instrument's newest `count` closed candles of `interval`, oldest first.
fn candles(
    state: &AppState,
    instrument_text: &str,
    interval: &str,
    count: usize,
) -> Result<(InstrumentId, Vec<CandleV1>), ToolError> {
    let id = instrument(instrument_text)?;
    if !(1..=MAX_CANDLES).contains(&count) {
        return Err(ToolError::Arguments(format!(
            "count must be 1 to {MAX_CANDLES}, got {count}"
        )));
    }
    let minutes = live(state)?.candles(id, MAX_CANDLES);
    if minutes.is_empty() {
        return Err(ApiError::NotFound(format!("no candles for {id}")).into());
    }
    let bars = neo_engine::market::resample(&minutes, interval)
        .map_err(|e| ToolError::Arguments(e.to_string()))?;
    let skip = bars.len().saturating_sub(count);
    Ok((id, bars.into_iter().skip(skip).collect()))
}

fn bar_json(c: &CandleV1) -> Value {
    json!({ "ts_open": c.ts_open, "ts_close": c.ts_event, "open": c.open, "high": c.high,
            "low": c.low, "close": c.close, "volume": c.volume })
}

/// How long a tool may take before an LLM's loop gives up on it.
pub const AGENT_TOOL_LIMIT: Duration = Duration::from_secs(2);
