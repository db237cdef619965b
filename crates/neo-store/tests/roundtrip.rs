//! Property: any exact decimal and any nanosecond timestamp survives the store
//! unchanged, both in the decoded contract and in the typed columns (TEXT in
//! SQLite, NUMERIC read back through `::text` in PostgreSQL).
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{TestStore, fill};
use neo_domain::{Fixed, IdKind, MessageId, Money, Price, Quantity, Timestamp};
use neo_store::{Op, StoreKind, Unit};
use proptest::prelude::*;
use sqlx::Connection;

/// An exact decimal with up to 9 places and up to 27 digits.
fn decimal() -> impl Strategy<Value = Fixed> {
    (any::<i64>(), any::<i32>(), 0u32..=9).prop_map(|(hi, lo, scale)| {
        let mantissa = i128::from(hi) * 1_000_000_000 + i128::from(lo);
        Fixed::from_parts(mantissa, scale).unwrap()
    })
}

/// The typed columns of one fill, as text.
async fn columns(store: &TestStore, id: MessageId) -> (String, String, String, i64) {
    match store.kind() {
        StoreKind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&store.url).await.unwrap();
            let row: (String, String, String, i64) =
                sqlx::query_as("SELECT price, quantity, fee, ts_event FROM fills WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
            c.close().await.unwrap();
            row
        }
        StoreKind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&store.url).await.unwrap();
            let row: (String, String, String, i64) = sqlx::query_as(
                "SELECT price::text, quantity::text, fee::text, ts_event FROM fills WHERE id = $1",
            )
            .bind(*id.as_uuid())
            .fetch_one(&mut c)
            .await
            .unwrap();
            c.close().await.unwrap();
            row
        }
    }
}

fn check(store: &TestStore, rt: &tokio::runtime::Runtime) {
    let counter = std::cell::Cell::new(0u64);
    let config = ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    };
    proptest!(config, |(price in decimal(), qty in decimal(), fee in decimal(), nanos in any::<i64>())| {
        let n = counter.get() + 1;
        counter.set(n);
        let mut f = fill(n);
        f.id = MessageId::derived(IdKind::Fill, &format!("prop-{n}"));
        f.price = Price::new(price).unwrap();
        f.quantity = Quantity::new(if qty.is_negative() { -qty } else { qty }).unwrap();
        f.fee = Money::new(fee).unwrap();
        f.ts_event = Timestamp::from_nanos(nanos);
        let unit = Unit { ops: vec![Op::InsertFill(f.clone())], ..Unit::default() };
        rt.block_on(store.commit(&[unit])).unwrap();
        let back = rt.block_on(store.fills_for_signal(f.signal_id)).unwrap();
        prop_assert!(back.contains(&f));
        let (p, q, fe, ts) = rt.block_on(columns(store, f.id));
        prop_assert_eq!(p, f.price.to_string());
        prop_assert_eq!(q, f.quantity.to_string());
        prop_assert_eq!(fe, f.fee.to_string());
        prop_assert_eq!(ts, nanos);
    });
}

#[test]
fn sqlite_decimals_and_times_round_trip_exactly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(common::sqlite());
    check(&store, &rt);
    rt.block_on(store.close());
}

#[test]
fn postgres_decimals_and_times_round_trip_exactly() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(store) = rt.block_on(common::postgres()) else {
        return;
    };
    check(&store, &rt);
    rt.block_on(store.close());
}
