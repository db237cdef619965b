//! Data-quality gates for a candle stream (SPEC 6): structural checks, price
//! jumps and freshness, before any trading decision uses the data.
//!
//! Policy: a candle with a structural problem (OHLC order, non-positive price,
//! negative volume, time not moving forward) is *rejected*: it is not used as
//! fresh data nor as the reference close. A price jump beyond the threshold is
//! accepted (it may be real) but pauses the instrument until a following candle
//! arrives without one. An instrument is tradable only with accepted data younger
//! than `max_age_secs`.

use std::collections::BTreeMap;
use std::fmt;

use neo_domain::contracts::CandleV1;
use neo_domain::{InstrumentId, Price, Timestamp};
use serde::{Deserialize, Serialize};

use crate::risk::ConfigError;

/// The gates' thresholds; a config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// Largest accepted move of a candle's prices from the previous close, as a
    /// fraction (0.10 = 10%); beyond it the candle is flagged as a jump.
    pub max_jump_fraction: f64,
    /// Data older than this (seconds) makes the instrument untradable.
    pub max_age_secs: u64,
}

/// The SPEC's figures: 10% per candle, 5 minutes of freshness.
impl Default for GateConfig {
    fn default() -> Self {
        GateConfig {
            max_jump_fraction: 0.10,
            max_age_secs: 300,
        }
    }
}

impl GateConfig {
    /// Every problem at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(self.max_jump_fraction.is_finite() && self.max_jump_fraction > 0.0) {
            problems.push(format!(
                "max_jump_fraction must be above zero, got {}",
                self.max_jump_fraction
            ));
        }
        let ceiling = crate::risk::MAX_DATA_AGE_CEILING_SECS;
        if !(1..=ceiling).contains(&self.max_age_secs) {
            problems.push(format!(
                "max_age_secs must be 1 to {ceiling}, got {}",
                self.max_age_secs
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                section: "data quality gates",
                problems,
            })
        }
    }

    fn max_age_nanos(&self) -> i64 {
        i64::try_from(self.max_age_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000)
    }
}

/// What a gate found; `code()` is the machine-readable name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// Not `low <= open, close <= high`.
    OhlcOrder,
    /// A price at or below zero.
    NonPositivePrice,
    /// Volume below zero.
    NegativeVolume,
    /// A price moved more than the threshold from the previous close.
    PriceJump,
    /// The candle is older than the previous one.
    TimeBackwards,
    /// The candle has the same time as the previous one.
    DuplicateTimestamp,
}

impl FindingKind {
    /// Machine-readable code (`ohlc_order`, `price_jump`, ...), for reports and metrics.
    pub const fn code(self) -> &'static str {
        match self {
            FindingKind::OhlcOrder => "ohlc_order",
            FindingKind::NonPositivePrice => "non_positive_price",
            FindingKind::NegativeVolume => "negative_volume",
            FindingKind::PriceJump => "price_jump",
            FindingKind::TimeBackwards => "time_backwards",
            FindingKind::DuplicateTimestamp => "duplicate_timestamp",
        }
    }

    /// True when the candle must not be used at all (everything but a price jump).
    pub const fn rejects_candle(self) -> bool {
        !matches!(self, FindingKind::PriceJump)
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One problem with one candle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Whose candle.
    pub instrument: InstrumentId,
    /// The candle's close time.
    pub ts_event: Timestamp,
    /// What is wrong.
    pub kind: FindingKind,
    /// Details for a person.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} at {}: {}",
            self.instrument, self.kind, self.ts_event, self.detail
        )
    }
}

/// What the gate remembers per instrument.
#[derive(Debug, Clone, Copy)]
struct Last {
    ts_event: Timestamp,
    close: Price,
    jumped: bool,
}

/// Checks each candle of a stream and knows which instruments are tradable.
#[derive(Debug, Clone)]
pub struct QualityGate {
    config: GateConfig,
    last: BTreeMap<InstrumentId, Last>,
}

impl QualityGate {
    /// A gate with validated thresholds.
    pub fn new(config: GateConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(QualityGate {
            config,
            last: BTreeMap::new(),
        })
    }

    /// The thresholds in use.
    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// Checks `candle` against its contract's shape and the previous accepted
    /// candle; records it unless a finding rejects it. Empty means clean.
    pub fn check(&mut self, candle: &CandleV1) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut add = |kind, detail: String| {
            findings.push(Finding {
                instrument: candle.instrument,
                ts_event: candle.ts_event,
                kind,
                detail,
            });
        };
        let prices = [candle.open, candle.high, candle.low, candle.close];
        let all_positive = prices.iter().all(|p| p.value().is_positive());
        if !all_positive {
            add(
                FindingKind::NonPositivePrice,
                format!(
                    "prices must be above zero (o {} h {} l {} c {})",
                    candle.open, candle.high, candle.low, candle.close
                ),
            );
        }
        let ordered = candle.low <= candle.high
            && (candle.low..=candle.high).contains(&candle.open)
            && (candle.low..=candle.high).contains(&candle.close);
        if !ordered {
            add(
                FindingKind::OhlcOrder,
                format!(
                    "need low <= open, close <= high (o {} h {} l {} c {})",
                    candle.open, candle.high, candle.low, candle.close
                ),
            );
        }
        if candle.volume.value().is_negative() {
            add(
                FindingKind::NegativeVolume,
                format!("volume {} is below zero", candle.volume),
            );
        }
        let previous = self.last.get(&candle.instrument).copied();
        if let Some(prev) = previous {
            if candle.ts_event < prev.ts_event {
                add(
                    FindingKind::TimeBackwards,
                    format!("previous candle closed at {}", prev.ts_event),
                );
            } else if candle.ts_event == prev.ts_event {
                add(
                    FindingKind::DuplicateTimestamp,
                    format!("a candle closing at {} was already seen", prev.ts_event),
                );
            }
            let reference = prev.close.value().to_f64();
            let worst = prices
                .iter()
                .map(|p| (p.value().to_f64() / reference - 1.0).abs())
                .fold(0.0_f64, f64::max);
            if all_positive && reference > 0.0 && worst > self.config.max_jump_fraction {
                add(
                    FindingKind::PriceJump,
                    format!(
                        "moved {:.2}% from the previous close {} (limit {:.2}%)",
                        worst * 100.0,
                        prev.close,
                        self.config.max_jump_fraction * 100.0
                    ),
                );
            }
        }
        let rejected = findings.iter().any(|f| f.kind.rejects_candle());
        if !rejected {
            let jumped = findings.iter().any(|f| f.kind == FindingKind::PriceJump);
            self.last.insert(
                candle.instrument,
                Last {
                    ts_event: candle.ts_event,
                    close: candle.close,
                    jumped,
                },
            );
        }
        findings
    }

    /// When the instrument's last accepted candle closed, if any.
    pub fn last_seen(&self, instrument: &InstrumentId) -> Option<Timestamp> {
        self.last.get(instrument).map(|l| l.ts_event)
    }

    /// True when the instrument has accepted data younger than `max_age_secs` at
    /// `now` and its latest candle was not a price jump.
    pub fn tradable(&self, instrument: &InstrumentId, now: Timestamp) -> bool {
        self.last.get(instrument).is_some_and(|last| {
            !last.jumped && now.nanos_since(last.ts_event) <= self.config.max_age_nanos()
        })
    }
}
