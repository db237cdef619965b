//! OpenAI Chat Completions (and compatible servers): structured output with
//! the verdict's JSON Schema (`response_format: json_schema`, strict).

use serde_json::{Value, json};

use super::{Answer, ProviderError, tokens};
use crate::prompt::Prompt;

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

pub(super) fn request(model: &str, prompt: &Prompt, schema: &Value) -> Value {
    json!({
        "model": model,
        "temperature": 0,
        "messages": [
            { "role": "system", "content": prompt.system },
            { "role": "user", "content": prompt.user }
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": { "name": "llm_verdict", "strict": true, "schema": schema }
        }
    })
}

pub(super) fn answer(body: &Value) -> Result<Answer, ProviderError> {
    let message = &body["choices"][0]["message"];
    if let Some(refusal) = message["refusal"].as_str() {
        return Err(ProviderError::Malformed(format!(
            "the model refused: {refusal}"
        )));
    }
    let text = message["content"]
        .as_str()
        .ok_or_else(|| ProviderError::Malformed("no choices[0].message.content".to_owned()))?;
    Ok(Answer {
        text: text.to_owned(),
        input_tokens: tokens(body, &["usage", "prompt_tokens"]),
        output_tokens: tokens(body, &["usage", "completion_tokens"]),
    })
}
