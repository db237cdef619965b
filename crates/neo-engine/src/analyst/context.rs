//! Per-instrument market context: indicator state fed with closed candles, and
//! the regime detector (the ensemble's own, so both read the market alike).

use neo_domain::Timestamp;
use neo_domain::contracts::CandleV1;

use super::AnalystConfig;
use crate::indicators::{Adx, Atr, Bar, Ema, Indicator, IndicatorError, RealizedVolatility, Rsi};
use crate::intel::RegimeDetector;
use crate::market::{Ohlcv, Regime};
use crate::risk::ConfigError;

/// Largest drift, in standard errors, the snapshot reports.
const MAX_DRIFT_T: f64 = 1_000.0;

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
    /// Realized volatility over the detector's learned base volatility (an
    /// uptrend's per-bar volatility).
    pub vol_ratio: Option<f64>,
    /// The recent drift in standard errors (positive up), as the detector reads it.
    pub drift_t: Option<f64>,
    /// The detector's probability of the regime it calls.
    pub regime_probability: Option<f64>,
    /// The detector's verdict, once it is warm.
    pub regime: Option<Regime>,
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
    detector: RegimeDetector,
    snapshot: MarketSnapshot,
}

/// Why an instrument's context cannot be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContextError {
    /// An indicator period is out of range.
    #[error(transparent)]
    Indicator(#[from] IndicatorError),
    /// The regime detector's config has problems.
    #[error(transparent)]
    Detector(#[from] ConfigError),
}

impl InstrumentContext {
    pub(crate) fn new(config: &AnalystConfig) -> Result<Self, ContextError> {
        Ok(InstrumentContext {
            ema_fast: Ema::new(config.ema_fast)?,
            ema_slow: Ema::new(config.ema_slow)?,
            rsi: Rsi::new(config.rsi_period)?,
            atr: Atr::new(config.atr_period)?,
            adx: Adx::new(config.adx_period)?,
            vol: RealizedVolatility::new(config.vol_period)?,
            detector: RegimeDetector::new(config.regime.clone())?,
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
                vol_ratio: None,
                drift_t: None,
                regime_probability: None,
                regime: None,
            },
        })
    }

    pub(crate) fn snapshot(&self) -> &MarketSnapshot {
        &self.snapshot
    }

    /// Feeds one accepted closed candle to the indicators and the detector.
    pub(crate) fn update(&mut self, candle: &CandleV1) {
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
        s.regime = self.detector.update(&Ohlcv::from(candle));
        // A perfectly steady move is infinitely many standard errors; JSON needs a number.
        s.drift_t = self
            .detector
            .drift_t()
            .map(|t| t.clamp(-MAX_DRIFT_T, MAX_DRIFT_T));
        s.regime_probability = self
            .detector
            .posterior()
            .zip(s.regime)
            .map(|(p, r)| p.probabilities[usize::from(r.code())]);
        s.vol_ratio = match (s.realized_vol, self.detector.base_volatility()) {
            (Some(vol), Some(base)) if base > 0.0 => Some(vol / base),
            _ => None,
        };
    }
}
