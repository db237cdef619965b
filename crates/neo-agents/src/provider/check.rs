//! Checking an LLM provider without spending a token, for `neo doctor`: its
//! documented model list (OpenAI-compatible `GET {base}/models`, Anthropic
//! `GET {base}/v1/models`, Ollama `GET {base}/api/tags`) answered with the
//! configured key, and the configured model among them.

use std::time::Duration;

use serde_json::Value;

use super::{ProviderConfig, ProviderKind};

/// How long the check waits.
const WITHIN: Duration = Duration::from_secs(4);

/// Anthropic's API version header, as its documentation requires.
const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Why a provider failed its check.
#[derive(Debug, thiserror::Error)]
pub enum ProviderCheckError {
    /// The request could not be made or answered.
    #[error("unreachable: {0}")]
    Request(#[from] reqwest::Error),
    /// The provider answered, refusing (a bad key, a wrong URL).
    #[error("refused: HTTP {status} {body}")]
    Refused {
        /// The status.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// The answer was not a model list.
    #[error("no model list in the answer")]
    Malformed,
    /// The list does not hold the configured model.
    #[error("model {model:?} is not among the {count} models offered ({sample})")]
    ModelMissing {
        /// The configured model.
        model: String,
        /// How many the provider offers.
        count: usize,
        /// The first few of them.
        sample: String,
    },
}

/// Checks `provider`: the model it would be asked, found; or why not.
pub async fn check_provider(
    client: &reqwest::Client,
    provider: &ProviderConfig,
) -> Result<String, ProviderCheckError> {
    let base = provider.base_url.trim_end_matches('/');
    let key = provider.key();
    let request = match provider.kind {
        ProviderKind::Openai => {
            let r = client.get(format!("{base}/models"));
            match &key {
                Some(k) => r.bearer_auth(k),
                None => r,
            }
        }
        ProviderKind::Anthropic => client
            .get(format!("{base}/v1/models"))
            .header("x-api-key", key.unwrap_or_default())
            .header("anthropic-version", ANTHROPIC_VERSION),
        ProviderKind::Ollama => client.get(format!("{base}/api/tags")),
    };
    let r = request.timeout(WITHIN).send().await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        return Err(ProviderCheckError::Refused {
            status: status.as_u16(),
            body: text.chars().take(120).collect(),
        });
    }
    let answer: Value = serde_json::from_str(&text).map_err(|_| ProviderCheckError::Malformed)?;
    let (list, field) = match provider.kind {
        ProviderKind::Ollama => (&answer["models"], "name"),
        ProviderKind::Openai | ProviderKind::Anthropic => (&answer["data"], "id"),
    };
    let names: Vec<&str> = list
        .as_array()
        .ok_or(ProviderCheckError::Malformed)?
        .iter()
        .filter_map(|m| m[field].as_str())
        .collect();
    let wanted = provider.model.as_str();
    // Ollama lists `llama3.2:latest` for a model configured as `llama3.2`.
    let found = names
        .iter()
        .any(|n| *n == wanted || n.strip_suffix(":latest") == Some(wanted));
    if found {
        Ok(format!("{wanted} offered ({} models)", names.len()))
    } else {
        Err(ProviderCheckError::ModelMissing {
            model: wanted.to_owned(),
            count: names.len(),
            sample: names.iter().take(5).copied().collect::<Vec<_>>().join(", "),
        })
    }
}
