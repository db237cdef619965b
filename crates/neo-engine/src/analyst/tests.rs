use std::collections::BTreeMap;

use neo_domain::contracts::{
    AgentOutputV1, CandleV1, Priority, Recommendation, Severity, SignalEventV1, SignalSource,
    SignalType,
};
use neo_domain::{Contract, Fixed, IdKind, InstrumentId, MessageId, Price, Side, Timestamp};
use proptest::prelude::*;

use super::*;
use crate::intel::RegimeDetectorConfig;
use crate::market::{CandleAggregator, GateConfig, SimConfig, SimMarket};

const SECOND: i64 = 1_000_000_000;
const MINUTE: i64 = 60 * SECOND;

fn id(s: &str) -> InstrumentId {
    InstrumentId::new(s).unwrap()
}

fn start() -> Timestamp {
    "2026-01-05T00:00:00Z".parse().unwrap()
}

/// Deterministic noise in [-1, 1] (splitmix64 finalizer of the index).
fn noise(i: u64) -> f64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}

fn price(x: f64) -> Price {
    Price::new(
        Fixed::from_f64(x, neo_domain::Rounding::HalfEven)
            .unwrap()
            .round_to_step(Fixed::from_raw(10_000_000), neo_domain::Rounding::HalfEven)
            .unwrap(),
    )
    .unwrap()
}

/// Sub-steps per candle: a candle is the open, extremes and close of a walk, as
/// the simulator's (a tick every 5 s) are.
const STEPS: u32 = 12;

/// One-minute candles from a list of (bars, drift, sigma, reversion) segments:
/// per bar a log-return drift, a standard deviation, and the share of the distance
/// to the starting level closed.
fn series(symbol: &str, segments: &[(usize, f64, f64, f64)]) -> Vec<CandleV1> {
    let mut out = Vec::new();
    let (mut x, level) = (100f64.ln(), 100f64.ln());
    let mut i = 0u64;
    let mut k = 0u64;
    let steps = f64::from(STEPS);
    for &(bars, drift, sigma, revert) in segments {
        // Uniform noise in [-1, 1] has a standard deviation of 1/sqrt(3).
        let step_sd = sigma / steps.sqrt() * 3f64.sqrt();
        for _ in 0..bars {
            let open = x;
            let (mut high, mut low) = (x, x);
            let pull = revert * (x - level) / steps;
            for _ in 0..STEPS {
                x += drift / steps + step_sd * noise(k) - pull;
                high = high.max(x);
                low = low.min(x);
                k += 1;
            }
            let ts_open = start().add_nanos(i as i64 * MINUTE);
            out.push(CandleV1 {
                instrument: id(symbol),
                interval: "1m".into(),
                ts_open,
                ts_event: ts_open.add_nanos(MINUTE),
                open: price(open.exp()),
                high: price(high.exp()),
                low: price(low.exp()),
                close: price(x.exp()),
                volume: "1".parse().unwrap(),
            });
            i += 1;
        }
    }
    out
}

fn fed(candles: &[CandleV1]) -> RuleAnalyst {
    let mut analyst = RuleAnalyst::new(AnalystConfig::default()).unwrap();
    for c in candles {
        assert_eq!(analyst.on_candle(c), Vec::new(), "{c:?}");
    }
    analyst
}

fn signal(symbol: &str, signal_type: SignalType, side: Option<Side>) -> SignalEventV1 {
    SignalEventV1 {
        id: MessageId::derived(
            IdKind::Signal,
            &format!("test:{symbol}:{signal_type}:{side:?}"),
        ),
        source: SignalSource::Tradingview,
        source_id: None,
        instrument: id(symbol),
        exchange: None,
        side,
        signal_type,
        priority: Priority::Normal,
        price: None,
        quantity: None,
        strategy: None,
        interval: None,
        comment: None,
        ts_event: start(),
        metadata: BTreeMap::new(),
        original: serde_json::Value::Null,
    }
}

fn last_time(candles: &[CandleV1]) -> Timestamp {
    candles.last().unwrap().ts_event
}

