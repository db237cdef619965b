//! `[agents]`: which agents analyse each signal, how their answers combine,
//! how long the desk waits for them, and the LLM agent's providers and budget.

use std::collections::BTreeSet;

use neo_engine::analyst::policy::Policy;
use serde::Deserialize;

use crate::budget::BudgetConfig;
use crate::provider::ProviderConfig;

/// An agent NEO can run on a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// The rule analyst (always answers; it decides alone when the others cannot).
    Rule,
    /// The LLM agent, through `[[agents.llm.providers]]`.
    Llm,
}

/// `[agents]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// The agents each accepted signal is offered to (default `["rule"]`).
    pub enabled: Vec<AgentKind>,
    /// How their answers combine (default `rule_only`).
    pub policy: Policy,
    /// How long the desk waits for the agents, from the signal's arrival at the desk (default 2000).
    pub deadline_ms: u64,
    /// Most consultations in flight at once; signals beyond wait their turn inside the deadline (default 16).
    pub max_in_flight: usize,
    /// `[agents.llm]`: the LLM agent.
    pub llm: LlmConfig,
    /// `[agents.budget]`: caps on the LLM's spend.
    pub budget: BudgetConfig,
    /// `[agents.ollama]`: how NEO manages local models (providers of kind `ollama`).
    pub ollama: OllamaConfig,
}

/// `[agents.ollama]`: the lifecycle NEO runs for each `kind = "ollama"` provider
/// while the `ollama_lifecycle` flag is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OllamaConfig {
    /// Pull the model when it is missing (default true).
    pub pull: bool,
    /// Unload the model after this long without a signal (default 900).
    pub idle_unload_secs: u64,
    /// How often the lifecycle looks (default 30).
    pub check_every_secs: u64,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        OllamaConfig {
            pull: true,
            idle_unload_secs: 900,
            check_every_secs: 30,
        }
    }
}

impl Default for AgentsConfig {
    fn default() -> Self {
        AgentsConfig {
            enabled: vec![AgentKind::Rule],
            policy: Policy::RuleOnly,
            deadline_ms: 2_000,
            max_in_flight: 16,
            llm: LlmConfig::default(),
            budget: BudgetConfig::default(),
            ollama: OllamaConfig::default(),
        }
    }
}

/// `[agents.llm]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// `[[agents.llm.providers]]`: the fallback chain, asked in order.
    pub providers: Vec<ProviderConfig>,
    /// Most tool calls (quotes, candles, indicators, portfolio) per provider
    /// before the verdict is due; 0 gives the model no tools (default 4).
    pub max_tool_calls: usize,
}

impl Default for LlmConfig {
    fn default() -> Self {
        LlmConfig {
            providers: Vec::new(),
            max_tool_calls: 4,
        }
    }
}

impl AgentsConfig {
    /// Whether the LLM agent runs.
    pub fn llm_enabled(&self) -> bool {
        self.enabled.contains(&AgentKind::Llm)
    }

    /// Whether a budget cap is set.
    pub fn has_caps(&self) -> bool {
        self.budget.daily_usd.is_some() || self.budget.monthly_usd.is_some()
    }

    /// Every problem at once.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.enabled.contains(&AgentKind::Rule) {
            p.push(
                "agents.enabled must include \"rule\": the rule analyst decides whenever \
                 another agent cannot"
                    .to_owned(),
            );
        }
        let distinct: BTreeSet<_> = self.enabled.iter().collect();
        if distinct.len() != self.enabled.len() {
            p.push("agents.enabled names an agent twice".to_owned());
        }
        if self.llm_enabled() && self.llm.providers.is_empty() {
            p.push(
                "agents.enabled includes \"llm\" but no [[agents.llm.providers]] is configured"
                    .to_owned(),
            );
        }
        if self.policy != Policy::RuleOnly && !self.llm_enabled() {
            p.push(format!(
                "agents.policy = {:?} combines the LLM's answer, but \"llm\" is not in agents.enabled",
                policy_name(self.policy)
            ));
        }
        if !(100..=60_000).contains(&self.deadline_ms) {
            p.push(format!(
                "agents.deadline_ms must be 100 to 60000, got {}",
                self.deadline_ms
            ));
        }
        if self.llm.max_tool_calls > 16 {
            p.push("agents.llm.max_tool_calls must be 0 to 16".to_owned());
        }
        if !(1..=1_024).contains(&self.max_in_flight) {
            p.push("agents.max_in_flight must be 1 to 1024".to_owned());
        }
        let mut names = BTreeSet::new();
        for provider in &self.llm.providers {
            if !names.insert(provider.name.as_str()) {
                p.push(format!(
                    "agents.llm.providers: the name {:?} is used twice",
                    provider.name
                ));
            }
            p.extend(provider.problems());
        }
        p.extend(self.budget.problems());
        if !(60..=86_400).contains(&self.ollama.idle_unload_secs) {
            p.push("agents.ollama.idle_unload_secs must be 60 to 86400".to_owned());
        }
        if !(1..=3_600).contains(&self.ollama.check_every_secs) {
            p.push("agents.ollama.check_every_secs must be 1 to 3600".to_owned());
        }
        p
    }
}

/// The policy's name as configured.
pub fn policy_name(policy: Policy) -> &'static str {
    match policy {
        Policy::RuleOnly => "rule_only",
        Policy::LlmMustAgree => "llm_must_agree",
        Policy::Weighted => "weighted",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    #[test]
    fn the_default_runs_the_rule_analyst_alone() {
        let c = AgentsConfig::default();
        assert!(c.validate().is_empty());
        assert!(!c.llm_enabled());
        assert_eq!(c.deadline_ms, 2_000);
    }

    #[test]
    fn every_problem_is_listed_at_once() {
        let c: AgentsConfig = serde_json::from_value(json!({
            "enabled": ["llm", "llm"], "policy": "weighted", "deadline_ms": 5,
            "max_in_flight": 0, "budget": { "daily_usd": -1.0 }
        }))
        .unwrap();
        let p = c.validate();
        assert_eq!(p.len(), 6, "{p:#?}");
        let unknown = serde_json::from_value::<AgentsConfig>(json!({ "deadline": 5 }));
        assert!(unknown.is_err());
        let bad_policy = serde_json::from_value::<AgentsConfig>(json!({ "policy": "yolo" }));
        assert!(bad_policy.is_err());
    }
}
