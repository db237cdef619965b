//! The runner's contract, over the in-process bus and SQLite: effects and inbox
//! commit together, duplicates are skipped, transient errors retry with
//! backoff, permanent errors and exhausted retries go to the dead-letter queue
//! with their reason, outgoing envelopes reach the bus through the relay, and
//! the embedded replay re-offers exactly what the inbox lacks.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use neo_bus::{Bus, ConsumerSpec, MemoryBus, Subscription};
use neo_domain::{Envelope, Subject, SubjectPattern};
use neo_stage::{
    Effects, Handler, HandlerError, RelayConfig, StageConfig, replay_embedded, run_relay, run_stage,
};
use neo_store::{Store, Table, Unit, WriterConfig};
use serde_json::Value;
use tokio::sync::{Notify, watch};

fn spec(durable: &str) -> ConsumerSpec {
    let mut spec = ConsumerSpec::new(durable, SubjectPattern::new("signals.>").unwrap());
    spec.backoff = vec![Duration::from_millis(10)];
    spec.max_deliver = 3;
    spec
}

/// Fails transiently the first `flaky` times it sees message 1, permanently on message 2,
/// and forwards message 3 to `audit.events`.
struct Scripted {
    inner: support::Counting,
    flaky: u32,
    /// Messages handled successfully: seeing one again means the runner let a duplicate through.
    done: std::collections::BTreeSet<u64>,
}

impl Handler for Scripted {
    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        let n = envelope.payload["n"].as_u64().unwrap_or(u64::MAX);
        if self.done.contains(&n) {
            return Err(HandlerError::Permanent(format!(
                "message {n} handed to the handler twice"
            )));
        }
        let result = self.handle_once(envelope);
        if result.is_ok() {
            self.done.insert(n);
        }
        result
    }
}

impl Scripted {
    fn handle_once(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        match envelope.payload["n"].as_u64() {
            Some(1) if self.flaky > 0 => {
                self.flaky -= 1;
                Err(HandlerError::Transient("database busy".into()))
            }
            Some(2) => Err(HandlerError::Permanent("price is not a number".into())),
            Some(3) => {
                let mut effects = self.inner.handle(envelope)?;
                let mut forward = envelope.clone();
                forward.id =
                    neo_domain::MessageId::derived(neo_domain::IdKind::Other, "forwarded:3");
                forward.subject = Subject::new("audit.events").unwrap();
                effects.outbox.push(forward);
                Ok(effects)
            }
            _ => self.inner.handle(envelope),
        }
    }
}

struct Running {
    bus: MemoryBus,
    store: Store,
    stop: watch::Sender<bool>,
    stage: tokio::task::JoinHandle<Result<neo_stage::StageStats, neo_stage::StageError>>,
}

async fn start(url: &str, name: &str, flaky: u32) -> Running {
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let bus = MemoryBus::new();
    drop(bus.subscribe(spec("stage")).await.unwrap());
    let (stop, shutdown) = watch::channel(false);
    let handler = Scripted {
        inner: support::Counting {
            run: name.into(),
            handled: 0,
        },
        flaky,
        done: std::collections::BTreeSet::new(),
    };
    let stage = tokio::spawn(run_stage(
        bus.clone(),
        store.clone(),
        writer,
        handler,
        StageConfig::new(spec("stage")),
        shutdown.clone(),
    ));
    tokio::spawn(run_relay(
        bus.clone(),
        store.clone(),
        RelayConfig::default(),
        Arc::new(Notify::new()),
        shutdown,
    ));
    Running {
        bus,
        store,
        stop,
        stage,
    }
}

