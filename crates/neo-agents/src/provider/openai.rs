//! OpenAI Chat Completions (and compatible servers): structured output with
//! the verdict's JSON Schema (`response_format: json_schema`, strict), and
//! function tools the model may call first (`tool_calls`, answered by `tool`
//! messages). When the calls are spent, `tool_choice: none` asks for the verdict.

use serde_json::{Value, json};

use super::{Answer, Exchange, ProviderError, Reply, arguments, function_tools, tokens};
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
    let input_tokens = tokens(body, &["usage", "prompt_tokens"]);
    let output_tokens = tokens(body, &["usage", "completion_tokens"]);
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
        assistant["role"] = json!("assistant");
        return Ok(Reply::Calls {
            assistant,
            calls,
            input_tokens,
            output_tokens,
        });
    }
    let text = message["content"]
        .as_str()
        .ok_or_else(|| ProviderError::Malformed("no choices[0].message.content".to_owned()))?;
    Ok(Reply::Verdict(Answer {
        text: text.to_owned(),
        input_tokens,
        output_tokens,
    }))
}

pub(super) fn tool_results(results: &[(ToolCall, String)]) -> Vec<Value> {
    results
        .iter()
        .map(|(call, text)| json!({ "role": "tool", "tool_call_id": call.id, "content": text }))
        .collect()
}
