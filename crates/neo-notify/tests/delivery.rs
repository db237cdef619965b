//! The delivery machinery: rate limits, per-channel order across retries,
//! back-pressure instead of drops, disabled channels, invalid notifications,
//! rendering for every channel, and refusing a bad config.
// Tests stop loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use neo_domain::contracts::{Channel, NotificationV1};
use neo_notify::{Notifier, NotifyConfig, Outcome, Pending};
use serde_json::Value;
use tokio::time::Instant;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use support::*;

#[tokio::test]
async fn rate_limit_spaces_three_messages_by_two_intervals() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_slack())
        .mount(&server)
        .await;
    let mut c = config(Channel::Slack, &server);
    c.slack.rate_limit = 1;
    c.slack.rate_interval_ms = 300;
    let (notifier, _workers) = Notifier::start(&c).unwrap();
    let start = Instant::now();
    let mut pending = Vec::new();
    for i in 0..3 {
        pending.push(notifier.enqueue(note(Channel::Slack, i)).await);
    }
    for p in pending {
        assert_eq!(p.await, Outcome::Delivered { attempts: 1 });
    }
    assert!(
        start.elapsed() >= Duration::from_millis(600),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn order_is_kept_per_channel_even_across_retries() {
    init();
    let server = MockServer::start().await;
    first_then(
        &server,
        "/neo",
        ResponseTemplate::new(502),
        1,
        ResponseTemplate::new(200),
    )
    .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Webhook, &server)).unwrap();
    let sent: Vec<NotificationV1> = (0..5).map(|i| note(Channel::Webhook, i)).collect();
    let mut pending = Vec::new();
    for n in &sent {
        pending.push(notifier.enqueue(n.clone()).await);
    }
    let outcomes: Vec<Outcome> = futures_join(pending).await;
    assert_eq!(outcomes[0], Outcome::Delivered { attempts: 2 });
    assert!(
        outcomes[1..]
            .iter()
            .all(|o| *o == Outcome::Delivered { attempts: 1 })
    );
    let ids: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let mut expected: Vec<String> = sent.iter().map(|n| n.id.to_string()).collect();
    expected.insert(0, expected[0].clone());
    assert_eq!(ids, expected);
}

async fn futures_join(pending: Vec<Pending>) -> Vec<Outcome> {
    let mut out = Vec::new();
    for p in pending {
        out.push(p.await);
    }
    out
}

#[tokio::test]
async fn a_full_queue_makes_the_caller_wait_instead_of_dropping() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_slack().set_delay(Duration::from_millis(200)))
        .mount(&server)
        .await;
    let mut c = config(Channel::Slack, &server);
    c.slack.queue_capacity = 1;
    let (notifier, _workers) = Notifier::start(&c).unwrap();
    let first = notifier.enqueue(note(Channel::Slack, 0)).await;
    tokio::time::sleep(Duration::from_millis(50)).await; // the worker takes the first
    let second = notifier.enqueue(note(Channel::Slack, 1)).await; // fills the queue
    let start = Instant::now();
    let third = notifier.enqueue(note(Channel::Slack, 2)).await; // waits for room
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    for p in [first, second, third] {
        assert_eq!(p.await, Outcome::Delivered { attempts: 1 });
    }
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn disabled_channels_and_invalid_notifications_are_not_sent() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok_slack())
        .mount(&server)
        .await;
    let (notifier, _workers) = Notifier::start(&config(Channel::Slack, &server)).unwrap();
    assert_eq!(notifier.channels(), [Channel::Slack]);
    assert_eq!(
        notifier.send(note(Channel::Telegram, 1)).await,
        Outcome::Disabled
    );
    let mut bad = note(Channel::Slack, 1);
    bad.text = "no id here".into();
    let Outcome::Dead {
        attempts: 0,
        reason,
    } = notifier.send(bad).await
    else {
        panic!("expected dead without an attempt");
    };
    assert!(reason.contains("must name the signal id"), "{reason}");
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn notify_renders_for_every_enabled_channel() {
    init();
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SLACK_PATH))
        .respond_with(ok_slack())
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TG_PATH))
        .respond_with(ok_telegram())
        .mount(&server)
        .await;
    let mut c = config(Channel::Slack, &server);
    c.console.enabled = true;
    c.telegram = config(Channel::Telegram, &server).telegram;
    let (notifier, workers) = Notifier::start(&c).unwrap();
    let results = notifier.notify(&event(9)).await;
    let channels: Vec<Channel> = results.iter().map(|(n, _)| n.channel).collect();
    assert_eq!(
        channels,
        [Channel::Console, Channel::Slack, Channel::Telegram]
    );
    assert!(
        results
            .iter()
            .all(|(_, o)| *o == Outcome::Delivered { attempts: 1 })
    );
    assert_eq!(requests(&server).await.len(), 2);
    drop(notifier);
    tokio::time::timeout(Duration::from_secs(5), workers.join())
        .await
        .unwrap();
}

#[tokio::test]
async fn start_refuses_an_invalid_config_with_every_problem() {
    init();
    let mut c = NotifyConfig::default();
    c.slack.enabled = true;
    c.webhook.enabled = true;
    let err = Notifier::start(&c).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("notify.slack.webhook_url") && text.contains("notify.webhook.secret"),
        "{text}"
    );
}
