//! Anthropic Messages: the verdict is the input of a forced tool call
//! (`tool_choice: {type: tool}`), which the API validates against its schema.

use serde_json::{Value, json};

use super::{Answer, ProviderError, tokens};
use crate::prompt::Prompt;

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

pub(super) fn request(model: &str, prompt: &Prompt, schema: &Value) -> Value {
    json!({
        "model": model,
        "max_tokens": 1024,
        "temperature": 0,
        "system": prompt.system,
        "messages": [{ "role": "user", "content": prompt.user }],
        "tools": [{
            "name": TOOL,
            "description": "Submit your verdict on the signal.",
            "input_schema": schema
        }],
        "tool_choice": { "type": "tool", "name": TOOL }
    })
}

pub(super) fn answer(body: &Value) -> Result<Answer, ProviderError> {
    let input = body["content"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|block| block["type"] == "tool_use" && block["name"] == TOOL)
        .map(|block| &block["input"])
        .ok_or_else(|| ProviderError::Malformed(format!("no {TOOL} tool_use block")))?;
    Ok(Answer {
        text: input.to_string(),
        input_tokens: tokens(body, &["usage", "input_tokens"]),
        output_tokens: tokens(body, &["usage", "output_tokens"]),
    })
}
