//! NATS JetStream: one file-backed stream per subject family (limits
//! retention, discard new, a duplicate window keyed on the envelope id via
//! `Nats-Msg-Id`), durable pull consumers with explicit acks confirmed by the
//! server (double ack), bounded redelivery, and dead letters on `dlq.<subject>`
//! with the reason in a header. Server `sync_interval: always` is the
//! operator's part (see README): without it acknowledged writes can be lost on
//! power failure.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::message::PublishMessage as Publish;
use async_nats::jetstream::stream::{
    Config as StreamConfig, DiscardPolicy, RetentionPolicy, StorageType,
};
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use neo_domain::Envelope;
use serde::Deserialize;
use serde_json::Value;

use crate::delivery::Handle as DeliveryHandle;
use crate::{
    Bus, BusError, ConsumerSpec, DLQ_REASON_HEADER, DLQ_SUBJECT_HEADER, Delivery, Received,
    Subscription,
};

/// The streams NEO keeps: (name, subjects). Every subject NEO publishes falls in exactly one.
pub const STREAMS: &[(&str, &str)] = &[
    ("NEO_SIGNALS", "signals.>"),
    ("NEO_INTENTS", "intents.>"),
    ("NEO_DECISIONS", "decisions.>"),
    ("NEO_OUTPUTS", "outputs.>"),
    ("NEO_AUDIT", "audit.>"),
    ("NEO_MARKET", "market.>"),
    ("NEO_EXECUTION", "execution.>"),
    ("NEO_DLQ", "dlq.>"),
    ("NEO_ALT", "alt.>"),
];

/// How to reach NATS and how the streams are configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated (`nats://127.0.0.1:4222`).
    pub url: String,
    /// User name (with `password`).
    pub user: Option<String>,
    /// Password (from the environment or a file; never logged).
    pub password: Option<String>,
    /// Token authentication.
    pub token: Option<String>,
    /// Require TLS.
    pub tls: bool,
    /// Extra root certificate (PEM) for TLS.
    pub root_ca: Option<PathBuf>,
    /// Client certificate (PEM) for servers that verify clients (with `client_key`).
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub client_key: Option<PathBuf>,
    /// A `.creds` file (user JWT and nkey seed) for decentralized (operator) auth.
    pub credentials_file: Option<PathBuf>,
    /// Republishes of an id within this window are stored once.
    pub duplicate_window_secs: u64,
    /// Largest message the streams accept, in bytes.
    pub max_msg_size: i32,
    /// How long messages are kept (limits retention).
    pub max_age_secs: u64,
    /// How long market data is kept in `NEO_MARKET` (default a day; the Parquet archive keeps it longer).
    pub market_max_age_secs: u64,
    /// Largest size of each stream in bytes (-1: unlimited); when full, new messages are
    /// refused, except in `NEO_MARKET`, which drops its oldest.
    pub max_bytes: i64,
    /// How long to wait for the server on connect and on each request.
    pub timeout_ms: u64,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            user: None,
            password: None,
            token: None,
            tls: false,
            root_ca: None,
            client_cert: None,
            client_key: None,
            credentials_file: None,
            duplicate_window_secs: 120,
            max_msg_size: 1 << 20,
            max_age_secs: 7 * 24 * 3600,
            market_max_age_secs: 24 * 3600,
            max_bytes: -1,
            timeout_ms: 5_000,
        }
    }
}

impl NatsConfig {
    /// The server URLs: a cluster is several, comma-separated; the client
    /// connects to one and fails over to the others (and to those the cluster announces).
    pub fn urls(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    }

    /// Every problem, at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.url.trim().is_empty() {
            problems.push("bus.url is empty".to_owned());
        }
        if self.user.is_some() != self.password.is_some() {
            problems.push("bus.user and bus.password go together".to_owned());
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            problems.push("bus.client_cert and bus.client_key go together".to_owned());
        }
        let auths = [
            self.user.is_some(),
            self.token.is_some(),
            self.credentials_file.is_some(),
        ];
        if auths.iter().filter(|a| **a).count() > 1 {
            problems.push("bus: use one of user/password, token or credentials_file".to_owned());
        }
        for url in self.urls() {
            let scheme_ok =
                !url.contains("://") || url.starts_with("nats://") || url.starts_with("tls://");
            if !scheme_ok {
                problems.push(format!(
                    "bus.url {url:?}: the scheme must be nats:// or tls://"
                ));
            }
        }
        if self.duplicate_window_secs == 0 || self.duplicate_window_secs > self.max_age_secs {
            problems.push(
                "bus.duplicate_window_secs must be above 0 and at most max_age_secs".to_owned(),
            );
        }
        if self.market_max_age_secs < self.duplicate_window_secs {
            problems
                .push("bus.market_max_age_secs must be at least duplicate_window_secs".to_owned());
        }
        if self.max_msg_size < 1024 {
            problems.push("bus.max_msg_size must be at least 1024".to_owned());
        }
        if self.timeout_ms == 0 {
            problems.push("bus.timeout_ms must be above 0".to_owned());
        }
        problems
    }
}

