//! The same scenarios against both buses: per-subject ordering, redelivery
//! after nak, dead-lettering after max deliveries, dedupe of a republished id,
//! a restarted consumer resuming where it stopped, a durable following a new
//! filter, work sharing within a durable, and redelivery of what was never answered.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use neo_bus::{Bus, ConsumerSpec, Delivery, JetStreamBus, MemoryBus, NatsConfig, Subscription};
use neo_domain::{Envelope, IdKind, MessageId, Subject, SubjectPattern, Timestamp};
use neo_testkit::nats::{NatsServer, require_nats};
use serde_json::{Value, json};

const SUBJECT: &str = "signals.normalized.high.BTC-USDT.entry";

fn envelope(i: u32, subject: &str) -> Envelope<Value> {
    let id = MessageId::derived(IdKind::Other, &format!("conformance:{subject}:{i}"));
    Envelope {
        id,
        subject: Subject::new(subject).unwrap(),
        message_type: "SignalEventV1".into(),
        schema_version: 1,
        ts_event: Timestamp::from_nanos(i64::from(i)),
        ts_init: Timestamp::from_nanos(i64::from(i)),
        correlation_id: id,
        causation_id: None,
        payload: json!({ "n": i }),
    }
}

fn spec(durable: &str, filter: &str) -> ConsumerSpec {
    let mut spec = ConsumerSpec::new(durable, SubjectPattern::new(filter).unwrap());
    spec.ack_wait = Duration::from_secs(1);
    spec
}

fn n_of(d: &Delivery) -> u64 {
    d.envelope().unwrap().payload["n"].as_u64().unwrap()
}

/// Collects deliveries until `count` arrived or `within` passed, acking each.
async fn take<S: Subscription>(sub: &mut S, count: usize, within: Duration) -> Vec<u64> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    while got.len() < count && tokio::time::Instant::now() < deadline {
        let room = (count - got.len()).min(64);
        for d in sub
            .next_batch(room, Duration::from_millis(200))
            .await
            .unwrap()
        {
            got.push(n_of(&d));
            d.ack().await.unwrap();
        }
    }
    got
}

async fn ordering<B: Bus>(bus: B) {
    let mut sub = bus.subscribe(spec("ordering", "signals.>")).await.unwrap();
    let all: Vec<_> = (0..200).map(|i| envelope(i, SUBJECT)).collect();
    bus.publish_all(&all[..100]).await.unwrap();
    for e in &all[100..] {
        bus.publish(e).await.unwrap();
    }
    assert_eq!(
        take(&mut sub, 200, Duration::from_secs(10)).await,
        (0..200).collect::<Vec<u64>>()
    );
}

