//! The metric names: unique, described, exported.

use super::*;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use axum::middleware::from_fn;
use tower::ServiceExt;

#[test]
fn install_twice_returns_the_same_recorder() {
    let a = Metrics::install().unwrap();
    let b = Metrics::install().unwrap();
    assert!(Arc::ptr_eq(&a.handle, &b.handle));
}

#[test]
fn render_shows_names_labels_and_histogram_types() {
    let m = Metrics::install().unwrap();
    ::metrics::counter!(names::ORDERS, "status" => "filled").increment(2);
    ::metrics::counter!(names::NOTIFICATIONS, "channel" => "telegram", "outcome" => "sent")
        .increment(1);
    ::metrics::histogram!(names::STAGE_DURATION, "stage" => "risk").record(0.003);
    ::metrics::histogram!(names::WEBHOOK_TO_NOTIFICATION, "channel" => "telegram").record(0.4);
    let text = m.render();
    assert!(
        text.contains(r#"neo_orders_total{status="filled"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"neo_notifications_total{channel="telegram",outcome="sent"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("# TYPE neo_stage_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains(r#"neo_stage_duration_seconds_bucket{stage="risk",le="0.005"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"neo_stage_duration_seconds_bucket{stage="risk",le="0.0025"} 0"#),
        "{text}"
    );
    assert!(
        text.contains("# TYPE neo_webhook_to_notification_seconds histogram"),
        "{text}"
    );
    assert!(text.contains("# HELP neo_orders_total"), "{text}");
}

#[test]
fn names_are_unique_and_prefixed() {
    let mut all = names::ALL.to_vec();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), names::ALL.len());
    assert!(names::ALL.iter().all(|n| n.starts_with("neo_")));
}

#[tokio::test]
async fn router_answers_with_prometheus_content_type() {
    let m = Metrics::install().unwrap();
    ::metrics::counter!(names::FILLS, "instrument" => "BTCUSD").increment(1);
    let response = metrics_router(m)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], CONTENT_TYPE_TEXT);
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(r#"neo_fills_total{instrument="BTCUSD"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn track_http_labels_by_route_template_never_raw_path() {
    let m = Metrics::install().unwrap();
    let app = Router::new()
        .route("/track-test/{id}", get(|| async { "ok" }))
        .layer(from_fn(track_http));
    for path in ["/track-test/1", "/track-test/2", "/track-test-missing"] {
        app.clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
    }
    let text = m.render();
    assert!(
        text.contains(r#"neo_http_requests_total{route="/track-test/{id}",status="200"} 2"#),
        "{text}"
    );
    assert!(!text.contains("/track-test/1"), "{text}");
    assert!(
        text.contains(r#"neo_http_request_duration_seconds_count{route="/track-test/{id}"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"neo_http_requests_total{route="unmatched",status="404"}"#),
        "{text}"
    );
}
