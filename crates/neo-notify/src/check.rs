//! Checking a notification channel without telling anyone anything, for
//! `neo doctor`: Telegram's `getMe` (the token works, and which bot it is);
//! Slack's incoming webhook given an empty message (a live hook refuses it
//! with `400 no_text` or `invalid_payload`; a revoked one answers 403, 404 or
//! 410); a generic webhook's host reached over TCP (its owner's semantics for
//! a probe are unknown, so nothing is sent).

use std::time::Duration;

use neo_domain::contracts::Channel;
use serde_json::Value;

use crate::NotifyConfig;

/// How long a check waits for an answer.
const WITHIN: Duration = Duration::from_secs(4);

/// Why a channel failed its check.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The channel is enabled but lacks what it needs (a URL, a token).
    #[error("not configured: {0}")]
    NotConfigured(&'static str),
    /// The request could not be made or answered.
    #[error("unreachable: {0}")]
    Request(#[from] reqwest::Error),
    /// The service answered, refusing.
    #[error("refused: HTTP {status} {body}")]
    Refused {
        /// The status.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// The webhook's host could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The URL names no host to reach.
    #[error("the URL {0:?} names no host")]
    NoHost(String),
}

/// Checks `channel` as configured in `config`: what was found, or why it fails.
pub async fn check_channel(
    client: &reqwest::Client,
    config: &NotifyConfig,
    channel: Channel,
) -> Result<String, CheckError> {
    match channel {
        Channel::Console => Ok("writes to this process's standard output".to_owned()),
        Channel::Slack => {
            let url = config
                .slack
                .webhook_url
                .as_ref()
                .ok_or(CheckError::NotConfigured("notify.slack.webhook_url"))?;
            slack(client, url.expose()).await
        }
        Channel::Telegram => {
            let token = config
                .telegram
                .bot_token
                .as_ref()
                .ok_or(CheckError::NotConfigured("notify.telegram.bot_token"))?;
            telegram(client, &config.telegram.api_base, token.expose()).await
        }
        Channel::Webhook => {
            let url = config
                .webhook
                .url
                .as_deref()
                .ok_or(CheckError::NotConfigured("notify.webhook.url"))?;
            reach(url).await
        }
    }
}

fn snippet(body: &str) -> String {
    body.chars().take(120).collect()
}

async fn slack(client: &reqwest::Client, url: &str) -> Result<String, CheckError> {
    let r = client
        .post(url)
        .json(&serde_json::json!({}))
        .timeout(WITHIN)
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = snippet(&r.text().await.unwrap_or_default());
    match status {
        200..=299 | 400 => Ok(format!("the webhook answers (HTTP {status} {body})")
            .trim_end_matches(' ')
            .to_owned()),
        _ => Err(CheckError::Refused { status, body }),
    }
}

async fn telegram(client: &reqwest::Client, base: &str, token: &str) -> Result<String, CheckError> {
    let url = format!("{}/bot{token}/getMe", base.trim_end_matches('/'));
    let r = client.get(url).timeout(WITHIN).send().await?;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if body["ok"] == true {
        let name = body["result"]["username"].as_str().unwrap_or("?");
        return Ok(format!("the token belongs to @{name}"));
    }
    let why = body["description"].as_str().unwrap_or("no description");
    Err(CheckError::Refused {
        status,
        body: snippet(why),
    })
}

async fn reach(url: &str) -> Result<String, CheckError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| CheckError::NoHost(url.to_owned()))?;
    let host = parsed
        .host_str()
        .ok_or_else(|| CheckError::NoHost(url.to_owned()))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addr = format!("{host}:{port}");
    let connect = tokio::net::TcpStream::connect(addr.as_str());
    match tokio::time::timeout(WITHIN, connect).await {
        Ok(Ok(_)) => Ok(format!("{addr} accepts connections (nothing sent)")),
        Ok(Err(source)) => Err(CheckError::Connect { addr, source }),
        Err(_) => Err(CheckError::Connect {
            addr,
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer within 4 s"),
        }),
    }
}
