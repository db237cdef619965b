#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp
)]

//! SLO arithmetic on an injected clock: shares, budgets, burn rates, alerts,
//! percentiles, and windows that forget.

use std::collections::BTreeMap;

use super::*;

const SEC: i64 = 1_000_000_000;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_nanos(1_800_000_000 * SEC + secs * SEC)
}

fn one(reports: &[SloReport], name: SloName) -> SloReport {
    reports.iter().find(|r| r.name == name).cloned().unwrap()
}

#[test]
fn with_no_events_every_slo_is_met_with_its_whole_budget() {
    let mut t = SloTracker::new(&BTreeMap::new());
    let reports = t.report(at(0));
    assert_eq!(reports.len(), SloName::ALL.len());
    for r in reports {
        assert!(r.met, "{r:?}");
        assert_eq!((r.value, r.budget_remaining, r.alert), (None, 1.0, None));
    }
}

#[test]
fn a_latency_slo_reports_its_percentile_and_holds_while_under_the_threshold() {
    let mut t = SloTracker::new(&BTreeMap::new());
    for i in 0..100 {
        // 96 fast, 4 slow: the p95 is fast.
        let secs = if i < 96 { 0.004 } else { 0.8 };
        t.record_latency(SloName::WebhookAccept, secs, at(i));
    }
    let r = one(&t.report(at(100)), SloName::WebhookAccept);
    assert_eq!(r.value, Some(0.005));
    assert!(r.met);
    assert!(
        (r.budget_remaining - 0.2).abs() < 1e-9,
        "4% bad of a 5% budget: {r:?}"
    );
    for i in 0..10 {
        t.record_latency(SloName::WebhookAccept, 3.0, at(100 + i));
    }
    let r = one(&t.report(at(110)), SloName::WebhookAccept);
    assert_eq!(r.value, Some(5.0), "the p95 is now slow");
    assert!(!r.met);
    assert!(r.budget_remaining < 0.0, "overspent: {r:?}");
}

#[test]
fn a_burst_of_errors_pages_and_a_steady_trickle_does_not() {
    let mut t = SloTracker::new(&BTreeMap::new());
    // An hour of healthy probes, one every 10 s, then 5 minutes down.
    for s in (0..3_600).step_by(10) {
        t.record(SloName::Uptime, true, at(s));
    }
    let r = one(&t.report(at(3_600)), SloName::Uptime);
    assert_eq!((r.alert, r.burn_rate), (None, Some(0.0)));
    for s in (3_600..3_900).step_by(10) {
        t.record(SloName::Uptime, false, at(s));
    }
    let r = one(&t.report(at(3_900)), SloName::Uptime);
    assert_eq!(r.alert, Some(BurnAlert::Page), "{r:?}");
    assert!(!r.met);
}

#[test]
fn a_zero_budget_slo_fails_on_the_first_bad_event_and_has_no_burn_rate() {
    let mut t = SloTracker::new(&BTreeMap::new());
    t.record(SloName::KellyCap, true, at(0));
    let r = one(&t.report(at(1)), SloName::KellyCap);
    assert_eq!((r.met, r.value, r.budget_remaining), (true, Some(1.0), 1.0));
    t.record(SloName::KellyCap, false, at(2));
    let r = one(&t.report(at(3)), SloName::KellyCap);
    assert_eq!(
        (r.met, r.value, r.budget_remaining),
        (false, Some(0.5), 0.0)
    );
    assert_eq!(r.burn_rate, None);
}

#[test]
fn the_daily_success_rate_forgets_yesterday() {
    let mut t = SloTracker::new(&BTreeMap::new());
    for s in 0..100 {
        t.record(SloName::DailySuccess, s % 2 == 0, at(s));
    }
    assert!(!one(&t.report(at(100)), SloName::DailySuccess).met);
    let tomorrow = at(25 * 3_600);
    t.record(SloName::DailySuccess, true, tomorrow);
    let r = one(&t.report(tomorrow), SloName::DailySuccess);
    assert_eq!((r.good, r.total, r.met), (1, 1, true));
}

#[test]
fn targets_can_be_overridden_and_bad_ones_are_named() {
    let spec = SloSpec {
        target: 0.5,
        threshold_secs: Some(0.1),
        period_hours: 1,
    };
    let mut t = SloTracker::new(&BTreeMap::from([(SloName::WebhookAccept, spec)]));
    t.record_latency(SloName::WebhookAccept, 0.2, at(0));
    t.record_latency(SloName::WebhookAccept, 0.05, at(0));
    let r = one(&t.report(at(1)), SloName::WebhookAccept);
    assert_eq!(
        (r.target, r.threshold_secs, r.good, r.total),
        (0.5, Some(0.1), 1, 2)
    );
    let bad = SloSpec {
        target: 1.5,
        threshold_secs: Some(-1.0),
        period_hours: 0,
    };
    assert_eq!(bad.problems(SloName::Uptime).len(), 3);
}
