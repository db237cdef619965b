//! LLM providers: each kind's documented request and answer shapes (pure, so
//! they are tested without a network) and one HTTP call with a timeout whose
//! failures are typed for the fallback chain. A provider configured with
//! `stream = true` is asked for its API's stream, which is read whole (within
//! the timeout and 1 MiB) into the body the unstreamed answer would have had.

mod anthropic;
mod check;
mod ollama;
mod openai;
mod stream;

pub use check::{ProviderCheckError, check_provider};

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::prompt::Prompt;
use crate::tools::{ToolCall, ToolDef};

/// Which API a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// OpenAI Chat Completions, and any OpenAI-compatible server (vLLM,
    /// llama.cpp server, LM Studio) by base URL.
    Openai,
    /// Anthropic Messages.
    Anthropic,
    /// Ollama's native `/api/chat`.
    Ollama,
}

/// `[[agents.llm.providers]]`: one provider of the fallback chain.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Its name in logs, stories and metrics.
    pub name: String,
    /// Its API.
    pub kind: ProviderKind,
    /// `https://api.openai.com/v1`, `https://api.anthropic.com`, `http://127.0.0.1:11434`.
    pub base_url: String,
    /// The model.
    pub model: String,
    /// The environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The API key itself (prefer `api_key_env`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// How long one call may take.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// USD per million input tokens.
    #[serde(default)]
    pub price_in_per_m: f64,
    /// USD per million output tokens.
    #[serde(default)]
    pub price_out_per_m: f64,
    /// Ask for a streamed answer (SSE for OpenAI and Anthropic, NDJSON for Ollama).
    #[serde(default)]
    pub stream: bool,
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl ProviderConfig {
    /// Every problem with this entry at once.
    pub fn problems(&self) -> Vec<String> {
        let at = format!("agents.llm.providers[{}]", self.name);
        let mut p = Vec::new();
        let token = !self.name.is_empty()
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !token {
            p.push(format!("{at}: name must be letters, digits, - or _"));
        }
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            p.push(format!(
                "{at}: base_url must start with http:// or https://"
            ));
        }
        if self.model.trim().is_empty() {
            p.push(format!("{at}: model is required"));
        }
        if !(100..=120_000).contains(&self.timeout_ms) {
            p.push(format!("{at}: timeout_ms must be 100 to 120000"));
        }
        for (name, price) in [
            ("price_in_per_m", self.price_in_per_m),
            ("price_out_per_m", self.price_out_per_m),
        ] {
            if !(price.is_finite() && price >= 0.0) {
                p.push(format!("{at}: {name} must be a price in USD, 0 or more"));
            }
        }
        if self.kind == ProviderKind::Anthropic
            && self.api_key.is_none()
            && self.api_key_env.is_none()
        {
            p.push(format!("{at}: anthropic needs api_key_env (or api_key)"));
        }
        p
    }

    /// The key: `api_key`, else the variable `api_key_env` names.
    pub fn key(&self) -> Option<String> {
        self.api_key.clone().or_else(|| {
            self.api_key_env
                .as_deref()
                .and_then(|name| std::env::var(name).ok())
        })
    }

    /// What an answer of these token counts cost, in micro-dollars (exact, rounded up).
    pub fn cost_micro_usd(&self, input_tokens: u64, output_tokens: u64) -> u64 {
        crate::budget::micro_usd(input_tokens, self.price_in_per_m).saturating_add(
            crate::budget::micro_usd(output_tokens, self.price_out_per_m),
        )
    }
}

/// A model's answer: its text (the verdict's JSON) and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The text the verdict is read from.
    pub text: String,
    /// Input (prompt) tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
}

/// Why a call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 429: come back later (after `Retry-After` when it said).
    #[error("rate limited (429){}", .retry_after.map(|d| format!(", retry after {} s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// What `Retry-After` asked.
        retry_after: Option<Duration>,
    },
    /// A 5xx: the provider is failing.
    #[error("server error {0}")]
    Server(u16),
    /// Another 4xx: the request or the key is wrong (retrying will not help).
    #[error("refused {status}: {message}")]
    Refused {
        /// The status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// No answer within the timeout.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The provider could not be reached.
    #[error("unreachable: {0}")]
    Unreachable(#[source] reqwest::Error),
    /// The answer is not the documented shape (or the model refused).
    #[error("malformed answer: {0}")]
    Malformed(String),
}

/// One request of a conversation: the prompt, the verdict's schema, the tools
/// offered, what was said since (provider-native messages) and whether the
/// model must give its verdict now (its tool calls are spent).
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// The instructions and the data.
    pub prompt: &'a Prompt,
    /// The verdict's JSON Schema.
    pub schema: &'a Value,
    /// The tools the model may call.
    pub tools: &'a [ToolDef],
    /// The assistant's tool calls and their results so far, in the provider's shape.
    pub history: &'a [Value],
    /// No more tool calls: the verdict is due.
    pub final_only: bool,
}