async fn transient_errors_retry_permanent_ones_dead_letter_and_effects_commit_once(url: &str) {
    let run = start(url, "contract", 2).await;
    let mut dlq = run
        .bus
        .subscribe(ConsumerSpec::new(
            "dlq",
            SubjectPattern::new("dlq.>").unwrap(),
        ))
        .await
        .unwrap();
    let mut forwarded = run
        .bus
        .subscribe(ConsumerSpec::new(
            "audit",
            SubjectPattern::new("audit.>").unwrap(),
        ))
        .await
        .unwrap();
    run.bus.publish(&support::envelope(0)).await.unwrap();
    assert_eq!(
        support::wait_for(&run.store, 1, Duration::from_secs(10)).await,
        1
    );
    let id0 = support::envelope(0).id;
    let seen = run.store.handled("stage", &[id0]).await.unwrap();
    assert!(
        seen.contains(&id0),
        "inbox lacks message 0: {seen:?}; inbox rows {}",
        run.store.count(Table::Inbox).await.unwrap()
    );
    // Message 0 again, past the bus's duplicate window (as after a crash): the inbox
    // check answers it before the handler could see it twice.
    run.bus
        .redeliver_to("stage", support::envelope(0))
        .await
        .unwrap();
    for n in 1..5 {
        run.bus.publish(&support::envelope(n)).await.unwrap();
    }
    assert_eq!(
        support::wait_for(&run.store, 4, Duration::from_secs(10)).await,
        4
    );

    let dead = dlq.next_batch(5, Duration::from_secs(5)).await.unwrap();
    let reasons: Vec<_> = dead
        .iter()
        .map(|d| {
            (
                d.envelope().unwrap().payload["n"].clone(),
                d.dead_letter_reason.clone(),
            )
        })
        .collect();
    assert_eq!(dead.len(), 1, "{reasons:?}");
    assert_eq!(dead[0].envelope().unwrap().payload["n"], 2);
    assert_eq!(
        dead[0].dead_letter_reason.as_deref(),
        Some("price is not a number")
    );
    let relayed = forwarded
        .next_batch(5, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        relayed.len(),
        1,
        "the effect's outgoing envelope was relayed"
    );

    tokio::time::sleep(Duration::from_millis(200)).await;
    run.stop.send(true).unwrap();
    let stats = run.stage.await.unwrap().unwrap();
    assert_eq!(
        (
            stats.applied,
            stats.duplicates,
            stats.retried,
            stats.dead_lettered
        ),
        (4, 1, 2, 1),
        "{stats:?}"
    );
    for n in [0, 1, 3, 4] {
        assert_eq!(
            run.store
                .audit_for(support::envelope(n).id)
                .await
                .unwrap()
                .len(),
            1,
            "message {n}"
        );
    }
    assert_eq!(run.store.count(Table::Inbox).await.unwrap(), 4);
}

async fn exhausted_retries_go_to_the_dead_letter_queue_and_the_stream_moves_on(url: &str) {
    let run = start(url, "exhausted", 100).await;
    let mut dlq = run
        .bus
        .subscribe(ConsumerSpec::new(
            "dlq",
            SubjectPattern::new("dlq.>").unwrap(),
        ))
        .await
        .unwrap();
    run.bus.publish(&support::envelope(1)).await.unwrap();
    run.bus.publish(&support::envelope(4)).await.unwrap();
    let dead = dlq
        .next_batch(1, Duration::from_secs(5))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(
        dead.dead_letter_reason.as_deref(),
        Some("gave up after 3 deliveries: database busy")
    );
    assert_eq!(
        support::wait_for(&run.store, 1, Duration::from_secs(5)).await,
        1,
        "the next message was not blocked"
    );
}

