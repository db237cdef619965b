//! Operator control end to end: the trading state over HTTP, a halt that lets
//! exits out and keeps entries in, resume, flatten, idempotent retries, bad
//! bodies, and a halt that survives a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Rig, alert, decided, entry_that_trades, restart, rig};
use serde_json::{Value, json};

impl Rig {
    async fn command(&self, path: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn portfolio_until(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, p) = self.get("/v1/portfolio").await;
            if done(&p) || tokio::time::Instant::now() > deadline {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn flat(p: &Value) -> bool {
    p["open_orders"] == 0
        && p["positions"]
            .as_array()
            .is_some_and(|ps| ps.iter().all(|x| x["side"] == "flat"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halt_lets_exits_out_resume_and_flatten_over_http_and_a_halt_survives_a_restart() {
    let db = neo_testkit::db::TestDb::sqlite();
    let rig = Box::pin(rig(&db.url, |_| {})).await;
    let (status, state) = rig.get("/v1/trading/state").await;
    assert_eq!(
        (status, state["state"].as_str()),
        (200, Some("active")),
        "{state}"
    );

    let (id, _) = entry_that_trades(&rig).await;
    rig.story_until(&id, |s| s["status"] == "filled").await;
    let (status, halted) = rig
        .command(
            "/v1/trading/state",
            &json!({"state": "halted", "reason": "CPI at 13:30"}),
            Some("h1"),
        )
        .await;
    assert_eq!(status, 200, "{halted}");
    assert_eq!(halted["outcome"], "applied");
    assert_eq!(halted["trading"]["state"], "halted");
    assert_eq!(halted["trading"]["reason"], "CPI at 13:30");
    assert_eq!(halted["trading"]["by"], "operator");
    // The same request again (same key): the same command, nothing changes twice.
    let (status, again) = rig
        .command(
            "/v1/trading/state",
            &json!({"state": "halted", "reason": "CPI at 13:30"}),
            Some("h1"),
        )
        .await;
    assert_eq!(
        (status, again["duplicate"].as_bool()),
        (200, Some(true)),
        "{again}"
    );
    assert_eq!(again["command_id"], halted["command_id"]);

    // Halted: a new entry is refused, an exit goes through.
    let (_, answer) = rig.post(&alert("while-halted", "buy")).await;
    let refused = answer["signal_id"].as_str().unwrap().to_owned();
    let story = rig
        .story_until(&refused, |s| {
            ["refused", "filled"].contains(&s["status"].as_str().unwrap_or(""))
                || decided(s) && s["decisions"][0]["recommendation"] == "hold"
        })
        .await;
    let analyst_held = story["decisions"][0]["recommendation"] == "hold";
    assert!(
        analyst_held || story["refusals"][0]["codes"][0] == "trading_halted",
        "{story}"
    );
    assert!(story["fills"].as_array().unwrap().is_empty(), "{story}");
    let (_, answer) = rig.post(&alert("exit-while-halted", "close")).await;
    let exit = answer["signal_id"].as_str().unwrap().to_owned();
    rig.story_until(&exit, |s| !s["fills"].as_array().is_none_or(Vec::is_empty))
        .await;
    let p = rig.portfolio_until(flat).await;
    assert!(flat(&p), "the exit closed the position while halted: {p}");

    // Resume, trade again, then flatten.
    let (status, resumed) = rig
        .command(
            "/v1/trading/state",
            &json!({"state": "active", "reason": "all clear"}),
            // The halt's key again: another action is another command, not its duplicate.
            Some("h1"),
        )
        .await;
    assert_eq!(
        (status, resumed["trading"]["state"].as_str()),
        (200, Some("active")),
        "{resumed}"
    );
    let (_, answer) = rig.post(&alert("after-resume", "buy")).await;
    let again = answer["signal_id"].as_str().unwrap().to_owned();
    let story = rig.story_until(&again, decided).await;
    // The analyst may hold on the simulated market's moment; flatten must then close nothing.
    let bought = story["decisions"][0]["recommendation"] == "buy";
    if bought {
        rig.story_until(&again, |s| s["status"] == "filled").await;
    }
    let (status, flattened) = rig
        .command(
            "/v1/trading/flatten",
            &json!({"reason": "end of day"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{flattened}");
    assert!(
        flattened["flatten"]["refused"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{flattened}"
    );
    let p = rig.portfolio_until(flat).await;
    assert!(flat(&p), "flattened: {p}");
    let closed = if bought {
        json!(["BTC-USDT"])
    } else {
        json!([])
    };
    assert_eq!(flattened["flatten"]["closed"], closed, "{flattened}");

    // Bad bodies: 422 with the problem named, nothing changes.
    for body in [
        json!({"state": "reducing", "reason": "x"}),
        json!({"state": "halted"}),
        json!({"state": "halted", "reason": "x", "extra": 1}),
        json!({"state": "halted", "reason": ""}),
    ] {
        let (status, err) = rig.command("/v1/trading/state", &body, None).await;
        assert_eq!(status, 422, "{body} -> {err}");
        assert!(
            err["error"].is_string() && err["message"].is_string(),
            "{err}"
        );
    }
    let (_, state) = rig.get("/v1/trading/state").await;
    assert_eq!(state["state"], "active");

    // A halt survives a restart.
    let (status, _) = rig
        .command(
            "/v1/trading/state",
            &json!({"state": "halted", "reason": "overnight"}),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let config = rig.config.clone();
    let dir = rig.stop_keeping_data().await;
    let rig = Box::pin(restart(dir, config)).await;
    let (_, state) = rig.get("/v1/trading/state").await;
    assert_eq!(state["state"], "halted", "{state}");
    assert_eq!(state["reason"], "overnight");
    rig.stop().await;
}
