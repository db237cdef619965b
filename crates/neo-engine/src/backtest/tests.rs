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

#[test]
fn ensemble_books_fractional_lots_at_slipped_prices() {
    // BTC-USDT trades in lots of 0.00001: price x quantity after the spread needs
    // more than nine decimals, which the ledger must round as the OMS does.
    let btc = InstrumentId::new("BTC-USDT").unwrap();
    let config = BacktestConfig {
        instrument: btc,
        spread: "0.0005".parse().unwrap(),
        commission: "0.0004".parse().unwrap(),
        ..config()
    };
    let spec = crate::market::InstrumentSpec::preset_or_generic(btc);
    let steps = InstrumentSteps {
        price_step: spec.price_step,
        lot_step: spec.lot_step,
    };
    let mut bt = EnsembleBacktest::new(
        config,
        crate::intel::EnsembleConfig::for_sim_bars(),
        steps,
        DEFAULT_MIN_EDGE,
    )
    .unwrap();
    for b in SimBars::new(&SimBarsConfig::new(5, 4_000, btc)).unwrap() {
        bt.step(&b.bar, Some(b.regime)).unwrap();
    }
    let (outcome, report) = bt.finish().unwrap();
    // The realistic market leaves little edge after these costs: a few trades.
    assert!(outcome.summary.trades > 0, "{:?}", outcome.summary);
    assert!(report.regime.is_some());
    assert!(outcome.trades.iter().any(|t| {
        !t.size
            .value()
            .round_to_step(Fixed::ONE, Rounding::Floor)
            .is_ok_and(|w| w == t.size.value())
    }));
}

/// Closes that fall, hold one 5-decimal price for 30 bars and then rise: the
/// 10- and 20-bar means tie exactly on the flat run, and backtesting.py's
/// `crossover` needs strictly below then strictly above, so the rise is no cross.
#[test]
fn an_exact_tie_of_the_means_is_not_a_cross() {
    let sim = SimBarsConfig::new(7, 1, InstrumentId::new("SIM-USD").unwrap());
    let bar = SimBars::new(&sim).unwrap().next().unwrap().bar;
    let mut closes = Vec::new();
    let mut price = 108_350_i64;
    for step in [-7, 0, 11] {
        for _ in 0..30 {
            price += step;
            #[allow(clippy::cast_precision_loss)]
            closes.push(price as f64 / 100_000.0);
        }
    }
    let mut cross = Cross::new(AverageKind::Simple, 10, 20).unwrap();
    let wishes: Vec<Target> = closes
        .iter()
        .filter_map(|c| cross.on_bar(&bar, *c))
        .collect();
    assert!(wishes.is_empty(), "{wishes:?}");
    // Without the tie (a V instead of a flat run) the same rise is a cross.
    let mut cross = Cross::new(AverageKind::Simple, 10, 20).unwrap();
    let v: Vec<f64> = (0..30)
        .map(|i| 1.1 - f64::from(i) * 1e-4)
        .chain((0..30).map(|i| 1.097 + f64::from(i) * 1e-4))
        .collect();
    let wishes: Vec<Target> = v.iter().filter_map(|c| cross.on_bar(&bar, *c)).collect();
    assert_eq!(wishes, vec![Target::Long]);
}
