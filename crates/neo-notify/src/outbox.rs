//! Notices that belong to no signal's story (staleness, key expiry, rollbacks,
//! reconciliation) as outbox envelopes: one per channel, each its own
//! correlation, committed by whoever noticed and relayed like any message.

use neo_domain::contracts::Channel;
use neo_domain::{Envelope, Timestamp, subject};
use serde_json::Value;

use crate::render::Event;

impl Event {
    /// The notifications for `channels` as envelopes seen at `now`; one that cannot
    /// be encoded (a bug) is logged and left out.
    pub fn outbox(&self, channels: &[Channel], now: Timestamp) -> Vec<Envelope<Value>> {
        self.render_all(channels)
            .into_iter()
            .filter_map(|n| {
                let (id, channel) = (n.id, n.channel);
                Envelope::new(id, subject::notification(channel), n, now, id, None)
                    .into_json()
                    .map_err(|e| tracing::error!(error = %e, kind = %self.kind(), "a notification could not be encoded"))
                    .ok()
            })
            .collect()
    }
}
