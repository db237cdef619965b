//! The generic webhook: the NotificationV1 JSON, signed with
//! `X-Neo-Signature` (see [`crate::signature`]) afresh on every attempt, so a
//! retry after minutes still passes a receiver's freshness check.

use neo_domain::contracts::NotificationV1;
use reqwest::header::CONTENT_TYPE;

use super::{Failure, classify, exchange};
use crate::secret::Secret;
use crate::signature;

/// One signed endpoint.
#[derive(Debug)]
pub(crate) struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: Secret,
}

impl Webhook {
    pub(crate) fn new(client: reqwest::Client, url: String, secret: Secret) -> Self {
        Webhook {
            client,
            url,
            secret,
        }
    }

    pub(crate) async fn send(&self, n: &NotificationV1) -> Result<(), Failure> {
        let body = serde_json::to_vec(n).map_err(|e| Failure::Permanent {
            reason: format!("cannot encode the notification: {e}"),
        })?;
        let header = signature::sign(self.secret.expose().as_bytes(), unix_now(), &body);
        let request = self
            .client
            .post(&self.url)
            .header(CONTENT_TYPE, "application/json")
            .header(signature::HEADER, header)
            .header("X-Neo-Notification-Id", n.id.to_string())
            .body(body);
        classify(&exchange(request).await?, "the webhook")
    }
}

/// Wall-clock unix seconds for the signature.
#[allow(clippy::disallowed_methods)] // The receiver checks freshness against its wall clock, so the signature must carry ours; no injected Clock can stand in.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
