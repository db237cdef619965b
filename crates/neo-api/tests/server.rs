//! The intake server through its router (axum `oneshot`), on real SQLite and
//! PostgreSQL stores: 202 only once the signal is stored with its outbox
//! envelope, duplicates recognised, every 4xx class with its JSON body, and 503
//! when the store is down.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use neo_api::intake::{SIGNATURE_HEADER, Secret, sign};
use neo_api::server::{AppState, GatewayConfig, router};
use neo_domain::{MessageId, Timestamp};
use neo_store::{Store, Table, WriterConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const NOW: i64 = 1_795_295_343; // 2026-11-21T21:09:03Z
const SECRET: &str = "a-long-signing-secret-0123456789";

async fn app(url: &str) -> (axum::Router, Store) {
    app_with(url, |_| {}).await
}

async fn app_with(url: &str, adjust: impl FnOnce(&mut GatewayConfig)) -> (axum::Router, Store) {
    let store = Store::connect(url).await.unwrap();
    let (writer, _task) = store.writer(WriterConfig::default());
    let mut config = GatewayConfig {
        passphrase: Some(Secret::new("correct horse")),
        signing_secrets: vec![Secret::new(SECRET)],
        max_body_bytes: 4096,
        ..GatewayConfig::default()
    };
    adjust(&mut config);
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    let clock = Arc::new(|| Timestamp::from_unix_secs(NOW).unwrap());
    (
        router(AppState::new(config, store.clone(), writer, clock)),
        store,
    )
}

async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn post(path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

fn alert() -> Value {
    json!({
        "passphrase": "correct horse", "ticker": "BINANCE:BTCUSDT", "action": "buy",
        "close": 42000.5, "contracts": "0.015", "strategy": "ema-cross", "id": "alert-7781"
    })
}

async fn accepts_stores_and_dedupes(url: &str) {
    let (app, store) = app(url).await;
    let (status, body) = call(
        &app,
        post(
            "/v1/webhooks/tradingview",
            "application/json",
            alert().to_string(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["duplicate"], false);
    let id: MessageId = body["signal_id"].as_str().unwrap().parse().unwrap();
    let signal = store
        .get_signal(id)
        .await
        .unwrap()
        .expect("stored before the 202");
    assert_eq!(signal.instrument.as_str(), "BTC-USDT");
    assert_eq!(signal.source_id.as_deref(), Some("alert-7781"));
    assert!(
        !signal.original.to_string().contains("correct horse"),
        "the passphrase is never stored"
    );
    assert_eq!(store.count(Table::Outbox).await.unwrap(), 1);

    let (status, again) = call(
        &app,
        post(
            "/v1/webhooks/tradingview",
            "application/json",
            alert().to_string(),
        ),
    )
    .await;
    assert_eq!(
        (status, &again["signal_id"], &again["duplicate"]),
        (StatusCode::ACCEPTED, &body["signal_id"], &json!(true))
    );
    assert_eq!(
        store.count(Table::Outbox).await.unwrap(),
        1,
        "a duplicate is not processed again"
    );

    let text = "passphrase=correct horse\nticker=NASDAQ:AAPL\naction=sell\nprice=230.5\nid=t-1\n";
    let (status, body) = call(
        &app,
        post(
            "/v1/webhooks/tradingview",
            "text/plain; charset=utf-8",
            text,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(store.count(Table::Signals).await.unwrap(), 2);
}

async fn every_refusal_is_a_json_4xx_and_stores_nothing(url: &str) {
    let (app, store) = app(url).await;
    let tv = "/v1/webhooks/tradingview";
    let mut wrong = alert();
    wrong["passphrase"] = json!("wrong");
    let mut unexpanded = alert();
    unexpanded["close"] = json!("{{close}}");
    let cases = [
        // Authentication first: a body without the passphrase learns nothing more.
        (
            post(tv, "application/json", "{not json"),
            StatusCode::UNAUTHORIZED,
            "missing_passphrase",
        ),
        (
            post(tv, "application/json", r#"{"ticker": 5, "action": "buy"}"#),
            StatusCode::UNAUTHORIZED,
            "missing_passphrase",
        ),
        // The right passphrase in a broken body is told about the breakage.
        (
            post(
                tv,
                "application/json",
                r#"{"passphrase": "correct horse", "ticker": }"#,
            ),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            post(
                tv,
                "application/json",
                r#"{"passphrase": "correct horse", "ticker": "AAPL", "ticker": "MSFT", "action": "buy"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "duplicate_key",
        ),
        (
            post(
                tv,
                "application/json",
                r#"{"passphrase": "correct horse", "ticker": 5, "action": "buy"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_value",
        ),
        (
            post(
                tv,
                "application/json",
                r#"{"passphrase": "correct horse", "ticker": "AAPL", "symbol": "MSFT", "action": "buy"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "conflicting_fields",
        ),
        (
            post(
                tv,
                "application/json",
                r#"{"passphrase": "correct horse", "ticker": "AAPL", "action": "buy", "timenow": "1970-01-01T00:00:01Z"}"#,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "stale_alert",
        ),
        (
            post(tv, "application/json", wrong.to_string()),
            StatusCode::UNAUTHORIZED,
            "bad_passphrase",
        ),
        (
            post(tv, "application/json", unexpanded.to_string()),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unexpanded_placeholder",
        ),
        (
            post(tv, "application/json", "x".repeat(5000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            post(tv, "application/x-www-form-urlencoded", "a=b"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            post("/v1/webhooks/generic", "application/json", "{}"),
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        ),
    ];
    for (request, status, code) in cases {
        let (got, body) = call(&app, request).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(
            body["message"].is_string() && body["details"].is_array(),
            "{body}"
        );
    }
    let (_, body) = call(&app, post(tv, "application/json", unexpanded.to_string())).await;
    assert_eq!(body["details"][0]["path"], "/close", "{body}");
    assert_eq!(store.count(Table::Signals).await.unwrap(), 0);
}

async fn signed_generic_webhook_and_replays(url: &str) {
    let (app, store) = app(url).await;
    let body = json!({
        "source": "api", "instrument": "ETH-USDT", "side": "buy", "signal_type": "entry",
        "priority": "normal", "ts_event": "2026-11-21T21:09:00Z", "source_id": "bot-1"
    })
    .to_string();
    let signed = |sig: &str| {
        Request::post("/v1/webhooks/generic")
            .header(header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, sig)
            .body(Body::from(body.clone()))
            .unwrap()
    };
    let good = sign(SECRET.as_bytes(), NOW, body.as_bytes());
    let (status, answer) = call(&app, signed(&good)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    let (status, answer) = call(&app, signed(&good)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("replayed_signature"))
    );
    let forged = sign(b"another-secret-that-is-long", NOW, body.as_bytes());
    let (status, answer) = call(&app, signed(&forged)).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    let stale = sign(SECRET.as_bytes(), NOW - 1000, body.as_bytes());
    assert_eq!(call(&app, signed(&stale)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(store.count(Table::Signals).await.unwrap(), 1);
}

async fn health_ready_and_503_when_the_store_is_down(url: &str) {
    let (app, store) = app(url).await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    assert_eq!(call(&app, get("/health")).await.0, StatusCode::OK);
    assert_eq!(call(&app, get("/ready")).await.0, StatusCode::OK);
    store.close().await;
    let (status, body) = call(&app, get("/ready")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
    let (status, body) = call(
        &app,
        post(
            "/v1/webhooks/tradingview",
            "application/json",
            alert().to_string(),
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
        "{body}"
    );
    assert_eq!(
        call(&app, get("/health")).await.0,
        StatusCode::OK,
        "alive, just not ready"
    );
}

/// What TradingView sends: Pine's order name repeats on every trade, an explicit
/// id is the key, senders never collide, and a changed alert under a used id is 409.
async fn idempotency_fits_tradingview(url: &str) {
    let (app, store) = app_with(url, |c| {
        c.strategy_passphrases
            .insert("swing".into(), Secret::new("swing's own passphrase"));
    })
    .await;
    let tv = |body: Value| {
        post(
            "/v1/webhooks/tradingview",
            "application/json",
            body.to_string(),
        )
    };
    let order = |price: f64| {
        json!({"passphrase": "correct horse", "ticker": "AAPL", "action": "buy",
               "strategy.order.id": "Long", "close": price})
    };
    let (first, second) = (
        call(&app, tv(order(180.0))).await,
        call(&app, tv(order(185.0))).await,
    );
    assert_eq!(
        (first.0, second.0),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(
        (&first.1["duplicate"], &second.1["duplicate"]),
        (&json!(false), &json!(false))
    );
    assert_ne!(
        first.1["signal_id"], second.1["signal_id"],
        "the second Long was dropped"
    );

    let explicit = |price: f64| {
        json!({"passphrase": "correct horse", "ticker": "AAPL", "action": "buy",
               "id": "Long-1795295343", "close": price})
    };
    let (status, accepted) = call(&app, tv(explicit(180.0))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let (status, again) = call(&app, tv(explicit(180.0))).await;
    assert_eq!(
        (status, &again["duplicate"]),
        (StatusCode::ACCEPTED, &json!(true))
    );
    assert_eq!(again["signal_id"], accepted["signal_id"]);
    let (status, conflict) = call(&app, tv(explicit(181.0))).await;
    assert_eq!(
        (status, conflict["error"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_conflict")),
        "{conflict}"
    );
    assert_eq!(conflict["details"][0]["path"], "/price", "{conflict}");

    // Another strategy (its own passphrase) with the same id is its own alert.
    let mut swing = explicit(180.0);
    swing["passphrase"] = json!("swing's own passphrase");
    swing["strategy"] = json!("swing");
    let (status, theirs) = call(&app, tv(swing)).await;
    assert_eq!(
        (status, &theirs["duplicate"]),
        (StatusCode::ACCEPTED, &json!(false)),
        "{theirs}"
    );
    assert_ne!(theirs["signal_id"], accepted["signal_id"]);
    assert_eq!(store.count(Table::Signals).await.unwrap(), 4);
}

/// The replay guard holds a signature only once its request was committed: a
/// refused request can be sent again and is judged again, not called a replay.
async fn a_refused_signed_request_is_not_a_replay(url: &str) {
    let (app, store) = app(url).await;
    let body = json!({"source": "api", "instrument": "btc", "signal_type": "entry"}).to_string();
    let signed = || {
        Request::post("/v1/webhooks/generic")
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                SIGNATURE_HEADER,
                sign(SECRET.as_bytes(), NOW, body.as_bytes()),
            )
            .body(Body::from(body.clone()))
            .unwrap()
    };
    for _ in 0..2 {
        let (status, answer) = call(&app, signed()).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("contract_violation")),
            "{answer}"
        );
    }
    assert_eq!(store.count(Table::Signals).await.unwrap(), 0);
}

/// A malformed query string and a JSON endpoint posted as text are refused with
/// the API's JSON error body, like every other refusal.
async fn query_and_content_type_errors_are_json(url: &str) {
    let (app, _store) = app(url).await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    for path in [
        "/v1/signals?limit=abc",
        "/v1/orders?limit=1&bogus=2",
        "/v1/signals?limit=0",
    ] {
        let (status, body) = call(&app, get(path)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{path}: {body}"
        );
    }
    let (status, body) = call(&app, post("/v1/risk/check", "text/plain", "{}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        ),
        "{body}"
    );
}

neo_testkit::on_both_stores!(
    query_and_content_type_errors_are_json,
    idempotency_fits_tradingview,
    a_refused_signed_request_is_not_a_replay,
    accepts_stores_and_dedupes,
    every_refusal_is_a_json_4xx_and_stores_nothing,
    signed_generic_webhook_and_replays,
    health_ready_and_503_when_the_store_is_down,
);

#[test]
fn config_problems_are_listed_together() {
    let config = GatewayConfig {
        signing_secrets: vec![Secret::new("short")],
        max_body_bytes: 10,
        dedupe_bucket_secs: 0,
        ..GatewayConfig::default()
    };
    assert_eq!(config.validate().len(), 4, "{:?}", config.validate());
}
