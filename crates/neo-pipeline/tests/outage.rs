//! A PostgreSQL outage with the strategy loop and brackets working: while the
//! database refuses connections NEO answers 503 fast (alerts, readiness), stays
//! alive and keeps its health; when the database is back it carries on without
//! a restart, and nothing accepted before the outage is lost.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A real outage is measured in wall-clock time: how fast the answers come is the point.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::{alert, decided, entry_that_trades, rig};
use neo_testkit::db::TestDb;

/// How long the database stays away (CI time is bounded: the 60 s is
/// the same path, only longer).
const OUTAGE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_ridden_out_without_a_restart() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let rig = rig(&db.url, |c| {
        c.strategy.enabled = true;
    })
    .await;
    let (before, _) = entry_that_trades(&rig).await;
    let filled = rig.story_until(&before, |s| s["status"] == "filled").await;
    assert_eq!(filled["status"], "filled", "{filled}");

    assert!(db.take_away().await);
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < OUTAGE {
        n += 1;
        let asked = Instant::now();
        let (status, body) = rig.post(&alert(&format!("during-{n}"), "buy")).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            asked.elapsed() < Duration::from_millis(2_500),
            "503 took {:?}",
            asked.elapsed()
        );
        let asked = Instant::now();
        let (status, _) = rig.get("/ready").await;
        assert_eq!(status, 503);
        assert!(
            asked.elapsed() < Duration::from_millis(1_500),
            "/ready took {:?}",
            asked.elapsed()
        );
        assert_eq!(rig.get("/health").await.0, 200);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    db.give_back().await;

    // Back without a restart: the same alert is accepted once the pool reconnects.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let (status, body) = rig.post(&alert("after-the-outage", "sell")).await;
        if status == 202 {
            break body["signal_id"].as_str().unwrap().to_owned();
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "still {status} 30 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let story = rig.story_until(&after, decided).await;
    assert!(decided(&story), "the desk no longer decides: {story}");
    assert_eq!(rig.get("/ready").await.0, 200);
    // Nothing accepted before the outage was lost.
    let (status, kept) = rig.get(&format!("/v1/signals/{before}")).await;
    assert_eq!(
        (status, &kept["status"]),
        (200, &serde_json::json!("filled")),
        "{kept}"
    );
    // Every role is still running: stopping reports no failure.
    rig.stop().await;
}
