//! A long run's checkpoints: moved to just before the first outbox row the
//! consumer has not handled (rows of other subjects do not hold it back), and
//! past rows older than the retention, which can never be told handled once
//! their inbox rows are gone and must never be offered again.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use neo_domain::{SubjectPattern, Timestamp};
use neo_stage::advance_checkpoint;
use neo_store::{InboxKey, Store, Unit};
use support::envelope;

#[tokio::test]
async fn checkpoints_stop_at_the_first_unhandled_row_and_pass_expired_ones() {
    let db = neo_testkit::db::TestDb::sqlite();
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    // Ten rows on the desk's subjects, one on another subject in the middle.
    let mut other = envelope(100);
    other.subject = neo_domain::Subject::new("execution.fills.BTC-USDT").unwrap();
    let mut rows: Vec<_> = (0..10).map(envelope).collect();
    rows.insert(5, other);
    let outcome = store
        .commit(&[Unit {
            inbox: None,
            ops: Vec::new(),
            outbox: rows,
        }])
        .await
        .unwrap();
    let seqs = match &outcome[0] {
        neo_store::UnitOutcome::Applied { outbox_seqs } => outbox_seqs.clone(),
        neo_store::UnitOutcome::AlreadyHandled => panic!("fresh"),
    };
    // The desk handled envelopes 0..=6 (the other subject's row is not its own).
    let handled: Vec<Unit> = (0..7)
        .map(|n| Unit {
            inbox: Some(InboxKey::new("desk", envelope(n).id)),
            ops: Vec::new(),
            outbox: Vec::new(),
        })
        .collect();
    store.commit(&handled).await.unwrap();
    let desk = SubjectPattern::new("signals.>").unwrap();

    let at = advance_checkpoint(&store, "desk", &desk, None)
        .await
        .unwrap();
    // seqs: 0..4 -> n 0..4, 5 -> other, 6.. -> n 5..9; envelope 7 (seq index 8) is the first unhandled.
    assert_eq!(at, seqs[8] - 1);
    assert_eq!(store.checkpoint("desk").await.unwrap(), at);
    // Nothing new handled: it stays.
    assert_eq!(
        advance_checkpoint(&store, "desk", &desk, None)
            .await
            .unwrap(),
        at
    );

    // Envelopes carry ts_event = n: with everything before 9 expired, only 9 holds it back.
    let expired = Some(Timestamp::from_nanos(9));
    let at = advance_checkpoint(&store, "desk", &desk, expired)
        .await
        .unwrap();
    assert_eq!(at, seqs[10] - 1);
    // A consumer that handled nothing, everything expired: past the last row.
    let all = Some(Timestamp::from_nanos(1_000));
    let at = advance_checkpoint(&store, "notify", &desk, all)
        .await
        .unwrap();
    assert_eq!(at, *seqs.last().unwrap());
}
