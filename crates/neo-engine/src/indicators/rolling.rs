//! pandas' rolling mean, bit for bit: what backtesting.py's documented `SMA`
//! (`pd.Series(values).rolling(n).mean()`) computes, so a cross on it sees the
//! same ties the package sees.

use super::ring::Ring;
use super::{Indicator, IndicatorError, check_period};

/// The mean of the last `period` inputs as pandas' `rolling(period).mean()`
/// computes it: a running sum with Kahan compensation (one compensation for the
/// values added, one for those removed), exactly the previous value when the
/// window holds one repeated value, and no sign flip from rounding. TA-Lib's
/// [`super::Sma`] sums plainly, so the two can differ in the last bit, which
/// decides a crossover when the averages tie.
#[derive(Debug, Clone)]
pub struct RollingMean {
    period: usize,
    window: Ring,
    sum: f64,
    add_compensation: f64,
    remove_compensation: f64,
    negatives: usize,
    /// How many of the latest inputs equal `last` (pandas GH#42064).
    repeats: usize,
    last: f64,
}

impl RollingMean {
    /// A rolling mean over `period` (>= 1) inputs.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self {
            period,
            window: Ring::new(period),
            sum: 0.0,
            add_compensation: 0.0,
            remove_compensation: 0.0,
            negatives: 0,
            repeats: 0,
            last: f64::NAN,
        })
    }

    fn add(&mut self, x: f64) {
        let y = x - self.add_compensation;
        let t = self.sum + y;
        self.add_compensation = t - self.sum - y;
        self.sum = t;
        if x.is_sign_negative() {
            self.negatives += 1;
        }
        // pandas compares exactly: a repeat is the same float, not a near one.
        #[allow(clippy::float_cmp)]
        let repeated = x == self.last;
        self.repeats = if repeated { self.repeats + 1 } else { 1 };
        self.last = x;
    }

    fn remove(&mut self, x: f64) {
        let y = -x - self.remove_compensation;
        let t = self.sum + y;
        self.remove_compensation = t - self.sum - y;
        self.sum = t;
        if x.is_sign_negative() {
            self.negatives -= 1;
        }
    }

    fn mean(&self) -> f64 {
        let n = self.window.len();
        let mean = self.sum / n as f64;
        if self.repeats >= n {
            self.last
        } else if (self.negatives == 0 && mean < 0.0) || (self.negatives == n && mean > 0.0) {
            0.0
        } else {
            mean
        }
    }
}

impl Indicator for RollingMean {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        // pandas removes the value leaving the window before adding the new one.
        if let Some(old) = self.window.push(x) {
            self.remove(old);
        }
        self.add(x);
        self.window.is_full().then(|| self.mean())
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
        self.add_compensation = 0.0;
        self.remove_compensation = 0.0;
        self.negatives = 0;
        self.repeats = 0;
        self.last = f64::NAN;
    }

    fn warmup(&self) -> usize {
        self.period - 1
    }
}
