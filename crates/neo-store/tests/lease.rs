//! The desk's lease over PostgreSQL: one holder at a time, released the moment
//! its holder goes (so a standby takes over), and a holder whose session was
//! cut learns it lost the lease on its next check.
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use neo_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_holder_then_the_standby_takes_over() {
    let Some(first) = common::postgres().await else {
        return;
    };
    let second = Store::connect_with(&first.url, &common::options())
        .await
        .unwrap();
    let mut held = first.try_lease("desk:paper").await.unwrap().expect("free");
    assert_eq!(held.name(), "desk:paper");
    held.check().await.unwrap();
    assert!(second.try_lease("desk:paper").await.unwrap().is_none());
    // Another account's desk is another lease.
    assert!(second.try_lease("desk:other").await.unwrap().is_some());
    held.release().await;
    let mut taken = second
        .try_lease("desk:paper")
        .await
        .unwrap()
        .expect("released");
    taken.check().await.unwrap();
    // Dropping the holder (as a dying process does) frees it too.
    drop(taken);
    let mut again = None;
    for _ in 0..50 {
        again = first.try_lease("desk:paper").await.unwrap();
        if again.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "a dropped lease must be released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_session_loses_the_lease() {
    let Some(db) = neo_testkit::db::TestDb::postgres().await else {
        return;
    };
    let store = Store::connect_with(&db.url, &common::options())
        .await
        .unwrap();
    let mut held = store.try_lease("desk:paper").await.unwrap().unwrap();
    assert!(db.take_away().await);
    db.give_back().await;
    let lost = held.check().await;
    assert!(lost.is_err(), "{lost:?}");
    // The lock went with the session: the lease is free for whoever asks next.
    assert!(store.try_lease("desk:paper").await.unwrap().is_some());
}

#[tokio::test]
async fn sqlite_is_one_process_and_always_leads() {
    let store = common::sqlite().await;
    let mut lease = store.try_lease("desk:paper").await.unwrap().unwrap();
    lease.check().await.unwrap();
}
