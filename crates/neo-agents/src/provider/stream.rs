//! Streamed answers, read whole: each API's documented stream (OpenAI and
//! Anthropic server-sent events, Ollama NDJSON) turned into the body the same
//! answer has unstreamed, so one `reply` reads both. A stream that ends early,
//! carries data that is not a JSON object, reports an error or exceeds
//! [`MAX_BYTES`] is malformed.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{ProviderError, ProviderKind};

/// The most a streamed answer may carry, in bytes (1 MiB).
pub(super) const MAX_BYTES: usize = 1 << 20;

/// Asks for a stream in a request `body` of `kind`, as its API documents it.
pub(super) fn ask_for_stream(kind: ProviderKind, body: &mut Value) {
    let Some(fields) = body.as_object_mut() else {
        return;
    };
    fields.insert("stream".to_owned(), Value::Bool(true));
    if kind == ProviderKind::Openai {
        fields.insert(
            "stream_options".to_owned(),
            json!({ "include_usage": true }),
        );
    }
}

/// The unstreamed body equivalent to the whole streamed `text` of `kind`.
pub(super) fn body(kind: ProviderKind, text: &str) -> Result<Value, ProviderError> {
    if text.len() > MAX_BYTES {
        return Err(too_big());
    }
    match kind {
        ProviderKind::Openai => openai(text),
        ProviderKind::Anthropic => anthropic(text),
        ProviderKind::Ollama => ollama(text),
    }
}

/// The error of a stream longer than [`MAX_BYTES`].
pub(super) fn too_big() -> ProviderError {
    malformed(format!("the stream exceeds {} MiB", MAX_BYTES >> 20))
}

fn malformed(why: impl Into<String>) -> ProviderError {
    ProviderError::Malformed(why.into())
}

/// A value as a short text for an error message.
fn shown(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars().take(200).collect()
}

/// `text` as a JSON object, or why not (`what` names where it came from).
fn object(text: &str, what: &str) -> Result<Value, ProviderError> {
    let snippet = || text.chars().take(80).collect::<String>();
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(malformed(format!(
            "{what} is not a JSON object: {}",
            snippet()
        ))),
        Err(e) => Err(malformed(format!(
            "{what} is not JSON ({e}): {}",
            snippet()
        ))),
    }
}

/// One server-sent event: its type (`message` when unnamed) and its data.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// The complete events of a server-sent event stream. As the spec says, lines
/// end with CRLF, LF or CR, `data` lines are joined with LF, a line starting
/// with `:` is a comment, and an event not closed by a blank line is dropped.
fn events(text: &str) -> Vec<Event> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines: Vec<&str> = text.split('\n').collect();
    lines.pop(); // what follows the last line end is not a whole line
    let (mut out, mut name, mut data) = (Vec::new(), String::new(), String::new());
    for line in lines {
        if line.is_empty() {
            if let Some(joined) = data.strip_suffix('\n') {
                let name = if name.is_empty() { "message" } else { &name };
                out.push(Event {
                    name: name.to_owned(),
                    data: joined.to_owned(),
                });
            }
            name.clear();
            data.clear();
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => value.clone_into(&mut name),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            _ => {} // comments, id, retry
        }
    }
    out
}

/// An OpenAI tool call being assembled from its pieces.
#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

/// An OpenAI answer being assembled from its chunks (choice 0 only).
#[derive(Debug, Default)]
struct OpenaiAnswer {
    content: Option<String>,
    refusal: Option<String>,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Value,
    usage: Value,
}

impl OpenaiAnswer {
    fn add(&mut self, chunk: &Value) -> Result<(), ProviderError> {
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(malformed(format!(
                "the stream reported an error: {}",
                shown(error.get("message").unwrap_or(error))
            )));
        }
        if chunk["usage"].is_object() {
            self.usage = chunk["usage"].clone();
        }
        let mut choices = chunk["choices"].as_array().into_iter().flatten();
        let Some(choice) = choices.find(|c| c["index"].as_u64().unwrap_or(0) == 0) else {
            return Ok(());
        };
        if !choice["finish_reason"].is_null() {
            self.finish_reason = choice["finish_reason"].clone();
        }
        let delta = &choice["delta"];
        if let Some(piece) = delta["content"].as_str() {
            self.content.get_or_insert_default().push_str(piece);
        }
        if let Some(piece) = delta["refusal"].as_str() {
            self.refusal.get_or_insert_default().push_str(piece);
        }
        let pieces = delta["tool_calls"].as_array().into_iter().flatten();
        for (i, piece) in pieces.enumerate() {
            let index = piece["index"].as_u64().unwrap_or(i as u64);
            let call = self.calls.entry(index).or_default();
            let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
            call.id = call.id.take().or_else(|| text(&piece["id"]));
            call.name = call
                .name
                .take()
                .or_else(|| text(&piece["function"]["name"]));
            if let Some(arguments) = piece["function"]["arguments"].as_str() {
                call.arguments.push_str(arguments);
            }
        }
        Ok(())
    }

    fn body(self) -> Value {
        let mut message = json!({ "role": "assistant", "content": self.content });
        if let Some(refusal) = self.refusal {
            message["refusal"] = json!(refusal);
        }
        if !self.calls.is_empty() {
            let calls: Vec<Value> = self
                .calls
                .into_values()
                .map(|c| {
                    json!({ "id": c.id, "type": "function",
                    "function": { "name": c.name, "arguments": c.arguments } })
                })
                .collect();
            message["tool_calls"] = json!(calls);
        }
        json!({
            "object": "chat.completion",
            "choices": [{ "index": 0, "message": message, "finish_reason": self.finish_reason }],
            "usage": self.usage
        })
    }
}

