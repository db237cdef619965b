//! The desk stage's agents. Before a batch is handled, every new signal in it
//! is offered to the LLM agent at once (its flags permitting) and the answers
//! are collected by one deadline; then each signal is decided with its answer
//! combined into the rule analyst's by the policy. Each consultation becomes
//! an `agent_output` row in the signal's story (the answer or why there is
//! none, the provider, latency, tokens, cost, prompt version), a message on
//! `decisions.agent_output.llm.{severity}` when it answered, metrics, and the
//! budget's ledger committed with the decision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use neo_agents::agent::{Consultation, LLM};
use neo_agents::orchestrator::{Ask, Orchestrator};
use neo_agents::tools::{ToolDef, ToolFailure, Toolbox};
use neo_api::flags::FlagBook;
use neo_api::metrics::names;
use neo_api::server::AppState;
use neo_api::server::mcp::tools;
use neo_domain::contracts::{AgentOutputV1, AuditEventV1, SignalEventV1};
use neo_domain::{Contract, Envelope, IdKind, MessageId, Timestamp, subject};
use neo_engine::analyst::policy::{Missing, Weights};
use neo_engine::desk::{Advice, Desk};
use neo_engine::flags::{FlagName, signal_unit};
use neo_stage::Effects;
use neo_store::{Op, StateKey, StateRecord};
use serde_json::{Value, json};

use crate::desk_stage::lock;

/// The orchestrator and the answers it collected for the batch in hand.
pub struct DeskAgents {
    orchestrator: Arc<Orchestrator>,
    answers: HashMap<MessageId, Consultation>,
}

impl DeskAgents {
    /// Agents run by `orchestrator`.
    pub fn new(orchestrator: Arc<Orchestrator>) -> Self {
        DeskAgents {
            orchestrator,
            answers: HashMap::new(),
        }
    }

    /// Consults on every signal in `batch` by the deadline; the answers wait for [`Self::advice`].
    pub async fn prepare(
        &mut self,
        batch: &[&Envelope<Value>],
        desk: &Mutex<Desk>,
        flags: Option<&FlagBook>,
        now: Timestamp,
    ) {
        self.answers.clear();
        if self.orchestrator.llm().is_none() {
            return;
        }
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
            let market = lock(desk).briefing(signal.instrument, now);
            ids.push(envelope.id);
            asks.push(Ask {
                llm_on: on(FlagName::AgentGpt),
                enforce_budget: on(FlagName::ApiBudget),
                signal,
                market,
            });
        }
        if asks.is_empty() {
            return;
        }
        let answers = self.orchestrator.consult_all(asks, now).await;
        self.answers = ids.into_iter().zip(answers).collect();
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
            weights: Weights::default(),
        };
        Some((advice, consultation))
    }

    /// The consultation's story row, message, ledger and metrics, added to `effects`.
    pub fn record(
        &self,
        consultation: &Consultation,
        signal: &SignalEventV1,
        rule: Option<&AgentOutputV1>,
        cause: MessageId,
        now: Timestamp,
        effects: &mut Effects,
    ) {
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
        }
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
        }
        self.export(consultation, now);
    }

    fn export(&self, c: &Consultation, now: Timestamp) {
        metrics::counter!(names::AGENT_OUTCOMES, "agent" => LLM, "outcome" => c.outcome())
            .increment(1);
        #[allow(clippy::cast_precision_loss)]
        metrics::histogram!(names::AGENT_LATENCY, "agent" => LLM).record(c.latency_ms as f64 / 1e3);
        if let Some(provider) = &c.provider {
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

/// `neo_llm_budget_remaining_usd` for each configured cap.
pub fn export_budget(llm: &neo_agents::agent::LlmAgent, now: Timestamp) {
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

/// NEO's MCP tools as the LLM agent's toolbox, only those marked for agents
/// (reads: quotes, candles, indicators, the portfolio, positions, flags). The
/// server's state is handed over once it is built.
#[derive(Clone, Default)]
pub struct McpToolbox {
    state: Arc<OnceLock<AppState>>,
}

impl std::fmt::Debug for McpToolbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpToolbox")
            .field("ready", &self.state.get().is_some())
            .finish()
    }
}

impl McpToolbox {
    /// Serves the tools over `state` from now on.
    pub fn serve(&self, state: AppState) {
        let _ = self.state.set(state);
    }
}

impl Toolbox for McpToolbox {
    fn list(&self) -> Vec<ToolDef> {
        tools::catalog()
            .into_iter()
            .filter(|t| t.for_agents)
            .map(|t| ToolDef {
                name: t.name.to_owned(),
                description: t.description.to_owned(),
                parameters: t.input_schema,
            })
            .collect()
    }

    fn call<'a>(
        &'a self,
        name: &'a str,
        arguments: Value,
    ) -> BoxFuture<'a, Result<Value, ToolFailure>> {
        Box::pin(async move {
            let Some(state) = self.state.get() else {
                return Err(ToolFailure("NEO's tools are not ready yet".to_owned()));
            };
            if !tools::find(name).is_some_and(|t| t.for_agents) {
                return Err(ToolFailure(format!(
                    "no tool named {name:?} is available to you"
                )));
            }
            tools::call(state, name, arguments)
                .await
                .map_err(|e| ToolFailure(e.to_string()))
        })
    }
}
