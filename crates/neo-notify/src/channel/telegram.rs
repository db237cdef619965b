//! Telegram Bot API `sendMessage`: POST `{api_base}/bot{token}/sendMessage`
//! with `{"chat_id", "text", "disable_web_page_preview": true}` as plain text
//! (no `parse_mode`, so nothing needs escaping). Answers are
//! `{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description",
//! "parameters": {"retry_after": N}}`.

use neo_domain::contracts::NotificationV1;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Failure, classify, exchange, quote};
use crate::secret::Secret;

/// Telegram's limit on one message's text.
const MESSAGE_MAX: usize = 4096;

/// One bot posting to one chat.
#[derive(Debug)]
pub(crate) struct Telegram {
    client: reqwest::Client,
    /// `{api_base}/bot{token}/sendMessage`: holds the token, so it is a secret.
    url: Secret,
    chat_id: Value,
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    error_code: Option<u16>,
    description: Option<String>,
    parameters: Option<Parameters>,
}

#[derive(Deserialize)]
struct Parameters {
    retry_after: Option<u64>,
}

impl Telegram {
    pub(crate) fn new(
        client: reqwest::Client,
        api_base: &str,
        token: &Secret,
        chat_id: &str,
    ) -> Self {
        let url = Secret::new(format!(
            "{}/bot{}/sendMessage",
            api_base.trim_end_matches('/'),
            token.expose()
        ));
        // Numeric ids go as numbers, `@channel` names as strings.
        let chat_id = chat_id
            .trim()
            .parse::<i64>()
            .map_or_else(|_| Value::from(chat_id.trim()), Value::from);
        Telegram {
            client,
            url,
            chat_id,
        }
    }

    pub(crate) async fn send(&self, n: &NotificationV1) -> Result<(), Failure> {
        let request = self.client.post(self.url.expose()).json(&json!({
            "chat_id": self.chat_id,
            "text": message_text(n),
            "disable_web_page_preview": true,
        }));
        let reply = exchange(request).await?;
        let Ok(answer) = serde_json::from_str::<Answer>(&reply.body) else {
            return classify(&reply, "Telegram");
        };
        if answer.ok && reply.status.is_success() {
            return Ok(());
        }
        let code = answer.error_code.unwrap_or(reply.status.as_u16());
        let reason = format!(
            "Telegram error {code}: {}",
            quote(answer.description.as_deref().unwrap_or(""))
        );
        let after = answer
            .parameters
            .and_then(|p| p.retry_after)
            .map(std::time::Duration::from_secs)
            .or(reply.retry_after);
        if code == 429 || code == 408 || code >= 500 {
            Err(Failure::Retry { reason, after })
        } else {
            Err(Failure::Permanent { reason })
        }
    }
}

/// Title and text; just the text (which names the signal) when both are too long.
fn message_text(n: &NotificationV1) -> String {
    let full = format!("{}\n\n{}", n.title, n.text);
    if full.chars().count() <= MESSAGE_MAX {
        full
    } else {
        n.text.chars().take(MESSAGE_MAX).collect()
    }
}
