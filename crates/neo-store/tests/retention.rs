//! Retention on SQLite and PostgreSQL alike: old inbox rows, relayed outbox
//! rows (in embedded mode only those every checkpoint has passed), old audit
//! rows, and old settled orders and signals with nothing working go, a batch
//! at a time; pending outbox rows and a working bracket's signal, orders and
//! fills stay. Old fills of signals with nothing working go separately, with
//! the running total of their quantities written in the same transaction.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{TestStore, fill, id, order, signal, ts, unit};
use neo_domain::IdKind;
use neo_domain::contracts::OrderStatus;
use neo_store::{Op, Pruned, StateKey, StateRecord, Table, Unit, UnitOutcome};

on_both!(retention_prunes_only_what_is_old_and_unneeded);

const HOUR: Duration = Duration::from_secs(3_600);

async fn retention_prunes_only_what_is_old_and_unneeded(store: &TestStore) {
    // Three handled messages: inbox rows, audit rows at ts(3), envelopes at ts(n).
    let out = store
        .commit(&[unit("desk", 0), unit("desk", 1), unit("desk", 2)])
        .await
        .unwrap();
    let seqs: Vec<i64> = out
        .iter()
        .flat_map(|o| match o {
            UnitOutcome::Applied { outbox_seqs } => outbox_seqs.clone(),
            UnitOutcome::AlreadyHandled => panic!("fresh units"),
        })
        .collect();
    store.mark_relayed(&seqs[..2]).await.unwrap();
    // Signal 1: a filled entry, nothing working. Signal 2: a filled entry and a working stop.
    let mut working = order(2);
    working.id = id(IdKind::Order, 20);
    working.status = OrderStatus::Accepted;
    let trading = Unit {
        ops: vec![
            Op::InsertSignal(signal(1)),
            Op::InsertSignal(signal(2)),
            Op::UpsertOrder(order(1)),
            Op::UpsertOrder(order(2)),
            Op::UpsertOrder(working),
            Op::InsertFill(fill(1)),
            Op::InsertFill(fill(2)),
        ],
        ..Unit::default()
    };
    store.commit(&[trading]).await.unwrap();
    let later = ts(0).add_nanos(2 * 3_600_000_000_000);

    // Nothing is older than a year.
    let none = store
        .prune(HOUR * 24 * 365, later, 100, false)
        .await
        .unwrap();
    assert_eq!(none, Pruned::default());

    // Embedded: only outbox rows up to the slowest checkpoint may go.
    store.set_checkpoint("desk", seqs[0]).await.unwrap();
    store.set_checkpoint("notify", seqs[2]).await.unwrap();
    let first = store.prune(HOUR, later, 1, true).await.unwrap();
    assert_eq!(
        (first.outbox, first.audit, first.orders, first.signals),
        (1, 1, 1, 1),
        "{first:?}"
    );
    // The inbox keeps rows written within the hour (by the database's clock).
    assert_eq!(first.inbox, 0);
    let rest = store.prune(HOUR, later, 100, true).await.unwrap();
    assert_eq!(
        (rest.outbox, rest.audit, rest.orders, rest.signals),
        (0, 2, 0, 0),
        "{rest:?}"
    );
    // Over NATS the checkpoints do not matter: the other relayed row goes too.
    let nats = store.prune(HOUR, later, 100, false).await.unwrap();
    assert_eq!(nats.outbox, 1);
    assert_eq!(
        store.count(Table::Outbox).await.unwrap(),
        1,
        "the pending row stays"
    );
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 0);
    // Signal 2's orders stay while its stop works; signal 1's settled entry went.
    assert_eq!(store.count(Table::Orders).await.unwrap(), 2);
    assert_eq!(
        store
            .orders_for_signal(id(IdKind::Signal, 1))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(store.count(Table::Fills).await.unwrap(), 2);
    assert_eq!(
        store.count(Table::Signals).await.unwrap(),
        1,
        "the working bracket's signal stays"
    );

    // Fills: only signal 1's is old with nothing working; it goes with the new total.
    assert!(
        store
            .prunable_fills(HOUR * 24 * 365, later, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let old = store.prunable_fills(HOUR, later, 100).await.unwrap();
    assert_eq!(old, vec![fill(1)]);
    let totals = StateRecord {
        key: StateKey::PrunedFills,
        body: serde_json::json!({ "BTC-USDT": "1" }),
        ts_event: later,
    };
    assert_eq!(store.prune_fills(&old, totals.clone()).await.unwrap(), 1);
    assert_eq!(store.count(Table::Fills).await.unwrap(), 1);
    assert_eq!(
        store
            .get_state(StateKey::PrunedFills)
            .await
            .unwrap()
            .map(|r| r.body),
        Some(totals.body)
    );
    assert!(
        store
            .prunable_fills(HOUR, later, 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Inbox rows older than the retention go (the database's clock has whole seconds).
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let inbox = store.prune(Duration::ZERO, later, 2, false).await.unwrap();
    assert_eq!(inbox.inbox, 2);
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 1);
}
