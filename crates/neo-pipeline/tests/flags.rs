//! Feature flags end to end, on SQLite and PostgreSQL: switching Slack off
//! stops its messages while orders go on, and on again resumes them, with the
//! history of both and the state surviving a restart; a failing Slack trips
//! its error-rate rule and is rolled back by `auto`, told on Telegram; a 25%
//! rollout splits decisions by the unit's hash and each story names its flags;
//! `tv_slice` off refuses alerts with 503 and stores nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Rig, alert, decided, entry_that_trades, entry_that_trades_tagged, restart, rig};
use neo_engine::flags::{FlagName, bucket, signal_unit};
use serde_json::{Value, json};

impl Rig {
    async fn put_flag(&self, name: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .put(format!("{}/v1/flags/{name}", self.base))
            .json(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn flag_until(&self, name: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let (_, flag) = self.get(&format!("/v1/flags/{name}")).await;
            if done(&flag) || tokio::time::Instant::now() > deadline {
                return flag;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn notified(story: &Value, n: usize) -> bool {
    story["notifications"]
        .as_array()
        .is_some_and(|a| a.len() >= n)
}

async fn switching_slack_off_stops_its_messages_while_orders_go_on(url: &str) {
    let rig = Box::pin(rig(url, |_| {})).await;
    let (id, _) = entry_that_trades(&rig).await;
    rig.story_until(&id, |s| notified(s, 2)).await;
    let slack_before = rig.slack.wait_for(1, Duration::from_secs(5)).await.len();

    let (status, answer) = rig
        .put_flag(
            "output_slack",
            &json!({"state": "disabled", "reason": "Slack maintenance"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["flag"]["state"], "disabled");
    assert_eq!(answer["change"]["by"], "operator");

    // The position closes: an order and a fill, told on Telegram, not on Slack.
    let telegram_before = rig.telegram.requests().len();
    let (status, answer) = rig.post(&alert("flags-exit", "close")).await;
    assert_eq!(status, 202, "{answer}");
    let exit = answer["signal_id"].as_str().unwrap().to_owned();
    // Read until the story is whole (its parts are separate reads).
    let story = rig
        .story_until(&exit, |s| s["status"] == "filled" && notified(s, 2))
        .await;
    assert_eq!(story["status"], "filled", "{story}");
    let outcomes: Vec<(&str, &str)> = story["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["notification"]["channel"].as_str().unwrap(),
                n["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(outcomes.contains(&("slack", "skipped")), "{outcomes:?}");
    assert!(
        outcomes.contains(&("telegram", "delivered")),
        "{outcomes:?}"
    );
    assert!(rig.telegram.requests().len() > telegram_before);
    assert_eq!(rig.slack.requests().len(), slack_before);
    assert_eq!(
        story["decisions"][0]["flags"]["output_slack"], false,
        "{story}"
    );

    let (status, _) = rig
        .put_flag(
            "FF_OUTPUT_SLACK",
            &json!({"state": "enabled", "reason": "maintenance over"}),
        )
        .await;
    assert_eq!(status, 200);
    let (id, _) = entry_that_trades_tagged(&rig, "again").await;
    rig.story_until(&id, |s| notified(s, 2)).await;
    rig.slack
        .wait_for(slack_before + 1, Duration::from_secs(5))
        .await;
    assert!(rig.slack.requests().len() > slack_before, "Slack resumed");

    let (_, history) = rig.get("/v1/flags/output_slack/history").await;
    let changes = history["changes"].as_array().unwrap();
    let seen: Vec<(&str, &str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["from"]["state"].as_str().unwrap(),
                c["to"]["state"].as_str().unwrap(),
                c["reason"].as_str().unwrap(),
                c["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("enabled", "disabled", "Slack maintenance", "operator"),
            ("disabled", "enabled", "maintenance over", "operator"),
        ]
    );

    // Off again, and still off after a restart (the config seeds it on).
    rig.put_flag(
        "output_slack",
        &json!({"state": "disabled", "reason": "again"}),
    )
    .await;
    let config = rig.config.clone();
    let dir = rig.stop_keeping_data().await;
    let rig = Box::pin(restart(dir, config)).await;
    let (_, flag) = rig.get("/v1/flags/output_slack").await;
    assert_eq!(flag["state"], "disabled", "{flag}");
    let (_, all) = rig.get("/v1/flags").await;
    assert_eq!(all["version"], 3, "{all}");
    rig.stop().await;
}

async fn a_failing_slack_is_rolled_back_by_its_error_rate_rule(url: &str) {
    let rig = Box::pin(rig(url, |c| {
        c.flags.evaluation_window_secs = 60;
        c.flags.min_samples = 3;
    }))
    .await;
    rig.slack.set_status(500);
    let (id, _) = entry_that_trades(&rig).await;
    rig.story_until(&id, |s| notified(s, 2)).await;
    let flag = rig
        .flag_until("output_slack", |f| f["state"] == "rollback")
        .await;
    assert_eq!(flag["state"], "rollback", "{flag}");
    let reason = flag["reason"].as_str().unwrap();
    assert!(
        reason.contains("error_rate") && reason.contains("> 0.05"),
        "{reason}"
    );

    let (_, history) = rig.get("/v1/flags/output_slack/history").await;
    let last = history["changes"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["by"], "auto", "{last}");
    assert!(
        last["reason"].as_str().unwrap().contains("1.0000"),
        "{last}"
    );

    // Telegram, still on, says so.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let told = loop {
        let told = rig
            .telegram
            .requests()
            .iter()
            .any(|r| r.body.to_string().contains("output_slack rolled back"));
        if told || tokio::time::Instant::now() > deadline {
            break told;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let bodies: Vec<String> = rig
        .telegram
        .requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    assert!(told, "Telegram was not told of the rollback: {bodies:?}");

    // A rollback holds: new alerts send nothing to Slack.
    let slack_before = rig.slack.requests().len();
    let (status, _) = rig.post(&alert("after-rollback", "close")).await;
    assert_eq!(status, 202);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rig.slack.requests().len(), slack_before);
    rig.stop().await;
}

async fn a_quarter_rollout_splits_decisions_by_the_hash(url: &str) {
    let rig = Box::pin(rig(url, |c| {
        c.flags
            .apply_env("FF_CONFIDENCE_CALIBRATION", "25%")
            .unwrap();
    }))
    .await;
    let (_, flag) = rig.get("/v1/flags/confidence_calibration").await;
    assert_eq!(
        (flag["state"].as_str(), flag["percent"].as_f64()),
        (Some("rolling_out"), Some(25.0))
    );
    let instrument = "BTC-USDT";
    let mut on = 0;
    let units = 24;
    for n in 0..units {
        let strategy = format!("strat-{n}");
        let mut body = alert(&format!("split-{n}"), "buy");
        body["strategy"] = json!(strategy);
        let (status, answer) = rig.post(&body).await;
        assert_eq!(status, 202, "{answer}");
        let id = answer["signal_id"].as_str().unwrap().to_owned();
        let story = rig.story_until(&id, decided).await;
        let flags = &story["decisions"][0]["flags"];
        let unit = signal_unit(Some(&strategy), instrument);
        let expected = bucket(FlagName::ConfidenceCalibration, &unit) < 2_500;
        assert_eq!(flags["confidence_calibration"], expected, "{unit}: {story}");
        assert_eq!(flags["output_slack"], true);
        on += usize::from(expected);
    }
    assert!(
        on > 0 && on < units,
        "{on} of {units} units in: the split is not tested"
    );
    // The A/B view counts each decision in its cohort.
    let (status, cmp) = rig.get("/v1/flags/confidence_calibration/compare").await;
    assert_eq!(status, 200, "{cmp}");
    assert_eq!(cmp["enabled"]["decisions"], on, "{cmp}");
    assert_eq!(cmp["disabled"]["decisions"], units - on, "{cmp}");
    assert!(cmp["enabled"]["mean_decision_secs"].as_f64().unwrap() >= 0.0);
    rig.stop().await;
}

async fn tv_slice_off_refuses_alerts_and_stores_nothing(url: &str) {
    let rig = Box::pin(rig(url, |_| {})).await;
    let (status, _) = rig
        .put_flag(
            "tv_slice",
            &json!({"state": "disabled", "reason": "no TradingView today"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, answer) = rig.post(&alert("while-off", "buy")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (503, Some("intake_disabled")),
        "{answer}"
    );
    let (_, signals) = rig.get("/v1/signals").await;
    assert_eq!(
        signals["items"].as_array().map(Vec::len),
        Some(0),
        "{signals}"
    );

    // Bad changes are refused with the problem named, and change nothing.
    for (body, want) in [
        (json!({"state": "rolling_out"}), 422),
        (json!({"state": "rolling_out", "percent": 101}), 422),
        (json!({"state": "rollback"}), 422),
        (json!({"state": "enabled", "colour": "red"}), 422),
        (
            json!({"state": "enabled", "since": "2026-01-01T00:00:00Z"}),
            422,
        ),
        (json!({"state": "enabled", "requires": ["tv_slice"]}), 422),
        (json!(["enabled"]), 422),
    ] {
        let (status, answer) = rig.put_flag("tv_slice", &body).await;
        assert_eq!(status, want, "{body} -> {answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    let (status, answer) = rig
        .put_flag("no_such_flag", &json!({"state": "enabled"}))
        .await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("not_found")));
    let (_, flag) = rig.get("/v1/flags/tv_slice").await;
    assert_eq!(flag["state"], "disabled");

    let (status, _) = rig
        .put_flag("tv_slice", &json!({"state": "enabled", "reason": "back"}))
        .await;
    assert_eq!(status, 200);
    let (status, answer) = rig.post(&alert("while-on", "buy")).await;
    assert_eq!(status, 202, "{answer}");
    rig.stop().await;
}

async fn every_slo_is_reported_with_live_values(url: &str) {
    let rig = Box::pin(rig(url, |_| {})).await;
    let (id, _) = entry_that_trades(&rig).await;
    rig.story_until(&id, |s| notified(s, 2)).await;
    let (status, answer) = rig.get("/v1/slo").await;
    assert_eq!(status, 200);
    let slos = answer["slos"].as_array().unwrap();
    let names: Vec<&str> = slos.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "webhook_accept",
            "webhook_to_notification",
            "message_loss",
            "uptime",
            "decision_latency",
            "data_freshness",
            "daily_success",
            "contract_compliance",
            "kelly_cap",
            "orders_bracketed"
        ]
    );
    let by = |n: &str| slos.iter().find(|s| s["name"] == n).unwrap().clone();
    for live in [
        "webhook_accept",
        "webhook_to_notification",
        "message_loss",
        "decision_latency",
        "daily_success",
        "contract_compliance",
        "kelly_cap",
        "orders_bracketed",
    ] {
        let s = by(live);
        assert!(s["total"].as_u64().unwrap() >= 1, "{s}");
        assert!(s["value"].is_number(), "{s}");
        assert_eq!(s["met"], true, "{s}");
        for key in ["target", "budget_remaining", "burn_rate"] {
            assert!(s.get(key).is_some(), "{key} missing: {s}");
        }
    }
    let accept = by("webhook_accept");
    assert_eq!(
        (accept["target"].as_f64(), accept["threshold_secs"].as_f64()),
        (Some(0.95), Some(0.5))
    );
    assert!(accept["value"].as_f64().unwrap() <= 0.5);
    rig.stop().await;
}

async fn a_seeded_staged_plan_advances_to_enabled(url: &str) {
    let rig = Box::pin(rig(url, |c| {
        let spec: neo_engine::flags::FlagSpec = serde_json::from_value(json!({
            "state": "rolling_out", "percent": 25,
            "plan": {"percents": [25, 50, 100], "every_secs": 1}
        }))
        .unwrap();
        c.flags.seed.insert(FlagName::AtrBrackets, spec);
    }))
    .await;
    let flag = rig
        .flag_until("atr_brackets", |f| f["state"] == "enabled")
        .await;
    assert_eq!(flag["state"], "enabled", "{flag}");
    let (_, history) = rig.get("/v1/flags/atr_brackets/history").await;
    let steps: Vec<(&str, String)> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["by"].as_str().unwrap(), format!("{}", c["to"]["percent"])))
        .collect();
    assert_eq!(
        steps,
        [
            ("config", "25.0".to_owned()),
            ("schedule", "50.0".to_owned()),
            ("schedule", "null".to_owned())
        ],
        "{history}"
    );
    rig.stop().await;
}

neo_testkit::on_both_stores!(
    a_seeded_staged_plan_advances_to_enabled,
    every_slo_is_reported_with_live_values,
    switching_slack_off_stops_its_messages_while_orders_go_on,
    a_failing_slack_is_rolled_back_by_its_error_rate_rule,
    a_quarter_rollout_splits_decisions_by_the_hash,
    tv_slice_off_refuses_alerts_and_stores_nothing,
);
