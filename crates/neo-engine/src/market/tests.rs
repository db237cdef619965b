use neo_domain::contracts::{CandleV1, TickV1};
use neo_domain::{Contract, Fixed, InstrumentId, Price, Quantity, Timestamp};
use proptest::prelude::*;

use super::*;

const MINUTE: i64 = 60_000_000_000;
const SECOND: i64 = 1_000_000_000;

fn id(s: &str) -> InstrumentId {
    InstrumentId::new(s).unwrap()
}

fn px(s: &str) -> Price {
    s.parse().unwrap()
}

fn qty(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn start() -> Timestamp {
    "2026-01-05T00:00:00Z".parse().unwrap()
}

fn run(seed: u64, steps: i64, every: i64) -> Vec<TickV1> {
    let mut sim = SimMarket::new(SimConfig::default(), seed, start()).unwrap();
    (0..steps)
        .flat_map(|i| sim.step(start().add_nanos(i * every)).unwrap())
        .collect()
}

#[test]
fn default_config_is_valid_and_roundtrips() {
    let config = SimConfig::default();
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.instruments.len(), 4);
    let json = serde_json::to_string(&config).unwrap();
    let back: SimConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, config);
    let partial: SimConfig = serde_json::from_str(r#"{"max_substep_secs": 5}"#).unwrap();
    assert_eq!(partial.instruments, config.instruments);
    assert!(serde_json::from_str::<SimConfig>(r#"{"max_substep": 5}"#).is_err());
    let eur = InstrumentSpec::preset(id("EUR-USD")).unwrap();
    assert_eq!(eur.price_step, px("0.00001"));
    assert_eq!(eur.initial_price, px("1.08"));
    assert!(InstrumentSpec::preset(id("DOGE-USDT")).is_none());
    let generic = SimConfig::for_instruments(&[id("DOGE-USDT"), id("AAPL")]);
    assert_eq!(generic.validate(), Ok(()));
    assert_eq!(generic.instruments[1].initial_price, px("230"));
}

#[test]
fn validate_lists_every_problem() {
    let mut config = SimConfig::default();
    let btc = config.instruments[0].clone();
    config.instruments.push(btc);
    config.instruments[1].volatility = f64::NAN;
    config.instruments[2].spread_ticks = 0;
    config.instruments[3].price_step = Price::ZERO;
    config.regimes.range.mean_reversion = 2.0;
    config.regimes.high_volatility.vol_multiplier = 0.0;
    config.max_substep_secs = 0.0;
    let err = config.validate().unwrap_err();
    assert_eq!(err.problems.len(), 7, "{err}");
    let text = err.to_string();
    for needle in [
        "BTC-USDT is listed twice",
        "ETH-USDT: volatility",
        "EUR-USD: spread_ticks",
        "AAPL: price_step",
        "regimes.range.mean_reversion",
        "regimes.high_volatility.vol_multiplier",
        "max_substep_secs",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    let mut empty = SimConfig::default();
    empty.instruments.clear();
    for r in [
        &mut empty.regimes.trend_up,
        &mut empty.regimes.trend_down,
        &mut empty.regimes.range,
        &mut empty.regimes.high_volatility,
    ] {
        r.weight = 0.0;
    }
    assert_eq!(empty.validate().unwrap_err().problems.len(), 2);
}

#[test]
fn same_seed_gives_byte_identical_ticks() {
    let a = serde_json::to_string(&run(42, 2_000, SECOND)).unwrap();
    let b = serde_json::to_string(&run(42, 2_000, SECOND)).unwrap();
    assert_eq!(a, b);
    let c = serde_json::to_string(&run(43, 2_000, SECOND)).unwrap();
    assert_ne!(a, c);
}

#[test]
fn adding_an_instrument_leaves_the_others_paths_alone() {
    let one = SimConfig::for_instruments(&[id("BTC-USDT")]);
    let two = SimConfig::for_instruments(&[id("AAPL"), id("BTC-USDT")]);
    let mut a = SimMarket::new(one, 9, start()).unwrap();
    let mut b = SimMarket::new(two, 9, start()).unwrap();
    for i in 0..500 {
        let now = start().add_nanos(i * SECOND);
        let ta = a.step(now).unwrap();
        let tb = b.step(now).unwrap();
        assert_eq!(ta[0], tb[1]);
    }
}

#[test]
fn ticks_are_valid_and_on_the_grid() {
    let config = SimConfig::default();
    for tick in run(7, 3_000, 5 * SECOND) {
        assert!(tick.check().is_empty(), "{tick:?}");
        let spec = config
            .instruments
            .iter()
            .find(|s| s.instrument == tick.instrument)
            .unwrap();
        let step = spec.price_step.value();
        let (bid, ask) = (tick.bid.unwrap().value(), tick.ask.unwrap().value());
        for p in [bid, ask, tick.price.value()] {
            assert_eq!(
                p.round_to_step(step, neo_domain::Rounding::Floor).unwrap(),
                p
            );
        }
        let spread = Fixed::from_int(i64::from(spec.spread_ticks))
            .checked_mul(step)
            .unwrap();
        assert_eq!(ask.checked_sub(bid).unwrap(), spread);
        assert!(tick.price.value() == bid || tick.price.value() == ask);
        let lot = spec.lot_step.value();
        assert!(tick.size.value() >= lot);
        assert_eq!(
            tick.size
                .value()
                .round_to_step(lot, neo_domain::Rounding::Floor)
                .unwrap(),
            tick.size.value()
        );
    }
}

#[test]
fn prices_stay_near_their_presets_over_a_day() {
    let mut sim = SimMarket::new(SimConfig::default(), 1, start()).unwrap();
    for i in 1..=1_440 {
        sim.step(start().add_nanos(i * MINUTE)).unwrap();
    }
    for (symbol, initial) in [
        ("BTC-USDT", 95_000.0),
        ("ETH-USDT", 3_500.0),
        ("EUR-USD", 1.08),
        ("AAPL", 230.0),
    ] {
        let mid = sim.mid(&id(symbol)).unwrap();
        let ratio = mid / initial;
        assert!((0.5..2.0).contains(&ratio), "{symbol} moved to {mid}");
        let last = sim.last_tick(&id(symbol)).unwrap();
        assert_eq!(last.ts_event, start().add_nanos(1_440 * MINUTE));
    }
}

#[test]
fn time_must_not_go_backwards() {
    let mut sim = SimMarket::new(SimConfig::default(), 1, start()).unwrap();
    sim.step(start().add_nanos(SECOND)).unwrap();
    assert_eq!(sim.step(start().add_nanos(SECOND)).unwrap().len(), 4);
    assert!(matches!(
        sim.step(start()),
        Err(SimError::TimeWentBackwards { .. })
    ));
    assert_eq!(sim.now(), start().add_nanos(SECOND));
    assert_eq!(sim.instruments().count(), 4);
    assert_eq!(sim.true_regime(&id("DOGE-USDT")), None);
}

#[test]
fn regimes_switch_and_drive_returns() {
    let config = SimConfig::for_instruments(&[id("BTC-USDT")]);
    let mut sim = SimMarket::new(config, 5, start()).unwrap();
    let btc = id("BTC-USDT");
    let mut time_in = [0u32; 4];
    let mut sum = [0.0f64; 4];
    let mut sq = [0.0f64; 4];
    let mut prev = sim.mid(&btc).unwrap().ln();
    let minutes = 60 * 24 * 30;
    for i in 1..=minutes {
        let regime = sim.true_regime(&btc).unwrap();
        sim.step(start().add_nanos(i * MINUTE)).unwrap();
        let x = sim.mid(&btc).unwrap().ln();
        let k = usize::from(regime.code());
        time_in[k] += 1;
        sum[k] += x - prev;
        sq[k] += (x - prev).powi(2);
        prev = x;
    }
    assert!(time_in.iter().all(|t| *t > 1_000), "{time_in:?}");
    let mean = |k: usize| sum[k] / f64::from(time_in[k]);
    let sd = |k: usize| (sq[k] / f64::from(time_in[k]) - mean(k).powi(2)).sqrt();
    // Regimes differ by volatility (0.5, 1, 2, 4 times the preset's); their drifts
    // are too small to read in a month (tests_realism.rs bounds them).
    let sigma = 0.0008;
    assert!(
        (0.8 * sigma..1.2 * sigma).contains(&sd(0)),
        "trend up {}",
        sd(0)
    );
    assert!(sd(1) > 1.5 * sd(0), "trend down {} vs up {}", sd(1), sd(0));
    assert!(sd(0) > 1.5 * sd(2), "trend up {} vs range {}", sd(0), sd(2));
    assert!(
        sd(3) > 1.5 * sd(1),
        "high volatility {} vs trend down {}",
        sd(3),
        sd(1)
    );
    assert!(mean(0).abs() < 0.1 * sd(0) && mean(1).abs() < 0.1 * sd(1));
}

fn tick(symbol: &str, secs: i64, price: &str, size: &str) -> TickV1 {
    TickV1 {
        instrument: id(symbol),
        price: px(price),
        size: qty(size),
        bid: None,
        ask: None,
        ts_event: start().add_nanos(secs * SECOND),
    }
}

#[test]
fn intervals_parse() {
    assert_eq!(interval_nanos("1m"), Some(MINUTE));
    assert_eq!(interval_nanos("15s"), Some(15 * SECOND));
    assert_eq!(interval_nanos("4h"), Some(240 * MINUTE));
    assert_eq!(interval_nanos("1d"), Some(1_440 * MINUTE));
    for bad in ["", "m", "0m", "1w", "1M", "1x", "12345m", "-1m", "1.5m"] {
        assert_eq!(interval_nanos(bad), None, "{bad}");
        assert!(CandleAggregator::new(bad).is_err());
    }
}

#[test]
fn candles_close_on_the_next_interval_and_skip_gaps() {
    let mut agg = CandleAggregator::new("1m").unwrap();
    assert_eq!(agg.push(&tick("AAPL", 5, "230", "10")).unwrap(), None);
    assert_eq!(agg.push(&tick("AAPL", 20, "231.5", "5")).unwrap(), None);
    assert_eq!(agg.push(&tick("AAPL", 40, "229", "1")).unwrap(), None);
    assert_eq!(agg.push(&tick("AAPL", 59, "230.25", "4")).unwrap(), None);
    // Another instrument does not close AAPL's bar.
    assert_eq!(agg.push(&tick("ETH-USDT", 61, "3500", "1")).unwrap(), None);
    // Three minutes later: the first bar closes, no bars for the empty minutes.
    let bar = agg.push(&tick("AAPL", 200, "232", "2")).unwrap().unwrap();
    assert_eq!(
        bar,
        CandleV1 {
            instrument: id("AAPL"),
            interval: "1m".into(),
            ts_open: start(),
            ts_event: start().add_nanos(MINUTE),
            open: px("230"),
            high: px("231.5"),
            low: px("229"),
            close: px("230.25"),
            volume: qty("20"),
        }
    );
    assert!(bar.check().is_empty());
    // A tick older than the open bar is refused and counted.
    let late = agg.push(&tick("AAPL", 100, "1", "1")).unwrap_err();
    assert!(matches!(late, CandleError::OutOfOrder { .. }), "{late}");
    // Flush closes the bars whose interval has ended, and only those.
    let flushed = agg.flush(start().add_nanos(3 * MINUTE + 59 * SECOND));
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].instrument, id("ETH-USDT"));
    assert_eq!(flushed[0].ts_open, start().add_nanos(MINUTE));
    let flushed = agg.flush(start().add_nanos(4 * MINUTE));
    assert_eq!(flushed.len(), 1);
    assert_eq!(flushed[0].instrument, id("AAPL"));
    assert_eq!(flushed[0].ts_open, start().add_nanos(3 * MINUTE));
    assert!(agg.flush(start().add_nanos(10 * MINUTE)).is_empty());
    // After a flush, ticks for the flushed interval are late too.
    assert!(agg.push(&tick("AAPL", 230, "232", "1")).is_err());
    assert!(agg.push(&tick("AAPL", 240, "232", "1")).unwrap().is_none());
    let bad = TickV1 {
        price: px("-1"),
        ..tick("AAPL", 241, "1", "1")
    };
    assert!(matches!(
        agg.push(&bad),
        Err(CandleError::InvalidTick { .. })
    ));
    assert_eq!(
        agg.stats(),
        CandleStats {
            accepted: 7,
            out_of_order: 2,
            invalid: 1,
            emitted: 3
        }
    );
}

#[test]
fn a_late_tick_inside_the_bar_extends_it_but_does_not_close_it() {
    let mut agg = CandleAggregator::new("1m").unwrap();
    agg.push(&tick("AAPL", 10, "100", "1")).unwrap();
    agg.push(&tick("AAPL", 30, "101", "1")).unwrap();
    agg.push(&tick("AAPL", 20, "99", "1")).unwrap();
    let bar = agg.flush(start().add_nanos(MINUTE)).pop().unwrap();
    assert_eq!(
        (bar.low, bar.close, bar.volume),
        (px("99"), px("101"), qty("3"))
    );
}

proptest! {
    #[test]
    fn every_candle_is_valid_and_volume_is_conserved(
        steps in prop::collection::vec((0i64..200, 1i64..1_000_000, 0i64..1_000, 0usize..2), 1..200)
    ) {
        let symbols = ["BTC-USDT", "AAPL"];
        let mut agg = CandleAggregator::new("1m").unwrap();
        let (mut t, mut latest) = (0i64, 0i64);
        let mut candles = Vec::new();
        let mut accepted_volume = Fixed::ZERO;
        for (jump, price, size, which) in steps {
            // Mostly forward in time, sometimes back (jump < 20 goes back 30 s).
            t += if jump < 20 { -30 } else { jump };
            latest = latest.max(t);
            let tick = TickV1 {
                instrument: id(symbols[which]),
                price: Price::new(Fixed::from_raw(i128::from(price) * 10_000_000)).unwrap(),
                size: Quantity::new(Fixed::from_int(size)).unwrap(),
                bid: None,
                ask: None,
                ts_event: start().add_nanos(t * SECOND),
            };
            if let Ok(closed) = agg.push(&tick) {
                accepted_volume = accepted_volume.checked_add(tick.size.value()).unwrap();
                candles.extend(closed);
            }
        }
        // Flush past the latest bar (the last tick may have gone back in time).
        candles.extend(agg.flush(start().add_nanos((latest + 120) * SECOND)));
        let mut emitted_volume = Fixed::ZERO;
        for c in &candles {
            prop_assert!(c.check().is_empty(), "{:?}: {:?}", c, c.check());
            prop_assert_eq!(c.ts_event.nanos_since(c.ts_open), MINUTE);
            prop_assert_eq!(c.ts_open.as_nanos().rem_euclid(MINUTE), 0);
            emitted_volume = emitted_volume.checked_add(c.volume.value()).unwrap();
        }
        prop_assert_eq!(emitted_volume, accepted_volume);
        for symbol in symbols {
            let opens: Vec<_> = candles.iter().filter(|c| c.instrument == id(symbol)).map(|c| c.ts_open).collect();
            prop_assert!(opens.windows(2).all(|w| w[0] < w[1]), "{:?}", opens);
        }
        prop_assert_eq!(agg.stats().emitted as usize, candles.len());
    }
}

fn candle(secs_close: i64, o: &str, h: &str, l: &str, c: &str) -> CandleV1 {
    CandleV1 {
        instrument: id("BTC-USDT"),
        interval: "1m".into(),
        ts_open: start().add_nanos((secs_close - 60) * SECOND),
        ts_event: start().add_nanos(secs_close * SECOND),
        open: px(o),
        high: px(h),
        low: px(l),
        close: px(c),
        volume: qty("1"),
    }
}

fn kinds(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.kind.code()).collect()
}

