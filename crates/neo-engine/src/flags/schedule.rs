//! Time-based changes: a scheduled state at a time, and staged plans (25 ->
//! 50 -> 100 every 24 h) that advance only while the flag's guards hold. Pure:
//! the caller passes `now` and which flags are healthy, and applies what is due
//! through the same path as an operator's change.

use neo_domain::Timestamp;
use serde::{Deserialize, Serialize};

use super::{ALL_UNITS, FlagName, FlagState, Flags, wire};

/// At `at`, the flag moves to `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::ScheduledWire", into = "wire::ScheduledWire")]
pub struct Scheduled {
    /// When.
    pub at: Timestamp,
    /// To what.
    pub state: FlagState,
}

/// A staged rollout: from one step to the next every `every_secs`, while the
/// flag's guards hold; the last step at 100% enables the flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::PlanWire", into = "wire::PlanWire")]
pub struct Plan {
    /// The shares, in basis points, increasing.
    pub steps: Vec<u16>,
    /// How long each step lasts at least.
    pub every_secs: u64,
}

/// A change that is due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The flag.
    pub flag: FlagName,
    /// Its new state.
    pub to: FlagState,
    /// Why, for the history.
    pub why: String,
}

impl Flags {
    /// What the schedules and plans move now. A flag in rollback moves only by
    /// an explicit change; a plan waits while `healthy(flag)` is false.
    pub fn due(&self, now: Timestamp, healthy: impl Fn(FlagName) -> bool) -> Vec<Due> {
        let mut due = Vec::new();
        for (flag, spec) in self.specs() {
            if matches!(spec.state, FlagState::Rollback { .. }) {
                continue;
            }
            // The latest scheduled change that came after the last change.
            let scheduled = spec
                .schedule
                .iter()
                .filter(|s| s.at > spec.since && s.at <= now)
                .max_by_key(|s| s.at);
            if let Some(s) = scheduled
                && s.state != spec.state
            {
                due.push(Due {
                    flag: *flag,
                    to: s.state.clone(),
                    why: format!("scheduled for {}", s.at),
                });
                continue;
            }
            // A plan counts from a known start (a seeded one is started by the shell).
            let started = spec.since != Timestamp::EPOCH;
            if let Some(step) = spec
                .plan
                .as_ref()
                .filter(|_| started)
                .and_then(|p| next_step(p, &spec.state))
            {
                let every = i64::try_from(spec.plan.as_ref().map_or(0, |p| p.every_secs))
                    .unwrap_or(i64::MAX)
                    .saturating_mul(1_000_000_000);
                if now.nanos_since(spec.since) >= every && healthy(*flag) {
                    let to = if step >= ALL_UNITS {
                        FlagState::Enabled
                    } else {
                        FlagState::RollingOut { basis_points: step }
                    };
                    due.push(Due {
                        flag: *flag,
                        why: format!(
                            "staged plan: the guards held for {} s at {}",
                            every / 1_000_000_000,
                            spec.state
                        ),
                        to,
                    });
                }
            }
        }
        due
    }
}

/// The plan's next step above the current share (a disabled flag starts at the first).
fn next_step(plan: &Plan, state: &FlagState) -> Option<u16> {
    let at = match state {
        FlagState::Enabled | FlagState::Rollback { .. } => return None,
        FlagState::Disabled => return plan.steps.first().copied(),
        FlagState::RollingOut { basis_points } => *basis_points,
    };
    plan.steps.iter().copied().find(|s| *s > at)
}
