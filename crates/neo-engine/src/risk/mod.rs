//! Pre-trade risk, confidence calibration, Kelly sizing and ATR brackets.

mod approved;

pub use approved::RiskApproved;
#[cfg(test)]
pub(crate) use approved::approve_for_test;
