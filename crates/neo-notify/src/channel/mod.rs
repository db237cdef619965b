//! The channels: how one notification is sent once, and how the answer is
//! classified (delivered, worth retrying after some wait, or permanently refused).

mod console;
mod slack;
mod telegram;
mod webhook;

use std::time::Duration;

use neo_domain::contracts::NotificationV1;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

pub(crate) use slack::Slack;
pub(crate) use telegram::Telegram;
pub(crate) use webhook::Webhook;

/// Most of a response body kept for an error reason.
const SNIPPET_MAX_BYTES: usize = 16 * 1024;
/// Most of a body quoted in a reason.
const REASON_BODY_CHARS: usize = 200;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Worth another attempt; `after` is the server's own wait, when it gave one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Another attempt would fail the same way (bad URL, revoked token, 4xx).
    Permanent { reason: String },
}

/// One configured destination.
#[derive(Debug)]
pub(crate) enum Transport {
    Console,
    Slack(Slack),
    Telegram(Telegram),
    Webhook(Webhook),
}

impl Transport {
    /// One attempt.
    pub(crate) async fn send(&self, n: &NotificationV1) -> Result<(), Failure> {
        match self {
            Transport::Console => {
                console::write(n);
                Ok(())
            }
            Transport::Slack(s) => s.send(n).await,
            Transport::Telegram(t) => t.send(n).await,
            Transport::Webhook(w) => w.send(n).await,
        }
    }
}

/// What came back from one HTTP request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: String,
}

/// Sends the request and reads (the start of) the answer. Transport errors are
/// retryable, and their text never carries the URL (it may hold a token).
pub(crate) async fn exchange(request: reqwest::RequestBuilder) -> Result<Reply, Failure> {
    let mut response = request.send().await.map_err(transport_failure)?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let mut bytes = Vec::new();
    while bytes.len() < SNIPPET_MAX_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => break,
            // The status is known; a body cut short only loses detail.
            Err(_) => break,
        }
    }
    bytes.truncate(SNIPPET_MAX_BYTES);
    Ok(Reply {
        status,
        retry_after,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

fn transport_failure(err: reqwest::Error) -> Failure {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    Failure::Retry {
        reason: format!("{kind}: {}", err.without_url()),
        after: None,
    }
}

/// `Retry-After` in delta-seconds (an HTTP date is ignored: backoff applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = text.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// The usual HTTP meaning: 2xx delivered; 408, 429 and 5xx retried (with the
/// server's `Retry-After` when given); anything else refused for good.
pub(crate) fn classify(reply: &Reply, service: &str) -> Result<(), Failure> {
    let status = reply.status;
    if status.is_success() {
        return Ok(());
    }
    let reason = format!(
        "{service} answered HTTP {}: {}",
        status.as_u16(),
        quote(&reply.body)
    );
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        Err(Failure::Retry {
            reason,
            after: reply.retry_after,
        })
    } else {
        Err(Failure::Permanent { reason })
    }
}

/// A body quoted in a reason: one line, at most a few hundred characters.
pub(crate) fn quote(body: &str) -> String {
    let one_line: String = body
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(REASON_BODY_CHARS)
        .collect();
    if one_line.is_empty() {
        "(empty body)".to_owned()
    } else {
        one_line
    }
}