fn unavailable(e: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(e.to_string())
}

/// One stream's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStats {
    /// Stream name.
    pub name: &'static str,
    /// The subjects it holds.
    pub subjects: &'static str,
    /// Messages stored.
    pub messages: u64,
    /// Bytes stored.
    pub bytes: u64,
    /// Consumers attached.
    pub consumers: usize,
}

/// The JetStream bus; clones share one connection.
#[derive(Debug, Clone)]
pub struct JetStreamBus {
    context: jetstream::Context,
    config: Arc<NatsConfig>,
}

/// The stream holding a subject or pattern, by its first token.
fn stream_for(subject: &str) -> Option<&'static str> {
    let family = subject.split('.').next()?;
    STREAMS
        .iter()
        .find(|(_, subjects)| subjects.split('.').next() == Some(family))
        .map(|(name, _)| *name)
}

impl JetStreamBus {
    /// Connects (retrying in the background after a lost connection) and creates or
    /// updates NEO's streams.
    pub async fn connect(config: NatsConfig) -> Result<Self, BusError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(BusError::Rejected(problems.join("; ")));
        }
        let timeout = Duration::from_millis(config.timeout_ms);
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(timeout)
            .require_tls(config.tls);
        if let (Some(user), Some(password)) = (&config.user, &config.password) {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &config.token {
            options = options.token(token.clone());
        }
        if let Some(ca) = &config.root_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&config.client_cert, &config.client_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(creds) = &config.credentials_file {
            options = options.credentials_file(creds).await.map_err(|e| {
                BusError::Rejected(format!("bus.credentials_file {}: {e}", creds.display()))
            })?;
        }
        let client = options.connect(config.urls()).await.map_err(unavailable)?;
        let mut context = jetstream::new(client);
        context.set_timeout(timeout);
        let bus = JetStreamBus {
            context,
            config: Arc::new(config),
        };
        bus.ensure_streams().await?;
        Ok(bus)
    }

    async fn ensure_streams(&self) -> Result<(), BusError> {
        for (name, subjects) in STREAMS {
            // Market data is replaceable by newer data: when full, its oldest goes.
            let market = *name == "NEO_MARKET";
            let (discard, max_age) = if market {
                (DiscardPolicy::Old, self.config.market_max_age_secs)
            } else {
                (DiscardPolicy::New, self.config.max_age_secs)
            };
            let config = StreamConfig {
                name: (*name).to_owned(),
                subjects: vec![(*subjects).to_owned()],
                storage: StorageType::File,
                retention: RetentionPolicy::Limits,
                discard,
                duplicate_window: Duration::from_secs(self.config.duplicate_window_secs),
                max_message_size: self.config.max_msg_size,
                max_age: Duration::from_secs(max_age),
                max_bytes: self.config.max_bytes,
                ..StreamConfig::default()
            };
            self.context
                .create_or_update_stream(config)
                .await
                .map_err(|e| BusError::Rejected(format!("stream {name}: {e}")))?;
        }
        Ok(())
    }

    async fn send(
        &self,
        envelope: &Envelope<Value>,
    ) -> Result<jetstream::context::PublishAckFuture, BusError> {
        let body = serde_json::to_vec(envelope).map_err(|e| BusError::Encode(e.to_string()))?;
        let publish = Publish::build()
            .payload(Bytes::from(body))
            .message_id(envelope.id.to_string());
        self.context
            .send_publish(envelope.subject.to_string(), publish)
            .await
            .map_err(unavailable)
    }
}

impl JetStreamBus {
    /// Each of NEO's streams with its message and byte counts (operators' `neo bus setup`).
    pub async fn stream_stats(&self) -> Result<Vec<StreamStats>, BusError> {
        let mut stats = Vec::with_capacity(STREAMS.len());
        for (name, subjects) in STREAMS {
            let mut stream = self.context.get_stream(*name).await.map_err(unavailable)?;
            let info = stream.info().await.map_err(unavailable)?;
            stats.push(StreamStats {
                name,
                subjects,
                messages: info.state.messages,
                bytes: info.state.bytes,
                consumers: info.state.consumer_count,
            });
        }
        Ok(stats)
    }

