//! Streamed answers against local servers speaking each API's documented
//! stream: OpenAI Chat Completions and Anthropic Messages as server-sent
//! events (`text/event-stream`), Ollama's chat as NDJSON
//! (`application/x-ndjson`). A streamed verdict or tool call is the same reply
//! the unstreamed answer gives, so the chain and the tool loop are unchanged;
//! a stream cut off, not JSON, too big, too slow or reporting an error falls
//! back to the next provider.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use neo_agents::chain::{Chain, Outcome, Tools};
use neo_agents::prompt::{Prompt, render};
use neo_agents::provider::{ProviderConfig, ProviderKind};
use neo_agents::tools::{ToolDef, ToolFailure, Toolbox};
use neo_domain::contracts::{Priority, Recommendation, SignalEventV1, SignalSource, SignalType};
use neo_domain::{IdKind, InstrumentId, MessageId, Timestamp};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const VERDICT: &str = r#"{"recommendation":"buy","confidence":0.66,"rationale":"uptrend","instrument":"BTC-USDT","stop_loss":null,"take_profit":null}"#;
const SSE: &str = "text/event-stream";
const NDJSON: &str = "application/x-ndjson";

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

fn prompt() -> Prompt {
    let signal = SignalEventV1 {
        id: MessageId::derived(IdKind::Signal, "stream"),
        source: SignalSource::Tradingview,
        source_id: None,
        instrument: btc(),
        exchange: None,
        side: None,
        signal_type: SignalType::Entry,
        priority: Priority::Normal,
        price: None,
        quantity: None,
        strategy: None,
        interval: None,
        comment: Some("breakout".to_owned()),
        ts_event: Timestamp::EPOCH,
        metadata: BTreeMap::new(),
        original: json!({ "message": "breakout" }),
    };
    render(&signal, &json!({}))
}

/// One read tool; records every call that reaches it.
#[derive(Debug, Default)]
struct Reads {
    calls: Mutex<Vec<(String, Value)>>,
}

impl Toolbox for Reads {
    fn list(&self) -> Vec<ToolDef> {
        vec![ToolDef {
            name: "get_candles".to_owned(),
            description: "candles for tests".to_owned(),
            parameters: json!({ "type": "object" }),
        }]
    }
    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Value,
    ) -> BoxFuture<'a, Result<Value, ToolFailure>> {
        self.calls
            .lock()
            .unwrap()
            .push((name.to_owned(), arguments));
        Box::pin(async move { Ok(json!({ "tool": name, "close": "97000.5" })) })
    }
}

/// Answers each scripted body (text, content type) in turn, the last one
/// repeating, and keeps the requests' bodies.
struct Script {
    bodies: Vec<(String, &'static str)>,
    next: AtomicUsize,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Respond for Script {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        self.seen.lock().unwrap().push(body);
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        let (body, mime) = &self.bodies[i.min(self.bodies.len() - 1)];
        ResponseTemplate::new(200).set_body_raw(body.clone(), mime)
    }
}

async fn scripted(bodies: Vec<(String, &'static str)>) -> (MockServer, Arc<Mutex<Vec<Value>>>) {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("POST"))
        .respond_with(Script {
            bodies,
            next: AtomicUsize::new(0),
            seen: seen.clone(),
        })
        .mount(&server)
        .await;
    (server, seen)
}

/// A streamed provider at `server` (OpenAI's base URL ends in `/v1`).
fn provider(name: &str, kind: ProviderKind, server: &MockServer) -> ProviderConfig {
    let base = match kind {
        ProviderKind::Openai => format!("{}/v1", server.uri()),
        _ => server.uri(),
    };
    ProviderConfig {
        name: name.to_owned(),
        kind,
        base_url: base,
        model: "test-model".to_owned(),
        api_key_env: None,
        api_key: Some("sk-test".to_owned()),
        timeout_ms: 500,
        price_in_per_m: 2.5,
        price_out_per_m: 10.0,
        stream: true,
    }
}

fn chain(providers: Vec<ProviderConfig>) -> Chain {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Chain::new(reqwest::Client::new(), providers)
}

/// `text` in pieces of at most `n` characters.
fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// Server-sent events, one per `(event name, data)`; unnamed when the name is empty.
fn sse(events: &[(&str, Value)]) -> String {
    events
        .iter()
        .map(|(name, data)| match *name {
            "" => format!("data: {data}\n\n"),
            name => format!("event: {name}\ndata: {data}\n\n"),
        })
        .collect()
}

fn openai_chunk(delta: Value) -> (&'static str, Value) {
    let chunk = json!({ "id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "test-model",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": null }], "usage": null });
    ("", chunk)
}

