//! `neo store migrate` and `neo bus setup` against a real SQLite file,
//! PostgreSQL and nats-server: what an operator runs before starting NEO.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use neo_testkit::db::TestDb;
use neo_testkit::nats::require_nats;

fn neo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(args)
        .output()
        .expect("run neo")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn migrates(url: &str) {
    let out = neo(&["store", "migrate", "--url", url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("migrations applied"), "{text}");
    for table in [
        "signals",
        "orders",
        "fills",
        "positions",
        "audit_events",
        "inbox",
        "outbox",
        "checkpoints",
    ] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(table) && l.trim_end().ends_with("0 rows")),
            "{table} in {text}"
        );
    }
    // Running it again is harmless.
    assert!(neo(&["store", "migrate", "--url", url]).status.success());
}

#[test]
fn store_migrate_on_sqlite() {
    migrates(&TestDb::sqlite().url);
}

#[test]
fn store_prune_sweeps_now_and_refuses_a_zero_retention() {
    let db = TestDb::sqlite();
    migrates(&db.url);
    let out = neo(&["store", "prune", "--url", &db.url, "--days", "30"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("older than 30 days"), "{text}");
    for kind in ["inbox", "outbox", "audit", "orders", "signals", "fills"] {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(kind) && l.trim_end().ends_with("0 rows")),
            "{kind} in {text}"
        );
    }
    let zero = neo(&["store", "prune", "--url", &db.url, "--days", "0"]);
    assert!(!zero.status.success());
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--days"));
}

#[test]
fn store_prune_never_makes_a_store() {
    let dir = std::env::temp_dir().join(neo_testkit::db::unique_name("neo-prune-missing"));
    let url = format!("sqlite://{}/neo.db", dir.display());
    let out = neo(&["store", "prune", "--url", &url, "--days", "30"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no SQLite store at"));
    assert!(!dir.exists(), "a mistyped path made a store");
    let short = neo(&["store", "prune", "--url", &url, "--days", "3"]);
    assert!(String::from_utf8_lossy(&short.stderr).contains("keep at least 8 days"));
}

#[tokio::test]
async fn store_migrate_on_postgres_without_leaking_the_password() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    migrates(&db.url);
    let unreachable = neo(&[
        "store",
        "migrate",
        "--url",
        "postgres://neo:hunter2@127.0.0.1:1/neo?connect_timeout=1",
    ]);
    assert_eq!(unreachable.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        err.contains("unavailable") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn bus_setup_creates_the_streams() {
    let Some(server) = require_nats("bus_setup_creates_the_streams") else {
        return;
    };
    let out = neo(&["bus", "setup", "--url", &server.url()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    for stream in [
        "NEO_SIGNALS",
        "NEO_DECISIONS",
        "NEO_OUTPUTS",
        "NEO_EXECUTION",
        "NEO_DLQ",
    ] {
        assert!(text.contains(stream), "{stream} in {text}");
    }
    let down = neo(&["bus", "setup", "--url", "nats://127.0.0.1:1"]);
    assert_eq!(down.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&down.stderr).contains("bus unavailable"));
}

/// `neo serve` on the embedded defaults refuses, naming everything it needs at once;
/// an unknown role lists the roles.
#[test]
fn serve_says_what_a_distributed_role_needs() {
    let dir = std::env::temp_dir().join(neo_testkit::db::unique_name("neo-serve-refuses"));
    let data = dir.display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_neo"))
        .args(["serve", "--role", "gateway", "--data-dir", &data])
        .env_remove("NEO_GATEWAY__PASSPHRASE")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    for needed in [
        "[bus] kind = \"nats\"",
        "[store] url",
        "[gateway] passphrase",
        "neo run",
    ] {
        assert!(err.contains(needed), "{needed} missing from: {err}");
    }
    let out = neo(&["serve", "--role", "trader"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("gateway, desk, market, notify"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
