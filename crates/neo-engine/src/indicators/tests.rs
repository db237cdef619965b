//! Hand-computed values, parameter checks and properties of the indicators. Agreement
//! with TA-Lib over long series is in `tests/talib.rs`.

use proptest::prelude::*;

use super::*;

fn close_to(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

fn assert_series(got: &[Option<f64>], want: &[Option<f64>]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (None, None) => {}
            (Some(g), Some(w)) => assert!(close_to(*g, *w, 1e-12), "[{i}] got {g}, want {w}"),
            _ => panic!("[{i}] got {g:?}, want {w:?}"),
        }
    }
}

/// Sample standard deviation, two passes: the textbook definition.
fn sample_std(xs: &[f64]) -> f64 {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    (ss / (xs.len() - 1) as f64).sqrt()
}

/// Population standard deviation, two passes.
fn population_std(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    sample_std(xs) * ((n - 1.0) / n).sqrt()
}

#[test]
fn refuses_parameters_outside_talibs_ranges() {
    let period = |r: Result<(), IndicatorError>| match r {
        Err(IndicatorError::Period { min, value, .. }) => (min, value),
        other => panic!("{other:?}"),
    };
    assert_eq!(period(Sma::new(0).map(drop)), (1, 0));
    assert_eq!(
        period(Ema::new(MAX_PERIOD + 1).map(drop)),
        (1, MAX_PERIOD + 1)
    );
    assert_eq!(period(Rsi::new(1).map(drop)), (2, 1));
    assert_eq!(period(StdDev::new(1).map(drop)), (2, 1));
    assert_eq!(period(Adx::new(1).map(drop)), (2, 1));
    assert_eq!(period(Macd::new(1, 26, 9).map(drop)), (2, 1));
    assert_eq!(period(Macd::new(12, 26, 0).map(drop)), (1, 0));
    assert_eq!(
        Macd::new(26, 26, 9).map(drop),
        Err(IndicatorError::MacdOrder { fast: 26, slow: 26 })
    );
    assert!(matches!(
        BollingerBands::new(20, f64::NAN),
        Err(IndicatorError::Multiplier { .. })
    ));
    assert!(RealizedVolatility::annualized(20, 0.0).is_err());
    assert_eq!(
        Sma::new(0).map(drop).unwrap_err().to_string(),
        "period must be between 1 and 100000, got 0"
    );
}

#[test]
fn averages_by_hand() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_series(
        &Sma::new(2).unwrap().batch(&x),
        &[None, Some(1.5), Some(2.5), Some(3.5), Some(4.5)],
    );
    // Seed: mean(1,2,3) = 2; then k = 0.5.
    assert_series(
        &Ema::new(3).unwrap().batch(&x),
        &[None, None, Some(2.0), Some(3.0), Some(4.0)],
    );
    assert_series(
        &Wma::new(3).unwrap().batch(&x),
        &[
            None,
            None,
            Some(14.0 / 6.0),
            Some(20.0 / 6.0),
            Some(26.0 / 6.0),
        ],
    );
}

#[test]
fn momentum_by_hand() {
    // Changes +1, -2, +3: first RSI(2) = 100 * 0.5 / (0.5 + 1); then Wilder smoothing.
    let x = [10.0, 11.0, 9.0, 12.0];
    let gain = (0.5 + 3.0) / 2.0;
    let loss = 1.0 / 2.0;
    assert_series(
        &Rsi::new(2).unwrap().batch(&x),
        &[
            None,
            None,
            Some(100.0 / 3.0),
            Some(100.0 * gain / (gain + loss)),
        ],
    );
    assert_series(
        &Rsi::new(2).unwrap().batch(&[5.0, 5.0, 5.0]),
        &[None, None, Some(0.0)],
    );
    assert_series(
        &Roc::new(2).unwrap().batch(&[0.0, 10.0, 5.0, 20.0]),
        &[None, None, Some(0.0), Some(100.0)],
    );
}

#[test]
fn ranges_by_hand() {
    let bars = [
        Bar::new(10.0, 8.0, 9.0),
        Bar::new(12.0, 11.0, 11.5), // gap up: |12 - 9| = 3
        Bar::new(11.0, 7.0, 8.0),   // gap down: |7 - 11.5| = 4.5 > range 4
        Bar::new(9.0, 8.5, 9.0),    // range 0.5 < |9 - 8| = 1
    ];
    assert_series(
        &TrueRange::new().batch(&bars),
        &[None, Some(3.0), Some(4.5), Some(1.0)],
    );
    // First ATR(2): mean(3, 4.5); then Wilder: (3.75 * 1 + 1) / 2.
    assert_series(
        &Atr::new(2).unwrap().batch(&bars),
        &[None, None, Some(3.75), Some(2.375)],
    );
}

