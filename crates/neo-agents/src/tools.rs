//! The tools an LLM agent may call while it analyses a signal: NEO's own MCP
//! tools, in-process (the pipeline hands them over as a [`Toolbox`]), limited
//! to the reads the agent is allowed. A call the model makes to anything else,
//! or with arguments that are not JSON, is answered with an error the model
//! reads; it never reaches a tool. Every call is recorded for the story.

use std::fmt;

use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

/// Most characters of one tool result handed back to the model (the rest is cut, saying so).
pub const MAX_RESULT_CHARS: usize = 12_000;

/// A tool as the model is told of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDef {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its arguments' JSON Schema.
    pub parameters: Value,
}

/// Why a tool gave no result (its words go back to the model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolFailure(pub String);

/// Tools an agent may call; the pipeline implements it over NEO's MCP tools.
pub trait Toolbox: Send + Sync + fmt::Debug {
    /// The tools, in the order the model sees them.
    fn list(&self) -> Vec<ToolDef>;
    /// Calls `name` with `arguments`.
    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Value,
    ) -> BoxFuture<'a, Result<Value, ToolFailure>>;
}

/// One call the model asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id for it (echoed with the result).
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments, or why they could not be read.
    pub arguments: Result<Value, String>,
}

/// One call as the story shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCallRecord {
    /// The provider that asked.
    pub provider: String,
    /// The tool.
    pub name: String,
    /// The arguments as given (or as much as could be read).
    pub arguments: String,
    /// Whether it gave a result.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: u64,
}

/// The result as the model reads it: the JSON, or `{"error": ...}`, cut to [`MAX_RESULT_CHARS`].
pub fn result_text(result: &Result<Value, ToolFailure>) -> String {
    let text = match result {
        Ok(value) => value.to_string(),
        Err(e) => serde_json::json!({ "error": e.0 }).to_string(),
    };
    if text.len() <= MAX_RESULT_CHARS {
        return text;
    }
    let mut end = MAX_RESULT_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{} ... [cut: {} more characters; ask for fewer]",
        &text[..end],
        text.len() - end
    )
}
