//! Pre-trade risk, confidence calibration, Kelly sizing and ATR brackets.
//!
//! The pieces, in the order a signal meets them:
//!
//! 1. [`Calibrator`] maps an agent's raw confidence to an observed win
//!    probability (Beta-Binomial per confidence bin, identity below 50 outcomes).
//! 2. [`AtrBrackets`] turns an entry price and an ATR into a [`BracketedEntry`]
//!    (stop-loss and take-profit on the right sides); its reward/risk is the `b`
//!    of Kelly. An entry intent can only be built from a [`BracketedEntry`].
//! 3. [`KellyConfig::risk_fraction`] gives the fraction of equity to put at risk:
//!    fractional Kelly, scaled down as the day's drawdown nears its limit, never
//!    above the hard cap.
//! 4. [`size_quantity`] turns that fraction into an exact [`Quantity`](neo_domain::Quantity):
//!    `equity * f / |entry - stop|`, rounded toward zero to the lot step, and
//!    never above a quantity the signal asked for.
//! 5. [`RiskEngine::check`] runs every pre-trade check against an
//!    [`AccountView`] and returns either a [`RiskApproved`] intent (the only
//!    thing the OMS accepts, constructible only here) or a [`Refusal`] listing
//!    every failed check with a machine-readable code.
//!
//! Money is exact ([`Fixed`](neo_domain::Fixed)) throughout; `f64` appears only
//! for probabilities, Kelly fractions and ATR, and is converted at the boundary
//! with an explicit rounding that never lets a cap be exceeded.

mod approved;
mod brackets;
mod calibration;
mod kelly;
mod limits;
mod pretrade;
mod refusal;
mod sizing;
mod state;

#[cfg(test)]
mod tests;

pub use approved::RiskApproved;
#[cfg(test)]
pub(crate) use approved::approve_for_test;
pub use brackets::{
    AtrBrackets, BracketError, BracketedEntry, EntryOrder, EntryType, PercentBrackets, RStats,
};
pub use calibration::{CalibrationConfig, Calibrator, InvalidProbability, ReliabilityBins};
pub use kelly::{KellyConfig, KellyDecision};
pub use limits::{MAX_DATA_AGE_CEILING_SECS, RiskLimits};
pub use pretrade::{AccountView, Headroom, InstrumentView, Mark, RiskEngine, drawdown, headroom};
pub use refusal::{Refusal, RefusalReason};
pub use sizing::{
    EntryLimits, SizeBound, SizingDecision, SizingError, SizingInput, size_entry, size_quantity,
};
pub use state::{RiskMemory, StateCause, StateChange, StateError, TradingState, TradingStatus};

/// A config section with problems; lists every one so they are fixed in one pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {section}: {}", problems.join("; "))]
pub struct ConfigError {
    /// Which section (`risk limits`, `kelly`, ...).
    pub section: &'static str,
    /// One sentence per problem.
    pub problems: Vec<String>,
}

impl ConfigError {
    pub(crate) fn from_problems(
        section: &'static str,
        problems: Vec<String>,
    ) -> Result<(), ConfigError> {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { section, problems })
        }
    }
}
