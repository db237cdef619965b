//! A/B cohorts: for each flag, the figures of what was decided with it on and
//! with it off (win rate, mean R, Brier score of the sized probability,
//! decision latency), with sample sizes and significance tests, so a rollout
//! is judged on evidence rather than on the rollout's own guard rules alone.

use neo_domain::MessageId;
use std::collections::BTreeMap;

use serde::Serialize;

use super::FlagName;

/// A round trip that closed, with the flags on when its entry was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedTrip {
    /// The signal whose entry opened it (the agents' memory settles its calls by it).
    pub signal_id: Option<MessageId>,
    /// Flags on for the entry's unit when it was taken.
    pub flags: Vec<FlagName>,
    /// It made money.
    pub won: bool,
    /// Its result in R (PnL over the risk at the stop), when the stop was known.
    pub r_multiple: Option<f64>,
    /// The win probability it was sized with.
    pub probability: f64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    n: u64,
    sum: f64,
    sum_sq: f64,
}

impl Moments {
    fn add(&mut self, x: f64) {
        if x.is_finite() {
            self.n += 1;
            self.sum += x;
            self.sum_sq += x * x;
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// The sample variance (n - 1).
    #[allow(clippy::cast_precision_loss)]
    fn variance(&self) -> Option<f64> {
        (self.n > 1).then(|| {
            let n = self.n as f64;
            ((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0)
        })
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Cohort {
    wins: Moments,
    r: Moments,
    brier: Moments,
    latency: Moments,
}

/// One cohort's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortFigures {
    /// Closed round trips.
    pub trips: u64,
    /// Share of them that made money.
    pub win_rate: Option<f64>,
    /// Round trips with a known R, and their mean.
    pub r_trips: u64,
    /// Mean R-multiple.
    pub mean_r: Option<f64>,
    /// Mean squared error of the sized probability against the outcome.
    pub brier: Option<f64>,
    /// Decisions timed, and their mean latency in seconds.
    pub decisions: u64,
    /// Mean decision latency, seconds.
    pub mean_decision_secs: Option<f64>,
}

/// A two-sample test's statistic and two-sided p-value (normal approximation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Test {
    /// z (proportions) or Welch's t (means).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// A flag's two cohorts compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// With the flag on.
    pub enabled: CohortFigures,
    /// With it off.
    pub disabled: CohortFigures,
    /// Two-proportion z-test of the win rates.
    pub win_rate_test: Option<Test>,
    /// Welch's t-test of the mean R (p from the normal: read it with care under 30 trips a side).
    pub mean_r_test: Option<Test>,
    /// Welch's t-test of the Brier scores.
    pub brier_test: Option<Test>,
}

/// Every flag's cohorts.
#[derive(Debug, Clone, Default)]
pub struct Cohorts {
    cohorts: BTreeMap<(FlagName, bool), Cohort>,
}

impl Cohorts {
    /// A closed round trip, counted in each flag's on or off cohort.
    pub fn trip(&mut self, trip: &ClosedTrip) {
        let outcome = if trip.won { 1.0 } else { 0.0 };
        for flag in FlagName::ALL {
            let c = self
                .cohorts
                .entry((flag, trip.flags.contains(&flag)))
                .or_default();
            c.wins.add(outcome);
            if let Some(r) = trip.r_multiple {
                c.r.add(r);
            }
            c.brier.add((trip.probability - outcome).powi(2));
        }
    }

    /// A decision's latency, counted by the flags in effect for it.
    pub fn decision(&mut self, flags: &BTreeMap<String, bool>, secs: f64) {
        for flag in FlagName::ALL {
            let on = flags.get(flag.as_str()).copied().unwrap_or(false);
            self.cohorts
                .entry((flag, on))
                .or_default()
                .latency
                .add(secs);
        }
    }

    /// The flag's cohorts side by side.
    pub fn compare(&self, flag: FlagName) -> Comparison {
        let on = self.cohorts.get(&(flag, true)).copied().unwrap_or_default();
        let off = self
            .cohorts
            .get(&(flag, false))
            .copied()
            .unwrap_or_default();
        Comparison {
            enabled: figures(&on),
            disabled: figures(&off),
            win_rate_test: proportions(&on.wins, &off.wins),
            mean_r_test: welch(&on.r, &off.r),
            brier_test: welch(&on.brier, &off.brier),
        }
    }
}

fn figures(c: &Cohort) -> CohortFigures {
    CohortFigures {
        trips: c.wins.n,
        win_rate: c.wins.mean(),
        r_trips: c.r.n,
        mean_r: c.r.mean(),
        brier: c.brier.mean(),
        decisions: c.latency.n,
        mean_decision_secs: c.latency.mean(),
    }
}

/// Two-proportion z-test with the pooled proportion.
#[allow(clippy::cast_precision_loss)]
fn proportions(a: &Moments, b: &Moments) -> Option<Test> {
    let (na, nb) = (a.n as f64, b.n as f64);
    let (pa, pb) = (a.mean()?, b.mean()?);
    let pooled = (a.sum + b.sum) / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    test((pa - pb) / se)
}

/// Welch's t-test of two means.
#[allow(clippy::cast_precision_loss)]
fn welch(a: &Moments, b: &Moments) -> Option<Test> {
    let se = (a.variance()? / a.n as f64 + b.variance()? / b.n as f64).sqrt();
    test((a.mean()? - b.mean()?) / se)
}

fn test(statistic: f64) -> Option<Test> {
    statistic.is_finite().then(|| Test {
        statistic,
        p_value: 2.0 * (1.0 - normal_cdf(statistic.abs())),
    })
}

/// The standard normal CDF (erf by Abramowitz and Stegun 7.1.26, error < 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    let erf = if z >= 0.0 { erf } else { -erf };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn trip(on: bool, won: bool, r: f64) -> ClosedTrip {
        ClosedTrip {
            signal_id: None,
            flags: if on {
                vec![FlagName::AtrBrackets]
            } else {
                Vec::new()
            },
            won,
            r_multiple: Some(r),
            probability: 0.6,
        }
    }

    #[test]
    fn cohorts_split_by_the_flag_and_a_clear_difference_is_significant() {
        let mut c = Cohorts::default();
        for i in 0..200 {
            c.trip(&trip(true, i % 10 < 7, if i % 10 < 7 { 2.0 } else { -1.0 }));
            c.trip(&trip(
                false,
                i % 10 < 3,
                if i % 10 < 3 { 2.0 } else { -1.0 },
            ));
        }
        let cmp = c.compare(FlagName::AtrBrackets);
        assert_eq!((cmp.enabled.trips, cmp.disabled.trips), (200, 200));
        assert!((cmp.enabled.win_rate.unwrap() - 0.7).abs() < 1e-12);
        assert!((cmp.disabled.mean_r.unwrap() - (-0.1)).abs() < 1e-12);
        let t = cmp.win_rate_test.unwrap();
        assert!(t.statistic > 7.0 && t.p_value < 1e-9, "{t:?}");
        assert!(cmp.mean_r_test.unwrap().p_value < 1e-9);
        // Another flag saw every trip in its off cohort: nothing to compare.
        let other = c.compare(FlagName::OutputSlack);
        assert_eq!((other.enabled.trips, other.disabled.trips), (0, 400));
        assert!(other.win_rate_test.is_none());
    }

    #[test]
    fn no_difference_is_not_significant_and_the_cdf_is_right() {
        let mut c = Cohorts::default();
        for i in 0..100 {
            c.trip(&trip(true, i % 2 == 0, 1.0));
            c.trip(&trip(false, i % 2 == 0, 1.0));
        }
        let t = c.compare(FlagName::AtrBrackets).win_rate_test.unwrap();
        assert!(
            t.statistic.abs() < 1e-12 && (t.p_value - 1.0).abs() < 1e-6,
            "{t:?}"
        );
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655_25).abs() < 1e-6);
    }
}
