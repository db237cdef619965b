//! The pre-trade check and the trading state it guards.
//!
//! # Rules
//!
//! An order *reduces exposure* when it is on the opposite side of the current
//! net position and its quantity, plus the open orders already working on its
//! side, is at most `|position|` (so two exits cannot together flip the
//! position). Reductions are exempt from the exposure checks (max position,
//! gross notional, daily loss, brackets, allow-list: a position left in an
//! instrument removed from the list can still be closed). Every order, reducing
//! or not, is subject to: its own contract rules, the trading state, market
//! data freshness and the open-order count.
//!
//! # Trading state
//!
//! See [`state`](super::state): `ACTIVE` passes everything within the limits;
//! `REDUCING` (at half the drawdown limit) and `HALTED` (at the limit, or by an
//! operator) refuse nothing that only reduces a position, so the way out is
//! never blocked. `HALTED` refuses all new exposure; `REDUCING` lets entries
//! through for the desk to size at the Kelly floor.
//!
//! Drawdown is measured from the caller's high-water mark (the portfolio's peak
//! equity since the day started, day-start equity included, so it is the day's
//! drawdown). When it *reaches* `max_drawdown`, the engine halts by itself,
//! once per breach. While the drawdown stays at or beyond the limit an operator
//! cannot resume `ACTIVE`. `HALTED` never resets silently:
//! [`RiskEngine::start_day`] (the day roll) lifts a drawdown halt, and an
//! operator's own halt stays until an operator lifts it.

use std::collections::BTreeMap;

use neo_domain::contracts::{OrderIntentV1, OrderType};
use neo_domain::{
    Contract, Fixed, InstrumentId, Money, Price, Quantity, Rounding, Side, Timestamp,
};

use super::ConfigError;
use super::approved::RiskApproved;
use super::limits::RiskLimits;
use super::refusal::{Refusal, RefusalReason};
use super::state::{RiskMemory, StateCause, StateChange, StateError, TradingState, TradingStatus};

/// The last market price of an instrument and when it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    /// The last trade or mid price.
    pub price: Price,
    /// When it was observed (market data time).
    pub at: Timestamp,
}

/// What risk needs to know about one instrument; filled by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InstrumentView {
    /// Signed net position: positive long, negative short.
    pub net_quantity: Fixed,
    /// Quantity of open buy orders (they may still fill).
    pub open_buy: Quantity,
    /// Quantity of open sell orders (they may still fill).
    pub open_sell: Quantity,
    /// The last market data, if any arrived.
    pub mark: Option<Mark>,
}

/// A snapshot of the account at check time, computed by portfolio and market.
#[derive(Debug, Clone, Copy)]
pub struct AccountView<'a> {
    /// Now, from the caller's clock (never read here).
    pub now: Timestamp,
    /// Current equity (cash plus marked positions).
    pub equity: Money,
    /// Equity at the start of the trading day (for the daily loss).
    pub day_start_equity: Money,
    /// Peak equity since the day started (for the drawdown).
    pub high_water_mark: Money,
    /// Sum of |position| x mark over all instruments (add open orders to count them).
    pub gross_notional: Money,
    /// Orders open now.
    pub open_orders: u32,
    /// Per-instrument state; an absent instrument is flat with no market data.
    pub instruments: &'a BTreeMap<InstrumentId, InstrumentView>,
}

impl AccountView<'_> {
    /// The view of one instrument (flat, no data, when absent).
    pub fn instrument(&self, id: &InstrumentId) -> InstrumentView {
        self.instruments.get(id).copied().unwrap_or_default()
    }

    /// The day's drawdown as a fraction of the high-water mark.
    pub fn drawdown(&self) -> Fixed {
        drawdown(self.equity, self.high_water_mark)
    }
}

/// Drawdown `(peak - equity) / peak`, rounded up, never negative.
///
/// The peak is the larger of `high_water_mark` and `equity` (a lagging mark
/// is not a gain). A peak that is not positive counts as a full drawdown (1):
/// there is nothing left to risk.
pub fn drawdown(equity: Money, high_water_mark: Money) -> Fixed {
    let (equity, peak) = (equity.value(), high_water_mark.value().max(equity.value()));
    if !peak.is_positive() {
        return Fixed::ONE;
    }
    peak.checked_sub(equity)
        .and_then(|loss| loss.div_round(peak, Rounding::Ceiling))
        .unwrap_or(Fixed::MAX)
}

