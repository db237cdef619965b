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
use crate::provider::{self, ProviderConfig, ProviderError};
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
}

/// No provider gave a verdict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no provider gave a verdict: {}", describe(.attempts))]
pub struct Exhausted {
    /// Every attempt, in order.
    pub attempts: Vec<Attempt>,
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
        let mut attempts = Vec::new();
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
            let answered = provider::call(&self.client, config, prompt, &self.schema).await;
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
        Err(Exhausted { attempts })
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

/// Why one provider gave no verdict.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Provider(ProviderError),
    #[error("{0}")]
    Verdict(String),
}
