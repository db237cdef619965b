//! The SLO probes: every ten seconds, whether the store and the bus answer
//! (uptime) and whether each instrument's last tick is younger than five
//! minutes (market data freshness).

use std::sync::Arc;
use std::time::Duration;

use neo_api::metrics::names;
use neo_api::slo::SloBook;
use neo_engine::slo::SloName;
use neo_store::Store;
use tokio::sync::watch;

use crate::Clock;
use crate::market::MarketShare;

/// How often the probes run.
const EVERY: Duration = Duration::from_secs(10);

/// Data older than this is stale (the seed documents' five minutes).
const FRESH_SECS: i64 = 300;

/// Runs until shutdown.
pub(crate) async fn run(
    slo: SloBook,
    store: Store,
    bus_health: impl Fn() -> Result<(), String> + Send,
    share: Arc<MarketShare>,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !*shutdown.borrow() {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let store_up = tokio::time::timeout(Duration::from_secs(1), store.ping())
            .await
            .is_ok_and(|r| r.is_ok());
        let now = clock();
        slo.record(SloName::Uptime, store_up && bus_health().is_ok(), now);
        for ticker in share.tickers() {
            let age = now.nanos_since(ticker.ts) / 1_000_000_000;
            slo.record(SloName::DataFreshness, age < FRESH_SECS, now);
        }
        export(&slo, now);
    }
}

/// Every SLO's value, budget and verdict as gauges, for dashboards.
fn export(slo: &SloBook, now: neo_domain::Timestamp) {
    for r in slo.report(now) {
        let name = r.name.as_str();
        if let Some(value) = r.value.filter(|v| v.is_finite()) {
            metrics::gauge!(names::SLO_VALUE, "slo" => name).set(value);
        }
        metrics::gauge!(names::SLO_BUDGET, "slo" => name).set(r.budget_remaining);
        metrics::gauge!(names::SLO_MET, "slo" => name).set(if r.met { 1.0 } else { 0.0 });
    }
}
