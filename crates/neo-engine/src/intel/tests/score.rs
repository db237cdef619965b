//! `RegimeScore` arithmetic on hand-made sequences.

use crate::intel::RegimeScore;
use crate::market::Regime::{self, HighVolatility as V, Range as R, TrendDown as D, TrendUp as U};

fn score(truth: &[Regime], detected: &[Option<Regime>]) -> RegimeScore {
    assert_eq!(truth.len(), detected.len());
    let mut s = RegimeScore::new();
    for (t, d) in truth.iter().zip(detected) {
        s.record(*t, *d);
    }
    s
}

fn some(r: &[Regime]) -> Vec<Option<Regime>> {
    r.iter().copied().map(Some).collect()
}

#[test]
fn a_perfect_detector_scores_100_percent_and_zero_delay() {
    let truth = [U, U, R, R, R, V, D, D];
    let s = score(&truth, &some(&truth));
    assert_eq!(s.accuracy_pct(), Some(100.0));
    assert_eq!(s.switches(), 3);
    assert_eq!(s.caught(), 3);
    assert_eq!(s.mean_delay_bars(), Some(0.0));
    assert_eq!(s.detector_switches(), 3);
}

#[test]
fn a_two_bar_lag_costs_two_bars_per_switch() {
    let truth = [U, U, U, U, R, R, R, R, D, D, D, D];
    let lagged = [U, U, U, U, U, U, R, R, R, R, D, D];
    let s = score(&truth, &some(&lagged));
    // Wrong on bars 4, 5, 8, 9: 8 of 12 right.
    assert_eq!(s.correct(), 8);
    let acc = s.accuracy_pct().unwrap();
    assert!((acc - 800.0 / 12.0).abs() < 1e-12, "{acc}");
    assert_eq!(s.mean_delay_bars(), Some(2.0));
    assert_eq!((s.switches(), s.caught(), s.missed()), (2, 2, 0));
}

#[test]
fn a_missed_switch_counts_its_whole_episode() {
    // The range (3 bars) is never detected; the switch to the downtrend is caught after 1.
    let truth = [U, U, R, R, R, D, D, D];
    let detected = [U, U, U, U, U, U, D, D];
    let s = score(&truth, &some(&detected));
    assert_eq!((s.switches(), s.caught(), s.missed()), (2, 1, 1));
    assert_eq!(s.mean_delay_bars(), Some((3.0 + 1.0) / 2.0));
    let summary = s.summary();
    assert_eq!(
        summary.confusion[Regime::Range.code() as usize][Regime::TrendUp.code() as usize],
        3
    );
    assert_eq!(summary.detector_switches, 1);
}

#[test]
fn the_warm_up_is_not_scored_and_a_none_after_it_is_wrong() {
    // Bars 0-2 warm up (a switch there is not counted); bar 5 says nothing.
    let truth = [U, R, R, R, R, R, D, D];
    let detected = [None, None, None, Some(R), Some(R), None, Some(U), Some(D)];
    let s = score(&truth, &detected);
    assert_eq!(s.bars(), 8);
    assert_eq!(s.scored(), 5);
    assert_eq!(s.correct(), 3);
    assert_eq!(s.accuracy_pct(), Some(60.0));
    assert_eq!(s.switches(), 1);
    assert_eq!(s.mean_delay_bars(), Some(1.0));
}

#[test]
fn an_episode_open_at_the_end_is_censored() {
    let truth = [U, U, R, R, D, D];
    let detected = [U, U, R, R, R, R];
    let s = score(&truth, &some(&detected));
    // The switch to D is neither caught nor settled: only the range's delay counts.
    assert_eq!((s.switches(), s.caught(), s.missed()), (2, 1, 0));
    assert_eq!(s.mean_delay_bars(), Some(0.0));
}

#[test]
fn an_empty_score_has_no_ratios_and_serializes() {
    let s = RegimeScore::new();
    assert_eq!(s.accuracy_pct(), None);
    assert_eq!(s.mean_delay_bars(), None);
    let json = serde_json::to_value(s.summary()).unwrap();
    assert_eq!(json["accuracy_pct"], serde_json::Value::Null);
    assert_eq!(json["confusion"][0].as_array().unwrap().len(), 4);
}
