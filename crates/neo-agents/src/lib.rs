//! NEO's agent layer, on the rule that an LLM only proposes and deterministic
//! code decides: nothing here places or sizes anything.
//!
//! - [`orchestrator::Orchestrator`] offers a batch of signals to the LLM agent
//!   at once and collects the answers by one deadline; [`agent::LlmAgent`]
//!   checks the budget, renders the versioned [`prompt`] (the alert's text
//!   quoted as data), asks the [`chain::Chain`] and records the consultation.
//! - The chain asks providers ([`provider`]: OpenAI-compatible, Anthropic,
//!   Ollama; plain or streamed) in order, with `Retry-After` honoured and a
//!   circuit breaker each, letting the model call [`tools`] first (a bounded
//!   loop) and reading its final answer strictly as an [`LlmVerdictV1`]
//!   ([`verdict::parse`]).
//! - [`budget::Ledger`] is the exact spend per provider per UTC day and
//!   month; [`context::AgentMemory`] the LLM's recent calls per instrument and
//!   both agents' track records; both are documents the shell stores.
//! - [`ollama::Ollama`] is a local model's lifecycle steps (pull, load,
//!   unload, what it holds); [`config`] is `[agents]`.
//!
//! [`LlmVerdictV1`]: neo_domain::contracts::LlmVerdictV1

pub mod agent;
pub mod budget;
pub mod chain;
pub mod config;
pub mod context;
pub mod ollama;
pub mod orchestrator;
pub mod prompt;
pub mod provider;
pub mod tools;
pub mod verdict;