#[test]
fn gates_flag_structure_time_and_jumps() {
    let mut gate = QualityGate::new(GateConfig::default()).unwrap();
    let btc = id("BTC-USDT");
    assert!(!gate.tradable(&btc, start()));
    assert!(
        gate.check(&candle(60, "100", "101", "99", "100"))
            .is_empty()
    );
    assert!(gate.tradable(&btc, start().add_nanos(60 * SECOND)));
    // Bad OHLC order is rejected: the previous candle stays the reference.
    let bad = gate.check(&candle(120, "100", "99", "101", "100"));
    assert_eq!(kinds(&bad), ["ohlc_order"]);
    assert!(bad[0].kind.rejects_candle());
    assert_eq!(gate.last_seen(&btc), Some(start().add_nanos(60 * SECOND)));
    assert_eq!(
        kinds(&gate.check(&candle(60, "100", "101", "99", "100"))),
        ["duplicate_timestamp"]
    );
    assert_eq!(
        kinds(&gate.check(&candle(30, "100", "101", "99", "100"))),
        ["time_backwards"]
    );
    assert_eq!(
        kinds(&gate.check(&candle(120, "0", "101", "0", "100"))),
        ["non_positive_price"]
    );
    // A 12% jump is accepted but pauses trading until a calm candle follows.
    let jump = gate.check(&candle(120, "100", "112", "100", "111"));
    assert_eq!(kinds(&jump), ["price_jump"]);
    assert!(jump[0].to_string().contains("12.00%"), "{}", jump[0]);
    assert!(!gate.tradable(&btc, start().add_nanos(120 * SECOND)));
    assert!(
        gate.check(&candle(180, "111", "112", "110", "111"))
            .is_empty()
    );
    assert!(gate.tradable(&btc, start().add_nanos(180 * SECOND)));
    // Stale after five minutes.
    assert!(gate.tradable(&btc, start().add_nanos(480 * SECOND)));
    assert!(!gate.tradable(&btc, start().add_nanos(481 * SECOND)));
}

#[test]
fn gate_config_is_validated() {
    let bad = GateConfig {
        max_jump_fraction: -1.0,
        max_age_secs: 0,
    };
    assert_eq!(QualityGate::new(bad).unwrap_err().problems.len(), 2);
    let parsed: GateConfig = serde_json::from_str(r#"{"max_age_secs": 60}"#).unwrap();
    assert_eq!(parsed.max_age_secs, 60);
    assert!(serde_json::from_str::<GateConfig>(r#"{"max_age": 60}"#).is_err());
}

#[test]
fn simulated_candles_pass_the_gates() {
    let mut sim = SimMarket::new(SimConfig::default(), 11, start()).unwrap();
    let mut agg = CandleAggregator::new("1m").unwrap();
    let mut gate = QualityGate::new(GateConfig::default()).unwrap();
    let mut bars = 0;
    for i in 0..(6 * 60 * 12) {
        for tick in sim.step(start().add_nanos(i * 5 * SECOND)).unwrap() {
            if let Some(c) = agg.push(&tick).unwrap() {
                assert!(c.check().is_empty());
                assert_eq!(gate.check(&c), Vec::new());
                bars += 1;
            }
        }
    }
    assert_eq!(bars, 4 * (6 * 60 - 1));
}
