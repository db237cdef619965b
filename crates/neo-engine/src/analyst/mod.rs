//! The rule-based analyst: NEO's default agent, deterministic and offline.
//!
//! Per instrument it keeps indicator state fed with closed candles (EMA fast and
//! slow, RSI, ATR, ADX, realized volatility), passes every candle through the
//! data-quality gates first, and feeds the regime detector the ensemble uses too
//! ([`crate::intel::RegimeDetector`]: one detector for both). On a signal,
//! [`RuleAnalyst::analyse`] weighs the signal's side against that context and the
//! current position and returns an [`AgentOutputV1`] whose rationale names the
//! evidence and whose features hold the values used. The same candles and signal
//! always give the same output.

mod context;
mod decide;
pub mod policy;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use neo_domain::contracts::{AgentOutputV1, CandleV1, SignalEventV1};
use neo_domain::{Fixed, InstrumentId, Timestamp};
use serde::{Deserialize, Serialize};

pub use context::MarketSnapshot;
pub use decide::PROBABILITY_UP;

use crate::indicators::MAX_PERIOD;
use crate::intel::RegimeDetectorConfig;
use crate::market::{Finding, GateConfig, QualityGate, Regime};
use crate::risk::ConfigError;
use context::InstrumentContext;

/// The agent name on every output (a subject token).
pub const AGENT_NAME: &str = "rule";

/// When a trend is *strong*: the decision rules refuse to trade against a trend
/// with this ADX or this trend score (`(EMA fast - EMA slow) / ATR`). The regime
/// itself is the [`RegimeDetector`]'s verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendStrength {
    /// ADX from which a trend is strong.
    pub strong_adx: f64,
    /// Trend score (in ATRs) from which a trend is strong.
    pub strong_trend_score: f64,
}

/// ADX 30 or 1.6 ATRs between the EMAs.
impl Default for TrendStrength {
    fn default() -> Self {
        TrendStrength {
            strong_adx: 30.0,
            strong_trend_score: 1.6,
        }
    }
}

/// The analyst's parameters; a config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalystConfig {
    /// Fast EMA period.
    pub ema_fast: usize,
    /// Slow EMA period.
    pub ema_slow: usize,
    /// RSI period.
    pub rsi_period: usize,
    /// ATR period.
    pub atr_period: usize,
    /// ADX period.
    pub adx_period: usize,
    /// Realized-volatility period (log returns).
    pub vol_period: usize,
    /// RSI at or above which a market is overbought.
    pub rsi_overbought: f64,
    /// RSI at or below which a market is oversold.
    pub rsi_oversold: f64,
    /// Confidence below which an entry becomes a hold.
    pub min_confidence: f64,
    /// When a trend counts as strong.
    pub trend: TrendStrength,
    /// The regime detector, the same model the strategy ensemble uses.
    pub regime: RegimeDetectorConfig,
    /// Data-quality gates applied to every candle.
    pub gates: GateConfig,
}

/// Classic periods (EMA 12/26, RSI/ATR/ADX 14, volatility 20) and the detector's
/// defaults.
impl Default for AnalystConfig {
    fn default() -> Self {
        AnalystConfig {
            ema_fast: 12,
            ema_slow: 26,
            rsi_period: 14,
            atr_period: 14,
            adx_period: 14,
            vol_period: 20,
            rsi_overbought: 70.0,
            rsi_oversold: 30.0,
            min_confidence: 0.35,
            trend: TrendStrength::default(),
            regime: RegimeDetectorConfig::default(),
            gates: GateConfig::default(),
        }
    }
}

