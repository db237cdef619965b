//! The wire shapes of states, specs and schedules: a state's fields sit flat
//! beside the rest, percents are numbers with at most two decimals, and every
//! shape refuses fields it does not know.

use neo_domain::Timestamp;
use serde::{Deserialize, Serialize};

use super::{ALL_UNITS, FlagName, FlagSpec, FlagState, Plan, Scheduled};

/// The state's name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum StateKind {
    Disabled,
    RollingOut,
    Enabled,
    Rollback,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateWire {
    state: StateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Basis points from a percent (what the API and config take) with at most two decimals, in 0..=100.
pub fn basis_points(percent: f64) -> Result<u16, String> {
    if !percent.is_finite() || !(0.0..=100.0).contains(&percent) {
        return Err(format!("percent must be between 0 and 100, got {percent}"));
    }
    let scaled = percent * 100.0;
    let rounded = scaled.round();
    if (scaled - rounded).abs() > 1e-6 {
        return Err(format!("percent takes at most two decimals, got {percent}"));
    }
    // In 0..=10,000 by the checks above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(rounded as u16)
}

/// A percent for basis points (2,500 -> 25).
pub fn percent(basis_points: u16) -> f64 {
    f64::from(basis_points) / 100.0
}

/// A percent as text without a useless fraction (`25`, `12.5`).
pub(super) fn percent_text(basis_points: u16) -> String {
    if basis_points.is_multiple_of(100) {
        (basis_points / 100).to_string()
    } else {
        format!("{}", percent(basis_points))
    }
}

impl TryFrom<StateWire> for FlagState {
    type Error = String;
    fn try_from(w: StateWire) -> Result<Self, String> {
        let no_percent = |state: FlagState| match w.percent {
            Some(_) => Err(format!(
                "percent goes with rolling_out only, not {}",
                state.kind()
            )),
            None => Ok(state),
        };
        match w.state {
            StateKind::Disabled => no_percent(FlagState::Disabled),
            StateKind::Enabled => no_percent(FlagState::Enabled),
            StateKind::RollingOut => {
                let percent = w
                    .percent
                    .ok_or_else(|| "rolling_out needs a percent".to_owned())?;
                Ok(FlagState::RollingOut {
                    basis_points: basis_points(percent)?,
                })
            }
            StateKind::Rollback => {
                let reason = w.reason.clone().unwrap_or_default();
                if reason.trim().is_empty() {
                    return Err("rollback needs a reason".to_owned());
                }
                no_percent(FlagState::Rollback { reason })
            }
        }
    }
}

impl From<FlagState> for StateWire {
    fn from(state: FlagState) -> Self {
        let (state, percent, reason) = match state {
            FlagState::Disabled => (StateKind::Disabled, None, None),
            FlagState::Enabled => (StateKind::Enabled, None, None),
            FlagState::RollingOut { basis_points } => {
                (StateKind::RollingOut, Some(percent(basis_points)), None)
            }
            FlagState::Rollback { reason } => (StateKind::Rollback, None, Some(reason)),
        };
        StateWire {
            state,
            percent,
            reason,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SpecWire {
    state: StateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    deny: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    requires: Vec<FlagName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    schedule: Vec<Scheduled>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    plan: Option<Plan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<Timestamp>,
}

impl TryFrom<SpecWire> for FlagSpec {
    type Error = String;
    fn try_from(w: SpecWire) -> Result<Self, String> {
        let state = FlagState::try_from(StateWire {
            state: w.state,
            percent: w.percent,
            reason: w.reason,
        })?;
        Ok(FlagSpec {
            state,
            allow: w.allow,
            deny: w.deny,
            requires: w.requires,
            schedule: w.schedule,
            plan: w.plan,
            since: w.since.unwrap_or(Timestamp::EPOCH),
        })
    }
}

impl From<FlagSpec> for SpecWire {
    fn from(spec: FlagSpec) -> Self {
        let StateWire {
            state,
            percent,
            reason,
        } = spec.state.into();
        SpecWire {
            state,
            percent,
            reason,
            allow: spec.allow,
            deny: spec.deny,
            requires: spec.requires,
            schedule: spec.schedule,
            plan: spec.plan,
            since: (spec.since != Timestamp::EPOCH).then_some(spec.since),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScheduledWire {
    at: Timestamp,
    state: StateKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl TryFrom<ScheduledWire> for Scheduled {
    type Error = String;
    fn try_from(w: ScheduledWire) -> Result<Self, String> {
        let state = FlagState::try_from(StateWire {
            state: w.state,
            percent: w.percent,
            reason: w.reason,
        })?;
        Ok(Scheduled { at: w.at, state })
    }
}

impl From<Scheduled> for ScheduledWire {
    fn from(s: Scheduled) -> Self {
        let StateWire {
            state,
            percent,
            reason,
        } = s.state.into();
        ScheduledWire {
            at: s.at,
            state,
            percent,
            reason,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PlanWire {
    percents: Vec<f64>,
    every_secs: u64,
}

impl TryFrom<PlanWire> for Plan {
    type Error = String;
    fn try_from(w: PlanWire) -> Result<Self, String> {
        let steps = w
            .percents
            .iter()
            .map(|p| basis_points(*p))
            .collect::<Result<Vec<u16>, String>>()?;
        if steps.is_empty() || steps.windows(2).any(|w| w[0] >= w[1]) {
            return Err("a plan's percents must be non-empty and increasing".to_owned());
        }
        if w.every_secs == 0 {
            return Err("a plan's every_secs must be above 0".to_owned());
        }
        if steps.iter().any(|s| *s > ALL_UNITS) {
            return Err("a plan's percents are at most 100".to_owned());
        }
        Ok(Plan {
            steps,
            every_secs: w.every_secs,
        })
    }
}

impl From<Plan> for PlanWire {
    fn from(p: Plan) -> Self {
        PlanWire {
            percents: p.steps.into_iter().map(percent).collect(),
            every_secs: p.every_secs,
        }
    }
}