    /// Dead-letters what JetStream gave up on without an answer (a consumer that
    /// crashes on a message every time never naks it): the server's max-deliveries
    /// advisory names the stream sequence, and the message is copied to
    /// `dlq.<subject>`. Run one per process; the copies share a message id, so
    /// several watchers, or a consumer that dead-lettered it too, store it once.
    pub async fn watch_max_deliveries(&self) -> Result<tokio::task::JoinHandle<()>, BusError> {
        let client = self.context.client();
        let mut advisories = client
            .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>")
            .await
            .map_err(unavailable)?;
        let bus = self.clone();
        Ok(tokio::spawn(async move {
            while let Some(advisory) = advisories.next().await {
                if let Err(e) = bus.dead_letter_advisory(&advisory.payload).await {
                    tracing::warn!(error = %e, "could not dead-letter a message after max deliveries");
                }
            }
        }))
    }

    async fn dead_letter_advisory(&self, payload: &[u8]) -> Result<(), BusError> {
        #[derive(Deserialize)]
        struct Advisory {
            stream: String,
            consumer: String,
            stream_seq: u64,
            deliveries: u64,
        }
        let advisory: Advisory =
            serde_json::from_slice(payload).map_err(|e| BusError::Encode(e.to_string()))?;
        if advisory.stream == "NEO_DLQ" {
            return Ok(());
        }
        let stream = self
            .context
            .get_stream(&advisory.stream)
            .await
            .map_err(unavailable)?;
        let message = stream
            .get_raw_message(advisory.stream_seq)
            .await
            .map_err(unavailable)?;
        let reason = format!(
            "no answer after {} deliveries to consumer {}",
            advisory.deliveries, advisory.consumer
        );
        self.publish_dead_letter(
            message.subject.as_str(),
            message.payload,
            advisory.stream_seq,
            &reason,
        )
        .await
    }

    /// Publishes a dead letter; its id comes from subject and stream sequence, so every path stores it once.
    async fn publish_dead_letter(
        &self,
        subject: &str,
        payload: Bytes,
        seq: u64,
        reason: &str,
    ) -> Result<(), BusError> {
        let reason: String = reason
            .chars()
            .filter(|c| !c.is_control())
            .take(512)
            .collect();
        let publish = Publish::build()
            .payload(payload)
            .header(DLQ_REASON_HEADER, reason.as_str())
            .header(DLQ_SUBJECT_HEADER, subject)
            .message_id(format!("dlq:{subject}:{seq}"));
        let ack = self
            .context
            .send_publish(format!("dlq.{subject}"), publish)
            .await
            .map_err(unavailable)?;
        ack.await.map_err(unavailable)?;
        Ok(())
    }
}

impl Bus for JetStreamBus {
    type Subscription = JetStreamSubscription;

    fn health(&self) -> Result<(), String> {
        match self.context.client().connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(format!("NATS connection is {state}")),
        }
    }

    async fn publish(&self, envelope: &Envelope<Value>) -> Result<(), BusError> {
        self.send(envelope).await?.await.map_err(unavailable)?;
        Ok(())
    }

    async fn publish_all(&self, envelopes: &[Envelope<Value>]) -> Result<(), BusError> {
        let mut acks = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            acks.push(self.send(envelope).await?);
        }
        for result in futures::future::join_all(acks.into_iter().map(IntoFuture::into_future)).await
        {
            result.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn subscribe(&self, spec: ConsumerSpec) -> Result<JetStreamSubscription, BusError> {
        let filter = spec.filter.as_str().to_owned();
        let stream_name = stream_for(&filter).ok_or_else(|| {
            BusError::Rejected(format!(
                "no stream holds {filter}: start filters with a family token"
            ))
        })?;
        let stream = self
            .context
            .get_stream(stream_name)
            .await
            .map_err(unavailable)?;
        let config = pull::Config {
            durable_name: Some(spec.durable.clone()),
            filter_subject: filter,
            ack_policy: AckPolicy::Explicit,
            ack_wait: spec.ack_wait,
            max_deliver: i64::from(spec.max_deliver),
            max_ack_pending: i64::try_from(spec.capacity).unwrap_or(i64::MAX),
            deliver_policy: deliver_policy(spec.start)?,
            inactive_threshold: spec.expires_after.unwrap_or_default(),
            ..pull::Config::default()
        };
        // Create or update: an existing durable takes this release's filter and
        // limits (get-or-create would keep the old ones, and a widened filter
        // would never deliver what it adds).
        let consumer = stream.create_consumer(config).await.map_err(unavailable)?;
        Ok(JetStreamSubscription {
            bus: self.clone(),
            consumer,
            messages: None,
        })
    }
}

