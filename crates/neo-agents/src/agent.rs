//! The LLM agent: one signal in; out, its verdict as an `AgentOutputV1` or the
//! reason there is none (budget spent, every provider failed, an invalid
//! answer), with who answered, how long it took, the tokens and the cost. The
//! budget is checked before asking and charged after; the spend is a ledger
//! the caller persists. The deadline is the orchestrator's (it drops a late
//! consultation and records it as late).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use neo_domain::contracts::{AgentOutputV1, LlmVerdictV1, Severity, SignalEventV1};
use neo_domain::{IdKind, MessageId, Timestamp};
use neo_engine::analyst::policy::Missing;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::budget::{Allowance, BudgetConfig, Ledger};
use crate::chain::{Attempt, Chain, Outcome, Tools};
use crate::prompt::{self, PROMPT_VERSION};
use crate::provider::ProviderConfig;
use crate::tools::{ToolCallRecord, Toolbox};

/// The LLM agent's name on subjects, in stories and in metrics.
pub const LLM: &str = "llm";

/// One provider attempt as the story shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// The provider.
    pub provider: String,
    /// `answered`, `skipped`, `failed` or `invalid`.
    pub outcome: &'static str,
    /// Why, when it did not answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// How long it took.
    pub latency_ms: u64,
}