async fn replay_offers_exactly_what_the_inbox_lacks_and_moves_the_checkpoint(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let all: Vec<_> = (0..10).map(support::envelope).collect();
    writer
        .commit(vec![Unit {
            inbox: None,
            ops: Vec::new(),
            outbox: all,
        }])
        .await
        .unwrap();
    // Messages 0..4 were handled before the "crash".
    let handled: Vec<Unit> = (0..4)
        .map(|n| Unit {
            inbox: Some(neo_store::InboxKey::new("stage", support::envelope(n).id)),
            ..Unit::default()
        })
        .collect();
    writer.commit(handled).await.unwrap();
    let bus = MemoryBus::new();
    let mut sub = bus.subscribe(spec("stage")).await.unwrap();
    let filter = SubjectPattern::new("signals.>").unwrap();
    assert_eq!(
        replay_embedded(&bus, &store, "stage", &filter, None)
            .await
            .unwrap(),
        6
    );
    let offered: Vec<u64> = sub
        .next_batch(20, Duration::from_secs(1))
        .await
        .unwrap()
        .iter()
        .map(|d| d.envelope().unwrap().payload["n"].as_u64().unwrap())
        .collect();
    assert_eq!(offered, [4, 5, 6, 7, 8, 9]);
    assert_eq!(
        store.checkpoint("stage").await.unwrap(),
        4,
        "just before the first unhandled row (seq 5)"
    );
}

/// Side work: three polls each commit one audit row (and ring the relay), the fourth
/// fails and stops the stage with `SideWork` so it restarts from the store.
struct Ticking {
    inner: support::Counting,
    polls: u64,
}

impl Handler for Ticking {
    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        self.inner.handle(envelope)
    }

    fn poll(&mut self) -> Result<Option<Effects>, HandlerError> {
        self.polls += 1;
        match self.polls {
            1..=3 => self
                .inner
                .handle(&support::envelope(1_000 + self.polls))
                .map(Some),
            4 => Err(HandlerError::Permanent(
                "overflow in the market step".into(),
            )),
            _ => Ok(None),
        }
    }
}

async fn side_work_commits_in_order_and_a_failure_stops_the_stage(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let bus = MemoryBus::new();
    let handler = Ticking {
        inner: support::Counting {
            run: "side".into(),
            handled: 0,
        },
        polls: 0,
    };
    let wake = Arc::new(Notify::new());
    let config = StageConfig {
        wait: Duration::from_millis(5),
        wake: Some(wake.clone()),
        ..StageConfig::new(spec("ticking"))
    };
    let (_stop, stop_rx) = watch::channel(false);
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        run_stage(bus, store.clone(), writer, handler, config, stop_rx),
    )
    .await
    .expect("the stage stops by itself");
    assert!(
        matches!(outcome, Err(neo_stage::StageError::SideWork(_))),
        "{outcome:?}"
    );
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 3);
    assert_eq!(
        store.count(Table::Inbox).await.unwrap(),
        0,
        "side work has no inbox key"
    );
}

/// Prepares each batch (as the desk asks its LLM agent) and refuses to handle a
/// message that was not prepared; while a batch is being prepared, its side
/// work still runs and commits (as market ticks do in the desk).
struct Preparing {
    inner: support::Counting,
    prepared: std::collections::BTreeSet<neo_domain::MessageId>,
    preparing: bool,
    side_work_while_preparing: Arc<std::sync::atomic::AtomicU64>,
}

impl Handler for Preparing {
    fn prepare(&mut self, batch: &[&Envelope<Value>]) -> Option<neo_stage::Preparation<Self>> {
        self.preparing = true;
        let ids: Vec<_> = batch.iter().map(|e| e.id).collect();
        Some(Box::pin(async move {
            // Slow work, awaited once per batch, holding nothing of the handler.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let apply: Box<dyn FnOnce(&mut Preparing) + Send> = Box::new(move |h| {
                h.prepared.extend(ids);
                h.preparing = false;
            });
            apply
        }))
    }

    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        if !self.prepared.remove(&envelope.id) {
            return Err(HandlerError::Permanent(
                "handled without being prepared".into(),
            ));
        }
        self.inner.handle(envelope)
    }

    fn poll(&mut self) -> Result<Option<Effects>, HandlerError> {
        if !self.preparing {
            return Ok(None);
        }
        let n = self
            .side_work_while_preparing
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.handle(&support::envelope(10_000 + n)).map(Some)
    }
}

