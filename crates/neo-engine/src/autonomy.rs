//! The autonomous loop: NEO's own ensemble on every closed candle, turning a
//! confident forecast into a [`SignalEventV1`] with `source = strategy` that the
//! shells send through the same pipeline as a webhook alert (analyst, risk, OMS,
//! notifications). The backtest's ensemble driver makes the same decisions.

use crate::flags::{FlagName, Flags};
use std::collections::BTreeMap;

use neo_domain::contracts::{CandleV1, SignalEventV1};
use neo_domain::{Fixed, InstrumentId, Side};
use serde::Deserialize;

use crate::backtest::strategy_signal;
use crate::intel::{Ensemble, EnsembleConfig, EnsembleMetrics};
use crate::market::{Ohlcv, Regime};
use crate::risk::ConfigError;

/// `[strategy]`: whether the loop runs and how confident it must be.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AutonomyConfig {
    /// Off by default: NEO trades only on alerts unless this is switched on.
    pub enabled: bool,
    /// Distance from 0.5 the up-move probability needs before it becomes a signal.
    pub min_edge: f64,
    /// The models, their weights and the regime detector.
    pub ensemble: EnsembleConfig,
}

impl Default for AutonomyConfig {
    fn default() -> Self {
        AutonomyConfig {
            enabled: false,
            min_edge: crate::backtest::DEFAULT_MIN_EDGE,
            ensemble: EnsembleConfig::default(),
        }
    }
}

impl AutonomyConfig {
    /// Every problem at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(0.0..0.5).contains(&self.min_edge) {
            problems.push(format!(
                "strategy.min_edge = {}: must be from 0 up to (not including) 0.5",
                self.min_edge
            ));
        }
        if let Err(e) = self.ensemble.validate() {
            problems.extend(
                e.problems
                    .into_iter()
                    .map(|p| format!("strategy.ensemble: {p}")),
            );
        }
        problems
    }
}

/// The side a forecast asks for, if it is confident and not already held.
pub fn wanted_side(probability_up: f64, min_edge: f64, net: Fixed) -> Option<Side> {
    let side = if probability_up >= 0.5 + min_edge {
        Side::Buy
    } else if probability_up <= 0.5 - min_edge {
        Side::Sell
    } else {
        return None;
    };
    (held_side(net) != Some(side)).then_some(side)
}

/// The side a signed position holds (`Buy` long, `Sell` short), `None` when flat.
pub fn held_side(net: Fixed) -> Option<Side> {
    match net.raw().signum() {
        1 => Some(Side::Buy),
        -1 => Some(Side::Sell),
        _ => None,
    }
}

/// One ensemble per instrument, fed closed candles.
#[derive(Debug)]
pub struct Autonomy {
    config: AutonomyConfig,
    ensembles: BTreeMap<InstrumentId, Ensemble>,
    flags: Flags,
}

impl Autonomy {
    /// A cold loop; refused when the config has problems.
    pub fn new(config: AutonomyConfig) -> Result<Self, ConfigError> {
        ConfigError::from_problems("strategy", config.validate())?;
        Ok(Autonomy {
            config,
            ensembles: BTreeMap::new(),
            flags: Flags::standard(),
        })
    }

    /// The flags the loop runs under (`adaptive_weights`, judged per instrument).
    pub fn set_flags(&mut self, flags: Flags) {
        for (instrument, ensemble) in &mut self.ensembles {
            ensemble.set_adaptive(flags.is_on(FlagName::AdaptiveWeights, instrument.as_str()));
        }
        self.flags = flags;
    }

    /// The instrument's ensemble, created cold on its first candle.
    fn ensemble(&mut self, instrument: InstrumentId) -> Result<&mut Ensemble, ConfigError> {
        Ok(match self.ensembles.entry(instrument) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let mut ensemble = Ensemble::new(self.config.ensemble.clone())?;
                let adaptive = self
                    .flags
                    .is_on(FlagName::AdaptiveWeights, instrument.as_str());
                ensemble.set_adaptive(adaptive);
                e.insert(ensemble)
            }
        })
    }

    /// Feeds a closed candle that must not be traded on (warm-up history, or a
    /// candle a newer one of the same batch has already superseded).
    pub fn observe(&mut self, candle: &CandleV1) -> Result<(), ConfigError> {
        let bar = Ohlcv::from(candle);
        self.ensemble(candle.instrument)?.on_bar(&bar);
        Ok(())
    }

    /// Feeds a closed candle; returns a signal when the forecast is confident and
    /// points away from `net`, the instrument's current signed position.
    pub fn on_candle(
        &mut self,
        candle: &CandleV1,
        net: Fixed,
    ) -> Result<Option<SignalEventV1>, ConfigError> {
        let bar = Ohlcv::from(candle);
        let Some(forecast) = self.ensemble(candle.instrument)?.on_bar(&bar) else {
            return Ok(None);
        };
        let Some(side) = wanted_side(forecast.probability_up, self.config.min_edge, net) else {
            return Ok(None);
        };
        Ok(Some(strategy_signal(
            candle.instrument,
            &candle.interval,
            side,
            (&forecast, self.config.ensemble.horizon_bars),
            &bar,
        )))
    }

    /// One instrument's forecast quality and weights, and the regime its detector sees.
    pub fn state(&self, instrument: InstrumentId) -> Option<(EnsembleMetrics, Option<Regime>)> {
        self.ensembles
            .get(&instrument)
            .map(|e| (e.metrics(), e.detector().regime()))
    }
}
