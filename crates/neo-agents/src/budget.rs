//! The LLM API budget: spend per provider per UTC day and month, in whole
//! micro-dollars (exact: no rounding drift however many calls), against
//! configured caps. At 80% of a cap it warns; at the cap the LLM agent is
//! skipped (`budget_exhausted`) and the rule analyst decides alone. The state
//! is a plain document the shell persists and restores.

use std::collections::BTreeMap;

use neo_domain::Timestamp;
use serde::{Deserialize, Serialize};

/// Share of a cap at which a warning is due.
pub const WARN_AT: f64 = 0.8;

/// `[agents.budget]`: caps in USD (none: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Most USD per UTC day, all providers together.
    pub daily_usd: Option<f64>,
    /// Most USD per UTC month, all providers together.
    pub monthly_usd: Option<f64>,
}

impl BudgetConfig {
    /// Every problem at once.
    pub fn problems(&self) -> Vec<String> {
        [
            ("daily_usd", self.daily_usd),
            ("monthly_usd", self.monthly_usd),
        ]
        .into_iter()
        .filter(|(_, cap)| cap.is_some_and(|c| !(c.is_finite() && c >= 0.0)))
        .map(|(name, _)| format!("agents.budget.{name} must be a number of dollars, 0 or more"))
        .collect()
    }
}

/// Micro-dollars for `tokens` at `usd_per_million` (rounded up: the budget never under-counts).
pub fn micro_usd(tokens: u64, usd_per_million: f64) -> u64 {
    if !(usd_per_million.is_finite() && usd_per_million > 0.0) {
        return 0;
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let cost = (tokens as f64 * usd_per_million)
        .ceil()
        .min(u64::MAX as f64) as u64;
    cost
}

/// Spend in one period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spend {
    /// Micro-dollars by provider.
    pub by_provider: BTreeMap<String, u64>,
    /// Input tokens by provider.
    pub input_tokens: BTreeMap<String, u64>,
    /// Output tokens by provider.
    pub output_tokens: BTreeMap<String, u64>,
}

impl Spend {
    /// All providers' micro-dollars.
    pub fn total(&self) -> u64 {
        self.by_provider
            .values()
            .fold(0, |a, b| a.saturating_add(*b))
    }
}

/// The budget's state: this day's and this month's spend (the store keeps it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// The UTC day (days since the epoch) `day` counts.
    pub day_number: i64,
    /// The UTC month (`year * 12 + month - 1`) `month` counts.
    pub month_number: i64,
    /// This day's spend.
    pub day: Spend,
    /// This month's spend.
    pub month: Spend,
}

/// What the budget allows now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// Spend freely.
    Open,
    /// Over 80% of a cap: warn (`period`, share used).
    Warn {
        /// `day` or `month`.
        period: &'static str,
        /// Share of the cap spent.
        used: f64,
    },
    /// A cap is reached: skip the LLM.
    Exhausted {
        /// `day` or `month`.
        period: &'static str,
    },
}

/// The UTC day number and month number (`year * 12 + month - 1`) of `now`.
fn periods(now: Timestamp) -> (i64, i64) {
    let day = now.as_nanos().div_euclid(86_400_000_000_000);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (day, year * 12 + month - 1)
}

impl Ledger {
    /// Moves to `now`'s day and month, starting empty periods that are new.
    pub fn roll(&mut self, now: Timestamp) {
        let (day, month) = periods(now);
        if day != self.day_number {
            self.day_number = day;
            self.day = Spend::default();
        }
        if month != self.month_number {
            self.month_number = month;
            self.month = Spend::default();
        }
    }

    /// Books one answer's tokens and cost.
    pub fn record(&mut self, provider: &str, input: u64, output: u64, micro: u64, now: Timestamp) {
        self.roll(now);
        for spend in [&mut self.day, &mut self.month] {
            let add = |m: &mut BTreeMap<String, u64>, n: u64| {
                let e = m.entry(provider.to_owned()).or_default();
                *e = e.saturating_add(n);
            };
            add(&mut spend.by_provider, micro);
            add(&mut spend.input_tokens, input);
            add(&mut spend.output_tokens, output);
        }
    }

