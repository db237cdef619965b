//! Retention down to the fills, on SQLite and PostgreSQL: after trading, a
//! flatten and a new entry, a sweep two hours on with a one-hour retention
//! removes the settled history (signals, orders, audit, and the fills of
//! signals with nothing working, their quantities carried into a stored
//! total) and keeps the working bracket's. A restart then resumes the books
//! from the desk's memory, not the fills: cash, realized PnL and positions
//! are exactly what they were, and position reconciliation still agrees.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Rig, entry_that_trades, entry_that_trades_tagged, restart, rig};
use neo_store::{StateKey, Store, Table};
use serde_json::{Value, json};

/// What must survive: cash, realized PnL, and each position's side, quantity and average price.
fn books(p: &Value) -> Value {
    let positions: Vec<Value> = p["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| json!([x["instrument"], x["side"], x["quantity"], x["avg_price"]]))
        .collect();
    json!({ "cash": p["cash"], "realized": p["realized_pnl"], "positions": positions })
}

async fn portfolio_until(rig: &Rig, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, p) = rig.get("/v1/portfolio").await;
        if done(&p) || tokio::time::Instant::now() > deadline {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_sweep_keeps_the_books_and_the_working_bracket(url: &str) {
    let rig = Box::pin(rig(url, |c| c.positions.reconcile_secs = 1)).await;
    let (first, _) = entry_that_trades(&rig).await;
    rig.story_until(&first, |s| s["status"] == "filled").await;
    let r = rig
        .http
        .post(format!("{}/v1/trading/flatten", rig.base))
        .json(&json!({"reason": "retention test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let flat = |p: &Value| {
        p["open_orders"] == 0
            && p["positions"]
                .as_array()
                .is_some_and(|ps| ps.iter().all(|x| x["side"] == "flat"))
    };
    assert!(flat(&portfolio_until(&rig, flat).await));
    let (second, _) = entry_that_trades_tagged(&rig, "kept").await;
    rig.story_until(&second, |s| s["status"] == "filled").await;
    let before = books(&portfolio_until(&rig, |p| p["open_orders"] != 0).await);
    let config = rig.config.clone();
    let dir = rig.stop_keeping_data().await;

    let store = Store::connect(url).await.unwrap();
    let fills = store.count(Table::Fills).await.unwrap();
    let later = neo_domain::Timestamp::from_nanos(
        neo_pipeline::wall_clock()().as_nanos() + 2 * 3_600_000_000_000,
    );
    let clock: neo_pipeline::Clock = Arc::new(move || later);
    let hour = Duration::from_secs(3_600);
    let swept = neo_pipeline::retention::prune_now(&store, hour, true, &clock)
        .await
        .unwrap();
    assert!(
        swept.fills >= 2,
        "the entry's and the flatten's fills: {swept:?}"
    );
    assert!(
        swept.rows.signals >= 1 && swept.rows.orders >= 1,
        "{swept:?}"
    );
    let left = store.count(Table::Fills).await.unwrap();
    assert_eq!(left, fills - swept.fills);
    assert!(left >= 1, "the working bracket's entry fill stays");
    assert!(
        store
            .get_signal(second.parse().unwrap())
            .await
            .unwrap()
            .is_some(),
        "the working bracket's signal stays"
    );
    assert!(
        store
            .get_state(StateKey::PrunedFills)
            .await
            .unwrap()
            .is_some()
    );
    // Nothing more is old enough.
    let again = neo_pipeline::retention::prune_now(&store, hour, true, &clock)
        .await
        .unwrap();
    assert_eq!(again.fills, 0, "{again:?}");
    store.close().await;

    let rig = Box::pin(restart(dir, config)).await;
    let after = books(&portfolio_until(&rig, |p| books(p) == before).await);
    assert_eq!(after, before, "the books from the desk's memory");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let m = reqwest::get(format!("{}/metrics", rig.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("neo_position_reconciliations_total{outcome=\"agreed\"}"),
        "{m}"
    );
    assert!(!m.contains("outcome=\"mismatch\""), "{m}");
    rig.stop().await;
}

neo_testkit::on_both_stores!(a_sweep_keeps_the_books_and_the_working_bracket);
