//! The fallback chain: providers asked in their configured order until one
//! gives a valid verdict. A 429 closes a provider until its `Retry-After`; a
//! provider that fails three times in a row (5xx, timeout, unreachable, a
//! refused request or an invalid answer) is skipped for 30 seconds (its
//! circuit breaker), then tried again. Every attempt is reported, so the
//! story can say who answered, who did not and why.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use neo_domain::InstrumentId;
use neo_domain::contracts::LlmVerdictV1;
use serde_json::Value;
use tokio::time::Instant;

use crate::prompt::{Prompt, verdict_schema};
use crate::provider::{self, Answer, Exchange, ProviderConfig, ProviderError, Reply};
use crate::tools::{ToolCall, ToolCallRecord, ToolFailure, Toolbox, result_text};
use crate::verdict;

/// Consecutive failures that open a provider's breaker.
pub const TRIP_AFTER: u32 = 3;

/// How long an open breaker skips its provider.
pub const OPEN_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, Default)]
struct Breaker {
    failures: u32,
    closed_until: Option<Instant>,
}

/// What became of one provider for one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It gave a valid verdict.
    Answered,
    /// Not asked: its breaker is open or it asked to wait.
    Skipped(String),
    /// Asked, and it failed (5xx, 429, timeout, unreachable, refused).
    Failed(String),
    /// Asked, and it answered something that is not a valid verdict.
    Invalid(String),
}

/// One provider's attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The provider's name.
    pub provider: String,
    /// What happened.
    pub outcome: Outcome,
    /// How long it took (0 when skipped).
    pub latency: Duration,
}

/// A verdict and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdicted {
    /// The verdict.
    pub verdict: LlmVerdictV1,
    /// The provider that gave it.
    pub provider: String,
    /// Its input tokens.
    pub input_tokens: u64,
    /// Its output tokens.
    pub output_tokens: u64,
    /// Its cost in micro-dollars at the configured prices.
    pub cost_micro_usd: u64,
    /// Every attempt, in order, the answering one last.
    pub attempts: Vec<Attempt>,
    /// Every tool call any provider made, in order.
    pub tool_calls: Vec<ToolCallRecord>,
}

/// No provider gave a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no provider gave a verdict: {}", describe(.attempts))]
pub struct Exhausted {
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
    /// Every tool call any provider made, in order.
    pub tool_calls: Vec<ToolCallRecord>,
}

/// The tools a conversation may use, and how many calls it may make.
#[derive(Debug, Clone, Copy)]
pub struct Tools<'a> {
    /// The tools.
    pub toolbox: &'a dyn Toolbox,
    /// Most calls per provider's conversation.
    pub max_calls: usize,
}

