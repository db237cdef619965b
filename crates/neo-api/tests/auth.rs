//! Who may call what, through the whole router (axum `oneshot`): every route
//! walked with no key, a read key, an admin key, an expired key and an unknown
//! one; the keyless loopback mode's Host and Origin checks; the forwarded-for
//! spoof; and the REST API's own rate limits.

// Helpers outside #[test] functions may unwrap too: a failing test should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use neo_api::auth::{ApiAuth, ApiConfig, ApiKeyConfig, key_digest_hex};
use neo_api::guard::{GuardConfig, Guards};
use neo_api::intake::Secret;
use neo_api::metrics::Metrics;
use neo_api::server::{AppState, GatewayConfig, Live, LiveError, Ticker, router};
use neo_domain::contracts::{CandleV1, OrderIntentV1};
use neo_domain::{InstrumentId, Timestamp};
use neo_engine::desk::{AccountSummary, Desk, DeskConfig};
use neo_engine::risk::{Refusal, TradingStatus};
use neo_store::{Store, WriterConfig};
use neo_testkit::db::TestDb;
use serde_json::{Value, json};
use tower::ServiceExt;

const NOW: i64 = 1_795_295_343; // 2026-11-21T21:09:03Z
const ADMIN: &str = "neo_admin_key_for_tests";
const READ: &str = "neo_read_key_for_tests";
const EXPIRED: &str = "neo_expired_admin_key_for_tests";
const PASSPHRASE: &str = "correct horse";

/// A flat paper desk, so every read endpoint answers 200 once the gate lets it through.
struct FlatDesk(Mutex<Desk>);

impl FlatDesk {
    fn new() -> FlatDesk {
        let now = Timestamp::from_unix_secs(NOW).unwrap();
        FlatDesk(Mutex::new(
            Desk::new(DeskConfig::default(), BTreeMap::new(), now).unwrap(),
        ))
    }
}

impl Live for FlatDesk {
    fn tickers(&self) -> Vec<Ticker> {
        Vec::new()
    }
    fn portfolio(&self, now: Timestamp) -> Result<AccountSummary, LiveError> {
        self.0
            .lock()
            .unwrap()
            .summary(now)
            .map_err(|e| LiveError::Failed(e.to_string()))
    }
    fn risk_check(
        &self,
        intent: OrderIntentV1,
        now: Timestamp,
    ) -> Result<Result<(), Refusal>, LiveError> {
        Ok(self.0.lock().unwrap().check(intent, now))
    }
    fn bus_ready(&self) -> Result<(), String> {
        Ok(())
    }
    fn trading_status(&self) -> Result<TradingStatus, LiveError> {
        Ok(self.0.lock().unwrap().trading_status().clone())
    }
    fn candles(&self, _: InstrumentId, _: usize) -> Vec<CandleV1> {
        Vec::new()
    }
    fn briefing(&self, instrument: InstrumentId, now: Timestamp) -> Result<Value, LiveError> {
        Ok(self.0.lock().unwrap().briefing(instrument, now))
    }
    fn market(&self, _now: Timestamp) -> Value {
        serde_json::json!({ "source": "sim", "connected": true, "instruments": {} })
    }
}

fn key(name: &str, role: &str, text: &str, expires: Option<&str>) -> ApiKeyConfig {
    ApiKeyConfig {
        name: name.into(),
        role: role.into(),
        sha256: key_digest_hex(text),
        expires: expires.map(str::to_owned),
    }
}

fn keyed(public_metrics: bool) -> ApiConfig {
    ApiConfig {
        keys: vec![
            key("ops", "admin", ADMIN, Some("2027-06-30T00:00:00Z")),
            key("grafana", "read", READ, None),
            key("old-ops", "admin", EXPIRED, Some("2026-11-01T00:00:00Z")),
        ],
        public_metrics,
    }
}

async fn app(db: &TestDb, api: &ApiConfig, tune: impl FnOnce(AppState) -> AppState) -> Router {
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let (writer, task) = store.writer(WriterConfig::default());
    tokio::spawn(task);
    let config = GatewayConfig {
        passphrase: Some(Secret::new(PASSPHRASE)),
        ..GatewayConfig::default()
    };
    let clock = Arc::new(|| Timestamp::from_unix_secs(NOW).unwrap());
    let state = AppState::new(config, store, writer, clock)
        .with_live(Arc::new(FlatDesk::new()))
        .with_metrics(Metrics::install().unwrap())
        .with_auth(ApiAuth::new(api).unwrap());
    router(tune(state))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: Value,
}

async fn call(app: &Router, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        body,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Open,
    Webhook,
    Read,
    Admin,
}