/// An OpenAI stream of `deltas` with its usage chunk and `[DONE]`.
fn openai_stream(deltas: Vec<Value>, prompt_tokens: u64, completion_tokens: u64) -> String {
    let mut events: Vec<(&str, Value)> = deltas.into_iter().map(openai_chunk).collect();
    let usage = json!({ "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens });
    events.push((
        "",
        json!({ "object": "chat.completion.chunk", "choices": [], "usage": usage }),
    ));
    sse(&events) + "data: [DONE]\n\n"
}

fn openai_text(text: &str, prompt_tokens: u64, completion_tokens: u64) -> String {
    let mut deltas = vec![json!({ "role": "assistant", "content": "" })];
    deltas.extend(
        pieces(text, 16)
            .into_iter()
            .map(|p| json!({ "content": p })),
    );
    openai_stream(deltas, prompt_tokens, completion_tokens)
}

/// An Anthropic stream of one `tool_use` block whose input arrives in pieces.
fn anthropic_tool_use(id: &str, name: &str, input: &str, tokens: (u64, u64)) -> String {
    let message = json!({ "id": "msg_1", "type": "message", "role": "assistant", "content": [],
        "model": "test-model", "stop_reason": null, "usage": { "input_tokens": tokens.0, "output_tokens": 1 } });
    let block = json!({ "type": "tool_use", "id": id, "name": name, "input": {} });
    let mut events = vec![
        (
            "message_start",
            json!({ "type": "message_start", "message": message }),
        ),
        (
            "content_block_start",
            json!({ "type": "content_block_start", "index": 0, "content_block": block }),
        ),
        ("ping", json!({ "type": "ping" })),
    ];
    for piece in pieces(input, 20) {
        let delta = json!({ "type": "input_json_delta", "partial_json": piece });
        events.push((
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": 0, "delta": delta }),
        ));
    }
    events.push((
        "content_block_stop",
        json!({ "type": "content_block_stop", "index": 0 }),
    ));
    events.push(("message_delta", json!({ "type": "message_delta",
        "delta": { "stop_reason": "tool_use", "stop_sequence": null }, "usage": { "output_tokens": tokens.1 } })));
    events.push(("message_stop", json!({ "type": "message_stop" })));
    sse(&events)
}

/// An Ollama stream of `text` in pieces, then `done` with its counts.
fn ollama_text(text: &str, prompt_eval_count: u64, eval_count: u64) -> String {
    let piece = |content: &str| json!({ "model": "test-model", "message": { "role": "assistant", "content": content }, "done": false });
    let mut lines: Vec<Value> = pieces(text, 16).iter().map(|p| piece(p)).collect();
    lines.push(json!({ "model": "test-model", "message": { "role": "assistant", "content": "" },
        "done": true, "done_reason": "stop", "prompt_eval_count": prompt_eval_count, "eval_count": eval_count }));
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[tokio::test]
async fn an_openai_streamed_verdict_gives_its_tokens_and_cost() {
    let (server, seen) = scripted(vec![(openai_text(VERDICT, 1200, 80), SSE)]).await;
    let got = chain(vec![provider("openai", ProviderKind::Openai, &server)])
        .ask(&prompt(), btc())
        .await
        .unwrap();
    assert_eq!(got.verdict.recommendation, Recommendation::Buy);
    assert_eq!((got.input_tokens, got.output_tokens), (1200, 80));
    assert_eq!(got.cost_micro_usd, 1200 * 5 / 2 + 80 * 10);
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["stream_options"], json!({ "include_usage": true }));
    assert_eq!(sent["response_format"]["type"], "json_schema");
}

#[tokio::test]
async fn an_anthropic_streamed_submit_verdict_gives_its_tokens_and_cost() {
    let stream = anthropic_tool_use("toolu_1", "submit_verdict", VERDICT, (900, 60));
    let (server, seen) = scripted(vec![(stream, SSE)]).await;
    let got = chain(vec![provider("claude", ProviderKind::Anthropic, &server)])
        .ask(&prompt(), btc())
        .await
        .unwrap();
    assert_eq!(got.verdict.recommendation, Recommendation::Buy);
    assert_eq!((got.input_tokens, got.output_tokens), (900, 60));
    assert_eq!(got.cost_micro_usd, 900 * 5 / 2 + 60 * 10);
    let sent = seen.lock().unwrap()[0].clone();
    assert_eq!(sent["stream"], true);
    assert!(sent.get("stream_options").is_none());
}

#[tokio::test]
async fn an_ollama_streamed_verdict_gives_its_tokens_and_cost() {
    let (server, seen) = scripted(vec![(ollama_text(VERDICT, 700, 50), NDJSON)]).await;
    let got = chain(vec![provider("local", ProviderKind::Ollama, &server)])
        .ask(&prompt(), btc())
        .await
        .unwrap();
    assert_eq!((got.input_tokens, got.output_tokens), (700, 50));
    assert_eq!(got.cost_micro_usd, 700 * 5 / 2 + 50 * 10);
    assert_eq!(seen.lock().unwrap()[0]["stream"], true);
}

#[tokio::test]
async fn an_openai_streamed_tool_call_then_a_streamed_verdict() {
    let call = |piece: Value| json!({ "tool_calls": [piece] });
    let deltas = vec![
        call(
            json!({ "index": 0, "id": "call_1", "type": "function", "function": { "name": "get_candles", "arguments": "" } }),
        ),
        call(json!({ "index": 0, "function": { "arguments": "{\"instrument\":" } })),
        call(json!({ "index": 0, "function": { "arguments": "\"BTC-USDT\",\"count\":5}" } })),
    ];
    let (server, seen) = scripted(vec![
        (openai_stream(deltas, 100, 10), SSE),
        (openai_text(VERDICT, 300, 40), SSE),
    ])
    .await;
    let reads = Reads::default();
    let tools = Tools {
        toolbox: &reads,
        max_calls: 2,
    };
    let got = chain(vec![provider("openai", ProviderKind::Openai, &server)])
        .ask_with(&prompt(), btc(), Some(tools))
        .await
        .unwrap();
    assert_eq!((got.input_tokens, got.output_tokens), (400, 50));
    let ran = reads.calls.lock().unwrap().clone();
    let arguments = json!({ "instrument": "BTC-USDT", "count": 5 });
    assert_eq!(ran, vec![("get_candles".to_owned(), arguments)]);
    // The assembled call went back in the history, answered by its tool message.
    let sent = seen.lock().unwrap().clone();
    let messages = sent[1]["messages"].as_array().unwrap();
    let call = &messages[2]["tool_calls"][0];
    assert_eq!(
        (call["id"].as_str(), messages[3]["tool_call_id"].as_str()),
        (Some("call_1"), Some("call_1"))
    );
    assert_eq!(
        call["function"]["arguments"],
        "{\"instrument\":\"BTC-USDT\",\"count\":5}"
    );
}

#[tokio::test]
async fn an_anthropic_streamed_tool_use_then_a_streamed_verdict() {
    let (server, seen) = scripted(vec![
        (
            anthropic_tool_use("toolu_1", "get_candles", r#"{"count": 5}"#, (50, 5)),
            SSE,
        ),
        (
            anthropic_tool_use("toolu_2", "submit_verdict", VERDICT, (70, 20)),
            SSE,
        ),
    ])
    .await;
    let reads = Reads::default();
    let tools = Tools {
        toolbox: &reads,
        max_calls: 2,
    };
    let got = chain(vec![provider("claude", ProviderKind::Anthropic, &server)])
        .ask_with(&prompt(), btc(), Some(tools))
        .await
        .unwrap();
    assert_eq!(got.verdict.recommendation, Recommendation::Buy);
    assert_eq!((got.input_tokens, got.output_tokens), (120, 25));
    assert_eq!(reads.calls.lock().unwrap()[0].1, json!({ "count": 5 }));
    let sent = seen.lock().unwrap().clone();
    let messages = sent[1]["messages"].as_array().unwrap();
    assert_eq!(
        messages[1]["content"],
        json!([{ "type": "tool_use", "id": "toolu_1", "name": "get_candles", "input": { "count": 5 } }])
    );
    assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_1");
}

#[tokio::test]
async fn an_ollama_streamed_tool_call_then_a_streamed_verdict() {
    let calls = json!([{ "function": { "name": "get_candles", "arguments": { "count": 5 } } }]);
    let first = [
        json!({ "model": "test-model", "message": { "role": "assistant", "content": "", "tool_calls": calls }, "done": false }),
        json!({ "model": "test-model", "message": { "role": "assistant", "content": "" }, "done": true,
            "prompt_eval_count": 10, "eval_count": 3 }),
    ];
    let first: String = first.iter().map(|l| format!("{l}\n")).collect();
    let (server, seen) = scripted(vec![
        (first, NDJSON),
        (ollama_text(VERDICT, 40, 12), NDJSON),
    ])
    .await;
    let reads = Reads::default();
    let tools = Tools {
        toolbox: &reads,
        max_calls: 2,
    };
    let got = chain(vec![provider("local", ProviderKind::Ollama, &server)])
        .ask_with(&prompt(), btc(), Some(tools))
        .await
        .unwrap();
    assert_eq!((got.input_tokens, got.output_tokens), (50, 15));
    assert_eq!(reads.calls.lock().unwrap().len(), 1);
    let sent = seen.lock().unwrap().clone();
    let messages = sent[1]["messages"].as_array().unwrap();
    assert_eq!(messages[2]["tool_calls"], calls);
    assert_eq!(messages[3]["tool_name"], "get_candles");
}

#[tokio::test]
async fn a_stream_cut_off_not_json_too_big_or_too_slow_falls_back_to_the_next_provider() {
    let whole = openai_text(VERDICT, 10, 5);
    let cut = whole[..whole.len() / 2].to_owned();
    let not_json = "data: {\"choices\": oops}\n\ndata: [DONE]\n\n".to_owned();
    let too_big = format!(": {}\n\n", "x".repeat(1 << 20)) + &whole;
    let anthropic = anthropic_tool_use("t", "submit_verdict", VERDICT, (1, 1));
    let anthropic_cut = anthropic[..anthropic.find("event: message_stop").unwrap()].to_owned();
    let ollama = ollama_text(VERDICT, 1, 1);
    let ollama_cut: String = ollama
        .lines()
        .filter(|l| !l.contains("\"done\":true"))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut servers = Vec::new();
    for body in [
        (cut, SSE),
        (not_json, SSE),
        (too_big, SSE),
        (anthropic_cut, SSE),
        (ollama_cut, NDJSON),
    ] {
        servers.push(scripted(vec![body]).await.0);
    }
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(whole.clone(), SSE)
                .set_delay(Duration::from_millis(2_000)),
        )
        .mount(&slow)
        .await;
    let (good, _) = scripted(vec![(ollama_text(VERDICT, 7, 3), NDJSON)]).await;
    let kinds = [
        ProviderKind::Openai,
        ProviderKind::Openai,
        ProviderKind::Openai,
        ProviderKind::Anthropic,
        ProviderKind::Ollama,
    ];
    let mut providers: Vec<ProviderConfig> = servers
        .iter()
        .zip(kinds)
        .enumerate()
        .map(|(i, (server, kind))| provider(&format!("p{i}"), kind, server))
        .collect();
    providers.push(provider("slow", ProviderKind::Openai, &slow));
    providers.push(provider("good", ProviderKind::Ollama, &good));
    let got = chain(providers).ask(&prompt(), btc()).await.unwrap();
    assert_eq!((got.provider.as_str(), got.input_tokens), ("good", 7));
    let reasons: Vec<String> = got
        .attempts
        .iter()
        .map(|a| match &a.outcome {
            Outcome::Failed(why) => why.clone(),
            other => format!("{other:?}"),
        })
        .collect();
    let want = [
        "malformed answer: the stream ended before data: [DONE]",
        "malformed answer: the data of event 1 is not JSON",
        "malformed answer: the stream exceeds 1 MiB",
        "malformed answer: the stream ended before message_stop",
        "malformed answer: the stream ended before done: true",
        "no answer within 500 ms",
        "Answered",
    ];
    assert_eq!(reasons.len(), want.len(), "{reasons:?}");
    for (reason, want) in reasons.iter().zip(want) {
        assert!(reason.starts_with(want), "{reason} is not {want}");
    }
}

#[tokio::test]
async fn an_overloaded_anthropic_stream_falls_back_like_a_server_error() {
    let message = json!({ "id": "msg_1", "type": "message", "role": "assistant", "content": [],
        "model": "test-model", "usage": { "input_tokens": 5, "output_tokens": 1 } });
    let error = json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } });
    let stream = sse(&[
        (
            "message_start",
            json!({ "type": "message_start", "message": message }),
        ),
        ("error", error),
    ]);
    let (overloaded, _) = scripted(vec![(stream, SSE)]).await;
    let (good, _) = scripted(vec![(openai_text(VERDICT, 30, 4), SSE)]).await;
    let got = chain(vec![
        provider("claude", ProviderKind::Anthropic, &overloaded),
        provider("openai", ProviderKind::Openai, &good),
    ])
    .ask(&prompt(), btc())
    .await
    .unwrap();
    assert_eq!(got.provider, "openai");
    assert_eq!(
        got.attempts[0].outcome,
        Outcome::Failed("server error 529".to_owned())
    );
}

#[tokio::test]
async fn a_server_that_ignores_stream_and_answers_json_is_still_read() {
    let body = json!({ "id": "chatcmpl-1", "object": "chat.completion",
        "choices": [{ "index": 0, "finish_reason": "stop", "message": { "role": "assistant", "content": VERDICT } }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 3 } });
    let (server, _) = scripted(vec![(body.to_string(), "application/json")]).await;
    let got = chain(vec![provider("compat", ProviderKind::Openai, &server)])
        .ask(&prompt(), btc())
        .await
        .unwrap();
    assert_eq!((got.input_tokens, got.output_tokens), (12, 3));
}
