//! Criterion benches of the engine's hot paths: the same workloads as `neo bench`.

// A benchmark whose setup fails is a bug: stop loudly rather than report nothing.
#![allow(clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use neo::bench::workloads::{
    self, KellySizing, OmsIntentToFill, PortfolioApplyFill, RiskCheck, Setup, SignalValidate,
    Workload,
};

fn bench<W: Workload>(c: &mut Criterion, name: &str, make: impl Fn() -> Setup<W>) {
    let mut workload = make().unwrap_or_else(|e| panic!("{name}: setup failed: {e}"));
    c.bench_function(name, |b| b.iter(|| black_box(workload.step())));
}

fn engine(c: &mut Criterion) {
    bench(c, "risk_check", RiskCheck::new);
    bench(c, "kelly_sizing", KellySizing::new);
    bench(c, "oms_intent_to_fill", OmsIntentToFill::new);
    bench(c, "portfolio_apply_fill", PortfolioApplyFill::new);
    bench(c, "indicator_ema", workloads::ema);
    bench(c, "indicator_rsi", workloads::rsi);
    bench(c, "indicator_atr", workloads::atr);
    bench(c, "indicator_adx", workloads::adx);
    bench(c, "indicator_bbands", workloads::bbands);
    bench(c, "signal_validate", SignalValidate::new);
}

criterion_group!(benches, engine);
criterion_main!(benches);
