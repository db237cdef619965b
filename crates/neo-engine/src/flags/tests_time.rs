#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Schedules, staged plans and guards on an injected clock; the wire shapes.

use super::*;

const HOUR: i64 = 3_600_000_000_000;

fn at(hours: i64) -> Timestamp {
    Timestamp::from_nanos(1_700_000_000_000_000_000 + hours * HOUR)
}

fn one(flag: FlagName, spec: FlagSpec) -> Flags {
    Flags::new([(flag, spec)].into_iter().collect()).unwrap()
}

/// Applies what is due the way the shell does: new state, `since` = now.
fn step(flags: &Flags, now: Timestamp, healthy: bool) -> Flags {
    let mut f = flags.clone();
    for due in flags.due(now, |_| healthy) {
        let mut spec = f.spec(due.flag).cloned().unwrap();
        spec.state = due.to;
        spec.since = now;
        f = f.with(due.flag, spec).unwrap();
    }
    f
}

#[test]
fn a_scheduled_change_happens_at_its_time_and_once() {
    let flag = FlagName::OutputSlack;
    let mut spec = FlagSpec::new(FlagState::Disabled);
    spec.since = at(0);
    spec.schedule = vec![Scheduled {
        at: at(5),
        state: FlagState::Enabled,
    }];
    let f = one(flag, spec);
    assert!(f.due(at(4), |_| true).is_empty());
    let f = step(&f, at(5), true);
    assert_eq!(f.spec(flag).unwrap().state, FlagState::Enabled);
    // Switched off by hand later: the past schedule does not switch it back on.
    let mut spec = f.spec(flag).cloned().unwrap();
    spec.state = FlagState::Disabled;
    spec.since = at(6);
    let f = f.with(flag, spec).unwrap();
    assert!(f.due(at(100), |_| true).is_empty());
}

#[test]
fn a_staged_plan_advances_every_period_only_while_healthy() {
    let flag = FlagName::ConfidenceCalibration;
    let mut spec = FlagSpec::new(FlagState::RollingOut {
        basis_points: 2_500,
    });
    spec.since = at(0);
    spec.plan = Some(Plan {
        steps: vec![2_500, 5_000, 10_000],
        every_secs: 24 * 3_600,
    });
    let mut f = one(flag, spec);
    f = step(&f, at(23), true);
    assert_eq!(
        f.spec(flag).unwrap().state.basis_points(),
        2_500,
        "too early"
    );
    f = step(&f, at(24), false);
    assert_eq!(
        f.spec(flag).unwrap().state.basis_points(),
        2_500,
        "guards failing"
    );
    f = step(&f, at(30), true);
    assert_eq!(f.spec(flag).unwrap().state.basis_points(), 5_000);
    f = step(&f, at(53), true);
    assert_eq!(
        f.spec(flag).unwrap().state.basis_points(),
        5_000,
        "a step counts from its start"
    );
    f = step(&f, at(54), true);
    assert_eq!(f.spec(flag).unwrap().state, FlagState::Enabled);
    assert!(f.due(at(1_000), |_| true).is_empty(), "nothing after 100%");
}

#[test]
fn a_plan_without_a_start_waits_for_one() {
    let flag = FlagName::AtrBrackets;
    let mut spec = FlagSpec::new(FlagState::RollingOut {
        basis_points: 1_000,
    });
    spec.plan = Some(Plan {
        steps: vec![1_000, 10_000],
        every_secs: 60,
    });
    assert!(one(flag, spec).due(at(1_000), |_| true).is_empty());
}

#[test]
fn nothing_moves_a_flag_out_of_rollback() {
    let flag = FlagName::AtrBrackets;
    let mut spec = FlagSpec::new(FlagState::Rollback {
        reason: "operator".into(),
    });
    spec.plan = Some(Plan {
        steps: vec![5_000, 10_000],
        every_secs: 1,
    });
    spec.schedule = vec![Scheduled {
        at: at(1),
        state: FlagState::Enabled,
    }];
    assert!(one(flag, spec).due(at(10), |_| true).is_empty());
}

#[test]
fn an_error_rate_rule_trips_only_with_enough_samples_in_the_window() {
    let flag = FlagName::OutputSlack;
    let mut g = Guards::new(vec![GuardRule::seed(flag, RuleKind::ErrorRate, 300, 20)]);
    let sec = |s: i64| at(0).add_nanos(s * 1_000_000_000);
    for s in 0..19 {
        g.record(flag, RuleKind::ErrorRate, 1.0, 0.0, sec(s));
    }
    assert!(g.evaluate(sec(19)).is_empty(), "19 samples are not enough");
    g.record(flag, RuleKind::ErrorRate, 1.0, 0.0, sec(19));
    let trips = g.evaluate(sec(20));
    assert_eq!(trips.len(), 1);
    assert!(
        trips[0].reason().contains("error_rate"),
        "{}",
        trips[0].reason()
    );
    // Five minutes later the window is empty again.
    assert!(g.evaluate(sec(400)).is_empty());
}

