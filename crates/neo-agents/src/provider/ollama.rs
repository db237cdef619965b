//! Ollama's native chat API: `format` carries the verdict's JSON Schema
//! (structured outputs), `stream: false` for one answer (or NDJSON pieces when
//! the provider streams), and function `tools`
//! the model may call first (answered by `tool` messages).

use serde_json::{Value, json};

use super::{Exchange, ProviderError, Reply, chat_reply, function_tools, tokens};
use crate::tools::ToolCall;

pub(super) fn endpoint(client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
    client.post(format!("{base}/api/chat"))
}

pub(super) fn request(model: &str, ex: &Exchange<'_>) -> Value {
    let mut messages = vec![
        json!({ "role": "system", "content": ex.prompt.system }),
        json!({ "role": "user", "content": ex.prompt.user }),
    ];
    messages.extend(ex.history.iter().cloned());
    let mut body = json!({
        "model": model,
        "stream": false,
        "format": ex.schema,
        "options": { "temperature": 0 },
        "messages": messages
    });
    if !ex.tools.is_empty() && !ex.final_only {
        body["tools"] = json!(function_tools(ex.tools));
    }
    body
}

pub(super) fn reply(body: &Value) -> Result<Reply, ProviderError> {
    let usage = (
        tokens(body, &["prompt_eval_count"]),
        tokens(body, &["eval_count"]),
    );
    chat_reply(&body["message"], usage, "message.content")
}

pub(super) fn tool_results(results: &[(ToolCall, String)]) -> Vec<Value> {
    results
        .iter()
        .map(|(call, text)| json!({ "role": "tool", "tool_name": call.name, "content": text }))
        .collect()
}