/// Every route, what it needs, and what it answers once through the gate.
fn routes() -> Vec<(&'static str, &'static str, Need, StatusCode)> {
    use StatusCode as S;
    vec![
        ("GET", "/v1/signals", Need::Read, S::OK),
        (
            "GET",
            "/v1/signals/0195f3a0-0000-7000-8000-000000000000",
            Need::Read,
            S::NOT_FOUND,
        ),
        ("GET", "/v1/orders", Need::Read, S::OK),
        ("GET", "/v1/positions", Need::Read, S::OK),
        ("GET", "/v1/portfolio", Need::Read, S::OK),
        ("GET", "/v1/tickers", Need::Read, S::OK),
        ("GET", "/v1/trading/state", Need::Read, S::OK),
        ("GET", "/metrics", Need::Read, S::OK),
        // An empty body reaches the handler, which names what is missing.
        (
            "POST",
            "/v1/risk/check",
            Need::Admin,
            S::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/v1/trading/state",
            Need::Admin,
            S::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/v1/trading/flatten",
            Need::Admin,
            S::UNPROCESSABLE_ENTITY,
        ),
        ("GET", "/health", Need::Open, S::OK),
        ("GET", "/ready", Need::Open, S::OK),
        ("GET", "/openapi.json", Need::Open, S::OK),
        ("GET", "/docs/", Need::Open, S::OK),
        (
            "POST",
            "/v1/webhooks/tradingview",
            Need::Webhook,
            S::ACCEPTED,
        ),
    ]
}

fn request(method: &str, path: &str, authorization: Option<&str>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "neo.example.com");
    if let Some(value) = authorization {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    let body = match (method, path) {
        ("POST", "/v1/webhooks/tradingview") => json!({
            "passphrase": PASSPHRASE, "ticker": "BINANCE:BTCUSDT", "action": "buy",
            "close": 42000.5, "contracts": "0.015", "strategy": "auth-matrix", "id": "alert-1"
        })
        .to_string(),
        ("POST", _) => "{}".to_owned(),
        _ => String::new(),
    };
    builder
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap()
}

