//! SQLite's WAL stays bounded under a burst with readers always busy: a
//! PASSIVE checkpoint cannot finish past a reader's snapshot, so without the
//! checkpointer's TRUNCATE the file kept every byte of the burst (1.9 GB after
//! 20,000 alerts once).
// Tests stop loudly on the first unexpected result.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A real outage is measured in wall-clock time: how fast the answers come is the point.
#![allow(clippy::disallowed_methods)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{audit, sqlite};
use neo_store::{Op, Table, Unit, WriterConfig};
use serde_json::json;

/// The limit the store keeps the WAL under, with room for one checkpoint interval.
const BOUND: u64 = 80 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_shrinks_back_after_a_burst_under_constant_reads() {
    let store = sqlite().await;
    let wal = {
        let path = store.url.trim_start_matches("sqlite://");
        let path = path.split('?').next().unwrap();
        std::path::PathBuf::from(format!("{path}-wal"))
    };
    let (writer, _task) = store.writer(WriterConfig::default());
    // Readers that never all stop at once, as the relay and the API do.
    let reading = Arc::new(AtomicBool::new(true));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (store, reading) = (store.store.clone(), reading.clone());
        readers.push(tokio::spawn(async move {
            while reading.load(Ordering::Relaxed) {
                let _ = store.count(Table::AuditEvents).await;
            }
        }));
    }
    // About 120 MB of audit rows.
    let pad = "x".repeat(8 * 1024);
    for batch in 0..250u64 {
        let units = (0..60u64)
            .map(|i| {
                let mut event = audit(batch * 60 + i);
                event.details = json!({ "pad": pad });
                Unit {
                    inbox: None,
                    ops: vec![Op::InsertAudit(event)],
                    outbox: Vec::new(),
                }
            })
            .collect();
        writer.commit(units).await.unwrap();
    }
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    let size = loop {
        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
        peak = peak.max(size);
        if size <= BOUND || Instant::now() > deadline {
            break size;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    reading.store(false, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 15_000);
    assert!(
        size <= BOUND,
        "the WAL stayed at {size} bytes (peak {peak}) with readers always busy"
    );
}
