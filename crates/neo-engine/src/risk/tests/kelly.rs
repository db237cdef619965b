//! Fractional Kelly: the formula, breakeven, the drawdown scale, the cap.

use proptest::prelude::*;

use crate::risk::KellyConfig;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

const FULL: KellyConfig = KellyConfig {
    fraction: 1.0,
    cap: 1.0,
    floor_scale: 0.25,
};

#[test]
fn full_kelly_matches_the_formula() {
    // p = 0.6, b = 2: f* = 0.6 - 0.4 / 2 = 0.4.
    assert!(close(FULL.risk_fraction(0.6, 2.0, 0.0, 0.05), 0.4));
    // Even money at 55%: 0.1.
    assert!(close(FULL.risk_fraction(0.55, 1.0, 0.0, 0.05), 0.1));
    let half = KellyConfig {
        fraction: 0.5,
        ..FULL
    };
    assert!(close(half.risk_fraction(0.6, 2.0, 0.0, 0.05), 0.2));
}

#[test]
fn no_edge_means_no_risk() {
    // Breakeven at b = 2 is p = 1/3.
    assert!(close(FULL.risk_fraction(1.0 / 3.0, 2.0, 0.0, 0.05), 0.0));
    assert!(close(FULL.risk_fraction(0.3, 2.0, 0.0, 0.05), 0.0));
    assert!(close(FULL.risk_fraction(0.0, 2.0, 0.0, 0.05), 0.0));
    assert!(FULL.risk_fraction(0.34, 2.0, 0.0, 0.05) > 0.0);
}

#[test]
fn the_cap_binds() {
    let default = KellyConfig::default();
    // Quarter Kelly of 0.4 is 0.1, above the 2% cap.
    assert!(close(default.risk_fraction(0.6, 2.0, 0.0, 0.05), 0.02));
    // Quarter Kelly of 0.04 (p = 0.36, b = 2) is 0.01, under it.
    assert!(close(default.risk_fraction(0.36, 2.0, 0.0, 0.05), 0.01));
}

#[test]
fn drawdown_scales_linearly_from_one_to_the_floor() {
    let k = KellyConfig::default();
    assert!(close(k.drawdown_scale(0.0, 0.05), 1.0));
    assert!(close(k.drawdown_scale(-0.01, 0.05), 1.0));
    assert!(close(k.drawdown_scale(0.025, 0.05), 0.625));
    assert!(close(k.drawdown_scale(0.05, 0.05), 0.25));
    assert!(close(k.drawdown_scale(0.5, 0.05), 0.25));
    assert!(
        close(k.drawdown_scale(f64::NAN, 0.05), 0.25),
        "unknown drawdown: size small"
    );
    assert!(
        close(k.drawdown_scale(0.0, 0.0), 0.25),
        "unusable limit: size small"
    );
    assert!(close(k.drawdown_scale(0.0, f64::INFINITY), 0.25));
    assert!(close(FULL.risk_fraction(0.6, 2.0, 0.025, 0.05), 0.25));
}

#[test]
fn bad_inputs_give_zero_not_a_panic() {
    for (p, b) in [
        (f64::NAN, 2.0),
        (0.6, f64::NAN),
        (0.6, f64::INFINITY),
        (0.6, 0.0),
        (0.6, -2.0),
        (1.5, 2.0),
        (-0.1, 2.0),
        (f64::INFINITY, 2.0),
    ] {
        assert!(
            close(FULL.risk_fraction(p, b, 0.0, 0.05), 0.0),
            "p={p} b={b}"
        );
    }
    let broken = KellyConfig {
        fraction: f64::NAN,
        cap: 1.0,
        floor_scale: 0.25,
    };
    assert!(close(broken.risk_fraction(0.9, 2.0, 0.0, 0.05), 0.0));
    let uncapped = KellyConfig {
        cap: f64::INFINITY,
        ..FULL
    };
    assert!(
        close(uncapped.risk_fraction(0.9, 2.0, 0.0, 0.05), 0.0),
        "no usable cap: no risk"
    );
}

#[test]
fn validate_lists_every_problem() {
    assert_eq!(KellyConfig::default().validate(), Ok(()));
    let bad = KellyConfig {
        fraction: 0.0,
        cap: 1.5,
        floor_scale: f64::NAN,
    };
    let err = bad.validate().unwrap_err();
    assert_eq!(err.problems.len(), 3, "{err}");
    assert_eq!(err.section, "kelly");
}

proptest! {
    #[test]
    fn the_scale_never_rises_with_drawdown(a in 0.0..1.0f64, b in 0.0..1.0f64, limit in 0.001..0.5f64) {
        let k = KellyConfig::default();
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(k.drawdown_scale(hi, limit) <= k.drawdown_scale(lo, limit));
    }
}

#[test]
fn a_drawdown_shrinks_the_bet_even_when_kelly_is_above_the_cap() {
    // Defect: scaling before the cap let the cap absorb the scale, so any
    // p >= 0.55 at b = 2 sized exactly the cap at every drawdown.
    let k = KellyConfig::default();
    let calm = k.risk_fraction(0.6, 2.0, 0.0, 0.05);
    let hurt = k.risk_fraction(0.6, 2.0, 0.04, 0.05);
    assert!(close(calm, 0.02), "{calm}");
    assert!(hurt < calm, "{hurt} vs {calm}");
    // 0.02 x (1 - 0.75 x 0.8) = 0.008.
    assert!(close(hurt, 0.008), "{hurt}");
    let d = k.decide(0.6, 2.0, 0.04, 0.05);
    assert!(d.capped);
    assert!(close(d.kelly_raw, 0.4));
    assert!(close(d.drawdown_scale, 0.4));
}

proptest! {
    #[test]
    fn the_fraction_strictly_falls_with_drawdown_up_to_the_limit(
        p in 0.45..0.99f64,
        b in 0.5..5.0f64,
        a in 0.0..0.05f64,
        gap in 0.0001..0.05f64,
    ) {
        let k = KellyConfig::default();
        let (lo, hi) = (a, (a + gap).min(0.05));
        prop_assume!(hi > lo + 1e-9);
        let before = k.risk_fraction(p, b, lo, 0.05);
        let after = k.risk_fraction(p, b, hi, 0.05);
        if before > 0.0 {
            prop_assert!(after < before, "p {p} b {b}: {after} at {hi} vs {before} at {lo}");
        } else {
            prop_assert!(after == 0.0);
        }
        prop_assert!(after <= k.cap * k.drawdown_scale(hi, 0.05) + 1e-15);
    }
}
