//! Config: defaults, unknown keys refused, every problem listed at once, and
//! secrets never printed.
// Tests stop loudly on a broken fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use neo_notify::{NotifyConfig, Secret};
use serde_json::json;

fn parse(value: serde_json::Value) -> NotifyConfig {
    serde_json::from_value(value).unwrap()
}

#[test]
fn defaults_enable_only_the_console_and_are_valid() {
    let c = NotifyConfig::default();
    assert!(c.console.enabled && !c.slack.enabled && !c.telegram.enabled && !c.webhook.enabled);
    assert_eq!(c.telegram.api_base, "https://api.telegram.org");
    assert_eq!((c.slack.rate_limit, c.slack.rate_interval_ms), (1, 1000));
    assert_eq!(c.retry.max_attempts, 5);
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(parse(json!({})).retry.max_attempts, 5);
}

#[test]
fn sections_read_their_documented_keys() {
    let c = parse(json!({
        "console": {"enabled": false},
        "slack": {"enabled": true, "webhook_url": "https://hooks.slack.com/services/T/B/x"},
        "telegram": {"enabled": true, "bot_token": "123:abc", "chat_id": -1001234, "api_base": "http://127.0.0.1:9"},
        "webhook": {"enabled": true, "url": "https://example.invalid/hook", "secret": "s3cret"},
        "retry": {"max_attempts": 3, "initial_backoff_ms": 10, "max_backoff_ms": 100, "jitter_seed": 7},
    }));
    assert_eq!(c.validate(), Ok(()));
    assert_eq!(c.telegram.chat_id.as_deref(), Some("-1001234"));
    assert_eq!(
        c.slack.webhook_url.as_ref().map(Secret::expose),
        Some("https://hooks.slack.com/services/T/B/x")
    );
    let named = parse(json!({"telegram": {"chat_id": "@neo_alerts"}}));
    assert_eq!(named.telegram.chat_id.as_deref(), Some("@neo_alerts"));
}

#[test]
fn unknown_keys_are_refused() {
    let err =
        serde_json::from_value::<NotifyConfig>(json!({"slack": {"enabeld": true}})).unwrap_err();
    assert!(err.to_string().contains("enabeld"), "{err}");
    assert!(serde_json::from_value::<NotifyConfig>(json!({"discord": {}})).is_err());
}

#[test]
fn validate_lists_every_problem_at_once() {
    let c = parse(json!({
        "slack": {"enabled": true, "rate_limit": 0},
        "telegram": {"enabled": true, "bot_token": "  ", "api_base": "not a url"},
        "webhook": {"enabled": true, "url": "ftp://example.invalid/x"},
        "retry": {"max_attempts": 0, "initial_backoff_ms": 100, "max_backoff_ms": 50},
    }));
    let err = c.validate().unwrap_err();
    let paths: Vec<&str> = err.0.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "notify.slack.rate_limit",
            "notify.slack.webhook_url",
            "notify.telegram.bot_token",
            "notify.telegram.chat_id",
            "notify.telegram.api_base",
            "notify.webhook.url",
            "notify.webhook.secret",
            "notify.retry.max_attempts",
            "notify.retry.max_backoff_ms",
        ]
    );
    let text = err.to_string();
    assert!(
        text.contains("9 problems") && text.contains("notify.webhook.secret: required"),
        "{text}"
    );
}

#[test]
fn secrets_never_appear_in_debug_or_errors() {
    let c = parse(json!({
        "slack": {"enabled": true, "webhook_url": "https://hooks.slack.com/services/T000/B000/SLACKSECRET"},
        "telegram": {"enabled": true, "bot_token": "123456:TELEGRAMSECRET", "chat_id": 1},
        "webhook": {"enabled": true, "url": "https://example.invalid/hook", "secret": "HMACSECRET"},
    }));
    let debug = format!("{c:?} {c:#?}");
    for secret in [
        "SLACKSECRET",
        "TELEGRAMSECRET",
        "HMACSECRET",
        "hooks.slack.com",
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(debug.contains("***"));
    assert_eq!(format!("{}", Secret::new("x")), "***");

    let bad = parse(json!({"slack": {"enabled": true, "webhook_url": "SLACKSECRET not a url"}}));
    let err = bad.validate().unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SLACKSECRET"));
}