/// 0.1% a bar: the volatility of an uptrend, the detector's base.
const SIGMA: f64 = 0.001;

/// A history with each regime's volatility (down 2, high 4, up 1 and range 0.5
/// times `SIGMA`) in the shares the detector expects them, so it learns `SIGMA`
/// as the base, then `tail`.
fn after_history(tail: (usize, f64, f64, f64)) -> Vec<CandleV1> {
    series(
        "BTC-USDT",
        &[
            (60, 0.0, 2.0 * SIGMA, 0.0),
            (15, 0.0, 4.0 * SIGMA, 0.0),
            (60, 0.0, SIGMA, 0.0),
            (135, 0.0, 0.5 * SIGMA, 0.02),
            tail,
        ],
    )
}

/// A steady fall of 1.5 base volatilities a bar, at twice the base volatility.
fn downtrend() -> Vec<CandleV1> {
    after_history((60, -1.5 * SIGMA, 2.0 * SIGMA, 0.0))
}

/// BTC-USDT's one-minute candles from the simulator (seed 1) up to the first bar,
/// after six hours, that closes 40 bars into a true range: a range is the
/// simulator's calm, mean-reverting regime, which the detector was fitted on.
fn range() -> Vec<CandleV1> {
    let btc = id("BTC-USDT");
    let mut sim = SimMarket::new(SimConfig::default(), 1, start()).unwrap();
    let mut agg = CandleAggregator::new("1m").unwrap();
    let (mut out, mut truth, mut calm) = (Vec::new(), None, 0);
    for i in 0.. {
        for tick in sim.step(start().add_nanos(i * 5 * SECOND)).unwrap() {
            if tick.instrument != btc {
                continue;
            }
            if let Some(candle) = agg.push(&tick).unwrap() {
                out.push(candle);
                calm = if truth == Some(Regime::Range) {
                    calm + 1
                } else {
                    0
                };
                if out.len() > 360 && calm == 40 {
                    return out;
                }
            }
            truth = sim.true_regime(&btc);
        }
    }
    unreachable!("the simulator never ranges")
}

/// A steady climb of 1.5 base volatilities a bar.
fn uptrend() -> Vec<CandleV1> {
    after_history((60, 1.5 * SIGMA, SIGMA, 0.0))
}

/// Six times the base volatility, without a drift.
fn wild() -> Vec<CandleV1> {
    after_history((12, 0.0, 6.0 * SIGMA, 0.0))
}

#[test]
fn synthetic_markets_are_classified() {
    let btc = id("BTC-USDT");
    assert_eq!(fed(&downtrend()).regime(&btc), Some(Regime::TrendDown));
    assert_eq!(fed(&uptrend()).regime(&btc), Some(Regime::TrendUp));
    assert_eq!(fed(&range()).regime(&btc), Some(Regime::Range));
    assert_eq!(fed(&wild()).regime(&btc), Some(Regime::HighVolatility));
    assert_eq!(fed(&range()[..20]).regime(&btc), None);
}

struct Case {
    name: &'static str,
    market: fn() -> Vec<CandleV1>,
    signal_type: SignalType,
    side: Option<Side>,
    position: i64,
    /// Seconds after the last candle's close.
    age_secs: i64,
    want: Recommendation,
    severity: Severity,
    confidence: (f64, f64),
    rationale: &'static str,
}