impl<'a> Exchange<'a> {
    /// A first request without tools.
    pub fn plain(prompt: &'a Prompt, schema: &'a Value) -> Self {
        Exchange {
            prompt,
            schema,
            tools: &[],
            history: &[],
            final_only: false,
        }
    }
}

/// What a model answered: its verdict's text, or tool calls to run first.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The verdict's text.
    Verdict(Answer),
    /// Tools to call; `assistant` is the model's message to keep in the history.
    Calls {
        /// The model's message, as the provider wants it back.
        assistant: Value,
        /// The calls, in order.
        calls: Vec<ToolCall>,
        /// Input tokens of this turn.
        input_tokens: u64,
        /// Output tokens of this turn.
        output_tokens: u64,
    },
}

/// The request body for `kind`.
pub fn request(kind: ProviderKind, model: &str, exchange: &Exchange<'_>) -> Value {
    match kind {
        ProviderKind::Openai => openai::request(model, exchange),
        ProviderKind::Anthropic => anthropic::request(model, exchange),
        ProviderKind::Ollama => ollama::request(model, exchange),
    }
}

/// The reply in a successful response body of `kind`.
pub fn reply(kind: ProviderKind, body: &Value) -> Result<Reply, ProviderError> {
    match kind {
        ProviderKind::Openai => openai::reply(body),
        ProviderKind::Anthropic => anthropic::reply(body),
        ProviderKind::Ollama => ollama::reply(body),
    }
}

/// The messages that hand the tools' results back, for `kind`.
pub fn tool_results(kind: ProviderKind, results: &[(ToolCall, String)]) -> Vec<Value> {
    match kind {
        ProviderKind::Openai => openai::tool_results(results),
        ProviderKind::Anthropic => anthropic::tool_results(results),
        ProviderKind::Ollama => ollama::tool_results(results),
    }
}

/// Asks one provider once.
pub async fn call(
    client: &reqwest::Client,
    config: &ProviderConfig,
    exchange: &Exchange<'_>,
) -> Result<Reply, ProviderError> {
    let base = config.base_url.trim_end_matches('/');
    let key = config.key();
    let mut body = request(config.kind, &config.model, exchange);
    if config.stream {
        stream::ask_for_stream(config.kind, &mut body);
    }
    let request = match config.kind {
        ProviderKind::Openai => openai::endpoint(client, base, key.as_deref()),
        ProviderKind::Anthropic => anthropic::endpoint(client, base, key.as_deref()),
        ProviderKind::Ollama => ollama::endpoint(client, base),
    };
    let sent = request
        .timeout(Duration::from_millis(config.timeout_ms))
        .json(&body)
        .send()
        .await;
    let response = sent.map_err(|e| classify(e, config.timeout_ms))?;
    answer(config, response).await
}

/// The reply in a provider's `response`, or why there is none.
async fn answer(
    config: &ProviderConfig,
    response: reqwest::Response,
) -> Result<Reply, ProviderError> {
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(ProviderError::RateLimited {
            retry_after: retry_after(response.headers()),
        });
    }
    // A server that ignores `stream` answers one JSON body: it is read as such.
    let streamed = config.stream && !is_json(response.headers());
    let read = if config.stream {
        read_capped(response, config.timeout_ms).await
    } else {
        let bytes = response.bytes().await;
        bytes
            .map(Vec::from)
            .map_err(|e| classify(e, config.timeout_ms))
    };
    if status.is_server_error() {
        return Err(ProviderError::Server(status.as_u16()));
    }
    let bytes = read?;
    if !status.is_success() {
        let message = String::from_utf8_lossy(&bytes).chars().take(300).collect();
        return Err(ProviderError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    let body: Value = if streamed {
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| ProviderError::Malformed(format!("the stream is not UTF-8: {e}")))?;
        stream::body(config.kind, text)?
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::Malformed(format!("the body is not JSON: {e}")))?
    };
    reply(config.kind, &body)
}

/// Whether the response says its body is one JSON document.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"))
}

