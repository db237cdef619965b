//! The Ollama lifecycle against a local server speaking Ollama's documented
//! API, on a clock the test moves: a missing model is pulled and loaded at
//! start, its memory is read from `/api/ps`, it is unloaded (`keep_alive: 0`)
//! once idle, loaded again when a signal comes, and every load and memory
//! reading feeds the `ollama_lifecycle` flag's guard rules; with the flag off
//! NEO leaves the model alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use neo_agents::config::OllamaConfig;
use neo_agents::provider::ProviderConfig;
use neo_api::flags::FlagBook;
use neo_domain::Timestamp;
use neo_engine::flags::{FlagName, FlagSpec, FlagState, Flags, GuardRule, RuleKind};
use neo_pipeline::Clock;
use neo_pipeline::agents::Activity;
use neo_pipeline::agents::ollama_watch;
use neo_store::{Store, WriterConfig};
use neo_testkit::db::TestDb;
use serde_json::{Value, json};
use tokio::sync::watch;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn ollama() -> MockServer {
    let server = MockServer::start().await;
    // Missing at first, there once pulled.
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "models": [] })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "models": [{ "name": "llama3.2:latest" }] })),
        )
        .mount(&server)
        .await;
    let pull = [
        json!({ "status": "pulling manifest" }),
        json!({ "status": "pulling 6a07", "total": 100, "completed": 100 }),
        json!({ "status": "success" }),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    Mock::given(method("POST"))
        .and(path("/api/pull"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(pull, "application/x-ndjson"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/generate"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "done": true })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/ps"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "models": [
            { "name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2_000_000_000u64, "size_vram": 0 }
        ] })))
        .mount(&server)
        .await;
    server
}

async fn keep_alives(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/generate")
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["keep_alive"].clone())
        .collect()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn book(on: bool) -> (FlagBook, TestDb) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let db = TestDb::sqlite();
    let store = Store::connect(&db.url).await.unwrap();
    let (writer, task) = store.writer(WriterConfig::default());
    tokio::spawn(task);
    let state = if on {
        FlagState::Enabled
    } else {
        FlagState::Disabled
    };
    let flags = Flags::standard()
        .with(FlagName::OllamaLifecycle, FlagSpec::new(state))
        .unwrap();
    let rules = GuardRule::seeds(300, 20, 2.0);
    (
        FlagBook::open(store, writer, flags, rules).await.unwrap(),
        db,
    )
}

fn provider(server: &MockServer) -> ProviderConfig {
    serde_json::from_value(json!({ "name": "local", "kind": "ollama",
        "base_url": server.uri(), "model": "llama3.2" }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_is_pulled_loaded_measured_unloaded_when_idle_and_loaded_again() {
    let server = ollama().await;
    let (flags, _db) = book(true).await;
    let nanos = Arc::new(AtomicI64::new(1_800_000_000 * 1_000_000_000));
    let n = nanos.clone();
    let clock: Clock = Arc::new(move || Timestamp::from_nanos(n.load(Ordering::SeqCst)));
    let activity = Arc::new(Activity::default());
    let config = OllamaConfig {
        pull: true,
        idle_unload_secs: 600,
        check_every_secs: 1,
    };
    let (stop, rx) = watch::channel(false);
    let task = tokio::spawn(ollama_watch::run(
        vec![provider(&server)],
        config,
        activity.clone(),
        flags.clone(),
        clock.clone(),
        rx,
    ));
    until("the pull and the load", async || {
        keep_alives(&server).await.len() == 1
    })
    .await;
    let pulled = server.received_requests().await.unwrap();
    assert!(pulled.iter().any(|r| r.url.path() == "/api/pull"));
    assert_eq!(keep_alives(&server).await, [json!("600s")]);
    // Idle past idle_unload_secs: unloaded.
    nanos.fetch_add(601 * 1_000_000_000, Ordering::SeqCst);
    until("the unload", async || keep_alives(&server).await.len() == 2).await;
    assert_eq!(keep_alives(&server).await[1], json!(0));
    // Ollama no longer holds it; a signal arrives: loaded again.
    Mock::given(method("GET"))
        .and(path("/api/ps"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "models": [] })))
        .with_priority(1)
        .mount(&server)
        .await;
    activity.touch(clock());
    until("the reload", async || keep_alives(&server).await.len() >= 3).await;
    assert_eq!(keep_alives(&server).await[2], json!("600s"));
    // Loads and memory readings reached the flag's rules (the reload's load time is
    // recorded once Ollama answered it, a moment after the request reached the mock).
    let samples_now = |kind: RuleKind| {
        flags
            .guard_figures(clock())
            .iter()
            .find(|(r, _, _)| r.flag == FlagName::OllamaLifecycle && r.kind == kind)
            .map_or(0, |(_, _, n)| *n)
    };
    until("the reload's load time", async || {
        samples_now(RuleKind::OllamaLoadSecs) >= 2
    })
    .await;
    let now = clock();
    let figures = flags.guard_figures(now);
    let samples = |kind: RuleKind| {
        figures
            .iter()
            .find(|(r, _, _)| r.flag == FlagName::OllamaLifecycle && r.kind == kind)
            .map_or(0, |(_, _, n)| *n)
    };
    assert!(samples(RuleKind::OllamaLoadSecs) >= 2, "{figures:?}");
    // The first reading fell out of the 300 s window when the clock jumped.
    assert!(samples(RuleKind::OllamaMemoryShare) >= 1, "{figures:?}");
    stop.send(true).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_flag_off_the_model_is_left_alone() {
    let server = ollama().await;
    let (flags, _db) = book(false).await;
    let clock: Clock = Arc::new(|| Timestamp::from_nanos(1_800_000_000 * 1_000_000_000));
    let (stop, rx) = watch::channel(false);
    let config = OllamaConfig {
        check_every_secs: 1,
        ..OllamaConfig::default()
    };
    let task = tokio::spawn(ollama_watch::run(
        vec![provider(&server)],
        config,
        Arc::new(Activity::default()),
        flags,
        clock,
        rx,
    ));
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert!(server.received_requests().await.unwrap().is_empty());
    stop.send(true).unwrap();
    task.await.unwrap();
}
