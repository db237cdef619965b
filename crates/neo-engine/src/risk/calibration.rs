//! Confidence calibration: from an agent's raw confidence to an observed win probability.
//!
//! # Model
//!
//! Confidences are grouped into equal-width bins over `[0, 1]`. Within a bin
//! the win probability has a Beta prior centred on the raw confidence `c` being
//! calibrated, `Beta(k * c, k * (1 - c))` with `k = prior_strength`
//! pseudo-outcomes, and the bin's wins and losses are Binomial evidence. The
//! calibrated value is the posterior mean
//!
//! ```text
//! (wins + k * c) / (n + k)
//! ```
//!
//! so an empty bin returns `c` unchanged, a sparse bin moves a little towards
//! what it observed, and a full bin returns nearly its observed win rate. The
//! prior is centred on `c` rather than on the bin's midpoint so that sparse
//! bins stay continuous in `c`. Until `min_outcomes` outcomes exist in total the
//! mapping is the identity (the SPEC: calibrate once >= 50 outcomes exist).
//! Bins are not forced monotone; with the default strength a bin needs
//! about ten outcomes before its evidence outweighs the prior.
//!
//! The expected calibration error (ECE) is `sum_b (n_b / N) * |mean_conf_b - win_rate_b|`
//! over non-empty bins. [`Calibrator::ece`] measures the agent's raw
//! confidences; to measure the calibrated output, record calibrated
//! probabilities made *before* their outcomes in a separate [`ReliabilityBins`]
//! (an in-sample figure would flatter the calibrator).
//!
//! Everything is deterministic: the same outcomes in the same order give the
//! same numbers.

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// Calibration settings; a config file section.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalibrationConfig {
    /// Number of equal-width confidence bins.
    pub bins: usize,
    /// Outcomes needed (in total) before calibration replaces the identity.
    pub min_outcomes: u64,
    /// Prior strength `k` in pseudo-outcomes: how much evidence a bin needs to move.
    pub prior_strength: f64,
}

impl Default for CalibrationConfig {
    fn default() -> Self {
        CalibrationConfig {
            bins: 10,
            min_outcomes: 50,
            prior_strength: 10.0,
        }
    }
}

impl CalibrationConfig {
    /// Every problem with these settings at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if !(1..=1000).contains(&self.bins) {
            problems.push(format!(
                "bins must be between 1 and 1000, got {}",
                self.bins
            ));
        }
        if !(self.prior_strength.is_finite() && self.prior_strength > 0.0) {
            problems.push(format!(
                "prior_strength must be finite and above zero, got {}",
                self.prior_strength
            ));
        }
        ConfigError::from_problems("calibration", problems)
    }
}

/// A probability outside `[0, 1]` (or NaN) was offered as an outcome's prediction.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("probability must be between 0 and 1, got {0}")]
pub struct InvalidProbability(pub f64);

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bin {
    outcomes: u64,
    wins: u64,
    sum_predicted: f64,
}

/// Outcomes grouped by predicted probability: the data behind a reliability diagram and ECE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReliabilityBins {
    bins: Vec<Bin>,
    total: u64,
}

impl ReliabilityBins {
    /// `bins` equal-width bins over `[0, 1]` (at least one).
    pub fn new(bins: usize) -> Self {
        ReliabilityBins {
            bins: vec![Bin::default(); bins.max(1)],
            total: 0,
        }
    }

    fn index(&self, p: f64) -> usize {
        let n = self.bins.len();
        // p is in [0, 1] here; the cast truncates toward zero and 1.0 joins the last bin.
        let i = (p * n as f64) as usize;
        i.min(n - 1)
    }

    /// Records one outcome of a prediction `p`.
    pub fn record(&mut self, p: f64, won: bool) -> Result<(), InvalidProbability> {
        if !(0.0..=1.0).contains(&p) {
            return Err(InvalidProbability(p));
        }
        let i = self.index(p);
        let bin = &mut self.bins[i];
        bin.outcomes += 1;
        bin.wins += u64::from(won);
        bin.sum_predicted += p;
        self.total += 1;
        Ok(())
    }

    /// Number of bins.
    pub fn len(&self) -> usize {
        self.bins.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Outcomes recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// `(outcomes, wins)` of the bin holding `p` (`p` clamped to `[0, 1]`, NaN as 0).
    pub fn counts(&self, p: f64) -> (u64, u64) {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        let bin = self.bins[self.index(p)];
        (bin.outcomes, bin.wins)
    }

    /// Expected calibration error in `[0, 1]`; 0 when nothing is recorded.
    pub fn ece(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let total = self.total as f64;
        self.bins
            .iter()
            .filter(|b| b.outcomes > 0)
            .map(|b| {
                let n = b.outcomes as f64;
                let gap = (b.sum_predicted / n - b.wins as f64 / n).abs();
                n / total * gap
            })
            .sum()
    }
}

/// Beta-Binomial calibration per confidence bin (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibrator {
    config: CalibrationConfig,
    outcomes: ReliabilityBins,
}

impl Calibrator {
    /// An empty calibrator (the identity until `min_outcomes` outcomes arrive).
    pub fn new(config: CalibrationConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Calibrator {
            outcomes: ReliabilityBins::new(config.bins),
            config,
        })
    }

    /// Resumes from persisted outcomes; they must have the configured number of bins.
    pub fn restore(&mut self, outcomes: ReliabilityBins) -> Result<(), ConfigError> {
        let consistent = outcomes.bins.iter().map(|b| b.outcomes).sum::<u64>() == outcomes.total
            && outcomes.bins.iter().all(|b| b.wins <= b.outcomes);
        if outcomes.len() != self.config.bins || !consistent {
            return Err(ConfigError {
                section: "calibration",
                problems: vec![format!(
                    "stored outcomes have {} bins (consistent: {consistent}) but {} are configured; \
                     changing the bin count discards what was learned, so it is refused",
                    outcomes.len(),
                    self.config.bins
                )],
            });
        }
        self.outcomes = outcomes;
        Ok(())
    }

    /// Records whether a trade taken at raw `confidence` won.
    pub fn record(&mut self, confidence: f64, won: bool) -> Result<(), InvalidProbability> {
        self.outcomes.record(confidence, won)
    }

    /// Outcomes recorded so far.
    pub fn outcomes(&self) -> u64 {
        self.outcomes.total()
    }

    /// Whether enough outcomes exist for calibration to apply.
    pub fn is_active(&self) -> bool {
        self.outcomes.total() >= self.config.min_outcomes
    }

    /// The calibrated win probability for a raw `confidence`, in `[0, 1]`.
    ///
    /// Out-of-range confidences are clamped; NaN maps to 0 (no edge, no trade).
    pub fn calibrate(&self, confidence: f64) -> f64 {
        if confidence.is_nan() {
            return 0.0;
        }
        let c = confidence.clamp(0.0, 1.0);
        if !self.is_active() {
            return c;
        }
        let (n, wins) = self.outcomes.counts(c);
        let k = self.config.prior_strength;
        ((wins as f64 + k * c) / (n as f64 + k)).clamp(0.0, 1.0)
    }

    /// ECE of the raw confidences recorded: how miscalibrated the agent itself is.
    pub fn ece(&self) -> f64 {
        self.outcomes.ece()
    }

    /// The recorded outcomes by bin.
    pub fn bins(&self) -> &ReliabilityBins {
        &self.outcomes
    }
}
