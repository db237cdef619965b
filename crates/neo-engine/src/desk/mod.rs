//! The desk: one account's whole trading decision in one synchronous object.
//! It owns the analyst, calibration, Kelly sizing, ATR brackets, pre-trade
//! risk, the paper OMS and the portfolio; it is fed signals, ticks and candles
//! and returns everything that changed as a [`Step`]. `neo run`, the
//! autonomous strategy loop and backtests drive this same desk, so a decision
//! cannot differ between them; the shells only persist and publish a step.
//!
//! A signal becomes at most: one decision, an exit intent (a `close`, or the
//! first half of a reverse), one bracketed entry intent, or a refusal with
//! every reason. Entries are market orders that fill at once against the
//! standing quote; their stop-loss and take-profit then work on every tick.

mod account;
mod config;
mod restore;

use std::collections::BTreeMap;

use neo_domain::contracts::{
    AgentOutputV1, CandleV1, FillV1, OrderIntentV1, OrderRole, OrderType, OrderV1, PositionV1,
    Recommendation, SignalEventV1, TickV1, TimeInForce,
};
use neo_domain::{
    Fixed, IdKind, InstrumentId, MessageId, Money, Price, Quantity, Rounding, Side, Timestamp,
};

use crate::analyst::RuleAnalyst;
use crate::oms::{OmsError, OmsEvent, PaperOms};
use crate::portfolio::{Portfolio, PortfolioError};
use crate::risk::{
    Calibrator, EntryOrder, EntryType, Refusal, RiskEngine, SizingInput, StateChange, size_quantity,
};

pub use account::AccountSummary;
pub use config::{DeskConfig, InstrumentSteps};
pub use restore::Restore;

/// Why the desk could not build or apply a step (a bug or a corrupt store, never bad input).
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    /// A configuration section is invalid.
    #[error("desk config: {0}")]
    Config(String),
    /// The OMS refused an operation the desk believed valid.
    #[error("oms: {0}")]
    Oms(#[from] OmsError),
    /// The portfolio refused a fill.
    #[error("portfolio: {0}")]
    Portfolio(#[from] PortfolioError),
    /// Exact arithmetic overflowed.
    #[error("arithmetic: {0}")]
    Arithmetic(#[from] neo_domain::ArithmeticError),
}

/// Why an entry was not placed, for the audit trail and the notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// Stable codes (`max_position`, `no_edge`, ...).
    pub codes: Vec<String>,
    /// One sentence a trader understands.
    pub message: String,
    /// The intent risk judged, when sizing got that far.
    pub intent: Option<OrderIntentV1>,
    /// The risk engine's full refusal, when risk refused.
    pub risk: Option<Refusal>,
}

/// What the desk remembers about an entry, to report its bracket's result.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryInfo {
    /// The signal that opened it.
    pub signal_id: MessageId,
    /// The sender's alert id, when given.
    pub source_id: Option<String>,
    /// Long (buy) or short (sell).
    pub side: Side,
    /// The bracket's stop-loss: `entry - stop` is one R.
    pub stop_loss: Option<Price>,
    /// The bracket's take-profit.
    pub take_profit: Option<Price>,
    /// The calibrated win probability the trade was sized with.
    pub probability: f64,
}

/// One fill with what a notification about it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct FillReport {
    /// The execution.
    pub fill: FillV1,
    /// The filled order's role (entry, exit, stop-loss, take-profit).
    pub role: OrderRole,
    /// The entry this fill opened or closed, when known.
    pub entry: Option<EntryInfo>,
    /// The entry's average fill price (for a bracket leg's R-multiple).
    pub entry_price: Option<Price>,
}

/// Everything one input changed, in order; the shell persists and publishes it.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The analyst's decision on a signal.
    pub decision: Option<AgentOutputV1>,
    /// Intents risk approved and the OMS took (an exit, then an entry, at most).
    pub intents: Vec<OrderIntentV1>,
    /// Why an entry or exit was not placed.
    pub refusal: Option<Refused>,
    /// Order states, in the order they happened (an order may appear several times).
    pub orders: Vec<OrderV1>,
    /// Fills, in order.
    pub fills: Vec<FillReport>,
    /// Positions after this step's fills, one per instrument that traded.
    pub positions: Vec<PositionV1>,
    /// Trading-state transitions.
    pub state_changes: Vec<StateChange>,
}