fn describe(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no provider is configured".to_owned();
    }
    attempts
        .iter()
        .map(|a| match &a.outcome {
            Outcome::Answered => format!("{} answered", a.provider),
            Outcome::Skipped(why) | Outcome::Failed(why) | Outcome::Invalid(why) => {
                format!("{}: {why}", a.provider)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The providers, in order, with their breakers.
#[derive(Debug)]
pub struct Chain {
    client: reqwest::Client,
    providers: Vec<ProviderConfig>,
    breakers: Mutex<Vec<Breaker>>,
    schema: Value,
}

impl Chain {
    /// A chain over `providers`, in order.
    pub fn new(client: reqwest::Client, providers: Vec<ProviderConfig>) -> Self {
        let breakers = Mutex::new(vec![Breaker::default(); providers.len()]);
        Chain {
            client,
            providers,
            breakers,
            schema: verdict_schema(),
        }
    }

    /// Asks each provider in turn until one gives a valid verdict on `instrument`.
    pub async fn ask(
        &self,
        prompt: &Prompt,
        instrument: InstrumentId,
    ) -> Result<Verdicted, Exhausted> {
        self.ask_with(prompt, instrument, None).await
    }

    /// [`Chain::ask`], letting each provider's model call `tools` first.
    pub async fn ask_with(
        &self,
        prompt: &Prompt,
        instrument: InstrumentId,
        tools: Option<Tools<'_>>,
    ) -> Result<Verdicted, Exhausted> {
        let mut attempts = Vec::new();
        let mut tool_calls = Vec::new();
        for (i, config) in self.providers.iter().enumerate() {
            let started = Instant::now();
            if let Some(until) = self.closed_until(i, started) {
                let wait = until.saturating_duration_since(started).as_secs();
                attempts.push(Attempt {
                    provider: config.name.clone(),
                    outcome: Outcome::Skipped(format!("closed for {wait} s more")),
                    latency: Duration::ZERO,
                });
                continue;
            }
            let answered = self.converse(config, prompt, tools, &mut tool_calls).await;
            let latency = started.elapsed();
            let read = answered.map_err(Failure::Provider).and_then(|answer| {
                verdict::parse(&answer.text, instrument)
                    .map(|v| (v, answer))
                    .map_err(|e| Failure::Verdict(e.to_string()))
            });
            match read {
                Ok((verdict, answer)) => {
                    self.settle(i, None);
                    attempts.push(Attempt {
                        provider: config.name.clone(),
                        outcome: Outcome::Answered,
                        latency,
                    });
                    return Ok(Verdicted {
                        verdict,
                        provider: config.name.clone(),
                        input_tokens: answer.input_tokens,
                        output_tokens: answer.output_tokens,
                        cost_micro_usd: config
                            .cost_micro_usd(answer.input_tokens, answer.output_tokens),
                        attempts,
                        tool_calls,
                    });
                }
                Err(failure) => {
                    self.settle(i, Some(&failure));
                    tracing::warn!(provider = %config.name, reason = %failure, "LLM provider failed; trying the next");
                    let outcome = match &failure {
                        Failure::Verdict(_) => Outcome::Invalid(failure.to_string()),
                        Failure::Provider(_) => Outcome::Failed(failure.to_string()),
                    };
                    attempts.push(Attempt {
                        provider: config.name.clone(),
                        outcome,
                        latency,
                    });
                }
            }
        }
        Err(Exhausted {
            attempts,
            tool_calls,
        })
    }

    /// One provider's conversation: tool calls (at most `max_calls`) until a verdict's text.
    async fn converse(
        &self,
        config: &ProviderConfig,
        prompt: &Prompt,
        tools: Option<Tools<'_>>,
        records: &mut Vec<ToolCallRecord>,
    ) -> Result<Answer, ProviderError> {
        let defs = tools.map(|t| t.toolbox.list()).unwrap_or_default();
        let mut history = Vec::new();
        let (mut input, mut output, mut spent) = (0u64, 0u64, 0usize);
        loop {
            let final_only = tools.is_none_or(|t| spent >= t.max_calls);
            let exchange = Exchange {
                prompt,
                schema: &self.schema,
                tools: &defs,
                history: &history,
                final_only,
            };
            match provider::call(&self.client, config, &exchange).await? {
                Reply::Verdict(mut answer) => {
                    answer.input_tokens = answer.input_tokens.saturating_add(input);
                    answer.output_tokens = answer.output_tokens.saturating_add(output);
                    return Ok(answer);
                }
                Reply::Calls { .. } if final_only => {
                    return Err(ProviderError::Malformed(
                        "it called tools instead of giving its verdict".to_owned(),
                    ));
                }
                Reply::Calls {
                    assistant,
                    calls,
                    input_tokens,
                    output_tokens,
                } => {
                    input = input.saturating_add(input_tokens);
                    output = output.saturating_add(output_tokens);
                    history.push(assistant);
                    let mut results = Vec::with_capacity(calls.len());
                    for call in calls {
                        let limit = tools.map_or(0, |t| t.max_calls);
                        let toolbox = tools.map(|t| t.toolbox).filter(|_| spent < limit);
                        spent += 1;
                        let (text, record) = run_tool(toolbox, &defs, &call, &config.name).await;
                        records.push(record);
                        results.push((call, text));
                    }
                    history.extend(provider::tool_results(config.kind, &results));
                }
            }
        }
    }

    fn closed_until(&self, i: usize, now: Instant) -> Option<Instant> {
        let breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        breakers.get(i)?.closed_until.filter(|until| *until > now)
    }

    /// Records a success (`None`) or a failure in provider `i`'s breaker.
    fn settle(&self, i: usize, failure: Option<&Failure>) {
        let mut breakers = self.breakers.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(b) = breakers.get_mut(i) else { return };
        match failure {
            None => *b = Breaker::default(),
            Some(Failure::Provider(ProviderError::RateLimited { retry_after })) => {
                // Not the provider's fault: wait as long as it asked, no strike.
                b.closed_until = Some(Instant::now() + retry_after.unwrap_or(OPEN_FOR));
            }
            Some(_) => {
                b.failures += 1;
                if b.failures >= TRIP_AFTER {
                    b.closed_until = Some(Instant::now() + OPEN_FOR);
                    b.failures = 0;
                }
            }
        }
    }
}

/// Runs one call the model asked for, if it may: its result text and its record.
async fn run_tool(
    toolbox: Option<&dyn Toolbox>,
    offered: &[crate::tools::ToolDef],
    call: &ToolCall,
    provider: &str,
) -> (String, ToolCallRecord) {
    let started = Instant::now();
    let result = match (&call.arguments, toolbox) {
        (_, None) => Err(ToolFailure(
            "no more tool calls: give your verdict now".to_owned(),
        )),
        (_, Some(_)) if !offered.iter().any(|d| d.name == call.name) => Err(ToolFailure(format!(
            "no tool named {:?} is available to you",
            call.name
        ))),
        (Err(why), Some(_)) => Err(ToolFailure(why.clone())),
        (Ok(arguments), Some(toolbox)) => toolbox.call(&call.name, arguments.clone()).await,
    };
    let record = ToolCallRecord {
        provider: provider.to_owned(),
        name: call.name.chars().take(100).collect(),
        arguments: match &call.arguments {
            Ok(v) => v.to_string(),
            Err(why) => why.clone(),
        }
        .chars()
        .take(1_000)
        .collect(),
        ok: result.is_ok(),
        error: result.as_ref().err().map(|e| e.0.clone()),
        latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    (result_text(&result), record)
}

/// Why one provider gave no verdict.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Provider(ProviderError),
    #[error("{0}")]
    Verdict(String),
}
