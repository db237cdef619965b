//! Market data onto the bus when NEO runs over NATS: every tick, trade and
//! closed candle as an envelope on `market.{ticks,trades,candles}.{venue}.{instrument}`
//! (stream `NEO_MARKET`: limits retention, a max age, oldest dropped when
//! full). Batches wait in a bounded queue; when the bus lags, the newest batch
//! is dropped and counted (market data is replaced by newer data; the desk
//! in this process reads the feed directly and loses nothing).

use neo_api::metrics::names;
use neo_bus::Bus;
use neo_domain::contracts::{CandleV1, TickV1, TradeV1};
use neo_domain::subject::{self, SubjectError};
use neo_domain::{Contract, Envelope, IdKind, MessageId, Subject, Timestamp};
use neo_market::event::{MarketEvent, Trade};
use serde_json::Value;
use tokio::sync::mpsc;

/// Batches waiting for the bus.
const QUEUE: usize = 1_024;

/// Where the feed hands batches for the bus.
#[derive(Debug, Clone)]
pub struct Publisher {
    tx: mpsc::Sender<Vec<Envelope<Value>>>,
}

impl Publisher {
    /// A publisher and the task that drains it into `bus` until the feed stops.
    pub fn start<B: Bus>(bus: B) -> (Publisher, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::channel::<Vec<Envelope<Value>>>(QUEUE);
        let task = tokio::spawn(async move {
            let mut failures = 0u64;
            while let Some(batch) = rx.recv().await {
                if let Err(e) = bus.publish_all(&batch).await {
                    failures += 1;
                    if failures.is_power_of_two() {
                        tracing::warn!(error = %e, failures, "market data not published");
                    }
                }
            }
        });
        (Publisher { tx }, task)
    }

    /// Queues `events` from `venue` seen at `now`; a full queue drops them (counted).
    pub fn publish(&self, venue: &str, events: &[MarketEvent], now: Timestamp) {
        let batch: Vec<Envelope<Value>> = events
            .iter()
            .filter_map(|e| envelope(venue, e, now).transpose())
            .filter_map(|r| {
                r.map_err(|e| tracing::debug!(error = %e, "market data not publishable"))
                    .ok()
            })
            .collect();
        if batch.is_empty() {
            return;
        }
        let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
        if self.tx.try_send(batch).is_err() {
            metrics::counter!(names::MARKET_DROPPED, "kind" => "bus").increment(n);
        }
    }
}

/// Why an event could not become an envelope.
#[derive(Debug, thiserror::Error)]
enum EnvelopeError {
    #[error(transparent)]
    Subject(#[from] SubjectError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

fn envelope(
    venue: &str,
    event: &MarketEvent,
    now: Timestamp,
) -> Result<Option<Envelope<Value>>, EnvelopeError> {
    Ok(Some(match event {
        MarketEvent::Tick(t) => {
            let key = format!(
                "tick:{venue}:{}:{}:{}",
                t.instrument,
                t.ts_event.as_nanos(),
                t.price
            );
            wrap::<TickV1>(
                t.clone(),
                &key,
                subject::market_ticks(venue, t.instrument)?,
                now,
            )?
        }
        MarketEvent::Trade(t) => {
            let key = format!("trade:{venue}:{}:{}", t.instrument, t.trade_id);
            let subject = subject::market_trades(venue, t.instrument)?;
            wrap(trade(venue, t), &key, subject, now)?
        }
        MarketEvent::Candle {
            candle,
            closed: true,
        } => {
            let key = format!(
                "candle:{venue}:{}:{}:{}",
                candle.instrument,
                candle.interval,
                candle.ts_open.as_nanos()
            );
            let subject = subject::market_candles(venue, candle.instrument)?;
            wrap::<CandleV1>(candle.clone(), &key, subject, now)?
        }
        MarketEvent::Candle { .. } => return Ok(None),
    }))
}

/// The contract form of a venue's trade.
pub fn trade(venue: &str, t: &Trade) -> TradeV1 {
    TradeV1 {
        venue: venue.to_owned(),
        instrument: t.instrument,
        price: t.price,
        size: t.size,
        aggressor: t.aggressor,
        trade_id: t.trade_id.clone(),
        ts_event: t.ts_event,
    }
}

fn wrap<P: Contract>(
    payload: P,
    key: &str,
    subject: Subject,
    now: Timestamp,
) -> Result<Envelope<Value>, serde_json::Error> {
    let id = MessageId::derived(IdKind::Other, key);
    Envelope::new(id, subject, payload, now, id, None).into_json()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::{InstrumentId, Price, Quantity, Side};

    use super::*;

    #[test]
    fn each_kind_goes_to_its_subject_with_a_stable_id() {
        let btc = InstrumentId::new("BTC-USDT").unwrap();
        let at = Timestamp::from_unix_secs(1_700_000_000).unwrap();
        let t = Trade {
            instrument: btc,
            price: Price::from_int(100).unwrap(),
            size: Quantity::from_int(2).unwrap(),
            aggressor: Side::Buy,
            trade_id: "42".to_owned(),
            ts_event: at,
        };
        let events = t.with_tick();
        let trade = envelope("binance", &events[0], at).unwrap().unwrap();
        let tick = envelope("binance", &events[1], at).unwrap().unwrap();
        assert_eq!(trade.subject.as_str(), "market.trades.binance.BTC-USDT");
        assert_eq!(trade.message_type, "TradeV1");
        assert_eq!(tick.subject.as_str(), "market.ticks.binance.BTC-USDT");
        let again = envelope("binance", &events[0], at).unwrap().unwrap();
        assert_eq!(trade.id, again.id, "a redelivered trade is stored once");
    }
}
