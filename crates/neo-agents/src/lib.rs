//! The agent layer's foundations (issue 14, being built; not wired into the
//! pipeline yet): the prompt an LLM gets about a signal, with the alert's text
//! quoted as data; the one answer shape it may give ([`LlmVerdictV1`],
//! parsed strictly by [`verdict::parse`]); and providers (OpenAI-compatible,
//! Anthropic, Ollama) asked in order with fallback, `Retry-After` honoured and
//! a circuit breaker each ([`chain::Chain`]); and the API budget's exact
//! ledger ([`budget::Ledger`]); and a local model's lifecycle on Ollama
//! ([`ollama::Ollama`]). A provider may also be asked to stream
//! (`stream = true`: its API's server-sent events or NDJSON), read whole into
//! the same reply an unstreamed answer gives. An LLM only proposes: nothing
//! here places or sizes anything.
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
