//! Execution quality: how far fills land from the price when the order was
//! decided (the arrival price), in basis points, positive when worse.

use neo_domain::Side;
use neo_domain::contracts::FillV1;

/// Slippage of one fill against its arrival price in basis points (positive = paid more
/// or received less); `None` without an arrival price.
pub fn slippage_bps(fill: &FillV1) -> Option<f64> {
    let arrival = fill.arrival_price?.value().to_f64();
    if arrival <= 0.0 {
        return None;
    }
    let diff = (fill.price.value().to_f64() - arrival) / arrival * 10_000.0;
    Some(match fill.side {
        Side::Buy => diff,
        Side::Sell => -diff,
    })
}

/// Running execution-quality statistics over many fills (analytics: `f64` is fine).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionQuality {
    /// Fills with an arrival price.
    pub fills: u64,
    /// Mean slippage in basis points.
    pub mean_bps: f64,
    /// Worst (largest) slippage in basis points.
    pub worst_bps: f64,
}

impl ExecutionQuality {
    /// Adds one fill (ignored without an arrival price).
    pub fn record(&mut self, fill: &FillV1) {
        let Some(bps) = slippage_bps(fill) else {
            return;
        };
        self.fills += 1;
        self.mean_bps += (bps - self.mean_bps) / self.fills as f64;
        self.worst_bps = if self.fills == 1 {
            bps
        } else {
            self.worst_bps.max(bps)
        };
    }
}
