//! Component state (`Op::PutState`, `Store::get_state`) on SQLite and PostgreSQL:
//! what is put reads back exactly, a newer `ts_event` wins and at an equal one the
//! later write wins (across commits and within one), a handled message puts
//! nothing, the state survives reopening the store, and a damaged body is an error.
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestStore, audit, desk_state, id, put_states};
use neo_domain::IdKind;
use neo_store::{InboxKey, Op, StateKey, Store, Table, Unit, UnitOutcome};

on_both!(
    a_put_state_reads_back_exactly,
    a_newer_state_wins_and_an_older_one_is_ignored,
    two_puts_of_one_key_in_one_commit_keep_the_winner,
    a_handled_message_puts_no_state,
    state_survives_reopening_the_store,
);

async fn desk(store: &Store) -> Option<neo_store::StateRecord> {
    store.get_state(StateKey::Desk).await.unwrap()
}

async fn a_put_state_reads_back_exactly(store: &TestStore) {
    assert_eq!(desk(store).await, None);
    let state = desk_state(1, 0);
    // The state lands with the decision that changed it, in one unit.
    let unit = Unit {
        inbox: Some(InboxKey::new("desk", id(IdKind::Signal, 1))),
        ops: vec![Op::InsertAudit(audit(1)), Op::PutState(state.clone())],
        outbox: vec![],
    };
    assert!(store.commit(&[unit]).await.unwrap()[0].is_applied());
    assert_eq!(desk(store).await, Some(state));
    assert_eq!(store.count(Table::ComponentState).await.unwrap(), 1);
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 1);
    assert_eq!(StateKey::Desk.as_str(), "desk");
}

async fn a_newer_state_wins_and_an_older_one_is_ignored(store: &TestStore) {
    let put = |n, at| [put_states([desk_state(n, at)])];
    store.commit(&put(1, 5)).await.unwrap();
    store.commit(&put(2, 3)).await.unwrap(); // older: ignored
    assert_eq!(desk(store).await, Some(desk_state(1, 5)));
    store.commit(&put(3, 5)).await.unwrap(); // equal: the later write wins
    assert_eq!(desk(store).await, Some(desk_state(3, 5)));
    store.commit(&put(4, 6)).await.unwrap(); // newer: wins
    assert_eq!(desk(store).await, Some(desk_state(4, 6)));
    assert_eq!(store.count(Table::ComponentState).await.unwrap(), 1);
}

async fn two_puts_of_one_key_in_one_commit_keep_the_winner(store: &TestStore) {
    // One unit, equal times: the later put wins.
    let same_time = put_states([desk_state(1, 1), desk_state(2, 1)]);
    store.commit(&[same_time]).await.unwrap();
    assert_eq!(desk(store).await, Some(desk_state(2, 1)));
    // One unit, the later put older: the newer one stays.
    let older_last = put_states([desk_state(3, 4), desk_state(4, 2)]);
    store.commit(&[older_last]).await.unwrap();
    assert_eq!(desk(store).await, Some(desk_state(3, 4)));
    // Two units of one commit, equal times: the later unit wins.
    let units = [
        put_states([desk_state(5, 7)]),
        put_states([desk_state(6, 7)]),
    ];
    store.commit(&units).await.unwrap();
    assert_eq!(desk(store).await, Some(desk_state(6, 7)));
    // A commit whose puts are all older than the stored state changes nothing.
    let units = [
        put_states([desk_state(7, 6)]),
        put_states([desk_state(8, 6)]),
    ];
    store.commit(&units).await.unwrap();
    assert_eq!(desk(store).await, Some(desk_state(6, 7)));
    assert_eq!(store.count(Table::ComponentState).await.unwrap(), 1);
}

async fn a_handled_message_puts_no_state(store: &TestStore) {
    let key = InboxKey::new("desk", id(IdKind::Signal, 1));
    let with = |n, at| Unit {
        inbox: Some(key.clone()),
        ..put_states([desk_state(n, at)])
    };
    assert!(store.commit(&[with(1, 1)]).await.unwrap()[0].is_applied());
    // Redelivered with a newer state: skipped, the state stays.
    let out = store.commit(&[with(2, 9)]).await.unwrap();
    assert_eq!(out, [UnitOutcome::AlreadyHandled]);
    assert_eq!(desk(store).await, Some(desk_state(1, 1)));
    // A new message twice in one commit: only its first unit puts.
    let key = InboxKey::new("desk", id(IdKind::Signal, 2));
    let twice = [3, 4].map(|n| Unit {
        inbox: Some(key.clone()),
        ..put_states([desk_state(n, 10 + n as i64)])
    });
    let out = store.commit(&twice).await.unwrap();
    assert_eq!(out[1], UnitOutcome::AlreadyHandled);
    assert_eq!(desk(store).await, Some(desk_state(3, 13)));
}

async fn state_survives_reopening_the_store(store: &TestStore) {
    let state = desk_state(1, 5);
    store.commit(&[put_states([state.clone()])]).await.unwrap();
    store.close().await;
    let reopened = Store::connect_with(&store.url, &common::options())
        .await
        .unwrap();
    assert_eq!(desk(&reopened).await, Some(state.clone()));
    // The restored timestamp still guards against stale writes.
    reopened
        .commit(&[put_states([desk_state(2, 4)])])
        .await
        .unwrap();
    assert_eq!(desk(&reopened).await, Some(state));
    reopened.close().await;
}

/// PostgreSQL's JSONB cannot hold anything but JSON; SQLite's TEXT can.
#[tokio::test]
async fn a_state_body_that_is_not_json_is_corrupt() {
    let store = common::sqlite().await;
    store
        .commit(&[put_states([desk_state(1, 0)])])
        .await
        .unwrap();
    common::damage_sqlite(
        &store,
        "UPDATE component_state SET body = '{\"truncated\": '",
    )
    .await;
    common::assert_corrupt(store.get_state(StateKey::Desk).await, "component_state");
}