/// What a caller should get: the route's own answer, or the refusal's status and code.
fn expected(need: Need, caller: &str, allowed: StatusCode) -> (StatusCode, Option<&'static str>) {
    let unauthorized = (StatusCode::UNAUTHORIZED, Some("unauthorized"));
    match (need, caller) {
        (Need::Open | Need::Webhook, _) => (allowed, None),
        (_, "none" | "unknown" | "basic") => unauthorized,
        (_, "expired") => (StatusCode::UNAUTHORIZED, Some("key_expired")),
        (Need::Admin, "read") => (StatusCode::FORBIDDEN, Some("forbidden")),
        (Need::Read | Need::Admin, "read" | "admin") => (allowed, None),
        other => panic!("no expectation for {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walk_every_route_with_every_caller() {
    let db = TestDb::sqlite();
    let app = app(&db, &keyed(false), |s| s).await;
    let admin = format!("Bearer {ADMIN}");
    let read = format!("Bearer {READ}");
    let expired = format!("Bearer {EXPIRED}");
    let callers: [(&str, Option<&str>); 6] = [
        ("none", None),
        ("unknown", Some("Bearer neo_not_a_configured_key")),
        ("basic", Some("Basic b3BzOnNlY3JldA==")),
        ("expired", Some(&expired)),
        ("read", Some(&read)),
        ("admin", Some(&admin)),
    ];
    for (method, path, need, allowed) in routes() {
        for (caller, authorization) in callers {
            let answer = call(&app, request(method, path, authorization)).await;
            let (status, code) = expected(need, caller, allowed);
            let at = format!("{method} {path} as {caller}: {}", answer.body);
            assert_eq!(answer.status, status, "{at}");
            if let Some(code) = code {
                assert_eq!(answer.body["error"], code, "{at}");
                assert!(answer.body["message"].as_str().is_some(), "{at}");
                assert!(answer.body["details"].is_array(), "{at}");
                let challenge = answer.challenge.as_deref().unwrap_or("");
                assert_eq!(
                    challenge.starts_with("Bearer"),
                    status == StatusCode::UNAUTHORIZED,
                    "{at}"
                );
            }
            // No answer ever repeats a key.
            for secret in [ADMIN, READ, EXPIRED] {
                assert!(!answer.body.to_string().contains(secret), "{at}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_metrics_needs_no_key_but_the_rest_still_does() {
    let db = TestDb::sqlite();
    let app = app(&db, &keyed(true), |s| s).await;
    assert_eq!(
        call(&app, request("GET", "/metrics", None)).await.status,
        StatusCode::OK
    );
    let answer = call(&app, request("GET", "/v1/portfolio", None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

fn from_host(method: &str, path: &str, host: &str, origin: Option<&str>) -> Request<Body> {
    let mut req = request(method, path, None);
    req.headers_mut()
        .insert(header::HOST, host.parse().unwrap());
    if let Some(origin) = origin {
        req.headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
    }
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_only_loopback_hosts_and_origins_are_served() {
    let db = TestDb::sqlite();
    let app = app(&db, &ApiConfig::default(), |s| s).await;
    for (method, path, _, allowed) in routes() {
        for host in [
            "localhost:8001",
            "127.0.0.1:8001",
            "[::1]:8001",
            "localhost",
        ] {
            let answer = call(&app, from_host(method, path, host, None)).await;
            assert_eq!(
                answer.status, allowed,
                "{method} {path} via {host}: {}",
                answer.body
            );
        }
        let answer = call(&app, from_host(method, path, "evil.example:8001", None)).await;
        if path.starts_with("/v1/webhooks/") {
            // Webhooks carry their own passphrase: a tunnel (ngrok) may forward any Host.
            assert_eq!(answer.status, allowed, "{path}");
            continue;
        }
        assert_eq!(
            answer.status,
            StatusCode::MISDIRECTED_REQUEST,
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"], "misdirected_host");
        assert_eq!(answer.body["details"][0]["path"], "host");
    }
    // A cross-site form posting to the loopback NEO (CSRF) is refused...
    let answer = call(
        &app,
        from_host(
            "POST",
            "/v1/trading/flatten",
            "127.0.0.1:8001",
            Some("https://evil.example"),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.body["error"], "forbidden_origin");
    let sandboxed = from_host("GET", "/v1/portfolio", "localhost", Some("null"));
    assert_eq!(call(&app, sandboxed).await.status, StatusCode::FORBIDDEN);
    // ...while the Swagger UI served by NEO itself may call it.
    let same_origin = from_host(
        "POST",
        "/v1/risk/check",
        "localhost:8001",
        Some("http://localhost:8001"),
    );
    assert_eq!(
        call(&app, same_origin).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_spoof_is_refused() {
    let db = TestDb::sqlite();
    let guard = GuardConfig {
        allow_ips: vec!["52.89.214.238".into()],
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..GuardConfig::default()
    };
    let guards = Guards::new(&guard).unwrap();
    let app = app(&db, &keyed(false), |s| s.with_guards(guards)).await;
    let via = |forwarded: &str, peer: &str| {
        let mut req = request("POST", "/v1/webhooks/tradingview", None);
        req.headers_mut()
            .insert("x-forwarded-for", forwarded.parse().unwrap());
        let peer: SocketAddr = peer.parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(peer));
        req
    };
    // The client wrote TradingView's address; the proxy appended the real one.
    let spoof = call(&app, via("52.89.214.238, 203.0.113.66", "10.0.0.1:5000")).await;
    assert_eq!(spoof.status, StatusCode::FORBIDDEN, "{}", spoof.body);
    assert_eq!(spoof.body["error"], "forbidden_ip");
    // Straight from the internet, the header is not read at all.
    let direct = call(&app, via("52.89.214.238", "203.0.113.66:5000")).await;
    assert_eq!(direct.status, StatusCode::FORBIDDEN);
    // TradingView through the proxy passes.
    let real = call(&app, via("52.89.214.238", "10.0.0.1:5000")).await;
    assert_eq!(real.status, StatusCode::ACCEPTED, "{}", real.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_api_has_its_own_rate_limits() {
    let db = TestDb::sqlite();
    let limits = GuardConfig {
        rate_limit_per_ip: 1,
        rate_limit_per_key: 1,
        burst: 2,
        ..GuardConfig::default()
    };
    let auth = ApiAuth::new(&keyed(false))
        .unwrap()
        .with_limits(Guards::new(&limits).unwrap());
    let app = app(&db, &keyed(false), |s| s.with_auth(auth)).await;
    let from = |peer: &str, key: &str| {
        let mut req = request("GET", "/v1/positions", Some(&format!("Bearer {key}")));
        req.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        req
    };
    // One key from many addresses: its bucket empties after the burst.
    for peer in ["192.0.2.1:1", "192.0.2.2:1"] {
        assert_eq!(call(&app, from(peer, READ)).await.status, StatusCode::OK);
    }
    let limited = call(&app, from("192.0.2.3:1", READ)).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["details"][0]["path"], "per_key");
    // Another key from a fresh address still passes.
    assert_eq!(
        call(&app, from("192.0.2.4:1", ADMIN)).await.status,
        StatusCode::OK
    );
    // One address: no key at all still spends its bucket, then is limited before auth.
    for _ in 0..2 {
        let answer = call(&app, from("198.51.100.9:1", "neo_wrong")).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    }
    let flood = call(&app, from("198.51.100.9:1", "neo_wrong")).await;
    assert_eq!(flood.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(flood.body["details"][0]["path"], "per_ip");

    // Without keys NEO serves only this machine: its scripts are not limited.
    let keyless = ApiAuth::new(&ApiConfig::default())
        .unwrap()
        .with_limits(Guards::new(&limits).unwrap());
    let local_db = TestDb::sqlite();
    let local = crate::app(&local_db, &ApiConfig::default(), |s| s.with_auth(keyless)).await;
    for _ in 0..5 {
        let mut req = from_host("GET", "/v1/positions", "127.0.0.1:8001", None);
        req.extensions_mut()
            .insert(ConnectInfo("127.0.0.1:5000".parse::<SocketAddr>().unwrap()));
        assert_eq!(call(&local, req).await.status, StatusCode::OK);
    }
}
