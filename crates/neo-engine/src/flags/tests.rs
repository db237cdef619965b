#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn flags(specs: Vec<(FlagName, FlagSpec)>) -> Flags {
    Flags::new(specs.into_iter().collect()).unwrap()
}

fn rolling(basis_points: u16) -> FlagSpec {
    FlagSpec::new(FlagState::RollingOut { basis_points })
}

fn share_on(f: &Flags, flag: FlagName, units: u32) -> f64 {
    let on = (0..units)
        .filter(|n| f.is_on(flag, &format!("strategy-{n}:INST-{}", n % 97)))
        .count();
    on as f64 / f64::from(units)
}

#[test]
fn a_rollout_takes_its_share_of_units_within_two_percent() {
    for flag in FlagName::ALL {
        for pct in [1u16, 10, 25, 50, 75, 99] {
            let f = flags(vec![(flag, rolling(pct * 100))]);
            let got = share_on(&f, flag, 10_000);
            let want = f64::from(pct) / 100.0;
            assert!((got - want).abs() <= 0.02, "{flag} at {pct}%: {got}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A unit in at a lower percent stays in at every higher one.
    #[test]
    fn rollouts_are_monotone(unit in "\\PC{0,40}", low in 0u16..=10_000, step in 0u16..=10_000) {
        let high = low.saturating_add(step).min(ALL_UNITS);
        for flag in FlagName::ALL {
            let at = |bp| flags(vec![(flag, rolling(bp))]).is_on(flag, &unit);
            prop_assert!(!at(low) || at(high), "{flag}: in at {low}, out at {high}");
        }
    }

    /// The bucket is a pure function of flag and unit.
    #[test]
    fn buckets_are_stable(unit in "\\PC{0,40}") {
        for flag in FlagName::ALL {
            prop_assert_eq!(bucket(flag, &unit), bucket(flag, &unit));
            prop_assert!(bucket(flag, &unit) < ALL_UNITS);
        }
    }
}

#[test]
fn buckets_are_pinned_across_versions() {
    // Changing the hash would move every unit in every rollout.
    assert_eq!(
        bucket(FlagName::TvSlice, "ema:BTC-USDT"),
        bucket(FlagName::TvSlice, "ema:BTC-USDT")
    );
    let pinned: Vec<u16> = ["", "a", "ema:BTC-USDT"]
        .iter()
        .map(|u| bucket(FlagName::ConfidenceCalibration, u))
        .collect();
    assert_eq!(pinned, PINNED.to_vec());
}

/// FNV-1a 64 of `confidence_calibration\0<unit>`, shifted right 16, mod 10,000
/// (computed independently in Python).
const PINNED: [u16; 3] = [6605, 2100, 9803];

#[test]
fn states_lists_and_requirements() {
    use FlagName::{ConfidenceCalibration, DrawdownKelly, OutputSlack};
    let mut kelly = FlagSpec::new(FlagState::Enabled);
    kelly.requires = vec![ConfidenceCalibration];
    kelly.deny = vec!["denied".into()];
    let mut calibration = rolling(0);
    calibration.allow = vec!["pilot".into(), "denied".into()];
    let f = flags(vec![
        (DrawdownKelly, kelly),
        (ConfidenceCalibration, calibration),
    ]);
    assert!(
        f.is_on(DrawdownKelly, "pilot"),
        "allowed for its requirement"
    );
    assert!(
        !f.is_on(DrawdownKelly, "denied"),
        "denied wins for its own flag"
    );
    assert!(
        !f.is_on(DrawdownKelly, "anyone"),
        "its requirement is off for them"
    );
    assert!(!f.is_on(OutputSlack, "pilot"), "a flag not named is off");
    let off = flags(vec![(
        OutputSlack,
        FlagSpec {
            allow: vec!["pilot".into()],
            ..FlagSpec::new(FlagState::Rollback {
                reason: "error rate 12% > 5%".into(),
            })
        },
    )]);
    assert!(
        !off.is_on(OutputSlack, "pilot"),
        "a rollback beats the allow list"
    );
}

#[test]
fn every_problem_is_listed_and_cycles_are_refused() {
    use FlagName::{AtrBrackets, ConfidenceCalibration, DrawdownKelly, OutputWebhook};
    let mut a = FlagSpec::new(FlagState::Enabled);
    a.requires = vec![ConfidenceCalibration];
    let mut b = FlagSpec::new(FlagState::Enabled);
    b.requires = vec![DrawdownKelly];
    let mut both = rolling(10_001);
    both.allow = vec!["x".into()];
    both.deny = vec!["x".into()];
    let specs: BTreeMap<_, _> = [
        (DrawdownKelly, a),
        (ConfidenceCalibration, b),
        (AtrBrackets, both),
        (
            OutputWebhook,
            FlagSpec::new(FlagState::Rollback { reason: " ".into() }),
        ),
    ]
    .into_iter()
    .collect();
    let problems = Flags::new(specs).unwrap_err();
    assert_eq!(problems.len(), 5, "{problems:?}");
    let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("drawdown_kelly -> confidence_calibration -> drawdown_kelly")),
        "{text:?}"
    );
}

#[test]
fn names_read_as_written_and_as_the_seeds_environment_aliases() {
    for flag in FlagName::ALL {
        assert_eq!(FlagName::parse(flag.as_str()), Some(flag));
        assert_eq!(FlagName::parse(&flag.env_alias()), Some(flag));
        let json = serde_json::to_string(&flag).unwrap();
        assert_eq!(json, format!("\"{flag}\""));
    }
    assert_eq!(FlagName::TvSlice.env_alias(), "FF_TV_SLICE");
    assert_eq!(FlagName::parse("no_such_flag"), None);
    let state: FlagState =
        serde_json::from_str(r#"{"state": "rolling_out", "percent": 25}"#).unwrap();
    assert_eq!(state, FlagState::RollingOut { basis_points: 2500 });
    assert!(
        serde_json::from_str::<FlagState>(
            r#"{"state": "rolling_out", "basis_points": 1, "percent": 5}"#
        )
        .is_err()
    );
    assert_eq!(
        serde_json::to_value(FlagState::RollingOut { basis_points: 1250 }).unwrap(),
        serde_json::json!({"state": "rolling_out", "percent": 12.5})
    );
    assert!(serde_json::from_str::<FlagState>(r#"{"state": "on"}"#).is_err());
}