impl Step {
    /// True when nothing needs persisting.
    pub fn is_empty(&self) -> bool {
        self.decision.is_none()
            && self.intents.is_empty()
            && self.refusal.is_none()
            && self.orders.is_empty()
            && self.fills.is_empty()
            && self.state_changes.is_empty()
    }
}

/// The account's decision-making and bookkeeping, fed one event at a time.
#[derive(Debug)]
pub struct Desk {
    config: DeskConfig,
    steps: BTreeMap<InstrumentId, InstrumentSteps>,
    analyst: RuleAnalyst,
    calibrator: Calibrator,
    risk: RiskEngine,
    oms: PaperOms,
    portfolio: Portfolio,
    ticks: BTreeMap<InstrumentId, TickV1>,
    entries: BTreeMap<MessageId, EntryInfo>,
}

impl Desk {
    /// A flat account; `steps` gives each tradable instrument's price and lot increments.
    pub fn new(
        config: DeskConfig,
        steps: BTreeMap<InstrumentId, InstrumentSteps>,
        now: Timestamp,
    ) -> Result<Self, DeskError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(DeskError::Config(problems.join("; ")));
        }
        let err = |e: crate::risk::ConfigError| DeskError::Config(e.to_string());
        Ok(Desk {
            analyst: RuleAnalyst::new(config.analyst.clone()).map_err(err)?,
            calibrator: Calibrator::new(config.calibration).map_err(err)?,
            risk: RiskEngine::new(config.risk.clone()).map_err(err)?,
            oms: PaperOms::new(config.oms),
            portfolio: Portfolio::new(&config.currency, config.initial_cash, now)?,
            config,
            steps,
            ticks: BTreeMap::new(),
            entries: BTreeMap::new(),
        })
    }

    /// Feeds a closed candle to the analyst's indicators (and the OMS's ATR).
    pub fn on_candle(&mut self, candle: &CandleV1) {
        self.analyst.on_candle(candle);
        if let Some(atr) = self
            .analyst
            .snapshot(&candle.instrument)
            .and_then(|s| s.atr)
        {
            self.oms.set_atr(candle.instrument, atr);
        }
    }

    /// Works the instrument's orders against a whole bar (a backtest's stops and
    /// targets touched inside it) and marks the account at its close.
    pub fn on_bar(&mut self, candle: &CandleV1) -> Result<Step, DeskError> {
        let mut step = Step::default();
        let events = self.oms.on_candle(candle)?;
        self.apply(events, candle.ts_event, &mut step)?;
        self.portfolio
            .mark(candle.instrument, candle.close, candle.ts_event)?;
        self.watch_equity(candle.ts_event, &mut step)?;
        Ok(step)
    }

    /// Cash plus positions at their latest marks.
    pub fn equity(&self) -> Result<Money, DeskError> {
        Ok(self.portfolio.equity()?)
    }

    /// Marks the account and works the instrument's orders against a tick.
    pub fn on_tick(&mut self, tick: &TickV1) -> Result<Step, DeskError> {
        let mut step = Step::default();
        self.ticks.insert(tick.instrument, tick.clone());
        self.portfolio
            .mark(tick.instrument, tick.price, tick.ts_event)?;
        let events = self.oms.on_tick(tick)?;
        self.apply(events, tick.ts_event, &mut step)?;
        self.watch_equity(tick.ts_event, &mut step)?;
        Ok(step)
    }

    /// Decides on a signal and acts on the decision.
    pub fn on_signal(&mut self, signal: &SignalEventV1, now: Timestamp) -> Result<Step, DeskError> {
        let mut step = Step::default();
        let instrument = signal.instrument;
        let position = self.net(instrument);
        let decision = self.analyst.analyse(signal, position, now);
        let wanted = match decision.recommendation {
            Recommendation::Buy => Some(Side::Buy),
            Recommendation::Sell => Some(Side::Sell),
            Recommendation::Close | Recommendation::Hold => None,
        };
        let reverses = wanted.is_some_and(|side| match side {
            Side::Buy => position.is_negative(),
            Side::Sell => position.is_positive(),
        });
        if decision.recommendation == Recommendation::Close || reverses {
            self.close(signal, &decision, now, &mut step)?;
        }
        if let Some(side) = wanted
            && step.refusal.is_none()
        {
            self.enter(signal, &decision, side, now, &mut step)?;
        }
        step.decision = Some(decision);
        self.watch_equity(now, &mut step)?;
        Ok(step)
    }

    /// Judges an intent against the current account without acting on it
    /// (`POST /v1/risk/check`): the live risk state is not changed.
    pub fn check(&self, intent: OrderIntentV1, now: Timestamp) -> Result<(), Refusal> {
        let instruments = self.instrument_views();
        let view = self.view(now, &instruments);
        let mut risk = self.risk.clone();
        risk.check(intent, &view).map(|_| ())
    }

    /// Signed net position (positive long, negative short).
    pub fn net(&self, instrument: InstrumentId) -> Fixed {
        self.portfolio
            .position(instrument)
            .map_or(Fixed::ZERO, |p| p.quantity)
    }

    /// The latest tick of an instrument.
    pub fn tick(&self, instrument: InstrumentId) -> Option<&TickV1> {
        self.ticks.get(&instrument)
    }

    /// The analyst (for its market snapshots).
    pub fn analyst(&self) -> &RuleAnalyst {
        &self.analyst
    }

    /// Flattens the instrument: cancels its working orders, then a reduce-only market exit.
    fn close(
        &mut self,
        signal: &SignalEventV1,
        decision: &AgentOutputV1,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let instrument = signal.instrument;
        for id in self.oms.active_orders(instrument) {
            let still_working = self.oms.order(id).is_some_and(|o| !o.status.is_terminal());
            if still_working {
                let events = self.oms.cancel(id, now)?;
                self.apply(events, now, step)?;
            }
        }
        let position = self.net(instrument);
        if position.is_zero() {
            return Ok(());
        }
        let side = if position.is_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        let intent = OrderIntentV1 {
            id: MessageId::derived(IdKind::Intent, &format!("{}:exit", decision.id)),
            decision_id: decision.id,
            signal_id: signal.id,
            instrument,
            side,
            quantity: Quantity::new(position.abs())
                .map_err(|_| OmsError::Arithmetic(neo_domain::ArithmeticError::Overflow))?,
            order_type: OrderType::Market,
            limit_price: None,
            stop_price: None,
            stop_loss: None,
            take_profit: None,
            time_in_force: TimeInForce::Gtc,
            reduce_only: true,
            arrival_price: self.quote(instrument, side),
            ts_event: now,
        };
        self.place(intent, None, now, step)
    }

    /// A risk-sized, ATR-bracketed market entry.
    fn enter(
        &mut self,
        signal: &SignalEventV1,
        decision: &AgentOutputV1,
        side: Side,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let instrument = signal.instrument;
        let refuse = |step: &mut Step, code: &str, message: String| {
            step.refusal = Some(Refused {
                codes: vec![code.to_owned()],
                message,
                intent: None,
                risk: None,
            });
        };
        let (Some(entry), Some(steps)) = (
            self.quote(instrument, side),
            self.steps.get(&instrument).copied(),
        ) else {
            refuse(
                step,
                "no_market_data",
                format!("no market data for {instrument}"),
            );
            return Ok(());
        };
        let Some(atr) = self.analyst.snapshot(&instrument).and_then(|s| s.atr) else {
            refuse(
                step,
                "no_atr",
                format!("{instrument}'s ATR is still warming up"),
            );
            return Ok(());
        };
        let bracket = match self
            .config
            .brackets
            .bracket(side, entry, atr, Some(steps.price_step))
        {
            Ok(b) => b,
            Err(e) => {
                refuse(
                    step,
                    "no_bracket",
                    format!("no bracket could be built: {e}"),
                );
                return Ok(());
            }
        };
        let probability = self.calibrator.calibrate(decision.confidence);
        let reward_risk = bracket.reward_risk();
        let drawdown = self.portfolio.drawdown()?.to_f64();
        let limit = self.config.risk.max_drawdown.to_f64();
        let fraction = self
            .config
            .kelly
            .risk_fraction(probability, reward_risk, drawdown, limit);
        let quantity = size_quantity(&SizingInput {
            equity: self.portfolio.equity()?,
            risk_fraction: fraction,
            entry,
            stop: bracket.stop_loss(),
            lot_step: steps.lot_step,
            requested: signal.quantity,
        })
        .map_err(|e| DeskError::Config(e.to_string()))?;
        let quantity = self.within_limits(instrument, side, entry, steps, quantity)?;
        if quantity.is_zero() {
            let message = if fraction > 0.0 {
                format!(
                    "the risk budget ({:.2}% of equity) or the entry cap buys less than one lot of {instrument}",
                    fraction * 100.0
                )
            } else {
                format!(
                    "no edge: win probability {probability:.2} at reward/risk {reward_risk:.2} sizes to zero"
                )
            };
            let code = if fraction > 0.0 {
                "below_lot"
            } else {
                "no_edge"
            };
            refuse(step, code, message);
            return Ok(());
        }
        let intent = bracket.into_intent(EntryOrder {
            id: MessageId::derived(IdKind::Intent, &decision.id.to_string()),
            decision_id: decision.id,
            signal_id: signal.id,
            instrument,
            quantity,
            entry_type: EntryType::Market,
            time_in_force: TimeInForce::Gtc,
            ts_event: now,
        });
        let info = EntryInfo {
            signal_id: signal.id,
            source_id: signal.source_id.clone(),
            side,
            stop_loss: intent.stop_loss,
            take_profit: intent.take_profit,
            probability,
        };
        self.place(intent, Some(info), now, step)
    }

    /// Trims a size to the per-entry notional cap, then to the position and
    /// gross-notional headroom the limits leave, so a large Kelly size becomes a
    /// smaller order rather than a refusal. With no headroom the size is kept, and
    /// risk refuses it with the reason.
    fn within_limits(
        &self,
        instrument: InstrumentId,
        side: Side,
        entry: Price,
        steps: InstrumentSteps,
        quantity: Quantity,
    ) -> Result<Quantity, DeskError> {
        // No entry's notional above `max_entry_fraction` of equity, whatever Kelly says.
        let cap = self
            .portfolio
            .equity()?
            .value()
            .mul_round(self.config.max_entry_fraction, Rounding::TowardZero)?
            .div_round(entry.value(), Rounding::TowardZero)?
            .round_to_step(steps.lot_step.value(), Rounding::TowardZero)?
            .max(Fixed::ZERO);
        let quantity = if cap < quantity.value() {
            Quantity::new(cap).map_err(|_| neo_domain::ArithmeticError::Overflow)?
        } else {
            quantity
        };
        if quantity.is_zero() {
            return Ok(quantity);
        }
        let limits = &self.config.risk;
        let net = self.net(instrument);
        let same_side = match side {
            Side::Buy => net.max(Fixed::ZERO),
            Side::Sell => (-net).max(Fixed::ZERO),
        };
        let position_room = limits
            .max_position_for(&instrument)
            .value()
            .checked_sub(same_side)?;
        let gross = account::gross_notional(&self.instrument_views());
        let notional_room = limits
            .max_gross_notional
            .value()
            .checked_sub(gross)?
            .div_round(entry.value(), Rounding::TowardZero)?;
        let room = position_room
            .min(notional_room)
            .round_to_step(steps.lot_step.value(), Rounding::TowardZero)?;
        if !room.is_positive() || room >= quantity.value() {
            return Ok(quantity);
        }
        Ok(Quantity::new(room).map_err(|_| neo_domain::ArithmeticError::Overflow)?)
    }

    /// Risk-checks an intent; the OMS takes an approved one and it meets the standing quote.
    fn place(
        &mut self,
        intent: OrderIntentV1,
        info: Option<EntryInfo>,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let instruments = self.instrument_views();
        let view = self.view(now, &instruments);
        let approved = match self.risk.check(intent.clone(), &view) {
            Ok(approved) => approved,
            Err(refusal) => {
                step.state_changes.extend(refusal.state_change.clone());
                step.refusal = Some(Refused {
                    codes: refusal.codes().into_iter().map(str::to_owned).collect(),
                    message: refusal.to_string(),
                    intent: Some(intent),
                    risk: Some(refusal),
                });
                return Ok(());
            }
        };
        let submitted = self.oms.submit(approved, now)?;
        if submitted.duplicate {
            return Ok(());
        }
        if let Some(info) = info {
            self.entries.insert(submitted.order_id, info);
        }
        step.intents.push(intent.clone());
        self.apply(submitted.events, now, step)?;
        let events = self.oms.match_standing(intent.instrument, now)?;
        self.apply(events, now, step)
    }

    /// Books OMS events: order states, fills into the portfolio, positions, calibration.
    fn apply(
        &mut self,
        events: Vec<OmsEvent>,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let mut traded: Vec<InstrumentId> = Vec::new();
        let first = step.fills.len();
        for event in events {
            match event {
                OmsEvent::Order(order) => step.orders.push(order),
                OmsEvent::Fill(fill) => {
                    self.portfolio.apply_fill(&fill)?;
                    if !traded.contains(&fill.instrument) {
                        traded.push(fill.instrument);
                    }
                    step.fills.push(self.report(fill));
                }
            }
        }
        for report in &step.fills[first..] {
            let closed_leg = matches!(report.role, OrderRole::StopLoss | OrderRole::TakeProfit)
                && self
                    .oms
                    .order(report.fill.order_id)
                    .is_some_and(|o| o.status.is_terminal());
            if let (true, Some(entry)) = (closed_leg, &report.entry) {
                // One outcome per closed bracket; a poisoned probability is skipped, never fatal.
                let won = report.role == OrderRole::TakeProfit;
                let _ = self.calibrator.record(entry.probability, won);
            }
        }
        for instrument in traded {
            step.positions.retain(|p| p.instrument != instrument);
            step.positions
                .push(self.portfolio.position_contract(instrument, now)?);
        }
        Ok(())
    }

    fn report(&self, fill: FillV1) -> FillReport {
        let order = self.oms.order(fill.order_id);
        let role = order.map_or(OrderRole::Entry, |o| o.role);
        let entry_id = order.map(|o| o.parent_id.unwrap_or(o.id));
        let entry = entry_id.and_then(|id| self.entries.get(&id).cloned());
        let entry_price = entry_id
            .and_then(|id| self.oms.order(id))
            .and_then(|o| o.avg_fill_price);
        FillReport {
            fill,
            role,
            entry,
            entry_price,
        }
    }

    /// Feeds equity to risk; a drawdown halt is reported once.
    fn watch_equity(&mut self, now: Timestamp, step: &mut Step) -> Result<(), DeskError> {
        let equity = self.portfolio.equity()?;
        let hwm = self.portfolio.high_water_mark();
        step.state_changes
            .extend(self.risk.on_equity(equity, hwm, now));
        Ok(())
    }

    /// The price a market order on `side` would get now: the ask to buy, the bid to sell.
    fn quote(&self, instrument: InstrumentId, side: Side) -> Option<Price> {
        let tick = self.ticks.get(&instrument)?;
        Some(match side {
            Side::Buy => tick.ask.unwrap_or(tick.price),
            Side::Sell => tick.bid.unwrap_or(tick.price),
        })
    }
}

#[cfg(test)]
mod tests;