#[test]
fn adx_warmup_and_zero_guards() {
    // Flat prices: no range, so both DIs read 0 and the ADX (no DX ever) stays 0.
    let flat = vec![Bar::new(5.0, 5.0, 5.0); 10];
    let mut adx = Adx::new(3).unwrap();
    let out = adx.batch(&flat);
    assert!(out[..3].iter().all(Option::is_none));
    let first = out[3].unwrap();
    assert_eq!(first.adx, None);
    assert!(first.plus_di.abs() < 1e-15 && first.minus_di.abs() < 1e-15);
    assert!(out[4].unwrap().adx.is_none());
    assert!(out[5].unwrap().adx.is_some_and(|v| v.abs() < 1e-15));
    assert_eq!(adx.adx_warmup(), 5);
    // A steady rise: all movement is up, so +DI > 0, -DI = 0 and DX = 100.
    let rise: Vec<Bar> = (0..10)
        .map(|i| Bar::new(i as f64 + 1.0, i as f64, i as f64 + 0.5))
        .collect();
    let last = Adx::new(3).unwrap().batch(&rise)[9].unwrap();
    assert!(last.plus_di > 0.0 && last.minus_di.abs() < 1e-15);
    assert!(last.adx.is_some_and(|v| close_to(v, 100.0, 1e-12)));
}

#[test]
fn macd_outputs_nothing_until_the_signal_is_seeded() {
    let x: Vec<f64> = (0..40).map(|i| 100.0 + (i as f64 * 0.7).sin()).collect();
    let mut macd = Macd::new(12, 26, 9).unwrap();
    let out = macd.batch(&x);
    assert_eq!(macd.warmup(), 33);
    assert!(out[..33].iter().all(Option::is_none));
    let o = out[33].unwrap();
    assert!(close_to(o.histogram, o.macd - o.signal, 1e-15));
    // The fast EMA is seeded over x[14..26], not x[0..12].
    let fast = Ema::new(12).unwrap().batch(&x[14..26])[11].unwrap();
    let slow = Ema::new(26).unwrap().batch(&x[..26])[25].unwrap();
    let first_line = Macd::new(12, 26, 1).unwrap().batch(&x[..26])[25]
        .unwrap()
        .macd;
    assert!(close_to(first_line, fast - slow, 1e-15));
}

#[test]
fn deviation_is_exact_far_from_zero_and_zero_on_a_flat_window() {
    let x: Vec<f64> = (0..200)
        .map(|i| 1e6 + [0.0, 0.1, 0.2, 0.05][i % 4])
        .collect();
    let got = StdDev::new(5).unwrap().batch(&x);
    for i in 4..x.len() {
        let want = population_std(&x[i - 4..=i]);
        assert!(close_to(got[i].unwrap(), want, 1e-9), "[{i}]");
    }
    let mut flat = x.clone();
    flat.extend([42.0; 10]);
    let last = StdDev::new(5).unwrap().batch(&flat)[flat.len() - 1];
    assert_eq!(last.map(f64::to_bits), Some(0.0_f64.to_bits()));
    // The middle band is a running sum (as in TA-Lib), so it carries rounding from the
    // 1e6 values that left the window; the width is exactly 0.
    let bands = BollingerBands::new(5, 2.0).unwrap().batch(&flat)[flat.len() - 1].unwrap();
    assert!(close_to(bands.middle, 42.0, 1e-9));
    assert_eq!(bands.upper.to_bits(), bands.middle.to_bits());
    assert_eq!(bands.lower.to_bits(), bands.middle.to_bits());
}

#[test]
fn realized_volatility_is_the_sample_deviation_of_log_returns() {
    let closes: Vec<f64> = (0..60)
        .map(|i| 100.0 * (1.0 + 0.02 * (i as f64).sin()))
        .collect();
    let returns: Vec<f64> = closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    let n = 10;
    let got = RealizedVolatility::new(n).unwrap().batch(&closes);
    let annual = RealizedVolatility::annualized(n, 252.0)
        .unwrap()
        .batch(&closes);
    assert!(got[..n].iter().all(Option::is_none));
    for t in n..closes.len() {
        let want = sample_std(&returns[t - n..t]);
        assert!(close_to(got[t].unwrap(), want, 1e-12), "[{t}]");
        assert!(close_to(annual[t].unwrap(), want * 252.0_f64.sqrt(), 1e-12));
    }
}

#[test]
fn reset_forgets_everything() {
    let x: Vec<f64> = (0..50)
        .map(|i| (i as f64 * 1.3).cos() * 10.0 + 50.0)
        .collect();
    let mut macd = Macd::new(3, 7, 4).unwrap();
    let fresh = macd.batch(&x);
    macd.reset();
    assert_eq!(macd.batch(&x), fresh);
    let mut std = StdDev::new(4).unwrap();
    let fresh = std.batch(&x);
    std.reset();
    assert_eq!(std.batch(&x), fresh);
}

fn prices() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(0.01_f64..1e6, 0..120)
}

fn bars() -> impl Strategy<Value = Vec<Bar>> {
    proptest::collection::vec((0.01_f64..1e5, 0.0_f64..1e3, 0.0_f64..1.0), 0..120).prop_map(|v| {
        v.into_iter()
            .map(|(low, range, at)| Bar::new(low + range, low, low + range * at))
            .collect()
    })
}

