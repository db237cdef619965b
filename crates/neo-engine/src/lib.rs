//! NEO's deterministic core. Everything here is synchronous and pure: time comes
//! from an injected [`Clock`], so a backtest and a live run make the same decisions.

pub mod analyst;
pub mod autonomy;
pub mod backtest;
pub mod clock;
pub mod desk;
pub mod flags;
pub mod history;
pub mod indicators;
pub mod intel;
pub mod market;
pub mod oms;
pub mod portfolio;
mod recent;
pub mod risk;
pub mod slo;

pub use clock::{Clock, ManualClock};
