//! Robustness: any bar stream (flat runs, enormous jumps, zero prices, bars whose
//! high is below their low) gives probabilities strictly inside (0, 1), finite
//! weights and beliefs, and no panic.

use proptest::prelude::*;

use super::bar;
use crate::intel::{Ensemble, EnsembleConfig, RegimeDetector, RegimeDetectorConfig};
use crate::market::Ohlcv;

/// Bars from `(kind, a, b, c)` steps around a log-price walk kept in [1e-6, 1e15].
fn stream(steps: &[(u8, f64, f64, f64)]) -> Vec<Ohlcv> {
    let (lo, hi) = (1e-6_f64.ln(), 1e15_f64.ln());
    let mut x = 100_f64.ln();
    let mut out = Vec::with_capacity(steps.len());
    for (i, &(kind, a, b, c)) in steps.iter().enumerate() {
        let i = i64::try_from(i).unwrap();
        let open = x.exp();
        let bar = match kind % 8 {
            // Flat: every price the same.
            0 => bar(i, open, open, open, open),
            // An enormous jump (up to e^25 either way).
            1 => {
                x = (x + 25.0 * a).clamp(lo, hi);
                let close = x.exp();
                bar(i, open, open.max(close), open.min(close), close)
            }
            // A zero price (ignored by the detector and the ensemble).
            2 => bar(i, open, open, 0.0, open),
            // Prices that contradict each other.
            3 => {
                let close = (x + a).clamp(lo, hi).exp();
                bar(
                    i,
                    open,
                    open * (-b.abs()).exp(),
                    open * (1.0 + c.abs()),
                    close,
                )
            }
            // An ordinary bar: a 1% scale move with wicks.
            _ => {
                x = (x + 0.01 * a).clamp(lo, hi);
                let close = x.exp();
                let high = open.max(close) * (1.0 + 0.005 * b.abs());
                let low = open.min(close) / (1.0 + 0.005 * c.abs());
                bar(i, open, high, low, close)
            }
        };
        out.push(bar);
    }
    out
}

fn steps() -> impl Strategy<Value = Vec<(u8, f64, f64, f64)>> {
    proptest::collection::vec(
        (any::<u8>(), -1.0_f64..1.0, -3.0_f64..3.0, -3.0_f64..3.0),
        0..150,
    )
}

/// A config that warms up within a few bars, so short streams exercise everything.
fn quick() -> EnsembleConfig {
    let mut c = EnsembleConfig {
        horizon_bars: 2,
        window: 7,
        learning_rate: 50.0,
        ..EnsembleConfig::default()
    };
    c.momentum.fast = 2;
    c.momentum.slow = 5;
    c.momentum.vol_period = 3;
    c.mean_reversion.period = 3;
    c.breakout.period = 3;
    c.detector.warmup_bars = 2;
    c
}

fn in_unit(p: f64) -> bool {
    p.is_finite() && p > 0.0 && p < 1.0
}

proptest! {
    #[test]
    fn every_forecast_is_a_proper_probability(steps in steps()) {
        let bars = stream(&steps);
        for config in [quick(), EnsembleConfig::default()] {
            let mut e = Ensemble::new(config).unwrap();
            for b in &bars {
                if let Some(f) = e.on_bar(b) {
                    prop_assert!(in_unit(f.probability_up), "{f:?}");
                    prop_assert!(f.models.iter().all(|(_, p)| in_unit(*p)), "{f:?}");
                    prop_assert!(f.weights.iter().all(|w| w.is_finite() && *w > 0.0));
                    let total: f64 = f.weights.iter().sum();
                    prop_assert!((total - 1.0).abs() < 1e-9);
                }
            }
            let m = e.metrics();
            for x in [m.brier, m.rolling_brier, m.weight_stability].into_iter().flatten() {
                prop_assert!(x.is_finite() && (0.0..=1.0).contains(&x), "{m:?}");
            }
            prop_assert!(m.models.iter().all(|mm| mm.brier.is_none_or(|b| (0.0..=1.0).contains(&b))));
        }
    }

    #[test]
    fn the_detector_keeps_a_proper_belief(steps in steps()) {
        let config = RegimeDetectorConfig { warmup_bars: 2, ..RegimeDetectorConfig::default() };
        let mut d = RegimeDetector::new(config).unwrap();
        for b in stream(&steps) {
            d.update(&b);
            if let Some(p) = d.posterior() {
                prop_assert!(p.probabilities.iter().all(|q| q.is_finite() && *q > 0.0));
                let total: f64 = p.probabilities.iter().sum();
                prop_assert!((total - 1.0).abs() < 1e-9, "{p:?}");
                let up = p.probability_up(3);
                prop_assert!(up.is_finite() && (0.0..=1.0).contains(&up));
                prop_assert!(d.base_volatility().is_some_and(f64::is_finite));
            }
        }
    }
}
