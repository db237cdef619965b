//! Per-instrument market context: indicator state fed with closed candles, and
//! the rule-based regime classifier on top of it.

use std::collections::VecDeque;

use neo_domain::Timestamp;
use neo_domain::contracts::CandleV1;

use super::{AnalystConfig, RegimeThresholds};
use crate::indicators::{Adx, Atr, Bar, Ema, Indicator, IndicatorError, RealizedVolatility, Rsi};
use crate::market::Regime;

/// Realized-volatility values a percentile needs before the classifier answers.
const MIN_VOL_HISTORY: usize = 30;

/// What the analyst knows about one instrument after its latest closed candle.
/// Indicator fields are `None` while they warm up.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketSnapshot {
    /// Closed candles seen.
    pub bars: u64,
    /// Close time of the latest candle.
    pub last_ts: Timestamp,
    /// Latest close.
    pub close: f64,
    /// Fast EMA of closes.
    pub ema_fast: Option<f64>,
    /// Slow EMA of closes.
    pub ema_slow: Option<f64>,
    /// `(ema_fast - ema_slow) / atr`: trend direction and strength in ATRs.
    pub trend_score: Option<f64>,
    /// Wilder RSI, 0..=100.
    pub rsi: Option<f64>,
    /// Wilder ATR, in price units.
    pub atr: Option<f64>,
    /// ADX, 0..=100.
    pub adx: Option<f64>,
    /// +DI.
    pub plus_di: Option<f64>,
    /// -DI.
    pub minus_di: Option<f64>,
    /// Per-bar realized volatility of log returns.
    pub realized_vol: Option<f64>,
    /// Share of recent realized-volatility values at or below the current one.
    pub vol_percentile: Option<f64>,
    /// Current realized volatility over its recent mean.
    pub vol_ratio: Option<f64>,
    /// The classifier's verdict, once every input is warm.
    pub regime: Option<Regime>,
}

/// Classifies a regime from warm indicator values (the thresholds are documented on
/// [`RegimeThresholds`]): high volatility first, then a trend, else a range.
pub(crate) fn classify(
    t: &RegimeThresholds,
    trend_score: f64,
    adx: f64,
    vol_percentile: f64,
    vol_ratio: f64,
) -> Regime {
    if vol_ratio >= t.high_vol_ratio && vol_percentile >= t.high_vol_percentile {
        return Regime::HighVolatility;
    }
    let trending = (trend_score.abs() >= t.trend_score && adx >= t.adx_trend)
        || trend_score.abs() >= t.strong_trend_score;
    match (trending, trend_score > 0.0) {
        (true, true) => Regime::TrendUp,
        (true, false) => Regime::TrendDown,
        (false, _) => Regime::Range,
    }
}

/// Indicator state of one instrument.
#[derive(Debug, Clone)]
pub(crate) struct InstrumentContext {
    ema_fast: Ema,
    ema_slow: Ema,
    rsi: Rsi,
    atr: Atr,
    adx: Adx,
    vol: RealizedVolatility,
    vol_history: VecDeque<f64>,
    vol_history_len: usize,
    snapshot: MarketSnapshot,
}

impl InstrumentContext {
    pub(crate) fn new(config: &AnalystConfig) -> Result<Self, IndicatorError> {
        Ok(InstrumentContext {
            ema_fast: Ema::new(config.ema_fast)?,
            ema_slow: Ema::new(config.ema_slow)?,
            rsi: Rsi::new(config.rsi_period)?,
            atr: Atr::new(config.atr_period)?,
            adx: Adx::new(config.adx_period)?,
            vol: RealizedVolatility::new(config.vol_period)?,
            vol_history: VecDeque::with_capacity(config.vol_history),
            vol_history_len: config.vol_history,
            snapshot: MarketSnapshot {
                bars: 0,
                last_ts: Timestamp::EPOCH,
                close: 0.0,
                ema_fast: None,
                ema_slow: None,
                trend_score: None,
                rsi: None,
                atr: None,
                adx: None,
                plus_di: None,
                minus_di: None,
                realized_vol: None,
                vol_percentile: None,
                vol_ratio: None,
                regime: None,
            },
        })
    }

    pub(crate) fn snapshot(&self) -> &MarketSnapshot {
        &self.snapshot
    }

    /// Feeds one accepted closed candle and re-classifies.
    pub(crate) fn update(&mut self, candle: &CandleV1, thresholds: &RegimeThresholds) {
        let close = candle.close.value().to_f64();
        let bar = Bar::new(
            candle.high.value().to_f64(),
            candle.low.value().to_f64(),
            close,
        );
        let s = &mut self.snapshot;
        s.bars += 1;
        s.last_ts = candle.ts_event;
        s.close = close;
        s.ema_fast = self.ema_fast.update(close);
        s.ema_slow = self.ema_slow.update(close);
        s.rsi = self.rsi.update(close);
        s.atr = self.atr.update(bar);
        let adx = self.adx.update(bar);
        s.adx = adx.and_then(|a| a.adx);
        s.plus_di = adx.map(|a| a.plus_di);
        s.minus_di = adx.map(|a| a.minus_di);
        s.realized_vol = self.vol.update(close).filter(|v| v.is_finite());
        s.trend_score = match (s.ema_fast, s.ema_slow, s.atr) {
            (Some(fast), Some(slow), Some(atr)) if atr > 0.0 => Some((fast - slow) / atr),
            _ => None,
        };
        (s.vol_percentile, s.vol_ratio) = match s.realized_vol {
            Some(vol) => {
                if self.vol_history.len() == self.vol_history_len {
                    self.vol_history.pop_front();
                }
                self.vol_history.push_back(vol);
                let n = self.vol_history.len();
                if n >= MIN_VOL_HISTORY.min(self.vol_history_len) {
                    // O(window) per bar, summed afresh so no rounding drift accumulates.
                    let below = self.vol_history.iter().filter(|v| **v <= vol).count();
                    let sum: f64 = self.vol_history.iter().sum();
                    #[allow(clippy::cast_precision_loss)]
                    let (below, n) = (below as f64, n as f64);
                    let mean = sum / n;
                    let ratio = if mean > 0.0 { vol / mean } else { 1.0 };
                    (Some(below / n), Some(ratio))
                } else {
                    (None, None)
                }
            }
            None => (None, None),
        };
        s.regime = match (s.trend_score, s.adx, s.vol_percentile, s.vol_ratio) {
            (Some(score), Some(adx), Some(pct), Some(ratio)) => {
                Some(classify(thresholds, score, adx, pct, ratio))
            }
            _ => None,
        };
    }
}
