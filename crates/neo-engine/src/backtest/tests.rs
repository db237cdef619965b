use super::*;
use crate::market::{SimBars, SimBarsConfig};

fn config() -> BacktestConfig {
    BacktestConfig {
        instrument: InstrumentId::new("SIM-USD").unwrap(),
        interval: "1m".to_owned(),
        currency: "USD".to_owned(),
        cash: Money::from_int(10_000).unwrap(),
        commission: Fixed::ZERO,
        spread: Fixed::ZERO,
        size: Sizing::AllCash,
    }
}

fn run(config: BacktestConfig, bars: u64) -> Outcome {
    let mut bt = Backtest::new(
        config,
        Cross::new(AverageKind::Exponential, 10, 20).unwrap(),
    )
    .unwrap();
    let sim = SimBarsConfig::new(7, bars, InstrumentId::new("SIM-USD").unwrap());
    for b in SimBars::new(&sim).unwrap() {
        bt.step(&b.bar).unwrap();
    }
    bt.finish().unwrap()
}

#[test]
fn sim_run_trades_and_is_deterministic() {
    let a = run(config(), 5_000);
    let b = run(config(), 5_000);
    assert!(a.summary.trades > 20, "{:?}", a.summary);
    assert_eq!(format!("{:?}", a.summary), format!("{:?}", b.summary));
    assert_eq!(a.trades, b.trades);
}