    /// What `config` allows at `now` (the strictest period decides).
    pub fn allowance(&mut self, config: &BudgetConfig, now: Timestamp) -> Allowance {
        self.roll(now);
        let mut verdict = Allowance::Open;
        for (period, cap, spent) in [
            ("day", config.daily_usd, self.day.total()),
            ("month", config.monthly_usd, self.month.total()),
        ] {
            let Some(cap) = cap else { continue };
            #[allow(clippy::cast_precision_loss)]
            let used = if cap > 0.0 {
                spent as f64 / (cap * 1e6)
            } else {
                f64::INFINITY
            };
            if used >= 1.0 {
                return Allowance::Exhausted { period };
            }
            if used >= WARN_AT && !matches!(verdict, Allowance::Warn { used: u, .. } if u >= used) {
                verdict = Allowance::Warn { period, used };
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn spend_is_exact_and_caps_warn_then_exhaust() {
        let config = BudgetConfig {
            daily_usd: Some(1.0),
            monthly_usd: Some(10.0),
        };
        let mut l = Ledger::default();
        let now = at("2026-12-07T10:00:00Z");
        assert_eq!(l.allowance(&config, now), Allowance::Open);
        // 1,000 calls of 1,000 input tokens at $0.75 per million: exactly $0.75.
        for _ in 0..1_000 {
            l.record("openai", 1_000, 0, micro_usd(1_000, 0.75), now);
        }
        assert_eq!(l.day.total(), 750_000);
        assert_eq!(l.allowance(&config, now), Allowance::Open);
        l.record("ollama", 0, 100, micro_usd(100, 600.0), now);
        assert!(matches!(
            l.allowance(&config, now),
            Allowance::Warn { period: "day", .. }
        ));
        l.record("openai", 0, 1_000, micro_usd(1_000, 200.0), now);
        assert_eq!(
            l.allowance(&config, now),
            Allowance::Exhausted { period: "day" }
        );
        // The next day is open again; the month keeps counting.
        let tomorrow = at("2026-12-08T00:00:01Z");
        assert_eq!(l.allowance(&config, tomorrow), Allowance::Open);
        assert_eq!(l.month.total(), 750_000 + 60_000 + 200_000);
        assert_eq!(l.month.input_tokens["openai"], 1_000_000);
        // A new month starts empty.
        l.roll(at("2027-01-01T00:00:00Z"));
        assert_eq!(l.month.total(), 0);
    }

    #[test]
    fn months_are_civil_months() {
        let month = |t| periods(at(t)).1;
        assert_eq!(
            month("2026-12-31T23:59:59Z") + 1,
            month("2027-01-01T00:00:00Z")
        );
        assert_eq!(month("2024-02-29T12:00:00Z"), month("2024-02-01T00:00:00Z"));
        assert_eq!(
            month("2024-02-29T12:00:00Z") + 1,
            month("2024-03-01T00:00:00Z")
        );
        assert_eq!(month("1970-01-01T00:00:00Z"), 1970 * 12);
    }

    #[test]
    fn prices_round_up_and_bad_caps_are_named() {
        assert_eq!(
            micro_usd(1, 0.1),
            1,
            "a tenth of a micro-dollar counts as one"
        );
        assert_eq!(micro_usd(10, f64::NAN), 0);
        let bad = BudgetConfig {
            daily_usd: Some(-1.0),
            monthly_usd: Some(f64::INFINITY),
        };
        assert_eq!(bad.problems().len(), 2);
        let zero = BudgetConfig {
            daily_usd: Some(0.0),
            monthly_usd: None,
        };
        assert_eq!(
            Ledger::default().allowance(&zero, at("2026-12-07T00:00:00Z")),
            Allowance::Exhausted { period: "day" }
        );
    }

    #[test]
    fn the_ledger_round_trips_as_a_document() {
        let mut l = Ledger::default();
        l.record("openai", 5, 6, 7, at("2026-12-07T00:00:00Z"));
        let back: Ledger = serde_json::from_value(serde_json::to_value(&l).unwrap()).unwrap();
        assert_eq!(back, l);
    }
}
