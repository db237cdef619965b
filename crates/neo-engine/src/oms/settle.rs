//! Releasing settled orders: a long-running desk must not keep every order it
//! ever placed (about a kilobyte per traded alert, never returned). A group,
//! an entry with its bracket or a lone order, leaves the OMS once all of it is
//! terminal; the store keeps the record. Release happens at the start of the
//! next market step or submission, so whoever drove the step that finished a
//! group still sees its orders while booking that step's events.

use std::collections::BTreeSet;

use neo_domain::MessageId;

use super::PaperOms;

impl PaperOms {
    /// Releases every group whose orders are all terminal, keeping its intent
    /// among the recent ones so a redelivered intent still creates nothing.
    pub(super) fn release_settled(&mut self) {
        if !std::mem::take(&mut self.settling) {
            return;
        }
        let live: BTreeSet<MessageId> = self
            .orders
            .iter()
            .filter(|(_, w)| !w.order.status.is_terminal())
            .map(|(id, w)| w.order.parent_id.unwrap_or(*id))
            .collect();
        let settled: Vec<MessageId> = self
            .orders
            .iter()
            .filter(|(id, w)| !live.contains(&w.order.parent_id.unwrap_or(**id)))
            .map(|(id, _)| *id)
            .collect();
        for id in settled {
            let Some(w) = self.orders.remove(&id) else {
                continue;
            };
            if w.order.parent_id.is_none()
                && let Some(order_id) = self.by_intent.remove(&w.order.intent_id)
            {
                self.settled_intents.insert(w.order.intent_id, order_id);
            }
        }
    }

    /// Orders held now (working ones and groups not yet released).
    pub fn held_orders(&self) -> usize {
        self.orders.len()
    }
}