/// A streamed body, read piece by piece and refused past [`stream::MAX_BYTES`].
async fn read_capped(
    mut response: reqwest::Response,
    timeout_ms: u64,
) -> Result<Vec<u8>, ProviderError> {
    let mut bytes = Vec::new();
    loop {
        let piece = response.chunk().await.map_err(|e| {
            if e.is_timeout() {
                ProviderError::Timeout(timeout_ms)
            } else {
                ProviderError::Malformed(format!("the stream broke off: {e}"))
            }
        })?;
        let Some(piece) = piece else {
            return Ok(bytes);
        };
        if bytes.len().saturating_add(piece.len()) > stream::MAX_BYTES {
            return Err(stream::too_big());
        }
        bytes.extend_from_slice(&piece);
    }
}

/// A chat message (OpenAI, Ollama) as a reply: its function `tool_calls`, or
/// its content as the verdict's text (`missing` names where the content should be).
fn chat_reply(
    message: &Value,
    (input_tokens, output_tokens): (u64, u64),
    missing: &str,
) -> Result<Reply, ProviderError> {
    if let Some(calls) = message["tool_calls"].as_array().filter(|c| !c.is_empty()) {
        let calls = calls
            .iter()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: c["id"]
                    .as_str()
                    .map_or_else(|| format!("call_{i}"), str::to_owned),
                name: c["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                arguments: arguments(&c["function"]["arguments"]),
            })
            .collect();
        let mut assistant = message.clone();
        assistant["role"] = serde_json::json!("assistant");
        return Ok(Reply::Calls {
            assistant,
            calls,
            input_tokens,
            output_tokens,
        });
    }
    let text = message["content"]
        .as_str()
        .ok_or_else(|| ProviderError::Malformed(format!("no {missing}")))?;
    Ok(Reply::Verdict(Answer {
        text: text.to_owned(),
        input_tokens,
        output_tokens,
    }))
}

/// Tools as OpenAI and Ollama declare them (`{"type": "function", "function": {...}}`).
fn function_tools(tools: &[ToolDef]) -> Vec<Value> {
    tools
        .iter()
        .map(|t| serde_json::json!({ "type": "function", "function": { "name": t.name, "description": t.description, "parameters": t.parameters } }))
        .collect()
}

/// Arguments given as a JSON text (OpenAI, tolerated elsewhere) or an object.
fn arguments(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(format!("arguments are not a JSON object: {text}")),
            Err(e) => Err(format!("arguments are not JSON ({e}): {text}")),
        },
        Value::Object(_) => Ok(value.clone()),
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        other => Err(format!("arguments are not a JSON object: {other}")),
    }
}

fn classify(e: reqwest::Error, timeout_ms: u64) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout(timeout_ms)
    } else {
        ProviderError::Unreachable(e)
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by these APIs).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3_600.0)))
}

/// A non-negative token count at `path`, 0 when absent.
fn tokens(body: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(body, |v, key| v.get(*key))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("choices".to_owned()),
                        Just("message".to_owned()),
                        Just("content".to_owned()),
                        Just("type".to_owned()),
                        Just("name".to_owned()),
                        Just("input".to_owned()),
                        Just("usage".to_owned()),
                        Just("tool_calls".to_owned()),
                        Just("function".to_owned()),
                        Just("arguments".to_owned()),
                        "[a-z_]{1,8}",
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any body at all: an answer or a typed error, never a panic.
        #[test]
        fn reading_an_answer_never_panics(body in any_json()) {
            for kind in [ProviderKind::Openai, ProviderKind::Anthropic, ProviderKind::Ollama] {
                let _ = reply(kind, &body);
            }
        }
    }

    #[test]
    fn a_provider_entry_lists_every_problem() {
        let bad: ProviderConfig = serde_json::from_value(json!({
            "name": "bad name", "kind": "anthropic", "base_url": "ftp://x", "model": " ",
            "timeout_ms": 5, "price_in_per_m": -1.0
        }))
        .unwrap_or_else(|_| unreachable!());
        assert_eq!(bad.problems().len(), 6, "{:?}", bad.problems());
        let unknown = serde_json::from_value::<ProviderConfig>(json!({
            "name": "x", "kind": "openai", "base_url": "http://h", "model": "m", "temprature": 1
        }));
        assert!(unknown.is_err(), "unknown fields are refused");
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_the_rest() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(
            reqwest::header::RETRY_AFTER,
            "12".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(12)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(retry_after(&h), None);
        assert_eq!(
            tokens(
                &json!({"usage": {"prompt_tokens": 5}}),
                &["usage", "prompt_tokens"]
            ),
            5
        );
        assert_eq!(
            tokens(
                &json!({"usage": {"prompt_tokens": -5}}),
                &["usage", "prompt_tokens"]
            ),
            0
        );
    }
}
