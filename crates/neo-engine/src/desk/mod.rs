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
mod briefing;
mod config;
mod entry;
mod exit;
mod memory;
mod operator;
mod research;
mod scorecard;

use std::collections::BTreeMap;

use neo_domain::contracts::{
    AgentOutputV1, CandleV1, FillV1, OrderIntentV1, OrderRole, OrderV1, PositionV1, Recommendation,
    SignalEventV1, TickV1,
};
use neo_domain::{Fixed, InstrumentId, MessageId, Money, Price, Side, Timestamp};
use serde::{Deserialize, Serialize};

use crate::analyst::policy::{self, Missing, Policy, Weights};
use crate::analyst::{RuleAnalyst, Switches};
use crate::flags::{ClosedTrip, FlagName, Flags, GuardSample, RuleKind, signal_unit};
use crate::oms::{OmsError, OmsEvent, PaperOms};
use crate::portfolio::{Portfolio, PortfolioError};
use crate::risk::{
    Calibrator, Refusal, RiskApproved, RiskEngine, SizingDecision, SizingError, StateChange,
};

pub use account::AccountSummary;
pub use config::{DeskConfig, InstrumentSteps};
pub use entry::{HORIZON_BARS, bracket_probability};
pub use memory::{DeskMemory, OpenTrip, Restore, TripOutcome};
pub use operator::{FlattenReport, OperatorError};
pub use research::ResearchOrder;
pub use scorecard::{Figures, Scorecard};

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
    /// Sizing could not compute a quantity (a zero lot step or stop distance).
    #[error("sizing: {0}")]
    Sizing(#[from] SizingError),
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// The model's own win probability for the bracket, before calibration
    /// (what the calibrator learns from).
    pub raw_confidence: f64,
    /// The calibrated win probability the trade was sized with.
    pub probability: f64,
    /// The flags on for the entry's unit when it was taken (its guards judge them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<FlagName>,
}

impl Refused {
    /// A refusal that risk gave, with every reason.
    pub(crate) fn from_risk(intent: OrderIntentV1, refusal: Refusal) -> Self {
        Refused {
            codes: refusal.codes().into_iter().map(str::to_owned).collect(),
            message: refusal.to_string(),
            intent: Some(intent),
            risk: Some(refusal),
        }
    }
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

/// Other agents' answers on a signal and how to combine them with the rule analyst's.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// How the answers combine.
    pub policy: Policy,
    /// The LLM agent's answer, or why there is none.
    pub llm: Result<AgentOutputV1, Missing>,
    /// The agents' track-record weights (for [`Policy::Weighted`]).
    pub weights: Weights,
}

