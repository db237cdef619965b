//! The console channel: one log line per notification, no network, never fails.

use neo_domain::contracts::NotificationV1;

pub(super) fn write(n: &NotificationV1) {
    let signal_id = n.signal_id.map(|id| id.to_string()).unwrap_or_default();
    tracing::info!(
        target: "neo_notify::console",
        id = %n.id,
        kind = %n.kind,
        signal_id = %signal_id,
        source_id = n.source_id.as_deref().unwrap_or(""),
        "{}: {}",
        n.title,
        n.text
    );
}
