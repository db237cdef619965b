//! The desk stage's agents. Before a batch is handled, every new signal in it
//! is offered to the LLM agent at once (its flags permitting) and the answers
//! are collected by one deadline; then each signal is decided with its answer
//! combined into the rule analyst's by the policy. Each consultation becomes
//! an `agent_output` row in the signal's story (the answer or why there is
//! none, the provider, latency, tokens, cost, prompt version), a message on
//! `decisions.agent_output.llm.{severity}` when it answered, metrics, and the
//! budget's ledger committed with the decision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use neo_agents::agent::{Consultation, LLM, LlmAgent};
use neo_agents::budget::{Allowance, Ledger};
use neo_agents::context::{AgentMemory, Turnout};
use neo_agents::orchestrator::{Ask, Orchestrator};
use neo_agents::provider::ProviderKind;
use neo_api::flags::FlagBook;
use neo_api::metrics::names;
use neo_domain::contracts::{AgentOutputV1, AuditEventV1, Channel, SignalEventV1};
use neo_domain::{Contract, Envelope, IdKind, MessageId, Timestamp, subject};
use neo_engine::analyst::policy::Missing;
use neo_engine::desk::{Advice, Desk, Step};
use neo_engine::flags::{ClosedTrip, FlagName, RuleKind, signal_unit};
use neo_notify::render::{Event, LlmBudgetNotice};
use neo_stage::Effects;
use neo_store::{Op, StateKey, StateRecord};
use serde_json::{Value, json};

use crate::desk_stage::lock;

pub mod ollama_watch;
mod toolbox;

pub use ollama_watch::Activity;
pub use toolbox::{McpToolbox, agent_tools};

/// A batch's answers by envelope id.
pub type Answers = Vec<(MessageId, Consultation)>;

/// The orchestrator, the answers it collected for the batch in hand, and the
/// agents' memory (recent calls and track records).
pub struct DeskAgents {
    orchestrator: Arc<Orchestrator>,
    answers: HashMap<MessageId, Consultation>,
    memory: AgentMemory,
    activity: Arc<Activity>,
    flags: Option<FlagBook>,
}

impl DeskAgents {
    /// Agents run by `orchestrator`, remembering from `memory` (restored).
    pub fn new(orchestrator: Arc<Orchestrator>, memory: AgentMemory) -> Self {
        DeskAgents {
            orchestrator,
            answers: HashMap::new(),
            memory,
            activity: Arc::default(),
            flags: None,
        }
    }

    /// Notes each consultation in `activity` (the Ollama lifecycle's idle clock) and
    /// feeds local models' answer times to `flags`' `ollama_lifecycle` rules.
    #[must_use]
    pub fn with_lifecycle(mut self, activity: Arc<Activity>, flags: FlagBook) -> Self {
        self.activity = activity;
        self.flags = Some(flags);
        self
    }

