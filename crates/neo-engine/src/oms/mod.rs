//! The paper order management system. It accepts only risk-approved intents,
//! turns each into exactly one entry order (a redelivered intent is recognised
//! by its id), attaches the stop-loss and take-profit as an OCO pair that
//! activates on the entry's fills, and fills orders against ticks or candles
//! with fees, slippage and optional volume limits. Every change comes back as
//! an [`OmsEvent`], in the order it happened.

mod costs;
mod lifecycle;
mod matching;
mod quality;
mod settle;
mod standing;

use std::collections::BTreeMap;

use neo_domain::contracts::{
    CandleV1, FillV1, Issue, Liquidity, OrderIntentV1, OrderRole, OrderStatus, OrderType, OrderV1,
    TickV1, TimeInForce,
};
use neo_domain::{
    ArithmeticError, Contract, Fixed, IdKind, InstrumentId, MessageId, Money, Price, Quantity,
    Rounding, Timestamp,
};
use serde::Deserialize;

pub use costs::{FeeModel, SlippageModel};
pub use lifecycle::{InvalidTransition, OrderEvent, transition};
pub use quality::{
    ExecutionQuality, QualityGroup, QualityReport, Spread, quality_report, slippage_bps,
};
pub use standing::RestoredOrder;

use crate::recent::Recent;
use crate::risk::RiskApproved;
use matching::{Execution, Match, Quote, Terms, decide};

/// How the paper venue fills.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct OmsConfig {
    /// Fee rates.
    pub fees: FeeModel,
    /// Slippage on liquidity-taking fills.
    pub slippage: SlippageModel,
    /// Only entries slip; exits fill at the quote (a backtest sets the slippage to the
    /// whole round-trip spread, as backtesting.py charges `spread`). Not read from config.
    #[serde(skip)]
    pub entry_only_slippage: bool,
    /// Largest share of one event's traded volume an order may take (0 < x <= 1);
    /// unset means fills are never limited by volume.
    pub max_participation: Option<Fixed>,
}

impl OmsConfig {
    /// Every problem with the configuration, at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = self.fees.validate();
        problems.extend(self.slippage.validate());
        if let Some(p) = self.max_participation
            && (!p.is_positive() || p > Fixed::ONE)
        {
            problems.push(format!(
                "max_participation = {p}: must be above 0 and at most 1"
            ));
        }
        problems
    }
}

/// A change the OMS made.
#[derive(Debug, Clone, PartialEq)]
pub enum OmsEvent {
    /// An order's new state.
    Order(OrderV1),
    /// An execution (followed by the order's new state).
    Fill(FillV1),
}

/// What a submission did.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The entry (or exit) order's id.
    pub order_id: MessageId,
    /// True when the intent had been submitted before: nothing new was created.
    pub duplicate: bool,
    /// The changes, empty for a duplicate.
    pub events: Vec<OmsEvent>,
}

/// Why the OMS could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    /// The intent breaks its contract (it should never have been approved).
    #[error("invalid intent: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidIntent(Vec<Issue>),
    /// No order with that id.
    #[error("unknown order {0}")]
    UnknownOrder(MessageId),
    /// The lifecycle table refused a transition.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// Exact arithmetic overflowed.
    #[error("arithmetic: {0}")]
    Arithmetic(#[from] ArithmeticError),
}

/// An order and what the OMS needs to work it.
#[derive(Debug, Clone)]
struct Working {
    order: OrderV1,
    seq: u64,
    triggered: bool,
    checked: bool,
    arrival: Option<Price>,
    filled_notional: Fixed,
    fills: u32,
    /// On an entry: the bracket prices its children get.
    bracket: (Option<Price>, Option<Price>),
    /// On an entry: its active children.
    children: Vec<MessageId>,
}

/// The paper venue: orders by id, working orders by instrument in submission order.
#[derive(Debug, Default)]
pub struct PaperOms {
    config: OmsConfig,
    orders: BTreeMap<MessageId, Working>,
    by_intent: BTreeMap<MessageId, MessageId>,
    /// Intents of released groups, so a redelivered one still creates nothing.
    settled_intents: Recent<MessageId>,
    /// An order turned terminal since the last release.
    settling: bool,
    active: BTreeMap<InstrumentId, Vec<MessageId>>,
    atr: BTreeMap<InstrumentId, f64>,
    last_price: BTreeMap<InstrumentId, Price>,
    /// The standing quote per instrument (buy at, sell at), from the latest tick.
    last_quote: BTreeMap<InstrumentId, (Price, Price)>,
    next_seq: u64,
}

