//! The desk as a stage: signals from the bus and market data from the feed go
//! into the one [`Desk`]; each step comes back as store operations and outbox
//! messages committed in one transaction (with the signal's inbox key, when a
//! signal caused it). The analyst, risk and OMS roles run fused here so one
//! alert costs one commit, not three; their messages are still published on
//! their subjects (`decisions.agent_output.rule.*`, `outputs.execution.paper`)
//! and recorded in the audit trail that `GET /v1/signals/{id}` tells.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use neo_api::flags::FlagBook;
use neo_api::metrics::names;
use neo_api::slo::SloBook;
use neo_domain::contracts::{
    AuditEventV1, Channel, NotificationV1, OrderRole, SignalEventV1, TradingCommandV1,
};
use neo_domain::{Contract, Envelope, IdKind, MessageId, Timestamp, subject};
use neo_engine::autonomy::Autonomy;
use neo_engine::desk::{Desk, FillReport, Step};
use neo_engine::flags::{FlagName, GuardSample, RuleKind};
use neo_engine::risk::{StateCause, StateChange};
use neo_engine::slo::SloName;
use neo_notify::render::{
    BracketHit, BracketLeg, Event, OrderFilled, SignalRefused, TradingStateChanged,
};
use neo_stage::{Count, Effects, Handler, HandlerError, Preparation};
use neo_store::{Op, StateKey, StateRecord};
use serde_json::{Value, json};

use crate::Clock;
use crate::agents::DeskAgents;
use crate::desk_metrics::{export_figures, export_strategy};
use crate::market::MarketShare;

/// The inbox consumer (and durable name) of the desk stage.
pub const DESK_CONSUMER: &str = "desk";

/// Signals in, steps out.
pub struct DeskStage {
    desk: Arc<Mutex<Desk>>,
    share: Arc<MarketShare>,
    channels: Vec<Channel>,
    clock: Clock,
    autonomy: Option<Autonomy>,
    flags: Option<FlagBook>,
    flags_seen: u64,
    slo: Option<SloBook>,
    agents: Option<DeskAgents>,
    reads: Option<Arc<crate::desk_reads::DeskReads>>,
}

/// Locks the desk; a panic mid-step is a bug that already stopped the stage.
pub fn lock(desk: &Mutex<Desk>) -> MutexGuard<'_, Desk> {
    desk.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DeskStage {
    /// A stage over a shared desk, notifying on `channels`.
    pub fn new(
        desk: Arc<Mutex<Desk>>,
        share: Arc<MarketShare>,
        channels: Vec<Channel>,
        clock: Clock,
    ) -> Self {
        DeskStage {
            desk,
            share,
            channels,
            clock,
            autonomy: None,
            flags: None,
            flags_seen: 0,
            slo: None,
            agents: None,
            reads: None,
        }
    }

    /// Publishes what HTTP reads after every step, so readers never lock the desk.
    #[must_use]
    pub fn with_reads(mut self, reads: Arc<crate::desk_reads::DeskReads>) -> Self {
        self.reads = Some(reads);
        self
    }

    fn publish(&self, desk: &Desk, now: Timestamp, fresh_briefings: bool) {
        if let Some(reads) = &self.reads {
            reads.publish(desk, now, fresh_briefings);
        }
    }

    /// Offers each signal to the configured agents and decides by their policy.
    #[must_use]
    pub fn with_agents(mut self, agents: DeskAgents) -> Self {
        self.agents = Some(agents);
        self
    }

    /// Records decision latency, contract compliance, the Kelly cap and brackets.
    #[must_use]
    pub fn with_slo(mut self, slo: SloBook) -> Self {
        self.slo = Some(slo);
        self
    }

    fn slo(&self, name: SloName, good: bool, now: Timestamp) {
        if let Some(slo) = &self.slo {
            slo.record(name, good, now);
        }
    }

    /// The step's SLO events: decision latency, every entry within the cap and bracketed.
    fn judge_step(&self, step: &Step, latency_secs: f64, cap: f64, now: Timestamp) {
        let Some(slo) = &self.slo else { return };
        if let Some(decision) = &step.decision {
            slo.record_latency(SloName::DecisionLatency, latency_secs, now);
            if let Some(book) = &self.flags {
                book.decision(&decision.flags, latency_secs);
                let on = decision.flags.get(FlagName::ConfidenceCalibration.as_str());
                book.observe(
                    GuardSample {
                        flag: FlagName::ConfidenceCalibration,
                        kind: RuleKind::LatencyUp,
                        value: latency_secs,
                        reference: if on == Some(&true) { 1.0 } else { 0.0 },
                    },
                    now,
                );
            }
        }
        if let Some(sizing) = &step.sizing {
            slo.record(SloName::KellyCap, sizing.kelly.fraction <= cap + 1e-12, now);
        }
        for intent in step.intents.iter().filter(|i| !i.reduce_only) {
            let bracketed = intent.stop_loss.is_some() && intent.take_profit.is_some();
            slo.record(SloName::OrdersBracketed, bracketed, now);
        }
    }

    /// Decides under these flags (a change applies from the next message) and
    /// feeds their guard rules the desk's observations.
    #[must_use]
    pub fn with_flags(mut self, flags: FlagBook) -> Self {
        self.flags_seen = flags.version();
        if let Some(autonomy) = &mut self.autonomy {
            autonomy.set_flags(flags.flags());
        }
        self.flags = Some(flags);
        self
    }

    /// Hands the desk the flags when they changed since it last had them.
    fn sync_flags(&mut self, desk: &mut Desk) {
        if let Some(book) = &self.flags
            && book.version() != self.flags_seen
        {
            self.flags_seen = book.version();
            desk.set_flags(book.flags());
            if let Some(autonomy) = &mut self.autonomy {
                autonomy.set_flags(book.flags());
            }
        }
    }

    /// Gives the step's guard observations to the flags' rules, and its closed
    /// round trips to their A/B cohorts.
    fn observe(&self, step: &Step, now: Timestamp) {
        if let Some(book) = &self.flags {
            for sample in &step.samples {
                book.observe(*sample, now);
            }
            for trip in &step.closed {
                book.trip(trip);
            }
        }
    }

    /// Runs NEO's own strategy loop on every closed candle (`[strategy] enabled`).
    #[must_use]
    pub fn with_autonomy(mut self, mut autonomy: Autonomy) -> Self {
        if let Some(book) = &self.flags {
            autonomy.set_flags(book.flags());
        }
        self.autonomy = Some(autonomy);
        self
    }
}

