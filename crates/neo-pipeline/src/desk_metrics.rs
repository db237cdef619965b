//! The desk's and the strategy loop's figures as Prometheus gauges.

use neo_api::metrics::names;
use neo_engine::desk::Figures;
use neo_engine::intel::EnsembleMetrics;
use neo_engine::market::Regime;

/// The ensemble's quality, weights and regime as Prometheus gauges.
pub(crate) fn export_strategy(instrument: &str, quality: &EnsembleMetrics, regime: Option<Regime>) {
    let instrument = instrument.to_owned();
    let set = |name: &'static str, value: Option<f64>| {
        if let Some(v) = value {
            metrics::gauge!(name, "instrument" => instrument.clone()).set(v);
        }
    };
    set(names::STRATEGY_BRIER, quality.brier);
    set(
        names::STRATEGY_ACCURACY,
        quality.accuracy_pct.map(|p| p / 100.0),
    );
    set(names::STRATEGY_WEIGHT_STABILITY, quality.weight_stability);
    for model in &quality.models {
        metrics::gauge!(names::STRATEGY_MODEL_WEIGHT, "instrument" => instrument.clone(), "model" => model.name)
            .set(model.weight);
    }
    for r in Regime::ALL {
        metrics::gauge!(names::STRATEGY_REGIME, "instrument" => instrument.clone(), "regime" => r.as_str())
            .set(if regime == Some(r) { 1.0 } else { 0.0 });
    }
}

/// The desk's per-feature figures as Prometheus gauges (a figure not yet measurable is left unset).
pub(crate) fn export_figures(figures: &Figures) {
    let set = |name: &'static str, value: Option<f64>| {
        if let Some(v) = value {
            metrics::gauge!(name).set(v);
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let count = |n: u64| Some(n as f64);
    set(names::DESK_CALIBRATION_ECE, figures.calibration_ece);
    set(
        names::DESK_CALIBRATION_OUTCOMES,
        count(figures.calibration_outcomes),
    );
    set(names::DESK_KELLY_SCALE, Some(figures.kelly_scale));
    set(names::DESK_MAX_DRAWDOWN, Some(figures.max_drawdown));
    set(names::DESK_BRACKET_SUCCESS, figures.bracket_success_rate);
    set(names::DESK_BRACKET_EXITS, count(figures.bracket_exits));
    set(names::DESK_R_MULTIPLE_MEAN, figures.r_multiple_mean);
    set(names::DESK_R_MULTIPLE_STD, figures.r_multiple_std);
    set(names::DESK_ATR_ACCURACY, figures.atr_accuracy);
}
