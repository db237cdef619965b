//! Shared by the fault tests and their child process: a stage whose effect is
//! NOT idempotent on its own (every handling inserts a row with a fresh id), so
//! only the runner's inbox can keep it exactly-once; a producer committing
//! envelopes through the outbox; and the exactly-once check.

#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use neo_domain::contracts::AuditEventV1;
use neo_domain::{Envelope, IdKind, MessageId, Subject, Timestamp};
use neo_stage::{Effects, Handler, HandlerError};
use neo_store::{Op, Store, Table, Unit, Writer};
use serde_json::{Value, json};

/// The subject the producer publishes on.
pub const SUBJECT: &str = "signals.normalized.normal.BTC-USDT.entry";

/// Envelope `n` of the stream: its id depends only on `n`, so a restarted producer adds nothing new.
pub fn envelope(n: u64) -> Envelope<Value> {
    let id = MessageId::derived(IdKind::Other, &format!("fault:{n}"));
    Envelope {
        id,
        subject: Subject::new(SUBJECT).expect("subject"),
        message_type: "SignalEventV1".into(),
        schema_version: 1,
        ts_event: Timestamp::from_nanos(n as i64),
        ts_init: Timestamp::from_nanos(n as i64),
        correlation_id: id,
        causation_id: None,
        payload: json!({ "n": n }),
    }
}

/// Inserts an audit row with a fresh id per handling: a second handling of one message shows up.
pub struct Counting {
    /// Distinguishes this process's rows from a previous (killed) process's.
    pub run: String,
    /// Handlings so far in this process.
    pub handled: u64,
}

impl Handler for Counting {
    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        self.handled += 1;
        let n = envelope.payload["n"]
            .as_u64()
            .ok_or_else(|| HandlerError::Permanent("no n".into()))?;
        let audit = AuditEventV1 {
            id: MessageId::derived(IdKind::Other, &format!("{}:{}", self.run, self.handled)),
            actor: "fault-test".into(),
            action: "message.handled".into(),
            entity: Some(n.to_string()),
            correlation_id: Some(envelope.id),
            details: Value::Null,
            ts_event: envelope.ts_event,
        };
        Ok(Effects {
            ops: vec![Op::InsertAudit(audit)],
            ..Effects::default()
        })
    }
}

/// Commits envelopes `0..total` into the outbox in chunks, as a gateway accepting signals would.
pub async fn produce(writer: &Writer, total: u64, chunk: u64) {
    let mut n = 0;
    while n < total {
        let end = (n + chunk).min(total);
        let unit = Unit {
            inbox: None,
            ops: Vec::new(),
            outbox: (n..end).map(envelope).collect(),
        };
        match writer.commit(vec![unit]).await {
            Ok(_) => n = end,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Waits until `total` messages were handled (audit rows), or `within` passed.
pub async fn wait_for(store: &Store, total: u64, within: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let count = store.count(Table::AuditEvents).await.unwrap_or(0);
        if count >= total || tokio::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every message handled exactly once: one audit row per message, none extra.
pub async fn assert_exactly_once(store: &Store, total: u64) {
    let rows = store.count(Table::AuditEvents).await.expect("count");
    let mut missing = Vec::new();
    let mut twice = Vec::new();
    for n in 0..total {
        match store
            .audit_for(envelope(n).id)
            .await
            .expect("audit_for")
            .len()
        {
            1 => {}
            0 => missing.push(n),
            _ => twice.push(n),
        }
    }
    assert!(
        missing.is_empty(),
        "lost {} messages, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        twice.is_empty(),
        "applied {} messages more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(10)]
    );
    assert_eq!(rows, total, "audit rows");
}