#[test]
fn table_of_main_cases() {
    use Recommendation::{Buy, Close, Hold, Sell};
    use SignalType::{Alert, Entry, Exit, Reverse};
    let cases = [
        Case {
            name: "buy against a strong downtrend",
            market: downtrend,
            signal_type: Entry,
            side: Some(Side::Buy),
            position: 0,
            age_secs: 5,
            want: Hold,
            severity: Severity::Warning,
            confidence: (0.0, 0.2),
            rationale: "against a strong downtrend",
        },
        Case {
            name: "sell with the downtrend",
            market: downtrend,
            signal_type: Entry,
            side: Some(Side::Sell),
            position: 0,
            age_secs: 5,
            want: Sell,
            severity: Severity::Warning,
            confidence: (0.55, 0.8),
            rationale: "aligned with a downtrend",
        },
        Case {
            name: "buy with the uptrend",
            market: uptrend,
            signal_type: Entry,
            side: Some(Side::Buy),
            position: 0,
            age_secs: 5,
            want: Buy,
            severity: Severity::Warning,
            confidence: (0.55, 0.8),
            rationale: "aligned with an uptrend",
        },
        Case {
            name: "buy in a range",
            market: range,
            signal_type: Entry,
            side: Some(Side::Buy),
            position: 0,
            age_secs: 5,
            want: Buy,
            severity: Severity::Info,
            confidence: (0.5, 0.7),
            rationale: "in a range",
        },
        Case {
            name: "buy adds to a long",
            market: range,
            signal_type: Entry,
            side: Some(Side::Buy),
            position: 2,
            age_secs: 5,
            want: Buy,
            severity: Severity::Info,
            confidence: (0.45, 0.55),
            rationale: "adds to the existing long of 2",
        },
        Case {
            name: "reverse a long",
            market: range,
            signal_type: Reverse,
            side: Some(Side::Sell),
            position: 2,
            age_secs: 5,
            want: Sell,
            severity: Severity::Info,
            confidence: (0.5, 0.6),
            rationale: "reverses the existing long of 2",
        },
        Case {
            name: "buy in high volatility",
            market: wild,
            signal_type: Entry,
            side: Some(Side::Buy),
            position: 0,
            age_secs: 5,
            want: Buy,
            severity: Severity::Warning,
            confidence: (0.35, 0.55),
            rationale: "volatility is high",
        },
        Case {
            name: "exit closes a long",
            market: range,
            signal_type: Exit,
            side: Some(Side::Sell),
            position: 3,
            age_secs: 5,
            want: Close,
            severity: Severity::Info,
            confidence: (0.85, 0.95),
            rationale: "closes the long of 3",
        },
        Case {
            name: "exit with the wrong side still closes",
            market: range,
            signal_type: Exit,
            side: Some(Side::Sell),
            position: -3,
            age_secs: 5,
            want: Close,
            severity: Severity::Warning,
            confidence: (0.55, 0.65),
            rationale: "would not close the short of 3",
        },
        Case {
            name: "exit when flat",
            market: range,
            signal_type: Exit,
            side: None,
            position: 0,
            age_secs: 5,
            want: Hold,
            severity: Severity::Info,
            confidence: (0.85, 0.95),
            rationale: "no position to close",
        },
        Case {
            name: "alert is never traded",
            market: range,
            signal_type: Alert,
            side: Some(Side::Buy),
            position: 0,
            age_secs: 5,
            want: Hold,
            severity: Severity::Info,
            confidence: (0.45, 0.55),
            rationale: "informational",
        },
        Case {
            name: "stale data",
            market: uptrend,
            signal_type: Entry,
            side: Some(Side::Buy),
            position: 0,
            age_secs: 301,
            want: Hold,
            severity: Severity::Critical,
            confidence: (0.0, 0.0),
            rationale: "market data is stale",
        },
        Case {
            name: "stale data still lets an exit close the position",
            market: range,
            signal_type: Exit,
            side: Some(Side::Sell),
            position: 1,
            age_secs: 900,
            want: Close,
            severity: Severity::Critical,
            confidence: (0.5, 0.5),
            rationale: "900 s ago (limit 300 s)",
        },
        Case {
            name: "warming up",
            market: || range()[..10].to_vec(),
            signal_type: Entry,
            side: Some(Side::Sell),
            position: 0,
            age_secs: 5,
            want: Sell,
            severity: Severity::Warning,
            confidence: (0.4, 0.4),
            rationale: "only 10 bars of history",
        },
        Case {
            name: "entry without a side",
            market: range,
            signal_type: Entry,
            side: None,
            position: 0,
            age_secs: 5,
            want: Hold,
            severity: Severity::Warning,
            confidence: (0.0, 0.0),
            rationale: "without a side",
        },
    ];
    for case in cases {
        let candles = (case.market)();
        let analyst = fed(&candles);
        let sig = signal("BTC-USDT", case.signal_type, case.side);
        let now = last_time(&candles).add_nanos(case.age_secs * SECOND);
        let out = analyst.analyse(&sig, Fixed::from_int(case.position), now);
        let name = case.name;
        assert_eq!(out.check(), Vec::new(), "{name}");
        assert_eq!(out.recommendation, case.want, "{name}: {}", out.rationale);
        assert_eq!(out.severity, case.severity, "{name}: {}", out.rationale);
        let (lo, hi) = case.confidence;
        assert!(
            (lo - 1e-9..=hi + 1e-9).contains(&out.confidence),
            "{name}: confidence {} ({})",
            out.confidence,
            out.rationale
        );
        assert!(
            out.rationale.contains(case.rationale),
            "{name}: {}",
            out.rationale
        );
        assert_eq!(out.agent, "rule");
        assert_eq!(
            out.id,
            MessageId::derived(IdKind::Decision, &format!("{}:rule", sig.id))
        );
        assert_eq!(out.signal_id, sig.id);
        assert_eq!(out.ts_event, now);
        assert!(
            out.features.contains_key("position") && out.features.contains_key("data_age_secs"),
            "{name}"
        );
    }
}

