//! What the desk must remember across a restart, beyond orders and fills:
//! the trading state and why, the day's start equity and peak, the
//! calibrator's outcomes, the open round trips and the entries' bracket facts.
//!
//! Every step that changes any of it carries the whole [`DeskMemory`], which
//! the shell commits with the step; [`Desk::restore`] puts it back exactly.
//! Round trips: a position opening from flat starts one, tagged with its
//! entry's raw confidence; the fill that brings it back to flat (or through
//! zero) ends it, won when its realized PnL net of fees is positive, and the
//! calibrator learns that outcome, however the trip closed (stop, target,
//! exit signal, reversal or flatten).

use std::collections::BTreeMap;

use neo_domain::contracts::{FillV1, OrderRole};
use neo_domain::{Fixed, InstrumentId, MessageId, Money, Price, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Desk, DeskError, EntryInfo, Scorecard, Step};
use crate::flags::{ClosedTrip, FlagName, GuardSample, RuleKind};
use crate::oms::RestoredOrder;
use crate::risk::{ReliabilityBins, RiskMemory};

/// A position from flat back to flat, as the calibrator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenTrip {
    /// The entry order that opened it.
    pub entry_order: MessageId,
    /// The entry's raw confidence (before calibration); `None` when unknown.
    pub raw_confidence: Option<f64>,
    /// The instrument's realized PnL before the trip (the trip's PnL is the change).
    pub realized_before: Fixed,
    /// When it opened.
    pub opened_at: Timestamp,
    /// One R: what the trip would lose at its entry's stop (`None` without a stop).
    #[serde(default)]
    pub risk: Option<Fixed>,
}

/// One closed round trip, learned by the calibrator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripOutcome {
    /// The instrument.
    pub instrument: InstrumentId,
    /// The entry order that opened it.
    pub entry_order: MessageId,
    /// The raw confidence it was taken at.
    pub raw_confidence: f64,
    /// Realized PnL net of fees.
    pub pnl: Fixed,
    /// Whether it made money.
    pub won: bool,
    /// The order that closed it (stop-loss, take-profit, exit or a reversing entry).
    pub closed_by: OrderRole,
    /// When it closed.
    pub closed_at: Timestamp,
}

/// The desk's durable state besides orders and fills; restored exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskMemory {
    /// The trading state machine.
    pub risk: RiskMemory,
    /// The trading day (days since the epoch, shifted by the day start).
    pub day: i64,
    /// Equity when the day began (the daily-loss limit's base).
    pub day_start_equity: Money,
    /// The day's peak equity, marks included (the drawdown's base).
    pub high_water_mark: Money,
    /// The calibrator's outcomes by raw-confidence bin.
    pub calibration: ReliabilityBins,
    /// Round trips still open, by instrument.
    pub trips: BTreeMap<InstrumentId, OpenTrip>,
    /// Entries whose bracket or trip is still live, by entry order id.
    pub entries: BTreeMap<MessageId, EntryInfo>,
    /// The per-feature tallies (bracket exits, R-multiples, drawdown, ATR accuracy).
    #[serde(default)]
    pub scorecard: Scorecard,
    /// The books (cash and holdings) after every fill committed with this memory:
    /// a restart resumes from them instead of replaying every fill. `None` in
    /// memories written before the books were kept (then the fills are replayed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<crate::portfolio::Ledger>,
}

impl DeskMemory {
    /// The memory with the per-bar ATR tallies zeroed, to tell a real change from a bar.
    fn without_bar_tallies(&self) -> DeskMemory {
        let mut memory = self.clone();
        memory.scorecard.atr_hits = 0;
        memory.scorecard.atr_checks = 0;
        memory
    }
}

/// The durable state a desk resumes from.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// Every fill ever booked, oldest first; unused (and need not be loaded)
    /// when the memory holds the books.
    pub fills: Vec<FillV1>,
    /// Bracket groups with a working order (entry and children, whole).
    pub orders: Vec<RestoredOrder>,
    /// The memory last committed, when there is one (a new store has none).
    pub memory: Option<DeskMemory>,
}

impl Desk {
    /// Puts the books back (from the memory's ledger, or by replaying every fill
    /// for an older memory), reloads working orders and the memory. Run once, before any event.
    pub fn restore(&mut self, state: Restore) -> Result<(), DeskError> {
        match state.memory.as_ref().and_then(|m| m.ledger.as_ref()) {
            Some(ledger) => self.portfolio.restore_ledger(ledger)?,
            None => {
                for fill in &state.fills {
                    self.portfolio.apply_fill(fill)?;
                }
            }
        }
        self.oms.restore(state.orders)?;
        if let Some(memory) = state.memory {
            self.risk.restore(memory.risk.clone());
            self.portfolio
                .restore_day(memory.day, memory.day_start_equity, memory.high_water_mark);
            self.calibrator
                .restore(memory.calibration.clone())
                .map_err(|e| DeskError::Config(e.to_string()))?;
            self.trips = memory.trips.clone();
            self.entries = memory.entries.clone();
            self.scorecard = memory.scorecard.clone();
            self.persisted = Some(memory);
        }
        Ok(())
    }

    /// The durable state now.
    pub fn memory(&self) -> DeskMemory {
        DeskMemory {
            risk: self.risk.memory().clone(),
            day: self.portfolio.day(),
            day_start_equity: self.portfolio.day_start_equity(),
            high_water_mark: self.portfolio.high_water_mark(),
            calibration: self.calibrator.bins().clone(),
            trips: self.trips.clone(),
            entries: self.entries.clone(),
            scorecard: self.scorecard.clone(),
            ledger: Some(self.portfolio.ledger()),
        }
    }

