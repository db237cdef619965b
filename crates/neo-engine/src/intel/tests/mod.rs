//! Tests of the intel module: hand-made sequences for the arithmetic, the simulator
//! for accuracy, proptest for robustness, and `#[ignore]` reports for the numbers in
//! docs/STRATEGY.md.

mod ensemble;
mod props;
mod regime;
mod report;
mod score;

use neo_domain::{Fixed, InstrumentId, Price, Quantity, Rounding, Timestamp};

use crate::market::{Ohlcv, SimBar, SimBars, SimBarsConfig};

const MINUTE: i64 = 60_000_000_000;

/// An exact price near `x` (9 decimals).
fn price(x: f64) -> Price {
    Price::new(Fixed::from_f64(x, Rounding::HalfEven).unwrap()).unwrap()
}

/// A one-minute bar `i` with the given prices.
fn bar(i: i64, open: f64, high: f64, low: f64, close: f64) -> Ohlcv {
    let ts_open = Timestamp::from_nanos(1_704_067_200_000_000_000 + i * MINUTE);
    Ohlcv {
        ts_open,
        ts_close: ts_open.add_nanos(MINUTE),
        open: price(open),
        high: price(high),
        low: price(low),
        close: price(close),
        volume: Quantity::ZERO,
    }
}

/// A bar that opens at the previous close and closes at `close`.
fn step_bar(i: i64, prev: f64, close: f64) -> Ohlcv {
    bar(i, prev, prev.max(close), prev.min(close), close)
}

/// `n` bars of the default simulated market (`SIM-USD`).
fn sim(seed: u64, n: u64) -> Vec<SimBar> {
    let id = InstrumentId::new("SIM-USD").unwrap();
    SimBars::new(&SimBarsConfig::new(seed, n, id))
        .unwrap()
        .collect()
}
