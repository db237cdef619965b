//! Rolling population variance, computed the way TA-Lib 0.8 computes it.
//!
//! The naive `mean(x²) - mean(x)²` loses every digit when the variance is small next
//! to the mean (prices around 10⁶ moving by cents). TA-Lib 0.8 keeps running sums of
//! deviations from a *shift* near the window instead, and re-anchors the shift with a
//! fresh two-pass over the window when cancellation would cost digits, when a large
//! outlier has just left, or every `32 * period` windows. Reproducing the same
//! rule (not just "a stable algorithm") is what makes a flat stretch read exactly 0
//! here and in TA-Lib. A re-anchor costs O(period); it is rare, so updates are O(1)
//! amortised, and it touches only the ring that already holds the window.

use super::ring::Ring;

/// Population variance of the last `period` values.
#[derive(Debug, Clone)]
pub(crate) struct RollingVariance {
    period: usize,
    inv_period: f64,
    window: Ring,
    shift: f64,
    /// Sum of `x - shift` over the window minus its oldest value.
    total1: f64,
    /// Sum of `(x - shift)²` over the same values.
    total2: f64,
    until_reseed: usize,
}

impl RollingVariance {
    /// A variance over `period` (>= 1) values.
    pub(crate) fn new(period: usize) -> Self {
        Self {
            period,
            inv_period: 1.0 / period as f64,
            window: Ring::new(period),
            shift: 0.0,
            total1: 0.0,
            total2: 0.0,
            until_reseed: 32 * period,
        }
    }

    /// Feeds `x`; the variance once `period` values have been seen.
    pub(crate) fn update(&mut self, x: f64) -> Option<f64> {
        if self.window.len() == 0 {
            self.shift = x;
        }
        self.window.push(x);
        let d = x - self.shift;
        self.total1 += d;
        self.total2 += d * d;
        if !self.window.is_full() {
            return None;
        }
        let mean = self.total1 * self.inv_period;
        let mut variance = self.total2 * self.inv_period - mean * mean;
        let removed = self.remove_oldest();
        self.until_reseed = self.until_reseed.saturating_sub(1);
        if variance < 1e-6 * (self.total2 * self.inv_period)
            || removed > 1e6 * self.total2
            || self.until_reseed == 0
        {
            variance = self.reseed();
        }
        Some(variance)
    }

    /// Takes the oldest window value out of the sums (it leaves on the next update);
    /// returns its squared deviation.
    fn remove_oldest(&mut self) -> f64 {
        let d = self.window.oldest().unwrap_or(self.shift) - self.shift;
        self.total1 -= d;
        let d2 = d * d;
        self.total2 -= d2;
        d2
    }

    /// Re-anchors the shift on the window mean and rebuilds the sums; returns the
    /// window's variance computed afresh.
    fn reseed(&mut self) -> f64 {
        self.until_reseed = 32 * self.period;
        self.shift = self.window.iter().sum::<f64>() * self.inv_period;
        self.total1 = 0.0;
        self.total2 = 0.0;
        for v in self.window.iter() {
            let d = v - self.shift;
            self.total1 += d;
            self.total2 += d * d;
        }
        let mean = self.total1 * self.inv_period;
        let variance = self.total2 * self.inv_period - mean * mean;
        self.remove_oldest();
        variance
    }

    /// Forgets every value.
    pub(crate) fn reset(&mut self) {
        self.window.clear();
        self.shift = 0.0;
        self.total1 = 0.0;
        self.total2 = 0.0;
        self.until_reseed = 32 * self.period;
    }
}
