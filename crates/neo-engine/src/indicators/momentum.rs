//! Momentum: RSI (Wilder), rate of change and MACD.

use super::ring::Ring;
use super::{Ema, Indicator, IndicatorError, check_period, is_zero};

/// Wilder's relative strength index, 0..=100. The first value (index `period`) uses
/// the simple average gain and loss of the first `period` changes; later ones smooth
/// them as `(prev * (period - 1) + today) / period`. A window with no movement reads 0,
/// as in TA-Lib.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    seen: usize,
    prev: f64,
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// An RSI over `period` (>= 2, TA-Lib's minimum) changes.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self {
            period,
            seen: 0,
            prev: 0.0,
            gain: 0.0,
            loss: 0.0,
        })
    }

    fn value(&self) -> f64 {
        let total = self.gain + self.loss;
        if is_zero(total) {
            0.0
        } else {
            100.0 * (self.gain / total)
        }
    }
}

impl Indicator for Rsi {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let n = self.period as f64;
        let seen = self.seen;
        self.seen = seen.saturating_add(1);
        let change = x - self.prev;
        self.prev = x;
        if seen == 0 {
            return None;
        }
        let warm = seen > self.period;
        if warm {
            self.loss *= n - 1.0;
            self.gain *= n - 1.0;
        }
        if change < 0.0 {
            self.loss -= change;
        } else {
            self.gain += change;
        }
        if warm || seen == self.period {
            self.loss /= n;
            self.gain /= n;
            return Some(self.value());
        }
        None
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.prev = 0.0;
        self.gain = 0.0;
        self.loss = 0.0;
    }

    fn warmup(&self) -> usize {
        self.period
    }
}

/// Rate of change in percent: `(x / x[period ago] - 1) * 100`; 0 when the old value
/// is 0, as in TA-Lib. First value at index `period`.
#[derive(Debug, Clone)]
pub struct Roc {
    period: usize,
    window: Ring,
}

impl Roc {
    /// A ROC over `period` (>= 1) bars.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self {
            period,
            window: Ring::new(period),
        })
    }
}

impl Indicator for Roc {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        let old = self.window.push(x)?;
        Some(if old == 0.0 {
            0.0
        } else {
            (x / old - 1.0) * 100.0
        })
    }

    fn reset(&mut self) {
        self.window.clear();
    }

    fn warmup(&self) -> usize {
        self.period
    }
}

/// One MACD step: the line, its signal and their difference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdOutput {
    /// Fast EMA minus slow EMA.
    pub macd: f64,
    /// EMA of the MACD line.
    pub signal: f64,
    /// `macd - signal`.
    pub histogram: f64,
}

/// Moving average convergence/divergence with TA-Lib's alignment: the fast EMA is
/// seeded over the `fast` inputs ending at index `slow - 1` (not from index 0), so both
/// EMAs start together there; the signal EMA is seeded with the SMA of the first
/// `signal` MACD values. Like TA-Lib, nothing (not even the line) is output before the
/// signal is valid, at index `slow + signal - 2` (33 for 12/26/9).
#[derive(Debug, Clone)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    seen: usize,
    fast: Ema,
    slow: Ema,
    signal: Ema,
}

impl Macd {
    /// A MACD with `2 <= fast < slow` and `signal >= 1` (TA-Lib's ranges).
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        let fast_period = check_period("fast period", fast, 2)?;
        let slow_period = check_period("slow period", slow, 2)?;
        let signal_period = check_period("signal period", signal, 1)?;
        if fast_period >= slow_period {
            return Err(IndicatorError::MacdOrder { fast, slow });
        }
        Ok(Self {
            fast_period,
            slow_period,
            seen: 0,
            fast: Ema::new(fast_period)?,
            slow: Ema::new(slow_period)?,
            signal: Ema::new(signal_period)?,
        })
    }
}

impl Indicator for Macd {
    type Input = f64;
    type Output = MacdOutput;

    fn update(&mut self, x: f64) -> Option<MacdOutput> {
        let t = self.seen;
        self.seen = t.saturating_add(1);
        let slow = self.slow.update(x);
        if t < self.slow_period - self.fast_period {
            return None;
        }
        let fast = self.fast.update(x);
        let macd = fast? - slow?;
        let signal = self.signal.update(macd)?;
        Some(MacdOutput {
            macd,
            signal,
            histogram: macd - signal,
        })
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
    }

    fn warmup(&self) -> usize {
        self.slow.warmup() + self.signal.warmup()
    }
}