async fn every_new_message_is_prepared_once_per_batch_before_it_is_handled(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let bus = MemoryBus::new();
    drop(bus.subscribe(spec("preparing")).await.unwrap());
    for n in 0..40 {
        bus.publish(&support::envelope(n)).await.unwrap();
    }
    // Message 0 again: the inbox skips it before the batch is prepared.
    bus.publish(&support::envelope(0)).await.unwrap();
    let (stop, shutdown) = watch::channel(false);
    let side = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let handler = Preparing {
        inner: support::Counting {
            run: "prepare".into(),
            handled: 0,
        },
        prepared: std::collections::BTreeSet::new(),
        preparing: false,
        side_work_while_preparing: side.clone(),
    };
    let stage = tokio::spawn(run_stage(
        bus.clone(),
        store.clone(),
        writer,
        handler,
        StageConfig::new(spec("preparing")),
        shutdown,
    ));
    let side_rows = || side.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while store.count(Table::Inbox).await.unwrap() < 40 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    let stats = stage.await.unwrap().unwrap();
    assert_eq!((stats.applied, stats.dead_lettered), (40, 0), "{stats:?}");
    assert!(
        side_rows() > 0,
        "side work ran while the batch was prepared"
    );
    assert_eq!(
        store.count(Table::AuditEvents).await.unwrap(),
        40 + side_rows(),
        "every side-work step committed"
    );
}

/// A quote that lands while the stage waits on the bus, then a signal: the handler
/// must see the quote first (as the desk must fill at it).
struct Quoted {
    inner: support::Counting,
    quote: Arc<std::sync::atomic::AtomicBool>,
    applied: bool,
    /// Whether the quote had been applied when each message was handled.
    seen: Arc<std::sync::Mutex<Vec<bool>>>,
}

impl Handler for Quoted {
    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        self.seen.lock().unwrap().push(self.applied);
        self.inner.handle(envelope)
    }

    fn poll(&mut self) -> Result<Option<Effects>, HandlerError> {
        if self.quote.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.applied = true;
        }
        Ok(None)
    }
}

async fn side_data_that_came_first_is_applied_before_the_message(url: &str) {
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let bus = MemoryBus::new();
    drop(bus.subscribe(spec("quoted")).await.unwrap());
    let (quote, seen) = (Arc::default(), Arc::default());
    let handler = Quoted {
        inner: support::Counting {
            run: "quoted".into(),
            handled: 0,
        },
        quote: Arc::clone(&quote),
        applied: false,
        seen: Arc::clone(&seen),
    };
    let config = StageConfig {
        // A long pull: the quote and the signal both land inside one wait.
        wait: Duration::from_millis(400),
        ..StageConfig::new(spec("quoted"))
    };
    let (stop, stop_rx) = watch::channel(false);
    let stage = tokio::spawn(run_stage(
        bus.clone(),
        store.clone(),
        writer,
        handler,
        config,
        stop_rx,
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    quote.store(true, std::sync::atomic::Ordering::SeqCst);
    let envelope = support::envelope(1);
    bus.publish(&envelope).await.unwrap();
    support::wait_for(&store, 1, Duration::from_secs(10)).await;
    stop.send(true).unwrap();
    stage.await.unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![true], "the quote came first");
}

neo_testkit::on_both_stores!(
    side_data_that_came_first_is_applied_before_the_message,
    every_new_message_is_prepared_once_per_batch_before_it_is_handled,
    side_work_commits_in_order_and_a_failure_stops_the_stage,
    transient_errors_retry_permanent_ones_dead_letter_and_effects_commit_once,
    exhausted_retries_go_to_the_dead_letter_queue_and_the_stream_moves_on,
    replay_offers_exactly_what_the_inbox_lacks_and_moves_the_checkpoint,
);