    /// Puts the memory in the step when it changed since the last one handed out.
    /// Bar-by-bar ATR tallies alone do not count as a change: they ride along
    /// with the next step that writes (a crash loses at most those checks), so
    /// a quiet tick stays a step with nothing to commit.
    pub(crate) fn remember(&mut self, step: &mut Step) {
        let memory = self.memory();
        let unchanged = self
            .persisted
            .as_ref()
            .is_some_and(|p| p.without_bar_tallies() == memory.without_bar_tallies());
        if !unchanged {
            self.persisted = Some(memory.clone());
            step.memory = Some(memory);
        }
    }

    /// Opens or closes round trips around one fill (`before` is the net position before it).
    pub(crate) fn track_trip(
        &mut self,
        fill: &FillV1,
        role: OrderRole,
        before: Fixed,
        entry: Option<(MessageId, &EntryInfo)>,
        step: &mut Step,
    ) {
        let instrument = fill.instrument;
        let after = self.net(instrument);
        let realized = self
            .portfolio
            .position(instrument)
            .map_or(Fixed::ZERO, |p| p.realized);
        let crossed =
            !before.is_zero() && (after.is_zero() || after.is_positive() != before.is_positive());
        if crossed && let Some(trip) = self.trips.remove(&instrument) {
            let pnl = realized
                .checked_sub(trip.realized_before)
                .unwrap_or(Fixed::ZERO);
            self.scorecard.close_trip(role, pnl, trip.risk);
            let r = trip
                .risk
                .filter(|risk| risk.is_positive())
                .map(|risk| pnl.to_f64() / risk.to_f64());
            self.judge_trip(trip.entry_order, role, (pnl.is_positive(), r), step);
            if let Some(raw) = trip.raw_confidence {
                let won = pnl.is_positive();
                // A poisoned confidence is skipped, never fatal.
                if self.calibrator.record(raw, won).is_ok() {
                    step.outcomes.push(TripOutcome {
                        instrument,
                        entry_order: trip.entry_order,
                        raw_confidence: raw,
                        pnl,
                        won,
                        closed_by: role,
                        closed_at: fill.ts_event,
                    });
                }
            }
            self.forget_settled_entries(instrument);
        }
        let opened = !after.is_zero() && (before.is_zero() || crossed);
        if opened {
            let entry_order = entry.map_or(fill.order_id, |(id, _)| id);
            let info = entry.map(|(_, info)| info);
            self.trips.insert(
                instrument,
                OpenTrip {
                    entry_order,
                    raw_confidence: info.map(|e| e.raw_confidence),
                    realized_before: realized,
                    opened_at: fill.ts_event,
                    risk: info.and_then(|e| one_r(e, fill.price, after)),
                },
            );
        }
    }

    /// Samples for the guards of the flags the closed trip's entry was taken under.
    fn judge_trip(
        &self,
        entry_order: MessageId,
        role: OrderRole,
        (won, r_multiple): (bool, Option<f64>),
        step: &mut Step,
    ) {
        let Some(info) = self.entries.get(&entry_order) else {
            return;
        };
        step.closed.push(ClosedTrip {
            signal_id: Some(info.signal_id),
            flags: info.flags.clone(),
            won,
            r_multiple,
            probability: info.probability,
        });
        if info.flags.contains(&FlagName::ConfidenceCalibration) {
            step.samples.push(GuardSample {
                flag: FlagName::ConfidenceCalibration,
                kind: RuleKind::CalibrationError,
                value: info.probability,
                reference: if won { 1.0 } else { 0.0 },
            });
        }
        let bracket = matches!(role, OrderRole::StopLoss | OrderRole::TakeProfit);
        if bracket && info.flags.contains(&FlagName::AtrBrackets) {
            step.samples.push(GuardSample {
                flag: FlagName::AtrBrackets,
                kind: RuleKind::BracketSuccess,
                value: if role == OrderRole::TakeProfit {
                    1.0
                } else {
                    0.0
                },
                reference: 0.0,
            });
        }
    }

    /// Drops entries of `instrument` with nothing working and no open trip.
    fn forget_settled_entries(&mut self, instrument: InstrumentId) {
        let live: Vec<MessageId> = self.oms.active_orders(instrument);
        let trip = self.trips.get(&instrument).map(|t| t.entry_order);
        let oms = &self.oms;
        self.entries.retain(|id, _| {
            // An open trip keeps its entry even once the OMS has released the order.
            if trip == Some(*id) {
                return true;
            }
            let Some(order) = oms.order(*id) else {
                return false;
            };
            if order.instrument != instrument {
                return true;
            }
            trip == Some(*id)
                || live
                    .iter()
                    .any(|l| *l == *id || oms.order(*l).and_then(|o| o.parent_id) == Some(*id))
        });
    }
}

/// What a position of `quantity` entered at `price` loses at the entry's stop.
fn one_r(entry: &EntryInfo, price: Price, quantity: Fixed) -> Option<Fixed> {
    let stop = entry.stop_loss?;
    let distance = price.value().checked_sub(stop.value()).ok()?.abs();
    distance
        .mul_round(quantity.abs(), neo_domain::Rounding::HalfEven)
        .ok()
        .filter(|r| r.is_positive())
}