/// The UTC day number, for DAY time in force.
fn utc_day(ts: Timestamp) -> i64 {
    ts.as_nanos().div_euclid(86_400 * 1_000_000_000)
}

impl PaperOms {
    /// An empty venue.
    pub fn new(config: OmsConfig) -> Self {
        PaperOms {
            config,
            ..PaperOms::default()
        }
    }

    /// The ATR used by ATR-fraction slippage, kept current by the caller.
    pub fn set_atr(&mut self, instrument: InstrumentId, atr: f64) {
        self.atr.insert(instrument, atr);
    }

    /// An order's current state, while the OMS holds it: a group (an entry and
    /// its bracket, or a lone order) is released once all of it is terminal, at
    /// the start of the next market step or submission (the store keeps it).
    pub fn order(&self, id: MessageId) -> Option<&OrderV1> {
        self.orders.get(&id).map(|w| &w.order)
    }

    /// The entry order created for an intent, while the OMS holds it.
    pub fn order_for_intent(&self, intent_id: MessageId) -> Option<&OrderV1> {
        self.by_intent
            .get(&intent_id)
            .and_then(|id| self.order(*id))
    }

    /// Orders still working, across instruments.
    pub fn open_orders(&self) -> usize {
        self.active.values().map(Vec::len).sum()
    }

