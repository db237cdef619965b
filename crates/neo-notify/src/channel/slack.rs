//! Slack incoming webhooks: POST `{"text", "blocks"}`; 200 `ok` on success,
//! 429 with `Retry-After` (seconds) when rate limited, 4xx for a bad payload or
//! a revoked webhook.

use neo_domain::contracts::NotificationV1;
use serde_json::{Value, json};

use super::{Failure, classify, exchange};
use crate::secret::Secret;

/// Block Kit limits: header text 150 characters, section text 3000.
const HEADER_MAX: usize = 150;
const SECTION_MAX: usize = 3000;

/// One incoming webhook.
#[derive(Debug)]
pub(crate) struct Slack {
    client: reqwest::Client,
    url: Secret,
}

impl Slack {
    pub(crate) fn new(client: reqwest::Client, url: Secret) -> Self {
        Slack { client, url }
    }

    pub(crate) async fn send(&self, n: &NotificationV1) -> Result<(), Failure> {
        let request = self.client.post(self.url.expose()).json(&payload(n));
        classify(&exchange(request).await?, "Slack")
    }
}

/// The webhook body: a plain-text header and section blocks, with `text` as
/// the fallback shown in notifications (Slack wants `&`, `<`, `>` escaped there).
pub(crate) fn payload(n: &NotificationV1) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": clip(&n.title, HEADER_MAX), "emoji": false},
    })];
    let chars: Vec<char> = n.text.chars().collect();
    for chunk in chars.chunks(SECTION_MAX) {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "plain_text", "text": chunk.iter().collect::<String>(), "emoji": false},
        }));
    }
    json!({
        "text": escape(&format!("{}\n{}", n.title, n.text)),
        "blocks": blocks,
    })
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_fallback_and_chunks_sections() {
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
        assert_eq!(
            clip(&"x".repeat(200), HEADER_MAX).chars().count(),
            HEADER_MAX
        );
    }
}
