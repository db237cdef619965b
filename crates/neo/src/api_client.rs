//! Calling a running NEO's API from the command line: where it listens, the
//! key, and one request with its status and JSON answer.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use serde_json::Value;

/// Where NEO listens and the key to call it with.
#[derive(Args)]
pub(crate) struct ApiTarget {
    /// Base URL of the running NEO.
    #[arg(long, default_value = "http://127.0.0.1:8001")]
    pub(crate) url: String,
    /// The API key (reads need read, changes admin), sent as `Authorization: Bearer`;
    /// not needed while NEO has no `[[api.keys]]` and serves loopback only.
    #[arg(long = "key", env = "NEO_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
}

/// A runtime for one command's calls, with TLS ready (for an `https://` URL).
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

impl ApiTarget {
    /// One request: its status and JSON answer (`null` when the body is not JSON).
    pub(crate) async fn fetch(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Value)> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()?;
        let base = self.url.trim_end_matches('/');
        let url = format!("{base}{path}");
        let mut request = match method {
            "PUT" => client.put(url),
            "POST" => client.post(url),
            _ => client.get(url),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(api_key) = &self.api_key {
            request = request.bearer_auth(api_key);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach NEO at {base} (is `neo run` running?)"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}
