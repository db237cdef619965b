//! The Ollama lifecycle against a local server speaking Ollama's documented
//! API: tags, a streamed pull with progress (and one that fails), load and
//! unload by `keep_alive`, and the memory `/api/ps` reports.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use neo_agents::ollama::{Ollama, OllamaError};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn server_with(route: &str, verb: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_missing_model_is_pulled_with_its_progress() {
    let server = server_with(
        "/api/tags",
        "GET",
        ResponseTemplate::new(200).set_body_json(json!({ "models": [
            { "name": "qwen2.5:7b", "size": 4_700_000_000u64 }
        ] })),
    )
    .await;
    let stream = [
        json!({ "status": "pulling manifest" }),
        json!({ "status": "pulling 6a0746a1ec1a", "digest": "sha256:6a07", "total": 2000, "completed": 500 }),
        json!({ "status": "pulling 6a0746a1ec1a", "digest": "sha256:6a07", "total": 2000, "completed": 2000 }),
        json!({ "status": "verifying sha256 digest" }),
        json!({ "status": "success" }),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    Mock::given(method("POST"))
        .and(path("/api/pull"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(stream, "application/x-ndjson"))
        .mount(&server)
        .await;
    let o = Ollama::new(client(), &server.uri(), "llama3.2");
    assert!(!o.installed().await.unwrap());
    assert!(
        Ollama::new(client(), &server.uri(), "qwen2.5:7b")
            .installed()
            .await
            .unwrap()
    );
    let mut seen = Vec::new();
    o.pull(|status, share| seen.push((status.to_owned(), share)))
        .await
        .unwrap();
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[1].1, Some(0.25));
    assert_eq!(seen[4].0, "success");
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[2].body).unwrap();
    assert_eq!(sent, json!({ "model": "llama3.2", "stream": true }));
}

#[tokio::test]
async fn a_failed_or_cut_pull_is_an_error() {
    let failing = server_with(
        "/api/pull",
        "POST",
        ResponseTemplate::new(200).set_body_raw(
            "{\"status\":\"pulling manifest\"}\n{\"error\":\"pull model manifest: file does not exist\"}\n",
            "application/x-ndjson",
        ),
    )
    .await;
    let e = Ollama::new(client(), &failing.uri(), "nope")
        .pull(|_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OllamaError::Pull { message, .. } if message.contains("does not exist")),
        "{e}"
    );
    let cut = server_with(
        "/api/pull",
        "POST",
        ResponseTemplate::new(200).set_body_raw(
            "{\"status\":\"pulling manifest\"}\n",
            "application/x-ndjson",
        ),
    )
    .await;
    let e = Ollama::new(client(), &cut.uri(), "m")
        .pull(|_, _| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("before \"success\""), "{e}");
}

#[tokio::test]
async fn load_keeps_the_model_warm_unload_frees_it_and_ps_reads_memory() {
    let server = server_with(
        "/api/generate",
        "POST",
        ResponseTemplate::new(200).set_body_json(json!({ "model": "llama3.2", "done": true })),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/ps"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "models": [{
            "name": "llama3.2:latest", "model": "llama3.2:latest", "size": 3_000_000_000u64,
            "size_vram": 2_500_000_000u64, "expires_at": "2026-12-07T01:30:00Z"
        }] })),
        )
        .mount(&server)
        .await;
    let o = Ollama::new(client(), &server.uri(), "llama3.2");
    let took = o.load(Duration::from_secs(1_800)).await.unwrap();
    assert!(took < Duration::from_secs(5));
    o.unload().await.unwrap();
    let sent: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent[0]["keep_alive"], "1800s");
    assert_eq!(sent[1]["keep_alive"], 0);
    let loaded = o.loaded().await.unwrap().unwrap();
    assert_eq!(
        (loaded.size, loaded.size_vram),
        (3_000_000_000, 2_500_000_000)
    );
    assert!(
        Ollama::new(client(), &server.uri(), "other")
            .loaded()
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_down_server_is_an_error_not_a_hang() {
    let o = Ollama::new(client(), "http://127.0.0.1:9", "m");
    assert!(matches!(o.installed().await, Err(OllamaError::Http(_))));
}
