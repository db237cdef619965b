//! The LLM agent end to end, against local servers speaking OpenAI's Chat
//! Completions format: an alert is offered to the LLM, its verdict combined
//! with the rule analyst's under `llm_must_agree`, and the order placed through
//! risk as ever, with the story showing both agents; provider 1 down means
//! provider 2 answers; both down, a spent budget or a missed deadline leave
//! the rule analyst deciding with the reason shown, never later than the
//! deadline; the spend survives a restart.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Rig, decided, entry_that_trades, restart, rig};
use neo_agents::config::AgentKind;
use neo_agents::provider::{ProviderConfig, ProviderKind};
use neo_engine::analyst::policy::Policy;
use neo_pipeline::Config;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers like a model that agrees with the alert's side (a close is a close);
/// with `look_first`, it first asks for the candles and the portfolio.
struct AgreeingModel {
    delay: Duration,
    look_first: bool,
}

impl Respond for AgreeingModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        if self.look_first && !messages.iter().any(|m| m["role"] == "tool") {
            return ResponseTemplate::new(200).set_body_json(json!({
                "choices": [{ "index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null, "tool_calls": [
                        { "id": "c1", "type": "function", "function": { "name": "get_candles",
                            "arguments": "{\"instrument\":\"BTC-USDT\",\"interval\":\"5m\",\"count\":12}" } },
                        { "id": "c2", "type": "function", "function": { "name": "get_portfolio", "arguments": "{}" } }
                    ] } }],
                "usage": { "prompt_tokens": 500, "completion_tokens": 20 }
            }));
        }
        let user = body["messages"][1]["content"].as_str().unwrap_or("");
        let data = user.lines().nth(1).unwrap_or("{}");
        let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        let recommendation = match data["signal"]["side"].as_str() {
            Some("buy") => "buy",
            Some("sell") => "sell",
            _ => "close",
        };
        let verdict = json!({
            "recommendation": recommendation, "confidence": 0.8,
            "rationale": "The mock model agrees with the alert.",
            "instrument": data["signal"]["instrument"], "stop_loss": null, "take_profit": null
        });
        ResponseTemplate::new(200)
            .set_delay(self.delay)
            .set_body_json(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "mock",
                "choices": [{ "index": 0, "finish_reason": "stop",
                    "message": { "role": "assistant", "content": verdict.to_string() } }],
                "usage": { "prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100 }
            }))
    }
}

async fn model(delay: Duration) -> MockServer {
    looking_model(delay, false).await
}

async fn looking_model(delay: Duration, look_first: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(AgreeingModel { delay, look_first })
        .mount(&server)
        .await;
    server
}

async fn failing(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status).set_body_string("down"))
        .mount(&server)
        .await;
    server
}

fn provider(name: &str, server: &MockServer) -> ProviderConfig {
    serde_json::from_value(json!({
        "name": name, "kind": "openai", "base_url": format!("{}/v1", server.uri()),
        "model": "mock-1", "timeout_ms": 5000,
        // $1 per million in, $2 per million out: 1,000 + 100 tokens cost $0.0012.
        "price_in_per_m": 1.0, "price_out_per_m": 2.0
    }))
    .unwrap()
}

fn with_llm(c: &mut Config, providers: Vec<ProviderConfig>) {
    assert!(providers.iter().all(|p| p.kind == ProviderKind::Openai));
    c.agents.enabled = vec![AgentKind::Rule, AgentKind::Llm];
    c.agents.policy = Policy::LlmMustAgree;
    c.agents.llm.providers = providers;
    c.agents.deadline_ms = 3_000;
}

