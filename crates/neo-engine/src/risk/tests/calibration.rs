//! Calibration: identity below the threshold, the posterior mean, ECE.

use crate::risk::{CalibrationConfig, Calibrator, ReliabilityBins};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn calibrator() -> Calibrator {
    Calibrator::new(CalibrationConfig::default()).unwrap()
}

#[test]
fn identity_below_fifty_outcomes() {
    let mut c = calibrator();
    for _ in 0..49 {
        c.record(0.85, false).unwrap();
    }
    assert!(!c.is_active());
    assert!(close(c.calibrate(0.85), 0.85));
    c.record(0.85, false).unwrap();
    assert!(c.is_active());
    // Beta(10 * 0.85, 10 * 0.15) prior, 0 wins in 50: (0 + 8.5) / (50 + 10).
    assert!(close(c.calibrate(0.85), 8.5 / 60.0));
    // A bin with no outcomes stays the identity.
    assert!(close(c.calibrate(0.3), 0.3));
}

#[test]
fn a_full_bin_converges_to_its_win_rate() {
    let mut c = calibrator();
    for i in 0..1000 {
        c.record(0.75, i % 5 < 3).unwrap();
    }
    assert!(close(c.calibrate(0.75), (600.0 + 7.5) / 1010.0));
    assert!((c.calibrate(0.75) - 0.6).abs() < 0.01);
}

#[test]
fn odd_inputs() {
    let mut c = calibrator();
    assert!(c.record(f64::NAN, true).is_err());
    assert!(c.record(1.01, true).is_err());
    assert!(c.record(-0.01, true).is_err());
    assert_eq!(c.outcomes(), 0);
    assert!(close(c.calibrate(f64::NAN), 0.0));
    assert!(close(c.calibrate(1.5), 1.0));
    assert!(close(c.calibrate(-1.0), 0.0));
    c.record(1.0, true).unwrap();
    assert_eq!(c.bins().counts(1.0), (1, 1), "1.0 falls in the last bin");
    let bad = CalibrationConfig {
        bins: 0,
        min_outcomes: 0,
        prior_strength: -1.0,
    };
    assert_eq!(Calibrator::new(bad).unwrap_err().problems.len(), 2);
}

#[test]
fn ece_weights_each_bin_gap_by_its_share() {
    let mut bins = ReliabilityBins::new(10);
    assert!(close(bins.ece(), 0.0));
    // Perfectly calibrated: 25% wins at 0.25, 75% wins at 0.75.
    for (p, won) in [(0.25, true), (0.25, false), (0.25, false), (0.25, false)] {
        bins.record(p, won).unwrap();
    }
    for (p, won) in [(0.75, true), (0.75, true), (0.75, true), (0.75, false)] {
        bins.record(p, won).unwrap();
    }
    assert!(close(bins.ece(), 0.0));
    // Two more at 0.95 that lose: that bin's gap is 0.95 with weight 2/10.
    bins.record(0.95, false).unwrap();
    bins.record(0.95, false).unwrap();
    assert!(close(bins.ece(), 0.2 * 0.95));
}

/// xorshift64*: a fixed-seed generator so the test is deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn calibration_cuts_out_of_sample_error_of_an_overconfident_agent() {
    // The agent says c; it really wins with probability 0.2 + 0.5 * c.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut draw = || {
        let c = rng.next();
        let won = rng.next() < 0.2 + 0.5 * c;
        (c, won)
    };
    let mut c = calibrator();
    for _ in 0..5000 {
        let (conf, won) = draw();
        c.record(conf, won).unwrap();
    }
    let (mut raw, mut calibrated) = (ReliabilityBins::new(10), ReliabilityBins::new(10));
    for _ in 0..5000 {
        let (conf, won) = draw();
        raw.record(conf, won).unwrap();
        calibrated.record(c.calibrate(conf), won).unwrap();
    }
    assert!(raw.ece() > 0.1, "the agent is miscalibrated: {}", raw.ece());
    assert!(
        calibrated.ece() < 0.05,
        "calibrated ECE {}",
        calibrated.ece()
    );
    assert!(
        (c.ece() - raw.ece()).abs() < 0.02,
        "in-sample raw ECE matches out-of-sample"
    );
}

#[test]
fn same_outcomes_same_calibrator() {
    let feed = |c: &mut Calibrator| {
        for i in 0..200u32 {
            c.record(f64::from(i % 100) / 100.0, i % 3 == 0).unwrap();
        }
    };
    let (mut a, mut b) = (calibrator(), calibrator());
    feed(&mut a);
    feed(&mut b);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}