    /// Instruments with an order still working (restored ones included).
    pub fn working_instruments(&self) -> impl Iterator<Item = InstrumentId> + '_ {
        self.active
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(id, _)| *id)
    }

    /// Takes an approved intent; the same intent again creates nothing.
    pub fn submit(
        &mut self,
        approved: RiskApproved<OrderIntentV1>,
        now: Timestamp,
    ) -> Result<Submitted, OmsError> {
        self.release_settled();
        let intent = approved.into_inner();
        if let Some(&order_id) = self
            .by_intent
            .get(&intent.id)
            .or_else(|| self.settled_intents.get(&intent.id))
        {
            return Ok(Submitted {
                order_id,
                duplicate: true,
                events: Vec::new(),
            });
        }
        let issues = intent.check();
        if !issues.is_empty() {
            return Err(OmsError::InvalidIntent(issues));
        }
        let role = if intent.reduce_only {
            OrderRole::Exit
        } else {
            OrderRole::Entry
        };
        let order = OrderV1 {
            id: MessageId::derived(IdKind::Order, &format!("{}:{}", intent.id, role.as_str())),
            intent_id: intent.id,
            signal_id: intent.signal_id,
            parent_id: None,
            instrument: intent.instrument,
            side: intent.side,
            order_type: intent.order_type,
            role,
            quantity: intent.quantity,
            filled_quantity: Quantity::ZERO,
            avg_fill_price: None,
            limit_price: intent.limit_price,
            stop_price: intent.stop_price,
            time_in_force: intent.time_in_force,
            status: OrderStatus::New,
            reason: None,
            ts_created: now,
            ts_event: now,
        };
        let order_id = order.id;
        let arrival = intent
            .arrival_price
            .or_else(|| self.last_price.get(&intent.instrument).copied());
        let mut events = Vec::with_capacity(2);
        self.open(
            order,
            arrival,
            (intent.stop_loss, intent.take_profit),
            &mut events,
        )?;
        self.by_intent.insert(intent.id, order_id);
        Ok(Submitted {
            order_id,
            duplicate: false,
            events,
        })
    }

    /// Registers a new order and accepts it.
    fn open(
        &mut self,
        order: OrderV1,
        arrival: Option<Price>,
        bracket: (Option<Price>, Option<Price>),
        events: &mut Vec<OmsEvent>,
    ) -> Result<MessageId, OmsError> {
        let id = order.id;
        events.push(OmsEvent::Order(order.clone()));
        let seq = self.next_seq;
        self.next_seq += 1;
        self.active.entry(order.instrument).or_default().push(id);
        let working = Working {
            order,
            seq,
            triggered: false,
            checked: false,
            arrival,
            filled_notional: Fixed::ZERO,
            fills: 0,
            bracket,
            children: Vec::new(),
        };
        self.orders.insert(id, working);
        let ts = self.orders[&id].order.ts_created;
        self.change(id, OrderEvent::Accept, ts, None, events)?;
        Ok(id)
    }

    /// Applies one lifecycle event, emitting the new state; terminal orders leave the working set.
    fn change(
        &mut self,
        id: MessageId,
        event: OrderEvent,
        ts: Timestamp,
        reason: Option<&str>,
        events: &mut Vec<OmsEvent>,
    ) -> Result<(), OmsError> {
        let working = self.orders.get_mut(&id).ok_or(OmsError::UnknownOrder(id))?;
        let order = &mut working.order;
        order.status = transition(order.status, event)?;
        order.ts_event = ts.max(order.ts_created);
        if let Some(reason) = reason {
            order.reason = Some(reason.to_owned());
        }
        let (status, instrument) = (order.status, order.instrument);
        events.push(OmsEvent::Order(order.clone()));
        if status.is_terminal() {
            self.settling = true;
            if let Some(list) = self.active.get_mut(&instrument) {
                list.retain(|o| *o != id);
            }
        }
        Ok(())
    }

    /// Cancels what remains of an order (an entry's children keep protecting what filled).
    pub fn cancel(
        &mut self,
        order_id: MessageId,
        now: Timestamp,
    ) -> Result<Vec<OmsEvent>, OmsError> {
        let mut events = Vec::new();
        self.change(
            order_id,
            OrderEvent::Cancel,
            now,
            Some("cancelled on request"),
            &mut events,
        )?;
        self.sync_bracket(order_id, now, &mut events)?;
        Ok(events)
    }

    /// Matches working orders of the tick's instrument against it.
    pub fn on_tick(&mut self, tick: &TickV1) -> Result<Vec<OmsEvent>, OmsError> {
        self.release_settled();
        self.last_price.insert(tick.instrument, tick.price);
        let (buy_at, sell_at) = (
            tick.ask.unwrap_or(tick.price),
            tick.bid.unwrap_or(tick.price),
        );
        self.last_quote.insert(tick.instrument, (buy_at, sell_at));
        let quote = Quote::Tick { buy_at, sell_at };
        let volume = (!tick.size.is_zero()).then_some(tick.size);
        // Orders submitted at the tick's own instant have not seen it yet.
        self.on_market(
            tick.instrument,
            quote,
            volume,
            tick.ts_event,
            tick.ts_event,
            |created| created < tick.ts_event,
        )
    }

    /// Matches working orders of the candle's instrument against it. An order
    /// created at or before the bar's open sees the whole bar; a fill at the
    /// open is stamped with the open time, one inside the range with the close.
    pub fn on_candle(&mut self, candle: &CandleV1) -> Result<Vec<OmsEvent>, OmsError> {
        self.release_settled();
        self.last_price.insert(candle.instrument, candle.close);
        let quote = Quote::Bar {
            open: candle.open,
            high: candle.high,
            low: candle.low,
        };
        let volume = (!candle.volume.is_zero()).then_some(candle.volume);
        self.on_market(
            candle.instrument,
            quote,
            volume,
            candle.ts_open,
            candle.ts_event,
            |created| created <= candle.ts_open,
        )
    }

    fn on_market(
        &mut self,
        instrument: InstrumentId,
        quote: Quote,
        volume: Option<Quantity>,
        ts_open: Timestamp,
        ts_close: Timestamp,
        sees: impl Fn(Timestamp) -> bool,
    ) -> Result<Vec<OmsEvent>, OmsError> {
        let mut events = Vec::new();
        let mut done: Vec<MessageId> = Vec::new();
        loop {
            // Decide every eligible order against this event, then execute the earliest:
            // fills at the open come first, then by submission (so a stop-loss that shares
            // a bar with its take-profit is assumed hit first: the pessimistic reading).
            let candidates: Vec<MessageId> =
                self.active.get(&instrument).cloned().unwrap_or_default();
            let mut best: Option<(bool, u64, MessageId, Execution)> = None;
            for id in candidates {
                if done.contains(&id) {
                    continue;
                }
                let Some(w) = self.orders.get(&id) else {
                    continue;
                };
                if !sees(w.order.ts_created) {
                    continue;
                }
                if w.order.time_in_force == TimeInForce::Day
                    && utc_day(ts_close) > utc_day(w.order.ts_created)
                {
                    self.change(
                        id,
                        OrderEvent::Expire,
                        ts_open,
                        Some("day order expired"),
                        &mut events,
                    )?;
                    self.sync_bracket(id, ts_open, &mut events)?;
                    done.push(id);
                    continue;
                }
                let terms = Terms {
                    side: w.order.side,
                    order_type: w.order.order_type,
                    limit: w.order.limit_price,
                    stop: w.order.stop_price,
                    triggered: w.triggered,
                    first_check: !w.checked,
                };
                match decide(&terms, quote) {
                    Match::Execute(exec) => {
                        let key = (!exec.at_open, w.seq);
                        if best.as_ref().is_none_or(|b| key < (b.0, b.1)) {
                            best = Some((key.0, key.1, id, exec));
                        }
                    }
                    Match::Triggered => {
                        if let Some(w) = self.orders.get_mut(&id) {
                            w.triggered = true;
                        }
                        self.after_check(id, ts_open, &mut events, &mut done)?;
                    }
                    Match::None => self.after_check(id, ts_open, &mut events, &mut done)?,
                }
            }
            let Some((_, _, id, exec)) = best else { break };
            let ts = if exec.at_open { ts_open } else { ts_close };
            self.execute(id, exec, volume, ts, &mut events)?;
            self.after_check(id, ts, &mut events, &mut done)?;
        }
        Ok(events)
    }

    /// After an order's first look at the market: IOC and FOK cancel what did not fill.
    fn after_check(
        &mut self,
        id: MessageId,
        ts: Timestamp,
        events: &mut Vec<OmsEvent>,
        done: &mut Vec<MessageId>,
    ) -> Result<(), OmsError> {
        done.push(id);
        let Some(w) = self.orders.get_mut(&id) else {
            return Ok(());
        };
        let first = !w.checked;
        w.checked = true;
        let immediate = matches!(w.order.time_in_force, TimeInForce::Ioc | TimeInForce::Fok);
        if first && immediate && !w.order.status.is_terminal() {
            self.change(
                id,
                OrderEvent::Cancel,
                ts,
                Some("unfilled remainder of an immediate order"),
                events,
            )?;
            self.sync_bracket(id, ts, events)?;
        }
        Ok(())
    }

    /// Fills as much of the order as the event allows.
    fn execute(
        &mut self,
        id: MessageId,
        exec: Execution,
        volume: Option<Quantity>,
        ts: Timestamp,
        events: &mut Vec<OmsEvent>,
    ) -> Result<(), OmsError> {
        let config = self.config;
        let w = self.orders.get(&id).ok_or(OmsError::UnknownOrder(id))?;
        let remaining = w
            .order
            .quantity
            .value()
            .checked_sub(w.order.filled_quantity.value())?;
        let available = match (config.max_participation, volume) {
            (Some(share), Some(volume)) => volume
                .value()
                .mul_round(share, Rounding::TowardZero)?
                .min(remaining),
            _ => remaining,
        };
        if w.order.time_in_force == TimeInForce::Fok && available < remaining {
            return Ok(());
        }
        if !available.is_positive() {
            return Ok(());
        }
        let side = w.order.side;
        let slips = !config.entry_only_slippage || w.order.role == OrderRole::Entry;
        let price = match exec.liquidity {
            Liquidity::Taker if slips => config.slippage.apply(
                exec.price,
                side,
                self.atr.get(&w.order.instrument).copied(),
            )?,
            Liquidity::Taker | Liquidity::Maker => exec.price,
        };
        let qty = Quantity::new(available).map_err(|_| ArithmeticError::Overflow)?;
        let notional = Money::notional(price, qty)?;
        let fee = config.fees.fee(notional, exec.liquidity)?;
        let w = self.orders.get_mut(&id).ok_or(OmsError::UnknownOrder(id))?;
        w.fills += 1;
        w.filled_notional = w.filled_notional.checked_add(notional.value())?;
        let filled = w.order.filled_quantity.value().checked_add(available)?;
        w.order.filled_quantity = Quantity::new(filled).map_err(|_| ArithmeticError::Overflow)?;
        let avg = w.filled_notional.div_round(filled, Rounding::HalfEven)?;
        w.order.avg_fill_price = Some(Price::new(avg).map_err(|_| ArithmeticError::Overflow)?);
        let fill = FillV1 {
            id: MessageId::derived(IdKind::Fill, &format!("{id}:{}", w.fills)),
            order_id: id,
            signal_id: w.order.signal_id,
            instrument: w.order.instrument,
            side,
            price,
            quantity: qty,
            fee,
            liquidity: exec.liquidity,
            arrival_price: w.arrival,
            ts_event: ts,
        };
        let event = if filled == w.order.quantity.value() {
            OrderEvent::Fill
        } else {
            OrderEvent::PartialFill
        };
        events.push(OmsEvent::Fill(fill));
        self.change(id, event, ts, None, events)?;
        self.sync_bracket(id, ts, events)
    }

    /// Keeps an entry's OCO children covering exactly the open part of its fills:
    /// created on the first entry fill, amended as more fills arrive or a child
    /// partly fills, and cancelled together once the position they protect is closed.
    fn sync_bracket(
        &mut self,
        id: MessageId,
        ts: Timestamp,
        events: &mut Vec<OmsEvent>,
    ) -> Result<(), OmsError> {
        let Some(entry_id) = self
            .orders
            .get(&id)
            .map(|w| w.order.parent_id.unwrap_or(id))
        else {
            return Ok(());
        };
        let Some(entry) = self.orders.get(&entry_id) else {
            return Ok(());
        };
        let (stop_loss, take_profit) = entry.bracket;
        if entry.order.filled_quantity.is_zero() || (stop_loss.is_none() && take_profit.is_none()) {
            return Ok(());
        }
        if entry.children.is_empty() {
            return self.open_children(entry_id, ts, events);
        }
        let children = entry.children.clone();
        let mut open = entry.order.filled_quantity.value();
        for child in &children {
            open = open.checked_sub(self.orders[child].order.filled_quantity.value())?;
        }
        if !open.is_positive() {
            // The bracket closed the position: cancel the sibling and what is left of the entry.
            for child in children.iter().chain(std::iter::once(&entry_id)) {
                if !self.orders[child].order.status.is_terminal() {
                    self.change(
                        *child,
                        OrderEvent::Cancel,
                        ts,
                        Some("position closed by its bracket"),
                        events,
                    )?;
                }
            }
            return Ok(());
        }
        for child in children {
            let w = self
                .orders
                .get_mut(&child)
                .ok_or(OmsError::UnknownOrder(child))?;
            let wanted = w.order.filled_quantity.value().checked_add(open)?;
            if !w.order.status.is_terminal() && wanted != w.order.quantity.value() {
                w.order.quantity = Quantity::new(wanted).map_err(|_| ArithmeticError::Overflow)?;
                self.change(child, OrderEvent::Amend, ts, None, events)?;
            }
        }
        Ok(())
    }

    fn open_children(
        &mut self,
        entry_id: MessageId,
        ts: Timestamp,
        events: &mut Vec<OmsEvent>,
    ) -> Result<(), OmsError> {
        let entry = &self.orders[&entry_id];
        let (stop_loss, take_profit) = entry.bracket;
        let parent = entry.order.clone();
        let legs = [
            (OrderRole::StopLoss, OrderType::Stop, stop_loss),
            (OrderRole::TakeProfit, OrderType::Limit, take_profit),
        ];
        let mut ids = Vec::with_capacity(2);
        for (role, order_type, price) in legs {
            let Some(price) = price else { continue };
            let (limit_price, stop_price) = if order_type == OrderType::Stop {
                (None, Some(price))
            } else {
                (Some(price), None)
            };
            let child = OrderV1 {
                id: MessageId::derived(
                    IdKind::Order,
                    &format!("{}:{}", parent.intent_id, role.as_str()),
                ),
                parent_id: Some(parent.id),
                side: parent.side.opposite(),
                order_type,
                role,
                quantity: parent.filled_quantity,
                filled_quantity: Quantity::ZERO,
                avg_fill_price: None,
                limit_price,
                stop_price,
                time_in_force: TimeInForce::Gtc,
                status: OrderStatus::New,
                reason: None,
                ts_created: ts,
                ts_event: ts,
                ..parent.clone()
            };
            // A child's execution quality is measured against its own trigger price.
            ids.push(self.open(child, Some(price), (None, None), events)?);
        }
        if let Some(entry) = self.orders.get_mut(&entry_id) {
            entry.children = ids;
        }
        Ok(())
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
