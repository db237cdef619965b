//! Ollama's native chat API: `format` carries the verdict's JSON Schema
//! (structured outputs), `stream: false` for one answer (or NDJSON pieces when
//! the provider streams), and function `tools`
//! the model may call first (answered by `tool` messages).

use serde_json::{Value, json};

use super::{Answer, Exchange, ProviderError, Reply, arguments, function_tools, tokens};
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
    let message = &body["message"];
    let input_tokens = tokens(body, &["prompt_eval_count"]);
    let output_tokens = tokens(body, &["eval_count"]);
    if let Some(calls) = message["tool_calls"].as_array().filter(|c| !c.is_empty()) {
        let calls = calls
            .iter()
            .enumerate()
            .map(|(i, c)| ToolCall {
                id: format!("call_{i}"),
                name: c["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                arguments: arguments(&c["function"]["arguments"]),
            })
            .collect();
        return Ok(Reply::Calls {
            assistant: message.clone(),
            calls,
            input_tokens,
            output_tokens,
        });
    }
    let text = message["content"]
        .as_str()
        .ok_or_else(|| ProviderError::Malformed("no message.content".to_owned()))?;
    Ok(Reply::Verdict(Answer {
        text: text.to_owned(),
        input_tokens,
        output_tokens,
    }))
}

pub(super) fn tool_results(results: &[(ToolCall, String)]) -> Vec<Value> {
    results
        .iter()
        .map(|(call, text)| json!({ "role": "tool", "tool_name": call.name, "content": text }))
        .collect()
}
