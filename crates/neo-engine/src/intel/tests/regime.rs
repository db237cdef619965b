//! The regime detector: determinism, validation, the bar likelihood and the
//! goals for its accuracy and delay on the simulator.

use super::{bar, sim, step_bar};
use crate::intel::likelihood::bridge_inside_probability;
use crate::intel::{BarLikelihood, RegimeDetector, RegimeDetectorConfig, RegimeScore};
use crate::market::{Ohlcv, Regime};

fn detector() -> RegimeDetector {
    RegimeDetector::new(RegimeDetectorConfig::for_sim_bars()).unwrap()
}

#[test]
fn the_same_bars_give_the_same_verdicts_bit_for_bit() {
    let bars = sim(7, 3_000);
    let (mut a, mut b) = (detector(), detector());
    for x in &bars {
        assert_eq!(a.update(&x.bar), b.update(&x.bar));
        assert_eq!(a.posterior(), b.posterior());
    }
    assert!(a.posterior().is_some());
    a.reset();
    let mut c = detector();
    for x in bars.iter().take(500) {
        assert_eq!(a.update(&x.bar), c.update(&x.bar));
    }
}

#[test]
fn it_warms_up_then_always_answers_with_a_proper_belief() {
    let config = RegimeDetectorConfig::for_sim_bars();
    let warmup = config.warmup_bars as usize;
    let mut d = detector();
    for (i, x) in sim(3, 400).iter().enumerate() {
        let verdict = d.update(&x.bar);
        // The first bar has no previous close; the warm-up then needs `warmup` returns.
        assert_eq!(verdict.is_some(), i >= warmup, "bar {i}");
        if let Some(p) = d.posterior() {
            let total: f64 = p.probabilities.iter().sum();
            assert!((total - 1.0).abs() < 1e-9);
            let t = d.drift_t().unwrap();
            if t.abs() < config.drift_t {
                assert_eq!(Some(p.map()), verdict);
            } else {
                let trend = if t > 0.0 {
                    Regime::TrendUp
                } else {
                    Regime::TrendDown
                };
                assert_eq!(Some(trend), verdict, "a drift of {t} standard errors");
            }
            let up = p.probability_up(5);
            assert!(up > 0.0 && up < 1.0);
        }
    }
    let vol = d.base_volatility().unwrap();
    // SIM-USD moves 0.1% a minute in an uptrend (the base).
    assert!((0.0008..0.0013).contains(&vol), "{vol}");
}

#[test]
fn a_bar_with_a_zero_price_is_ignored() {
    let bars = sim(5, 200);
    let mut d = detector();
    let mut last = None;
    for x in &bars {
        last = d.update(&x.bar);
    }
    let before = (d.bars(), *d.posterior().unwrap());
    let zero = Ohlcv {
        low: crate::intel::tests::price(0.0),
        ..bars[0].bar
    };
    assert_eq!(d.update(&zero), last);
    assert_eq!((d.bars(), *d.posterior().unwrap()), before);
}

#[test]
fn an_ordinary_climb_reads_as_an_uptrend_a_quiet_drift_as_a_range_and_a_chop_as_high_volatility() {
    // Learn the base volatility on the simulator (SIM-USD: 0.1% a bar in an uptrend).
    let mut d = detector();
    for x in sim(5, 3_000) {
        d.update(&x.bar);
    }
    let mut p = 100.0_f64;
    let mut verdict = None;
    // About 0.1% a bar of noise around a drift of +0.02% a bar.
    for i in 0..100 {
        let wiggle = if i % 2 == 0 { 1.0012 } else { 0.9993 };
        let next = p * wiggle * 1.0002;
        verdict = d.update(&step_bar(i, p, next));
        p = next;
    }
    assert_eq!(verdict, Some(Regime::TrendUp));
    // A quarter of that.
    for i in 100..200 {
        let wiggle = if i % 2 == 0 { 1.0003 } else { 0.9997 };
        let next = p * wiggle;
        verdict = d.update(&step_bar(i, p, next));
        p = next;
    }
    assert_eq!(verdict, Some(Regime::Range));
    for i in 200..240 {
        let swing = if i % 2 == 0 { 1.006 } else { 1.0 / 1.006 };
        let next = p * swing;
        verdict = d.update(&bar(i, p, p.max(next) * 1.003, p.min(next) / 1.003, next));
        p = next;
    }
    assert_eq!(verdict, Some(Regime::HighVolatility));
}