/// OpenAI Chat Completions: `chat.completion.chunk` events up to `data: [DONE]`.
fn openai(text: &str) -> Result<Value, ProviderError> {
    let mut answer = OpenaiAnswer::default();
    for (n, event) in events(text).into_iter().enumerate() {
        if event.data.trim() == "[DONE]" {
            return Ok(answer.body());
        }
        answer.add(&object(
            &event.data,
            &format!("the data of event {}", n + 1),
        )?)?;
    }
    Err(malformed("the stream ended before data: [DONE]"))
}

/// An Anthropic content block being assembled, with its tool input's JSON so far.
#[derive(Debug)]
struct Block {
    value: Value,
    json: String,
}

/// Anthropic Messages: `message_start`, content blocks and their deltas,
/// `message_delta`, up to `message_stop`; an `error` event fails it.
fn anthropic(text: &str) -> Result<Value, ProviderError> {
    let mut message = json!({ "type": "message", "role": "assistant", "usage": {} });
    let mut blocks: BTreeMap<u64, Block> = BTreeMap::new();
    for (n, event) in events(text).into_iter().enumerate() {
        let data = object(&event.data, &format!("the data of event {}", n + 1))?;
        let index = data["index"].as_u64();
        match data["type"].as_str().unwrap_or(&event.name) {
            "message_start" if data["message"].is_object() => {
                message = data["message"].clone();
                if !message["usage"].is_object() {
                    message["usage"] = json!({});
                }
            }
            "content_block_start" => {
                let value = data["content_block"].clone();
                let (Some(index), true) = (index, value.is_object()) else {
                    return Err(malformed("a content_block_start without its block"));
                };
                let json = String::new();
                blocks.insert(index, Block { value, json });
            }
            "content_block_delta" => {
                let block = index.and_then(|i| blocks.get_mut(&i)).ok_or_else(|| {
                    malformed("a content_block_delta for a block that never started")
                })?;
                apply_delta(block, &data["delta"]);
            }
            "message_delta" => message_delta(&mut message, &data),
            "message_stop" => {
                message["content"] = Value::Array(content(blocks)?);
                return Ok(message);
            }
            "error" => return Err(anthropic_error(&data["error"])),
            _ => {} // ping, content_block_stop, and events added later
        }
    }
    Err(malformed("the stream ended before message_stop"))
}

/// A `content_block_delta`: text appended, or a tool input's JSON continued.
fn apply_delta(block: &mut Block, delta: &Value) {
    match delta["type"].as_str() {
        Some("text_delta") => {
            let piece = delta["text"].as_str().unwrap_or_default();
            match block.value.get_mut("text") {
                Some(Value::String(text)) => text.push_str(piece),
                _ => block.value["text"] = json!(piece),
            }
        }
        Some("input_json_delta") => {
            block
                .json
                .push_str(delta["partial_json"].as_str().unwrap_or_default());
        }
        _ => {} // thinking and signature deltas are not asked for
    }
}

/// A `message_delta`: the stop reason, and the usage so far (cumulative).
fn message_delta(message: &mut Value, data: &Value) {
    if let Some(reason) = data["delta"].get("stop_reason") {
        message["stop_reason"] = reason.clone();
    }
    let counts = data["usage"].as_object().into_iter().flatten();
    for (key, count) in counts.filter(|(_, c)| !c.is_null()) {
        message["usage"][key] = count.clone();
    }
}

/// The blocks in order, each tool input read from its JSON.
fn content(blocks: BTreeMap<u64, Block>) -> Result<Vec<Value>, ProviderError> {
    blocks
        .into_iter()
        .map(|(index, mut block)| {
            if !block.json.trim().is_empty() {
                block.value["input"] = object(&block.json, &format!("block {index}'s input"))?;
            }
            Ok(block.value)
        })
        .collect()
}

/// An Anthropic `error` event: overloaded is the provider failing (529).
fn anthropic_error(error: &Value) -> ProviderError {
    match error["type"].as_str() {
        Some("overloaded_error") => ProviderError::Server(529),
        kind => malformed(format!(
            "the stream reported {}: {}",
            kind.unwrap_or("an error"),
            shown(&error["message"])
        )),
    }
}

/// Ollama `/api/chat`: one JSON object a line, up to the one with `done: true`.
fn ollama(text: &str) -> Result<Value, ProviderError> {
    let (mut content, mut thinking, mut calls) = (String::new(), String::new(), Vec::new());
    let lines = text.lines().enumerate();
    for (n, line) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let mut chunk = object(line, &format!("line {}", n + 1))?;
        if let Some(error) = chunk.get("error") {
            return Err(malformed(format!(
                "the stream reported an error: {}",
                shown(error)
            )));
        }
        let message = &chunk["message"];
        content.push_str(message["content"].as_str().unwrap_or_default());
        thinking.push_str(message["thinking"].as_str().unwrap_or_default());
        calls.extend(
            message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        if chunk["done"] == true {
            let mut message = Map::new();
            message.insert("role".to_owned(), json!("assistant"));
            message.insert("content".to_owned(), json!(content));
            if !thinking.is_empty() {
                message.insert("thinking".to_owned(), json!(thinking));
            }
            if !calls.is_empty() {
                message.insert("tool_calls".to_owned(), Value::Array(calls));
            }
            chunk["message"] = Value::Object(message);
            return Ok(chunk);
        }
    }
    Err(malformed("the stream ended before done: true"))
}

#[cfg(test)]
mod tests;
