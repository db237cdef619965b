//! The API keys through a running pipeline over real HTTP: `start` refuses to
//! serve beyond loopback without keys, keys and roles guard the REST API while
//! webhooks keep their passphrase, the expiry gauge reaches `/metrics`, and a
//! keyless NEO answers only requests addressed to loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{PASS, rig};
use neo_api::auth::{ApiKeyConfig, key_digest_hex};
use neo_pipeline::{Config, PipelineError, start, wall_clock};
use neo_testkit::db::TestDb;
use serde_json::json;

const ADMIN: &str = "neo_pipeline_admin_key";
const READ: &str = "neo_pipeline_read_key";

fn keys(c: &mut Config) {
    c.api.keys = vec![
        ApiKeyConfig {
            name: "ops".into(),
            role: "admin".into(),
            sha256: key_digest_hex(ADMIN),
            expires: None,
        },
        ApiKeyConfig {
            name: "pipeline-test-grafana".into(),
            role: "read".into(),
            sha256: key_digest_hex(READ),
            // Far off: valid, and still shown on the expiry gauge.
            expires: Some("2262-01-01T00:00:00Z".into()),
        },
    ];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_non_loopback_host_without_keys() {
    let db = TestDb::sqlite();
    let dir = std::env::temp_dir().join(neo_testkit::db::unique_name("neo-auth"));
    let mut config = Config::default();
    config.server.host = "0.0.0.0".into();
    config.server.port = 0;
    config.store.url = Some(db.url.clone());
    let refused = start(config.clone(), &dir, wall_clock()).await;
    match refused {
        Err(PipelineError::Setup(message)) => {
            assert!(message.contains("0.0.0.0"), "{message}");
            assert!(message.contains("[[api.keys]]"), "{message}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("served 0.0.0.0 without keys"),
    }
    assert!(!dir.exists(), "refused before touching the data directory");

    // The same host with a key starts.
    keys(&mut config);
    let running = start(config, &dir, wall_clock()).await.unwrap();
    assert!(running.addr.ip().is_unspecified());
    running.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_roles_guard_the_running_api() {
    let db = TestDb::sqlite();
    let rig = rig(&db.url, keys).await;
    let url = |path: &str| format!("{}{path}", rig.base);
    let get = |path: &str, key: Option<&str>| {
        let mut request = rig.http.get(url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let anonymous = get("/v1/portfolio", None).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(
        get("/v1/portfolio", Some(READ))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(get("/health", None).await.unwrap().status().as_u16(), 200);
    assert_eq!(get("/metrics", None).await.unwrap().status().as_u16(), 401);
    let metrics = get("/metrics", Some(READ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"neo_api_key_expiry_seconds{name="pipeline-test-grafana"}"#),
        "{metrics}"
    );

    let halt = json!({ "state": "halted", "reason": "auth test" });
    let as_reader = rig
        .http
        .post(url("/v1/trading/state"))
        .bearer_auth(READ)
        .json(&halt)
        .send()
        .await
        .unwrap();
    assert_eq!(as_reader.status().as_u16(), 403);
    let as_admin = rig
        .http
        .post(url("/v1/trading/state"))
        .bearer_auth(ADMIN)
        .json(&halt)
        .send()
        .await
        .unwrap();
    assert!(as_admin.status().is_success(), "{}", as_admin.status());
    // The command names the key it came with.
    let state: serde_json::Value = rig
        .http
        .get(url("/v1/trading/state"))
        .bearer_auth(READ)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["by"], "operator:ops", "{state}");

    // Webhooks need the passphrase, not a key.
    let alert = json!({ "passphrase": PASS, "ticker": "BTCUSDT", "action": "buy",
        "close": 42000.5, "contracts": "0.01", "strategy": "auth", "id": "auth-1" });
    assert_eq!(rig.post(&alert).await.0, 202);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyless_pipeline_answers_only_requests_addressed_to_loopback() {
    let db = TestDb::sqlite();
    let rig = rig(&db.url, |_| {}).await;
    let (status, _) = rig.get("/v1/portfolio").await;
    assert_eq!(status, 200);
    let rebound = rig
        .http
        .get(format!("{}/v1/portfolio", rig.base))
        .header("host", "attacker.example:8001")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status().as_u16(), 421);
    let body: serde_json::Value = rebound.json().await.unwrap();
    assert_eq!(body["error"], "misdirected_host");
    rig.stop().await;
}

/// A key that expires within seven days is told to people on every channel,
/// once (a restart derives the same notification ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiring_key_is_notified_on_every_channel() {
    let db = TestDb::sqlite();
    let soon = wall_clock()().add_nanos(2 * 24 * 3_600 * 1_000_000_000);
    let rig = rig(&db.url, |c| {
        keys(c);
        c.api.keys[1].name = "grafana-soon".into();
        c.api.keys[1].expires = Some(soon.to_string());
    })
    .await;
    let wait = std::time::Duration::from_secs(10);
    let slack = rig.slack.wait_for(1, wait).await;
    assert_eq!(
        rig.telegram.wait_for(1, wait).await.len(),
        1,
        "no Telegram message"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let slack = slack[0].body.to_string();
    assert!(
        slack.contains("grafana-soon") && slack.contains("neo keys new"),
        "{slack}"
    );
    assert!(
        !slack.contains(READ),
        "a notification never carries the key"
    );
    assert_eq!(
        rig.slack.requests().len(),
        1,
        "the key that never expires says nothing"
    );
    rig.stop().await;
}

/// One JSON-RPC request to `/mcp` with `key`: the status and the answer.
async fn mcp(
    rig: &common::Rig,
    key: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut request = rig
        .http
        .post(format!("{}/mcp", rig.base))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .json(&body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let r = request.send().await.unwrap();
    (
        r.status().as_u16(),
        r.json().await.unwrap_or(serde_json::Value::Null),
    )
}

fn tool_call(name: &str, arguments: serde_json::Value) -> serde_json::Value {
    json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": { "name": name, "arguments": arguments } })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_tools_answer_to_keys_by_role() {
    let db = TestDb::sqlite();
    let rig = rig(&db.url, keys).await;
    let ticker = tool_call("get_ticker", json!({ "instrument": "BTC-USDT" }));
    let (status, _) = mcp(&rig, None, ticker.clone()).await;
    assert_eq!(status, 401, "no key, no tools");
    let (status, answer) = mcp(&rig, Some(READ), ticker).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(
        answer["result"]["structuredContent"]["instrument"],
        "BTC-USDT"
    );
    // A backtest costs CPU: the read key is refused, the admin key runs it.
    let backtest = tool_call(
        "run_backtest",
        json!({ "instrument": "BTC-USDT", "fast": 5, "slow": 20 }),
    );
    let (_, answer) = mcp(&rig, Some(READ), backtest.clone()).await;
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let why = answer["result"]["structuredContent"]["error"]
        .as_str()
        .unwrap();
    assert!(why.contains("needs an admin key"), "{why}");
    let (_, answer) = mcp(&rig, Some(ADMIN), backtest).await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert!(
        answer["result"]["structuredContent"]["summary"]["bars"]
            .as_u64()
            .unwrap()
            > 20
    );
    // An unknown tool is a protocol error; malformed JSON-RPC never a 500.
    let (_, answer) = mcp(&rig, Some(READ), tool_call("place_order", json!({}))).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no tool named"),
        "{answer}"
    );
    let (status, _) = mcp(
        &rig,
        Some(READ),
        json!({ "jsonrpc": "2.0", "id": 1, "method": 5 }),
    )
    .await;
    assert!((400..500).contains(&status), "{status}");
    rig.stop().await;
}
