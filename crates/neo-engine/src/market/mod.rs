//! Market data in the core: a simulated market with hidden regimes, a streaming
//! candle aggregator and the data-quality gates every candle passes before a
//! trading decision (SPEC 6). All synchronous and deterministic; time is always
//! the caller's.

mod bars;
mod candles;
mod config;
mod gates;
mod regime;
mod resample;
mod rng;
mod sim;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_realism;

pub use bars::{Ohlcv, SimBar, SimBars, SimBarsConfig};
pub use candles::{CandleAggregator, CandleError, CandleStats, interval_nanos};
pub use config::{InstrumentSpec, RegimeParams, RegimeSet, SimConfig};
pub use gates::{Finding, FindingKind, GateConfig, QualityGate};
pub use regime::Regime;
pub use resample::{ResampleError, resample};
pub use sim::{SimError, SimMarket};
