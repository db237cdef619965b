//! `GET /v1/system/checks`: every dependency of this NEO checked now, in
//! parallel, each within five seconds: the store (a ping), the bus, the
//! market feed's freshness, and whatever else the process was given as a
//! [`Probe`] (each notification channel, each LLM provider). `neo doctor`
//! prints it as a table; a failed check says what failed and why.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::AppState;

/// How long one check may take before it counts as failed.
const CHECK_WITHIN: Duration = Duration::from_secs(5);

/// Why a probe's dependency failed its check (the probe's own typed error).
pub type ProbeError = Box<dyn std::error::Error + Send + Sync>;

/// A dependency reached by this process that can be checked on demand.
pub trait Probe: Send + Sync + 'static {
    /// What is checked (`notify.slack`, `llm.local`).
    fn name(&self) -> String;
    /// Checks it now: what was found, or why it failed.
    fn check(&self) -> BoxFuture<'_, Result<String, ProbeError>>;
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or why it failed.
    pub detail: String,
    /// How long the check took.
    pub millis: u64,
}

/// Runs `check`, timing it and bounding it by [`CHECK_WITHIN`].
async fn timed(name: String, check: impl Future<Output = Result<String, String>>) -> CheckResult {
    let started = Instant::now();
    let outcome = tokio::time::timeout(CHECK_WITHIN, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", CHECK_WITHIN.as_secs())));
    let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (ok, detail) = match outcome {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    CheckResult {
        name,
        ok,
        detail,
        millis,
    }
}

/// The market's freshness as one check: fails when the feed is disconnected or an instrument is stale.
fn market_check(market: &Value) -> Result<String, String> {
    let source = market["source"].as_str().unwrap_or("?");
    let stale: Vec<&str> = market["instruments"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v["stale"] == true)
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default();
    let count = market["instruments"]
        .as_object()
        .map_or(0, serde_json::Map::len);
    if market["connected"] == false {
        let why = market["last_problem"].as_str().unwrap_or("no reason given");
        return Err(format!("{source}: not connected ({why})"));
    }
    if !stale.is_empty() {
        return Err(format!(
            "{source}: stale data for {} (older than {} s)",
            stale.join(", "),
            market["max_data_age_secs"]
        ));
    }
    Ok(format!("{source}: {count} instruments fresh"))
}

/// `GET /v1/system/checks`: `{"ok": bool, "checks": [{"name", "ok", "detail", "millis"}]}`.
pub(super) async fn checks(State(state): State<AppState>) -> Json<Value> {
    let store = state.store.clone();
    let mut runs: Vec<BoxFuture<'_, CheckResult>> =
        vec![Box::pin(timed("store".to_owned(), async move {
            store
                .ping()
                .await
                .map(|()| match store.kind() {
                    neo_store::StoreKind::Sqlite => "SQLite answers".to_owned(),
                    neo_store::StoreKind::Postgres => "PostgreSQL answers".to_owned(),
                })
                .map_err(|e| e.to_string())
        }))];
    if let Some(live) = state.live.clone() {
        let bus = live.bus_ready().map(|()| "connected".to_owned());
        runs.push(Box::pin(timed("bus".to_owned(), async move { bus })));
        let market = live.market((state.clock)());
        runs.push(Box::pin(timed("market".to_owned(), async move {
            market_check(&market)
        })));
    }
    for probe in state.probes.iter() {
        let probe: Arc<dyn Probe> = probe.clone();
        runs.push(Box::pin(async move {
            // The reason is shown, so it becomes text only here.
            let check = async { probe.check().await.map_err(|e| e.to_string()) };
            timed(probe.name(), check).await
        }));
    }
    let results = futures::future::join_all(runs).await;
    let ok = results.iter().all(|r| r.ok);
    Json(json!({ "ok": ok, "checks": results }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_market_fails_when_disconnected_or_stale() {
        let fresh = json!({"source": "binance", "connected": true, "max_data_age_secs": 300,
            "instruments": {"BTC-USDT": {"stale": false}}});
        assert_eq!(
            market_check(&fresh).unwrap(),
            "binance: 1 instruments fresh"
        );
        let stale = json!({"source": "binance", "connected": true, "max_data_age_secs": 300,
            "instruments": {"BTC-USDT": {"stale": true}, "ETH-USDT": {"stale": false}}});
        assert!(
            market_check(&stale)
                .unwrap_err()
                .contains("stale data for BTC-USDT")
        );
        let down = json!({"source": "kraken", "connected": false, "last_problem": "refused",
            "instruments": {}});
        assert_eq!(
            market_check(&down).unwrap_err(),
            "kraken: not connected (refused)"
        );
    }

    #[tokio::test]
    async fn a_slow_check_fails_with_the_limit_named() {
        tokio::time::pause();
        let r = timed("slow".to_owned(), std::future::pending()).await;
        assert!(!r.ok);
        assert!(r.detail.contains("no answer within 5 s"));
    }
}
