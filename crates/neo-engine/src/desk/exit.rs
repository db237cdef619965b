//! Exits: a reduce-only market order that replaces the position's brackets.
//!
//! Nothing working is cancelled unless its replacement is approved: risk judges
//! the exit against the account *as if* the instrument's working orders were
//! already cancelled (so the stop-loss and take-profit do not count as open
//! sells that make the exit look like a new short), and only an approved exit
//! cancels them and goes to the OMS. A refused exit leaves the position and
//! its brackets exactly as they were. Exits pass while trading is halted.

use std::collections::BTreeMap;

use neo_domain::contracts::OrderIntentV1;
use neo_domain::{Fixed, IdKind, InstrumentId, MessageId, Quantity, Side, Timestamp};

use super::research::market_intent;
use super::{Desk, DeskError, Refused, Step};
use crate::risk::{InstrumentView, RiskApproved};

/// Who asked for an exit, for its intent id and the audit trail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExitCause {
    /// The decision (or operator command) the exit belongs to.
    pub decision_id: MessageId,
    /// The signal it traces back to.
    pub signal_id: MessageId,
}

impl Desk {
    /// Closes the instrument's position: risk first, then cancel its working
    /// orders, then a reduce-only market exit. Returns whether it went through
    /// (true when already flat).
    pub(crate) fn close(
        &mut self,
        instrument: InstrumentId,
        cause: ExitCause,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<bool, DeskError> {
        let working: Vec<MessageId> = self
            .oms
            .active_orders(instrument)
            .into_iter()
            .filter(|id| self.oms.order(*id).is_some_and(|o| !o.status.is_terminal()))
            .collect();
        let position = self.net(instrument);
        if position.is_zero() {
            self.cancel_all(&working, now, step)?;
            return Ok(true);
        }
        let intent = self.exit_intent(instrument, position, cause, now)?;
        let approved = match self.check_without(intent.clone(), &working, now) {
            Ok(approved) => approved,
            Err(refusal) => {
                step.state_changes.extend(refusal.state_change.clone());
                step.refusal = Some(Refused::from_risk(intent, refusal));
                return Ok(false);
            }
        };
        self.cancel_all(&working, now, step)?;
        self.execute(approved, None, now, step)?;
        Ok(true)
    }

    fn cancel_all(
        &mut self,
        ids: &[MessageId],
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        for id in ids {
            let still_working = self.oms.order(*id).is_some_and(|o| !o.status.is_terminal());
            if still_working {
                let events = self.oms.cancel(*id, now)?;
                self.apply(events, now, step)?;
            }
        }
        Ok(())
    }

    fn exit_intent(
        &self,
        instrument: InstrumentId,
        position: Fixed,
        cause: ExitCause,
        now: Timestamp,
    ) -> Result<OrderIntentV1, DeskError> {
        let side = if position.is_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        let quantity =
            Quantity::new(position.abs()).map_err(|_| neo_domain::ArithmeticError::Overflow)?;
        let id = MessageId::derived(IdKind::Intent, &format!("{}:exit", cause.decision_id));
        Ok(market_intent(
            [cause.signal_id, cause.decision_id, id],
            instrument,
            side,
            quantity,
            true,
            self.quote(instrument, side),
            now,
        ))
    }

    /// Risk's verdict on `intent` as if the orders in `cancelling` were gone.
    fn check_without(
        &mut self,
        intent: OrderIntentV1,
        cancelling: &[MessageId],
        now: Timestamp,
    ) -> Result<RiskApproved<OrderIntentV1>, crate::risk::Refusal> {
        let mut instruments = self.instrument_views();
        let mut removed = 0u32;
        for id in cancelling {
            let Some(order) = self.oms.order(*id) else {
                continue;
            };
            let left = order
                .quantity
                .value()
                .checked_sub(order.filled_quantity.value())
                .unwrap_or(Fixed::ZERO);
            removed += 1;
            forget_open(&mut instruments, order.instrument, order.side, left);
        }
        let mut view = self.view(now, &instruments);
        view.open_orders = view.open_orders.saturating_sub(removed);
        self.risk.check(intent, &view)
    }
}

fn forget_open(
    instruments: &mut BTreeMap<InstrumentId, InstrumentView>,
    instrument: InstrumentId,
    side: Side,
    left: Fixed,
) {
    let Some(view) = instruments.get_mut(&instrument) else {
        return;
    };
    let open = match side {
        Side::Buy => &mut view.open_buy,
        Side::Sell => &mut view.open_sell,
    };
    let rest = open.value().checked_sub(left).unwrap_or(Fixed::ZERO);
    *open = Quantity::new(rest.max(Fixed::ZERO)).unwrap_or(Quantity::ZERO);
}