#[test]
fn features_name_the_values_used() {
    let candles = downtrend();
    let analyst = fed(&candles);
    let out = analyst.analyse(
        &signal("BTC-USDT", SignalType::Entry, Some(Side::Buy)),
        Fixed::ZERO,
        last_time(&candles),
    );
    for key in [
        "ema_fast",
        "ema_slow",
        "trend_score",
        "rsi",
        "atr",
        "adx",
        "plus_di",
        "minus_di",
        "realized_vol",
        "vol_ratio",
        "drift_t",
        "regime_probability",
        "regime",
        "close",
        "bars",
    ] {
        assert!(
            out.features.contains_key(key),
            "{key} missing: {:?}",
            out.features
        );
    }
    assert!((out.features["regime"] - f64::from(Regime::TrendDown.code())).abs() < 1e-12);
    let snapshot = analyst.snapshot(&id("BTC-USDT")).unwrap();
    assert!((out.features["rsi"] - snapshot.rsi.unwrap()).abs() < 1e-12);
}

#[test]
fn no_data_and_jumps_are_critical() {
    let analyst = RuleAnalyst::new(AnalystConfig::default()).unwrap();
    let out = analyst.analyse(
        &signal("ETH-USDT", SignalType::Entry, Some(Side::Buy)),
        Fixed::ZERO,
        start(),
    );
    assert_eq!(
        (out.recommendation, out.severity),
        (Recommendation::Hold, Severity::Critical)
    );
    assert!(
        out.rationale.contains("no market data"),
        "{}",
        out.rationale
    );
    assert_eq!(out.check(), Vec::new());

    let mut candles = range();
    let mut jump = candles.last().unwrap().clone();
    jump.ts_open = jump.ts_event;
    jump.ts_event = jump.ts_event.add_nanos(MINUTE);
    jump.high = price(jump.close.value().to_f64() * 1.2);
    jump.close = jump.high;
    candles.push(jump);
    let mut analyst = fed(&candles[..candles.len() - 1]);
    let findings = analyst.on_candle(candles.last().unwrap());
    assert_eq!(findings.len(), 1);
    let now = last_time(&candles);
    assert!(!analyst.tradable(&id("BTC-USDT"), now));
    let out = analyst.analyse(
        &signal("BTC-USDT", SignalType::Entry, Some(Side::Buy)),
        Fixed::ZERO,
        now,
    );
    assert_eq!(
        (out.recommendation, out.severity),
        (Recommendation::Hold, Severity::Critical)
    );
    assert!(out.rationale.contains("jumped"), "{}", out.rationale);

    // An exit still closes a position on bad data, flagged critical.
    let out = analyst.analyse(
        &signal("BTC-USDT", SignalType::Exit, Some(Side::Sell)),
        Fixed::from_int(1),
        now,
    );
    assert_eq!(
        (out.recommendation, out.severity),
        (Recommendation::Close, Severity::Critical)
    );
    assert!(out.rationale.contains("reducing risk"), "{}", out.rationale);
    assert_eq!(out.check(), Vec::new());
}