    /// The consultation of every signal in `batch`, due by the deadline: a
    /// future that does not hold the desk (ticks go on while it runs) whose
    /// answers go to [`Self::prepared`]; `None` when there is nothing to ask.
    pub fn prepare(
        &mut self,
        batch: &[&Envelope<Value>],
        desk: &Mutex<Desk>,
        flags: Option<&FlagBook>,
        now: Timestamp,
    ) -> Option<BoxFuture<'static, Answers>> {
        self.answers.clear();
        self.orchestrator.llm()?;
        let mut ids = Vec::new();
        let mut asks = Vec::new();
        for envelope in batch {
            if envelope.message_type != SignalEventV1::TYPE_NAME {
                continue;
            }
            let Ok(signal) = (*envelope).clone().decode::<SignalEventV1>() else {
                continue;
            };
            let signal = signal.payload;
            let unit = signal_unit(signal.strategy.as_deref(), signal.instrument);
            let on = |flag| flags.is_none_or(|book| book.is_on(flag, &unit));
            let mut market = lock(desk).briefing(signal.instrument, now);
            let recent = self.memory.recent_calls(signal.instrument);
            if let (Value::Object(map), false) = (&mut market, recent.is_empty()) {
                map.insert("your_recent_calls".to_owned(), json!(recent));
            }
            ids.push(envelope.id);
            asks.push(Ask {
                llm_on: on(FlagName::AgentGpt),
                enforce_budget: on(FlagName::ApiBudget),
                signal,
                market,
            });
        }
        if asks.is_empty() {
            return None;
        }
        self.activity.touch(now);
        let orchestrator = self.orchestrator.clone();
        Some(Box::pin(async move {
            let answers = orchestrator.consult_all(asks, now).await;
            ids.into_iter().zip(answers).collect()
        }))
    }

    /// Keeps a batch's answers for [`Self::advice`].
    pub fn prepared(&mut self, answers: Answers) {
        self.answers = answers.into_iter().collect();
    }

    /// The advice for the signal in envelope `id`, and its consultation (each is taken once).
    pub fn advice(&mut self, id: MessageId) -> Option<(Advice, Consultation)> {
        self.orchestrator.llm()?;
        // Not prepared (cannot happen: every new delivery is): decide as if it were late.
        let consultation = self
            .answers
            .remove(&id)
            .unwrap_or_else(|| Consultation::missing(Missing::Late, Duration::ZERO));
        let advice = Advice {
            policy: self.orchestrator.policy(),
            llm: consultation.answer.clone(),
            weights: self.memory.weights(),
        };
        Some((advice, consultation))
    }

    /// The consultation's story row, message, ledger, memory and metrics, added to `effects`.
    pub fn record(
        &mut self,
        consultation: &Consultation,
        signal: &SignalEventV1,
        step: &Step,
        (cause, now): (MessageId, Timestamp),
        channels: &[Channel],
        effects: &mut Effects,
    ) {
        let rule = step.rule_output.as_ref();
        let key = MessageId::derived(IdKind::Decision, &format!("{LLM}:{}", signal.id));
        let mut details = serde_json::to_value(consultation).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut details {
            map.insert(
                "policy".to_owned(),
                json!(neo_agents::config::policy_name(self.orchestrator.policy())),
            );
        }
        effects.ops.push(agent_audit(key, signal.id, details, now));
        if let Some(rule) = rule {
            let details = serde_json::to_value(rule).unwrap_or(Value::Null);
            effects
                .ops
                .push(agent_audit(rule.id, signal.id, details, now));
        }
        if let Ok(output) = &consultation.answer {
            publish(output, cause, now, effects);
            if let (Some(rule), Some(decision)) = (rule, &step.decision) {
                let side = step.intents.iter().find(|i| !i.reduce_only).map(|i| i.side);
                self.memory.remember(output, rule, decision, side);
                effects.ops.push(self.memory_op(now));
            }
        }
        self.settle(&step.closed, now, effects);
        let spent = consultation.input_tokens + consultation.output_tokens > 0
            || consultation.cost_micro_usd > 0;
        if let Some(llm) = self.orchestrator.llm().filter(|_| spent) {
            let ledger = llm.ledger(now);
            match serde_json::to_value(&ledger) {
                Ok(body) => effects.ops.push(Op::PutState(StateRecord {
                    key: StateKey::LlmBudget,
                    body,
                    ts_event: now,
                })),
                Err(e) => tracing::error!(error = %e, "the LLM budget could not be encoded"),
            }
            budget_notice(llm, &ledger, channels, cause, now, effects);
        }
        self.export(consultation, now);
    }

    /// Settles the LLM's calls whose round trips closed, scoring both agents.
    pub fn settle(&mut self, closed: &[ClosedTrip], now: Timestamp, effects: &mut Effects) {
        let mut changed = false;
        for trip in closed {
            if let Some(signal_id) = trip.signal_id {
                let turnout = Turnout {
                    won: trip.won,
                    r_multiple: trip.r_multiple,
                };
                changed |= self.memory.settle(signal_id, turnout);
            }
        }
        if changed {
            effects.ops.push(self.memory_op(now));
        }
    }

    fn memory_op(&self, now: Timestamp) -> Op {
        Op::PutState(StateRecord {
            key: StateKey::AgentMemory,
            body: serde_json::to_value(&self.memory).unwrap_or(Value::Null),
            ts_event: now,
        })
    }

    /// A local model's answer time, for its gauge and the lifecycle's latency rule.
    fn local_latency(&self, provider: &str, latency_ms: u64, now: Timestamp) {
        let local = self.orchestrator.llm().is_some_and(|llm| {
            llm.providers()
                .iter()
                .any(|p| p.name == provider && p.kind == ProviderKind::Ollama)
        });
        if !local {
            return;
        }
        #[allow(clippy::cast_precision_loss)]
        let secs = latency_ms as f64 / 1e3;
        metrics::gauge!(names::OLLAMA_LATENCY, "provider" => provider.to_owned()).set(secs);
        if let Some(flags) = &self.flags {
            ollama_watch::sample(flags, RuleKind::OllamaLatencySecs, secs, now);
        }
    }

    fn export(&self, c: &Consultation, now: Timestamp) {
        metrics::counter!(names::AGENT_OUTCOMES, "agent" => LLM, "outcome" => c.outcome())
            .increment(1);
        #[allow(clippy::cast_precision_loss)]
        metrics::histogram!(names::AGENT_LATENCY, "agent" => LLM).record(c.latency_ms as f64 / 1e3);
        if let Some(provider) = &c.provider {
            self.local_latency(provider, c.latency_ms, now);
            for (kind, n) in [("input", c.input_tokens), ("output", c.output_tokens)] {
                metrics::counter!(names::LLM_TOKENS, "provider" => provider.clone(), "kind" => kind)
                    .increment(n);
            }
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(names::LLM_COST, "provider" => provider.clone())
                .increment(c.cost_micro_usd as f64 / 1e6);
        }
        if let Some(warning) = &c.budget_warning {
            tracing::warn!(%warning, "LLM budget");
        }
        if let Some(llm) = self.orchestrator.llm() {
            export_budget(llm, now);
        }
    }
}

