//! The child process of the embedded kill test: one `neo run`-like process with
//! SQLite, the in-process bus, the relay, the stage and a producer. The test
//! SIGKILLs it at random points and starts it again; it exits 0 once every
//! message has been handled.

// A test fixture program: failing loudly is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use neo_bus::{Bus, ConsumerSpec, MemoryBus};
use neo_domain::SubjectPattern;
use neo_stage::{RelayConfig, StageConfig, replay_embedded, run_relay, run_stage};
use neo_store::{Store, WriterConfig};
use tokio::sync::{Notify, watch};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let db = args
        .next()
        .expect("usage: neo-fault-child <sqlite-file> <count>");
    let total: u64 = args.next().and_then(|n| n.parse().ok()).expect("count");
    let store = Store::connect(&format!("sqlite://{db}?mode=rwc"))
        .await
        .expect("store");
    let (writer, _writer_task) = store.writer(WriterConfig::default());
    let bus = MemoryBus::new();
    let filter = SubjectPattern::new("signals.>").unwrap();
    let spec = ConsumerSpec::new("counter", filter.clone());
    // The durable group exists before anything is published or replayed.
    drop(bus.subscribe(spec.clone()).await.unwrap());
    let (_stop, shutdown) = watch::channel(false);
    let run = format!("pid{}", std::process::id());
    let stage = tokio::spawn(run_stage(
        bus.clone(),
        store.clone(),
        writer.clone(),
        support::Counting { run, handled: 0 },
        StageConfig::new(spec),
        shutdown.clone(),
    ));
    let replay = {
        let (bus, store) = (bus.clone(), store.clone());
        tokio::spawn(async move { replay_embedded(&bus, &store, "counter", &filter, None).await })
    };
    tokio::spawn(run_relay(
        bus.clone(),
        store.clone(),
        RelayConfig::default(),
        Arc::new(Notify::new()),
        shutdown,
    ));
    support::produce(&writer, total, 250).await;
    replay.await.unwrap().expect("replay");
    let handled = support::wait_for(&store, total, Duration::from_secs(120)).await;
    assert!(
        !stage.is_finished(),
        "the stage stopped early: {:?}",
        stage.await
    );
    assert_eq!(handled, total, "handled");
}
