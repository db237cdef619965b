//! The parts of the `neo` binary that benchmarks share: the workloads behind
//! `neo bench` are the same ones the criterion benches run.

pub mod bench;