/// A strategy signal as the gateway commits an accepted alert: stored, and
/// published on its normalized subject for the desk to take like any other.
fn strategy_effects(signal: SignalEventV1, now: Timestamp, effects: &mut Effects) {
    let subject =
        subject::signal_normalized(signal.priority, signal.instrument, signal.signal_type);
    match Envelope::new(signal.id, subject, signal.clone(), now, signal.id, None).into_json() {
        Ok(envelope) => {
            effects.counts.push(Count::one(
                names::SIGNALS_ACCEPTED,
                vec![("source", signal.source.as_str().to_owned())],
            ));
            effects.ops.push(Op::InsertSignal(signal));
            effects.outbox.push(envelope);
        }
        Err(e) => tracing::error!(error = %e, "strategy signal could not be encoded"),
    }
}

impl Handler for DeskStage {
    fn prepare(&mut self, batch: &[&Envelope<Value>]) -> Option<Preparation<Self>> {
        let now = (self.clock)();
        let asked = self
            .agents
            .as_mut()?
            .prepare(batch, &self.desk, self.flags.as_ref(), now)?;
        Some(Box::pin(async move {
            let answers = asked.await;
            let apply: Box<dyn FnOnce(&mut DeskStage) + Send> = Box::new(move |stage| {
                if let Some(agents) = &mut stage.agents {
                    agents.prepared(answers);
                }
            });
            apply
        }))
    }

