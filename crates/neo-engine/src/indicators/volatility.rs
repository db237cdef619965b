//! Volatility: true range, ATR, standard deviation, Bollinger Bands and realized
//! volatility.

use super::variance::RollingVariance;
use super::{Bar, EPSILON, Indicator, IndicatorError, Sma, check_period};

/// TA-Lib's `TA_IS_ZERO_OR_NEG` before a square root: a variance below the zero band
/// (cancellation noise, or a flat window) reads as a deviation of exactly 0.
fn sqrt_or_zero(variance: f64) -> f64 {
    if variance < EPSILON {
        0.0
    } else {
        variance.sqrt()
    }
}

/// The bar's range widened to include the previous close:
/// `max(high - low, |high - prev close|, |low - prev close|)`.
pub(super) fn true_range(bar: Bar, prev_close: f64) -> f64 {
    let mut range = bar.high - bar.low;
    let up = (bar.high - prev_close).abs();
    if up > range {
        range = up;
    }
    let down = (bar.low - prev_close).abs();
    if down > range {
        range = down;
    }
    range
}

/// Wilder's true range. It needs the previous close, so the first value is at index 1
/// (TA-Lib's `TRANGE`).
#[derive(Debug, Clone, Default)]
pub struct TrueRange {
    prev_close: Option<f64>,
}

impl TrueRange {
    /// A true range; it has no parameters.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Indicator for TrueRange {
    type Input = Bar;
    type Output = f64;

    fn update(&mut self, bar: Bar) -> Option<f64> {
        let prev = self.prev_close.replace(bar.close)?;
        Some(true_range(bar, prev))
    }

    fn reset(&mut self) {
        self.prev_close = None;
    }

    fn warmup(&self) -> usize {
        1
    }
}

/// Wilder's average true range: the first value is the simple mean of the first
/// `period` true ranges (bars 1..=period, so index `period`), then
/// `(prev * (period - 1) + tr) / period`.
#[derive(Debug, Clone)]
pub struct Atr {
    period: usize,
    tr: TrueRange,
    count: usize,
    value: f64,
}

impl Atr {
    /// An ATR over `period` (>= 1) true ranges.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 1)?;
        Ok(Self {
            period,
            tr: TrueRange::new(),
            count: 0,
            value: 0.0,
        })
    }
}

impl Indicator for Atr {
    type Input = Bar;
    type Output = f64;

    fn update(&mut self, bar: Bar) -> Option<f64> {
        let tr = self.tr.update(bar)?;
        let n = self.period as f64;
        if self.count < self.period {
            self.count += 1;
            self.value += tr;
            if self.count < self.period {
                return None;
            }
            self.value /= n;
        } else {
            self.value *= n - 1.0;
            self.value += tr;
            self.value /= n;
        }
        Some(self.value)
    }

    fn reset(&mut self) {
        self.tr.reset();
        self.count = 0;
        self.value = 0.0;
    }

    fn warmup(&self) -> usize {
        self.period
    }
}

/// Population standard deviation of the last `period` inputs (TA-Lib `STDDEV` with
/// `nbdev = 1`). First value at index `period - 1`.
#[derive(Debug, Clone)]
pub struct StdDev {
    period: usize,
    variance: RollingVariance,
}

impl StdDev {
    /// A standard deviation over `period` (>= 2, TA-Lib's minimum) inputs.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self {
            period,
            variance: RollingVariance::new(period),
        })
    }
}

impl Indicator for StdDev {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, x: f64) -> Option<f64> {
        self.variance.update(x).map(sqrt_or_zero)
    }

    fn reset(&mut self) {
        self.variance.reset();
    }

    fn warmup(&self) -> usize {
        self.period - 1
    }
}

/// One Bollinger Bands step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerOutput {
    /// Middle plus `k` deviations.
    pub upper: f64,
    /// SMA of the last `period` inputs.
    pub middle: f64,
    /// Middle minus `k` deviations.
    pub lower: f64,
}

/// Bollinger Bands: an SMA with bands `k` population standard deviations above and
/// below (TA-Lib `BBANDS` with an SMA and equal up/down deviations). First value at
/// index `period - 1`.
#[derive(Debug, Clone)]
pub struct BollingerBands {
    period: usize,
    k: f64,
    middle: Sma,
    variance: RollingVariance,
}

impl BollingerBands {
    /// Bands over `period` (>= 2) inputs, `k` (finite, >= 0) deviations wide.
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        if !k.is_finite() || k < 0.0 {
            return Err(IndicatorError::Multiplier {
                name: "number of deviations",
                value: k,
            });
        }
        Ok(Self {
            period,
            k,
            middle: Sma::new(period)?,
            variance: RollingVariance::new(period),
        })
    }
}

impl Indicator for BollingerBands {
    type Input = f64;
    type Output = BollingerOutput;

    fn update(&mut self, x: f64) -> Option<BollingerOutput> {
        let middle = self.middle.update(x);
        let width = sqrt_or_zero(self.variance.update(x)?) * self.k;
        let middle = middle?;
        Some(BollingerOutput {
            upper: middle + width,
            middle,
            lower: middle - width,
        })
    }

    fn reset(&mut self) {
        self.middle.reset();
        self.variance.reset();
    }

    fn warmup(&self) -> usize {
        self.period - 1
    }
}

/// Realized volatility: the *sample* standard deviation (divisor `period - 1`) of the
/// last `period` log returns `ln(close / prev close)`, per bar unless annualized with
/// [`RealizedVolatility::annualized`] (times `sqrt(periods per year)`). First value at
/// index `period` (it needs `period + 1` closes). TA-Lib has no equivalent; closes
/// must be positive for the value to be finite.
#[derive(Debug, Clone)]
pub struct RealizedVolatility {
    period: usize,
    scale: f64,
    prev_close: Option<f64>,
    variance: RollingVariance,
}

impl RealizedVolatility {
    /// Per-bar volatility over `period` (>= 2) returns.
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        let period = check_period("period", period, 2)?;
        Ok(Self {
            period,
            scale: 1.0,
            prev_close: None,
            variance: RollingVariance::new(period),
        })
    }

    /// Volatility scaled to a year of `periods_per_year` bars (252 for daily equities,
    /// 365 for daily crypto).
    pub fn annualized(period: usize, periods_per_year: f64) -> Result<Self, IndicatorError> {
        if !periods_per_year.is_finite() || periods_per_year <= 0.0 {
            return Err(IndicatorError::Multiplier {
                name: "periods per year",
                value: periods_per_year,
            });
        }
        let mut vol = Self::new(period)?;
        vol.scale = periods_per_year.sqrt();
        Ok(vol)
    }
}

impl Indicator for RealizedVolatility {
    type Input = f64;
    type Output = f64;

    fn update(&mut self, close: f64) -> Option<f64> {
        let prev = self.prev_close.replace(close)?;
        let population = self.variance.update((close / prev).ln())?;
        let n = self.period as f64;
        Some((population * n / (n - 1.0)).max(0.0).sqrt() * self.scale)
    }

    fn reset(&mut self) {
        self.prev_close = None;
        self.variance.reset();
    }

    fn warmup(&self) -> usize {
        self.period
    }
}