#[test]
fn rejected_candles_do_not_feed_the_indicators() {
    let candles = range();
    let mut analyst = fed(&candles);
    let before = analyst.snapshot(&id("BTC-USDT")).unwrap().clone();
    let dup = candles.last().unwrap().clone();
    assert_eq!(analyst.on_candle(&dup).len(), 1);
    assert_eq!(analyst.snapshot(&id("BTC-USDT")).unwrap(), &before);
}

#[test]
fn config_validation_lists_every_problem() {
    assert_eq!(AnalystConfig::default().validate(), Ok(()));
    let bad = AnalystConfig {
        ema_fast: 30,
        rsi_period: 0,
        rsi_oversold: 80.0,
        min_confidence: 2.0,
        regime: RegimeDetectorConfig {
            drift_t: -1.0,
            ..Default::default()
        },
        gates: GateConfig {
            max_age_secs: 0,
            ..Default::default()
        },
        ..AnalystConfig::default()
    };
    let err = RuleAnalyst::new(bad).unwrap_err();
    assert_eq!(err.problems.len(), 6, "{err}");
    assert!(err.to_string().contains("gates.max_age_secs"), "{err}");
    let parsed: AnalystConfig = serde_json::from_str(
        r#"{"ema_fast": 8, "regime": {"drift_t": 5.0}, "trend": {"strong_adx": 25.0}}"#,
    )
    .unwrap();
    assert_eq!((parsed.ema_fast, parsed.ema_slow), (8, 26));
    assert_eq!(
        (parsed.regime.drift_t, parsed.trend.strong_adx),
        (5.0, 25.0)
    );
    assert!(serde_json::from_str::<AnalystConfig>(r#"{"regime": {"adx_trend": 22}}"#).is_err());
    assert!(serde_json::from_str::<AnalystConfig>(r#"{"ema": 8}"#).is_err());
}

#[test]
fn same_candles_and_signal_give_the_same_output() {
    let candles = wild();
    let sig = signal("BTC-USDT", SignalType::Entry, Some(Side::Sell));
    let now = last_time(&candles);
    let a = fed(&candles).analyse(&sig, Fixed::from_int(-1), now);
    let b = fed(&candles).analyse(&sig, Fixed::from_int(-1), now);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

fn signal_type() -> impl Strategy<Value = SignalType> {
    prop_oneof![
        Just(SignalType::Entry),
        Just(SignalType::Exit),
        Just(SignalType::Reverse),
        Just(SignalType::Alert)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_output_passes_its_contract(
        segments in prop::collection::vec((1usize..80, -0.01f64..0.01, 0.0f64..0.02, 0.0f64..0.5), 0..5),
        kind in signal_type(),
        side in prop::option::of(prop_oneof![Just(Side::Buy), Just(Side::Sell)]),
        position in -1_000i64..1_000,
        age_secs in -60i64..1_000,
    ) {
        let candles = series("AAPL", &segments);
        let mut analyst = RuleAnalyst::new(AnalystConfig::default()).unwrap();
        for c in &candles {
            analyst.on_candle(c);
        }
        let now = candles.last().map_or(start(), |c| c.ts_event).add_nanos(age_secs * SECOND);
        let out = analyst.analyse(&signal("AAPL", kind, side), Fixed::from_int(position), now);
        prop_assert_eq!(out.check(), Vec::new(), "{:?}", out);
        let again = analyst.analyse(&signal("AAPL", kind, side), Fixed::from_int(position), now);
        prop_assert_eq!(&out, &again);
        if out.severity == Severity::Critical {
            // Bad data stops everything but closing a position.
            let closing = kind == SignalType::Exit && position != 0;
            let expected = if closing { Recommendation::Close } else { Recommendation::Hold };
            prop_assert_eq!(out.recommendation, expected);
        }
        if kind == SignalType::Alert {
            prop_assert_eq!(out.recommendation, Recommendation::Hold);
        }
        let _: &AgentOutputV1 = &out;
    }
}