    fn handle(&mut self, envelope: &Envelope<Value>) -> Result<Effects, HandlerError> {
        let now = (self.clock)();
        if envelope.message_type == TradingCommandV1::TYPE_NAME {
            let command = envelope.clone().decode::<TradingCommandV1>();
            self.slo(SloName::ContractCompliance, command.is_ok(), now);
            let command = command
                .map_err(|e| HandlerError::Permanent(format!("not a trading command: {e}")))?
                .payload;
            let mut desk = lock(&self.desk);
            let applied =
                crate::operator::apply(&mut desk, &command, envelope.id, now, &self.channels);
            self.publish(&desk, now, true);
            return applied;
        }
        let signal = envelope.clone().decode::<SignalEventV1>();
        let issue = signal
            .as_ref()
            .ok()
            .and_then(|s| s.payload.check().into_iter().next());
        self.slo(
            SloName::ContractCompliance,
            signal.is_ok() && issue.is_none(),
            now,
        );
        let signal = signal
            .map_err(|e| HandlerError::Permanent(format!("not a signal: {e}")))?
            .payload;
        if let Some(issue) = issue {
            return Err(HandlerError::Permanent(format!("invalid signal: {issue}")));
        }
        let advised = self.agents.as_mut().and_then(|a| a.advice(envelope.id));
        // A desk error may come after the desk changed: stop and restart from the store.
        let started = (self.clock)();
        let step = {
            let desk = self.desk.clone();
            let mut desk = lock(&desk);
            self.sync_flags(&mut desk);
            let step = desk
                .on_signal_advised(&signal, now, advised.as_ref().map(|(a, _)| a))
                .map_err(|e| HandlerError::Fatal(format!("desk: {e}")))?;
            export_figures(&desk.figures());
            // Briefings are the costly part: a signal refreshes them at most every 250 ms.
            self.publish(&desk, now, false);
            (step, desk.kelly_cap())
        };
        metrics::histogram!(names::AGENT_LATENCY, "agent" => "rule")
            .record(nanos_secs((self.clock)().nanos_since(started)));
        metrics::counter!(names::AGENT_OUTCOMES, "agent" => "rule", "outcome" => "answered")
            .increment(1);
        let (step, cap) = step;
        log_decision(&signal, &step);
        self.observe(&step, now);
        // From acceptance to decision: the bus hop, the agents and the desk together.
        let secs = nanos_secs(now.nanos_since(envelope.ts_init));
        metrics::histogram!(names::STAGE_DURATION, "stage" => "desk").record(secs);
        self.judge_step(&step, secs, cap, now);
        let mut out = effects(&step, Some(&signal), envelope.id, now, &self.channels);
        if let (Some(agents), Some((_, consultation))) = (&mut self.agents, &advised) {
            let at = (envelope.id, now);
            agents.record(consultation, &signal, &step, at, &self.channels, &mut out);
        }
        Ok(out)
    }

    fn poll(&mut self) -> Result<Option<Effects>, HandlerError> {
        let batch = self.share.take();
        if batch.candles.is_empty() && batch.ticks.is_empty() {
            return Ok(None);
        }
        let desk = self.desk.clone();
        let mut desk = lock(&desk);
        self.sync_flags(&mut desk);
        let mut all = Effects::default();
        for (i, candle) in batch.candles.iter().enumerate() {
            desk.on_candle(candle);
            if let Some(autonomy) = &mut self.autonomy {
                // Only an instrument's newest candle in the batch may trade: a lagging
                // stage must not act on stale candles, nor signal once per candle
                // before the desk has seen the first signal.
                let newest = !batch.candles[i + 1..]
                    .iter()
                    .any(|c| c.instrument == candle.instrument);
                let fail = |e: neo_engine::risk::ConfigError| {
                    HandlerError::Permanent(format!("strategy loop: {e}"))
                };
                if newest {
                    let net = desk.net(candle.instrument);
                    if let Some(signal) = autonomy.on_candle(candle, net).map_err(fail)? {
                        strategy_effects(signal, candle.ts_event, &mut all);
                    }
                } else {
                    autonomy.observe(candle).map_err(fail)?;
                }
                if let Some((quality, regime)) = autonomy.state(candle.instrument) {
                    export_strategy(candle.instrument.as_str(), &quality, regime);
                }
            }
        }
        for tick in &batch.ticks {
            let step = desk
                .on_tick(tick)
                .map_err(|e| HandlerError::Fatal(format!("desk on tick: {e}")))?;
            self.observe(&step, tick.ts_event);
            if let Some(agents) = &mut self.agents {
                agents.settle(&step.closed, tick.ts_event, &mut all);
            }
            if !step.is_empty() {
                let id = MessageId::derived(
                    IdKind::Other,
                    &format!("tick:{}:{}", tick.instrument, tick.ts_event),
                );
                let more = effects(&step, None, id, tick.ts_event, &self.channels);
                all.ops.extend(more.ops);
                all.outbox.extend(more.outbox);
                all.counts.extend(more.counts);
            }
        }
        export_figures(&desk.figures());
        self.publish(&desk, (self.clock)(), false);
        if let Some(book) = &self.flags {
            for (sample, at) in desk.take_samples() {
                book.observe(sample, at);
            }
        }
        Ok(Some(all))
    }
}

