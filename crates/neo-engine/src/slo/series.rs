//! One SLO's events in minute buckets (6 hours) and hour buckets (the period).

use std::collections::VecDeque;

use neo_domain::Timestamp;

use super::{LATENCY_BOUNDS, MINUTE_NS};

/// Minutes kept for burn rates and percentiles.
const MINUTES_KEPT: i64 = 360;

#[derive(Debug, Clone, Default)]
struct Bucket {
    /// Minute or hour number since the epoch.
    at: i64,
    good: u64,
    total: u64,
    /// Latencies per bound of `LATENCY_BOUNDS`, plus one over the last.
    latency: Vec<u64>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Series {
    minutes: VecDeque<Bucket>,
    hours: VecDeque<Bucket>,
}

fn bump(buckets: &mut VecDeque<Bucket>, at: i64, good: bool, latency: Option<f64>) {
    if buckets.back().is_none_or(|b| b.at < at) {
        buckets.push_back(Bucket {
            at,
            ..Bucket::default()
        });
    }
    // An event older than the newest bucket (a late clock) counts in the newest.
    let Some(b) = buckets.back_mut() else { return };
    b.total += 1;
    b.good += u64::from(good);
    if let Some(secs) = latency {
        if b.latency.is_empty() {
            b.latency = vec![0; LATENCY_BOUNDS.len() + 1];
        }
        let i = LATENCY_BOUNDS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(LATENCY_BOUNDS.len());
        b.latency[i] += 1;
    }
}

impl Series {
    pub(super) fn add(&mut self, at: Timestamp, good: bool, latency: Option<f64>) {
        let minute = at.as_nanos().div_euclid(MINUTE_NS);
        bump(&mut self.minutes, minute, good, latency);
        bump(&mut self.hours, minute.div_euclid(60), good, None);
    }

    pub(super) fn prune(&mut self, now: Timestamp, period_hours: u32) {
        let minute = now.as_nanos().div_euclid(MINUTE_NS);
        while self
            .minutes
            .front()
            .is_some_and(|b| b.at <= minute - MINUTES_KEPT)
        {
            self.minutes.pop_front();
        }
        let hour = minute.div_euclid(60);
        while self
            .hours
            .front()
            .is_some_and(|b| b.at <= hour - i64::from(period_hours))
        {
            self.hours.pop_front();
        }
    }

    /// Good and all events over the period (whole hours, the current one included).
    pub(super) fn period(&self, now: Timestamp, period_hours: u32) -> (u64, u64) {
        let hour = now.as_nanos().div_euclid(MINUTE_NS * 60);
        sum(self
            .hours
            .iter()
            .filter(|b| b.at > hour - i64::from(period_hours)))
    }

    /// Good and all events over the last `minutes` (the current minute included).
    pub(super) fn recent(&self, now: Timestamp, minutes: i64) -> (u64, u64) {
        let minute = now.as_nanos().div_euclid(MINUTE_NS);
        sum(self.minutes.iter().filter(|b| b.at > minute - minutes))
    }

    /// The `q` quantile of the latencies of the last `minutes`: the upper bound
    /// of the bucket it falls in (infinite past the last bound).
    pub(super) fn quantile(&self, now: Timestamp, minutes: i64, q: f64) -> Option<f64> {
        let minute = now.as_nanos().div_euclid(MINUTE_NS);
        let mut counts = vec![0u64; LATENCY_BOUNDS.len() + 1];
        for b in self.minutes.iter().filter(|b| b.at > minute - minutes) {
            for (c, n) in counts.iter_mut().zip(&b.latency) {
                *c += n;
            }
        }
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(LATENCY_BOUNDS.get(i).copied().unwrap_or(f64::INFINITY));
            }
        }
        None
    }
}

fn sum<'a>(buckets: impl Iterator<Item = &'a Bucket>) -> (u64, u64) {
    buckets.fold((0, 0), |(g, t), b| (g + b.good, t + b.total))
}
