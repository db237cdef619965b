//! The ensemble: scoring arithmetic, weight adaptation, determinism and config.

use super::{sim, step_bar};
use crate::intel::{Ensemble, EnsembleConfig, Model, Observation};

/// A model that always says the same thing.
#[derive(Debug)]
struct Constant(&'static str, f64);

impl Model for Constant {
    fn name(&self) -> &'static str {
        self.0
    }

    fn update(&mut self, _: &Observation<'_>) -> Option<f64> {
        Some(self.1)
    }
}

fn config(horizon: u32, window: usize) -> EnsembleConfig {
    EnsembleConfig {
        horizon_bars: horizon,
        window,
        learning_rate: 1.0,
        weight_floor: 0.05,
        commit_margin: 0.0,
        ..EnsembleConfig::for_sim_bars()
    }
}

fn bulls_and_bears(c: EnsembleConfig) -> Ensemble {
    let models: Vec<Box<dyn Model>> = vec![
        Box::new(Constant("bull", 0.8)),
        Box::new(Constant("bear", 0.2)),
    ];
    Ensemble::with_models(c, models).unwrap()
}

#[test]
fn forecasts_are_scored_when_their_horizon_matures() {
    let mut e = bulls_and_bears(config(2, 100));
    let mut p = 100.0;
    for i in 0..12 {
        let f = e.on_bar(&step_bar(i, p, p + 1.0)).unwrap();
        assert_eq!(f.models, vec![("bull", 0.8), ("bear", 0.2)]);
        p += 1.0;
    }
    let m = e.metrics();
    assert_eq!((m.forecasts, m.scored, m.ties), (12, 10, 0));
    // Always up: the bull's loss is 0.04 and the bear's 0.64 on every forecast.
    let bull = &m.models[0];
    let bear = &m.models[1];
    assert!((bull.brier.unwrap() - 0.04).abs() < 1e-12);
    assert!((bear.brier.unwrap() - 0.64).abs() < 1e-12);
    assert_eq!(
        (bull.accuracy_pct, bear.accuracy_pct),
        (Some(100.0), Some(0.0))
    );
    // The first two forecasts, made before any outcome, pool to exactly 0.5: no side.
    assert_eq!(m.committed, 8);
    assert_eq!(m.accuracy_pct, Some(100.0));
}

#[test]
fn an_unchanged_close_is_a_tie_and_not_scored() {
    let mut e = bulls_and_bears(config(1, 100));
    for i in 0..5 {
        e.on_bar(&step_bar(i, 100.0, 100.0));
    }
    let m = e.metrics();
    assert_eq!((m.forecasts, m.scored, m.ties), (5, 0, 4));
    assert_eq!(m.brier, None);
    assert_eq!(m.accuracy_pct, None);
}

#[test]
fn weight_moves_to_the_model_that_is_right_and_back_when_it_turns() {
    let mut e = bulls_and_bears(config(1, 20));
    let mut p = 100.0;
    let mut i = 0;
    let mut step = |e: &mut Ensemble, d: f64| {
        let f = e.on_bar(&step_bar(i, p, p + d)).unwrap();
        p += d;
        i += 1;
        f
    };
    let first = step(&mut e, 1.0);
    assert!(first.weights.iter().all(|w| (w - 0.5).abs() < 1e-12));
    let mut f = first;
    for _ in 0..30 {
        f = step(&mut e, 1.0);
    }
    // 20 losses of 0.64 - 0.04 apart at eta = 1: the bear is at its floor.
    assert!(
        f.weights[0] > 0.94 && (f.weights[1] - 0.05).abs() < 1e-4,
        "{:?}",
        f.weights
    );
    assert!(f.probability_up > 0.75);
    for _ in 0..30 {
        f = step(&mut e, -1.0);
    }
    assert!(
        f.weights[1] > 0.94,
        "the bear must recover: {:?}",
        f.weights
    );
    assert!(f.probability_up < 0.25);
    let m = e.metrics();
    let stability = m.weight_stability.unwrap();
    assert!(stability > 0.9 && stability < 1.0, "{stability}");
    let sum: f64 = f.weights.iter().sum();
    assert!((sum - 1.0).abs() < 1e-12);
}

#[test]
fn adaptive_weights_off_keeps_equal_weights_and_on_again_resumes() {
    let mut e = bulls_and_bears(config(1, 100));
    e.set_adaptive(false);
    let mut p = 100.0;
    for i in 0..20 {
        e.on_bar(&step_bar(i, p, p + 1.0));
        p += 1.0;
    }
    assert_eq!(e.weights(), &[0.5, 0.5], "off: equal weights");
    e.set_adaptive(true);
    e.on_bar(&step_bar(20, p, p + 1.0));
    p += 1.0;
    e.on_bar(&step_bar(21, p, p + 1.0));
    assert!(
        e.weights()[0] > 0.9,
        "on: the record counts at once, {:?}",
        e.weights()
    );
}

#[test]
fn the_default_ensemble_is_deterministic_and_warms_up() {
    let bars = sim(21, 1_500);
    let run = || {
        let mut e = Ensemble::new(EnsembleConfig::for_sim_bars()).unwrap();
        let out: Vec<_> = bars.iter().map(|x| e.on_bar(&x.bar)).collect();
        (out, serde_json::to_string(&e.metrics()).unwrap())
    };
    let (a, ma) = run();
    let (b, mb) = run();
    assert_eq!(a, b);
    assert_eq!(ma, mb);
    // Momentum's 60-bar volatility and the 60-bar breakout channel set the warm-up.
    let first = a.iter().position(Option::is_some).unwrap();
    assert!((55..=70).contains(&first), "{first}");
    assert!(a[first..].iter().all(Option::is_some));
    let last = a.last().unwrap().as_ref().unwrap();
    let names: Vec<_> = last.models.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["momentum", "mean_reversion", "breakout", "regime_drift"]
    );
    assert!(last.regime.is_some());
    let m: serde_json::Value = serde_json::from_str(&ma).unwrap();
    assert_eq!(m["models"].as_array().unwrap().len(), 4);
    assert!(m["brier"].as_f64().unwrap() < 0.3);
}

#[test]
fn validation_lists_every_problem() {
    let mut c = EnsembleConfig {
        horizon_bars: 0,
        weight_floor: 0.3,
        ..EnsembleConfig::default()
    };
    c.momentum.fast = 50;
    c.breakout.decay = 1.0;
    c.detector.tempering = 0.0;
    let err = Ensemble::new(c).unwrap_err();
    assert_eq!(err.problems.len(), 5, "{err}");
    assert!(
        err.problems
            .iter()
            .any(|p| p.starts_with("detector.tempering"))
    );
    let mut none = EnsembleConfig::default();
    none.momentum.enabled = false;
    none.mean_reversion.enabled = false;
    none.breakout.enabled = false;
    none.regime_drift.enabled = false;
    assert!(Ensemble::new(none).is_err());
    assert!(Ensemble::with_models(EnsembleConfig::default(), Vec::new()).is_err());
}

#[test]
fn the_config_refuses_unknown_fields() {
    let c: EnsembleConfig =
        serde_json::from_str(r#"{"horizon_bars": 3, "momentum": {"gain": 0.2}}"#).unwrap();
    assert_eq!(c.horizon_bars, 3);
    assert_eq!(c.momentum.slow, EnsembleConfig::default().momentum.slow);
    assert!(serde_json::from_str::<EnsembleConfig>(r#"{"horizon": 3}"#).is_err());
    assert!(serde_json::from_str::<EnsembleConfig>(r#"{"breakout": {"length": 3}}"#).is_err());
}
