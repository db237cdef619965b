//! Position tracking: every `[positions] reconcile_secs` (a minute), each instrument's position is checked
//! three ways: the sum of every stored fill (buys plus, sells minus; with
//! the stored total of the fills retention removed), the stored position row,
//! and the live desk's portfolio. They must agree
//! exactly. A disagreement seen on two checks in a row (one check can fall
//! between a commit and the desk's next step) is reported once: an audit row
//! (`position_mismatch`), a notification on every channel, and
//! `neo_position_mismatch{instrument}` = 1 until it agrees again.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use neo_api::metrics::names;
use neo_domain::contracts::{AuditEventV1, Channel, FillV1, PositionSide, PositionV1};
use neo_domain::{Fixed, IdKind, InstrumentId, MessageId, Side, Timestamp};
use neo_engine::desk::Desk;
use neo_notify::render::{Event, PositionMismatch};
use neo_store::{Cursor, Op, Store, Unit, Writer};
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::Clock;

/// Fills read per store page.
const PAGE: u32 = 1_000;

/// One instrument's three figures, when they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Which.
    pub instrument: InstrumentId,
    /// The sum of its stored fills (signed: long positive).
    pub fills: Fixed,
    /// The stored position row (signed).
    pub stored: Fixed,
    /// The live desk's position (signed).
    pub desk: Fixed,
}

/// Sums of the stored fills. Recounted from the first fill on every check: a
/// fill stored late with an old time (the kind of fault this looks for) would
/// hide behind an incremental cursor.
#[derive(Debug, Default)]
pub struct FillSums {
    sums: BTreeMap<InstrumentId, Fixed>,
    after: Option<Cursor>,
}

impl FillSums {
    /// Adds fills (oldest first) to the sums.
    pub fn add(&mut self, fills: &[FillV1]) {
        for f in fills {
            add_signed(&mut self.sums, f);
            self.after = Some(Cursor {
                ts: f.ts_event,
                id: f.id,
            });
        }
    }

    async fn catch_up(&mut self, store: &Store) -> Result<(), neo_store::StoreError> {
        loop {
            let page = store.fills_after(PAGE, self.after).await?;
            let full = page.len() == PAGE as usize;
            self.add(&page);
            if !full {
                return Ok(());
            }
        }
    }
}

/// Adds a fill's signed quantity (buys plus, sells minus) to `sums`.
pub(crate) fn add_signed(sums: &mut BTreeMap<InstrumentId, Fixed>, f: &FillV1) {
    let q = f.quantity.value();
    let sum = sums.entry(f.instrument).or_insert(Fixed::ZERO);
    let next = match f.side {
        Side::Buy => sum.checked_add(q),
        Side::Sell => sum.checked_sub(q),
    };
    // Quantities far below Fixed's range: an overflow is a bug, seen as a mismatch.
    *sum = next.unwrap_or(Fixed::MAX);
}

/// The signed quantity of a stored position.
fn signed(p: &PositionV1) -> Fixed {
    let q = p.quantity.value();
    match p.side {
        PositionSide::Long => q,
        PositionSide::Short => Fixed::ZERO.checked_sub(q).unwrap_or(Fixed::MIN),
        PositionSide::Flat => Fixed::ZERO,
    }
}

/// Where the three figures disagree, over every instrument any of them names.
pub fn compare(
    fills: &BTreeMap<InstrumentId, Fixed>,
    stored: &BTreeMap<InstrumentId, Fixed>,
    desk: &BTreeMap<InstrumentId, Fixed>,
) -> Vec<Mismatch> {
    let all: BTreeSet<InstrumentId> = fills
        .keys()
        .chain(stored.keys())
        .chain(desk.keys())
        .copied()
        .collect();
    let get = |m: &BTreeMap<InstrumentId, Fixed>, i| m.get(&i).copied().unwrap_or(Fixed::ZERO);
    all.into_iter()
        .map(|i| Mismatch {
            instrument: i,
            fills: get(fills, i),
            stored: get(stored, i),
            desk: get(desk, i),
        })
        .filter(|m| m.fills != m.stored || m.fills != m.desk)
        .collect()
}

/// What the reconciler needs from the running pipeline.
pub struct Reconciler {
    /// Read the fills and positions from.
    pub store: Store,
    /// Write the audit row and notifications through.
    pub writer: Writer,
    /// The live desk (its positions).
    pub desk: Arc<Mutex<Desk>>,
    /// Every enabled channel.
    pub channels: Vec<Channel>,
    /// Rung after a commit so the relay sends at once.
    pub wake: Arc<Notify>,
    /// Time.
    pub clock: Clock,
    /// How often (`[positions] reconcile_secs`).
    pub every: Duration,
}

