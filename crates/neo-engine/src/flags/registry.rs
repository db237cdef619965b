//! The registry: every flag's settings, validated together (an unknown or
//! cyclic requirement is refused), and the one evaluation rule.

use std::collections::BTreeMap;

use super::{ALL_UNITS, FlagName, FlagSpec, FlagState, bucket};

/// A problem with a set of flag settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagProblem {
    /// A rollout over 100%.
    #[error("{flag}: a rollout of {basis_points} basis points is over 10000 (100%)")]
    OverFull {
        /// The flag.
        flag: FlagName,
        /// What it asked for.
        basis_points: u16,
    },
    /// A rollback without a reason.
    #[error("{flag}: a rollback needs a reason")]
    NoReason {
        /// The flag.
        flag: FlagName,
    },
    /// A flag requiring itself, directly or through others.
    #[error("{flag}: its requirements come back to it ({})", .path.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(" -> "))]
    Cycle {
        /// The flag.
        flag: FlagName,
        /// The requirement path back to it.
        path: Vec<FlagName>,
    },
    /// A unit both allowed and denied.
    #[error("{flag}: {unit:?} is both allowed and denied")]
    AllowedAndDenied {
        /// The flag.
        flag: FlagName,
        /// The unit.
        unit: String,
    },
}

/// Every flag's settings; a flag not named is disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    specs: BTreeMap<FlagName, FlagSpec>,
}

impl Flags {
    /// The settings, or every problem with them at once.
    pub fn new(specs: BTreeMap<FlagName, FlagSpec>) -> Result<Self, Vec<FlagProblem>> {
        let flags = Flags { specs };
        let problems = flags.problems();
        if problems.is_empty() {
            Ok(flags)
        } else {
            Err(problems)
        }
    }

    /// The settings NEO starts from without config: every built behaviour
    /// enabled (as before flags existed), the LLM agent, its budget and the
    /// local model's lifecycle disabled.
    pub fn standard() -> Self {
        let off = [
            FlagName::AgentGpt,
            FlagName::ApiBudget,
            FlagName::OllamaLifecycle,
        ];
        let specs = FlagName::ALL
            .into_iter()
            .map(|f| {
                let state = if off.contains(&f) {
                    FlagState::Disabled
                } else {
                    FlagState::Enabled
                };
                (f, FlagSpec::new(state))
            })
            .collect();
        Flags { specs }
    }

    /// Every named flag's settings, in name order.
    pub fn specs(&self) -> impl Iterator<Item = (&FlagName, &FlagSpec)> {
        self.specs.iter()
    }

    /// Every flag's verdict for `unit`, for the decision's record.
    pub fn in_effect(&self, unit: &str) -> BTreeMap<String, bool> {
        FlagName::ALL
            .into_iter()
            .map(|f| (f.as_str().to_owned(), self.is_on(f, unit)))
            .collect()
    }

    /// These settings with `flag` replaced, validated like any other.
    pub fn with(&self, flag: FlagName, spec: FlagSpec) -> Result<Self, Vec<FlagProblem>> {
        let mut specs = self.specs.clone();
        specs.insert(flag, spec);
        Flags::new(specs)
    }

    /// One flag's settings (`None`: disabled by default).
    pub fn spec(&self, flag: FlagName) -> Option<&FlagSpec> {
        self.specs.get(&flag)
    }

    /// Whether `flag` is on for `unit`: its own state and lists, and every flag
    /// it requires on for the same unit.
    pub fn is_on(&self, flag: FlagName, unit: &str) -> bool {
        self.own(flag, unit)
            && self.spec(flag).is_none_or(|spec| {
                spec.requires
                    .iter()
                    .all(|required| self.is_on(*required, unit))
            })
    }

    /// The flag's own verdict, requirements aside.
    fn own(&self, flag: FlagName, unit: &str) -> bool {
        let Some(spec) = self.spec(flag) else {
            return false;
        };
        let listed = |list: &[String]| list.iter().any(|u| u == unit);
        match &spec.state {
            FlagState::Disabled | FlagState::Rollback { .. } => false,
            _ if listed(&spec.deny) => false,
            _ if listed(&spec.allow) => true,
            FlagState::Enabled => true,
            FlagState::RollingOut { basis_points } => bucket(flag, unit) < *basis_points,
        }
    }

    fn problems(&self) -> Vec<FlagProblem> {
        let mut problems = Vec::new();
        for (flag, spec) in &self.specs {
            match &spec.state {
                FlagState::RollingOut { basis_points } if *basis_points > ALL_UNITS => {
                    problems.push(FlagProblem::OverFull {
                        flag: *flag,
                        basis_points: *basis_points,
                    });
                }
                FlagState::Rollback { reason } if reason.trim().is_empty() => {
                    problems.push(FlagProblem::NoReason { flag: *flag });
                }
                _ => {}
            }
            if let Some(unit) = spec.allow.iter().find(|u| spec.deny.contains(u)) {
                problems.push(FlagProblem::AllowedAndDenied {
                    flag: *flag,
                    unit: unit.clone(),
                });
            }
            if let Some(path) = self.cycle_from(*flag) {
                problems.push(FlagProblem::Cycle { flag: *flag, path });
            }
        }
        problems
    }

    /// A requirement path from `start` back to itself, if there is one.
    fn cycle_from(&self, start: FlagName) -> Option<Vec<FlagName>> {
        let mut stack: Vec<(FlagName, Vec<FlagName>)> = vec![(start, vec![start])];
        let mut seen = Vec::new();
        while let Some((flag, path)) = stack.pop() {
            for next in self.spec(flag).map_or(&[][..], |s| &s.requires[..]) {
                let mut longer = path.clone();
                longer.push(*next);
                if *next == start {
                    return Some(longer);
                }
                if !seen.contains(next) {
                    seen.push(*next);
                    stack.push((*next, longer));
                }
            }
        }
        None
    }
}
