//! The OMS between events: matching a new order against the quote that is
//! standing now (so a market order fills at once instead of waiting for the
//! next tick), what is open per instrument, and rebuilding the working set
//! from stored orders after a restart.

use neo_domain::contracts::{OrderRole, OrderV1};
use neo_domain::{Fixed, InstrumentId, MessageId, Price, Quantity, Rounding, Side, Timestamp};

use super::matching::Quote;
use super::{OmsError, OmsEvent, PaperOms, Working};

/// A stored order and what the OMS needs besides it to keep working it.
#[derive(Debug, Clone, PartialEq)]
pub struct RestoredOrder {
    /// The order as last committed.
    pub order: OrderV1,
    /// How many fills it has had (the next fill's id depends on it).
    pub fills: u32,
    /// For an entry: the bracket (stop-loss, take-profit) from its intent.
    pub bracket: (Option<Price>, Option<Price>),
}

impl PaperOms {
    /// Matches the instrument's working orders against the quote standing at `now`
    /// (the latest tick's bid and ask, which hold until the next tick replaces them).
    /// Orders created at or before `now` see it; traded volume is not counted again.
    pub fn match_standing(
        &mut self,
        instrument: InstrumentId,
        now: Timestamp,
    ) -> Result<Vec<OmsEvent>, OmsError> {
        let Some(&(buy_at, sell_at)) = self.last_quote.get(&instrument) else {
            return Ok(Vec::new());
        };
        let quote = Quote::Tick { buy_at, sell_at };
        self.on_market(instrument, quote, None, now, now, |created| created <= now)
    }

    /// Drops settled orders (terminal, and not the entry of a working bracket) and
    /// their intents, so a backtest of millions of orders keeps bounded memory.
    /// A settled intent submitted again after this is taken as new, so the live
    /// desk, which relies on that duplicate check, never calls it.
    pub fn forget_settled(&mut self) {
        let mut keep: std::collections::BTreeSet<MessageId> = self
            .active
            .values()
            .flatten()
            .flat_map(|id| {
                let parent = self.orders.get(id).and_then(|w| w.order.parent_id);
                std::iter::once(*id).chain(parent)
            })
            .collect();
        // A kept entry's bracket children stay too: syncing the bracket looks them up.
        let children: Vec<MessageId> = keep
            .iter()
            .filter_map(|id| self.orders.get(id))
            .flat_map(|w| w.children.iter().copied())
            .collect();
        keep.extend(children);
        self.orders.retain(|id, _| keep.contains(id));
        self.by_intent.retain(|_, order| keep.contains(order));
    }

    /// Orders the venue remembers, settled or not (what [`PaperOms::forget_settled`] trims).
    pub fn known_orders(&self) -> usize {
        self.orders.len()
    }

    /// Ids of the instrument's working orders, oldest first.
    pub fn active_orders(&self, instrument: InstrumentId) -> Vec<MessageId> {
        self.active.get(&instrument).cloned().unwrap_or_default()
    }

    /// Unfilled quantity of working buy and sell orders on an instrument (for risk).
    pub fn open_quantity(
        &self,
        instrument: InstrumentId,
    ) -> Result<(Quantity, Quantity), OmsError> {
        let (mut buy, mut sell) = (Fixed::ZERO, Fixed::ZERO);
        for id in self.active.get(&instrument).into_iter().flatten() {
            let Some(w) = self.orders.get(id) else {
                continue;
            };
            let left = w
                .order
                .quantity
                .value()
                .checked_sub(w.order.filled_quantity.value())?;
            match w.order.side {
                Side::Buy => buy = buy.checked_add(left)?,
                Side::Sell => sell = sell.checked_add(left)?,
            }
        }
        let q = |v| {
            Quantity::new(v)
                .map_err(|_| OmsError::Arithmetic(neo_domain::ArithmeticError::Overflow))
        };
        Ok((q(buy)?, q(sell)?))
    }

    /// Rebuilds the working set from stored orders: each bracket group whole (the
    /// entry and its children), in creation order. Orders already known are skipped.
    /// A stop-limit that had triggered but not filled waits for its trigger again.
    pub fn restore(&mut self, mut orders: Vec<RestoredOrder>) -> Result<(), OmsError> {
        orders.sort_by_key(|r| (r.order.ts_created, r.order.parent_id.is_some(), r.order.id));
        for r in &orders {
            if self.orders.contains_key(&r.order.id) {
                continue;
            }
            let order = &r.order;
            let filled_notional = match order.avg_fill_price {
                Some(avg) => avg
                    .value()
                    .mul_round(order.filled_quantity.value(), Rounding::HalfEven)?,
                None => Fixed::ZERO,
            };
            let children = orders
                .iter()
                .filter(|c| c.order.parent_id == Some(order.id))
                .map(|c| c.order.id)
                .collect();
            let seq = self.next_seq;
            self.next_seq += 1;
            if matches!(order.role, OrderRole::Entry | OrderRole::Exit) {
                self.by_intent.insert(order.intent_id, order.id);
            }
            if !order.status.is_terminal() {
                self.active
                    .entry(order.instrument)
                    .or_default()
                    .push(order.id);
            }
            let working = Working {
                order: order.clone(),
                seq,
                triggered: false,
                checked: true,
                arrival: order.limit_price.or(order.stop_price),
                filled_notional,
                fills: r.fills,
                bracket: r.bracket,
                children,
            };
            self.orders.insert(order.id, working);
        }
        Ok(())
    }
}
