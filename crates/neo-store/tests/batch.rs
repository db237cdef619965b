//! A commit runs a transaction's writes as a few multi-row statements: these tests
//! check that it leaves exactly what committing the same units one at a time
//! leaves (repeated inbox keys, upserts of one key with mixed times and lifecycle
//! ranks, duplicate ids, checkpoints), and that commits larger than one statement
//! can carry keep their outbox seqs consecutive in unit order. SQLite and PostgreSQL.
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{
    TestStore, audit, desk_state, envelope, fill, id, order, position, put_states, signal, ts, unit,
};
use neo_domain::contracts::{OrderRole, OrderStatus, PositionSide};
use neo_domain::{IdKind, InstrumentId, MessageId, Subject};
use neo_store::{InboxKey, Op, StoreKind, Table, Unit, UnitOutcome};
use sqlx::{AssertSqlSafe, Connection};

on_both!(
    a_key_repeated_in_one_commit_applies_its_first_unit_only,
    one_commit_equals_one_commit_per_unit,
    orders_upserted_repeatedly_in_one_commit_end_as_if_sequential,
    positions_upserted_repeatedly_in_one_commit_end_as_if_sequential,
    states_put_repeatedly_in_one_commit_end_as_if_sequential,
    a_commit_larger_than_a_statement_keeps_seqs_in_unit_order,
);

async fn a_key_repeated_in_one_commit_applies_its_first_unit_only(store: &TestStore) {
    let stored = InboxKey::new("risk", id(IdKind::Signal, 1));
    store
        .commit(&[Unit {
            inbox: Some(stored.clone()),
            ..Unit::default()
        }])
        .await
        .unwrap();
    let fresh = InboxKey::new("risk", id(IdKind::Signal, 2));
    let with = |key: &InboxKey, n: u64| Unit {
        inbox: Some(key.clone()),
        ops: vec![Op::InsertAudit(audit(n))],
        outbox: vec![envelope(n)],
    };
    let units = [
        with(&stored, 10),
        with(&fresh, 11),
        Unit {
            ops: vec![Op::InsertAudit(audit(12))],
            ..Unit::default()
        },
        with(&fresh, 13),
        with(&stored, 14),
        with(&fresh, 15),
        // The same message for another consumer is a different key.
        with(&InboxKey::new("notify", fresh.message_id), 16),
    ];
    let out = store.commit(&units).await.unwrap();
    let applied: Vec<bool> = out.iter().map(UnitOutcome::is_applied).collect();
    assert_eq!(applied, [false, true, true, false, false, false, true]);
    assert!(matches!(&out[1], UnitOutcome::Applied { outbox_seqs } if outbox_seqs.len() == 1));
    for n in [10, 11, 12, 13, 14, 15, 16] {
        let want = [11, 12, 16].contains(&n);
        let got = !store
            .audit_for(id(IdKind::Signal, n))
            .await
            .unwrap()
            .is_empty();
        assert_eq!(got, want, "audit event {n}");
    }
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 2);
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 3);
}

/// The same units, committed all at once on `store` and one by one on a second database
/// of the same kind, leave the same outcomes and the same rows in every table.
async fn assert_same_as_one_by_one(store: &TestStore, before: &[Unit], units: &[Unit]) {
    let twin = twin(store).await;
    for unit in before {
        store.commit(std::slice::from_ref(unit)).await.unwrap();
        twin.commit(std::slice::from_ref(unit)).await.unwrap();
    }
    let together = store.commit(units).await.unwrap();
    let mut one_by_one = Vec::new();
    for unit in units {
        one_by_one.extend(twin.commit(std::slice::from_ref(unit)).await.unwrap());
    }
    assert_eq!(together, one_by_one, "outcomes");
    for table in Table::ALL {
        assert_eq!(
            dump(store, table).await,
            dump(&twin, table).await,
            "{table:?}"
        );
    }
}

async fn twin(store: &TestStore) -> TestStore {
    match store.kind() {
        StoreKind::Sqlite => common::sqlite().await,
        StoreKind::Postgres => common::postgres().await.unwrap(),
    }
}

