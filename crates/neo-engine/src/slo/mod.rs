//! Service level objectives, the pure part: each SLO is a share of good events
//! (a webhook answered within 500 ms, a notification delivered, an entry
//! within its Kelly cap) that must stay at or above its target. Events land in
//! minute buckets (kept 6 hours, for burn rates and latency percentiles) and
//! hour buckets (kept for the budget period), so memory is bounded whatever
//! the traffic. Burn rates and alerts follow the Google SRE workbook's
//! multi-window rule: page at 14.4x over both 1 h and 5 min, ticket at 6x over
//! both 6 h and 30 min.

mod series;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use neo_domain::Timestamp;
use serde::{Deserialize, Serialize};

use series::Series;

/// Upper bounds of the latency buckets, in seconds (a percentile is read off them).
pub const LATENCY_BOUNDS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Every SLO NEO keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SloName {
    /// Webhook answered within the threshold (p95 <= 500 ms).
    WebhookAccept,
    /// Accepted alert to delivered notification (p95 <= 900 ms).
    WebhookToNotification,
    /// No message lost: every notification delivered, no stage message dead-lettered.
    MessageLoss,
    /// The store and bus answer (>= 99.9% of probes).
    Uptime,
    /// Accepted signal to decision (p95 < 2 s).
    DecisionLatency,
    /// Every instrument's last tick younger than five minutes.
    DataFreshness,
    /// Messages handled without a dead letter, over a day (>= 99%).
    DailySuccess,
    /// Every message decodes as its contract (100%).
    ContractCompliance,
    /// No entry risks more than the Kelly cap (100%).
    KellyCap,
    /// Every entry order carries a stop-loss and a take-profit (100%).
    OrdersBracketed,
}

impl SloName {
    /// Every SLO, in report order.
    pub const ALL: [SloName; 10] = [
        SloName::WebhookAccept,
        SloName::WebhookToNotification,
        SloName::MessageLoss,
        SloName::Uptime,
        SloName::DecisionLatency,
        SloName::DataFreshness,
        SloName::DailySuccess,
        SloName::ContractCompliance,
        SloName::KellyCap,
        SloName::OrdersBracketed,
    ];

    /// The name in reports and config.
    pub const fn as_str(self) -> &'static str {
        match self {
            SloName::WebhookAccept => "webhook_accept",
            SloName::WebhookToNotification => "webhook_to_notification",
            SloName::MessageLoss => "message_loss",
            SloName::Uptime => "uptime",
            SloName::DecisionLatency => "decision_latency",
            SloName::DataFreshness => "data_freshness",
            SloName::DailySuccess => "daily_success",
            SloName::ContractCompliance => "contract_compliance",
            SloName::KellyCap => "kelly_cap",
            SloName::OrdersBracketed => "orders_bracketed",
        }
    }
}

/// One SLO's objective.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSpec {
    /// Least share of good events (0.95 for a p95, 0.999 for uptime, 1 for "never").
    pub target: f64,
    /// For latency SLOs: an event is good at or under this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_secs: Option<f64>,
    /// The window the share is measured over, in hours (24 for the daily success rate).
    pub period_hours: u32,
}

impl SloSpec {
    /// The seed documents' objective for `name`.
    pub fn seed(name: SloName) -> SloSpec {
        let (target, threshold_secs, period_hours) = match name {
            SloName::WebhookAccept => (0.95, Some(0.5), 720),
            SloName::WebhookToNotification => (0.95, Some(0.9), 720),
            SloName::DecisionLatency => (0.95, Some(2.0), 720),
            SloName::Uptime => (0.999, None, 720),
            SloName::DataFreshness => (0.99, None, 720),
            SloName::DailySuccess => (0.99, None, 24),
            SloName::MessageLoss
            | SloName::ContractCompliance
            | SloName::KellyCap
            | SloName::OrdersBracketed => (1.0, None, 720),
        };
        SloSpec {
            target,
            threshold_secs,
            period_hours,
        }
    }

    /// Every problem with it.
    pub fn problems(&self, name: SloName) -> Vec<String> {
        let mut p = Vec::new();
        if !(self.target > 0.0 && self.target <= 1.0) {
            p.push(format!("slo.{}: target must be in (0, 1]", name.as_str()));
        }
        if self
            .threshold_secs
            .is_some_and(|t| !(t.is_finite() && t > 0.0))
        {
            p.push(format!(
                "slo.{}: threshold_secs must be above 0",
                name.as_str()
            ));
        }
        if !(1..=24 * 90).contains(&self.period_hours) {
            p.push(format!(
                "slo.{}: period_hours must be 1 to 2160",
                name.as_str()
            ));
        }
        p
    }
}

/// An alert a burn rate raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BurnAlert {
    /// 14.4x over both 1 h and 5 min: 2% of a 30-day budget in an hour.
    Page,
    /// 6x over both 6 h and 30 min: 5% of the budget in six hours.
    Ticket,
}

