//! Embedded mode under SIGKILL: a child process (SQLite, in-process bus, relay,
//! stage, producer) is killed at random points at least 10 times while 10,000
//! envelopes flow; after the last restart every effect exists exactly once.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use neo_store::{Store, Table};

const TOTAL: u64 = 10_000;
/// Kills that must land while messages are still unhandled.
const KILLS: u32 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_stage_kill_restart_applies_every_effect_exactly_once() {
    let dir = std::env::temp_dir().join(format!("neo-fault-embedded-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("neo.db");
    let child = move || {
        Command::new(env!("CARGO_BIN_EXE_neo-fault-child"))
            .arg(&db)
            .arg(TOTAL.to_string())
            .spawn()
            .expect("start the child")
    };
    // Kill points from a fixed LCG: different instants, same on every run. Only kills
    // that land while messages are still unhandled count.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let (mut mid_flow, mut attempts, mut progress) = (0, 0, Vec::new());
    while mid_flow < KILLS {
        attempts += 1;
        assert!(
            attempts < 60,
            "could not land {KILLS} kills mid-flow: {progress:?}"
        );
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let after = Duration::from_millis(100 + (state >> 33) % 300);
        let mut running = child();
        tokio::time::sleep(after).await;
        let finished = running.try_wait().unwrap();
        running.kill().ok(); // SIGKILL: no flush, no shutdown
        running.wait().unwrap();
        assert!(
            finished.is_none_or(|s| s.success()),
            "the child failed on its own: {finished:?}"
        );
        let store = Store::connect(&format!("sqlite://{}", dir.join("neo.db").display())).await;
        let handled = match store {
            Ok(store) => store.count(Table::AuditEvents).await.unwrap_or(0),
            Err(_) => 0, // killed before the database existed
        };
        progress.push(handled);
        if handled < TOTAL {
            mid_flow += 1;
        } else {
            break;
        }
    }
    assert!(
        mid_flow >= KILLS,
        "only {mid_flow} kills landed mid-flow: {progress:?}"
    );
    println!("handled after each kill: {progress:?}");
    let status = tokio::task::spawn_blocking(move || child().wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "the last run did not finish: {status:?}");
    let store = Store::connect(&format!("sqlite://{}", dir.join("neo.db").display()))
        .await
        .unwrap();
    support::assert_exactly_once(&store, TOTAL).await;
    std::fs::remove_dir_all(&dir).ok();
}