/// Every row of a table, every column as text, sorted.
async fn dump(store: &TestStore, table: Table) -> Vec<String> {
    let columns: &[&str] = match table {
        Table::Signals => &[
            "id",
            "instrument",
            "side",
            "price",
            "quantity",
            "ts_event",
            "body",
        ],
        Table::Orders => &[
            "id",
            "intent_id",
            "signal_id",
            "parent_id",
            "instrument",
            "side",
            "order_type",
            "role",
            "status",
            "lifecycle_rank",
            "quantity",
            "filled_quantity",
            "avg_fill_price",
            "limit_price",
            "stop_price",
            "ts_created",
            "ts_event",
            "body",
        ],
        Table::Fills => &[
            "id", "order_id", "price", "quantity", "fee", "ts_event", "body",
        ],
        Table::Positions => &[
            "instrument",
            "side",
            "quantity",
            "avg_price",
            "realized_pnl",
            "unrealized_pnl",
            "currency",
            "ts_event",
            "body",
        ],
        Table::AuditEvents => &[
            "id",
            "actor",
            "entity",
            "correlation_id",
            "ts_event",
            "body",
        ],
        Table::Inbox => &["consumer", "message_id"],
        Table::Outbox => &[
            "seq",
            "envelope_id",
            "subject",
            "ts_event",
            "relayed",
            "body",
        ],
        Table::Checkpoints => &["consumer", "seq"],
        Table::ComponentState => &["key", "ts_event", "body"],
    };
    let row = columns
        .iter()
        .map(|c| format!("COALESCE(CAST({c} AS TEXT), '~')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let sql = format!("SELECT {row} FROM {} ORDER BY 1", table.name());
    match store.kind() {
        StoreKind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&store.url).await.unwrap();
            sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
        StoreKind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&store.url).await.unwrap();
            sqlx::query_scalar(AssertSqlSafe(sql))
                .fetch_all(&mut c)
                .await
                .unwrap()
        }
    }
}

/// A small deterministic generator (xorshift), so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const STATUSES: [OrderStatus; 7] = [
    OrderStatus::New,
    OrderStatus::Accepted,
    OrderStatus::PartiallyFilled,
    OrderStatus::Filled,
    OrderStatus::Cancelled,
    OrderStatus::Rejected,
    OrderStatus::Expired,
];

/// A write of order `n % 3` with a random time, status and insert-only columns.
fn some_order(rng: &mut Rng, n: u64) -> Op {
    let mut o = order(n % 3);
    o.status = rng.pick(&STATUSES);
    o.ts_event = ts(rng.below(4) as i64);
    o.ts_created = ts(-(rng.below(2) as i64));
    o.intent_id = id(IdKind::Intent, rng.below(2));
    o.role = rng.pick(&[OrderRole::Entry, OrderRole::Exit]);
    o.quantity = format!("{}.5", rng.below(100)).parse().unwrap();
    o.reason = Some(format!("write {n}"));
    Op::UpsertOrder(o)
}

/// A write of one of two positions with a random time and size.
fn some_position(rng: &mut Rng, n: u64) -> Op {
    let mut p = position();
    p.instrument = InstrumentId::new(["BTC-USDT", "ETH-USDT"][(n % 2) as usize]).unwrap();
    p.ts_event = ts(rng.below(4) as i64);
    p.side = rng.pick(&[PositionSide::Long, PositionSide::Short]);
    p.quantity = format!("{}.25", 1 + rng.below(50)).parse().unwrap();
    p.currency = format!("USD{}", n % 7);
    Op::UpsertPosition(p)
}

/// Random units over a few keys of everything, so that repeats are common.
fn some_units(seed: u64, count: u64) -> Vec<Unit> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..count)
        .map(|n| {
            let inbox = match rng.below(4) {
                0 => None,
                _ => Some(InboxKey::new(
                    rng.pick(&["risk", "oms"]),
                    id(IdKind::Signal, rng.below(count / 2)),
                )),
            };
            let ops = (0..1 + rng.below(4))
                .map(|_| match rng.below(7) {
                    0 | 1 => some_order(&mut rng, n),
                    2 | 3 => some_position(&mut rng, n),
                    4 => {
                        let mut s = signal(rng.below(3));
                        s.strategy = Some(format!("unit {n}"));
                        Op::InsertSignal(s)
                    }
                    5 => {
                        let mut f = fill(rng.below(3));
                        f.ts_event = ts(n as i64);
                        Op::InsertFill(f)
                    }
                    _ => Op::SetCheckpoint {
                        consumer: rng.pick(&["bus.risk", "bus.oms"]).into(),
                        seq: rng.below(8) as i64,
                    },
                })
                .collect();
            let outbox = (0..rng.below(3))
                .map(|_| {
                    let mut e = envelope(rng.below(count / 2));
                    e.subject = Subject::new(&format!("audit.unit{n}")).unwrap();
                    e
                })
                .collect();
            Unit { inbox, ops, outbox }
        })
        .collect()
}

