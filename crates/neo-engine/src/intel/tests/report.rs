//! The numbers in docs/STRATEGY.md, printed by ignored tests (run them in release):
//!
//! ```sh
//! cargo test --release -p neo-engine intel::tests::report -- --ignored --nocapture --test-threads 1
//! ```

#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use std::time::Instant;

use super::regime::GOAL_BARS;
use super::sim;
use crate::intel::likelihood::LogBar;
use crate::intel::{
    BarLikelihood, Ensemble, EnsembleConfig, RegimeDetector, RegimeDetectorConfig, RegimeScore,
};
use crate::market::{Regime, SimBar};

/// Seeds the numbers are reported on (never used for fitting).
const REPORT_SEEDS: [u64; 3] = [1, 2, 3];
/// Seeds the defaults were fitted on.
const FIT_SEEDS: [u64; 4] = [101, 102, 103, 104];
const BARS: u64 = 200_000;

fn score(config: &RegimeDetectorConfig, bars: &[SimBar]) -> RegimeScore {
    let mut d = RegimeDetector::new(config.clone()).unwrap();
    let mut s = RegimeScore::new();
    for x in bars {
        s.record(x.regime, d.update(&x.bar));
    }
    s
}

#[test]
#[ignore = "report: prints the regime detector's accuracy and delay"]
fn regime_detection() {
    let data: Vec<Vec<SimBar>> = REPORT_SEEDS.iter().map(|s| sim(*s, BARS)).collect();
    let base = RegimeDetectorConfig::for_sim_bars();
    let mut variants = vec![(
        "for_sim_bars (four_trades, tempering 1)".to_owned(),
        base.clone(),
    )];
    for kind in [
        BarLikelihood::Candle,
        BarLikelihood::OpenClose,
        BarLikelihood::CloseToClose,
    ] {
        let c = RegimeDetectorConfig {
            bar_likelihood: kind,
            ..base.clone()
        };
        variants.push((format!("{kind:?}"), c));
    }
    let c = RegimeDetectorConfig {
        range_reversion: 0.0,
        ..base.clone()
    };
    variants.push(("no range reversion".to_owned(), c));
    for t in [3.0, 6.0, 1e9] {
        let c = RegimeDetectorConfig {
            drift_t: t,
            ..base.clone()
        };
        variants.push((format!("drift_t {t}"), c));
    }
    for t in [1.5, 2.0, 3.0] {
        let c = RegimeDetectorConfig {
            tempering: t,
            ..base.clone()
        };
        variants.push((format!("tempering {t}"), c));
    }
    println!(
        "| detector | seed | bars | accuracy % | mean delay (bars) | switches | missed | detector switches |"
    );
    for (name, config) in &variants {
        let (mut acc, mut delay) = (0.0, 0.0);
        for (seed, bars) in REPORT_SEEDS.iter().zip(&data) {
            let s = score(config, bars).summary();
            let (a, d) = (s.accuracy_pct.unwrap(), s.mean_delay_bars.unwrap());
            acc += a;
            delay += d;
            println!(
                "| {name} | {seed} | {} | {a:.2} | {d:.2} | {} | {} | {} |",
                s.bars, s.switches, s.missed, s.detector_switches
            );
        }
        let k = data.len() as f64;
        println!(
            "| {name} | mean | | {:.2} | {:.2} | | | |",
            acc / k,
            delay / k
        );
    }
    let s = score(&base, &data[0]).summary();
    println!(
        "confusion (truth rows, detected columns; trend_up, trend_down, range, high_volatility), seed 1:"
    );
    for row in s.confusion {
        println!("{row:?}");
    }
    println!("goal-test seeds ({GOAL_BARS} bars):");
    for seed in [7, 11, 12] {
        let s = score(&base, &sim(seed, GOAL_BARS)).summary();
        println!(
            "seed {seed}: accuracy {:.2}% delay {:.2}",
            s.accuracy_pct.unwrap(),
            s.mean_delay_bars.unwrap()
        );
    }
}

#[test]
#[ignore = "report: prints the ensemble's and each model's Brier score and accuracy"]
fn forecasting() {
    let data: Vec<Vec<SimBar>> = REPORT_SEEDS.iter().map(|s| sim(*s, BARS)).collect();
    println!(
        "| horizon | margin | seed | Brier | accuracy % | coverage % | weight stability | models: name Brier acc% weight |"
    );
    for horizon in [1, 5, 10] {
        for margin in [0.0, 0.05] {
            for (seed, bars) in REPORT_SEEDS.iter().zip(&data) {
                let config = EnsembleConfig {
                    horizon_bars: horizon,
                    commit_margin: margin,
                    ..EnsembleConfig::for_sim_bars()
                };
                let mut e = Ensemble::new(config).unwrap();
                for x in bars {
                    e.on_bar(&x.bar);
                }
                let m = e.metrics();
                let models: Vec<String> = m
                    .models
                    .iter()
                    .map(|x| {
                        format!(
                            "{} {:.4} {:.1} {:.3}",
                            x.name,
                            x.brier.unwrap_or(f64::NAN),
                            x.accuracy_pct.unwrap_or(f64::NAN),
                            x.weight
                        )
                    })
                    .collect();
                println!(
                    "| {horizon} | {margin} | {seed} | {:.4} | {:.2} | {:.1} | {:.4} | {} |",
                    m.brier.unwrap(),
                    m.accuracy_pct.unwrap_or(f64::NAN),
                    m.coverage_pct.unwrap(),
                    m.weight_stability.unwrap(),
                    models.join("; ")
                );
            }
        }
    }
}

