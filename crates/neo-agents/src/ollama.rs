//! A local model's lifecycle on Ollama: make sure the model is there (pull it
//! when missing, reading the progress stream), load it ahead of the first
//! signal, keep it warm, unload it when idle, and read what it holds in
//! memory. Each step is timed, for the `ollama_lifecycle` flag's guards (load
//! time, memory share, inference latency).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

/// Why a lifecycle step failed.
#[derive(Debug, thiserror::Error)]
pub enum OllamaError {
    /// Ollama could not be reached or answered with an error status.
    #[error("ollama: {0}")]
    Http(#[from] reqwest::Error),
    /// The pull stream reported an error.
    #[error("pulling {model}: {message}")]
    Pull {
        /// The model.
        model: String,
        /// Ollama's message.
        message: String,
    },
    /// An answer that is not the documented shape.
    #[error("ollama answered something unexpected: {0}")]
    Malformed(String),
}

/// What a loaded model holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The model's name as Ollama lists it.
    pub name: String,
    /// Bytes in memory.
    pub size: u64,
    /// Of which in GPU memory.
    pub size_vram: u64,
}

/// One Ollama server and one model.
#[derive(Debug, Clone)]
pub struct Ollama {
    client: reqwest::Client,
    base: String,
    model: String,
}

impl Ollama {
    /// The server at `base_url` (`http://127.0.0.1:11434`) and `model`.
    pub fn new(client: reqwest::Client, base_url: &str, model: &str) -> Self {
        Ollama {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
        }
    }

    /// Whether the model is installed (`GET /api/tags`).
    pub async fn installed(&self) -> Result<bool, OllamaError> {
        let models = self.models("tags").await?;
        Ok(models
            .iter()
            .any(|m| same_model(m["name"].as_str(), &self.model)))
    }

    /// The `models` list of `GET /api/{route}` (`tags`: installed, `ps`: loaded).
    async fn models(&self, route: &str) -> Result<Vec<Value>, OllamaError> {
        let mut answer: Value = self
            .client
            .get(format!("{}/api/{route}", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        match answer["models"].take() {
            Value::Array(models) => Ok(models),
            _ => Err(OllamaError::Malformed(format!(
                "no models list in /api/{route}"
            ))),
        }
    }

    /// Pulls the model (`POST /api/pull`, streamed), calling `progress` with
    /// each status line and the share completed when known.
    pub async fn pull(
        &self,
        mut progress: impl FnMut(&str, Option<f64>),
    ) -> Result<(), OllamaError> {
        let mut response = self
            .client
            .post(format!("{}/api/pull", self.base))
            .json(&json!({ "model": self.model, "stream": true }))
            .send()
            .await?
            .error_for_status()?;
        let mut pending = Vec::new();
        let mut done = false;
        while let Some(chunk) = response.chunk().await? {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                done |= self.pull_line(&line, &mut progress)?;
            }
        }
        if !pending.is_empty() {
            done |= self.pull_line(&pending, &mut progress)?;
        }
        if done {
            Ok(())
        } else {
            Err(OllamaError::Pull {
                model: self.model.clone(),
                message: "the stream ended before \"success\"".to_owned(),
            })
        }
    }

    /// One NDJSON line of the pull stream; true at `success`.
    fn pull_line(
        &self,
        line: &[u8],
        progress: &mut impl FnMut(&str, Option<f64>),
    ) -> Result<bool, OllamaError> {
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            return Ok(false);
        }
        let v: Value = serde_json::from_str(text.trim())
            .map_err(|e| OllamaError::Malformed(format!("pull stream: {e}")))?;
        if let Some(message) = v["error"].as_str() {
            return Err(OllamaError::Pull {
                model: self.model.clone(),
                message: message.to_owned(),
            });
        }
        let status = v["status"].as_str().unwrap_or("");
        #[allow(clippy::cast_precision_loss)]
        let share = match (v["completed"].as_u64(), v["total"].as_u64()) {
            (Some(c), Some(t)) if t > 0 => Some(c as f64 / t as f64),
            _ => None,
        };
        progress(status, share);
        Ok(status == "success")
    }

    /// Loads the model and keeps it for `keep_alive` (an empty generate); how long it took.
    pub async fn load(&self, keep_alive: Duration) -> Result<Duration, OllamaError> {
        let started = Instant::now();
        self.generate_empty(json!(format!("{}s", keep_alive.as_secs())))
            .await?;
        Ok(started.elapsed())
    }

    /// Unloads the model now (`keep_alive: 0`).
    pub async fn unload(&self) -> Result<(), OllamaError> {
        self.generate_empty(json!(0)).await
    }

    async fn generate_empty(&self, keep_alive: Value) -> Result<(), OllamaError> {
        self.client
            .post(format!("{}/api/generate", self.base))
            .json(&json!({ "model": self.model, "keep_alive": keep_alive, "stream": false }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// The model as loaded now (`GET /api/ps`), `None` when it is not.
    pub async fn loaded(&self) -> Result<Option<Loaded>, OllamaError> {
        let models = self.models("ps").await?;
        Ok(models
            .iter()
            .find(|m| same_model(m["name"].as_str(), &self.model))
            .map(|m| Loaded {
                name: m["name"].as_str().unwrap_or_default().to_owned(),
                size: m["size"].as_u64().unwrap_or(0),
                size_vram: m["size_vram"].as_u64().unwrap_or(0),
            }))
    }
}

/// `llama3.2` names `llama3.2:latest`; a tag given must match.
fn same_model(listed: Option<&str>, wanted: &str) -> bool {
    let Some(listed) = listed else { return false };
    let full = |name: &str| {
        if name.contains(':') {
            name.to_owned()
        } else {
            format!("{name}:latest")
        }
    };
    full(listed) == full(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_match_with_and_without_the_latest_tag() {
        assert!(same_model(Some("llama3.2:latest"), "llama3.2"));
        assert!(same_model(Some("llama3.2"), "llama3.2:latest"));
        assert!(!same_model(Some("llama3.2:1b"), "llama3.2"));
        assert!(!same_model(None, "llama3.2"));
    }
}
