//! Distributed mode under broker failure: 10,000 envelopes flow from the outbox
//! through JetStream into a stage while `nats-server` is SIGKILLed and
//! restarted six times; every effect is committed exactly once and none is lost.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use neo_bus::{ConsumerSpec, JetStreamBus, NatsConfig};
use neo_domain::SubjectPattern;
use neo_stage::{RelayConfig, StageConfig, run_relay, run_stage};
use neo_store::{Store, Table, WriterConfig};
use neo_testkit::nats::require_nats;
use tokio::sync::{Notify, watch};

const TOTAL: u64 = 10_000;
const RESTARTS: u32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_kill_restart_keeps_every_effect_exactly_once() {
    let Some(mut server) = require_nats("nats_kill_restart_keeps_every_effect_exactly_once") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("neo-fault-nats-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.join("neo.db").display()
    ))
    .await
    .unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let config = NatsConfig {
        url: server.url(),
        timeout_ms: 1_000,
        ..NatsConfig::default()
    };
    let bus = JetStreamBus::connect(config).await.unwrap();
    let mut spec = ConsumerSpec::new("counter", SubjectPattern::new("signals.>").unwrap());
    spec.ack_wait = Duration::from_secs(2);
    spec.max_deliver = 1_000; // restarts cause redeliveries; none of them is a poison message
    let (stop, shutdown) = watch::channel(false);
    let stage = tokio::spawn(run_stage(
        bus.clone(),
        store.clone(),
        writer.clone(),
        support::Counting {
            run: "nats".into(),
            handled: 0,
        },
        StageConfig::new(spec),
        shutdown.clone(),
    ));
    let relay = tokio::spawn(run_relay(
        bus.clone(),
        store.clone(),
        RelayConfig::default(),
        Arc::new(Notify::new()),
        shutdown,
    ));
    let producer = {
        let writer = writer.clone();
        tokio::spawn(async move { support::produce(&writer, TOTAL, 100).await })
    };
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut progress = Vec::new();
    for _ in 0..RESTARTS {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        tokio::time::sleep(Duration::from_millis(300 + (state >> 33) % 500)).await;
        progress.push(store.count(Table::AuditEvents).await.unwrap());
        server.kill();
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.restart().unwrap();
    }
    println!("handled at each kill: {progress:?}");
    let mid_flow = progress.iter().filter(|&&n| n < TOTAL).count();
    assert!(
        mid_flow >= 5,
        "only {mid_flow} restarts landed mid-flow: {progress:?}"
    );
    producer.await.unwrap();
    let handled = support::wait_for(&store, TOTAL, Duration::from_secs(180)).await;
    assert_eq!(
        handled, TOTAL,
        "not every message arrived after the restarts"
    );
    stop.send(true).unwrap();
    let stats = stage.await.unwrap().unwrap();
    relay.await.unwrap();
    support::assert_exactly_once(&store, TOTAL).await;
    assert_eq!(stats.dead_lettered, 0);
    std::fs::remove_dir_all(&dir).ok();
}
