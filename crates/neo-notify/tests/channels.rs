//! Each channel against a mock server speaking its documented format: Slack
//! and Telegram success, 429 waits, retries, permanent errors and dead
//! letters; the webhook's signature; secrets kept out of every reason.
// Tests stop loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use neo_domain::contracts::{Channel, NotificationV1};
use neo_notify::{Counts, Notifier, NotifyConfig, Outcome, Secret, signature};
use ring::hmac;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use support::*;

#[tokio::test]
async fn slack_success_posts_text_and_blocks() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ok_slack())
        .mount(&server)
        .await;
    let (notifier, workers) = Notifier::start(&config(Channel::Slack, &server)).unwrap();
    let n = note(Channel::Slack, 1);
    assert_eq!(
        notifier.send(n.clone()).await,
        Outcome::Delivered { attempts: 1 }
    );

    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].headers.get("content-type").unwrap(),
        "application/json"
    );
    let body: Value = got[0].body_json().unwrap();
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains(&n.signal_id.unwrap().to_string())
    );
    assert_eq!(body["blocks"][0]["type"], "header");
    assert_eq!(body["blocks"][0]["text"]["type"], "plain_text");
    assert_eq!(body["blocks"][0]["text"]["text"], n.title.as_str());
    assert_eq!(body["blocks"][1]["type"], "section");
    assert_eq!(body["blocks"][1]["text"]["text"], n.text.as_str());
    assert_eq!(
        notifier.counts(Channel::Slack),
        Counts {
            delivered: 1,
            retried: 0,
            dead: 0
        }
    );
    drop(notifier);
    workers.join().await;
}

#[tokio::test]
async fn slack_429_waits_retry_after_then_delivers() {
    init();
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429)
        .insert_header("Retry-After", "1")
        .set_body_string("rate_limited");
    first_then(&server, SLACK_PATH, limited, 1, ok_slack()).await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Slack, &server)).unwrap();
    let start = Instant::now();
    assert_eq!(
        notifier.send(note(Channel::Slack, 1)).await,
        Outcome::Delivered { attempts: 2 }
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
    assert_eq!(
        notifier.counts(Channel::Slack),
        Counts {
            delivered: 1,
            retried: 1,
            dead: 0
        }
    );
}

#[tokio::test]
async fn slack_500_twice_then_success() {
    init();
    let server = MockServer::start().await;
    first_then(
        &server,
        SLACK_PATH,
        ResponseTemplate::new(500),
        2,
        ok_slack(),
    )
    .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Slack, &server)).unwrap();
    let start = Instant::now();
    assert_eq!(
        notifier.send(note(Channel::Slack, 1)).await,
        Outcome::Delivered { attempts: 3 }
    );
    // Backoff: at least 10 ms (half of 20) then 20 ms (half of 40).
    assert!(start.elapsed() >= Duration::from_millis(30));
    assert_eq!(requests(&server).await.len(), 3);
    assert_eq!(notifier.counts(Channel::Slack).retried, 2);
}

#[tokio::test]
async fn slack_400_is_permanent_and_dead_after_one_attempt() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("invalid_payload"))
        .mount(&server)
        .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Slack, &server)).unwrap();
    let Outcome::Dead { attempts, reason } = notifier.send(note(Channel::Slack, 1)).await else {
        panic!("expected dead");
    };
    assert_eq!(attempts, 1);
    assert!(
        reason.contains("HTTP 400") && reason.contains("invalid_payload"),
        "{reason}"
    );
    assert!(!reason.contains("SLACKSECRET"));
    assert_eq!(requests(&server).await.len(), 1);
    assert_eq!(
        notifier.counts(Channel::Slack),
        Counts {
            delivered: 0,
            retried: 0,
            dead: 1
        }
    );
}

#[tokio::test]
async fn last_attempt_is_dead_with_the_reason() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream down"))
        .mount(&server)
        .await;
    let mut c = config(Channel::Slack, &server);
    c.retry.max_attempts = 3;
    let (notifier, _workers) = Notifier::start(&c).unwrap();
    let Outcome::Dead { attempts, reason } = notifier.send(note(Channel::Slack, 1)).await else {
        panic!("expected dead");
    };
    assert_eq!(attempts, 3);
    assert!(
        reason.contains("gave up after 3 attempts") && reason.contains("HTTP 503: upstream down"),
        "{reason}"
    );
    assert_eq!(requests(&server).await.len(), 3);
    assert_eq!(
        notifier.counts(Channel::Slack),
        Counts {
            delivered: 0,
            retried: 2,
            dead: 1
        }
    );
}

#[tokio::test]
async fn a_retry_after_beyond_the_cap_is_dead_at_once() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Slack, &server)).unwrap();
    let Outcome::Dead { attempts, reason } = notifier.send(note(Channel::Slack, 1)).await else {
        panic!("expected dead");
    };
    assert_eq!(attempts, 1);
    assert!(reason.contains("asked to wait 3600 s"), "{reason}");
}

