//! The group-commit writer against SQLite and PostgreSQL: many concurrent
//! callers share transactions, every caller is answered, each unit applies
//! once, a bad request fails alone, and the task stops after draining.
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{TestStore, unit};
use neo_store::{Op, StoreError, Table, Unit, UnitOutcome, WriterConfig};
use tokio::task::JoinSet;

on_both!(
    a_thousand_concurrent_commits_share_transactions,
    the_writer_drains_then_stops,
);

async fn a_thousand_concurrent_commits_share_transactions(store: &TestStore) {
    let (writer, task) = store.writer(WriterConfig {
        capacity: 64,
        max_units: 256,
    });
    let mut callers = JoinSet::new();
    for n in 0..1000 {
        let writer = writer.clone();
        callers.spawn(async move { writer.commit(vec![unit("risk", n)]).await });
    }
    let mut seqs = BTreeSet::new();
    while let Some(answer) = callers.join_next().await {
        let outcomes = answer.unwrap().unwrap();
        let [UnitOutcome::Applied { outbox_seqs }] = &outcomes[..] else {
            panic!("expected one applied unit, got {outcomes:?}");
        };
        assert_eq!(outbox_seqs.len(), 1);
        assert!(
            seqs.insert(outbox_seqs[0]),
            "seq {} given twice",
            outbox_seqs[0]
        );
    }
    for table in [Table::Inbox, Table::AuditEvents, Table::Outbox] {
        assert_eq!(store.count(table).await.unwrap(), 1000, "{table:?}");
    }
    let stats = writer.stats();
    assert_eq!(stats.requests, 1000);
    assert_eq!(stats.units, 1000);
    assert!(
        stats.transactions < 1000,
        "group commit should merge requests: {stats:?}"
    );

    // Everything redelivered: all answered, nothing applied again.
    let mut callers = JoinSet::new();
    for n in 0..1000 {
        let writer = writer.clone();
        callers.spawn(async move { writer.commit(vec![unit("risk", n)]).await });
    }
    while let Some(answer) = callers.join_next().await {
        assert_eq!(answer.unwrap().unwrap(), vec![UnitOutcome::AlreadyHandled]);
    }
    for table in [Table::Inbox, Table::AuditEvents, Table::Outbox] {
        assert_eq!(store.count(table).await.unwrap(), 1000, "{table:?}");
    }
    drop(writer);
    task.await.unwrap();
}

async fn the_writer_drains_then_stops(store: &TestStore) {
    let (writer, task) = store.writer(WriterConfig {
        capacity: 4,
        max_units: 8,
    });
    let mut callers = JoinSet::new();
    for n in 0..50 {
        let writer = writer.clone();
        callers.spawn(async move { writer.commit(vec![unit("oms", n)]).await });
    }
    drop(writer);
    // The task ends only once every handle is gone and every request is committed.
    task.await.unwrap();
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 50);
    while let Some(answer) = callers.join_next().await {
        assert!(answer.unwrap().unwrap()[0].is_applied());
    }

    // A writer whose task is gone answers Closed instead of hanging.
    let (writer, task) = store.writer(WriterConfig::default());
    task.abort();
    let _ = task.await;
    let err = writer.commit(vec![unit("oms", 99)]).await.unwrap_err();
    assert_eq!(err, StoreError::Closed);
    assert!(writer.commit(Vec::new()).await.unwrap().is_empty());
}

/// One request that the database refuses (a negative checkpoint), queued among good ones.
fn bad_request() -> Vec<Unit> {
    vec![Unit {
        ops: vec![Op::SetCheckpoint {
            consumer: "bus.risk".into(),
            seq: -1,
        }],
        ..unit("risk", 10_000)
    }]
}

/// On a current-thread runtime every caller below queues its request before the writer
/// task runs again, so they are merged into one batch, which the bad request fails.
async fn a_bad_request_fails_alone(store: &TestStore) {
    let (writer, task) = store.writer(WriterConfig::default());
    let mut callers = Vec::new();
    for n in 0..20 {
        let writer = writer.clone();
        let units = if n == 7 {
            bad_request()
        } else {
            vec![unit("risk", n)]
        };
        callers.push(tokio::spawn(async move { writer.commit(units).await }));
    }
    for (n, caller) in callers.into_iter().enumerate() {
        let answer = caller.await.unwrap();
        if n == 7 {
            assert!(
                matches!(answer, Err(StoreError::Constraint(_))),
                "{answer:?}"
            );
        } else {
            assert!(answer.unwrap()[0].is_applied(), "request {n}");
        }
    }
    let stats = writer.stats();
    assert!(
        stats.split_batches >= 1,
        "the batch was never merged: {stats:?}"
    );
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 19);
    assert_eq!(store.checkpoint("bus.risk").await.unwrap(), 0);
    drop(writer);
    task.await.unwrap();
}

#[tokio::test]
async fn sqlite_a_bad_request_fails_alone() {
    a_bad_request_fails_alone(&common::sqlite().await).await;
}

#[tokio::test]
async fn postgres_a_bad_request_fails_alone() {
    if let Some(store) = common::postgres().await {
        a_bad_request_fails_alone(&store).await;
    }
}
