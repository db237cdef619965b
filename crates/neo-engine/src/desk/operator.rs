//! Operator commands: halt, resume, flatten. Each is a step like any other,
//! so the shell persists, audits and notifies it the same way.

use neo_domain::{IdKind, InstrumentId, MessageId, Timestamp};

use super::exit::ExitCause;
use super::{Desk, DeskError, Step};
use crate::risk::{StateError, TradingState, TradingStatus};

/// Why an operator command was refused.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// Only `active` and `halted` may be asked for; `reducing` is risk's own.
    #[error("an operator may set the trading state to active or halted, not {0}")]
    NotSettable(TradingState),
    /// Risk refused the change (resuming during a drawdown breach).
    #[error(transparent)]
    State(#[from] StateError),
    /// The desk failed while acting (a bug or a corrupt store).
    #[error(transparent)]
    Desk(#[from] DeskError),
}

/// What a flatten did: every instrument it closed and every one risk refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlattenReport {
    /// Instruments whose working orders were cancelled and position closed.
    pub closed: Vec<InstrumentId>,
    /// Instruments risk would not let out (stale data, say), with the codes; their brackets stay.
    pub refused: Vec<(InstrumentId, Vec<String>)>,
}

impl Desk {
    /// The trading state, since when and why.
    pub fn trading_status(&self) -> &TradingStatus {
        self.risk.status()
    }

    /// An operator halts or resumes trading; the step carries the change.
    pub fn set_trading_state(
        &mut self,
        to: TradingState,
        by: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<Step, OperatorError> {
        if to == TradingState::Reducing {
            return Err(OperatorError::NotSettable(to));
        }
        let mut step = Step::default();
        self.roll_day(now, &mut step)?;
        self.watch_equity(now, &mut step)?;
        step.state_changes
            .extend(self.risk.set_state(to, now, by, reason)?);
        self.remember(&mut step);
        Ok(step)
    }

    /// Cancels every working order and closes every position through risk
    /// (allowed while halted). `command` is the operator command's id, from
    /// which the exits' ids derive, so a retried flatten places nothing twice.
    pub fn flatten(
        &mut self,
        command: MessageId,
        now: Timestamp,
    ) -> Result<(Step, FlattenReport), DeskError> {
        let mut step = Step::default();
        self.roll_day(now, &mut step)?;
        // Only what holds something: a position, or orders still working.
        let mut instruments: Vec<InstrumentId> = self
            .portfolio
            .positions()
            .filter(|(_, p)| !p.quantity.is_zero())
            .map(|(id, _)| *id)
            .collect();
        instruments.extend(self.oms.working_instruments());
        instruments.sort();
        instruments.dedup();
        let mut report = FlattenReport::default();
        for instrument in instruments {
            let key = format!("flatten:{command}:{instrument}");
            let cause = ExitCause {
                decision_id: MessageId::derived(IdKind::Other, &key),
                signal_id: command,
            };
            let mut one = Step::default();
            if self.close(instrument, cause, now, &mut one)? {
                report.closed.push(instrument);
            } else if let Some(refused) = one.refusal.take() {
                report.refused.push((instrument, refused.codes));
            }
            step.absorb(one);
        }
        self.finish(now, &mut step)?;
        Ok((step, report))
    }
}

impl Step {
    /// Appends another step's changes (refusals are reported separately).
    fn absorb(&mut self, other: Step) {
        self.intents.extend(other.intents);
        self.orders.extend(other.orders);
        self.fills.extend(other.fills);
        for p in other.positions {
            self.positions.retain(|q| q.instrument != p.instrument);
            self.positions.push(p);
        }
        self.state_changes.extend(other.state_changes);
        self.outcomes.extend(other.outcomes);
    }
}
