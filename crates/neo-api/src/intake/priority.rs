//! Priority rules: how urgent a normalized signal is. Priority is a subject
//! token (`signals.normalized.{priority}...`), so consumers can serve exits and
//! stops before ordinary entries.

use std::collections::BTreeMap;

use neo_domain::Issue;
use neo_domain::contracts::{Priority, SignalType};
use serde::Deserialize;

/// The documented rules, applied in this order (the first that decides wins):
///
/// 1. `strategies`: a per-strategy override, matched on the trimmed strategy
///    name ignoring case;
/// 2. the sender's own `priority` field, when `honor_sender_priority`;
/// 3. by signal type: `exit` and `reverse` (default high), `entry` (normal);
/// 4. an `alert` whose comment or strategy mentions one of `stop_keywords`
///    (whole words, ignoring case; `stop loss` matches `Stop-Loss hit`) gets
///    `stop_priority` (high); any other alert gets `alert` (low).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriorityRules {
    /// Priority of entries.
    pub entry: Priority,
    /// Priority of exits.
    pub exit: Priority,
    /// Priority of reverses.
    pub reverse: Priority,
    /// Priority of plain alerts that mention no stop keyword.
    pub alert: Priority,
    /// Words (or phrases) that make an alert stop-related.
    pub stop_keywords: Vec<String>,
    /// Priority of stop-related alerts.
    pub stop_priority: Priority,
    /// Whether a `priority` field in the alert is used (after `strategies`).
    pub honor_sender_priority: bool,
    /// Strategy name -> priority, overriding every other rule.
    pub strategies: BTreeMap<String, Priority>,
}

impl Default for PriorityRules {
    fn default() -> Self {
        PriorityRules {
            entry: Priority::Normal,
            exit: Priority::High,
            reverse: Priority::High,
            alert: Priority::Low,
            stop_keywords: ["stop", "sl", "stopped", "stop loss", "stoploss"]
                .map(String::from)
                .to_vec(),
            stop_priority: Priority::High,
            honor_sender_priority: true,
            strategies: BTreeMap::new(),
        }
    }
}

impl PriorityRules {
    /// Every problem at once: keywords with no letters or digits (they could
    /// never match), blank strategy names, and names equal ignoring case.
    pub fn validate(&self) -> Result<(), Vec<Issue>> {
        let mut issues = Vec::new();
        for (i, keyword) in self.stop_keywords.iter().enumerate() {
            if words(keyword).is_empty() {
                issues.push(Issue::new(
                    format!("/stop_keywords/{i}"),
                    "must contain a letter or digit",
                ));
            }
        }
        let mut seen: Vec<String> = Vec::new();
        for name in self.strategies.keys() {
            let path = format!("/strategies{}", super::error::pointer(name));
            let folded = name.trim().to_ascii_lowercase();
            if folded.is_empty() {
                issues.push(Issue::new(path, "strategy name must not be blank"));
            } else if seen.contains(&folded) {
                issues.push(Issue::new(
                    path,
                    "names the same strategy as another entry (names match ignoring case)",
                ));
            }
            seen.push(folded);
        }
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }

    /// The priority of a signal of `kind` with these texts, by the rules above.
    pub fn priority(
        &self,
        kind: SignalType,
        strategy: Option<&str>,
        comment: Option<&str>,
        sender_priority: Option<Priority>,
    ) -> Priority {
        if let Some(name) = strategy.map(str::trim)
            && let Some((_, priority)) = self
                .strategies
                .iter()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        {
            return *priority;
        }
        if self.honor_sender_priority
            && let Some(priority) = sender_priority
        {
            return priority;
        }
        match kind {
            SignalType::Entry => self.entry,
            SignalType::Exit => self.exit,
            SignalType::Reverse => self.reverse,
            SignalType::Alert => {
                let texts = [comment, strategy];
                if texts.into_iter().flatten().any(|t| self.mentions_stop(t)) {
                    self.stop_priority
                } else {
                    self.alert
                }
            }
        }
    }

    /// True when `text` contains a stop keyword as whole words.
    pub fn mentions_stop(&self, text: &str) -> bool {
        let text = words(text);
        self.stop_keywords.iter().any(|keyword| {
            let keyword = words(keyword);
            !keyword.is_empty() && text.windows(keyword.len()).any(|w| w == keyword.as_slice())
        })
    }
}

/// Lower-case runs of letters and digits: `Stop-Loss hit!` -> `stop`, `loss`, `hit`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}
