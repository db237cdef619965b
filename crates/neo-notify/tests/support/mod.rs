//! Shared by the delivery tests: configs pointing at a mock server, sample
//! notifications, and canned answers in each service's documented format.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]
// Tests stop loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use neo_domain::contracts::{Channel, NotificationV1};
use neo_domain::{IdKind, InstrumentId, MessageId, Side, Timestamp};
use neo_notify::config::RetryConfig;
use neo_notify::render::{Event, OrderFilled};
use neo_notify::{NotifyConfig, Secret};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub(crate) const TOKEN: &str = "123456:TELEGRAMSECRET";
pub(crate) const HMAC_SECRET: &str = "HMACSECRET";

pub(crate) fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) fn retry(max_attempts: u32) -> RetryConfig {
    RetryConfig {
        max_attempts,
        initial_backoff_ms: 20,
        max_backoff_ms: 80,
        max_retry_after_ms: 5_000,
        request_timeout_ms: 2_000,
        jitter_seed: Some(1),
    }
}

/// Only `channel` enabled, pointing at `server`, effectively unthrottled.
pub(crate) fn config(channel: Channel, server: &MockServer) -> NotifyConfig {
    let mut c = NotifyConfig::default();
    c.console.enabled = false;
    c.retry = retry(4);
    match channel {
        Channel::Slack => {
            c.slack.enabled = true;
            c.slack.webhook_url = Some(Secret::new(format!(
                "{}/services/T0/B0/SLACKSECRET",
                server.uri()
            )));
            c.slack.rate_limit = 1000;
        }
        Channel::Telegram => {
            c.telegram.enabled = true;
            c.telegram.bot_token = Some(Secret::new(TOKEN));
            c.telegram.chat_id = Some("-1001234".into());
            c.telegram.api_base = server.uri();
            c.telegram.rate_limit = 1000;
        }
        Channel::Webhook => {
            c.webhook.enabled = true;
            c.webhook.url = Some(format!("{}/neo", server.uri()));
            c.webhook.secret = Some(Secret::new(HMAC_SECRET));
            c.webhook.rate_limit = 1000;
        }
        Channel::Console => c.console.enabled = true,
    }
    c
}

pub(crate) fn event(i: u32) -> Event {
    Event::OrderFilled(OrderFilled {
        signal_id: MessageId::derived(IdKind::Signal, &format!("tradingview:alert-{i}")),
        source_id: Some(format!("alert-{i}")),
        fill_id: MessageId::derived(IdKind::Fill, &format!("order-{i}:1")),
        instrument: InstrumentId::new("BTC-USDT").unwrap(),
        side: Side::Buy,
        quantity: "0.5".parse().unwrap(),
        price: "42000.5".parse().unwrap(),
        stop_loss: Some("41000".parse().unwrap()),
        take_profit: None,
        ts: Timestamp::from_unix_secs(1_790_000_000).unwrap(),
    })
}

pub(crate) fn note(channel: Channel, i: u32) -> NotificationV1 {
    event(i).render(channel)
}

pub(crate) const SLACK_PATH: &str = "/services/T0/B0/SLACKSECRET";
pub(crate) const TG_PATH: &str = "/bot123456:TELEGRAMSECRET/sendMessage";

pub(crate) fn ok_slack() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_string("ok")
}

pub(crate) fn ok_telegram() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": {"message_id": 7}}))
}

pub(crate) async fn first_then(
    server: &MockServer,
    at: &str,
    first: ResponseTemplate,
    times: u64,
    then: ResponseTemplate,
) {
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(first)
        .up_to_n_times(times)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(at))
        .respond_with(then)
        .with_priority(2)
        .mount(server)
        .await;
}

pub(crate) async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}
