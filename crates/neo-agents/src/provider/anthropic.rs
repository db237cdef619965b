//! Anthropic Messages: the verdict is the input of the `submit_verdict` tool,
//! which the API validates against its schema. With data tools offered the
//! model must call some tool (`tool_choice: any`) and may look things up
//! first; when its calls are spent, `submit_verdict` is forced.

use serde_json::{Value, json};

use super::{Answer, Exchange, ProviderError, Reply, arguments, tokens};
use crate::tools::ToolCall;

/// The tool the model must call with its verdict.
const TOOL: &str = "submit_verdict";

pub(super) fn endpoint(
    client: &reqwest::Client,
    base: &str,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = client
        .post(format!("{base}/v1/messages"))
        .header("anthropic-version", "2023-06-01");
    match key {
        Some(key) => request.header("x-api-key", key),
        None => request,
    }
}

pub(super) fn request(model: &str, ex: &Exchange<'_>) -> Value {
    let mut messages = vec![json!({ "role": "user", "content": ex.prompt.user })];
    messages.extend(ex.history.iter().cloned());
    let mut tools: Vec<Value> = ex
        .tools
        .iter()
        .map(|t| json!({ "name": t.name, "description": t.description, "input_schema": t.parameters }))
        .collect();
    tools.push(json!({
        "name": TOOL,
        "description": "Submit your verdict on the signal.",
        "input_schema": ex.schema
    }));
    let choice = if ex.tools.is_empty() || ex.final_only {
        json!({ "type": "tool", "name": TOOL })
    } else {
        json!({ "type": "any" })
    };
    json!({
        "model": model,
        "max_tokens": 1024,
        "temperature": 0,
        "system": ex.prompt.system,
        "messages": messages,
        "tools": tools,
        "tool_choice": choice
    })
}

pub(super) fn reply(body: &Value) -> Result<Reply, ProviderError> {
    let blocks: Vec<&Value> = body["content"].as_array().into_iter().flatten().collect();
    let input_tokens = tokens(body, &["usage", "input_tokens"]);
    let output_tokens = tokens(body, &["usage", "output_tokens"]);
    let uses = || blocks.iter().filter(|b| b["type"] == "tool_use");
    if let Some(verdict) = uses().find(|b| b["name"] == TOOL) {
        return Ok(Reply::Verdict(Answer {
            text: verdict["input"].to_string(),
            input_tokens,
            output_tokens,
        }));
    }
    let calls: Vec<ToolCall> = uses()
        .enumerate()
        .map(|(i, b)| ToolCall {
            id: b["id"]
                .as_str()
                .map_or_else(|| format!("toolu_{i}"), str::to_owned),
            name: b["name"].as_str().unwrap_or_default().to_owned(),
            arguments: arguments(&b["input"]),
        })
        .collect();
    if calls.is_empty() {
        return Err(ProviderError::Malformed(format!(
            "no {TOOL} tool_use block"
        )));
    }
    Ok(Reply::Calls {
        assistant: json!({ "role": "assistant", "content": body["content"] }),
        calls,
        input_tokens,
        output_tokens,
    })
}

pub(super) fn tool_results(results: &[(ToolCall, String)]) -> Vec<Value> {
    let content: Vec<Value> = results
        .iter()
        .map(|(call, text)| json!({ "type": "tool_result", "tool_use_id": call.id, "content": text }))
        .collect();
    vec![json!({ "role": "user", "content": content })]
}