/// Pre-trade risk: the limits, the trading state, and the check itself.
#[derive(Debug, Clone)]
pub struct RiskEngine {
    limits: RiskLimits,
    max_age_nanos: i64,
    memory: RiskMemory,
}

impl RiskEngine {
    /// An engine in `ACTIVE`, with limits checked first.
    pub fn new(limits: RiskLimits) -> Result<Self, ConfigError> {
        limits.validate()?;
        Ok(RiskEngine {
            max_age_nanos: limits.max_data_age_nanos(),
            limits,
            memory: RiskMemory::start(Timestamp::EPOCH),
        })
    }

    /// The limits in force.
    pub fn limits(&self) -> &RiskLimits {
        &self.limits
    }

    /// Replaces the limits (config reload); the old ones stay when the new are invalid.
    pub fn set_limits(&mut self, limits: RiskLimits) -> Result<(), ConfigError> {
        limits.validate()?;
        self.max_age_nanos = limits.max_data_age_nanos();
        self.limits = limits;
        Ok(())
    }

    /// The current trading state.
    pub fn state(&self) -> TradingState {
        self.memory.status.state
    }

    /// The state with since when and why.
    pub fn status(&self) -> &TradingStatus {
        &self.memory.status
    }

    /// What the state machine remembers, to persist.
    pub fn memory(&self) -> &RiskMemory {
        &self.memory
    }

    /// Resumes from persisted memory (a restart).
    pub fn restore(&mut self, memory: RiskMemory) {
        self.memory = memory;
    }

    /// The drawdown at which trading reduces by itself: half the limit.
    pub fn reducing_threshold(&self) -> Fixed {
        self.limits
            .max_drawdown
            .div_round(Fixed::from_int(2), Rounding::Ceiling)
            .unwrap_or(self.limits.max_drawdown)
    }

    /// Feeds a new equity figure: halts once when the drawdown reaches the
    /// limit, reduces at half of it and returns to active below that.
    pub fn on_equity(
        &mut self,
        equity: Money,
        high_water_mark: Money,
        at: Timestamp,
    ) -> Option<StateChange> {
        let dd = drawdown(equity, high_water_mark);
        let limit = self.limits.max_drawdown;
        let threshold = self.reducing_threshold();
        let state = self.state();
        if dd >= limit {
            let first = self.memory.breach.is_none();
            self.memory.breach = Some(dd);
            if !first || state == TradingState::Halted {
                return None;
            }
            let cause = StateCause::Drawdown {
                drawdown: dd,
                limit,
            };
            return Some(self.memory.transition(TradingState::Halted, at, cause));
        }
        self.memory.breach = None;
        let automatic = self.memory.automatic();
        match state {
            TradingState::Active if dd >= threshold => {
                let cause = StateCause::DrawdownReducing {
                    drawdown: dd,
                    threshold,
                };
                Some(self.memory.transition(TradingState::Reducing, at, cause))
            }
            TradingState::Reducing if automatic && dd < threshold => {
                let cause = StateCause::DrawdownEased {
                    drawdown: dd,
                    threshold,
                };
                Some(self.memory.transition(TradingState::Active, at, cause))
            }
            _ => None,
        }
    }

    /// An operator's state change; refuses `ACTIVE` while the drawdown is beyond its limit.
    pub fn set_state(
        &mut self,
        to: TradingState,
        at: Timestamp,
        by: &str,
        reason: &str,
    ) -> Result<Option<StateChange>, StateError> {
        if let (TradingState::Active, Some(drawdown)) = (to, self.memory.breach) {
            return Err(StateError::DrawdownBeyondLimit {
                drawdown,
                limit: self.limits.max_drawdown,
            });
        }
        if to == self.state() {
            return Ok(None);
        }
        let cause = StateCause::Operator {
            by: by.to_owned(),
            reason: reason.to_owned(),
        };
        Ok(Some(self.memory.transition(to, at, cause)))
    }

    /// The day roll: clears the breach latch and lifts a drawdown halt.
    ///
    /// An operator's halt stays. If the caller keeps the old high-water mark
    /// the next check halts again, as it should.
    pub fn start_day(&mut self, at: Timestamp) -> Option<StateChange> {
        self.memory.breach = None;
        let by_drawdown = matches!(self.memory.status.cause, StateCause::Drawdown { .. });
        if self.state() != TradingState::Halted || !by_drawdown {
            return None;
        }
        Some(
            self.memory
                .transition(TradingState::Active, at, StateCause::NewDay),
        )
    }

