//! Ollama's native chat API: `format` carries the verdict's JSON Schema
//! (structured outputs), `stream: false` for one answer.

use serde_json::{Value, json};

use super::{Answer, ProviderError, tokens};
use crate::prompt::Prompt;

pub(super) fn endpoint(client: &reqwest::Client, base: &str) -> reqwest::RequestBuilder {
    client.post(format!("{base}/api/chat"))
}

pub(super) fn request(model: &str, prompt: &Prompt, schema: &Value) -> Value {
    json!({
        "model": model,
        "stream": false,
        "format": schema,
        "options": { "temperature": 0 },
        "messages": [
            { "role": "system", "content": prompt.system },
            { "role": "user", "content": prompt.user }
        ]
    })
}

pub(super) fn answer(body: &Value) -> Result<Answer, ProviderError> {
    let text = body["message"]["content"]
        .as_str()
        .ok_or_else(|| ProviderError::Malformed("no message.content".to_owned()))?;
    Ok(Answer {
        text: text.to_owned(),
        input_tokens: tokens(body, &["prompt_eval_count"]),
        output_tokens: tokens(body, &["eval_count"]),
    })
}