#[tokio::test]
async fn unreachable_endpoint_reasons_never_carry_the_secret_url() {
    init();
    let mut c = NotifyConfig::default();
    c.console.enabled = false;
    c.retry = retry(2);
    c.telegram.enabled = true;
    c.telegram.bot_token = Some(Secret::new(TOKEN));
    c.telegram.chat_id = Some("1".into());
    // Nothing listens on port 1.
    c.telegram.api_base = "http://127.0.0.1:1".into();
    let (notifier, _workers) = Notifier::start(&c).unwrap();
    let Outcome::Dead { attempts, reason } = notifier.send(note(Channel::Telegram, 1)).await else {
        panic!("expected dead");
    };
    assert_eq!(attempts, 2);
    assert!(
        !reason.contains("TELEGRAMSECRET") && !reason.contains("/bot"),
        "{reason}"
    );
    assert!(format!("{notifier:?}").find("TELEGRAMSECRET").is_none());
}

#[tokio::test]
async fn telegram_success_sends_plain_text_to_the_chat() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TG_PATH))
        .respond_with(ok_telegram())
        .mount(&server)
        .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Telegram, &server)).unwrap();
    let n = note(Channel::Telegram, 1);
    assert_eq!(
        notifier.send(n.clone()).await,
        Outcome::Delivered { attempts: 1 }
    );
    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    let body: Value = got[0].body_json().unwrap();
    assert_eq!(body["chat_id"], json!(-1001234));
    assert_eq!(body["disable_web_page_preview"], json!(true));
    assert!(body.get("parse_mode").is_none());
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with(&n.title) && text.contains(&n.signal_id.unwrap().to_string()));
    assert!(text.contains("alert-1"));
}

#[tokio::test]
async fn telegram_429_honours_parameters_retry_after() {
    init();
    let server = MockServer::start().await;
    let limited = ResponseTemplate::new(429).set_body_json(json!({
        "ok": false,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }));
    first_then(&server, TG_PATH, limited, 1, ok_telegram()).await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Telegram, &server)).unwrap();
    let start = Instant::now();
    assert_eq!(
        notifier.send(note(Channel::Telegram, 1)).await,
        Outcome::Delivered { attempts: 2 }
    );
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn telegram_forbidden_is_permanent() {
    init();
    let server = MockServer::start().await;
    let blocked = ResponseTemplate::new(403).set_body_json(json!({
        "ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user",
    }));
    Mock::given(method("POST"))
        .respond_with(blocked)
        .mount(&server)
        .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Telegram, &server)).unwrap();
    let outcome = notifier.send(note(Channel::Telegram, 1)).await;
    assert_eq!(
        outcome,
        Outcome::Dead {
            attempts: 1,
            reason: "Telegram error 403: Forbidden: bot was blocked by the user".into()
        }
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn webhook_signature_verifies_with_ring() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/neo"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Webhook, &server)).unwrap();
    let n = note(Channel::Webhook, 1);
    assert_eq!(
        notifier.send(n.clone()).await,
        Outcome::Delivered { attempts: 1 }
    );

    let got = requests(&server).await;
    let req = &got[0];
    assert_eq!(req.headers.get("content-type").unwrap(), "application/json");
    let header = req
        .headers
        .get("x-neo-signature")
        .unwrap()
        .to_str()
        .unwrap();
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let key = hmac::Key::new(hmac::HMAC_SHA256, HMAC_SECRET.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(&req.body);
    assert_eq!(v1, hex(hmac::sign(&key, &signed).as_ref()));
    // Fresh: the test's own clock agrees within a minute.
    let now = wall_now();
    assert!((t.parse::<i64>().unwrap() - now).abs() < 60);
    assert_eq!(
        signature::verify(HMAC_SECRET.as_bytes(), header, &req.body, now, 300),
        Ok(())
    );
    let back: NotificationV1 = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(back, n);
}

#[allow(clippy::disallowed_methods)] // The test checks the signature's freshness against wall time.
fn wall_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A desk in another process renders for the channels the notifier would start.
#[tokio::test]
async fn the_config_names_the_channels_the_notifier_starts() {
    let server = MockServer::start().await;
    for channel in [
        Channel::Console,
        Channel::Slack,
        Channel::Telegram,
        Channel::Webhook,
    ] {
        let mut c = config(channel, &server);
        c.console.enabled = true;
        let (notifier, _workers) = Notifier::start(&c).unwrap();
        assert_eq!(c.channels(), notifier.channels(), "{channel:?}");
    }
    let mut none = NotifyConfig::default();
    none.console.enabled = false;
    none.slack.enabled = true; // but no URL: nothing to deliver to
    assert!(none.channels().is_empty());
}
