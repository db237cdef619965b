//! Opening stores: a down database is `Unavailable` quickly (readiness answers
//! 503 instead of hanging), bad URLs are configuration errors, SQLite files and
//! folders are created with WAL, and a damaged row reads as `Corrupt`.
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::signal;
use neo_store::{Op, Store, StoreError, StoreKind, StoreOptions, Unit};
use neo_testkit::db::unique_name;
use sqlx::Connection;

/// A local port nothing listens on: bound, then released.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn short() -> StoreOptions {
    StoreOptions {
        acquire_timeout: Duration::from_secs(1),
        ..StoreOptions::default()
    }
}

#[tokio::test]
async fn an_unreachable_postgres_is_unavailable_not_a_hang() {
    let url = format!("postgres://postgres@127.0.0.1:{}/neo", dead_port());
    let store = Store::connect_lazy(&url, &short()).unwrap();
    assert_eq!(store.kind(), StoreKind::Postgres);
    let ping = tokio::time::timeout(Duration::from_secs(15), store.ping())
        .await
        .expect("ping must give up within its acquire timeout");
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    assert!(ping.unwrap_err().is_transient());

    let connect =
        tokio::time::timeout(Duration::from_secs(15), Store::connect_with(&url, &short()))
            .await
            .expect("connect must give up within its acquire timeout");
    assert!(
        matches!(connect, Err(StoreError::Unavailable(_))),
        "{connect:?}"
    );

    // Reads and commits report the same, so the API can answer 503.
    let unit = Unit {
        ops: vec![Op::InsertSignal(signal(1))],
        ..Unit::default()
    };
    let commit = tokio::time::timeout(Duration::from_secs(15), store.commit(&[unit]))
        .await
        .unwrap();
    assert!(
        matches!(commit, Err(StoreError::Unavailable(_))),
        "{commit:?}"
    );
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let store = common::sqlite().await;
    store.ping().await.unwrap();
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.checkpoint("x").await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn postgres_closed_store_is_unavailable() {
    let Some(store) = common::postgres().await else {
        return;
    };
    assert_eq!(store.kind(), StoreKind::Postgres);
    store.close().await;
    assert!(matches!(
        store.ping().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn urls_that_are_not_sqlite_or_postgres_are_config_errors() {
    let err = Store::connect("mysql://localhost/neo").await.unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err:?}");
    assert!(!err.is_transient());
}

#[tokio::test]
async fn sqlite_creates_its_folder_and_file_in_wal_mode() {
    let dir = std::env::temp_dir().join(unique_name("neo_store_dir"));
    let path = dir.join("data").join("neo.db");
    let url = format!("sqlite://{}", path.display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.kind(), StoreKind::Sqlite);
    let unit = Unit {
        ops: vec![Op::InsertSignal(signal(1))],
        ..Unit::default()
    };
    store.commit(&[unit]).await.unwrap();
    assert!(path.exists());

    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut raw)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    raw.close().await.unwrap();
    store.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_in_memory_sqlite_store_works() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let s = signal(3);
    let unit = Unit {
        ops: vec![Op::InsertSignal(s.clone())],
        ..Unit::default()
    };
    store.commit(&[unit]).await.unwrap();
    assert_eq!(store.get_signal(s.id).await.unwrap(), Some(s));
}

#[tokio::test]
async fn a_damaged_body_reads_as_corrupt() {
    let store = common::sqlite().await;
    let s = signal(1);
    let unit = Unit {
        ops: vec![Op::InsertSignal(s.clone())],
        ..Unit::default()
    };
    store.commit(&[unit]).await.unwrap();
    common::damage_sqlite(&store, "UPDATE signals SET body = '{\"id\": 1}'").await;
    common::assert_corrupt(store.get_signal(s.id).await, "signals");
}
