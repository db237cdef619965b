//! `run_backtest`: a moving-average crossover over the instrument's recent
//! candles through the same backtest engine as `neo backtest`, bounded in bars
//! (at most a day of minutes) and in time (five seconds), so a tool call can
//! never hold the server.

use std::time::Duration;

use neo_domain::contracts::CandleV1;
use neo_domain::{Fixed, InstrumentId, Money};
use neo_engine::backtest::{AverageKind, Backtest, BacktestConfig, Cross, Sizing};
use neo_engine::market::Ohlcv;
use serde::Deserialize;
use serde_json::{Value, json};

use super::tools::{MAX_CANDLES, ToolError};

/// How long one run may take.
pub(super) const LIMIT: Duration = Duration::from_secs(5);

/// The tool's arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Request {
    /// The instrument.
    pub(super) instrument: String,
    /// The bar length.
    #[serde(default = "one_minute")]
    pub(super) interval: String,
    /// `sma-cross` or `ema-cross`.
    #[serde(default = "sma_cross")]
    pub(super) strategy: String,
    /// Fast average's bars.
    #[serde(default = "fast")]
    pub(super) fast: usize,
    /// Slow average's bars.
    #[serde(default = "slow")]
    pub(super) slow: usize,
    /// Most bars to run over, newest.
    #[serde(default = "max_bars")]
    pub(super) bars: usize,
}

fn one_minute() -> String {
    "1m".to_owned()
}
fn sma_cross() -> String {
    "sma-cross".to_owned()
}
fn fast() -> usize {
    10
}
fn slow() -> usize {
    20
}
fn max_bars() -> usize {
    MAX_CANDLES
}

/// Runs the request over `candles`: the summary and the last trades.
pub(super) fn run(
    instrument: InstrumentId,
    candles: &[CandleV1],
    request: &Request,
) -> Result<Value, ToolError> {
    let kind = match request.strategy.as_str() {
        "sma-cross" => AverageKind::Simple,
        "ema-cross" => AverageKind::Exponential,
        other => {
            return Err(ToolError::Arguments(format!(
                "strategy {other:?}: expected sma-cross or ema-cross"
            )));
        }
    };
    let strategy = Cross::new(kind, request.fast, request.slow)
        .map_err(|e| ToolError::Arguments(e.to_string()))?;
    let cash = Money::from_int(10_000).map_err(|e| ToolError::Backtest(e.to_string()))?;
    let config = BacktestConfig {
        instrument,
        interval: request.interval.clone(),
        currency: "USD".to_owned(),
        cash,
        commission: Fixed::ZERO,
        spread: Fixed::ZERO,
        size: Sizing::AllCash,
    };
    let mut bt = Backtest::new(config, strategy).map_err(|e| ToolError::Backtest(e.to_string()))?;
    for candle in candles {
        bt.step(&Ohlcv::from(candle))
            .map_err(|e| ToolError::Backtest(e.to_string()))?;
    }
    let outcome = bt
        .finish()
        .map_err(|e| ToolError::Backtest(e.to_string()))?;
    let skip = outcome.trades.len().saturating_sub(20);
    Ok(json!({
        "instrument": instrument,
        "interval": request.interval,
        "strategy": request.strategy,
        "fast": request.fast,
        "slow": request.slow,
        "cash": "10000",
        "summary": outcome.summary,
        "last_trades": outcome.trades.iter().skip(skip).collect::<Vec<_>>(),
    }))
}
