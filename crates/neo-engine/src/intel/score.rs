//! Scoring a regime detector against the true regimes (the simulator knows them).
//!
//! * **Accuracy**: the share of scored bars where the detector said the true regime.
//!   Scoring starts at the detector's first verdict (its warm-up is not scored); a
//!   `None` after that counts as wrong.
//! * **Delay**: for each true switch after scoring starts, the number of bars from
//!   the first bar of the new regime until the detector first says it (0 = on that
//!   very bar). A switch the detector never catches before the next switch is
//!   *missed* and counts the whole episode length. An episode still open when the
//!   data ends without having been caught is *censored* and not counted (its delay is
//!   unknown). Because a detector that flickers "catches" switches by chance, read
//!   the delay together with the accuracy and the detector's own switch count.

use serde::Serialize;

use crate::market::Regime;

/// Running accuracy and switch-delay statistics of a detector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegimeScore {
    bars: u64,
    scored: u64,
    correct: u64,
    switches: u64,
    caught: u64,
    missed: u64,
    delay_total: u64,
    detector_switches: u64,
    confusion: [[u64; 4]; 4],
    started: bool,
    truth: Option<Regime>,
    detected: Option<Regime>,
    /// Bars since the current episode began, while its switch is not yet caught.
    waiting: Option<u64>,
}

/// A [`RegimeScore`] as numbers, for reports and JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegimeScoreSummary {
    /// Bars recorded, warm-up included.
    pub bars: u64,
    /// Bars scored (from the first verdict on).
    pub scored: u64,
    /// Scored bars where the verdict was the true regime.
    pub correct: u64,
    /// `100 * correct / scored`.
    pub accuracy_pct: Option<f64>,
    /// True switches while scoring.
    pub switches: u64,
    /// Switches the detector caught before the next one.
    pub caught: u64,
    /// Switches it never caught before the next one (counted at their episode length).
    pub missed: u64,
    /// Mean bars from a switch until the detector first says the new regime.
    pub mean_delay_bars: Option<f64>,
    /// Times the detector's verdict changed (true switches plus false alarms).
    pub detector_switches: u64,
    /// `confusion[truth][detected]` in [`Regime::ALL`] order, over scored bars.
    pub confusion: [[u64; 4]; 4],
}

impl RegimeScore {
    /// An empty score.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one bar: the true regime at its close and the detector's verdict.
    pub fn record(&mut self, truth: Regime, detected: Option<Regime>) {
        self.bars += 1;
        if !self.started {
            if detected.is_none() {
                return;
            }
            self.started = true;
        } else if self.truth != Some(truth) {
            self.switches += 1;
            if let Some(age) = self.waiting {
                // The previous switch was never caught: count its whole episode.
                self.missed += 1;
                self.delay_total += age;
            }
            self.waiting = Some(0);
        }
        if let (Some(before), Some(now)) = (self.detected, detected)
            && before != now
        {
            self.detector_switches += 1;
        }
        self.truth = Some(truth);
        self.detected = detected;
        self.scored += 1;
        if detected == Some(truth) {
            self.correct += 1;
        }
        if let Some(d) = detected {
            self.confusion[usize::from(truth.code())][usize::from(d.code())] += 1;
        }
        if let Some(age) = self.waiting {
            if detected == Some(truth) {
                self.caught += 1;
                self.delay_total += age;
                self.waiting = None;
            } else {
                self.waiting = Some(age + 1);
            }
        }
    }

    /// Share of scored bars classified right, in percent; `None` before any.
    pub fn accuracy_pct(&self) -> Option<f64> {
        ratio(self.correct, self.scored).map(|r| 100.0 * r)
    }

    /// Mean switch delay in bars (missed switches at their episode length, the
    /// still-open last episode left out); `None` before a switch is settled.
    pub fn mean_delay_bars(&self) -> Option<f64> {
        ratio(self.delay_total, self.caught + self.missed)
    }

    /// Bars recorded.
    pub fn bars(&self) -> u64 {
        self.bars
    }

    /// Bars scored.
    pub fn scored(&self) -> u64 {
        self.scored
    }

    /// Scored bars classified right.
    pub fn correct(&self) -> u64 {
        self.correct
    }

    /// True switches while scoring.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// Switches caught before the next one.
    pub fn caught(&self) -> u64 {
        self.caught
    }

    /// Switches never caught before the next one.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Times the detector's verdict changed.
    pub fn detector_switches(&self) -> u64 {
        self.detector_switches
    }

    /// Everything as numbers.
    pub fn summary(&self) -> RegimeScoreSummary {
        RegimeScoreSummary {
            bars: self.bars,
            scored: self.scored,
            correct: self.correct,
            accuracy_pct: self.accuracy_pct(),
            switches: self.switches,
            caught: self.caught,
            missed: self.missed,
            mean_delay_bars: self.mean_delay_bars(),
            detector_switches: self.detector_switches,
            confusion: self.confusion,
        }
    }
}

/// `num / den` as a float, `None` when `den` is zero.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}