impl From<&Attempt> for AttemptRecord {
    fn from(a: &Attempt) -> Self {
        let (outcome, detail) = match &a.outcome {
            Outcome::Answered => ("answered", None),
            Outcome::Skipped(why) => ("skipped", Some(why.clone())),
            Outcome::Failed(why) => ("failed", Some(why.clone())),
            Outcome::Invalid(why) => ("invalid", Some(why.clone())),
        };
        AttemptRecord {
            provider: a.provider.clone(),
            outcome,
            detail,
            latency_ms: millis(a.latency),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One agent's consultation on one signal: the story's and the metrics' record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Consultation {
    /// The agent.
    pub agent: &'static str,
    /// The prompt template's version.
    pub prompt_version: &'static str,
    /// Its answer as a decision proposal, or why there is none.
    #[serde(serialize_with = "answer_shape")]
    pub answer: Result<AgentOutputV1, Missing>,
    /// The verdict as the model gave it (its suggested stop and target included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<LlmVerdictV1>,
    /// The provider that answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// From the offer to the answer (or to the deadline).
    pub latency_ms: u64,
    /// Input tokens of the answering call.
    pub input_tokens: u64,
    /// Output tokens of the answering call.
    pub output_tokens: u64,
    /// Its cost in micro-dollars at the configured prices.
    pub cost_micro_usd: u64,
    /// Every provider attempt, in order.
    pub attempts: Vec<AttemptRecord>,
    /// Every tool the model called, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallRecord>,
    /// The budget's warning, past 80% of a cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_warning: Option<String>,
}

fn answer_shape<S: serde::Serializer>(
    answer: &Result<AgentOutputV1, Missing>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Shape<'a> {
        Output(&'a AgentOutputV1),
        Missing(&'a Missing),
    }
    match answer {
        Ok(output) => Shape::Output(output).serialize(s),
        Err(missing) => Shape::Missing(missing).serialize(s),
    }
}

impl Consultation {
    /// A consultation that produced nothing, for `missing`.
    pub fn missing(missing: Missing, latency: Duration) -> Self {
        Consultation {
            agent: LLM,
            prompt_version: PROMPT_VERSION,
            answer: Err(missing),
            verdict: None,
            provider: None,
            latency_ms: millis(latency),
            input_tokens: 0,
            output_tokens: 0,
            cost_micro_usd: 0,
            attempts: Vec::new(),
            tool_calls: Vec::new(),
            budget_warning: None,
        }
    }

    /// The outcome label for metrics: `answered`, or the missing reason.
    pub fn outcome(&self) -> &'static str {
        match &self.answer {
            Ok(_) => "answered",
            Err(Missing::Late) => "late",
            Err(Missing::Failed(_)) => "failed",
            Err(Missing::BudgetExhausted) => "budget_exhausted",
            Err(Missing::Invalid(_)) => "invalid",
            Err(Missing::Disabled) => "disabled",
            Err(Missing::NotAsked) => "not_asked",
        }
    }
}

/// The LLM agent: its providers and its share of the budget.
#[derive(Debug)]
pub struct LlmAgent {
    chain: Chain,
    providers: Vec<ProviderConfig>,
    budget: BudgetConfig,
    ledger: Arc<Mutex<Ledger>>,
    toolbox: Option<Arc<dyn Toolbox>>,
    max_tool_calls: usize,
}

impl LlmAgent {
    /// An agent asking `providers` in order, spending against `budget` from `ledger` (restored).
    pub fn new(
        client: reqwest::Client,
        providers: Vec<ProviderConfig>,
        budget: BudgetConfig,
        ledger: Ledger,
    ) -> Self {
        LlmAgent {
            chain: Chain::new(client, providers.clone()),
            providers,
            budget,
            ledger: Arc::new(Mutex::new(ledger)),
            toolbox: None,
            max_tool_calls: 0,
        }
    }

    /// Lets the model call `toolbox`'s tools, at most `max_calls` per provider, before its verdict.
    #[must_use]
    pub fn with_tools(mut self, toolbox: Arc<dyn Toolbox>, max_calls: usize) -> Self {
        self.toolbox = Some(toolbox);
        self.max_tool_calls = max_calls;
        self
    }

    /// The providers, in fallback order.
    pub fn providers(&self) -> &[ProviderConfig] {
        &self.providers
    }

    /// The budget's caps.
    pub fn budget(&self) -> BudgetConfig {
        self.budget
    }

    /// The spend so far, rolled to `now`'s day and month (what the store keeps).
    pub fn ledger(&self, now: Timestamp) -> Ledger {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        ledger.roll(now);
        ledger.clone()
    }

    /// What the budget allows at `now`.
    pub fn allowance(&self, now: Timestamp) -> Allowance {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        ledger.allowance(&self.budget, now)
    }

    /// Asks the providers about `signal` given `market` (what NEO measured);
    /// with `enforce_budget`, a spent budget skips the call.
    pub async fn consult(
        &self,
        signal: &SignalEventV1,
        market: &Value,
        enforce_budget: bool,
        now: Timestamp,
    ) -> Consultation {
        let started = Instant::now();
        let allowance = self.allowance(now);
        if enforce_budget && matches!(allowance, Allowance::Exhausted { .. }) {
            return Consultation::missing(Missing::BudgetExhausted, started.elapsed());
        }
        let budget_warning = match allowance {
            Allowance::Warn { period, used } => Some(format!(
                "{:.0}% of the {period}'s LLM budget is spent",
                used * 100.0
            )),
            Allowance::Exhausted { period } => Some(format!(
                "the {period}'s LLM budget is spent (not enforced: api_budget is off)"
            )),
            Allowance::Open => None,
        };
        let prompt = prompt::render(signal, market);
        let tools = self
            .toolbox
            .as_deref()
            .filter(|_| self.max_tool_calls > 0)
            .map(|toolbox| Tools {
                toolbox,
                max_calls: self.max_tool_calls,
            });
        let asked = self.chain.ask_with(&prompt, signal.instrument, tools).await;
        let latency = started.elapsed();
        match asked {
            Ok(v) => {
                self.ledger
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .record(
                        &v.provider,
                        v.input_tokens,
                        v.output_tokens,
                        v.cost_micro_usd,
                        now,
                    );
                Consultation {
                    agent: LLM,
                    prompt_version: prompt.version,
                    answer: Ok(output(signal, &v.verdict, now)),
                    verdict: Some(v.verdict),
                    provider: Some(v.provider),
                    latency_ms: millis(latency),
                    input_tokens: v.input_tokens,
                    output_tokens: v.output_tokens,
                    cost_micro_usd: v.cost_micro_usd,
                    attempts: v.attempts.iter().map(AttemptRecord::from).collect(),
                    tool_calls: v.tool_calls,
                    budget_warning,
                }
            }
            Err(exhausted) => {
                // Only answers that were not verdicts: the model, not the providers, failed.
                let invalid = !exhausted.attempts.is_empty()
                    && exhausted
                        .attempts
                        .iter()
                        .all(|a| matches!(a.outcome, Outcome::Invalid(_)));
                let why = exhausted.to_string();
                let missing = if invalid {
                    Missing::Invalid(why)
                } else {
                    Missing::Failed(why)
                };
                Consultation {
                    attempts: exhausted.attempts.iter().map(AttemptRecord::from).collect(),
                    tool_calls: exhausted.tool_calls,
                    budget_warning,
                    ..Consultation::missing(missing, latency)
                }
            }
        }
    }
}

/// The verdict as a decision proposal on the signal.
fn output(signal: &SignalEventV1, verdict: &LlmVerdictV1, now: Timestamp) -> AgentOutputV1 {
    let mut features = std::collections::BTreeMap::new();
    for (name, price) in [
        ("suggested_stop_loss", verdict.stop_loss),
        ("suggested_take_profit", verdict.take_profit),
    ] {
        if let Some(p) = price {
            features.insert(name.to_owned(), p.value().to_f64());
        }
    }
    AgentOutputV1 {
        id: MessageId::derived(IdKind::Decision, &format!("{LLM}:{}", signal.id)),
        signal_id: signal.id,
        agent: LLM.to_owned(),
        instrument: signal.instrument,
        recommendation: verdict.recommendation,
        confidence: verdict.confidence,
        rationale: verdict.rationale.clone(),
        severity: Severity::Info,
        ts_event: now,
        features,
        flags: std::collections::BTreeMap::new(),
    }
}
