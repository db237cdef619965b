#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use serde_json::Value;
use tower::ServiceExt;

use super::*;

fn app(config: &GuardConfig) -> Router {
    let guards = Guards::new(config).unwrap();
    Router::new()
        .route("/webhook", post(|| async { "ok" }))
        .layer(from_fn_with_state(guards, guard))
}

fn request(from: Option<&str>, key: Option<&str>, forwarded: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/webhook");
    if let Some(key) = key {
        builder = builder.header(KEY_HEADER, key);
    }
    if let Some(f) = forwarded {
        builder = builder.header("x-forwarded-for", f);
    }
    let mut req = builder.body(Body::empty()).unwrap();
    if let Some(from) = from {
        let addr: SocketAddr = from.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    req
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, retry, body)
}

fn allow(ips: &[&str]) -> GuardConfig {
    GuardConfig {
        allow_ips: ips.iter().map(|s| (*s).to_owned()).collect(),
        ..GuardConfig::default()
    }
}

fn limits(per_ip: u32, per_key: u32, burst: u32) -> GuardConfig {
    GuardConfig {
        rate_limit_per_ip: per_ip,
        rate_limit_per_key: per_key,
        burst,
        ..GuardConfig::default()
    }
}

#[tokio::test]
async fn allowed_ip_passes_and_other_ip_gets_403_json() {
    let metrics = crate::metrics::Metrics::install().unwrap();
    let app = app(&allow(&TRADINGVIEW_IPS));
    let (status, _, _) = send(&app, request(Some("52.89.214.238:4000"), None, None)).await;
    assert_eq!(status, StatusCode::OK);

    let (status, retry, body) = send(&app, request(Some("203.0.113.9:4000"), None, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(retry, None);
    assert_eq!(body["error"], "forbidden_ip");
    assert!(body["message"].as_str().unwrap().contains("203.0.113.9"));
    assert_eq!(body["details"][0]["path"], "source_ip");
    assert!(body["details"][0]["problem"].as_str().is_some());
    assert!(
        metrics
            .render()
            .contains(r#"neo_signals_rejected_total{reason="forbidden_ip"}"#)
    );
}

#[tokio::test]
async fn cidr_ipv6_and_ipv4_mapped_sources_match() {
    let app = app(&allow(&["10.0.0.0/8", "2001:db8::/32"]));
    for (from, expected) in [
        ("10.20.30.40:1", StatusCode::OK),
        ("11.0.0.1:1", StatusCode::FORBIDDEN),
        ("[2001:db8::7]:1", StatusCode::OK),
        ("[2001:db9::7]:1", StatusCode::FORBIDDEN),
        ("[::ffff:10.1.1.1]:1", StatusCode::OK),
        ("[::ffff:11.1.1.1]:1", StatusCode::FORBIDDEN),
    ] {
        let (status, _, _) = send(&app, request(Some(from), None, None)).await;
        assert_eq!(status, expected, "from {from}");
    }
}

#[tokio::test]
async fn missing_connect_info_is_unknown_not_an_error() {
    let open = app(&GuardConfig::default());
    let (status, _, _) = send(&open, request(None, None, None)).await;
    assert_eq!(status, StatusCode::OK);

    let closed = app(&allow(&["10.0.0.0/8"]));
    let (status, _, body) = send(&closed, request(None, None, None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("unknown"));

    // All unknown sources share one bucket.
    let limited = app(&limits(1, 0, 2));
    for _ in 0..2 {
        assert_eq!(
            send(&limited, request(None, None, None)).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        send(&limited, request(None, None, None)).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn per_ip_limit_refuses_after_burst_with_retry_after_while_others_pass() {
    let app = app(&limits(1, 0, 3));
    for i in 0..3 {
        let (status, _, _) = send(&app, request(Some("198.51.100.1:1"), None, None)).await;
        assert_eq!(status, StatusCode::OK, "request {i}");
    }
    let (status, retry, body) = send(&app, request(Some("198.51.100.1:2"), None, None)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!(secs >= 1, "{secs}");
    assert_eq!(body["error"], "rate_limited");
    assert_eq!(body["details"][0]["path"], "per_ip");

    let (status, _, _) = send(&app, request(Some("198.51.100.2:1"), None, None)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn per_key_limit_is_independent_of_ip() {
    let app = app(&limits(0, 1, 2));
    // One key from two addresses shares a bucket.
    assert_eq!(
        send(&app, request(Some("192.0.2.1:1"), Some("alpha"), None))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, request(Some("192.0.2.2:1"), Some("alpha"), None))
            .await
            .0,
        StatusCode::OK
    );
    let (status, retry, body) = send(&app, request(Some("192.0.2.3:1"), Some("alpha"), None)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    assert_eq!(body["details"][0]["path"], "per_key");
    // Another key, and no key at all (per-IP limit off), still pass.
    assert_eq!(
        send(&app, request(Some("192.0.2.3:1"), Some("beta"), None))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, request(Some("192.0.2.3:1"), None, None)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let untrusted = app(&allow(&["52.89.214.238"]));
    let spoof = request(Some("203.0.113.1:1"), None, Some("52.89.214.238"));
    assert_eq!(send(&untrusted, spoof).await.0, StatusCode::FORBIDDEN);

    // A proxy is trusted, but this request did not come through it.
    let proxied = app(&GuardConfig {
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..allow(&["52.89.214.238"])
    });
    let direct = request(Some("203.0.113.1:1"), None, Some("52.89.214.238"));
    assert_eq!(send(&proxied, direct).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_client_is_the_right_most_untrusted_forwarded_entry() {
    let proxied = app(&GuardConfig {
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..allow(&["52.89.214.238"])
    });
    // The proxy appended the real client after whatever the client sent.
    let via_proxy = request(Some("10.0.0.1:1"), None, Some("52.89.214.238"));
    assert_eq!(send(&proxied, via_proxy).await.0, StatusCode::OK);
    let two_proxies = request(Some("10.0.0.1:1"), None, Some("52.89.214.238, 10.9.9.9"));
    assert_eq!(send(&proxied, two_proxies).await.0, StatusCode::OK);
    // The spoof: the client wrote an allowed address first; the proxy appended the real one.
    let spoof = request(
        Some("10.0.0.1:1"),
        None,
        Some("52.89.214.238, 203.0.113.66"),
    );
    let (status, _, body) = send(&proxied, spoof).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["message"].as_str().unwrap().contains("203.0.113.66"),
        "{body}"
    );
    let garbage = request(Some("10.0.0.1:1"), None, Some("52.89.214.238, not-an-ip"));
    assert_eq!(send(&proxied, garbage).await.0, StatusCode::FORBIDDEN);
    // Through the proxy with no header: the proxy itself is the source.
    let no_header = request(Some("10.0.0.1:1"), None, None);
    assert_eq!(send(&proxied, no_header).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rate_limits_count_the_forwarded_client_not_the_proxy() {
    let app = app(&GuardConfig {
        trusted_proxies: vec!["10.0.0.1".into()],
        ..limits(1, 0, 1)
    });
    let from = |client: &str| request(Some("10.0.0.1:1"), None, Some(client));
    assert_eq!(send(&app, from("198.51.100.7")).await.0, StatusCode::OK);
    assert_eq!(
        send(&app, from("198.51.100.7")).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy has its own bucket.
    assert_eq!(send(&app, from("198.51.100.8")).await.0, StatusCode::OK);
}

#[test]
fn forwarded_entries_with_ports_and_brackets_parse() {
    for (entry, ip) in [
        ("1.2.3.4:80", "1.2.3.4"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        (" 2001:db8::1 ", "2001:db8::1"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
    ] {
        assert_eq!(forwarded_entry(entry), Some(ip.parse().unwrap()), "{entry}");
    }
    assert_eq!(forwarded_entry("unknown"), None);
}

#[test]
fn forwarded_client_walks_every_header_from_the_right() {
    let trusted = IpAllowList::parse(&["10.0.0.0/8"]).unwrap();
    let ip = |s: &str| Some(Some(s.parse().unwrap()));
    let client = |headers: &[&str]| forwarded_client(headers.iter().copied(), &trusted);
    assert_eq!(client(&["1.1.1.1, 2.2.2.2, 10.0.0.5"]), ip("2.2.2.2"));
    assert_eq!(client(&["1.1.1.1", "2.2.2.2, 10.0.0.5"]), ip("2.2.2.2"));
    assert_eq!(client(&["10.0.0.7, 10.0.0.5"]), ip("10.0.0.7"));
    assert_eq!(client(&["1.1.1.1, junk, 10.0.0.5"]), Some(None));
    assert_eq!(client(&[]), None);
}

#[test]
fn validate_lists_every_problem_at_once() {
    let config = GuardConfig {
        allow_ips: vec!["10.0.0.0/33".into(), "banana".into(), "1.2.3.4".into()],
        trusted_proxies: vec!["10.0.0.0/8".into(), "proxy.local".into()],
        trust_forwarded_for: Some(true),
        burst: 0,
        ..GuardConfig::default()
    };
    let problems = config.validate();
    assert_eq!(problems.len(), 5, "{problems:?}");
    assert!(problems[0].contains("allow_ips[0]") && problems[0].contains("/33"));
    assert!(problems[1].contains("allow_ips[1]") && problems[1].contains("banana"));
    assert!(problems[2].contains("trusted_proxies[1]") && problems[2].contains("proxy.local"));
    assert!(problems[3].contains("replaced by trusted_proxies"));
    assert!(problems[4].contains("burst"));
    let err = Guards::new(&config).unwrap_err();
    assert_eq!(err, GuardError::InvalidConfig(problems));

    assert!(GuardConfig::default().validate().is_empty());
    assert!(limits(0, 0, 0).validate().is_empty());
}

#[test]
fn config_defaults_and_unknown_fields() {
    let config: GuardConfig = serde_json::from_str(r#"{"allow_ips": ["10.0.0.0/8"]}"#).unwrap();
    assert_eq!(config.rate_limit_per_ip, 100);
    assert_eq!(config.rate_limit_per_key, 50);
    assert_eq!(config.burst, 200);
    assert!(config.trusted_proxies.is_empty());
    assert!(serde_json::from_str::<GuardConfig>(r#"{"allow_ip": []}"#).is_err());
}

#[test]
fn request_key_reads_the_header_or_nothing() {
    let (parts, _) = request(None, Some(" k1 "), None).into_parts();
    assert_eq!(request_key(&parts), Some("k1".to_owned()));
    let (parts, _) = request(None, Some("  "), None).into_parts();
    assert_eq!(request_key(&parts), None);
    let (parts, _) = request(None, None, None).into_parts();
    assert_eq!(request_key(&parts), None);
}

#[tokio::test]
async fn housekeeping_drops_idle_buckets_and_the_task_stops_with_the_guards() {
    let guards = Guards::new(&limits(1000, 0, 1)).unwrap();
    let (parts, _) = request(Some("192.0.2.50:1"), None, None).into_parts();
    guards.check(&parts).unwrap();
    let per_ip = guards.inner.per_ip.as_ref().unwrap();
    assert_eq!(per_ip.limiter.len(), 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    guards.housekeeping();
    assert_eq!(per_ip.limiter.len(), 0);

    let handle = guards.spawn_housekeeping(Duration::from_millis(5));
    drop(guards);
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("task ends once the guards are gone")
        .unwrap();
}
