//! Alternative data published on the bus (`alt.{source}.{kind}`, an
//! `AltEventV1` in each envelope) into the Parquet archive beside what
//! `POST /v1/alt/{source}` stores: a durable consumer, so nothing published
//! while NEO was down is missed. A message that is not an `AltEventV1`, or
//! fails its checks, is dead-lettered with the reason; a write that fails is
//! delivered again later.

use std::path::PathBuf;
use std::time::Duration;

use neo_bus::{Bus, ConsumerSpec, Delivery, Subscription};
use neo_domain::Contract;
use neo_domain::contracts::AltEventV1;
use neo_domain::subject::patterns;
use neo_parquet::AltEvent;
use tokio::sync::watch;

use crate::Clock;

/// The durable consumer's name.
pub const ALT_CONSUMER: &str = "alt_archive";

/// Why a delivery is not an event to store.
fn event(d: &Delivery) -> Result<AltEventV1, String> {
    let envelope = d.envelope().ok_or("not an envelope")?;
    let event: AltEventV1 = serde_json::from_value(envelope.payload.clone())
        .map_err(|e| format!("not an AltEventV1: {e}"))?;
    let issues = event.check();
    if let Some(first) = issues.first() {
        return Err(format!("{}: {}", first.path, first.problem));
    }
    Ok(event)
}

/// Consumes `alt.>` into the archive under `root` until shutdown.
pub async fn run<B: Bus>(
    bus: B,
    root: PathBuf,
    clock: Clock,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), neo_bus::BusError> {
    let mut sub = bus
        .subscribe(ConsumerSpec::new(ALT_CONSUMER, patterns::alt()))
        .await?;
    loop {
        let batch = tokio::select! {
            b = sub.next_batch(256, Duration::from_secs(1)) => b?,
            _ = shutdown.changed() => return Ok(()),
        };
        if *shutdown.borrow() {
            return Ok(());
        }
        for d in batch {
            match event(&d) {
                Err(why) => d.dead_letter(&why).await?,
                Ok(e) => {
                    let row = AltEvent {
                        source: e.source,
                        kind: e.kind,
                        ts_event: e.ts_event,
                        received: clock(),
                        payload: e.payload.to_string(),
                    };
                    let root = root.clone();
                    let written =
                        tokio::task::spawn_blocking(move || neo_parquet::write_alt(&root, &[row]))
                            .await;
                    match written {
                        Ok(Ok(_)) => d.ack().await?,
                        _ => {
                            tracing::warn!("alternative data not stored; delivered again in 5 s");
                            d.nak(Duration::from_secs(5)).await?;
                        }
                    }
                }
            }
        }
    }
}