async fn redelivery_after_nak<B: Bus>(bus: B) {
    let mut sub = bus.subscribe(spec("nak", "signals.>")).await.unwrap();
    bus.publish(&envelope(7, SUBJECT)).await.unwrap();
    let first = sub
        .next_batch(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(first.attempt, 1);
    first.nak(Duration::from_millis(50)).await.unwrap();
    let again = sub
        .next_batch(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((n_of(&again), again.attempt), (7, 2));
    again.ack().await.unwrap();
    assert!(
        sub.next_batch(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn dead_letter_after_max_deliveries<B: Bus>(bus: B) {
    let mut spec = spec("poisoned", "signals.>");
    spec.max_deliver = 3;
    let mut sub = bus.subscribe(spec).await.unwrap();
    let mut dlq = bus
        .subscribe(self::spec("dlq-reader", "dlq.>"))
        .await
        .unwrap();
    bus.publish(&envelope(1, SUBJECT)).await.unwrap();
    let mut attempts = Vec::new();
    while attempts.last() != Some(&3) {
        let d = sub
            .next_batch(1, Duration::from_secs(5))
            .await
            .unwrap()
            .pop()
            .expect("redelivered");
        attempts.push(d.attempt);
        if d.attempt >= 3 {
            d.dead_letter("handler failed: boom").await.unwrap();
        } else {
            d.nak(Duration::from_millis(10)).await.unwrap();
        }
    }
    assert_eq!(attempts, [1, 2, 3]);
    let dead = dlq
        .next_batch(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .expect("a dead letter");
    assert_eq!(dead.subject, format!("dlq.{SUBJECT}"));
    assert_eq!(
        dead.dead_letter_reason.as_deref(),
        Some("handler failed: boom")
    );
    assert_eq!(
        n_of(&dead),
        1,
        "the dead letter carries the original envelope"
    );
    dead.ack().await.unwrap();
    assert!(
        sub.next_batch(1, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty(),
        "not delivered again"
    );
}

async fn dedupe_of_a_republished_id<B: Bus>(bus: B) {
    let mut sub = bus.subscribe(spec("dedupe", "signals.>")).await.unwrap();
    let e = envelope(3, SUBJECT);
    bus.publish(&e).await.unwrap();
    bus.publish(&e).await.unwrap();
    bus.publish_all(&[e.clone(), envelope(4, SUBJECT)])
        .await
        .unwrap();
    assert_eq!(take(&mut sub, 3, Duration::from_secs(2)).await, [3, 4]);
}

async fn restarted_consumer_resumes<B: Bus>(bus: B) {
    let mut sub = bus.subscribe(spec("resume", "signals.>")).await.unwrap();
    let all: Vec<_> = (0..100).map(|i| envelope(i, SUBJECT)).collect();
    bus.publish_all(&all).await.unwrap();
    let first = take(&mut sub, 40, Duration::from_secs(10)).await;
    assert_eq!(first, (0..40).collect::<Vec<u64>>());
    drop(sub);
    let mut again = bus.subscribe(spec("resume", "signals.>")).await.unwrap();
    let rest = take(&mut again, 100 - first.len(), Duration::from_secs(10)).await;
    let mut seen: Vec<u64> = first.into_iter().chain(rest).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..100).collect::<Vec<u64>>(),
        "every message once, none repeated after the restart"
    );
}

/// A durable resubscribed with a wider filter (a new release's desk reading
/// operator commands too) gets what the wider filter adds.
async fn a_durable_follows_its_new_filter<B: Bus>(bus: B) {
    drop(
        bus.subscribe(spec("widened", "signals.normalized.>"))
            .await
            .unwrap(),
    );
    let mut sub = bus.subscribe(spec("widened", "signals.>")).await.unwrap();
    bus.publish(&envelope(5, "signals.operator.trading"))
        .await
        .unwrap();
    assert_eq!(take(&mut sub, 1, Duration::from_secs(5)).await, [5]);
}

async fn members_of_a_durable_share_the_work<B: Bus>(bus: B) {
    let mut a = bus.subscribe(spec("shared", "signals.>")).await.unwrap();
    let mut b = bus.subscribe(spec("shared", "signals.>")).await.unwrap();
    let all: Vec<_> = (0..50).map(|i| envelope(i, SUBJECT)).collect();
    bus.publish_all(&all).await.unwrap();
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 50 && tokio::time::Instant::now() < deadline {
        for sub in [&mut a, &mut b] {
            for d in sub.next_batch(7, Duration::from_millis(100)).await.unwrap() {
                assert!(seen.insert(n_of(&d)), "delivered twice across members");
                d.ack().await.unwrap();
            }
        }
    }
    assert_eq!(seen.len(), 50);
}

async fn unanswered_deliveries_come_back<B: Bus>(bus: B) {
    let mut sub = bus.subscribe(spec("forgetful", "signals.>")).await.unwrap();
    bus.publish(&envelope(9, SUBJECT)).await.unwrap();
    let d = sub
        .next_batch(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .unwrap();
    drop(d); // neither acked nor naked: a crash mid-handling
    let again = sub
        .next_batch(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .expect("redelivered");
    assert_eq!((n_of(&again), again.attempt), (9, 2));
    again.ack().await.unwrap();
}

async fn jetstream(server: &NatsServer) -> JetStreamBus {
    JetStreamBus::connect(NatsConfig {
        url: server.url(),
        ..NatsConfig::default()
    })
    .await
    .unwrap()
}

macro_rules! conformance {
    ($($scenario:ident),+ $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(neo_bus::MemoryBus::new()).await;
                }
            )+
        }
        mod nats {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(server) = neo_testkit::nats::require_nats(concat!("nats::", stringify!($scenario))) else { return };
                    super::$scenario(super::jetstream(&server).await).await;
                }
            )+
        }
    };
}

conformance!(
    ordering,
    redelivery_after_nak,
    dead_letter_after_max_deliveries,
    dedupe_of_a_republished_id,
    restarted_consumer_resumes,
    a_durable_follows_its_new_filter,
    members_of_a_durable_share_the_work,
    unanswered_deliveries_come_back,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_queues_state_their_policy_when_full() {
    let bus = MemoryBus::new();
    let mut spec = spec("ticks", "market.>");
    spec.capacity = 10;
    spec.when_full = neo_bus::WhenFull::DropOldest;
    let mut sub = bus.subscribe(spec).await.unwrap();
    let all: Vec<_> = (0..25)
        .map(|i| envelope(i, "market.ticks.BTC-USDT"))
        .collect();
    bus.publish_all(&all).await.unwrap();
    assert_eq!(bus.dropped("ticks"), 15);
    assert_eq!(
        take(&mut sub, 10, Duration::from_secs(1)).await,
        (15..25).collect::<Vec<u64>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_survives_a_server_restart_with_acknowledged_messages_intact() {
    let Some(mut server) = require_nats("jetstream_survives_a_server_restart") else {
        return;
    };
    let bus = jetstream(&server).await;
    let all: Vec<_> = (0..100).map(|i| envelope(i, SUBJECT)).collect();
    bus.publish_all(&all).await.unwrap();
    server.kill();
    server.restart().unwrap();
    let mut sub = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            match bus.subscribe(spec("after-restart", "signals.>")).await {
                Ok(sub) => break sub,
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no reconnect: {e}"),
            }
        }
    };
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while got.len() < 100 && tokio::time::Instant::now() < deadline {
        match sub.next_batch(64, Duration::from_millis(500)).await {
            Ok(batch) => {
                for d in batch {
                    got.push(n_of(&d));
                    d.ack().await.unwrap();
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        got,
        (0..100).collect::<Vec<u64>>(),
        "acknowledged publishes survive SIGKILL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_memory_durable_no_longer_holds_publishers_back() {
    let bus = MemoryBus::new();
    let mut spec = spec("gone", "signals.>");
    spec.capacity = 2;
    drop(bus.subscribe(spec).await.unwrap());
    bus.publish_all(&[envelope(0, SUBJECT), envelope(1, SUBJECT)])
        .await
        .unwrap();
    assert!(bus.remove_durable("gone"));
    let more: Vec<_> = (2..50).map(|i| envelope(i, SUBJECT)).collect();
    tokio::time::timeout(Duration::from_secs(2), bus.publish_all(&more))
        .await
        .expect("not blocked")
        .unwrap();
    assert_eq!(bus.pending("gone"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_dead_letters_what_no_consumer_ever_answered() {
    let Some(server) = require_nats("jetstream_dead_letters_what_no_consumer_ever_answered") else {
        return;
    };
    let bus = jetstream(&server).await;
    let _watch = bus.watch_max_deliveries().await.unwrap();
    let mut dlq = bus.subscribe(spec("dlq-reader", "dlq.>")).await.unwrap();
    let mut crashing = spec("crash-loop", "signals.>");
    crashing.max_deliver = 2;
    let mut sub = bus.subscribe(crashing).await.unwrap();
    bus.publish(&envelope(5, SUBJECT)).await.unwrap();
    for attempt in 1..=2 {
        let d = sub
            .next_batch(1, Duration::from_secs(5))
            .await
            .unwrap()
            .pop()
            .expect("delivered");
        assert_eq!(d.attempt, attempt);
        drop(d); // the consumer "crashes" before answering
    }
    let dead = dlq
        .next_batch(1, Duration::from_secs(10))
        .await
        .unwrap()
        .pop()
        .expect("a dead letter");
    assert_eq!(dead.subject, format!("dlq.{SUBJECT}"));
    assert_eq!(n_of(&dead), 5);
    let reason = dead.dead_letter_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("no answer after 2 deliveries to consumer crash-loop"),
        "{reason}"
    );
    dead.ack().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_followers_start_at_the_latest_per_subject_or_a_time() {
    let Some(server) = require_nats("jetstream_followers_start_where_asked") else {
        return;
    };
    let bus = jetstream(&server).await;
    let (btc, eth) = ("market.ticks.sim.BTC-USDT", "market.ticks.sim.ETH-USDT");
    let first: Vec<_> = (0..3)
        .flat_map(|i| [envelope(i, btc), envelope(10 + i, eth)])
        .collect();
    bus.publish_all(&first).await.unwrap();

    let mut latest = spec("quotes-a", "market.ticks.>");
    latest.start = neo_bus::Start::LatestPerSubject;
    latest.expires_after = Some(Duration::from_secs(30));
    let mut sub = bus.subscribe(latest).await.unwrap();
    let mut got = take(&mut sub, 2, Duration::from_secs(5)).await;
    got.sort_unstable();
    assert_eq!(
        got,
        vec![2, 12],
        "the newest of each subject, nothing older"
    );

    tokio::time::sleep(Duration::from_millis(100)).await;
    #[allow(clippy::disallowed_methods)] // JetStream stamps messages with the wall clock
    let between = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    bus.publish_all(&[envelope(3, btc), envelope(13, eth)])
        .await
        .unwrap();
    let mut got = take(&mut sub, 2, Duration::from_secs(5)).await;
    got.sort_unstable();
    assert_eq!(got, vec![3, 13], "then everything new");

    let mut since = spec("quotes-b", "market.ticks.>");
    since.start = neo_bus::Start::Since(Timestamp::from_nanos(
        i64::try_from(between.as_nanos()).unwrap(),
    ));
    let mut sub = bus.subscribe(since).await.unwrap();
    let mut got = take(&mut sub, 3, Duration::from_secs(2)).await;
    got.sort_unstable();
    assert_eq!(got, vec![3, 13], "only what was stored after the time");
}