    /// Runs every check; approves the intent or lists every reason it fails.
    ///
    /// Updates the drawdown state from the view first, so a breach halts
    /// before the order is judged (and the change is reported in the refusal).
    pub fn check(
        &mut self,
        intent: OrderIntentV1,
        view: &AccountView<'_>,
    ) -> Result<RiskApproved<OrderIntentV1>, Refusal> {
        let state_change = self.on_equity(view.equity, view.high_water_mark, view.now);
        let mut reasons = Vec::new();
        self.collect(&intent, view, &mut reasons);
        if reasons.is_empty() {
            return Ok(RiskApproved::new(intent));
        }
        Err(Refusal {
            reasons,
            state: self.state(),
            state_change,
            intent: Box::new(intent),
        })
    }

    fn collect(
        &self,
        intent: &OrderIntentV1,
        view: &AccountView<'_>,
        out: &mut Vec<RefusalReason>,
    ) {
        let issues = intent.check();
        if !issues.is_empty() {
            out.push(RefusalReason::InvalidIntent { issues });
        }
        let inst = view.instrument(&intent.instrument);
        let position = inst.net_quantity;
        let qty = intent.quantity;
        let same_side_open = match intent.side {
            Side::Buy => inst.open_buy,
            Side::Sell => inst.open_sell,
        };
        let working = qty.checked_add(same_side_open);
        let reduces = working.is_ok_and(|w| reduces_exposure(intent.side, position, w));

        match self.state() {
            TradingState::Halted if !reduces => out.push(RefusalReason::TradingHalted),
            _ => {}
        }
        if intent.reduce_only && !reduces {
            out.push(RefusalReason::ReduceOnlyWouldIncrease {
                position,
                quantity: working.unwrap_or(qty),
            });
        }
        if !reduces {
            if self.limits.require_brackets
                && (intent.stop_loss.is_none() || intent.take_profit.is_none())
            {
                out.push(RefusalReason::MissingBrackets {
                    stop_loss: intent.stop_loss.is_none(),
                    take_profit: intent.take_profit.is_none(),
                });
            }
            if let Some(list) = &self.limits.allow_list
                && !list.contains(&intent.instrument)
            {
                out.push(RefusalReason::InstrumentNotAllowed {
                    instrument: intent.instrument,
                });
            }
        }
        self.check_market_data(intent, view.now, inst.mark, out);
        if view.open_orders >= self.limits.max_open_orders {
            out.push(RefusalReason::MaxOpenOrders {
                limit: self.limits.max_open_orders,
                open: view.open_orders,
            });
        }
        if !reduces {
            self.check_exposure(intent, view, inst, out);
        }
    }

    fn check_market_data(
        &self,
        intent: &OrderIntentV1,
        now: Timestamp,
        mark: Option<Mark>,
        out: &mut Vec<RefusalReason>,
    ) {
        let instrument = intent.instrument;
        let Some(mark) = mark else {
            out.push(RefusalReason::NoMarketData { instrument });
            return;
        };
        let age_nanos = now.nanos_since(mark.at);
        if age_nanos > self.max_age_nanos {
            out.push(RefusalReason::StaleMarketData {
                instrument,
                age_nanos,
                max_age_nanos: self.max_age_nanos,
            });
        }
    }

