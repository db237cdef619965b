//! Small numerical helpers shared by the models, the ensemble and the detector:
//! the normal distribution with accurate tails, log-space sums and probability clamps.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Smallest distance a probability keeps from 0 and 1, so every output is strictly
/// inside (0, 1) and a log-loss is always finite.
pub(crate) const PROB_EPS: f64 = 1e-6;

/// Smallest value a probability factor takes before its logarithm (no `-inf`).
const TINY: f64 = 1e-300;

/// `ln(2 * pi) / 2`, the normal density's constant.
pub(crate) const HALF_LN_2PI: f64 = 0.918_938_533_204_672_8;

/// Complementary error function with a relative error below 1.2e-7 everywhere,
/// including far tails (Numerical Recipes' Chebyshev fit `erfcc`).
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let ans = t * (-z * z + poly).exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

/// Upper tail `P(Z > x)` of a standard normal, accurate far into the tail.
pub(crate) fn normal_sf(x: f64) -> f64 {
    0.5 * erfc(x * FRAC_1_SQRT_2)
}

/// `P(Z <= x)` of a standard normal.
pub(crate) fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * FRAC_1_SQRT_2)
}

/// `P(lo < Z <= hi)` of a standard normal, computed from the nearer tail so two
/// small tail areas do not cancel to zero; never negative.
pub(crate) fn normal_between(lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return 0.0;
    }
    let p = if lo >= 0.0 {
        normal_sf(lo) - normal_sf(hi)
    } else if hi <= 0.0 {
        normal_sf(-hi) - normal_sf(-lo)
    } else {
        1.0 - normal_sf(hi) - normal_sf(-lo)
    };
    p.max(0.0)
}

/// `ln N(x; mean, var)`; `var` must be above zero.
pub(crate) fn ln_normal_pdf(x: f64, mean: f64, var: f64) -> f64 {
    let d = x - mean;
    -HALF_LN_2PI - 0.5 * var.ln() - d * d / (2.0 * var)
}

/// `ln` of a probability or density, floored so it is never `-inf` or NaN.
pub(crate) fn ln_floor(x: f64) -> f64 {
    if x > TINY { x.ln() } else { TINY.ln() }
}

/// A probability pulled into `[PROB_EPS, 1 - PROB_EPS]`; NaN becomes 0.5.
pub(crate) fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() {
        0.5
    } else {
        p.clamp(PROB_EPS, 1.0 - PROB_EPS)
    }
}

/// The standard normal density at `x`.
pub(crate) fn std_normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}