#[test]
fn a_healthy_channel_does_not_trip() {
    let flag = FlagName::OutputTelegram;
    let mut g = Guards::new(GuardRule::seeds(300, 20, 2.0));
    for s in 0..100 {
        // 4% errors: under the 5% threshold.
        let failed = if s % 25 == 0 { 1.0 } else { 0.0 };
        g.record(flag, RuleKind::ErrorRate, failed, 0.0, at(0).add_nanos(s));
    }
    assert!(g.evaluate(at(0).add_nanos(100)).is_empty());
}

#[test]
fn calibration_error_is_the_gap_between_promise_and_outcome() {
    let flag = FlagName::ConfidenceCalibration;
    let mut g = Guards::new(vec![GuardRule::seed(
        flag,
        RuleKind::CalibrationError,
        300,
        10,
    )]);
    for i in 0..99 {
        // Promised 0.7, won 4 in 10: a gap of 0.3.
        g.record(
            flag,
            RuleKind::CalibrationError,
            0.7,
            f64::from(u8::from(i % 10 < 4)),
            at(0),
        );
    }
    assert!(
        g.evaluate(at(0)).is_empty(),
        "99 round trips are too few to judge"
    );
    g.record(flag, RuleKind::CalibrationError, 0.7, 0.0, at(0));
    let trips = g.evaluate(at(0));
    assert_eq!(trips.len(), 1);
    assert!((trips[0].value - 0.3).abs() < 1e-9, "{trips:?}");
}

#[test]
fn specs_round_trip_and_refuse_what_they_do_not_know() {
    let text = r#"{"state":"rolling_out","percent":12.5,"allow":["s:BTC-USDT"],
        "plan":{"percents":[12.5,50,100],"every_secs":86400}}"#;
    let spec: FlagSpec = serde_json::from_str(text).unwrap();
    assert_eq!(
        spec.state,
        FlagState::RollingOut {
            basis_points: 1_250
        }
    );
    let back: FlagSpec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
    assert_eq!(back, spec);
    for bad in [
        r#"{"state":"rolling_out"}"#,
        r#"{"state":"rolling_out","percent":101}"#,
        r#"{"state":"rolling_out","percent":1.234}"#,
        r#"{"state":"enabled","percent":5}"#,
        r#"{"state":"rollback"}"#,
        r#"{"state":"enabled","colour":"red"}"#,
        r#"{"state":"sometimes"}"#,
        r#"{"state":"disabled","plan":{"percents":[50,25],"every_secs":1}}"#,
    ] {
        assert!(serde_json::from_str::<FlagSpec>(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_uplift_rule_compares_the_cohorts_and_waits_for_both() {
    let flag = FlagName::ConfidenceCalibration;
    let mut g = Guards::new(vec![GuardRule::seed(flag, RuleKind::LatencyUp, 300, 20)]);
    for _ in 0..15 {
        g.record(flag, RuleKind::LatencyUp, 0.030, 1.0, at(0));
    }
    assert!(g.evaluate(at(0)).is_empty(), "no off cohort yet");
    for _ in 0..10 {
        g.record(flag, RuleKind::LatencyUp, 0.010, 0.0, at(0));
    }
    let trips = g.evaluate(at(0));
    assert_eq!(trips.len(), 1, "three times slower with the flag on");
    assert!((trips[0].value - 2.0).abs() < 1e-9, "{trips:?}");
    let mut g = Guards::new(vec![GuardRule::seed(flag, RuleKind::LatencyUp, 300, 20)]);
    for _ in 0..10 {
        g.record(flag, RuleKind::LatencyUp, 0.012, 1.0, at(0));
        g.record(flag, RuleKind::LatencyUp, 0.010, 0.0, at(0));
    }
    assert!(g.evaluate(at(0)).is_empty(), "20% slower is within 50%");
}

#[test]
fn bracket_success_is_judged_against_the_brackets_break_even() {
    let rules = GuardRule::seeds(300, 20, 2.0);
    let rule = rules
        .iter()
        .find(|r| r.kind == RuleKind::BracketSuccess)
        .unwrap();
    assert!((rule.threshold - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!((rule.window_secs, rule.min_samples), (3_600, 100));
    let atr = rules
        .iter()
        .find(|r| r.kind == RuleKind::AtrAccuracy)
        .unwrap();
    assert_eq!((atr.window_secs, atr.min_samples), (86_400, 1_000));
}
