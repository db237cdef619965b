//! The orchestrator: offers a batch of signals to the LLM agent at once and
//! collects every answer by one deadline, so a slow or silent provider never
//! delays a decision past it (a late consultation is dropped and recorded as
//! late; the rule analyst then decides alone). At most `max_in_flight`
//! consultations run together; the rest wait their turn inside the deadline.

use std::sync::Arc;
use std::time::Duration;

use neo_domain::Timestamp;
use neo_domain::contracts::{SignalEventV1, SignalType};
use neo_engine::analyst::policy::{Missing, Policy};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::agent::{Consultation, LlmAgent};
use crate::budget::Ledger;
use crate::config::AgentsConfig;
use crate::tools::Toolbox;

/// One signal to consult on, with what the flags allow for its unit.
#[derive(Debug, Clone)]
pub struct Ask {
    /// The signal.
    pub signal: SignalEventV1,
    /// What NEO measured (indicators, regime, position), for the prompt.
    pub market: Value,
    /// `agent_gpt` is on for the signal's unit.
    pub llm_on: bool,
    /// `api_budget` is on: a spent budget skips the LLM.
    pub enforce_budget: bool,
}

/// Why the agents could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// The HTTP client could not be built (TLS setup).
    #[error("the LLM agent's HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

/// The agents besides the rule analyst, and how their answers combine.
#[derive(Debug)]
pub struct Orchestrator {
    policy: Policy,
    deadline: Duration,
    llm: Option<Arc<LlmAgent>>,
    gate: Arc<Semaphore>,
}

impl Orchestrator {
    /// The agents `config` enables; the LLM's spend continues from `ledger`,
    /// and its model may call `toolbox`'s tools.
    pub fn new(
        config: &AgentsConfig,
        ledger: Ledger,
        toolbox: Option<Arc<dyn Toolbox>>,
    ) -> Result<Self, OrchestratorError> {
        let llm = if config.llm_enabled() {
            let client = reqwest::Client::builder()
                .build()
                .map_err(OrchestratorError::Client)?;
            let mut agent =
                LlmAgent::new(client, config.llm.providers.clone(), config.budget, ledger);
            if let Some(toolbox) = toolbox {
                agent = agent.with_tools(toolbox, config.llm.max_tool_calls);
            }
            Some(Arc::new(agent))
        } else {
            None
        };
        Ok(Orchestrator {
            policy: config.policy,
            deadline: Duration::from_millis(config.deadline_ms),
            llm,
            gate: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
        })
    }

    /// How the answers combine.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// How long a batch may wait for its answers.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The LLM agent, when enabled.
    pub fn llm(&self) -> Option<&Arc<LlmAgent>> {
        self.llm.as_ref()
    }

    /// Consults the LLM agent on every ask at once; each answer is due by the
    /// deadline from now. Answers come back in the asks' order (none without
    /// an LLM agent).
    pub async fn consult_all(&self, asks: Vec<Ask>, now: Timestamp) -> Vec<Consultation> {
        let Some(llm) = &self.llm else {
            return Vec::new();
        };
        let due = Instant::now() + self.deadline;
        let runs = asks.into_iter().map(|ask| {
            let (llm, gate) = (llm.clone(), self.gate.clone());
            async move {
                let started = Instant::now();
                if !ask.llm_on {
                    return Consultation::missing(Missing::Disabled, Duration::ZERO);
                }
                if ask.signal.signal_type == SignalType::Exit {
                    return Consultation::missing(Missing::NotAsked, Duration::ZERO);
                }
                let run = async {
                    // A closed semaphore never happens (it is never closed); treat it as late.
                    let Ok(_permit) = gate.acquire_owned().await else {
                        return Consultation::missing(Missing::Late, started.elapsed());
                    };
                    llm.consult(&ask.signal, &ask.market, ask.enforce_budget, now)
                        .await
                };
                match tokio::time::timeout_at(due, run).await {
                    Ok(consultation) => consultation,
                    Err(_) => Consultation::missing(Missing::Late, started.elapsed()),
                }
            }
        });
        futures::future::join_all(runs).await
    }
}
