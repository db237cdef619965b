//! OpenTelemetry export of NEO's spans over OTLP/HTTP with the JSON encoding
//! (`POST {otlp_endpoint}/v1/traces`, ids hex-encoded as the OTLP
//! specification requires), off unless `[telemetry] otlp_endpoint` is set.
//! A span carrying a `signal_id` takes its trace id from it, so every span of
//! one alert's handling, in any process, lands in one trace. Spans queue in a
//! bounded buffer (the newest are dropped when the collector lags, counted
//! in the log) and leave in batches of up to 512, at least every second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use serde_json::{Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, warn};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Spans waiting for the exporter before new ones are dropped.
const QUEUE: usize = 8_192;
/// Spans per request.
const BATCH: usize = 512;
/// The longest a finished span waits before it is sent.
const EVERY: Duration = Duration::from_secs(1);

/// One finished (or running) span.
#[derive(Debug, Clone)]
struct SpanData {
    trace_id: String,
    span_id: String,
    parent: Option<String>,
    name: &'static str,
    start: u64,
    end: u64,
    attributes: Vec<(String, String)>,
}

/// Wall-clock nanoseconds: OTLP span times are wall-clock by definition.
#[allow(clippy::disallowed_methods)]
fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// SplitMix64: well-spread ids from a counter, no randomness source needed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The trace id of a signal: its UUID's 32 hex digits (a non-UUID id is hashed).
fn trace_of(signal_id: &str) -> String {
    let hex: String = signal_id.chars().filter(|c| *c != '-').collect();
    if hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return hex.to_ascii_lowercase();
    }
    let h = signal_id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| mix(h ^ u64::from(b)));
    format!("{:016x}{:016x}", h, mix(h))
}

/// Collects a span's fields as text.
struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

/// The layer that records NEO's spans and hands finished ones to the exporter.
pub(crate) struct OtlpLayer {
    queue: SyncSender<SpanData>,
    seed: u64,
    next: AtomicU64,
    dropped: AtomicU64,
}

impl OtlpLayer {
    fn new_id(&self) -> u64 {
        mix(self.seed ^ self.next.fetch_add(1, Ordering::Relaxed))
    }
}

impl<S> Layer<S> for OtlpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // Only NEO's own spans: libraries' internals are not the story of an alert.
        if !attrs.metadata().target().starts_with("neo") {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut attributes = Vec::new();
        attrs.record(&mut Fields(&mut attributes));
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<SpanData>()
                .map(|d| (d.trace_id.clone(), d.span_id.clone()))
        });
        let own = attributes
            .iter()
            .find(|(k, _)| k == "signal_id")
            .map(|(_, v)| trace_of(v));
        let trace_id = match (own, &parent) {
            (Some(t), _) => t,
            (None, Some((t, _))) => t.clone(),
            (None, None) => format!("{:016x}{:016x}", self.new_id(), self.new_id()),
        };
        span.extensions_mut().insert(SpanData {
            trace_id,
            span_id: format!("{:016x}", self.new_id()),
            parent: parent.map(|(_, s)| s),
            name: attrs.metadata().name(),
            start: now_nanos(),
            end: 0,
            attributes,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(data) = span.extensions_mut().get_mut::<SpanData>()
        {
            values.record(&mut Fields(&mut data.attributes));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut data) = span.extensions_mut().remove::<SpanData>() else {
            return;
        };
        data.end = now_nanos();
        if let Err(TrySendError::Full(_)) = self.queue.try_send(data) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                warn!(dropped = n, "the OTLP collector lags; spans dropped");
            }
        }
    }
}

/// The OTLP/JSON request body for `spans`.
fn body(service: &str, spans: &[SpanData]) -> Value {
    let attr = |k: &str, v: &str| json!({ "key": k, "value": { "stringValue": v } });
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut span = json!({
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "kind": 1,
                "startTimeUnixNano": s.start.to_string(),
                "endTimeUnixNano": s.end.to_string(),
                "attributes": s.attributes.iter().map(|(k, v)| attr(k, v)).collect::<Vec<_>>(),
            });
            if let Some(parent) = &s.parent {
                span["parentSpanId"] = json!(parent);
            }
            span
        })
        .collect();
    json!({ "resourceSpans": [{
        "resource": { "attributes": [attr("service.name", service)] },
        "scopeSpans": [{ "scope": { "name": "neo", "version": env!("CARGO_PKG_VERSION") }, "spans": spans }]
    }]})
}

/// Sends batches until the layer is gone.
fn export(endpoint: &str, service: &str, rx: &Receiver<SpanData>) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let client = reqwest::Client::new();
    let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let closed = match rx.recv_timeout(EVERY) {
            Ok(span) => {
                batch.push(span);
                batch.extend(rx.try_iter().take(BATCH - 1));
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if !batch.is_empty() {
            let doc = body(service, &batch);
            // Built inside the runtime: the request's timeout needs its timer.
            let sent = runtime.block_on(async {
                client
                    .post(&url)
                    .json(&doc)
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await
            });
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => warn!(
                    status = r.status().as_u16(),
                    "the OTLP collector refused a batch of spans"
                ),
                Err(e) => {
                    warn!(error = %e, "the OTLP collector is unreachable; a batch of spans is lost")
                }
            }
            batch.clear();
        }
        if closed {
            return;
        }
    }
}

/// The layer exporting to `endpoint` as `service`, and its exporter thread.
pub(crate) fn layer(endpoint: &str, service: &str) -> std::io::Result<OtlpLayer> {
    let (tx, rx) = sync_channel(QUEUE);
    let (endpoint, service) = (endpoint.to_owned(), service.to_owned());
    std::thread::Builder::new()
        .name("otlp-export".to_owned())
        .spawn(move || export(&endpoint, &service, &rx))?;
    Ok(OtlpLayer {
        queue: tx,
        seed: now_nanos() ^ u64::from(std::process::id()),
        next: AtomicU64::new(1),
        dropped: AtomicU64::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signals_trace_is_its_uuid() {
        assert_eq!(
            trace_of("0190c8a2-7b1e-7c3d-9e4f-a1b2c3d4e5f6"),
            "0190c8a27b1e7c3d9e4fa1b2c3d4e5f6"
        );
        let other = trace_of("not-a-uuid");
        assert_eq!(other.len(), 32);
        assert_eq!(other, trace_of("not-a-uuid"));
    }

    #[test]
    fn the_body_is_otlp_json() {
        let span = SpanData {
            trace_id: "0".repeat(32),
            span_id: "1".repeat(16),
            parent: Some("2".repeat(16)),
            name: "message",
            start: 1,
            end: 2,
            attributes: vec![("stage".to_owned(), "desk".to_owned())],
        };
        let b = body("neo", &[span]);
        let s = &b["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(s["parentSpanId"], "2".repeat(16));
        assert_eq!(s["startTimeUnixNano"], "1");
        assert_eq!(s["attributes"][0]["value"]["stringValue"], "desk");
        assert_eq!(
            b["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "neo"
        );
    }
}
