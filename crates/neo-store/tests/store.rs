//! The store's contract, run against SQLite and PostgreSQL alike: migrations,
//! exactly-once units (inbox), the outbox, checkpoints, upsert ordering, and
//! reads that return exactly what was written.
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::{TestStore, audit, envelope, fill, id, order, position, signal, ts, unit};
use neo_domain::contracts::{OrderStatus, PositionSide};
use neo_domain::{IdKind, MessageId, Money, Price, Quantity};
use neo_store::{InboxKey, Op, Store, StoreError, Table, Unit, UnitOutcome};

on_both!(
    migrations_are_idempotent,
    a_handled_message_applies_once,
    concurrent_commits_of_one_message_apply_once,
    outbox_seqs_increase_and_relay_marks_them,
    a_duplicate_envelope_id_is_ignored,
    order_upsert_keeps_the_newest_update,
    position_upsert_keeps_the_newest_update,
    reads_return_what_was_written,
    listings_page_newest_first,
    checkpoints_only_move_forward,
    a_failing_unit_rolls_back_the_whole_commit,
);

async fn migrations_are_idempotent(store: &TestStore) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    // A second process opening the same database migrates again, harmlessly.
    let again = Store::connect_with(&store.url, &common::options())
        .await
        .unwrap();
    again.ping().await.unwrap();
    for table in Table::ALL {
        assert_eq!(again.count(table).await.unwrap(), 0, "{table:?}");
    }
    again.close().await;
}

async fn a_handled_message_applies_once(store: &TestStore) {
    let key = InboxKey::new("risk", id(IdKind::Signal, 1));
    let first = Unit {
        inbox: Some(key.clone()),
        ops: vec![Op::InsertSignal(signal(1))],
        outbox: vec![envelope(1)],
    };
    let out = store.commit(&[first]).await.unwrap();
    assert!(matches!(&out[..], [UnitOutcome::Applied { outbox_seqs }] if outbox_seqs.len() == 1));

    // Redelivered (even with different effects): skipped, nothing written.
    let again = Unit {
        inbox: Some(key.clone()),
        ops: vec![Op::InsertSignal(signal(2)), Op::InsertAudit(audit(2))],
        outbox: vec![envelope(2)],
    };
    let out = store.commit(std::slice::from_ref(&again)).await.unwrap();
    assert_eq!(out, vec![UnitOutcome::AlreadyHandled]);
    assert_eq!(store.count(Table::Signals).await.unwrap(), 1);
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 0);
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 1);
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 1);
    assert!(store.get_signal(signal(2).id).await.unwrap().is_none());

    // The same message twice in one commit: the second copy is skipped.
    let k3 = InboxKey::new("risk", id(IdKind::Signal, 3));
    let u3 = Unit {
        inbox: Some(k3),
        ops: vec![Op::InsertAudit(audit(3))],
        outbox: vec![],
    };
    let out = store.commit(&[u3.clone(), u3]).await.unwrap();
    assert!(out[0].is_applied());
    assert_eq!(out[1], UnitOutcome::AlreadyHandled);

    // Another consumer handles the same message on its own.
    let other = Unit {
        inbox: Some(InboxKey::new("notify", key.message_id)),
        ..again
    };
    assert!(store.commit(&[other]).await.unwrap()[0].is_applied());
    assert_eq!(store.count(Table::Signals).await.unwrap(), 2);

    let ids = [
        key.message_id,
        id(IdKind::Signal, 3),
        id(IdKind::Signal, 99),
    ];
    let handled = store.handled("risk", &ids).await.unwrap();
    assert_eq!(handled, BTreeSet::from([ids[0], ids[1]]));
    let handled = store.handled("notify", &ids).await.unwrap();
    assert_eq!(handled, BTreeSet::from([ids[0]]));
    assert!(store.handled("risk", &[]).await.unwrap().is_empty());
}

