//! The whole pipeline in-process, as `neo run` starts it, with local Slack and
//! Telegram servers: one alert becomes exactly one bracketed paper order and one
//! message per channel naming the signal; a resend is a duplicate that changes
//! nothing; every 4xx class answers with its JSON error; a down store is 503.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{PASS, alert, entry_that_trades, rig};
use serde_json::{Value, json};

async fn one_alert_one_bracketed_order_one_message_per_channel(url: &str) {
    let rig = rig(url, |_| {}).await;
    let (id, alert_id) = entry_that_trades(&rig).await;
    let story = rig
        .story_until(&id, |s| {
            s["notifications"].as_array().is_some_and(|n| n.len() >= 2)
        })
        .await;
    assert_eq!(story["status"], "filled", "{story}");
    let orders = story["orders"].as_array().unwrap();
    let roles: Vec<&str> = orders.iter().map(|o| o["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["entry", "stop_loss", "take_profit"], "{story}");
    assert_eq!(orders[0]["status"], "filled");
    assert_eq!(story["fills"].as_array().unwrap().len(), 1);
    assert_eq!(story["intents"].as_array().unwrap().len(), 1);
    let intent = &story["intents"][0];
    assert!(
        intent["stop_loss"].is_string() && intent["take_profit"].is_string(),
        "{intent}"
    );

    let slack = rig.slack.wait_for(1, Duration::from_secs(5)).await;
    let telegram = rig.telegram.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.slack.requests().len(), 1, "{slack:?}");
    assert_eq!(rig.telegram.requests().len(), 1, "{telegram:?}");
    let slack_text = slack[0].body.to_string();
    assert!(
        slack_text.contains(&id) && slack_text.contains(&alert_id),
        "{slack_text}"
    );
    assert!(slack[0].body["blocks"].is_array());
    assert_eq!(telegram[0].path, "/bot123:abc/sendMessage");
    assert_eq!(
        telegram[0].body["chat_id"].to_string().trim_matches('"'),
        "-100200"
    );
    assert!(telegram[0].body["text"].as_str().unwrap().contains(&id));
    for n in story["notifications"].as_array().unwrap() {
        assert_eq!(n["outcome"], "delivered", "{n}");
    }

    // The same alert again: same id, duplicate, nothing new anywhere.
    let again = alert(
        &alert_id,
        if alert_id == "e2e-buy" { "buy" } else { "sell" },
    );
    let (status, answer) = rig.post(&again).await;
    assert_eq!(
        (status, answer["signal_id"].as_str()),
        (202, Some(id.as_str()))
    );
    assert_eq!(answer["duplicate"], true);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, story) = rig.get(&format!("/v1/signals/{id}")).await;
    assert_eq!(story["orders"].as_array().unwrap().len(), 3);
    assert_eq!(rig.slack.requests().len(), 1);

    // The account and the market as the API shows them.
    let (_, portfolio) = rig.get("/v1/portfolio").await;
    assert_eq!(portfolio["open_orders"], 2, "{portfolio}");
    assert_eq!(portfolio["positions"].as_array().unwrap().len(), 1);
    let (_, positions) = rig.get("/v1/positions").await;
    assert_eq!(positions["items"][0]["instrument"], "BTC-USDT");
    let (_, tickers) = rig.get("/v1/tickers").await;
    assert_eq!(tickers["items"].as_array().unwrap().len(), 4, "{tickers}");
    let (_, orders) = rig.get("/v1/orders?limit=2").await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 2);
    let (_, rest) = rig
        .get(&format!(
            "/v1/orders?limit=2&cursor={}",
            orders["next"].as_str().unwrap()
        ))
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    let mut too_big = intent.clone();
    too_big["quantity"] = json!("999999");
    let r = rig
        .http
        .post(format!("{}/v1/risk/check", rig.base))
        .json(&too_big)
        .send()
        .await
        .unwrap();
    let verdict: Value = r.json().await.unwrap();
    assert_eq!(verdict["approved"], false, "{verdict}");
    assert!(
        verdict["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "max_position")
    );
    let metrics = rig
        .http
        .get(format!("{}/metrics", rig.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("neo_signals_accepted_total"), "{metrics}");
    assert!(metrics.contains("neo_signals_duplicate_total"));
    assert!(metrics.contains("neo_notifications_total"));
    assert!(
        metrics.contains("neo_stage_messages_total{stage=\"desk\",outcome=\"applied\"}"),
        "{metrics}"
    );
    let (ready, _) = rig.get("/ready").await;
    assert_eq!(ready, 200);
    rig.stop().await;
}

async fn every_client_error_has_its_status_and_json_body(url: &str) {
    let rig = rig(url, |c| {
        c.guard.rate_limit_per_ip = 1;
        c.guard.burst = 12;
    })
    .await;
    let hook = format!("{}/v1/webhooks/tradingview", rig.base);
    let send = |body: String, ctype: &'static str| {
        let http = rig.http.clone();
        let hook = hook.clone();
        async move {
            let r = http
                .post(hook)
                .header("content-type", ctype)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            (status, body)
        }
    };
    let cases = [
        // Authentication first: a broken body without the passphrase is 401, with it 400.
        (
            send("{\"ticker\": ".to_owned(), "application/json").await,
            401,
        ),
        (
            send(
                format!("{{\"passphrase\": \"{PASS}\", \"ticker\": "),
                "application/json",
            )
            .await,
            400,
        ),
        (
            send(
                alert("x", "buy").to_string().replace(PASS, "wrong"),
                "application/json",
            )
            .await,
            401,
        ),
        (
            send(
                format!("{{\"pad\": \"{}\"}}", "x".repeat(70_000)),
                "application/json",
            )
            .await,
            413,
        ),
        (
            send(alert("x", "buy").to_string(), "application/xml").await,
            415,
        ),
        (
            send(
                json!({"action": "buy", "passphrase": PASS}).to_string(),
                "application/json",
            )
            .await,
            422,
        ),
    ];
    for ((status, body), want) in cases {
        assert_eq!(status, want, "{body}");
        assert!(
            body["error"].is_string() && body["message"].is_string() && body["details"].is_array(),
            "{body}"
        );
    }
    let (status, body) = rig.get("/v1/signals/not-a-uuid").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    let (status, _) = rig
        .get("/v1/signals/0199a2b3-0000-7000-8000-000000000001")
        .await;
    assert_eq!(status, 404);
    // Over the per-IP limit: 429 with Retry-After.
    let mut limited = None;
    for i in 0..40 {
        let r = rig
            .http
            .post(&hook)
            .json(&alert(&format!("burst-{i}"), "buy"))
            .send()
            .await
            .unwrap();
        if r.status().as_u16() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("no 429 within 40 requests at 1/s");
    assert!(r.headers().get("retry-after").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    rig.stop().await;
}

async fn a_down_store_answers_503_and_accepts_nothing(url: &str) {
    let rig = rig(url, |_| {}).await;
    rig.running.as_ref().unwrap().store().close().await;
    let (status, body) = rig.post(&alert("while-down", "buy")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    let (ready, _) = rig.get("/ready").await;
    assert_eq!(ready, 503);
    let _ = rig.running.unwrap().shutdown().await;
}

async fn an_undeliverable_message_is_recorded_dead(url: &str) {
    let rig = rig(url, |_| {}).await;
    rig.slack.set_status(500);
    let (id, _) = entry_that_trades(&rig).await;
    let story = rig
        .story_until(&id, |s| {
            s["notifications"]
                .as_array()
                .is_some_and(|n| n.iter().any(|x| x["outcome"] == "dead"))
        })
        .await;
    let dead: Vec<&Value> = story["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["outcome"] == "dead")
        .collect();
    assert_eq!(dead.len(), 1, "{story}");
    assert_eq!(dead[0]["notification"]["channel"], "slack");
    assert_eq!(dead[0]["attempts"], 3);
    assert!(
        dead[0]["reason"].as_str().unwrap().contains("500"),
        "{}",
        dead[0]
    );
    assert_eq!(rig.slack.requests().len(), 3);
    rig.stop().await;
}

neo_testkit::on_both_stores!(
    one_alert_one_bracketed_order_one_message_per_channel,
    every_client_error_has_its_status_and_json_body,
    a_down_store_answers_503_and_accepts_nothing,
    an_undeliverable_message_is_recorded_dead,
);

/// The same story with NATS JetStream as the bus (a real `nats-server`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_jetstream_one_alert_is_one_order_and_one_message() {
    let Some(mut nats) = neo_testkit::nats::require_nats("over_nats_jetstream") else {
        return;
    };
    let db = neo_testkit::db::TestDb::sqlite();
    let rig = Box::pin(rig(&db.url, |c| {
        c.bus.kind = neo_pipeline::config::BusKind::Nats;
        c.bus.url = Some(nats.url());
    }))
    .await;
    let (id, alert_id) = entry_that_trades(&rig).await;
    let story = rig
        .story_until(&id, |s| {
            s["notifications"].as_array().is_some_and(|n| n.len() >= 2)
        })
        .await;
    assert_eq!(story["status"], "filled", "{story}");
    assert_eq!(story["orders"].as_array().unwrap().len(), 3);
    let slack = rig.slack.wait_for(1, Duration::from_secs(5)).await;
    assert!(slack[0].body.to_string().contains(&alert_id));
    let (status, answer) = rig
        .post(&alert(
            &alert_id,
            if alert_id == "e2e-buy" { "buy" } else { "sell" },
        ))
        .await;
    assert_eq!((status, answer["duplicate"].as_bool()), (202, Some(true)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.slack.requests().len(), 1);
    let (ready, _) = rig.get("/ready").await;
    assert_eq!(ready, 200);
    // Over NATS the market data is published too (stream NEO_MARKET, oldest dropped when full).
    let bus = neo_bus::JetStreamBus::connect(neo_bus::NatsConfig {
        url: nats.url(),
        ..neo_bus::NatsConfig::default()
    })
    .await
    .unwrap();
    let stats = bus.stream_stats().await.unwrap();
    let market = stats.iter().find(|s| s.name == "NEO_MARKET").unwrap();
    assert!(market.messages > 0, "{stats:?}");
    // Alternative data published on alt.{source}.{kind} is archived and read back.
    let alt = neo_domain::contracts::AltEventV1 {
        source: "news".to_owned(),
        kind: "headline".to_owned(),
        ts_event: neo_domain::Timestamp::from_unix_secs(1_767_225_600).unwrap(),
        payload: json!({ "title": "over the bus" }),
    };
    let id = neo_domain::MessageId::derived(neo_domain::IdKind::Other, "alt-e2e");
    let subject = neo_domain::subject::alt("news", "headline").unwrap();
    let envelope = neo_domain::Envelope::new(id, subject, alt, alt_now(), id, None)
        .into_json()
        .unwrap();
    neo_bus::Bus::publish(&bus, &envelope).await.unwrap();
    let mut items = Value::Null;
    for _ in 0..100 {
        items = rig.get("/v1/alt/news").await.1["items"].clone();
        if items.as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(items[0]["payload"]["title"], "over the bus", "{items}");
    // The broker goes away: readiness says so.
    nats.kill();
    let mut status = 200;
    for _ in 0..100 {
        status = rig.get("/ready").await.0;
        if status == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 503);
    let _ = rig.running.unwrap().shutdown().await;
}

fn alt_now() -> neo_domain::Timestamp {
    neo_pipeline::wall_clock()()
}
