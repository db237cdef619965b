//! Strategies a backtest runs: each sees a bar's close and says which way it
//! wants to be positioned from the next bar's open.

use std::collections::BTreeMap;

use neo_domain::Side;

use crate::indicators::{Ema, Indicator, IndicatorError, RollingMean};
use crate::market::Ohlcv;

/// The side a strategy wants to hold; the driver turns a change into orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Long with all available cash.
    Long,
    /// Short with all available cash.
    Short,
}

impl Target {
    /// The side of the order that enters it.
    pub fn side(self) -> Side {
        match self {
            Target::Long => Side::Buy,
            Target::Short => Side::Sell,
        }
    }
}

/// Why a strategy could not be built from its name and parameters.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StrategyError {
    /// A parameter the strategy does not take.
    #[error("strategy {strategy} has no parameter {name:?} (it takes: {takes})")]
    UnknownParam {
        /// The strategy.
        strategy: String,
        /// The parameter given.
        name: String,
        /// The parameters it does take.
        takes: String,
    },
    /// A parameter value that is not usable.
    #[error("parameter {name}={value:?}: {problem}")]
    BadParam {
        /// The parameter.
        name: String,
        /// Its text.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The indicators refused the periods.
    #[error(transparent)]
    Indicator(#[from] IndicatorError),
}

/// The extension point of the backtest loop: a bar in, at most one wish out.
pub trait Strategy {
    /// Index of the first bar with a decision-ready indicator (backtesting.py's
    /// warm-up: buy and hold is measured from this bar's close).
    fn warmup_bars(&self) -> usize;

    /// Sees a closed bar (`close` is its close as `f64`, for the indicators) and
    /// returns the side it wants from the next bar's open, if that changed.
    fn on_bar(&mut self, bar: &Ohlcv, close: f64) -> Option<Target>;
}

/// A moving average the crosses are built from.
#[derive(Debug, Clone)]
enum Average {
    /// pandas' rolling mean, as backtesting.py's documented `SMA` computes it.
    Simple(RollingMean),
    Exponential(Ema),
}

impl Average {
    fn update(&mut self, x: f64) -> Option<f64> {
        match self {
            Average::Simple(a) => a.update(x),
            Average::Exponential(a) => a.update(x),
        }
    }
}

/// Fast average crossing the slow one: up goes long, down goes short, as
/// backtesting.py's `crossover` sees it (strictly below, then strictly above).
#[derive(Debug, Clone)]
pub struct Cross {
    fast: Average,
    slow: Average,
    slow_period: usize,
    /// `(fast, slow)` at the previous close, once both are ready.
    previous: Option<(f64, f64)>,
}

/// Which average a cross uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AverageKind {
    /// Simple moving average (pandas' `rolling(n).mean()`, bit for bit).
    Simple,
    /// Exponential moving average (TA-Lib's: seeded with the first window's mean).
    Exponential,
}

impl Cross {
    /// A cross of `fast` over `slow` periods.
    pub fn new(kind: AverageKind, fast: usize, slow: usize) -> Result<Self, StrategyError> {
        if fast >= slow {
            return Err(StrategyError::BadParam {
                name: "fast".to_owned(),
                value: fast.to_string(),
                problem: format!("must be shorter than slow ({slow})"),
            });
        }
        let make = |n| -> Result<Average, IndicatorError> {
            Ok(match kind {
                AverageKind::Simple => Average::Simple(RollingMean::new(n)?),
                AverageKind::Exponential => Average::Exponential(Ema::new(n)?),
            })
        };
        Ok(Cross {
            fast: make(fast)?,
            slow: make(slow)?,
            slow_period: slow,
            previous: None,
        })
    }

    /// A cross from `--param` pairs (`fast`, default 10; `slow`, default 20).
    pub fn from_params(
        name: &str,
        kind: AverageKind,
        params: &BTreeMap<String, String>,
    ) -> Result<Self, StrategyError> {
        let mut fast = 10;
        let mut slow = 20;
        for (key, value) in params {
            let slot = match key.as_str() {
                "fast" => &mut fast,
                "slow" => &mut slow,
                _ => {
                    return Err(StrategyError::UnknownParam {
                        strategy: name.to_owned(),
                        name: key.clone(),
                        takes: "fast, slow".to_owned(),
                    });
                }
            };
            *slot = value.parse().map_err(|_| StrategyError::BadParam {
                name: key.clone(),
                value: value.clone(),
                problem: "expected a whole number of bars".to_owned(),
            })?;
        }
        Cross::new(kind, fast, slow)
    }
}

impl Strategy for Cross {
    fn warmup_bars(&self) -> usize {
        self.slow_period - 1
    }

    fn on_bar(&mut self, _bar: &Ohlcv, close: f64) -> Option<Target> {
        let fast = self.fast.update(close);
        let slow = self.slow.update(close)?;
        let fast = fast?;
        let wish = match self.previous {
            Some((pf, ps)) if pf < ps && fast > slow => Some(Target::Long),
            Some((pf, ps)) if ps < pf && slow > fast => Some(Target::Short),
            _ => None,
        };
        self.previous = Some((fast, slow));
        wish
    }
}