/// Streaming (one update at a time), one batch, and two batches split at `split` all
/// agree exactly; a reset indicator repeats itself. Every value is finite.
fn consistent<I>(
    make: impl Fn() -> I,
    inputs: &[I::Input],
    split: usize,
    finite: fn(&I::Output) -> bool,
) where
    I: Indicator,
    I::Output: PartialEq + std::fmt::Debug,
{
    let whole = make().batch(inputs);
    let mut streaming = make();
    let one_by_one: Vec<_> = inputs.iter().map(|&x| streaming.update(x)).collect();
    assert_eq!(one_by_one, whole);
    let split = split.min(inputs.len());
    let mut halves = make();
    let mut joined = halves.batch(&inputs[..split]);
    joined.extend(halves.batch(&inputs[split..]));
    assert_eq!(joined, whole);
    halves.reset();
    assert_eq!(halves.batch(inputs), whole);
    let first = whole.iter().position(Option::is_some);
    if let Some(first) = first {
        assert_eq!(first, make().warmup());
        assert!(
            whole[first..]
                .iter()
                .all(|o| o.as_ref().is_some_and(finite)),
            "{whole:?}"
        );
    } else {
        assert!(inputs.len() <= make().warmup());
    }
}

fn finite(v: &f64) -> bool {
    v.is_finite()
}

proptest! {
    #[test]
    fn price_indicators_stream_like_batch(x in prices(), split in 0usize..120, n in 2usize..30) {
        consistent(|| Sma::new(n).unwrap(), &x, split, finite);
        consistent(|| Ema::new(n).unwrap(), &x, split, finite);
        consistent(|| Wma::new(n).unwrap(), &x, split, finite);
        consistent(|| Rsi::new(n).unwrap(), &x, split, finite);
        consistent(|| Roc::new(n).unwrap(), &x, split, finite);
        consistent(|| StdDev::new(n).unwrap(), &x, split, finite);
        consistent(|| RealizedVolatility::new(n).unwrap(), &x, split, finite);
        consistent(|| Macd::new(n, n + 3, n / 2 + 1).unwrap(), &x, split, |o| {
            o.macd.is_finite() && o.signal.is_finite() && o.histogram.is_finite()
        });
        consistent(|| BollingerBands::new(n, 2.0).unwrap(), &x, split, |o| {
            o.upper.is_finite() && o.lower <= o.middle && o.middle <= o.upper
        });
    }

    #[test]
    fn bar_indicators_stream_like_batch(b in bars(), split in 0usize..120, n in 2usize..30) {
        consistent(TrueRange::new, &b, split, |v| v.is_finite() && *v >= 0.0);
        consistent(|| Atr::new(n).unwrap(), &b, split, |v| v.is_finite() && *v >= 0.0);
        consistent(|| Adx::new(n).unwrap(), &b, split, |o| {
            let pct = |v: f64| (0.0..=100.0 + 1e-9).contains(&v);
            pct(o.plus_di) && pct(o.minus_di) && o.adx.is_none_or(pct)
        });
    }

    #[test]
    fn sma_equals_a_naive_mean(x in prices(), n in 1usize..30) {
        let got = Sma::new(n).unwrap().batch(&x);
        for (i, g) in got.iter().enumerate() {
            if i + 1 < n {
                prop_assert!(g.is_none());
            } else {
                let want = x[i + 1 - n..=i].iter().sum::<f64>() / n as f64;
                prop_assert!(close_to(g.unwrap(), want, 1e-9), "[{}] {:?} vs {}", i, g, want);
            }
        }
    }

    #[test]
    fn stddev_equals_a_two_pass_deviation(x in prices(), n in 2usize..30) {
        let got = StdDev::new(n).unwrap().batch(&x);
        for i in n - 1..x.len() {
            let want = population_std(&x[i + 1 - n..=i]);
            let g = got[i].unwrap();
            prop_assert!((g - want).abs() <= 1e-9 * x[i + 1 - n..=i].iter().fold(1.0, |m, v| v.abs().max(m)));
        }
    }

    #[test]
    fn update_never_panics_on_any_finite_input(
        x in proptest::collection::vec(any::<f64>().prop_filter("finite", |v| v.is_finite()), 0..80),
    ) {
        let bars: Vec<Bar> = x.windows(3).map(|w| Bar::new(w[0], w[1], w[2])).collect();
        for n in [2, 3, 7] {
            Sma::new(n).unwrap().batch(&x);
            Ema::new(n).unwrap().batch(&x);
            Wma::new(n).unwrap().batch(&x);
            Rsi::new(n).unwrap().batch(&x);
            Roc::new(n).unwrap().batch(&x);
            StdDev::new(n).unwrap().batch(&x);
            RealizedVolatility::new(n).unwrap().batch(&x);
            BollingerBands::new(n, 2.0).unwrap().batch(&x);
            Macd::new(n, n + 1, n).unwrap().batch(&x);
            Atr::new(n).unwrap().batch(&bars);
            Adx::new(n).unwrap().batch(&bars);
            TrueRange::new().batch(&bars);
        }
    }
}