/// JetStream's form of where a consumer starts.
fn deliver_policy(start: crate::Start) -> Result<DeliverPolicy, BusError> {
    Ok(match start {
        crate::Start::Stored => DeliverPolicy::All,
        crate::Start::LatestPerSubject => DeliverPolicy::LastPerSubject,
        crate::Start::Since(at) => {
            let start_time =
                time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.as_nanos()))
                    .map_err(|e| BusError::Rejected(format!("no such start time: {e}")))?;
            DeliverPolicy::ByStartTime { start_time }
        }
    })
}

/// A durable pull consumer.
pub struct JetStreamSubscription {
    bus: JetStreamBus,
    consumer: jetstream::consumer::Consumer<pull::Config>,
    messages: Option<pull::Stream>,
}

impl std::fmt::Debug for JetStreamSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSubscription")
            .field("pulling", &self.messages.is_some())
            .finish_non_exhaustive()
    }
}

impl JetStreamSubscription {
    fn delivery(&self, message: jetstream::Message) -> Delivery {
        let attempt = message
            .info()
            .map(|i| u32::try_from(i.delivered).unwrap_or(u32::MAX))
            .unwrap_or(1);
        let received = match serde_json::from_slice::<Envelope<Value>>(&message.payload) {
            Ok(envelope) => Received::Envelope(envelope),
            Err(e) => Received::Undecodable {
                reason: format!("not an envelope: {e}"),
            },
        };
        let reason = message
            .headers
            .as_ref()
            .and_then(|h| h.get(DLQ_REASON_HEADER))
            .map(|v| v.as_str().to_owned());
        Delivery {
            subject: message.subject.to_string(),
            received,
            attempt,
            dead_letter_reason: reason,
            handle: DeliveryHandle::JetStream(Box::new(Handle {
                bus: self.bus.clone(),
                message,
            })),
        }
    }
}

impl Subscription for JetStreamSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        if self.messages.is_none() {
            let stream = self.consumer.messages().await.map_err(unavailable)?;
            self.messages = Some(stream);
        }
        let Some(stream) = self.messages.as_mut() else {
            return Err(BusError::Closed);
        };
        let first = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) => return Ok(Vec::new()),
            Ok(None) => {
                self.messages = None;
                return Err(BusError::Unavailable("consumer stream ended".into()));
            }
            Ok(Some(Err(e))) => {
                // Missed heartbeats or a lost connection: start a fresh pull stream next time.
                self.messages = None;
                return Err(unavailable(e));
            }
            Ok(Some(Ok(message))) => message,
        };
        let mut messages = vec![first];
        while messages.len() < max {
            match stream.next().now_or_never() {
                Some(Some(Ok(message))) => messages.push(message),
                _ => break,
            }
        }
        Ok(messages.into_iter().map(|m| self.delivery(m)).collect())
    }
}

/// A JetStream delivery's ack handle.
#[derive(Debug)]
pub(crate) struct Handle {
    bus: JetStreamBus,
    message: jetstream::Message,
}

impl Handle {
    pub(crate) async fn ack(&self) -> Result<(), BusError> {
        self.message.double_ack().await.map_err(unavailable)
    }

    pub(crate) async fn nak(&self, delay: Duration) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(unavailable)
    }

    pub(crate) async fn dead_letter(&self, subject: &str, reason: &str) -> Result<(), BusError> {
        let seq = self.message.info().map(|i| i.stream_sequence).unwrap_or(0);
        self.bus
            .publish_dead_letter(subject, self.message.payload.clone(), seq, reason)
            .await?;
        self.message
            .ack_with(AckKind::Term)
            .await
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_family_has_one_stream() {
        for (subject, stream) in [
            ("signals.normalized.high.BTC-USDT.entry", "NEO_SIGNALS"),
            ("decisions.agent_output.rule.info", "NEO_DECISIONS"),
            ("outputs.execution.paper", "NEO_OUTPUTS"),
            ("dlq.outputs.execution.paper", "NEO_DLQ"),
            ("market.ticks.BTC-USDT", "NEO_MARKET"),
        ] {
            assert_eq!(stream_for(subject), Some(stream));
        }
        assert_eq!(stream_for(">"), None);
        assert_eq!(stream_for("other.x"), None);
    }

    #[test]
    fn config_problems_are_listed_together() {
        let config = NatsConfig {
            url: " ".into(),
            user: Some("u".into()),
            timeout_ms: 0,
            ..NatsConfig::default()
        };
        assert_eq!(config.validate().len(), 3);
        assert!(NatsConfig::default().validate().is_empty());
    }
}
