//! Moving averages: simple, exponential and weighted, with TA-Lib's seeding.

use super::ring::Ring;
use super::{Indicator, IndicatorError, check_period};

/// Simple moving average: the mean of the last `period` inputs. First value at index
/// `period - 1`.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    window: Ring,
    sum: f64,
}

impl Sma {
    /// An SMA over `period` (>= 1) inputs.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self {
            period,
            window: Ring::new(period),
            sum: 0.0,
        })
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        // TA-Lib's running total: drop the value leaving the window, then add the new one.
        if let Some(old) = self.window.push(x) {
            self.sum -= old;
        }
        self.sum += x;
        self.window.is_full().then(|| self.sum / self.period as f64)
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = 0.0;
    }

    fn warmup(&self) -> usize {
        self.period - 1
    }
}

/// Exponential moving average with `k = 2 / (period + 1)`, seeded (as TA-Lib does by
/// default) with the SMA of the first `period` inputs. First value at index `period - 1`.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    seen: usize,
    sum: f64,
    value: f64,
}

impl Ema {
    /// An EMA over `period` (>= 1) inputs.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self {
            period,
            k: 2.0 / (period as f64 + 1.0),
            seen: 0,
            sum: 0.0,
            value: 0.0,
        })
    }

    /// The current average once warm, without feeding an input.
    pub fn value(&self) -> Option<f64> {
        (self.seen >= self.period).then_some(self.value)
    }
}

impl Indicator for Ema {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        if self.seen < self.period {
            self.seen += 1;
            self.sum += x;
            if self.seen < self.period {
                return None;
            }
            self.value = self.sum / self.period as f64;
        } else {
            self.value += (x - self.value) * self.k;
        }
        Some(self.value)
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.sum = 0.0;
        self.value = 0.0;
    }

    fn warmup(&self) -> usize {
        self.period - 1
    }
}

/// Linearly weighted moving average: weights 1 (oldest) to `period` (newest), divided
/// by `period * (period + 1) / 2`. First value at index `period - 1`.
#[derive(Debug, Clone)]
pub struct Wma {
    period: usize,
    divider: f64,
    window: Ring,
    /// Weighted sum of the window, before the newest value is added.
    weighted: f64,
    /// Plain sum of the window, used to shift every weight down by one per step.
    plain: f64,
    /// The value that leaves `plain` on the next step.
    trailing: f64,
}

impl Wma {
    /// A WMA over `period` (>= 1) inputs.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self {
            period,
            divider: (period * (period + 1) / 2) as f64,
            window: Ring::new(period),
            weighted: 0.0,
            plain: 0.0,
            trailing: 0.0,
        })
    }
}

impl Indicator for Wma {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let n = self.window.len();
        self.window.push(x);
        self.plain += x;
        if n + 1 < self.period {
            self.weighted += x * (n + 1) as f64;
            return None;
        }
        // TA-Lib's recurrence: add the newest at full weight, output, then lower every
        // weight by one by subtracting the plain sum.
        self.plain -= self.trailing;
        self.weighted += x * self.period as f64;
        self.trailing = self.window.oldest().unwrap_or(0.0);
        let out = self.weighted / self.divider;
        self.weighted -= self.plain;
        Some(out)
    }

    fn reset(&mut self) {
        self.window.clear();
        self.weighted = 0.0;
        self.plain = 0.0;
        self.trailing = 0.0;
    }

    fn warmup(&self) -> usize {
        self.period - 1
    }
}