impl Reconciler {
    /// Checks every minute until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut previous: Vec<Mismatch> = Vec::new();
        let mut reported: BTreeSet<InstrumentId> = BTreeSet::new();
        let mut tick = tokio::time::interval(self.every);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            let found = match self.check().await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "position reconciliation skipped: the store did not answer");
                    metrics::counter!(names::RECONCILIATIONS, "outcome" => "skipped").increment(1);
                    continue;
                }
            };
            // Only what was wrong on the last check too, with the same figures, is real.
            let lasting: Vec<Mismatch> = found
                .iter()
                .filter(|m| previous.contains(m))
                .cloned()
                .collect();
            let outcome = if found.is_empty() {
                "agreed"
            } else {
                "mismatch"
            };
            metrics::counter!(names::RECONCILIATIONS, "outcome" => outcome).increment(1);
            let now = (self.clock)();
            for m in &lasting {
                if reported.insert(m.instrument) {
                    self.report(m, now).await;
                }
            }
            // Agreeing again: the gauge says so, and a new mismatch will be reported anew.
            reported.retain(|i| {
                let still = found.iter().any(|m| m.instrument == *i);
                if !still {
                    metrics::gauge!(names::POSITION_MISMATCH, "instrument" => i.to_string())
                        .set(0.0);
                }
                still
            });
            previous = found;
        }
    }

    async fn check(&self) -> Result<Vec<Mismatch>, crate::retention::RetentionError> {
        let mut sums = FillSums {
            sums: crate::retention::pruned_totals(&self.store).await?,
            after: None,
        };
        sums.catch_up(&self.store).await?;
        let stored: BTreeMap<InstrumentId, Fixed> = self
            .store
            .list_positions()
            .await?
            .iter()
            .map(|p| (p.instrument, signed(p)))
            .collect();
        let names: BTreeSet<InstrumentId> =
            sums.sums.keys().chain(stored.keys()).copied().collect();
        let desk: BTreeMap<InstrumentId, Fixed> = {
            let desk = self.desk.lock().unwrap_or_else(PoisonError::into_inner);
            names.iter().map(|i| (*i, desk.net(*i))).collect()
        };
        Ok(compare(&sums.sums, &stored, &desk))
    }

    async fn report(&self, m: &Mismatch, now: Timestamp) {
        tracing::error!(instrument = %m.instrument, fills = %m.fills, stored = %m.stored, desk = %m.desk,
            "position mismatch: the stored fills, the stored position and the desk disagree");
        metrics::gauge!(names::POSITION_MISMATCH, "instrument" => m.instrument.to_string())
            .set(1.0);
        let details = json!({ "instrument": m.instrument, "sum_of_fills": m.fills.to_string(),
            "stored_position": m.stored.to_string(), "desk_position": m.desk.to_string() });
        let key = format!("position_mismatch:{}:{}", m.instrument, now.as_nanos());
        let audit = AuditEventV1 {
            id: MessageId::derived(IdKind::Other, &key),
            actor: "reconciler".to_owned(),
            action: "position_mismatch".to_owned(),
            entity: Some(m.instrument.to_string()),
            correlation_id: None,
            details,
            ts_event: now,
        };
        let event = Event::PositionMismatch(PositionMismatch {
            instrument: m.instrument.to_string(),
            sum_of_fills: m.fills.to_string(),
            stored: m.stored.to_string(),
            desk: m.desk.to_string(),
            ts: now,
        });
        let outbox = event.outbox(&self.channels, now);
        let unit = Unit {
            inbox: None,
            ops: vec![Op::InsertAudit(audit)],
            outbox,
        };
        match self.writer.commit(vec![unit]).await {
            Ok(_) => self.wake.notify_one(),
            Err(e) => tracing::warn!(error = %e, "could not record the position mismatch"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn f(v: i64) -> Fixed {
        Fixed::from_int(v)
    }

    #[test]
    fn agreeing_figures_are_quiet_and_any_difference_is_named() {
        let btc = InstrumentId::new("BTC-USDT").unwrap();
        let eth = InstrumentId::new("ETH-USDT").unwrap();
        let fills = BTreeMap::from([(btc, f(2)), (eth, f(-1))]);
        let same = fills.clone();
        assert!(compare(&fills, &same, &same).is_empty());
        let stored = BTreeMap::from([(btc, f(2))]);
        let out = compare(&fills, &stored, &same);
        assert_eq!(
            out,
            vec![Mismatch {
                instrument: eth,
                fills: f(-1),
                stored: f(0),
                desk: f(-1)
            }]
        );
        let zero = BTreeMap::from([(btc, f(0))]);
        assert!(
            compare(&BTreeMap::new(), &zero, &BTreeMap::new()).is_empty(),
            "flat is flat"
        );
    }
}