/// The story's LLM consultation.
fn llm(story: &Value) -> Value {
    story["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["agent"] == "llm"))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn decided_story(rig: &Rig, body: &Value) -> Value {
    let (status, answer) = rig.post(body).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["signal_id"].as_str().unwrap().to_owned();
    rig.story_until(&id, decided).await
}

async fn an_agreeing_llm_joins_the_decision_and_the_order_is_bracketed_and_told(url: &str) {
    let primary = looking_model(Duration::ZERO, true).await;
    let rig = Box::pin(rig(url, |c| {
        with_llm(c, vec![provider("primary", &primary)])
    }))
    .await;
    let (id, _) = entry_that_trades(&rig).await;
    let story = rig
        .story_until(&id, |s| {
            s["status"] == "filled" && s["notifications"].as_array().is_some_and(|n| n.len() >= 2)
        })
        .await;
    let decision = &story["decisions"][0];
    assert!(
        decision["rationale"]
            .as_str()
            .unwrap()
            .contains("The LLM agrees"),
        "{decision}"
    );
    let consultation = llm(&story);
    assert_eq!(consultation["provider"], "primary", "{story}");
    assert_eq!(consultation["prompt_version"], "analyst-v2");
    assert_eq!(consultation["policy"], "llm_must_agree");
    // Two turns: the tool calls (500 + 20 tokens), then the verdict (1,000 + 100).
    assert_eq!(
        (
            consultation["input_tokens"].as_u64(),
            consultation["output_tokens"].as_u64()
        ),
        (Some(1500), Some(120))
    );
    assert_eq!(consultation["cost_micro_usd"], 1740);
    // It looked at the candles and the portfolio through NEO's tools first.
    let calls: Vec<(&str, bool)> = consultation["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [("get_candles", true), ("get_portfolio", true)],
        "{consultation}"
    );
    assert_eq!(consultation["answer"]["output"]["agent"], "llm");
    let rule = story["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent"] == "rule")
        .unwrap();
    assert_eq!(rule["recommendation"], decision["recommendation"]);
    // Risk, sizing and brackets as ever: the entry is bracketed, and Slack was told.
    let intent = &story["intents"][0];
    assert!(
        intent["stop_loss"].is_string() && intent["take_profit"].is_string(),
        "{intent}"
    );
    assert!(
        !rig.slack
            .wait_for(1, Duration::from_secs(5))
            .await
            .is_empty()
    );
    // The model saw the signal as quoted data and NEO's market figures, then the tools' answers.
    let asked = primary.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&asked[0].body).unwrap();
    let second: Value = serde_json::from_slice(&asked[1].body).unwrap();
    let candles = second["messages"][3]["content"].as_str().unwrap();
    let candles: Value = serde_json::from_str(candles).unwrap();
    assert_eq!(
        candles["candles"].as_array().unwrap().len(),
        12,
        "{candles}"
    );
    assert_eq!(body["response_format"]["type"], "json_schema");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.starts_with("BEGIN DATA\n") && user.contains("\"indicators\""),
        "{user}"
    );
    let metrics = rig_metrics(&rig).await;
    assert!(
        metrics.contains("neo_agent_outcomes_total{agent=\"llm\",outcome=\"answered\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("neo_llm_tokens_total{provider=\"primary\",kind=\"input\"}"));
    rig.stop().await;
}