    fn check_exposure(
        &self,
        intent: &OrderIntentV1,
        view: &AccountView<'_>,
        inst: InstrumentView,
        out: &mut Vec<RefusalReason>,
    ) {
        let overflow = |what| RefusalReason::ArithmeticOverflow { what };
        let qty = intent.quantity.value();
        let mark = inst.mark.map(|m| m.price);
        let price = match intent.order_type {
            OrderType::Limit | OrderType::StopLimit => intent.limit_price,
            OrderType::Stop => intent.stop_price,
            OrderType::Market => mark,
        }
        .or(mark);
        match headroom(&self.limits, view, intent.instrument, intent.side, price) {
            Ok(room) => {
                if qty > room.position {
                    let limit = self.limits.max_position_for(&intent.instrument);
                    let projected = limit
                        .value()
                        .checked_sub(room.position)
                        .and_then(|used| used.checked_add(qty))
                        .ok()
                        .and_then(|p| Quantity::new(p.abs()).ok());
                    match projected {
                        Some(projected) => out.push(RefusalReason::MaxPosition {
                            instrument: intent.instrument,
                            limit,
                            projected,
                        }),
                        None => out.push(overflow("projected position")),
                    }
                }
                if let (Some(gross_room), Some(price)) = (room.gross, price)
                    && qty > gross_room
                {
                    let limit = self.limits.max_gross_notional;
                    let projected = price
                        .value()
                        .abs()
                        .mul_round(
                            qty.checked_sub(gross_room).unwrap_or(qty),
                            Rounding::Ceiling,
                        )
                        .and_then(|over| limit.value().checked_add(over))
                        .ok()
                        .and_then(|p| Money::new(p).ok());
                    match projected {
                        Some(projected) => {
                            out.push(RefusalReason::MaxGrossNotional { limit, projected })
                        }
                        None => out.push(overflow("projected gross notional")),
                    }
                }
            }
            Err(_) => out.push(overflow("exposure headroom")),
        }

        match view
            .day_start_equity
            .value()
            .checked_sub(view.equity.value())
        {
            Ok(loss) if loss >= self.limits.daily_loss_limit.value() => {
                out.push(RefusalReason::DailyLossLimit {
                    limit: self.limits.daily_loss_limit,
                    loss: Money::new(loss).unwrap_or(Money::ZERO),
                });
            }
            Ok(_) => {}
            Err(_) => out.push(overflow("daily loss")),
        }

        let own_reference = intent
            .limit_price
            .or(intent.stop_price)
            .or(intent.arrival_price);
        if let (None, Some(mark), Some(sl), Some(tp)) =
            (own_reference, mark, intent.stop_loss, intent.take_profit)
        {
            let straddles = match intent.side {
                Side::Buy => sl < mark && mark < tp,
                Side::Sell => tp < mark && mark < sl,
            };
            if !straddles {
                out.push(RefusalReason::BracketsNotAroundMark { mark });
            }
        }
    }
}

/// Room under the exposure limits for one more order on a side, open orders counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Headroom {
    /// Quantity that keeps `|position + open orders + order|` within `max_position`.
    pub position: Fixed,
    /// Quantity that keeps gross notional (positions and open orders on the side)
    /// within `max_gross_notional`; `None` with no price to value it at.
    pub gross: Option<Fixed>,
}

impl Headroom {
    /// The quantity both limits allow (never negative).
    pub fn quantity(&self) -> Fixed {
        self.gross
            .map_or(self.position, |g| g.min(self.position))
            .max(Fixed::ZERO)
    }
}

/// How much an order on `side` may add under the position and gross-notional
/// limits, counting the open orders on its side. The desk sizes entries with it
/// and risk refuses what exceeds it, so the two can never disagree.
pub fn headroom(
    limits: &RiskLimits,
    view: &AccountView<'_>,
    instrument: InstrumentId,
    side: Side,
    price: Option<Price>,
) -> Result<Headroom, neo_domain::ArithmeticError> {
    let inst = view.instrument(&instrument);
    let (toward, open_same) = match side {
        Side::Buy => (inst.net_quantity, inst.open_buy.value()),
        Side::Sell => (-inst.net_quantity, inst.open_sell.value()),
    };
    // A limit near the top of the range minus a negative use is "no limit", not an error.
    let room = |limit: Fixed, used: Fixed| match limit.checked_sub(used) {
        Ok(room) => room,
        Err(_) if used.is_negative() => Fixed::MAX,
        Err(_) => Fixed::MIN,
    };
    let position = room(
        limits.max_position_for(&instrument).value(),
        toward.checked_add(open_same)?,
    );
    let gross = match price.map(|p| p.value().abs()).filter(|p| p.is_positive()) {
        Some(price) => {
            let used = view
                .gross_notional
                .value()
                .checked_add(open_same.mul_round(price, Rounding::Ceiling)?)?;
            let left = room(limits.max_gross_notional.value(), used);
            Some(
                left.div_round(price, Rounding::TowardZero)
                    .unwrap_or(if left.is_negative() {
                        Fixed::MIN
                    } else {
                        Fixed::MAX
                    }),
            )
        }
        None => None,
    };
    Ok(Headroom { position, gross })
}

/// Whether an order of `side` for `quantity` (with open orders on its side)
/// only shrinks the signed `position`, never crossing zero.
pub(crate) fn reduces_exposure(side: Side, position: Fixed, quantity: Quantity) -> bool {
    let qty = quantity.value();
    match side {
        Side::Buy => position.is_negative() && qty <= position.abs(),
        Side::Sell => position.is_positive() && qty <= position,
    }
}
