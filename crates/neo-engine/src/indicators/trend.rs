//! Trend strength: Wilder's directional movement (+DI, -DI) and ADX.

use super::volatility::true_range;
use super::{Bar, Indicator, IndicatorError, check_period, is_zero};

/// One directional-movement step. The DIs are valid from index `period`; the ADX only
/// from index `2 * period - 1`, hence its `Option`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdxOutput {
    /// Average directional index, 0..=100; `None` until its own warm-up ends.
    pub adx: Option<f64>,
    /// +DI: smoothed up-move as a percentage of smoothed true range (0 when the range
    /// is 0, as in TA-Lib `PLUS_DI`).
    pub plus_di: f64,
    /// -DI: smoothed down-move as a percentage of smoothed true range.
    pub minus_di: f64,
}

/// Wilder's ADX with +DI/-DI, as TA-Lib's `ADX`, `PLUS_DI` and `MINUS_DI`:
/// +DM, -DM and TR are summed over the first `period - 1` changes, then smoothed as
/// `prev - prev / period + today`; the DIs start at index `period`; the first ADX
/// (index `2 * period - 1`) is the mean of the first `period` DX values, later ones
/// `(prev * (period - 1) + dx) / period`. A DX whose true range or DI sum is zero is
/// skipped (it adds 0 to the first mean and leaves the ADX unchanged afterwards).
#[derive(Debug, Clone)]
pub struct Adx {
    period: usize,
    seen: usize,
    prev: Bar,
    plus_dm: f64,
    minus_dm: f64,
    tr: f64,
    adx: f64,
}

impl Adx {
    /// An ADX over `period` (>= 2, TA-Lib's minimum) bars.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self {
            period,
            seen: 0,
            prev: Bar::new(0.0, 0.0, 0.0),
            plus_dm: 0.0,
            minus_dm: 0.0,
            tr: 0.0,
            adx: 0.0,
        })
    }

    /// Index of the first ADX value (`2 * period - 1`); the DIs start at
    /// [`warmup`](Indicator::warmup).
    pub fn adx_warmup(&self) -> usize {
        2 * self.period - 1
    }
}

impl Indicator for Adx {
    type Input = Bar;
    type Output = AdxOutput;

    fn update(&mut self, bar: Bar) -> Option<AdxOutput> {
        let t = self.seen;
        self.seen = t.saturating_add(1);
        let prev = std::mem::replace(&mut self.prev, bar);
        if t == 0 {
            return None;
        }
        let n = self.period as f64;
        let smoothing = t >= self.period;
        if smoothing {
            self.minus_dm -= self.minus_dm / n;
            self.plus_dm -= self.plus_dm / n;
        }
        let up = bar.high - prev.high;
        let down = prev.low - bar.low;
        if down > 0.0 && up < down {
            self.minus_dm += down;
        } else if up > 0.0 && up > down {
            self.plus_dm += up;
        }
        let tr = true_range(bar, prev.close);
        if !smoothing {
            self.tr += tr;
            return None;
        }
        self.tr = self.tr - self.tr / n + tr;

        let (plus_di, minus_di, dx) = if is_zero(self.tr) {
            (0.0, 0.0, None)
        } else {
            let plus = 100.0 * (self.plus_dm / self.tr);
            let minus = 100.0 * (self.minus_dm / self.tr);
            let sum = minus + plus;
            let dx = (!is_zero(sum)).then(|| 100.0 * ((minus - plus).abs() / sum));
            (plus, minus, dx)
        };
        let first_adx = self.adx_warmup();
        let adx = if t < first_adx {
            // self.adx accumulates the first `period` DX values.
            self.adx += dx.unwrap_or(0.0);
            None
        } else if t == first_adx {
            self.adx = (self.adx + dx.unwrap_or(0.0)) / n;
            Some(self.adx)
        } else {
            if let Some(dx) = dx {
                self.adx = (self.adx * (n - 1.0) + dx) / n;
            }
            Some(self.adx)
        };
        Some(AdxOutput {
            adx,
            plus_di,
            minus_di,
        })
    }

    fn reset(&mut self) {
        self.seen = 0;
        self.prev = Bar::new(0.0, 0.0, 0.0);
        self.plus_dm = 0.0;
        self.minus_dm = 0.0;
        self.tr = 0.0;
        self.adx = 0.0;
    }

    fn warmup(&self) -> usize {
        self.period
    }
}
