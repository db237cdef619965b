//! Bus latency and throughput: one-way publish-to-consume latency percentiles
//! (publisher and consumer in one process, so one clock) and sustained
//! throughput, for the in-process bus and for JetStream on a local server with
//! `sync_interval: always`. `cargo bench -p neo-bus --bench bus`.

// A benchmark program: timing needs the wall clock, and a failed setup should stop it loudly.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use neo_bus::{Bus, ConsumerSpec, JetStreamBus, MemoryBus, NatsConfig, Subscription};
use neo_domain::{Envelope, IdKind, MessageId, Subject, SubjectPattern, Timestamp};
use serde_json::{Value, json};

fn envelope(run: &str, n: u64) -> Envelope<Value> {
    let id = MessageId::derived(IdKind::Other, &format!("bench:{run}:{n}"));
    Envelope {
        id,
        subject: Subject::new("signals.normalized.high.BTC-USDT.entry").unwrap(),
        message_type: "SignalEventV1".into(),
        schema_version: 1,
        ts_event: Timestamp::from_nanos(0),
        ts_init: Timestamp::from_nanos(0),
        correlation_id: id,
        causation_id: None,
        payload: json!({ "n": n, "pad": "x".repeat(400) }),
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// One message at a time: publish, wait until the consumer has it.
async fn latency<B: Bus>(bus: &B, run: &str, count: u64) -> String {
    let mut sub = bus
        .subscribe(ConsumerSpec::new(
            &format!("lat-{run}"),
            SubjectPattern::new("signals.>").unwrap(),
        ))
        .await
        .unwrap();
    let mut samples = Vec::with_capacity(count as usize);
    for n in 0..count {
        let start = Instant::now();
        bus.publish(&envelope(run, n)).await.unwrap();
        let got = loop {
            let batch = sub.next_batch(1, Duration::from_secs(5)).await.unwrap();
            if let Some(d) = batch.into_iter().next() {
                break d;
            }
        };
        samples.push(start.elapsed());
        got.ack().await.unwrap();
    }
    samples.sort();
    let durable = format!("lat-{run}");
    println!(
        "{run:<10} publish->consume latency over {count}: p50 {:?}  p99 {:?}  max {:?}",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0)
    );
    durable
}

/// Publishes `count` in batches while a consumer task acks in batches; messages per second end to end.
async fn throughput<B: Bus>(bus: &B, run: &str, count: u64, batch: usize) {
    let mut sub = bus
        .subscribe(ConsumerSpec::new(
            &format!("tp-{run}"),
            SubjectPattern::new("signals.>").unwrap(),
        ))
        .await
        .unwrap();
    let received = Arc::new(Mutex::new(0u64));
    let consumer = {
        let received = Arc::clone(&received);
        tokio::spawn(async move {
            let mut seen = 0;
            while seen < count {
                let deliveries = sub.next_batch(batch, Duration::from_secs(5)).await.unwrap();
                seen += deliveries.len() as u64;
                futures::future::join_all(deliveries.into_iter().map(|d| d.ack())).await;
            }
            *received.lock().unwrap() = seen;
        })
    };
    let start = Instant::now();
    let all: Vec<_> = (0..count)
        .map(|n| envelope(&format!("tp-{run}"), n))
        .collect();
    for chunk in all.chunks(batch) {
        bus.publish_all(chunk).await.unwrap();
    }
    let published = start.elapsed();
    consumer.await.unwrap();
    let total = start.elapsed();
    println!(
        "{run:<10} throughput over {count} (batches of {batch}): publish {:.0} msg/s, publish+consume+ack {:.0} msg/s",
        count as f64 / published.as_secs_f64(),
        *received.lock().unwrap() as f64 / total.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let memory = MemoryBus::new();
    let done = latency(&memory, "memory", 20_000).await;
    memory.remove_durable(&done);
    throughput(&memory, "memory", 200_000, 256).await;
    // With `sync_interval: always` (what NEO asks of production) and with NATS's default, to show its cost.
    for (sync_always, run) in [(true, "js-sync"), (false, "js-nosync")] {
        match neo_testkit::nats::NatsServer::start_with(sync_always) {
            Ok(server) => {
                let bus = JetStreamBus::connect(NatsConfig {
                    url: server.url(),
                    ..NatsConfig::default()
                })
                .await
                .unwrap();
                latency(&bus, run, 2_000).await;
                throughput(&bus, run, 50_000, 256).await;
            }
            Err(missing) => println!("jetstream skipped: {missing}"),
        }
    }
}