async fn rig_metrics(rig: &Rig) -> String {
    rig.http
        .get(format!("{}/metrics", rig.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn provider_one_down_means_provider_two_answers(url: &str) {
    let down = failing(500).await;
    let backup = model(Duration::ZERO).await;
    let rig = Box::pin(rig(url, |c| {
        with_llm(
            c,
            vec![provider("primary", &down), provider("backup", &backup)],
        );
    }))
    .await;
    let story = decided_story(&rig, &common::alert("fallback-1", "buy")).await;
    let consultation = llm(&story);
    assert_eq!(consultation["provider"], "backup", "{story}");
    let attempts = consultation["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["provider"], "primary");
    assert_eq!(attempts[0]["outcome"], "failed");
    assert!(attempts[0]["detail"].as_str().unwrap().contains("500"));
    assert_eq!(attempts[1]["outcome"], "answered");
    rig.stop().await;
}

async fn both_down_leaves_the_rule_analyst_deciding_with_the_reason(url: &str) {
    let (a, b) = (failing(503).await, failing(429).await);
    let rig = Box::pin(rig(url, |c| {
        with_llm(c, vec![provider("a", &a), provider("b", &b)])
    }))
    .await;
    let story = decided_story(&rig, &common::alert("both-down", "buy")).await;
    let consultation = llm(&story);
    assert_eq!(
        consultation["answer"]["missing"]["reason"], "failed",
        "{story}"
    );
    let rationale = story["decisions"][0]["rationale"].as_str().unwrap();
    assert!(
        rationale.contains("The LLM failed")
            && rationale.contains("the rule analyst decides alone"),
        "{rationale}"
    );
    rig.stop().await;
}

async fn a_missed_deadline_does_not_delay_the_decision(url: &str) {
    let slow = model(Duration::from_secs(5)).await;
    let rig = Box::pin(rig(url, |c| {
        with_llm(c, vec![provider("slow", &slow)]);
        c.agents.deadline_ms = 300;
    }))
    .await;
    let started = tokio::time::Instant::now();
    let story = decided_story(&rig, &common::alert("late-1", "buy")).await;
    let waited = started.elapsed();
    let consultation = llm(&story);
    assert_eq!(
        consultation["answer"]["missing"]["reason"], "late",
        "{story}"
    );
    assert!(
        consultation["latency_ms"].as_u64().unwrap() < 1_000,
        "{consultation}"
    );
    assert!(
        waited < Duration::from_secs(4),
        "decided after {waited:?}: the 5 s model was waited for"
    );
    assert!(
        story["decisions"][0]["rationale"]
            .as_str()
            .unwrap()
            .contains("deadline")
    );
    rig.stop().await;
}

async fn a_spent_budget_skips_the_llm_and_the_spend_survives_a_restart(url: &str) {
    let primary = model(Duration::ZERO).await;
    let tune = |c: &mut Config| {
        with_llm(c, vec![provider("primary", &primary)]);
        // One answer costs $0.0012: the first spends the day's $0.001.
        c.agents.budget.daily_usd = Some(0.001);
    };
    let rig = Box::pin(rig(url, tune)).await;
    let first = decided_story(&rig, &common::alert("budget-1", "buy")).await;
    assert_eq!(llm(&first)["provider"], "primary", "{first}");
    let second = decided_story(&rig, &common::alert("budget-2", "sell")).await;
    assert_eq!(
        llm(&second)["answer"]["missing"]["reason"],
        "budget_exhausted",
        "{second}"
    );
    assert!(
        second["decisions"][0]["rationale"]
            .as_str()
            .unwrap()
            .contains("LLM budget is exhausted")
    );
    // Slack and Telegram were told once that the day's cap was reached.
    let told = |rig: &Rig| {
        rig.slack
            .requests()
            .iter()
            .filter(|r| {
                r.body
                    .to_string()
                    .contains("LLM budget for the day reached")
            })
            .count()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while told(&rig) == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        told(&rig),
        1,
        "one notice for the day, however many signals"
    );
    let metrics = rig_metrics(&rig).await;
    assert!(
        metrics.contains("neo_llm_budget_remaining_usd{period=\"day\"} 0"),
        "{metrics}"
    );
    let config = rig.config.clone();
    let dir = rig.stop_keeping_data().await;
    let rig = Box::pin(restart(dir, config)).await;
    let third = decided_story(&rig, &common::alert("budget-3", "buy")).await;
    assert_eq!(
        llm(&third)["answer"]["missing"]["reason"],
        "budget_exhausted",
        "the spend was restored: {third}"
    );
    assert_eq!(primary.received_requests().await.unwrap().len(), 1);
    rig.stop().await;
}

/// The data block of the `n`th request the model received.
async fn prompt_data(server: &MockServer, n: usize) -> Value {
    let asked = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&asked[n].body).unwrap();
    let user = body["messages"][1]["content"].as_str().unwrap().to_owned();
    serde_json::from_str(user.lines().nth(1).unwrap()).unwrap()
}

async fn the_llm_remembers_its_calls_and_how_they_turned_out_across_a_restart(url: &str) {
    let primary = model(Duration::ZERO).await;
    let tune = |c: &mut Config| with_llm(c, vec![provider("primary", &primary)]);
    let rig = Box::pin(rig(url, tune)).await;
    let (entry, _) = entry_that_trades(&rig).await;
    let exit = decided_story(&rig, &common::alert("memory-exit", "close")).await;
    assert_eq!(exit["decisions"][0]["recommendation"], "close", "{exit}");
    // An exit is the rule analyst's alone: the LLM was not asked.
    assert_eq!(
        llm(&exit)["answer"]["missing"]["reason"],
        "not_asked",
        "{exit}"
    );
    rig.story_until(exit["signal"]["id"].as_str().unwrap(), |s| {
        s["status"] == "filled"
    })
    .await;
    let config = rig.config.clone();
    let dir = rig.stop_keeping_data().await;
    let rig = Box::pin(restart(dir, config)).await;
    let asked_before = primary.received_requests().await.unwrap().len();
    decided_story(&rig, &common::alert("memory-next", "buy")).await;
    let data = prompt_data(&primary, asked_before).await;
    let calls = data["market"]["your_recent_calls"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let entry_call = calls
        .iter()
        .find(|c| c["signal_id"] == entry.as_str())
        .unwrap_or_else(|| panic!("the entry's call was not remembered: {data}"));
    assert!(
        entry_call["turnout"]["won"].is_boolean(),
        "settled: {entry_call}"
    );
    assert!(entry_call["side"].is_string(), "{entry_call}");
    rig.stop().await;
}

neo_testkit::on_both_stores!(
    the_llm_remembers_its_calls_and_how_they_turned_out_across_a_restart,
    an_agreeing_llm_joins_the_decision_and_the_order_is_bracketed_and_told,
    provider_one_down_means_provider_two_answers,
    both_down_leaves_the_rule_analyst_deciding_with_the_reason,
    a_missed_deadline_does_not_delay_the_decision,
    a_spent_budget_skips_the_llm_and_the_spend_survives_a_restart,
);
