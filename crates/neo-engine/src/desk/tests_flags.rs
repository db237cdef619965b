#![allow(clippy::float_cmp)]

//! Each behaviour flag off does what its documentation says, for the units it
//! is off for, and the decision records the flags in effect.

use super::*;
use crate::flags::{FlagSpec, FlagState};

fn with(off: &[FlagName]) -> Flags {
    let mut f = Flags::standard();
    for flag in off {
        f = f.with(*flag, FlagSpec::new(FlagState::Disabled)).unwrap();
    }
    f
}

fn buy(desk: &mut Desk, key: &str, now: Timestamp) -> Step {
    desk.on_signal(&signal(key, SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap()
}

fn entry_info(desk: &Desk, step: &Step) -> EntryInfo {
    let id = step.fills[0].fill.order_id;
    desk.entries.get(&id).cloned().unwrap()
}

#[test]
fn every_decision_records_the_flags_in_effect_for_its_unit() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    desk.set_flags(with(&[FlagName::OutputSlack]));
    let step = buy(&mut desk, "a", now);
    let flags = &step.decision.as_ref().unwrap().flags;
    assert_eq!(flags.len(), FlagName::ALL.len());
    assert!(!flags["output_slack"]);
    assert!(flags["atr_brackets"]);
    assert!(!flags["agent_gpt"]);
}

#[test]
fn calibration_off_sizes_on_the_raw_confidence() {
    let (mut on, now, _) = warm(DeskConfig::default());
    let (mut off, _, _) = warm(DeskConfig::default());
    off.set_flags(with(&[FlagName::ConfidenceCalibration]));
    // Both have learned that 0.6 wins only half the time.
    for desk in [&mut on, &mut off] {
        for i in 0..200 {
            desk.calibrator.record(0.6, i % 2 == 0).unwrap();
        }
    }
    let a = buy(&mut on, "a", now);
    let b = buy(&mut off, "a", now);
    let (a, b) = (entry_info(&on, &a), entry_info(&off, &b));
    assert_eq!(a.raw_confidence, b.raw_confidence);
    assert_eq!(b.probability, b.raw_confidence, "off: the raw confidence");
    assert!(
        a.probability < a.raw_confidence - 0.05,
        "on: calibrated down, {a:?}"
    );
    assert!(!b.flags.contains(&FlagName::ConfidenceCalibration));
    assert!(a.flags.contains(&FlagName::ConfidenceCalibration));
}

#[test]
fn atr_brackets_off_still_brackets_at_fixed_percents() {
    let (mut desk, now, mid) = warm(DeskConfig::default());
    desk.set_flags(with(&[FlagName::AtrBrackets]));
    let step = buy(&mut desk, "a", now);
    let intent = &step.intents[0];
    let (sl, tp) = (intent.stop_loss.unwrap(), intent.take_profit.unwrap());
    let entry = mid + 0.01;
    let stop_pct = (entry - sl.value().to_f64()) / entry * 100.0;
    let take_pct = (tp.value().to_f64() - entry) / entry * 100.0;
    assert!((stop_pct - 1.0).abs() < 0.01, "stop {stop_pct}%");
    assert!((take_pct - 2.0).abs() < 0.01, "take {take_pct}%");
}

#[test]
fn drawdown_kelly_off_takes_no_drawdown_scale_and_on_feeds_its_guards() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let step = buy(&mut desk, "a", now);
    let kinds: Vec<RuleKind> = step.samples.iter().map(|s| s.kind).collect();
    assert!(kinds.contains(&RuleKind::KellyScale), "{kinds:?}");
    assert!(kinds.contains(&RuleKind::MaxDrawdown), "{kinds:?}");

    let (mut desk, now, _) = warm(DeskConfig::default());
    desk.set_flags(with(&[FlagName::DrawdownKelly]));
    let step = buy(&mut desk, "a", now);
    let kelly: Vec<_> = step
        .samples
        .iter()
        .filter(|s| s.flag == FlagName::DrawdownKelly)
        .collect();
    assert!(kelly.is_empty(), "{kelly:?}");
    assert_eq!(step.sizing.unwrap().kelly.drawdown_scale, 1.0);
}

#[test]
fn regime_awareness_off_leaves_the_regime_out_of_the_verdict() {
    let (mut on, now, _) = warm(DeskConfig::default());
    let (mut off, _, _) = warm(DeskConfig::default());
    off.set_flags(with(&[FlagName::RegimeAwareness]));
    let a = buy(&mut on, "a", now).decision.unwrap();
    let b = buy(&mut off, "a", now).decision.unwrap();
    assert!(a.rationale.contains("aligned with"), "{}", a.rationale);
    assert!(
        b.rationale.contains("regime is not weighed"),
        "{}",
        b.rationale
    );
    assert!(
        a.confidence > b.confidence,
        "the uptrend no longer adds confidence"
    );
}

#[test]
fn data_quality_gates_off_trade_on_stale_data() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    // An hour without data: the gate holds entries.
    let later = now.add_nanos(60 * MINUTE);
    let held = buy(&mut desk, "a", later).decision.unwrap();
    assert_eq!(
        held.recommendation,
        Recommendation::Hold,
        "{}",
        held.rationale
    );
    desk.set_flags(with(&[FlagName::DataQualityGates]));
    let taken = buy(&mut desk, "b", later).decision.unwrap();
    assert_eq!(
        taken.recommendation,
        Recommendation::Buy,
        "{}",
        taken.rationale
    );
}

#[test]
fn a_rollout_is_on_for_some_strategies_and_off_for_others() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let quarter = Flags::standard()
        .with(
            FlagName::ConfidenceCalibration,
            FlagSpec::new(FlagState::RollingOut {
                basis_points: 2_500,
            }),
        )
        .unwrap();
    desk.set_flags(quarter.clone());
    let mut seen = [false, false];
    for n in 0..40 {
        let mut s = signal(&format!("k{n}"), SignalType::Alert, None, now);
        s.strategy = Some(format!("s{n}"));
        let d = desk.on_signal(&s, now).unwrap().decision.unwrap();
        let unit = signal_unit(s.strategy.as_deref(), s.instrument);
        let on = quarter.is_on(FlagName::ConfidenceCalibration, &unit);
        assert_eq!(d.flags["confidence_calibration"], on);
        seen[usize::from(on)] = true;
    }
    assert_eq!(seen, [true, true]);
}
