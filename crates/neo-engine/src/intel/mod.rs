//! Strategy intelligence: forecasting models, their adaptive ensemble and regime detection.
//!
//! * [`Model`]s turn closed bars into `P(up)` over a horizon: [`Momentum`],
//!   [`MeanReversion`], [`Breakout`] and [`RegimeDrift`] (the detector's belief).
//! * [`Ensemble`] pools them with Hedge weights from each model's rolling Brier
//!   score, scores every forecast when its horizon matures and reports
//!   [`EnsembleMetrics`].
//! * [`RegimeDetector`] is the online forward filter of a four-regime hidden Markov
//!   model over bar likelihoods; [`RegimeScore`] scores any detector against the
//!   simulator's true regimes (accuracy and switch delay).
//!
//! Everything is synchronous, deterministic and O(1) per bar. Measured numbers and
//! how to reproduce them: docs/STRATEGY.md.

mod ensemble;
mod likelihood;
mod math;
mod models;
mod regime;
mod regime_config;
mod score;

#[cfg(test)]
mod tests;

pub use ensemble::{Ensemble, EnsembleConfig, EnsembleMetrics, Forecast, ModelMetrics};
pub use likelihood::BarLikelihood;
pub use models::{
    Breakout, BreakoutConfig, MeanReversion, MeanReversionConfig, Model, Momentum, MomentumConfig,
    Observation, RegimeDrift, RegimeDriftConfig,
};
pub use regime::{RegimeDetector, RegimeDetectorConfig, RegimeModel, RegimePosterior};
pub use score::{RegimeScore, RegimeScoreSummary};
