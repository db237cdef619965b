//! Commit throughput in units per second: one unit per transaction (one fsync each)
//! against 100 units per transaction, and 100 concurrent single-unit callers through
//! the group-commit writer. SQLite always; PostgreSQL when `NEO_TEST_DATABASE_URL`
//! is set (a throwaway database is created and dropped). Each unit is what a stage
//! commits for one message: an inbox key, an audit event and an outgoing envelope.
// A benchmark that cannot set up its database should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::cell::Cell;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use neo_domain::contracts::AuditEventV1;
use neo_domain::{Envelope, IdKind, MessageId};
use neo_store::{InboxKey, Op, Store, Unit, WriterConfig};
use serde_json::Value;
use sqlx::Connection;
use tokio::runtime::Runtime;

fn fixture<T: serde::de::DeserializeOwned>(type_name: &str, file: &str) -> T {
    let path = neo_testkit::fixture_dir()
        .join(type_name)
        .join("valid")
        .join(file);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct Units {
    audit: AuditEventV1,
    envelope: Envelope<Value>,
    next: Cell<u64>,
}

impl Units {
    fn new() -> Self {
        Units {
            audit: fixture("AuditEventV1", "risk_refusal.json"),
            envelope: fixture("EnvelopeV1", "signal.json"),
            next: Cell::new(0),
        }
    }

    /// A fresh unit (new inbox key, audit id and envelope id every time).
    fn unit(&self) -> Unit {
        let n = self.next.get();
        self.next.set(n + 1);
        let key = format!("bench-{n}");
        let mut audit = self.audit.clone();
        audit.id = MessageId::derived(IdKind::Other, &key);
        let mut envelope = self.envelope.clone();
        envelope.id = MessageId::derived(IdKind::Notification, &key);
        Unit {
            inbox: Some(InboxKey::new(
                "bench",
                MessageId::derived(IdKind::Signal, &key),
            )),
            ops: vec![Op::InsertAudit(audit)],
            outbox: vec![envelope],
        }
    }

    fn batch(&self, size: usize) -> Vec<Unit> {
        (0..size).map(|_| self.unit()).collect()
    }
}

fn bench_store(c: &mut Criterion, rt: &Runtime, name: &str, store: &Store) {
    let units = Units::new();
    let mut group = c.benchmark_group(format!("group_commit/{name}"));
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for size in [1usize, 100] {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("store_commit", size), &size, |b, &size| {
            b.iter_batched(
                || units.batch(size),
                |batch| rt.block_on(store.commit(&batch)).unwrap(),
                criterion::BatchSize::PerIteration,
            );
        });
    }
    let (writer, task) = rt.block_on(async { store.writer(WriterConfig::default()) });
    let callers = 100usize;
    group.throughput(Throughput::Elements(callers as u64));
    group.bench_with_input(
        BenchmarkId::new("writer_callers", callers),
        &callers,
        |b, &n| {
            b.iter_batched(
                || units.batch(n),
                |batch| {
                    rt.block_on(async {
                        let mut set = tokio::task::JoinSet::new();
                        for unit in batch {
                            let writer = writer.clone();
                            set.spawn(async move { writer.commit(vec![unit]).await });
                        }
                        while let Some(done) = set.join_next().await {
                            done.unwrap().unwrap();
                        }
                    })
                },
                criterion::BatchSize::PerIteration,
            );
        },
    );
    group.finish();
    let stats = writer.stats();
    eprintln!(
        "{name} writer: {} requests in {} transactions",
        stats.requests, stats.transactions
    );
    drop(writer);
    rt.block_on(task).unwrap();
}

fn benches(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let path = std::env::temp_dir().join(format!("neo_store_bench_{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let store = rt.block_on(Store::connect(&url)).unwrap();
    bench_store(c, &rt, "sqlite", &store);
    rt.block_on(store.close());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }

    let Ok(admin_url) = std::env::var("NEO_TEST_DATABASE_URL") else {
        eprintln!(
            "*** PostgreSQL group-commit bench SKIPPED: NEO_TEST_DATABASE_URL is not set ***"
        );
        return;
    };
    let name = format!("neo_bench_{}", std::process::id());
    let admin = |sql: String| {
        let admin_url = admin_url.clone();
        rt.block_on(async move {
            let mut c = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
        })
    };
    admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    admin(format!("CREATE DATABASE {name}"));
    let base = admin_url.split('?').next().unwrap_or_default();
    let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
    let store = rt.block_on(Store::connect(&url)).unwrap();
    bench_store(c, &rt, "postgres", &store);
    rt.block_on(store.close());
    admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}

criterion_group!(store, benches);
criterion_main!(store);
