//! Signal ids that make resends harmless: the same alert always gets the same
//! id, so the store's unique key turns a retry into a duplicate, not a second
//! trade.

use std::time::Duration;

use neo_domain::contracts::{SignalEventV1, SignalSource};
use neo_domain::{IdKind, MessageId, Timestamp};
use serde_json::json;

/// The default time bucket for alerts without a sender id.
pub const DEFAULT_BUCKET: Duration = Duration::from_secs(60);

/// The id of a signal.
///
/// - With a sender id (`id` / `order_id`): `MessageId::derived(Signal,
///   "<source>:id:<source_id>")`, whatever the content and time, so a resend is
///   recognised however late it comes.
/// - Without one: derived from a canonical serialization of the normalized
///   content (instrument, side, type, price, quantity, strategy, interval,
///   comment; the signal's `id` and everything else are ignored) plus the time
///   bucket `floor(received_at / bucket)`. The same alert resent within one
///   bucket gets the same id.
///
/// The edge: buckets are fixed windows, not a window around each alert. A
/// resend that crosses a boundary (first copy at :59.9, second at :00.1) lands
/// in the next bucket and gets a new id, so it is processed again; two
/// genuinely different firings of the same alert with identical content in one
/// bucket are taken as one. [`previous_bucket_signal_id`] gives the id the same
/// content had one bucket earlier, for a server that wants to close the
/// boundary gap by checking both. A zero `bucket` is taken as one nanosecond.
pub fn signal_id(
    source: SignalSource,
    source_id: Option<&str>,
    content: &SignalEventV1,
    received_at: Timestamp,
    bucket: Duration,
) -> MessageId {
    match source_id {
        Some(id) => MessageId::derived(IdKind::Signal, &format!("{source}:id:{id}")),
        None => content_id(source, content, bucket_index(received_at, bucket)),
    }
}

/// The content-derived id the same alert would have had one bucket earlier
/// (`None` when the alert has a sender id: its id does not depend on time).
pub fn previous_bucket_signal_id(
    source: SignalSource,
    source_id: Option<&str>,
    content: &SignalEventV1,
    received_at: Timestamp,
    bucket: Duration,
) -> Option<MessageId> {
    match source_id {
        Some(_) => None,
        None => Some(content_id(
            source,
            content,
            bucket_index(received_at, bucket).saturating_sub(1),
        )),
    }
}

fn bucket_index(received_at: Timestamp, bucket: Duration) -> i64 {
    let nanos = i64::try_from(bucket.as_nanos()).unwrap_or(i64::MAX).max(1);
    received_at.as_nanos().div_euclid(nanos)
}

/// The key is a JSON array, so no field's text can imitate a separator.
fn content_id(source: SignalSource, s: &SignalEventV1, bucket: i64) -> MessageId {
    let canonical = json!([
        s.instrument,
        s.side,
        s.signal_type,
        s.price,
        s.quantity,
        s.strategy,
        s.interval,
        s.comment,
        bucket,
    ]);
    MessageId::derived(IdKind::Signal, &format!("{source}:content:v1:{canonical}"))
}