#[test]
fn validation_lists_every_problem() {
    let mut c = RegimeDetectorConfig::default();
    c.range.volatility = 0.0;
    c.trend_up.mean_duration_bars = 0.5;
    c.high_volatility.weight = -1.0;
    c.tempering = f64::NAN;
    c.warmup_bars = 1;
    c.drift_t = 0.0;
    c.drift_window_bars = f64::INFINITY;
    let err = RegimeDetector::new(c).unwrap_err();
    assert_eq!(err.problems.len(), 7, "{err}");
    assert!(err.to_string().contains("range.volatility"));
}

#[test]
fn the_config_refuses_unknown_fields_and_fills_defaults() {
    let c: RegimeDetectorConfig =
        serde_json::from_str(r#"{"tempering": 0.9, "bar_likelihood": "open_close"}"#).unwrap();
    assert_eq!(c.bar_likelihood, BarLikelihood::OpenClose);
    assert_eq!(c.range, RegimeDetectorConfig::default().range);
    assert!(serde_json::from_str::<RegimeDetectorConfig>(r#"{"temper": 1}"#).is_err());
}

/// The tabulated chance that both interior trades stay inside the body, against a
/// plain 2-D midpoint sum of the bridge's density.
#[test]
fn the_bridge_table_matches_a_direct_integral() {
    for width in [0.1, 0.5, 1.0, 2.0, 4.0] {
        let n = 400;
        let h = width / f64::from(n);
        // Y2, Y3 of a 3-step bridge from 0 to `width` (unit steps): means w/3, 2w/3,
        // variances 2/3, covariance 1/3.
        let (m2, m3) = (width / 3.0, 2.0 * width / 3.0);
        let det = 4.0 / 9.0 - 1.0 / 9.0;
        let mut total = 0.0;
        for i in 0..n {
            for j in 0..n {
                let y2 = (f64::from(i) + 0.5) * h - m2;
                let y3 = (f64::from(j) + 0.5) * h - m3;
                let q = (2.0 / 3.0 * y2 * y2 - 2.0 / 3.0 * y2 * y3 + 2.0 / 3.0 * y3 * y3) / det;
                total += (-0.5 * q).exp() / (2.0 * std::f64::consts::PI * det.sqrt()) * h * h;
            }
        }
        let table = bridge_inside_probability(width);
        assert!(
            (table - total).abs() < 2e-3 * total.max(0.01),
            "width {width}: table {table}, direct {total}"
        );
    }
    assert!(bridge_inside_probability(0.0) > 0.0);
    assert!(bridge_inside_probability(1e-3) < bridge_inside_probability(1e-2));
    assert!((bridge_inside_probability(100.0) - 1.0).abs() < 1e-6);
}

/// The goals of issue 11 on seeds not used for fitting (the defaults were fitted
/// on seeds 101-104): accuracy above 80% and a mean switch delay under 5 bars.
/// Measured on these bars (docs/STRATEGY.md): seed 7 91.96% / 2.70 bars, seed 11
/// 94.63% / 2.32, seed 12 91.26% / 2.26.
#[test]
fn accuracy_and_delay_on_the_simulator_meet_the_goals() {
    for seed in [7, 11, 12] {
        let mut d = detector();
        let mut s = RegimeScore::new();
        for x in sim(seed, GOAL_BARS) {
            s.record(x.regime, d.update(&x.bar));
        }
        let got = s.summary();
        let acc = got.accuracy_pct.unwrap();
        let del = got.mean_delay_bars.unwrap();
        assert!(got.switches > 200, "seed {seed}: {} switches", got.switches);
        assert!(acc > 80.0, "seed {seed}: accuracy {acc:.2}% <= 80%");
        assert!(del < 5.0, "seed {seed}: mean delay {del:.2} >= 5 bars");
    }
}

/// Bars per seed in the goal test: about 450 regime switches, a second in debug.
pub(super) const GOAL_BARS: u64 = 30_000;

#[test]
fn log_prices_read_the_fixed_point_scale() {
    let unit = 10_f64.powi(i32::try_from(neo_domain::num::SCALE).unwrap());
    let b = bar(0, 0.5, 123_456.789, 1e-9, 42.0);
    let logs = crate::intel::regime::log_prices(&b).unwrap();
    for (got, want) in logs.iter().zip([0.5_f64, 123_456.789, 1e-9, 42.0]) {
        assert!((got - want.ln()).abs() < 1e-12, "{got} vs {}", want.ln());
    }
    assert!((unit.ln() - 20.723_265_836_946_41).abs() < 1e-12);
}
