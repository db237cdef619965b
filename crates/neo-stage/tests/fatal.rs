//! A fatal handler error and counts after commit: the messages handled before
//! the failure commit (and only then count), the failing one and the rest of
//! its batch are handed back, the stage stops with `StageError::Handler`, and
//! a restarted stage handles what was handed back exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use neo_bus::{Bus, ConsumerSpec, MemoryBus};
use neo_domain::{Envelope, SubjectPattern};
use neo_stage::{Count, Effects, Handler, HandlerError, StageConfig, StageError, run_stage};
use neo_store::{Store, Table, WriterConfig};
use serde_json::Value;
use tokio::sync::watch;

/// Counters by name and labels, so each test reads only its own.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

impl Recorder for Tally {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let mut counters = self.0.lock().unwrap();
        let cell = counters.entry(key.to_string()).or_default();
        Counter::from_arc(cell.clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

fn tally() -> &'static Tally {
    static TALLY: OnceLock<&'static Tally> = OnceLock::new();
    TALLY.get_or_init(|| {
        let tally: &'static Tally = Box::leak(Box::default());
        metrics::set_global_recorder(tally).expect("the only recorder in this binary");
        tally
    })
}

fn counted(run: &str) -> u64 {
    let key = Key::from_parts("handled", vec![metrics::Label::new("run", run.to_owned())]);
    tally()
        .0
        .lock()
        .unwrap()
        .get(&key.to_string())
        .map_or(0, |c| c.load(Ordering::SeqCst))
}

/// Handles like `Counting` and counts each handling; fails fatally on message `fail_on`.
struct Fatalist {
    inner: support::Counting,
    fail_on: Option<u64>,
}

impl Handler for Fatalist {
    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        if envelope.payload["n"].as_u64() == self.fail_on {
            return Err(HandlerError::Fatal("a bug after the desk changed".into()));
        }
        let mut effects = self.inner.handle(envelope)?;
        let run = self.inner.run.split(':').next().unwrap_or_default();
        effects
            .counts
            .push(Count::one("handled", vec![("run", run.to_owned())]));
        Ok(effects)
    }
}

fn spec() -> ConsumerSpec {
    let mut spec = ConsumerSpec::new("stage", SubjectPattern::new("signals.>").unwrap());
    spec.backoff = vec![Duration::from_millis(10)];
    spec
}

async fn fatal_errors_stop_the_stage_commit_what_came_before_and_count_after_commit(url: &str) {
    let run = if url.starts_with("postgres") {
        "fatal-postgres"
    } else {
        "fatal-sqlite"
    };
    tally();
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let bus = MemoryBus::new();
    drop(bus.subscribe(spec()).await.unwrap());
    for n in 0..4 {
        bus.publish(&support::envelope(n)).await.unwrap();
    }
    let handler = Fatalist {
        inner: support::Counting {
            run: format!("{run}:first"),
            handled: 0,
        },
        fail_on: Some(2),
    };
    let (_stop, stop_rx) = watch::channel(false);
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        run_stage(
            bus.clone(),
            store.clone(),
            writer.clone(),
            handler,
            StageConfig::new(spec()),
            stop_rx,
        ),
    )
    .await
    .expect("the stage stops by itself");
    assert!(
        matches!(outcome, Err(StageError::Handler(_))),
        "{outcome:?}"
    );
    assert_eq!(store.count(Table::Inbox).await.unwrap(), 2, "0 and 1 only");
    assert_eq!(counted(run), 2, "counted once committed, not the fatal one");

    // Restarted from the store: 2 and 3 come back and are handled once each.
    let handler = Fatalist {
        inner: support::Counting {
            run: format!("{run}:second"),
            handled: 0,
        },
        fail_on: None,
    };
    let (stop, stop_rx) = watch::channel(false);
    let stage = tokio::spawn(run_stage(
        bus,
        store.clone(),
        writer,
        handler,
        StageConfig::new(spec()),
        stop_rx,
    ));
    assert_eq!(
        support::wait_for(&store, 4, Duration::from_secs(10)).await,
        4
    );
    stop.send(true).unwrap();
    let stats = stage.await.unwrap().unwrap();
    assert_eq!((stats.applied, stats.duplicates), (2, 0), "{stats:?}");
    assert_eq!(store.count(Table::AuditEvents).await.unwrap(), 4);
    assert_eq!(counted(run), 4);
}

neo_testkit::on_both_stores!(
    fatal_errors_stop_the_stage_commit_what_came_before_and_count_after_commit
);