impl AnalystConfig {
    /// Every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut need = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        for (name, value, min) in [
            ("ema_fast", self.ema_fast, 1),
            ("ema_slow", self.ema_slow, 2),
            ("rsi_period", self.rsi_period, 2),
            ("atr_period", self.atr_period, 1),
            ("adx_period", self.adx_period, 2),
            ("vol_period", self.vol_period, 2),
        ] {
            need(
                (min..=MAX_PERIOD).contains(&value),
                format!("{name} must be {min} to {MAX_PERIOD}, got {value}"),
            );
        }
        need(
            self.ema_fast < self.ema_slow,
            format!(
                "ema_fast ({}) must be shorter than ema_slow ({})",
                self.ema_fast, self.ema_slow
            ),
        );
        need(
            0.0 < self.rsi_oversold
                && self.rsi_oversold < self.rsi_overbought
                && self.rsi_overbought < 100.0,
            format!(
                "need 0 < rsi_oversold ({}) < rsi_overbought ({}) < 100",
                self.rsi_oversold, self.rsi_overbought
            ),
        );
        need(
            (0.0..=1.0).contains(&self.min_confidence),
            format!(
                "min_confidence must be in [0, 1], got {}",
                self.min_confidence
            ),
        );
        let t = &self.trend;
        need(
            (0.0..=100.0).contains(&t.strong_adx),
            format!("trend.strong_adx must be in [0, 100], got {}", t.strong_adx),
        );
        need(
            t.strong_trend_score.is_finite() && t.strong_trend_score > 0.0,
            format!(
                "trend.strong_trend_score must be above zero, got {}",
                t.strong_trend_score
            ),
        );
        problems.extend(
            self.regime
                .problems()
                .into_iter()
                .map(|p| format!("regime.{p}")),
        );
        if let Err(e) = self.gates.validate() {
            problems.extend(e.problems.into_iter().map(|p| format!("gates.{p}")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                section: "rule analyst",
                problems,
            })
        }
    }
}

/// The rule-based analyst over any number of instruments.
#[derive(Debug, Clone)]
pub struct RuleAnalyst {
    config: AnalystConfig,
    gate: QualityGate,
    contexts: BTreeMap<InstrumentId, InstrumentContext>,
}

/// Which of the analyst's behaviours are on (the `regime_awareness` and
/// `data_quality_gates` flags); both are on unless a flag says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switches {
    /// Weigh the regime (off: trend and volatility regimes change nothing).
    pub regime: bool,
    /// Refuse entries on stale or gappy data (off: the gates are not applied).
    pub gates: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            regime: true,
            gates: true,
        }
    }
}

impl RuleAnalyst {
    /// An analyst with validated parameters.
    pub fn new(config: AnalystConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let gate = QualityGate::new(config.gates.clone())?;
        Ok(RuleAnalyst {
            config,
            gate,
            contexts: BTreeMap::new(),
        })
    }

    /// The parameters in use.
    pub fn config(&self) -> &AnalystConfig {
        &self.config
    }

    /// Feeds one closed candle: it passes the quality gates first and only an
    /// accepted candle updates the indicators. Returns the gates' findings.
    pub fn on_candle(&mut self, candle: &CandleV1) -> Vec<Finding> {
        let findings = self.gate.check(candle);
        if findings.iter().any(|f| f.kind.rejects_candle()) {
            return findings;
        }
        if !self.contexts.contains_key(&candle.instrument) {
            // Periods were validated, so building cannot fail; skip the candle if it did.
            let Ok(context) = InstrumentContext::new(&self.config) else {
                return findings;
            };
            self.contexts.insert(candle.instrument, context);
        }
        if let Some(context) = self.contexts.get_mut(&candle.instrument) {
            context.update(candle);
        }
        findings
    }

    /// The detected regime of an instrument, once its indicators are warm.
    pub fn regime(&self, instrument: &InstrumentId) -> Option<Regime> {
        self.snapshot(instrument).and_then(|s| s.regime)
    }

    /// Everything known about an instrument after its latest candle.
    pub fn snapshot(&self, instrument: &InstrumentId) -> Option<&MarketSnapshot> {
        self.contexts
            .get(instrument)
            .map(InstrumentContext::snapshot)
    }

    /// True when the gates consider the instrument's data fresh and sound at `now`.
    pub fn tradable(&self, instrument: &InstrumentId, now: Timestamp) -> bool {
        self.gate.tradable(instrument, now)
    }

    /// Analyses a signal given the current signed net `position` (positive long,
    /// negative short) at `now`. Always returns a valid output: stale or missing
    /// data gives a critical hold.
    pub fn analyse(
        &self,
        signal: &SignalEventV1,
        position: Fixed,
        now: Timestamp,
    ) -> AgentOutputV1 {
        self.analyse_with(signal, position, now, Switches::default())
    }

    /// [`RuleAnalyst::analyse`] with some of its behaviours switched off (the flags).
    pub fn analyse_with(
        &self,
        signal: &SignalEventV1,
        position: Fixed,
        now: Timestamp,
        switches: Switches,
    ) -> AgentOutputV1 {
        let instrument = signal.instrument;
        let market = decide::Market {
            snapshot: self.snapshot(&instrument),
            tradable: !switches.gates || self.gate.tradable(&instrument, now),
            last_seen: self.gate.last_seen(&instrument),
            max_age_secs: self.config.gates.max_age_secs,
            regime_aware: switches.regime,
        };
        decide::decide(&self.config, signal, position, &market, now)
    }
}