#[allow(clippy::cast_precision_loss)]
/// One line per decided signal (inside the stage's span, so it carries the signal id).
fn log_decision(signal: &SignalEventV1, step: &Step) {
    let recommendation = step
        .decision
        .as_ref()
        .map_or("none", |d| d.recommendation.as_str());
    let refused = step.refusal.as_ref().map(|r| r.codes.join(","));
    tracing::info!(
        instrument = %signal.instrument,
        action = ?signal.signal_type,
        recommendation,
        orders = step.orders.len(),
        fills = step.fills.len(),
        refused,
        "signal decided"
    );
}

fn nanos_secs(nanos: i64) -> f64 {
    nanos.max(0) as f64 / 1e9
}

fn audit(
    action: &str,
    key: MessageId,
    correlation: Option<MessageId>,
    details: Value,
    ts: Timestamp,
) -> Op {
    Op::InsertAudit(AuditEventV1 {
        id: MessageId::derived(IdKind::Other, &format!("audit:{action}:{key}")),
        actor: "desk".to_owned(),
        action: action.to_owned(),
        entity: Some(key.to_string()),
        correlation_id: correlation,
        details,
        ts_event: ts,
    })
}

/// Collects envelopes; one that cannot be encoded is a bug, logged and skipped.
struct Outbox<'a> {
    out: &'a mut Vec<Envelope<Value>>,
    cause: MessageId,
    now: Timestamp,
}

impl Outbox<'_> {
    fn push<P: Contract + serde::Serialize>(
        &mut self,
        id: MessageId,
        subject: neo_domain::Subject,
        payload: P,
        correlation: MessageId,
    ) {
        match Envelope::new(
            id,
            subject,
            payload,
            self.now,
            correlation,
            Some(self.cause),
        )
        .into_json()
        {
            Ok(e) => self.out.push(e),
            Err(e) => tracing::error!(error = %e, "could not encode an outgoing message"),
        }
    }

    fn notify(&mut self, event: &Event, channels: &[Channel], correlation: MessageId) {
        for n in event.render_all(channels) {
            let id = n.id;
            self.push::<NotificationV1>(id, subject::notification(n.channel), n, correlation);
        }
    }
}

