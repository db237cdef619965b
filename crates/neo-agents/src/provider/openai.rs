//! OpenAI Chat Completions (and compatible servers): structured output with
//! the verdict's JSON Schema (`response_format: json_schema`, strict), and
//! function tools the model may call first (`tool_calls`, answered by `tool`
//! messages). When the calls are spent, `tool_choice: none` asks for the verdict.

use serde_json::{Value, json};

use super::{Exchange, ProviderError, Reply, chat_reply, function_tools, tokens};
use crate::tools::ToolCall;

pub(super) fn endpoint(
    client: &reqwest::Client,
    base: &str,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = client.post(format!("{base}/chat/completions"));
    match key {
        Some(key) => request.bearer_auth(key),
        None => request,
    }
}

pub(super) fn request(model: &str, ex: &Exchange<'_>) -> Value {
    let mut messages = vec![
        json!({ "role": "system", "content": ex.prompt.system }),
        json!({ "role": "user", "content": ex.prompt.user }),
    ];
    messages.extend(ex.history.iter().cloned());
    let mut body = json!({
        "model": model,
        "temperature": 0,
        "messages": messages,
        "response_format": {
            "type": "json_schema",
            "json_schema": { "name": "llm_verdict", "strict": true, "schema": ex.schema }
        }
    });
    if !ex.tools.is_empty() {
        body["tools"] = json!(function_tools(ex.tools));
        body["tool_choice"] = json!(if ex.final_only { "none" } else { "auto" });
    }
    body
}

pub(super) fn reply(body: &Value) -> Result<Reply, ProviderError> {
    let message = &body["choices"][0]["message"];
    if let Some(refusal) = message["refusal"].as_str() {
        return Err(ProviderError::Malformed(format!(
            "the model refused: {refusal}"
        )));
    }
    let usage = (
        tokens(body, &["usage", "prompt_tokens"]),
        tokens(body, &["usage", "completion_tokens"]),
    );
    chat_reply(message, usage, "choices[0].message.content")
}

pub(super) fn tool_results(results: &[(ToolCall, String)]) -> Vec<Value> {
    results
        .iter()
        .map(|(call, text)| json!({ "role": "tool", "tool_call_id": call.id, "content": text }))
        .collect()
}