#[test]
#[ignore = "report: bars per second of the ensemble (with its detector) and of the detector"]
#[allow(clippy::disallowed_methods)] // a benchmark reads the wall clock on purpose
fn throughput() {
    let bars: Vec<_> = sim(1, 1_000_000).into_iter().map(|x| x.bar).collect();
    for round in 0..3 {
        let mut e = Ensemble::new(EnsembleConfig::for_sim_bars()).unwrap();
        let start = Instant::now();
        let mut issued = 0u64;
        for b in &bars {
            issued += u64::from(e.on_bar(b).is_some());
        }
        let secs = start.elapsed().as_secs_f64();
        let mut d = RegimeDetector::new(RegimeDetectorConfig::for_sim_bars()).unwrap();
        let start = Instant::now();
        let mut answered = 0u64;
        for b in &bars {
            answered += u64::from(d.update(b).is_some());
        }
        let dsecs = start.elapsed().as_secs_f64();
        let n = bars.len() as f64;
        println!(
            "round {round}: ensemble {:.0} bars/s ({issued} forecasts), detector alone {:.0} bars/s ({answered} verdicts)",
            n / secs,
            n / dsecs
        );
    }
}

#[test]
#[ignore = "report: refits the detector's defaults on the fitting seeds"]
fn fit_detector_parameters() {
    // Per regime: sums of returns, of per-bar variance estimates, bar counts; episode
    // lengths; switch counts.
    let (mut ret, mut var, mut n) = ([0.0; 4], [0.0; 4], [0.0; 4]);
    let (mut episodes, mut lengths) = ([0.0; 4], [0.0; 4]);
    let mut switches = [[0.0_f64; 4]; 4];
    for seed in FIT_SEEDS {
        let bars = sim(seed, BARS);
        let mut prev: Option<(f64, f64, Regime)> = None;
        let mut run = 0.0;
        let mut whole = false;
        // The trade noise, learned as the detector learns it (running mean, then a
        // 2000-bar half-life), so the volatilities are the efficient price's.
        let mut noise = 0.0_f64;
        let mut seen = 0.0_f64;
        for x in &bars {
            let [o, h, l, c] =
                [x.bar.open, x.bar.high, x.bar.low, x.bar.close].map(|p| p.value().to_f64().ln());
            let k = usize::from(x.regime.code());
            if let Some((prev_close, prev_body, prev_regime)) = prev {
                let bar = LogBar {
                    prev_close,
                    open: o,
                    high: h,
                    low: l,
                    close: c,
                };
                seen += 1.0;
                let rate = (1.0 / seen).max(1.0 - (-std::f64::consts::LN_2 / 2_000.0).exp());
                noise += rate * (bar.noise_estimate(prev_body) - noise);
                ret[k] += c - prev_close;
                var[k] += bar.variance_estimate(BarLikelihood::FourTrades, 0.0, noise.max(0.0));
                n[k] += 1.0;
                if prev_regime == x.regime {
                    run += 1.0;
                } else {
                    let j = usize::from(prev_regime.code());
                    switches[j][k] += 1.0;
                    // Whole episodes only (the first began before the data).
                    if whole {
                        episodes[j] += 1.0;
                        lengths[j] += run;
                    }
                    whole = true;
                    run = 1.0;
                }
            }
            prev = Some((c, c - o, x.regime));
        }
    }
    // The base is the ordinary regime's (trend_up's) volatility.
    let base = (var[0] / n[0]).sqrt();
    println!("base (trend_up) volatility per bar, trade noise removed: {base:.6}");
    for r in Regime::ALL {
        let k = usize::from(r.code());
        println!(
            "{r}: drift {:+.3} base vols/bar, volatility {:.3} x base, mean duration {:.1} bars ({} episodes)",
            ret[k] / n[k] / base,
            (var[k] / n[k]).sqrt() / base,
            lengths[k] / episodes[k],
            episodes[k]
        );
    }
    // Switch weights: P(i -> j) = w_j / sum_{l != i} w_l, fitted by fixed point.
    let mut w = [1.0_f64; 4];
    for _ in 0..500 {
        let total: f64 = w.iter().sum();
        let from: Vec<f64> = (0..4).map(|i| switches[i].iter().sum()).collect();
        let into: Vec<f64> = (0..4)
            .map(|j| (0..4).map(|i| switches[i][j]).sum())
            .collect();
        for j in 0..4 {
            let denom: f64 = (0..4)
                .filter(|i| *i != j)
                .map(|i| from[i] / (total - w[i]))
                .sum();
            w[j] = into[j] / denom;
        }
        let first = w[0];
        for x in &mut w {
            *x /= first;
        }
    }
    println!("switch weights (trend_up = 1): {w:.3?}");
}