async fn one_commit_equals_one_commit_per_unit(store: &TestStore) {
    for seed in 1..=4 {
        let mut units = some_units(seed, 60);
        // Part of the keys, rows and envelopes are stored before the big commit.
        let later = units.split_off(15);
        let store = twin(store).await;
        assert_same_as_one_by_one(&store, &units, &later).await;
    }
}

async fn orders_upserted_repeatedly_in_one_commit_end_as_if_sequential(store: &TestStore) {
    let mut rng = Rng(7);
    let units: Vec<Unit> = (0..80)
        .map(|n| Unit {
            ops: vec![some_order(&mut rng, n)],
            ..Unit::default()
        })
        .collect();
    // Order 0 is stored before; orders 1 and 2 are first inserted by the batch.
    let before = [Unit {
        ops: vec![some_order(&mut Rng(3), 0)],
        ..Unit::default()
    }];
    assert_same_as_one_by_one(store, &before, &units).await;
    // Spot check: the stored order is the newest write (on ts, then lifecycle).
    let stored = store.get_order(order(0).id).await.unwrap().unwrap();
    let newest = std::iter::once(&before[0])
        .chain(&units)
        .filter_map(|u| match &u.ops[0] {
            Op::UpsertOrder(o) if o.id == stored.id => Some(o),
            _ => None,
        })
        .max_by_key(|o| (o.ts_event, rank(o.status)))
        .unwrap();
    assert_eq!(
        (stored.ts_event, rank(stored.status)),
        (newest.ts_event, rank(newest.status))
    );
}

fn rank(status: OrderStatus) -> u8 {
    match status {
        OrderStatus::New => 0,
        OrderStatus::Accepted => 1,
        OrderStatus::PartiallyFilled => 2,
        _ => 3,
    }
}

async fn positions_upserted_repeatedly_in_one_commit_end_as_if_sequential(store: &TestStore) {
    let mut rng = Rng(11);
    let units: Vec<Unit> = (0..60)
        .map(|n| Unit {
            ops: vec![some_position(&mut rng, n), some_position(&mut rng, n + 1)],
            ..Unit::default()
        })
        .collect();
    let before = [Unit {
        ops: vec![some_position(&mut Rng(5), 0)],
        ..Unit::default()
    }];
    assert_same_as_one_by_one(store, &before, &units).await;
    assert_eq!(store.count(Table::Positions).await.unwrap(), 2);
}

async fn states_put_repeatedly_in_one_commit_end_as_if_sequential(store: &TestStore) {
    let mut rng = Rng(13);
    let mut some_state = |n| desk_state(n, rng.below(4) as i64);
    // Several puts per unit and per commit, some with an inbox key repeated.
    let units: Vec<Unit> = (0..40)
        .map(|n| Unit {
            inbox: (n % 3 == 0).then(|| InboxKey::new("desk", id(IdKind::Signal, n % 4))),
            ..put_states([some_state(2 * n), some_state(2 * n + 1)])
        })
        .collect();
    let before = [put_states([some_state(1_000)])];
    assert_same_as_one_by_one(store, &before, &units).await;
    assert_eq!(store.count(Table::ComponentState).await.unwrap(), 1);
}

async fn a_commit_larger_than_a_statement_keeps_seqs_in_unit_order(store: &TestStore) {
    // 3,000 units with two envelopes each: several statements for the inbox keys,
    // the audit events and the outbox rows.
    let units: Vec<Unit> = (0..3_000)
        .map(|n| {
            let mut u = unit("risk", n);
            u.outbox.push(envelope(10_000 + n));
            u
        })
        .collect();
    let out = store.commit(&units).await.unwrap();
    let seqs: Vec<i64> = out
        .iter()
        .flat_map(|o| match o {
            UnitOutcome::Applied { outbox_seqs } => {
                assert_eq!(outbox_seqs.len(), 2);
                outbox_seqs.clone()
            }
            UnitOutcome::AlreadyHandled => panic!("every key is new"),
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive seqs"
    );
    let rows = store.outbox_after(0, 10_000).await.unwrap();
    let in_unit_order: Vec<MessageId> = units
        .iter()
        .flat_map(|u| u.outbox.iter().map(|e| e.id))
        .collect();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(
        rows.iter().map(|r| r.envelope.id).collect::<Vec<_>>(),
        in_unit_order
    );
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 3_000);
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 3_000);

    // Redelivered: every unit is handled, nothing is written.
    let again = store.commit(&units).await.unwrap();
    assert!(again.iter().all(|o| *o == UnitOutcome::AlreadyHandled));
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 6_000);
}
