//! Position tracking in the running pipeline: after a fill, the stored fills,
//! the stored position and the desk agree; a fill that reaches the store
//! behind the desk's back (a bug, or a hand-edited database) is found on two
//! checks in a row and reported once: the audit trail, every notification
//! channel and `neo_position_mismatch`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{entry_that_trades, rig};
use neo_domain::contracts::{FillV1, Liquidity};
use neo_domain::{IdKind, InstrumentId, Money, Side, Timestamp};
use neo_store::{Op, Store, Unit};

async fn metrics(rig: &common::Rig) -> String {
    reqwest::get(format!("{}/metrics", rig.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_behind_the_desks_back_is_reported_once() {
    let db = neo_testkit::db::TestDb::sqlite();
    let rig = Box::pin(rig(&db.url, |c| c.positions.reconcile_secs = 1)).await;
    let (id, _) = entry_that_trades(&rig).await;
    rig.story_until(&id, |s| {
        s["fills"].as_array().is_some_and(|f| !f.is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let m = metrics(&rig).await;
    assert!(
        m.contains("neo_position_reconciliations_total{outcome=\"agreed\"}"),
        "{m}"
    );
    assert!(
        !m.contains("neo_position_mismatch{instrument=\"BTC-USDT\"} 1"),
        "{m}"
    );

    // A fill the desk never made.
    let store = Store::connect(&db.url).await.unwrap();
    let ghost = FillV1 {
        id: neo_domain::MessageId::derived(IdKind::Fill, "ghost"),
        order_id: neo_domain::MessageId::derived(IdKind::Order, "ghost"),
        signal_id: neo_domain::MessageId::derived(IdKind::Signal, "ghost"),
        instrument: InstrumentId::new("BTC-USDT").unwrap(),
        side: Side::Buy,
        price: "100".parse().unwrap(),
        quantity: "0.5".parse().unwrap(),
        fee: Money::ZERO,
        liquidity: Liquidity::Taker,
        arrival_price: None,
        ts_event: Timestamp::from_unix_secs(1_700_000_000).unwrap(),
    };
    store
        .commit(&[Unit {
            inbox: None,
            ops: vec![Op::InsertFill(ghost)],
            outbox: Vec::new(),
        }])
        .await
        .unwrap();
    let told = |r: &[neo_testkit::mock::Recorded]| {
        r.iter()
            .filter(|m| m.body.to_string().contains("position mismatch"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while told(&rig.slack.requests()) == 0 {
        assert!(tokio::time::Instant::now() < deadline, "never reported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = metrics(&rig).await;
    assert!(
        m.contains("neo_position_mismatch{instrument=\"BTC-USDT\"} 1"),
        "{m}"
    );
    // Reported once, not on every check.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(told(&rig.slack.requests()), 1);
    rig.stop().await;
}