/// One SLO now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloReport {
    /// Which.
    pub name: SloName,
    /// Its target share of good events.
    pub target: f64,
    /// For latency SLOs the threshold in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_secs: Option<f64>,
    /// The live figure: the p95 (or p-target) latency over the last hour in
    /// seconds for latency SLOs, else the share of good events over the period;
    /// `None` before the first event.
    pub value: Option<f64>,
    /// Whether the objective holds over the period (true with no events).
    pub met: bool,
    /// Share of the error budget left over the period (1 untouched, 0 spent,
    /// negative overspent); for a zero-budget SLO 1 or 0.
    pub budget_remaining: f64,
    /// Error rate over the last hour divided by the budgeted rate (`None` for
    /// a zero-budget SLO or without events in the hour).
    pub burn_rate: Option<f64>,
    /// Burn rates over 5 min, 30 min, 1 h and 6 h.
    pub burn_rates: BTreeMap<&'static str, Option<f64>>,
    /// The alert the burn rates raise, if any.
    pub alert: Option<BurnAlert>,
    /// Good and all events over the period.
    pub good: u64,
    /// All events over the period.
    pub total: u64,
}

/// Every SLO's events.
#[derive(Debug, Clone)]
pub struct SloTracker {
    specs: BTreeMap<SloName, SloSpec>,
    series: BTreeMap<SloName, Series>,
}

impl SloTracker {
    /// A tracker over these objectives (a name left out takes its seed).
    pub fn new(overrides: &BTreeMap<SloName, SloSpec>) -> Self {
        let specs = SloName::ALL
            .into_iter()
            .map(|n| {
                (
                    n,
                    overrides
                        .get(&n)
                        .copied()
                        .unwrap_or_else(|| SloSpec::seed(n)),
                )
            })
            .collect();
        SloTracker {
            specs,
            series: BTreeMap::new(),
        }
    }

    /// One event: good or not.
    pub fn record(&mut self, name: SloName, good: bool, at: Timestamp) {
        self.series.entry(name).or_default().add(at, good, None);
    }

    /// One latency: good when at or under the SLO's threshold.
    pub fn record_latency(&mut self, name: SloName, secs: f64, at: Timestamp) {
        if !secs.is_finite() || secs < 0.0 {
            return;
        }
        let threshold = self.specs[&name].threshold_secs.unwrap_or(f64::INFINITY);
        self.series
            .entry(name)
            .or_default()
            .add(at, secs <= threshold, Some(secs));
    }

    /// Every SLO at `now`.
    pub fn report(&mut self, now: Timestamp) -> Vec<SloReport> {
        SloName::ALL
            .into_iter()
            .map(|name| {
                let spec = self.specs[&name];
                let series = self.series.entry(name).or_default();
                series.prune(now, spec.period_hours);
                report(name, spec, series, now)
            })
            .collect()
    }
}

const MINUTE_NS: i64 = 60_000_000_000;

fn report(name: SloName, spec: SloSpec, series: &Series, now: Timestamp) -> SloReport {
    let (good, total) = series.period(now, spec.period_hours);
    let budget = 1.0 - spec.target;
    #[allow(clippy::cast_precision_loss)]
    let bad_share =
        |good: u64, total: u64| (total > 0).then(|| (total - good) as f64 / total as f64);
    let burn = |minutes: i64| {
        let (g, t) = series.recent(now, minutes);
        bad_share(g, t).and_then(|bad| (budget > 0.0).then(|| bad / budget))
    };
    let burn_rates: BTreeMap<&'static str, Option<f64>> =
        [("5m", 5), ("30m", 30), ("1h", 60), ("6h", 360)]
            .into_iter()
            .map(|(label, m)| (label, burn(m)))
            .collect();
    let over = |label: &str, x: f64| burn_rates[label].is_some_and(|b| b > x);
    let alert = if over("1h", 14.4) && over("5m", 14.4) {
        Some(BurnAlert::Page)
    } else if over("6h", 6.0) && over("30m", 6.0) {
        Some(BurnAlert::Ticket)
    } else {
        None
    };
    let bad = bad_share(good, total).unwrap_or(0.0);
    let budget_remaining = if budget > 0.0 {
        1.0 - bad / budget
    } else if good == total {
        1.0
    } else {
        0.0
    };
    let value = match spec.threshold_secs {
        Some(_) => series.quantile(now, 60, spec.target),
        #[allow(clippy::cast_precision_loss)]
        None => (total > 0).then(|| good as f64 / total as f64),
    };
    let met = match (spec.threshold_secs, value) {
        (Some(threshold), Some(q)) => q <= threshold,
        _ => bad <= budget + 1e-12,
    };
    SloReport {
        name,
        target: spec.target,
        threshold_secs: spec.threshold_secs,
        value,
        met,
        budget_remaining,
        burn_rate: burn_rates["1h"],
        burn_rates,
        alert,
        good,
        total,
    }
}
