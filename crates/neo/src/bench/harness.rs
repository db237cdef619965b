//! A small, honest timing harness for `neo bench`: each sample times a batch
//! of operations (so a 20 ns operation is not swamped by the clock's own
//! cost), and the per-operation figures are the batch time over its size.

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde::Serialize;

/// One benchmark's result, in nanoseconds per operation.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Median of the per-operation sample times.
    pub p50_ns: f64,
    /// 99th percentile of the per-operation sample times.
    pub p99_ns: f64,
    /// Slowest sample.
    pub max_ns: f64,
    /// Operations per second at the mean.
    pub ops_per_s: f64,
    /// Samples taken.
    pub samples: usize,
    /// Operations per sample.
    pub batch: usize,
}

/// How long to measure each benchmark, and how many samples to split it into.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Wall time to spend measuring (at least 10 samples are always taken).
    pub time: Duration,
    /// Most samples to take.
    pub samples: usize,
}

#[allow(clippy::disallowed_methods)] // Benchmarks measure wall time by definition.
fn now() -> Instant {
    Instant::now()
}

/// Times `op` under `budget`.
pub fn measure<T>(budget: Budget, mut op: impl FnMut() -> T) -> Stats {
    // Pick a batch size so that one batch takes about 20 µs.
    let mut batch = 1usize;
    loop {
        let start = now();
        for _ in 0..batch {
            black_box(op());
        }
        let elapsed = start.elapsed();
        if elapsed >= Duration::from_micros(20) || batch >= 1 << 20 {
            break;
        }
        batch *= 2;
    }
    let mut per_op = Vec::with_capacity(budget.samples);
    let deadline = now() + budget.time;
    while per_op.len() < budget.samples && (now() < deadline || per_op.len() < 10) {
        let start = now();
        for _ in 0..batch {
            black_box(op());
        }
        let elapsed = start.elapsed();
        per_op.push(elapsed.as_nanos() as f64 / batch as f64);
    }
    summarize(per_op, batch)
}

fn summarize(mut per_op: Vec<f64>, batch: usize) -> Stats {
    per_op.sort_by(f64::total_cmp);
    let pick = |q: f64| per_op[((per_op.len() - 1) as f64 * q).round() as usize];
    let mean = per_op.iter().sum::<f64>() / per_op.len() as f64;
    Stats {
        p50_ns: pick(0.50),
        p99_ns: pick(0.99),
        max_ns: pick(1.0),
        ops_per_s: if mean > 0.0 {
            1e9 / mean
        } else {
            f64::INFINITY
        },
        samples: per_op.len(),
        batch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_samples() {
        let stats = summarize((1..=100).rev().map(f64::from).collect(), 4);
        assert!((stats.p50_ns - 51.0).abs() < 1e-9, "{stats:?}");
        assert!((stats.p99_ns - 99.0).abs() < 1e-9);
        assert!((stats.max_ns - 100.0).abs() < 1e-9);
        assert!((stats.ops_per_s - 1e9 / 50.5).abs() < 1e-3);
    }

    #[test]
    fn measuring_runs_the_operation_and_reports_sane_numbers() {
        let mut calls = 0u64;
        let budget = Budget {
            time: Duration::from_millis(5),
            samples: 50,
        };
        let stats = measure(budget, || {
            calls += 1;
            calls
        });
        assert!(calls > 0 && stats.samples >= 10);
        assert!(stats.p50_ns <= stats.p99_ns && stats.p99_ns <= stats.max_ns);
        assert!(stats.ops_per_s > 0.0);
    }
}
