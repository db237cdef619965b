//! `neo bench`: the built-in performance baseline. Each benchmark is a hot
//! path of the pipeline; the figures are per operation.

mod harness;
pub mod workloads;

use std::collections::BTreeMap;
use std::time::Duration;

pub use harness::{Budget, Stats, measure};
use workloads::{
    KellySizing, OmsIntentToFill, PortfolioApplyFill, RiskCheck, SignalValidate, Workload,
};

/// Every benchmark, in the order they run: (name, what it measures).
pub const BENCHMARKS: &[(&str, &str)] = &[
    ("risk_check", "pre-trade risk check of a bracketed entry"),
    (
        "kelly_sizing",
        "drawdown-aware Kelly fraction and exact quantity",
    ),
    (
        "oms_intent_to_fill",
        "risk check, OMS submit and fill on the next tick",
    ),
    ("portfolio_apply_fill", "one fill applied to the account"),
    ("indicator_ema", "EMA(20) update"),
    ("indicator_rsi", "RSI(14) update"),
    ("indicator_atr", "ATR(14) update"),
    ("indicator_adx", "ADX(14) update"),
    ("indicator_bbands", "Bollinger Bands(20, 2) update"),
    (
        "signal_validate",
        "SignalEventV1 validation: schema and rules",
    ),
];

fn run_one<W: Workload>(
    budget: Budget,
    make: impl Fn() -> workloads::Setup<W>,
) -> Result<Stats, String> {
    let mut workload = make()?;
    Ok(measure(budget, || workload.step()))
}

/// Runs one benchmark by name.
pub fn run(name: &str, budget: Budget) -> Result<Stats, String> {
    match name {
        "risk_check" => run_one(budget, RiskCheck::new),
        "kelly_sizing" => run_one(budget, KellySizing::new),
        "oms_intent_to_fill" => run_one(budget, OmsIntentToFill::new),
        "portfolio_apply_fill" => run_one(budget, PortfolioApplyFill::new),
        "indicator_ema" => run_one(budget, workloads::ema),
        "indicator_rsi" => run_one(budget, workloads::rsi),
        "indicator_atr" => run_one(budget, workloads::atr),
        "indicator_adx" => run_one(budget, workloads::adx),
        "indicator_bbands" => run_one(budget, workloads::bbands),
        "signal_validate" => run_one(budget, SignalValidate::new),
        other => Err(format!("no benchmark named {other:?}")),
    }
}

/// Runs the benchmarks whose names contain `filter` (all when `None`).
pub fn run_all(
    filter: Option<&str>,
    time: Duration,
) -> Result<BTreeMap<&'static str, Stats>, String> {
    let budget = Budget {
        time,
        samples: 10_000,
    };
    let mut results = BTreeMap::new();
    for (name, _) in BENCHMARKS
        .iter()
        .filter(|(n, _)| filter.is_none_or(|f| n.contains(f)))
    {
        results.insert(*name, run(name, budget)?);
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_benchmark_runs_and_reports_ordered_percentiles() {
        let budget = Budget {
            time: Duration::from_millis(2),
            samples: 20,
        };
        for (name, _) in BENCHMARKS {
            let stats = run(name, budget).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                stats.p50_ns > 0.0 && stats.p50_ns <= stats.p99_ns && stats.p99_ns <= stats.max_ns,
                "{name}: {stats:?}"
            );
        }
        assert!(run("nope", budget).is_err());
    }
}
