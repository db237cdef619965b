//! `[flags]`: the flags' initial states (the store wins after a flag's first
//! change), the `FF_*` environment aliases, and the guard rules' windows and
//! per-rule overrides.

use std::collections::BTreeMap;

use neo_engine::flags::{FlagName, FlagSpec, FlagState, Flags, GuardRule, RuleKind};
use serde::Deserialize;

/// `[flags]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlagsConfig {
    /// Seconds of samples a guard rule judges (default 300).
    pub evaluation_window_secs: u64,
    /// Fewest samples before a rule is judged (default 20).
    pub min_samples: usize,
    /// `[flags.seed.<flag>]`: a flag's initial settings (`state`, `percent`, `allow`, ...).
    pub seed: BTreeMap<FlagName, FlagSpec>,
    /// `[flags.guards.<flag>.<rule>]`: a rule's `threshold`, `window_secs`,
    /// `min_samples`, or `enabled = false`.
    pub guards: BTreeMap<FlagName, BTreeMap<RuleKind, RuleOverride>>,
}

impl Default for FlagsConfig {
    fn default() -> Self {
        FlagsConfig {
            evaluation_window_secs: 300,
            min_samples: 20,
            seed: BTreeMap::new(),
            guards: BTreeMap::new(),
        }
    }
}

/// One guard rule's overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    /// Where it trips.
    pub threshold: Option<f64>,
    /// Its window.
    pub window_secs: Option<u64>,
    /// Its minimum sample.
    pub min_samples: Option<usize>,
    /// `false` switches the rule off.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl FlagsConfig {
    /// The initial flags: NEO's standard states overlaid by `[flags.seed]`.
    pub fn seed_flags(&self) -> Result<Flags, Vec<String>> {
        let mut specs: BTreeMap<FlagName, FlagSpec> = Flags::standard()
            .specs()
            .map(|(f, s)| (*f, s.clone()))
            .collect();
        specs.extend(self.seed.iter().map(|(f, s)| (*f, s.clone())));
        Flags::new(specs).map_err(|problems| {
            problems
                .iter()
                .map(|p| format!("flags.seed: {p}"))
                .collect()
        })
    }

    /// The guard rules: the seed documents' defaults over this window (bracket
    /// success judged against brackets of `reward_risk`), with the overrides.
    pub fn rules(&self, reward_risk: f64) -> Vec<GuardRule> {
        GuardRule::seeds(self.evaluation_window_secs, self.min_samples, reward_risk)
            .into_iter()
            .filter_map(|mut rule| {
                let Some(o) = self.guards.get(&rule.flag).and_then(|g| g.get(&rule.kind)) else {
                    return Some(rule);
                };
                rule.threshold = o.threshold.unwrap_or(rule.threshold);
                rule.window_secs = o.window_secs.unwrap_or(rule.window_secs);
                rule.min_samples = o.min_samples.unwrap_or(rule.min_samples);
                o.enabled.then_some(rule)
            })
            .collect()
    }

    /// Applies one `FF_<FLAG>` variable: `on`/`true`/`1`/`enabled`, `off`/`false`/`0`/
    /// `disabled`, or a percent such as `25%`.
    pub fn apply_env(&mut self, key: &str, value: &str) -> Result<(), String> {
        let Some(flag) = FlagName::parse(key) else {
            return Err(format!("{key}: NEO has no such flag"));
        };
        let state = env_state(value)
            .ok_or_else(|| format!("{key}={value:?}: use on, off or a percent such as 25%"))?;
        let spec = self
            .seed
            .entry(flag)
            .or_insert_with(|| FlagSpec::new(FlagState::Disabled));
        spec.state = state;
        Ok(())
    }

    /// Every problem at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = self.seed_flags().err().unwrap_or_default();
        if self.evaluation_window_secs == 0 {
            problems.push("flags.evaluation_window_secs must be above 0".to_owned());
        }
        if self.min_samples == 0 {
            problems.push("flags.min_samples must be at least 1".to_owned());
        }
        let known = GuardRule::seeds(1, 1, 1.0);
        for (flag, rules) in &self.guards {
            for (kind, o) in rules {
                let at = format!("flags.guards.{flag}.{}", kind.as_str());
                if !known.iter().any(|r| r.flag == *flag && r.kind == *kind) {
                    let have: Vec<&str> = known
                        .iter()
                        .filter(|r| r.flag == *flag)
                        .map(|r| r.kind.as_str())
                        .collect();
                    problems.push(format!(
                        "{at}: {flag} has no such rule (its rules: {})",
                        if have.is_empty() {
                            "none".to_owned()
                        } else {
                            have.join(", ")
                        }
                    ));
                }
                if o.threshold.is_some_and(|t| !t.is_finite()) {
                    problems.push(format!("{at}.threshold must be a number"));
                }
                if o.window_secs == Some(0) {
                    problems.push(format!("{at}.window_secs must be above 0"));
                }
                if o.min_samples == Some(0) {
                    problems.push(format!("{at}.min_samples must be at least 1"));
                }
            }
        }
        problems
    }
}

fn env_state(value: &str) -> Option<FlagState> {
    let v = value.trim().to_ascii_lowercase();
    match v.as_str() {
        "on" | "true" | "1" | "enabled" | "yes" => return Some(FlagState::Enabled),
        "off" | "false" | "0" | "disabled" | "no" => return Some(FlagState::Disabled),
        _ => {}
    }
    let percent: f64 = v.strip_suffix('%')?.trim().parse().ok()?;
    let bp = neo_engine::flags::basis_points(percent).ok()?;
    Some(match bp {
        0 => FlagState::Disabled,
        neo_engine::flags::ALL_UNITS => FlagState::Enabled,
        bp => FlagState::RollingOut { basis_points: bp },
    })
}
