//! Shared by the store's integration tests: a fresh database per test (a temp
//! SQLite file, or a PostgreSQL database created under `NEO_TEST_DATABASE_URL`
//! and dropped afterwards), and builders for the contracts the tests store.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::ops::Deref;

use neo_domain::contracts::{AuditEventV1, FillV1, OrderV1, PositionV1, SignalEventV1};
use neo_domain::{Envelope, IdKind, MessageId, Timestamp};
use neo_store::{InboxKey, Op, StateKey, StateRecord, Store, StoreError, StoreOptions, Unit};
use neo_testkit::db::TestDb;
use serde_json::{Value, json};
use sqlx::Connection;

/// A store on a database of its own, removed when dropped.
pub(crate) struct TestStore {
    /// The store.
    pub(crate) store: Store,
    /// Its URL, to open a second store on the same database.
    pub(crate) url: String,
    _db: TestDb,
}

impl Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// Options for tests: small pools, and a short timeout so a broken setup fails fast.
pub(crate) fn options() -> StoreOptions {
    StoreOptions {
        max_connections: 4,
        acquire_timeout: std::time::Duration::from_secs(20),
        ..StoreOptions::default()
    }
}

async fn open(db: TestDb) -> TestStore {
    let store = Store::connect_with(&db.url, &options()).await.unwrap();
    TestStore {
        store,
        url: db.url.clone(),
        _db: db,
    }
}

/// A store on a new SQLite file under the temp directory.
pub(crate) async fn sqlite() -> TestStore {
    open(TestDb::sqlite()).await
}

/// A store on a new PostgreSQL database, or `None` when no server is configured.
pub(crate) async fn postgres() -> Option<TestStore> {
    Some(open(TestDb::postgres().await?).await)
}

/// Runs a scenario against SQLite and against PostgreSQL (when configured), as two tests.
#[macro_export]
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let store = $crate::common::sqlite().await;
                    super::$scenario(&store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(store) = $crate::common::postgres().await else {
                        return;
                    };
                    super::$scenario(&store).await;
                }
            )*
        }
    };
}

/// A valid fixture from `fixtures/v1/<type_name>/valid/<file>`.
pub(crate) fn fixture<T: serde::de::DeserializeOwned>(type_name: &str, file: &str) -> T {
    let path = neo_testkit::fixture_dir()
        .join(type_name)
        .join("valid")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A stable id for test entity `n` of a kind.
pub(crate) fn id(kind: IdKind, n: u64) -> MessageId {
    MessageId::derived(kind, &format!("store-test-{n}"))
}

/// 2026-11-21T21:09:03.123456789Z plus `n` nanoseconds: full nanosecond precision.
pub(crate) fn ts(n: i64) -> Timestamp {
    Timestamp::from_nanos(1_795_295_343_123_456_789 + n)
}

/// A signal with id `n`.
pub(crate) fn signal(n: u64) -> SignalEventV1 {
    let mut s: SignalEventV1 = fixture("SignalEventV1", "tradingview_entry.json");
    s.id = id(IdKind::Signal, n);
    s.ts_event = ts(i64::try_from(n).unwrap());
    s
}

/// The entry order of signal `n`.
pub(crate) fn order(n: u64) -> OrderV1 {
    let mut o: OrderV1 = fixture("OrderV1", "filled_entry.json");
    o.id = id(IdKind::Order, n);
    o.signal_id = id(IdKind::Signal, n);
    o.ts_created = ts(0);
    o.ts_event = ts(1);
    o
}

/// A fill of order `n`.
pub(crate) fn fill(n: u64) -> FillV1 {
    let mut f: FillV1 = fixture("FillV1", "taker_buy.json");
    f.id = id(IdKind::Fill, n);
    f.order_id = id(IdKind::Order, n);
    f.signal_id = id(IdKind::Signal, n);
    f.ts_event = ts(2);
    f
}

/// A long position.
pub(crate) fn position() -> PositionV1 {
    fixture("PositionV1", "long_open.json")
}

/// Audit event `n` in the story of signal `n`.
pub(crate) fn audit(n: u64) -> AuditEventV1 {
    let mut a: AuditEventV1 = fixture("AuditEventV1", "risk_refusal.json");
    a.id = id(IdKind::Other, n);
    a.correlation_id = Some(id(IdKind::Signal, n));
    a.ts_event = ts(3);
    a
}

/// Envelope `n` (a signal envelope with its own id).
pub(crate) fn envelope(n: u64) -> Envelope<Value> {
    let mut e: Envelope<Value> = fixture("EnvelopeV1", "signal.json");
    e.id = id(IdKind::Notification, n);
    e.ts_event = ts(i64::try_from(n).unwrap());
    e
}

/// A unit handling message `n` for `consumer`: one audit event and one outgoing envelope.
pub(crate) fn unit(consumer: &str, n: u64) -> Unit {
    Unit {
        inbox: Some(InboxKey::new(consumer, id(IdKind::Other, 1_000_000 + n))),
        ops: vec![Op::InsertAudit(audit(n))],
        outbox: vec![envelope(n)],
    }
}

/// Desk state document `n`, changed at `ts(at)`: nested, with exact decimals as text,
/// floats, nulls and non-ASCII text, as the desk's memory will be.
pub(crate) fn desk_state(n: u64, at: i64) -> StateRecord {
    StateRecord {
        key: StateKey::Desk,
        body: json!({
            "version": n,
            "trading": {"state": "paused", "reason": format!("drawdown {n} — über limit")},
            "high_water_mark": "100250.123456789",
            "day_start_equity": "99000.000000001",
            "calibrator": {
                "bins": [0.1, 0.1 + 0.2, -1.5e-7, 1e300, f64::MIN_POSITIVE, 5e-324],
                "counts": [3, 0, 7, u64::MAX, i64::MIN],
            },
            "round_trips": [{"instrument": "BTC-USDT", "entry": "65000.5", "exit": null}],
            "entries": {},
        }),
        ts_event: ts(at),
    }
}

/// A unit without an inbox key that puts the given states, in order.
pub(crate) fn put_states(states: impl IntoIterator<Item = StateRecord>) -> Unit {
    Unit {
        ops: states.into_iter().map(Op::PutState).collect(),
        ..Unit::default()
    }
}

/// Runs `sql` on a SQLite store's file behind the store's back, to damage a row.
pub(crate) async fn damage_sqlite(store: &TestStore, sql: &'static str) {
    let mut raw = sqlx::SqliteConnection::connect(&store.url).await.unwrap();
    sqlx::query(sql).execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();
}

/// Stops unless `result` is the error for a row of `table` that does not decode.
pub(crate) fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>, table: &str) {
    match result {
        Err(StoreError::Corrupt { table: t, .. }) if t == table => {}
        other => panic!("expected a corrupt row in {table}, got {other:?}"),
    }
}