/// The ceiling: a forward filter that knows every parameter of the simulator and
/// sees the exact (unrounded) mid at each of the four trades of every bar, which is
/// more than any bar-based detector sees. It tracks each possible start of the
/// current range (its level, up to 10 hours back), so the range's pull is exact too.
/// Its maximum-a-posteriori verdict at each bar's close maximises expected accuracy,
/// so no causal detector on these bars can beat it on average.
#[test]
#[ignore = "report: the accuracy and delay of an oracle forward filter (slow: ~1 min)"]
fn oracle_forward_filter() {
    use neo_domain::{InstrumentId, Timestamp};

    use crate::market::{InstrumentSpec, SimConfig, SimMarket};

    const STEP_SECS: f64 = 15.0;
    const RUNS: usize = 2_400;
    let id = InstrumentId::new("SIM-USD").unwrap();
    let spec = InstrumentSpec::preset_or_generic(id);
    let sigma = spec.volatility;
    let config = SimConfig {
        instruments: vec![spec],
        ..SimConfig::default()
    };
    let params = Regime::ALL.map(|r| config.regimes.get(r).clone());
    let m = STEP_SECS / 60.0;
    let stay = params
        .clone()
        .map(|p| (-STEP_SECS / p.mean_duration_secs).exp());
    // switch[i][j]: chance of moving from i to j in one step (i != j).
    let mut switch = [[0.0; 4]; 4];
    for i in 0..4 {
        let others: f64 = (0..4).filter(|j| *j != i).map(|j| params[j].weight).sum();
        for j in (0..4).filter(|j| *j != i) {
            switch[i][j] = (1.0 - stay[i]) * params[j].weight / others;
        }
    }
    let mean = params.clone().map(|p| p.drift * sigma * m);
    let var = params
        .clone()
        .map(|p| (p.vol_multiplier * sigma).powi(2) * m);
    let range = usize::from(Regime::Range.code());
    let pull = params[range].mean_reversion * m;
    let density = |d: f64, mu: f64, v: f64| (-(d - mu) * (d - mu) / (2.0 * v)).exp() / v.sqrt();
    for seed in REPORT_SEEDS {
        let start = Timestamp::from_nanos(1_704_067_200_000_000_000);
        let mut market = SimMarket::new(config.clone(), seed, start).unwrap();
        let mut now = start;
        // p[k] for the non-range regimes; runs[r] / levels[r]: a range that began r
        // steps ago (the last slot keeps everything older) and the level it reverts to.
        let mut p = [0.25; 4];
        p[range] = 0.0;
        let mut runs = vec![0.0; RUNS];
        let mut levels = vec![0.0; RUNS];
        runs[0] = 0.25;
        let mut prev: Option<f64> = None;
        let mut score = RegimeScore::new();
        for step in 0..BARS * 4 {
            now = now.add_nanos(15_000_000_000);
            market.step(now).unwrap();
            let x = market.mid(&id).unwrap().ln();
            if let Some(last) = prev {
                let in_range: f64 = runs.iter().sum();
                let mut next = [0.0; 4];
                let mut fresh = 0.0;
                for i in (0..4).filter(|i| *i != range) {
                    next[i] += p[i] * stay[i];
                    for j in (0..4).filter(|j| *j != i && *j != range) {
                        next[j] += p[i] * switch[i][j];
                    }
                    fresh += p[i] * switch[i][range];
                }
                for j in (0..4).filter(|j| *j != range) {
                    next[j] += in_range * switch[range][j];
                }
                let oldest = runs[RUNS - 1];
                runs.copy_within(0..RUNS - 1, 1);
                levels.copy_within(0..RUNS - 1, 1);
                runs[RUNS - 1] += oldest;
                runs[0] = fresh / stay[range];
                levels[0] = last;
                let d = x - last;
                let mut total = 0.0;
                for i in (0..4).filter(|i| *i != range) {
                    p[i] = next[i] * density(d, mean[i], var[i]);
                    total += p[i];
                }
                for (r, level) in runs.iter_mut().zip(&levels) {
                    *r *= stay[range] * density(d, -pull * (last - level), var[range]);
                    total += *r;
                }
                for q in p.iter_mut().chain(runs.iter_mut()) {
                    *q /= total;
                }
            }
            prev = Some(x);
            if step % 4 == 3 {
                let mut belief = p;
                belief[range] = runs.iter().sum();
                let mut best = 0;
                for k in 1..4 {
                    if belief[k] > belief[best] {
                        best = k;
                    }
                }
                let truth = market.true_regime(&id).unwrap();
                score.record(truth, Some(Regime::ALL[best]));
            }
        }
        let s = score.summary();
        println!(
            "oracle, seed {seed}, {BARS} bars: accuracy {:.2}%, mean delay {:.2} bars, missed {} of {} switches, {} detector switches",
            s.accuracy_pct.unwrap(),
            s.mean_delay_bars.unwrap(),
            s.missed,
            s.switches,
            s.detector_switches
        );
    }
}