/// A step as store operations and outgoing messages.
pub fn effects(
    step: &Step,
    signal: Option<&SignalEventV1>,
    cause: MessageId,
    now: Timestamp,
    channels: &[Channel],
) -> Effects {
    let mut ops = Vec::new();
    let mut outbox = Vec::new();
    let mut counts = Vec::new();
    let mut out = Outbox {
        out: &mut outbox,
        cause,
        now,
    };
    let signal_id = signal.map(|s| s.id);
    if let Some(d) = &step.decision {
        let mut details = serde_json::to_value(d).unwrap_or(Value::Null);
        if let (Some(sizing), Value::Object(map)) = (&step.sizing, &mut details) {
            // Which bound sized the entry, with every Kelly figure behind it.
            map.insert(
                "sizing".to_owned(),
                serde_json::to_value(sizing).unwrap_or(Value::Null),
            );
        }
        ops.push(audit("decision", d.id, Some(d.signal_id), details, now));
        // The rule analyst's own output, when the agents' policy combined others into it.
        let rule = step.rule_output.as_ref().unwrap_or(d);
        match subject::agent_output("rule", rule.severity) {
            Ok(s) => out.push(rule.id, s, rule.clone(), rule.signal_id),
            Err(e) => tracing::error!(error = %e, "no subject for a decision"),
        }
    }
    for intent in &step.intents {
        let details = serde_json::to_value(intent).unwrap_or(Value::Null);
        ops.push(audit(
            "intent",
            intent.id,
            Some(intent.signal_id),
            details,
            now,
        ));
        out.push(
            intent.id,
            subject::execution_paper(),
            intent.clone(),
            intent.signal_id,
        );
    }
    if let (Some(r), Some(signal)) = (&step.refusal, signal) {
        let reasons: Vec<Value> = match &r.risk {
            Some(risk) => risk
                .reasons
                .iter()
                .map(|x| json!({ "code": x.code(), "message": x.to_string() }))
                .collect(),
            None => vec![json!({ "code": r.codes.first(), "message": r.message })],
        };
        let details = json!({ "codes": r.codes, "message": r.message, "reasons": reasons, "intent": r.intent });
        ops.push(audit("refusal", signal.id, Some(signal.id), details, now));
        for code in &r.codes {
            counts.push(Count::one(
                names::RISK_REFUSALS,
                vec![("reason", code.clone())],
            ));
        }
        let event = Event::SignalRefused(SignalRefused {
            signal_id: signal.id,
            source_id: signal.source_id.clone(),
            instrument: Some(signal.instrument),
            side: signal.side,
            reasons: r.codes.clone(),
            message: r.message.clone(),
            ts: now,
        });
        out.notify(&event, channels, signal.id);
    }
    // Only each order's last state in this step is stored (earlier ones are superseded).
    let mut latest: Vec<&neo_domain::contracts::OrderV1> = Vec::new();
    for order in step.orders.iter().rev() {
        if !latest.iter().any(|o| o.id == order.id) {
            latest.push(order);
            counts.push(Count::one(
                names::ORDERS,
                vec![("status", order.status.as_str().to_owned())],
            ));
        }
    }
    ops.extend(latest.into_iter().rev().cloned().map(Op::UpsertOrder));
    for report in &step.fills {
        ops.push(Op::InsertFill(report.fill.clone()));
        counts.push(Count::one(
            names::FILLS,
            vec![("instrument", report.fill.instrument.to_string())],
        ));
        let alert_id = signal
            .filter(|s| s.id == report.fill.signal_id)
            .and_then(|s| s.source_id.clone());
        let event = fill_event(report, alert_id);
        out.notify(&event, channels, report.fill.signal_id);
    }
    ops.extend(step.positions.iter().cloned().map(Op::UpsertPosition));
    for outcome in &step.outcomes {
        let details = serde_json::to_value(outcome).unwrap_or(Value::Null);
        ops.push(audit(
            "calibration_outcome",
            outcome.entry_order,
            signal_id,
            details,
            now,
        ));
    }
    if let Some(memory) = &step.memory {
        match serde_json::to_value(memory) {
            Ok(body) => ops.push(Op::PutState(StateRecord {
                key: StateKey::Desk,
                body,
                ts_event: now,
            })),
            Err(e) => tracing::error!(error = %e, "the desk's memory could not be encoded"),
        }
    }
    for change in &step.state_changes {
        let details = serde_json::to_value(change).unwrap_or(Value::Null);
        let key = MessageId::derived(IdKind::Other, &format!("state:{}:{}", change.at, change.to));
        ops.push(audit("trading_state", key, signal_id, details, now));
        let event = Event::TradingStateChanged(TradingStateChanged {
            from: change.from.to_string(),
            to: change.to.to_string(),
            cause: cause_text(change),
            signal_id,
            ts: change.at,
        });
        out.notify(&event, channels, signal_id.unwrap_or(key));
    }
    Effects {
        ops,
        outbox,
        counts,
    }
}

fn cause_text(change: &StateChange) -> String {
    match &change.cause {
        StateCause::Operator { by, reason } => format!("{by}: {reason}"),
        cause => cause.reason(),
    }
}

fn fill_event(report: &FillReport, alert_id: Option<String>) -> Event {
    let f = &report.fill;
    let source_id = report
        .entry
        .as_ref()
        .and_then(|e| e.source_id.clone())
        .or(alert_id);
    let leg = match report.role {
        OrderRole::StopLoss => Some(BracketLeg::StopLoss),
        OrderRole::TakeProfit => Some(BracketLeg::TakeProfit),
        OrderRole::Entry | OrderRole::Exit => None,
    };
    if let (Some(leg), Some(entry), Some(entry_price)) = (leg, &report.entry, report.entry_price)
        && let Some(initial_stop) = entry.stop_loss
    {
        return Event::BracketHit(BracketHit {
            signal_id: f.signal_id,
            source_id,
            fill_id: f.id,
            instrument: f.instrument,
            entry_side: entry.side,
            leg,
            quantity: f.quantity,
            entry_price,
            exit_price: f.price,
            initial_stop,
            ts: f.ts_event,
        });
    }
    Event::OrderFilled(OrderFilled {
        signal_id: f.signal_id,
        source_id,
        fill_id: f.id,
        instrument: f.instrument,
        side: f.side,
        quantity: f.quantity,
        price: f.price,
        stop_loss: report
            .entry
            .as_ref()
            .and_then(|e| e.stop_loss)
            .filter(|_| report.role == OrderRole::Entry),
        take_profit: report
            .entry
            .as_ref()
            .and_then(|e| e.take_profit)
            .filter(|_| report.role == OrderRole::Entry),
        ts: f.ts_event,
    })
}