/// Tells every channel once per period when the spend passes 80% of a cap and
/// when it reaches it (the notification's id is derived from the period and
/// the stage, so the outbox keeps one).
fn budget_notice(
    llm: &LlmAgent,
    ledger: &Ledger,
    channels: &[Channel],
    cause: MessageId,
    now: Timestamp,
    effects: &mut Effects,
) {
    let caps = llm.budget();
    let (period, used, exhausted) = match llm.allowance(now) {
        Allowance::Open => return,
        Allowance::Warn { period, used } => (period, used, false),
        Allowance::Exhausted { period } => (period, 1.0, true),
    };
    let (period_number, cap) = if period == "day" {
        (ledger.day_number, caps.daily_usd)
    } else {
        (ledger.month_number, caps.monthly_usd)
    };
    let event = Event::LlmBudget(LlmBudgetNotice {
        period,
        period_number,
        exhausted,
        used,
        cap_usd: cap.unwrap_or(0.0),
        ts: now,
    });
    for n in event.render_all(channels) {
        let envelope = Envelope::new(
            n.id,
            subject::notification(n.channel),
            n,
            now,
            cause,
            Some(cause),
        );
        match envelope.into_json() {
            Ok(e) => effects.outbox.push(e),
            Err(e) => tracing::error!(error = %e, "the budget notice could not be encoded"),
        }
    }
}

/// `neo_llm_budget_remaining_usd` for each configured cap.
pub fn export_budget(llm: &LlmAgent, now: Timestamp) {
    let budget = llm.budget();
    let ledger = llm.ledger(now);
    for (period, cap, spent) in [
        ("day", budget.daily_usd, ledger.day.total()),
        ("month", budget.monthly_usd, ledger.month.total()),
    ] {
        if let Some(cap) = cap {
            #[allow(clippy::cast_precision_loss)]
            let left = (cap - spent as f64 / 1e6).max(0.0);
            metrics::gauge!(names::LLM_BUDGET_REMAINING, "period" => period).set(left);
        }
    }
}

fn agent_audit(key: MessageId, signal: MessageId, details: Value, now: Timestamp) -> Op {
    Op::InsertAudit(AuditEventV1 {
        id: MessageId::derived(IdKind::Other, &format!("audit:agent_output:{key}")),
        actor: "desk".to_owned(),
        action: "agent_output".to_owned(),
        entity: Some(key.to_string()),
        correlation_id: Some(signal),
        details,
        ts_event: now,
    })
}

/// The LLM's output on `decisions.agent_output.llm.{severity}`.
fn publish(output: &AgentOutputV1, cause: MessageId, now: Timestamp, effects: &mut Effects) {
    let Ok(subject) = subject::agent_output(LLM, output.severity) else {
        return;
    };
    match Envelope::new(
        output.id,
        subject,
        output.clone(),
        now,
        output.signal_id,
        Some(cause),
    )
    .into_json()
    {
        Ok(e) => effects.outbox.push(e),
        Err(e) => tracing::error!(error = %e, "the LLM's output could not be encoded"),
    }
}