async fn concurrent_commits_of_one_message_apply_once(store: &TestStore) {
    // Two pools on the same database, so the race is between connections (and on
    // SQLite between two writers, as between two processes).
    let second = Store::connect_with(&store.url, &common::options())
        .await
        .unwrap();
    for n in 0..20 {
        // Same inbox key, different effects: exactly one set may land.
        let key = InboxKey::new("oms", id(IdKind::Intent, n));
        let a = Unit {
            inbox: Some(key.clone()),
            ops: vec![Op::InsertAudit(audit(n))],
            outbox: vec![envelope(n)],
        };
        let b = Unit {
            inbox: Some(key),
            ops: vec![Op::InsertAudit(audit(1000 + n))],
            outbox: vec![envelope(1000 + n)],
        };
        let (a, b) = ([a], [b]);
        let (ra, rb) = tokio::join!(store.commit(&a), second.commit(&b));
        let applied = [ra.unwrap(), rb.unwrap()]
            .iter()
            .filter(|o| o[0].is_applied())
            .count();
        assert_eq!(applied, 1, "message {n} applied {applied} times");
    }
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 20);
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 20);
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 20);
    second.close().await;
}

async fn outbox_seqs_increase_and_relay_marks_them(store: &TestStore) {
    let units: Vec<Unit> = (0..3)
        .map(|n| Unit {
            inbox: None,
            ops: vec![],
            outbox: vec![envelope(2 * n), envelope(2 * n + 1)],
        })
        .collect();
    let out = store.commit(&units).await.unwrap();
    let seqs: Vec<i64> = out
        .iter()
        .flat_map(|o| match o {
            UnitOutcome::Applied { outbox_seqs } => outbox_seqs.clone(),
            UnitOutcome::AlreadyHandled => panic!("no inbox key, cannot be handled"),
        })
        .collect();
    assert_eq!(seqs.len(), 6);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // A later commit gets later seqs.
    let later = store
        .commit(&[Unit {
            outbox: vec![envelope(6)],
            ..Unit::default()
        }])
        .await
        .unwrap();
    let UnitOutcome::Applied { outbox_seqs } = &later[0] else {
        panic!("applied expected")
    };
    assert!(outbox_seqs[0] > seqs[5]);

    let pending = store.outbox_pending(100).await.unwrap();
    assert_eq!(pending.len(), 7);
    for (i, row) in pending.iter().enumerate() {
        assert_eq!(
            row.envelope,
            envelope(i as u64),
            "round trip of envelope {i}"
        );
    }
    assert_eq!(pending[..6].iter().map(|r| r.seq).collect::<Vec<_>>(), seqs);
    assert_eq!(store.outbox_pending(2).await.unwrap().len(), 2);

    store.mark_relayed(&seqs[..4]).await.unwrap();
    store.mark_relayed(&seqs[..1]).await.unwrap(); // again: harmless
    store.mark_relayed(&[]).await.unwrap();
    let pending: Vec<i64> = store
        .outbox_pending(100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(pending, vec![seqs[4], seqs[5], outbox_seqs[0]]);

    // The durable log view ignores relaying.
    let all = store.outbox_after(0, 100).await.unwrap();
    assert_eq!(all.len(), 7);
    let page = store.outbox_after(seqs[2], 2).await.unwrap();
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![seqs[3], seqs[4]]
    );
    assert!(
        store
            .outbox_after(outbox_seqs[0], 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_duplicate_envelope_id_is_ignored(store: &TestStore) {
    let first = Unit {
        outbox: vec![envelope(1)],
        ..Unit::default()
    };
    let out = store.commit(&[first]).await.unwrap();
    assert!(matches!(&out[0], UnitOutcome::Applied { outbox_seqs } if outbox_seqs.len() == 1));
    let mut changed = envelope(1);
    changed.subject = neo_domain::Subject::new("audit.events").unwrap();
    let dup = Unit {
        outbox: vec![changed, envelope(1), envelope(2)],
        ..Unit::default()
    };
    let out = store.commit(&[dup]).await.unwrap();
    assert!(matches!(&out[0], UnitOutcome::Applied { outbox_seqs } if outbox_seqs.len() == 1));
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 2);
    let rows = store.outbox_after(0, 10).await.unwrap();
    assert_eq!(rows[0].envelope, envelope(1), "the first write is kept");
}

async fn order_upsert_keeps_the_newest_update(store: &TestStore) {
    let filled = order(1);
    let mut accepted = filled.clone();
    accepted.status = OrderStatus::Accepted;
    accepted.filled_quantity = Quantity::ZERO;
    accepted.avg_fill_price = None;
    accepted.ts_event = ts(0);
    let upsert = |o| Unit {
        ops: vec![Op::UpsertOrder(o)],
        ..Unit::default()
    };

    store.commit(&[upsert(filled.clone())]).await.unwrap();
    store.commit(&[upsert(accepted.clone())]).await.unwrap(); // older: ignored
    assert_eq!(
        store.get_order(filled.id).await.unwrap(),
        Some(filled.clone())
    );

    // Equal time: a step back in the lifecycle is ignored, a step forward applies.
    let mut stale = accepted.clone();
    stale.ts_event = filled.ts_event;
    store.commit(&[upsert(stale)]).await.unwrap();
    assert_eq!(
        store.get_order(filled.id).await.unwrap(),
        Some(filled.clone())
    );

    let other = order(2);
    let mut other_accepted = other.clone();
    other_accepted.status = OrderStatus::Accepted;
    other_accepted.filled_quantity = Quantity::ZERO;
    other_accepted.avg_fill_price = None;
    store
        .commit(&[upsert(other_accepted.clone())])
        .await
        .unwrap();
    store.commit(&[upsert(other.clone())]).await.unwrap(); // same ts, filled: applies
    assert_eq!(
        store.get_order(other.id).await.unwrap(),
        Some(other.clone())
    );

    // Newer wins, in one transaction too.
    let mut cancelled = accepted.clone();
    cancelled.id = id(IdKind::Order, 3);
    cancelled.status = OrderStatus::Cancelled;
    cancelled.ts_event = ts(5);
    let mut older = cancelled.clone();
    older.status = OrderStatus::Accepted;
    older.ts_event = ts(4);
    store
        .commit(&[upsert(cancelled.clone()), upsert(older)])
        .await
        .unwrap();
    assert_eq!(
        store.get_order(cancelled.id).await.unwrap(),
        Some(cancelled)
    );
    assert_eq!(store.count(Table::Orders).await.unwrap(), 3);
}

async fn position_upsert_keeps_the_newest_update(store: &TestStore) {
    let open = position();
    let mut flat = open.clone();
    flat.side = PositionSide::Flat;
    flat.quantity = Quantity::ZERO;
    flat.avg_price = None;
    flat.unrealized_pnl = Money::ZERO;
    flat.realized_pnl = "-12.000000001".parse().unwrap();
    flat.ts_event = open.ts_event.add_nanos(1);
    let upsert = |p| Unit {
        ops: vec![Op::UpsertPosition(p)],
        ..Unit::default()
    };
    store.commit(&[upsert(flat.clone())]).await.unwrap();
    store.commit(&[upsert(open.clone())]).await.unwrap(); // older: ignored
    assert_eq!(store.list_positions().await.unwrap(), vec![flat.clone()]);
    let mut later = open.clone();
    later.ts_event = flat.ts_event.add_nanos(1);
    store.commit(&[upsert(later.clone())]).await.unwrap();
    assert_eq!(
        store.get_position(&later.instrument).await.unwrap(),
        Some(later)
    );
    assert_eq!(store.count(Table::Positions).await.unwrap(), 1);
}

async fn reads_return_what_was_written(store: &TestStore) {
    // Extreme but valid values: 9 decimal places, large magnitudes, negative money,
    // and nanosecond timestamps must come back unchanged.
    let mut s = signal(7);
    s.price = Some("98765432109.123456789".parse().unwrap());
    s.quantity = Some("0.000000001".parse().unwrap());
    let mut o = order(7);
    o.quantity = "1234567.000000001".parse().unwrap();
    o.filled_quantity = o.quantity;
    o.avg_fill_price = Some("0.000000007".parse().unwrap());
    let mut f = fill(7);
    f.price = "0.000000007".parse::<Price>().unwrap();
    f.quantity = o.quantity;
    f.fee = "-0.000000001".parse().unwrap();
    let mut p = position();
    p.unrealized_pnl = "-99999999999.999999999".parse().unwrap();
    p.ts_event = ts(-1);
    let a = audit(7);
    let unit = Unit {
        inbox: Some(InboxKey::new("api", s.id)),
        ops: vec![
            Op::InsertSignal(s.clone()),
            Op::UpsertOrder(o.clone()),
            Op::InsertFill(f.clone()),
            Op::UpsertPosition(p.clone()),
            Op::InsertAudit(a.clone()),
        ],
        outbox: vec![],
    };
    store.commit(&[unit]).await.unwrap();

    assert_eq!(store.get_signal(s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.get_order(o.id).await.unwrap(), Some(o.clone()));
    assert_eq!(store.orders_for_signal(s.id).await.unwrap(), vec![o]);
    assert_eq!(store.fills_for_signal(s.id).await.unwrap(), vec![f]);
    assert_eq!(store.list_positions().await.unwrap(), vec![p]);
    assert_eq!(store.audit_for(s.id).await.unwrap(), vec![a]);
    assert_eq!(store.list_signals(10, None).await.unwrap().items, vec![s]);

    let missing = MessageId::derived(IdKind::Other, "missing");
    assert_eq!(store.get_signal(missing).await.unwrap(), None);
    assert_eq!(store.get_order(missing).await.unwrap(), None);
    assert!(store.fills_for_signal(missing).await.unwrap().is_empty());
    assert!(store.audit_for(missing).await.unwrap().is_empty());
}

async fn listings_page_newest_first(store: &TestStore) {
    // Signals 0..5 have increasing ts; 5 and 6 share a timestamp (id breaks the tie).
    let mut signals: Vec<_> = (0..7).map(signal).collect();
    signals[6].ts_event = signals[5].ts_event;
    let units: Vec<Unit> = signals
        .iter()
        .map(|s| Unit {
            ops: vec![Op::InsertSignal(s.clone())],
            ..Unit::default()
        })
        .collect();
    store.commit(&units).await.unwrap();
    let mut expected = signals.clone();
    expected.sort_by_key(|s| std::cmp::Reverse((s.ts_event, s.id)));

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_signals(3, cursor).await.unwrap();
        assert!(page.items.len() <= 3);
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    assert!(store.list_signals(0, None).await.unwrap().items.is_empty());

    let orders: Vec<_> = (0..4).map(order).collect();
    let units: Vec<Unit> = orders
        .iter()
        .map(|o| Unit {
            ops: vec![Op::UpsertOrder(o.clone())],
            ..Unit::default()
        })
        .collect();
    store.commit(&units).await.unwrap();
    let first = store.list_orders(2, None).await.unwrap();
    let rest = store.list_orders(2, first.next).await.unwrap();
    assert_eq!(rest.next, None);
    let mut ids: Vec<_> = first
        .items
        .iter()
        .chain(&rest.items)
        .map(|o| o.id)
        .collect();
    let mut want: Vec<_> = orders.iter().map(|o| o.id).collect();
    want.sort();
    want.reverse();
    assert_eq!(
        ids, want,
        "equal ts_created: newest-first falls back to id order"
    );
    ids.dedup();
    assert_eq!(ids.len(), 4);
}

async fn checkpoints_only_move_forward(store: &TestStore) {
    assert_eq!(store.checkpoint("bus.risk").await.unwrap(), 0);
    store.set_checkpoint("bus.risk", 5).await.unwrap();
    assert_eq!(store.checkpoint("bus.risk").await.unwrap(), 5);
    store.set_checkpoint("bus.risk", 3).await.unwrap();
    assert_eq!(store.checkpoint("bus.risk").await.unwrap(), 5);
    let unit = Unit {
        ops: vec![Op::SetCheckpoint {
            consumer: "bus.risk".into(),
            seq: 9,
        }],
        ..unit("risk", 1)
    };
    store.commit(&[unit]).await.unwrap();
    assert_eq!(store.checkpoint("bus.risk").await.unwrap(), 9);
    assert_eq!(store.checkpoint("bus.oms").await.unwrap(), 0);
    assert!(matches!(
        store.set_checkpoint("bus.oms", -1).await,
        Err(StoreError::Constraint(_))
    ));
}

async fn a_failing_unit_rolls_back_the_whole_commit(store: &TestStore) {
    let bad = Unit {
        ops: vec![Op::SetCheckpoint {
            consumer: "x".into(),
            seq: -1,
        }],
        ..Unit::default()
    };
    let err = store
        .commit(&[unit("risk", 1), bad, unit("risk", 2)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Constraint(_)), "{err:?}");
    assert!(!err.is_transient());
    for table in Table::ALL {
        assert_eq!(
            store.count(table).await.unwrap(),
            0,
            "{table:?} after rollback"
        );
    }
    // The same good units commit afterwards: the failed attempt left no inbox rows.
    let out = store
        .commit(&[unit("risk", 1), unit("risk", 2)])
        .await
        .unwrap();
    assert!(out.iter().all(UnitOutcome::is_applied));
}