/// Everything one input changed, in order; the shell persists and publishes it.
#[derive(Debug, Clone, Default)]
pub struct Step {
    /// The decision on a signal: the rule analyst's, or the agents' combined by policy.
    pub decision: Option<AgentOutputV1>,
    /// The rule analyst's own output, when other agents' advice was combined with it.
    pub rule_output: Option<AgentOutputV1>,
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
    /// How the entry was sized, when sizing ran.
    pub sizing: Option<SizingDecision>,
    /// Round trips that closed, as the calibrator learned them.
    pub outcomes: Vec<TripOutcome>,
    /// The desk's durable memory, when this step changed it (commit it with the step).
    pub memory: Option<DeskMemory>,
    /// Observations for the flags' guard rules (not persisted).
    pub samples: Vec<GuardSample>,
    /// Round trips that closed, with the flags their entries were taken under (for A/B cohorts).
    pub closed: Vec<ClosedTrip>,
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
            && self.outcomes.is_empty()
            && self.memory.is_none()
    }

    /// Records a refusal the desk itself made (before risk was asked).
    pub(crate) fn refuse(&mut self, code: &str, message: String) {
        self.refusal = Some(Refused {
            codes: vec![code.to_owned()],
            message,
            intent: None,
            risk: None,
        });
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
    trips: BTreeMap<InstrumentId, OpenTrip>,
    scorecard: Scorecard,
    persisted: Option<DeskMemory>,
    flags: Flags,
    /// Guard samples made outside a step (closed candles), with their bar's time, until taken.
    pending_samples: Vec<(GuardSample, Timestamp)>,
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
        let mut portfolio = Portfolio::new(&config.currency, config.initial_cash, now)?;
        portfolio.set_day_start(config.day_start_nanos(), now);
        let mut risk = RiskEngine::new(config.risk.clone()).map_err(err)?;
        risk.restore(crate::risk::RiskMemory::start(now));
        let mut desk = Desk {
            analyst: RuleAnalyst::new(config.analyst.clone()).map_err(err)?,
            calibrator: Calibrator::new(config.calibration).map_err(err)?,
            risk,
            oms: PaperOms::new(config.oms),
            portfolio,
            config,
            steps,
            ticks: BTreeMap::new(),
            entries: BTreeMap::new(),
            trips: BTreeMap::new(),
            scorecard: Scorecard::default(),
            persisted: None,
            flags: Flags::standard(),
            pending_samples: Vec::new(),
        };
        // A new desk's memory is what an empty store restores to: nothing to persist yet.
        desk.persisted = Some(desk.memory());
        Ok(desk)
    }

    /// Feeds a closed candle to the analyst's indicators (and the OMS's ATR).
    pub fn on_candle(&mut self, candle: &CandleV1) {
        self.score_bar(candle);
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
        self.roll_day(candle.ts_event, &mut step)?;
        let events = self.oms.on_candle(candle)?;
        self.apply(events, candle.ts_event, &mut step)?;
        self.portfolio
            .mark(candle.instrument, candle.close, candle.ts_event)?;
        self.finish(candle.ts_event, &mut step)?;
        Ok(step)
    }

    /// Cash plus positions at their latest marks.
    pub fn equity(&self) -> Result<Money, DeskError> {
        Ok(self.portfolio.equity()?)
    }

    /// Marks the account and works the instrument's orders against a tick.
    pub fn on_tick(&mut self, tick: &TickV1) -> Result<Step, DeskError> {
        let mut step = Step::default();
        self.roll_day(tick.ts_event, &mut step)?;
        self.ticks.insert(tick.instrument, tick.clone());
        self.portfolio
            .mark(tick.instrument, tick.price, tick.ts_event)?;
        let events = self.oms.on_tick(tick)?;
        self.apply(events, tick.ts_event, &mut step)?;
        self.finish(tick.ts_event, &mut step)?;
        Ok(step)
    }

    /// Decides on a signal and acts on the decision.
    pub fn on_signal(&mut self, signal: &SignalEventV1, now: Timestamp) -> Result<Step, DeskError> {
        self.on_signal_advised(signal, now, None)
    }

    /// Decides on a signal with other agents' advice combined into the rule
    /// analyst's by `advice`'s policy, and acts on the result exactly as on the
    /// rule analyst's alone: risk, sizing and brackets are the same.
    pub fn on_signal_advised(
        &mut self,
        signal: &SignalEventV1,
        now: Timestamp,
        advice: Option<&Advice>,
    ) -> Result<Step, DeskError> {
        let mut step = Step::default();
        self.roll_day(now, &mut step)?;
        let instrument = signal.instrument;
        let position = self.net(instrument);
        let unit = signal_unit(signal.strategy.as_deref(), instrument);
        let switches = Switches {
            regime: self.flags.is_on(FlagName::RegimeAwareness, &unit),
            gates: self.flags.is_on(FlagName::DataQualityGates, &unit),
        };
        let mut decision = self.analyst.analyse_with(signal, position, now, switches);
        decision.flags = self.flags.in_effect(&unit);
        if let Some(advice) = advice {
            step.rule_output = Some(decision.clone());
            decision =
                policy::combine(advice.policy, decision, advice.llm.as_ref(), advice.weights)
                    .decision;
        }
        let wanted = match decision.recommendation {
            Recommendation::Buy => Some(Side::Buy),
            Recommendation::Sell => Some(Side::Sell),
            Recommendation::Close | Recommendation::Hold => None,
        };
        let reverses = wanted.is_some_and(|side| match side {
            Side::Buy => position.is_negative(),
            Side::Sell => position.is_positive(),
        });
        let cause = exit::ExitCause {
            decision_id: decision.id,
            signal_id: signal.id,
        };
        let exited = if decision.recommendation == Recommendation::Close || reverses {
            self.close(instrument, cause, now, &mut step)?
        } else {
            true
        };
        if let Some(side) = wanted
            && exited
        {
            self.enter(signal, &decision, side, now, &mut step)?;
        }
        step.decision = Some(decision);
        self.finish(now, &mut step)?;
        if self.flags.is_on(FlagName::DrawdownKelly, &unit) {
            step.samples.push(GuardSample {
                flag: FlagName::DrawdownKelly,
                kind: RuleKind::MaxDrawdown,
                value: self.portfolio.drawdown()?.to_f64(),
                reference: 0.0,
            });
        }
        Ok(step)
    }

    /// Replaces the flags the desk decides under (a change applies from the next input).
    pub fn set_flags(&mut self, flags: Flags) {
        self.flags = flags;
    }

    /// Guard samples made on closed candles since the last call, each with its
    /// bar's close time (at most 10,000 kept).
    pub fn take_samples(&mut self) -> Vec<(GuardSample, Timestamp)> {
        std::mem::take(&mut self.pending_samples)
    }

    pub(crate) fn note_sample(&mut self, sample: GuardSample, at: Timestamp) {
        if self.pending_samples.len() < 10_000 {
            self.pending_samples.push((sample, at));
        }
    }

    /// The Kelly hard cap: no entry may risk a larger share of equity.
    pub fn kelly_cap(&self) -> f64 {
        self.config.kelly.hard_cap()
    }

    /// The flags the desk decides under.
    pub fn flags(&self) -> &Flags {
        &self.flags
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
        match self.risk.check(intent.clone(), &view) {
            Ok(approved) => self.execute(approved, info, now, step),
            Err(refusal) => {
                step.state_changes.extend(refusal.state_change.clone());
                step.refusal = Some(Refused::from_risk(intent, refusal));
                Ok(())
            }
        }
    }

    /// Hands an approved intent to the OMS and books what happened.
    fn execute(
        &mut self,
        approved: RiskApproved<OrderIntentV1>,
        info: Option<EntryInfo>,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let intent = approved.get().clone();
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

    /// Starts a new trading day when `now` is past the day roll: the day's
    /// equity and peak restart, and a drawdown halt lifts.
    fn roll_day(&mut self, now: Timestamp, step: &mut Step) -> Result<(), DeskError> {
        if self.portfolio.roll_day(now)? {
            step.state_changes.extend(self.risk.start_day(now));
        }
        Ok(())
    }

    /// Feeds equity to risk and hands out the memory when it changed.
    fn finish(&mut self, now: Timestamp, step: &mut Step) -> Result<(), DeskError> {
        self.watch_equity(now, step)?;
        self.remember(step);
        Ok(())
    }

    /// Books OMS events: order states, fills into the portfolio, positions, calibration.
    fn apply(
        &mut self,
        events: Vec<OmsEvent>,
        now: Timestamp,
        step: &mut Step,
    ) -> Result<(), DeskError> {
        let mut traded: Vec<InstrumentId> = Vec::new();
        for event in events {
            match event {
                OmsEvent::Order(order) => step.orders.push(order),
                OmsEvent::Fill(fill) => {
                    let before = self.net(fill.instrument);
                    self.portfolio.apply_fill(&fill)?;
                    if !traded.contains(&fill.instrument) {
                        traded.push(fill.instrument);
                    }
                    let report = self.report(fill);
                    let entry = report
                        .entry
                        .as_ref()
                        .filter(|_| report.role == OrderRole::Entry)
                        .map(|e| (report.fill.order_id, e));
                    self.track_trip(&report.fill, report.role, before, entry, step);
                    step.fills.push(report);
                }
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
        // The halt's own measure, from the equity just computed.
        self.scorecard.drawdown(crate::risk::drawdown(equity, hwm));
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
