//! Rebuilding a desk after a restart from what the store holds: every fill
//! (cash and positions are recomputed exactly), the orders still working with
//! their bracket groups, and what each open entry needs for its notifications.

use neo_domain::MessageId;
use neo_domain::contracts::FillV1;

use super::{Desk, DeskError, EntryInfo};
use crate::oms::RestoredOrder;

/// The durable state a desk resumes from.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    /// Every fill ever booked, oldest first.
    pub fills: Vec<FillV1>,
    /// Bracket groups with a working order (entry and children, whole).
    pub orders: Vec<RestoredOrder>,
    /// Entries by order id, for bracket results.
    pub entries: Vec<(MessageId, EntryInfo)>,
}

impl Desk {
    /// Replays fills into the portfolio and reloads working orders. Run once, before any event.
    pub fn restore(&mut self, state: Restore) -> Result<(), DeskError> {
        for fill in &state.fills {
            self.portfolio.apply_fill(fill)?;
        }
        self.oms.restore(state.orders)?;
        self.entries.extend(state.entries);
        Ok(())
    }
}
