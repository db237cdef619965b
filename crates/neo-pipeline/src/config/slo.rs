//! `[slo.<name>]`: an SLO's target, latency threshold or period, over the seed
//! documents' defaults.

use std::collections::BTreeMap;

use neo_engine::slo::{SloName, SloSpec};
use serde::Deserialize;

/// One SLO's overrides; what is left out keeps the seed's value.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloOverride {
    /// Least share of good events (0.95 for a p95).
    pub target: Option<f64>,
    /// For latency SLOs: good at or under this many seconds.
    pub threshold_secs: Option<f64>,
    /// The window the share is measured over, in hours.
    pub period_hours: Option<u32>,
}

/// `[slo]`: overrides by SLO name.
pub type SloConfig = BTreeMap<SloName, SloOverride>;

/// The objectives with the overrides applied.
pub fn objectives(config: &SloConfig) -> BTreeMap<SloName, SloSpec> {
    SloName::ALL
        .into_iter()
        .map(|name| {
            let seed = SloSpec::seed(name);
            let o = config.get(&name).copied().unwrap_or_default();
            let spec = SloSpec {
                target: o.target.unwrap_or(seed.target),
                threshold_secs: o.threshold_secs.or(seed.threshold_secs),
                period_hours: o.period_hours.unwrap_or(seed.period_hours),
            };
            (name, spec)
        })
        .collect()
}

/// Every problem with the overrides.
pub(super) fn problems(config: &SloConfig) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, spec) in objectives(config) {
        problems.extend(spec.problems(name));
        let latency = SloSpec::seed(name).threshold_secs.is_some();
        if !latency
            && config
                .get(&name)
                .is_some_and(|o| o.threshold_secs.is_some())
        {
            problems.push(format!(
                "slo.{}: threshold_secs applies to latency SLOs only",
                name.as_str()
            ));
        }
    }
    problems
}
