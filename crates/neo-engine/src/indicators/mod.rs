//! Streaming technical indicators (O(1) per update), matching TA-Lib.
//!
//! Every indicator is a small state machine fed one input at a time through
//! [`Indicator::update`]; it returns `None` during warm-up and a value from then on.
//! Warm-up length, seeding and zero guards are TA-Lib 0.8's (checked value by value
//! against the Python wheel by `tests/talib.rs`), so the first `Some` arrives at the
//! index where TA-Lib's first non-NaN output is. State is fixed-size: windows are ring
//! buffers allocated once at construction, so an update never allocates.
//!
//! `f64` is deliberate: indicators are analytics that feed models, not money.

mod average;
mod momentum;
mod ring;
mod rolling;
pub mod spec;
mod trend;
mod variance;
mod volatility;

#[cfg(test)]
mod tests;

pub use average::{Ema, Sma, Wma};
pub use momentum::{Macd, MacdOutput, Roc, Rsi};
pub use rolling::RollingMean;
pub use trend::{Adx, AdxOutput};
pub use volatility::{Atr, BollingerBands, BollingerOutput, RealizedVolatility, StdDev, TrueRange};

/// The largest period any indicator accepts (TA-Lib's own limit), so a typo cannot
/// allocate gigabytes of ring buffer.
pub const MAX_PERIOD: usize = 100_000;

/// TA-Lib 0.8's zero band (`TA_EPSILON`): guards below it are what make flat prices
/// produce 0 rather than NaN, so they must match to agree with TA-Lib.
const EPSILON: f64 = 1e-14;

/// TA-Lib's `TA_IS_ZERO`: a divisor this close to zero is treated as zero.
fn is_zero(v: f64) -> bool {
    -EPSILON < v && v < EPSILON
}

/// One price bar, for the indicators that need a range (true range, ATR, ADX).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    /// Highest traded price of the bar.
    pub high: f64,
    /// Lowest traded price of the bar.
    pub low: f64,
    /// Last traded price of the bar.
    pub close: f64,
}

impl Bar {
    /// A bar from its high, low and close; not validated, like TA-Lib's inputs.
    pub fn new(high: f64, low: f64, close: f64) -> Self {
        Self { high, low, close }
    }
}

/// Why an indicator could not be built: its parameters are outside the range TA-Lib
/// accepts or make no sense (a fast MACD period that is not faster than the slow one).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    /// A period outside `min..=MAX_PERIOD`.
    #[error("{name} must be between {min} and {MAX_PERIOD}, got {value}")]
    Period {
        /// Which parameter, e.g. "period" or "slow period".
        name: &'static str,
        /// Smallest accepted value.
        min: usize,
        /// The value given.
        value: usize,
    },
    /// MACD's fast period must be strictly shorter than its slow period.
    #[error("MACD fast period ({fast}) must be shorter than the slow period ({slow})")]
    MacdOrder {
        /// The fast period given.
        fast: usize,
        /// The slow period given.
        slow: usize,
    },
    /// A multiplier (e.g. Bollinger's number of deviations) that is negative or not finite.
    #[error("{name} must be a finite number >= 0, got {value}")]
    Multiplier {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        value: f64,
    },
}

/// Checks a period against `min..=MAX_PERIOD`, naming it in the error.
fn check_period(name: &'static str, value: usize, min: usize) -> Result<usize, IndicatorError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(value)
    } else {
        Err(IndicatorError::Period { name, min, value })
    }
}

/// The common shape of every indicator, so backtests, strategies and the CLI can drive
/// any of them the same way.
pub trait Indicator {
    /// What one step consumes: a price (`f64`) or a [`Bar`].
    type Input: Copy;
    /// What one step produces once warm: `f64` or a small struct of several lines.
    type Output: Copy;

    /// Feeds the next input; `None` while warming up. O(1), never allocates.
    fn update(&mut self, input: Self::Input) -> Option<Self::Output>;

    /// Forgets every input seen, as if newly built with the same parameters.
    fn reset(&mut self);

    /// How many inputs return `None` before the first value: TA-Lib's lookback, i.e.
    /// the index of the first valid output in a series.
    fn warmup(&self) -> usize;

    /// Runs a whole series through [`update`](Indicator::update), continuing from the
    /// current state; element `i` is the output for `inputs[i]`.
    fn batch(&mut self, inputs: &[Self::Input]) -> Vec<Option<Self::Output>> {
        inputs.iter().map(|&x| self.update(x)).collect()
    }
}
