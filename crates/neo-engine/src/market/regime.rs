//! Market regimes: the hidden state of the simulator and what the analyst tries
//! to detect, one type for both so detection can be scored against the truth.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A market regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Prices drift upward at ordinary volatility.
    TrendUp,
    /// Prices drift downward, more violently than they rise.
    TrendDown,
    /// Calm: low volatility, prices weakly mean-revert around a level.
    Range,
    /// Large moves either way; trends and levels are unreliable.
    HighVolatility,
}

impl Regime {
    /// Every regime, in a fixed order (tables, confusion matrices).
    pub const ALL: [Regime; 4] = [
        Regime::TrendUp,
        Regime::TrendDown,
        Regime::Range,
        Regime::HighVolatility,
    ];

    /// Machine-readable name (`trend_up`, ...), as serialized.
    pub const fn as_str(self) -> &'static str {
        match self {
            Regime::TrendUp => "trend_up",
            Regime::TrendDown => "trend_down",
            Regime::Range => "range",
            Regime::HighVolatility => "high_volatility",
        }
    }

    /// A stable number (0..=3, the index in [`Regime::ALL`]) for numeric feature maps.
    pub const fn code(self) -> u8 {
        match self {
            Regime::TrendUp => 0,
            Regime::TrendDown => 1,
            Regime::Range => 2,
            Regime::HighVolatility => 3,
        }
    }

    /// Words for a rationale ("an uptrend").
    pub const fn describe(self) -> &'static str {
        match self {
            Regime::TrendUp => "an uptrend",
            Regime::TrendDown => "a downtrend",
            Regime::Range => "a range",
            Regime::HighVolatility => "high volatility",
        }
    }
}

impl fmt::Display for Regime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
