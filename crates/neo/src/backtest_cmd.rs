//! `neo backtest`: a strategy over a data file or the simulated market, through
//! the core's backtest driver (the live risk engine, paper OMS and portfolio).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use neo_domain::{Fixed, InstrumentId, Money, Price, Quantity, Rounding};
use neo_engine::backtest::{
    AverageKind, Backtest, BacktestConfig, BacktestError, Cross, DEFAULT_MIN_EDGE,
    EnsembleBacktest, EnsembleReport, Outcome, Sizing, Strategy, Summary, Trade,
};
use neo_engine::desk::InstrumentSteps;
use neo_engine::history::{Bar, Gates, infer_interval, interval_name, validate};
use neo_engine::intel::EnsembleConfig;
use neo_engine::market::InstrumentSpec;
use neo_engine::market::{Ohlcv, Regime, SimBars, SimBarsConfig};
use serde_json::{Value, json};

use crate::backtest_report;

/// Bars generated per batch of a simulated run (generation is not timed).
const SIM_CHUNK: usize = 65_536;

/// `neo backtest` arguments.
#[derive(Debug, Args)]
pub(crate) struct BacktestArgs {
    /// OHLCV file (CSV or Parquet), or `sim:seed=N,bars=M[,interval=1m][,instrument=X]`.
    #[arg(long)]
    data: String,
    /// `sma-cross`, `ema-cross` or `ensemble`.
    #[arg(long)]
    strategy: String,
    /// Strategy parameter `key=value` (repeatable): crosses take `fast` and `slow`
    /// (10, 20) and `size` (below 1 a fraction of the cash, else whole units; all the
    /// cash by default); the ensemble takes `min_edge` (0.05), `lot_step` and `price_step`.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Starting cash.
    #[arg(long, default_value = "10000")]
    cash: String,
    /// Fee per fill as a fraction of traded value, charged at entry and at exit.
    #[arg(long, default_value = "0")]
    commission: String,
    /// Spread as a fraction of the price: the entry pays it (a buy above the open,
    /// a sell below it); the exit fills at the open.
    #[arg(long, default_value = "0")]
    spread: String,
    /// Instrument the file's bars are of (sim data names its own).
    #[arg(long, default_value = "DATA")]
    instrument: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Write the closed trades as CSV.
    #[arg(long, value_name = "FILE")]
    trades: Option<PathBuf>,
    /// Write an HTML report with the equity curve and drawdown.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// The bars to run over.
enum Source {
    File(Vec<Ohlcv>),
    Sim(SimBarsConfig),
}

/// A decimal option as an exact number.
fn fixed(name: &str, text: &str) -> Result<Fixed> {
    text.trim()
        .parse::<Fixed>()
        .map_err(|e| anyhow!("--{name} {text:?}: {e}"))
}

/// `key=value` pairs; a key given twice is refused.
fn params(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for p in raw {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("--param {p:?}: expected key=value"))?;
        if out
            .insert(k.trim().to_owned(), v.trim().to_owned())
            .is_some()
        {
            bail!("--param {k} given twice");
        }
    }
    Ok(out)
}

/// The shortest name of a bar length (`1d`, `4h`, `15m`, `30s`).
/// `sim:seed=N,bars=M[,interval=..][,instrument=..]`.
fn sim_spec(spec: &str) -> Result<SimBarsConfig> {
    let mut seed = None;
    let mut bars = None;
    let mut interval = None;
    let mut instrument = InstrumentId::new("SIM-USD").map_err(|e| anyhow!("{e}"))?;
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| anyhow!("sim:{spec}: {part:?} is not key=value"))?;
        let v = v.trim();
        match k.trim() {
            "seed" => {
                seed = Some(
                    v.parse::<u64>()
                        .context("sim seed: expected a whole number")?,
                )
            }
            "bars" => {
                bars = Some(
                    v.replace('_', "")
                        .parse::<u64>()
                        .context("sim bars: expected a whole number")?,
                );
            }
            "interval" => interval = Some(v.to_owned()),
            "instrument" => {
                instrument = InstrumentId::new(v).map_err(|e| anyhow!("sim instrument: {e}"))?
            }
            other => {
                bail!("sim:{spec}: unknown key {other:?} (takes seed, bars, interval, instrument)")
            }
        }
    }
    let (Some(seed), Some(bars)) = (seed, bars) else {
        bail!("sim:{spec}: seed and bars are required, e.g. sim:seed=7,bars=100000");
    };
    let mut config = SimBarsConfig::new(seed, bars, instrument);
    if let Some(interval) = interval {
        config.interval = interval;
    }
    Ok(config)
}

/// Exact bars from a file's rows; the gates that fail stop the run.
fn file_bars(path: &Path) -> Result<(Vec<Ohlcv>, String)> {
    let loaded = neo_parquet::read_ohlcv_file(path)?;
    if let Some(first) = loaded.unreadable.first() {
        bail!(
            "{}: {} row(s) cannot be read, e.g. {first}; run `neo data validate {}`",
            path.display(),
            loaded.unreadable.len(),
            path.display()
        );
    }
    let report = validate(&loaded.bars, &Gates::default());
    if !report.passed {
        let first = report
            .findings
            .iter()
            .find(|f| f.kind.fails())
            .map(|f| format!("line {}: {}", f.line, f.detail))
            .unwrap_or_default();
        bail!(
            "{} fails the data gates ({first}); run `neo data validate {}` for every finding",
            path.display(),
            path.display()
        );
    }
    let step = infer_interval(&loaded.bars)
        .ok_or_else(|| anyhow!("{}: fewer than two bars", path.display()))?;
    let bars = loaded
        .bars
        .iter()
        .map(|b| exact(b, step))
        .collect::<Result<Vec<_>>>()?;
    Ok((bars, interval_name(step)))
}

fn exact(bar: &Bar, step: i64) -> Result<Ohlcv> {
    let price = |x: f64| -> Result<Price> {
        let v = Fixed::from_f64(x, Rounding::HalfEven)
            .map_err(|e| anyhow!("line {}: {e}", bar.line))?;
        Price::new(v).map_err(|e| anyhow!("line {}: {e}", bar.line))
    };
    let volume = Fixed::from_f64(bar.volume, Rounding::HalfEven)
        .map_err(|e| anyhow!("line {}: {e}", bar.line))?;
    Ok(Ohlcv {
        ts_open: bar.ts,
        ts_close: bar.ts.add_nanos(step),
        open: price(bar.open)?,
        high: price(bar.high)?,
        low: price(bar.low)?,
        close: price(bar.close)?,
        volume: Quantity::new(volume).map_err(|e| anyhow!("line {}: {e}", bar.line))?,
    })
}

/// Wall-clock seconds of the engine loop only.
struct Timer {
    spent: std::time::Duration,
}

impl Timer {
    fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        #[allow(
            clippy::disallowed_methods,
            reason = "measures the loop's own throughput"
        )]
        let start = std::time::Instant::now();
        let out = f();
        self.spent += start.elapsed();
        out
    }
}

/// Feeds every bar of the source to `step`, timing only the stepping; a simulated
/// source that ends early is an error, not a shorter run.
fn feed(
    source: &Source,
    timer: &mut Timer,
    mut step: impl FnMut(&Ohlcv, Option<Regime>) -> Result<(), BacktestError>,
) -> Result<()> {
    match source {
        Source::File(bars) => timer.time(|| bars.iter().try_for_each(|b| step(b, None)))?,
        Source::Sim(sim) => {
            let mut stream = SimBars::new(sim).map_err(|e| anyhow!("{e}"))?;
            let mut chunk = Vec::with_capacity(SIM_CHUNK);
            let mut seen = 0u64;
            loop {
                chunk.clear();
                chunk.extend(stream.by_ref().take(SIM_CHUNK));
                if chunk.is_empty() {
                    break;
                }
                seen += chunk.len() as u64;
                timer.time(|| chunk.iter().try_for_each(|b| step(&b.bar, Some(b.regime))))?;
            }
            if seen != sim.bars {
                bail!(
                    "the simulated market stopped after {seen} of {} bars",
                    sim.bars
                );
            }
        }
    }
    Ok(())
}

/// Runs one strategy over the source; returns the outcome and the loop's seconds.
fn drive<S: Strategy>(
    config: BacktestConfig,
    strategy: S,
    source: &Source,
) -> Result<(Outcome, f64)> {
    let mut bt = Backtest::new(config, strategy)?;
    let mut timer = Timer {
        spent: std::time::Duration::ZERO,
    };
    feed(source, &mut timer, |bar, _| bt.step(bar))?;
    let outcome = timer.time(|| bt.finish())?;
    Ok((outcome, timer.spent.as_secs_f64()))
}

/// The ensemble's parameters: how confident a signal must be and the order increments.
fn ensemble_params(
    params: &BTreeMap<String, String>,
    instrument: InstrumentId,
) -> Result<(f64, InstrumentSteps)> {
    let spec = InstrumentSpec::preset_or_generic(instrument);
    let mut steps = InstrumentSteps {
        price_step: spec.price_step,
        lot_step: spec.lot_step,
    };
    let mut min_edge = DEFAULT_MIN_EDGE;
    for (key, value) in params {
        let bad = |problem: &str| anyhow!("--param {key}={value}: {problem}");
        match key.as_str() {
            "min_edge" => {
                min_edge = value
                    .parse()
                    .map_err(|_| bad("expected a number such as 0.05"))?;
            }
            "lot_step" => {
                steps.lot_step = Quantity::new(fixed("param lot_step", value)?)
                    .ok()
                    .filter(|q| q.value().is_positive())
                    .ok_or_else(|| bad("expected a positive number"))?;
            }
            "price_step" => {
                steps.price_step = Price::new(fixed("param price_step", value)?)
                    .ok()
                    .filter(|p| p.value().is_positive())
                    .ok_or_else(|| bad("expected a positive number"))?;
            }
            other => bail!(
                "strategy ensemble has no parameter {other:?} (it takes: min_edge, lot_step, price_step)"
            ),
        }
    }
    Ok((min_edge, steps))
}

/// Runs the ensemble through the desk; simulated data also scores regime detection.
fn drive_ensemble(
    config: BacktestConfig,
    params: &BTreeMap<String, String>,
    source: &Source,
) -> Result<(Outcome, EnsembleReport, f64)> {
    let (min_edge, steps) = ensemble_params(params, config.instrument)?;
    let ensemble = match source {
        Source::Sim(_) => EnsembleConfig::for_sim_bars(),
        Source::File(_) => EnsembleConfig::default(),
    };
    let mut bt = EnsembleBacktest::new(config, ensemble, steps, min_edge)?;
    let mut timer = Timer {
        spent: std::time::Duration::ZERO,
    };
    feed(source, &mut timer, |bar, regime| bt.step(bar, regime))?;
    let (outcome, report) = timer.time(|| bt.finish())?;
    Ok((outcome, report, timer.spent.as_secs_f64()))
}

/// The ensemble's flat figures: the forecasts, the desk's per-feature figures
/// and the regime detector's score; one list for `--json` and the HTML report.
pub(crate) fn ensemble_figures(report: &EnsembleReport) -> serde_json::Map<String, Value> {
    let (e, d) = (&report.ensemble, &report.desk);
    let mut map = serde_json::Map::new();
    let mut put = |key: &str, value: Value| map.insert(key.to_owned(), value);
    put("signals", json!(report.signals));
    put("brier", json!(e.brier));
    put("forecast_accuracy_pct", json!(e.accuracy_pct));
    put("weight_stability", json!(e.weight_stability));
    put("calibration_ece", json!(d.calibration_ece));
    put("calibration_outcomes", json!(d.calibration_outcomes));
    put("kelly_scale_min", json!(d.kelly_scale_min));
    put("desk_max_drawdown", json!(d.max_drawdown));
    put("bracket_success_rate", json!(d.bracket_success_rate));
    put("bracket_exits", json!(d.bracket_exits));
    put("r_multiple_mean", json!(d.r_multiple_mean));
    put("r_multiple_std", json!(d.r_multiple_std));
    put("atr_accuracy", json!(d.atr_accuracy));
    put("atr_checks", json!(d.atr_checks));
    if let Some(regime) = &report.regime {
        put(
            "regime_accuracy",
            json!(regime.accuracy_pct.map(|p| p / 100.0)),
        );
        put("regime_accuracy_pct", json!(regime.accuracy_pct));
        put("regime_delay_bars", json!(regime.mean_delay_bars));
    }
    map
}

/// The ensemble's figures flat, then its detail objects.
fn add_ensemble(map: &mut serde_json::Map<String, Value>, report: &EnsembleReport) -> Result<()> {
    map.extend(ensemble_figures(report));
    map.insert("refusals".into(), json!(report.refusals));
    map.insert("ensemble".into(), serde_json::to_value(&report.ensemble)?);
    map.insert("desk".into(), serde_json::to_value(&report.desk)?);
    if let Some(regime) = &report.regime {
        map.insert("regime".into(), serde_json::to_value(regime)?);
    }
    Ok(())
}

fn ensemble_table(report: &EnsembleReport) -> String {
    let e = &report.ensemble;
    let opt = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
    };
    let mut out = String::new();
    let refusals: Vec<String> = report
        .refusals
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let refusals = if refusals.is_empty() {
        "none".to_owned()
    } else {
        refusals.join(", ")
    };
    let rows = [
        ("signals", report.signals.to_string()),
        ("refusals", refusals),
        ("forecast Brier", opt(e.brier, 4)),
        ("forecast accuracy", format!("{}%", opt(e.accuracy_pct, 2))),
        ("weight stability", opt(e.weight_stability, 4)),
    ];
    let d = &report.desk;
    let desk_rows = [
        (
            "calibration ECE",
            format!(
                "{} ({} outcomes)",
                opt(d.calibration_ece, 4),
                d.calibration_outcomes
            ),
        ),
        ("Kelly scale (min)", format!("{:.4}", d.kelly_scale_min)),
        (
            "bracket success",
            format!(
                "{} of {} exits",
                opt(d.bracket_success_rate, 4),
                d.bracket_exits
            ),
        ),
        (
            "R-multiple",
            format!(
                "mean {}, std {}",
                opt(d.r_multiple_mean, 3),
                opt(d.r_multiple_std, 3)
            ),
        ),
        (
            "ATR accuracy",
            format!("{} of {} bars", opt(d.atr_accuracy, 4), d.atr_checks),
        ),
    ];
    let rows = rows.into_iter().chain(desk_rows);
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<20} {value}");
    }
    for m in &e.models {
        let _ = writeln!(
            out,
            "    {:<18} weight {:.3}, Brier {}, accuracy {}%",
            m.name,
            m.weight,
            opt(m.brier, 4),
            opt(m.accuracy_pct, 2)
        );
    }
    if let Some(r) = &report.regime {
        let _ = writeln!(
            out,
            "  {:<20} {}%",
            "regime accuracy",
            opt(r.accuracy_pct, 2)
        );
        let _ = writeln!(
            out,
            "  {:<20} {} bars",
            "regime delay",
            opt(r.mean_delay_bars, 2)
        );
    }
    out
}

/// `neo backtest`.
pub(crate) fn run(args: &BacktestArgs) -> Result<ExitCode> {
    let mut params = params(&args.params)?;
    let size = match params.remove("size") {
        Some(_) if args.strategy == "ensemble" => {
            bail!(
                "strategy ensemble has no parameter \"size\": calibration and Kelly size its trades"
            )
        }
        Some(text) => Sizing::parse(&text).map_err(|e| anyhow!("--param {e}"))?,
        None => Sizing::AllCash,
    };
    let cash = Money::new(fixed("cash", &args.cash)?).map_err(|e| anyhow!("--cash: {e}"))?;
    let (source, instrument, interval) = if let Some(spec) = args.data.strip_prefix("sim:") {
        let sim = sim_spec(spec)?;
        let (instrument, interval) = (sim.instrument, sim.interval.clone());
        (Source::Sim(sim), instrument, interval)
    } else {
        let path = Path::new(&args.data);
        let (bars, interval) = file_bars(path)?;
        let instrument =
            InstrumentId::new(&args.instrument).map_err(|e| anyhow!("--instrument: {e}"))?;
        (Source::File(bars), instrument, interval)
    };
    let config = BacktestConfig {
        instrument,
        interval,
        currency: "USD".to_owned(),
        cash,
        commission: fixed("commission", &args.commission)?,
        spread: fixed("spread", &args.spread)?,
        size,
    };
    let (outcome, extra, seconds) = match args.strategy.as_str() {
        "sma-cross" => {
            let strategy = Cross::from_params("sma-cross", AverageKind::Simple, &params)?;
            let (o, s) = drive(config, strategy, &source)?;
            (o, None, s)
        }
        "ema-cross" => {
            let strategy = Cross::from_params("ema-cross", AverageKind::Exponential, &params)?;
            let (o, s) = drive(config, strategy, &source)?;
            (o, None, s)
        }
        "ensemble" => {
            let (o, report, s) = drive_ensemble(config, &params, &source)?;
            (o, Some(report), s)
        }
        other => bail!("unknown strategy {other:?}: expected sma-cross, ema-cross or ensemble"),
    };
    if let Some(path) = &args.trades {
        std::fs::write(path, trades_csv(&outcome.trades))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.report {
        let title = format!("{} on {}", args.strategy, args.data);
        let decisions = extra.as_ref().map(ensemble_figures);
        std::fs::write(
            path,
            backtest_report::html(&title, &outcome, decisions.as_ref()),
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    let summary = &outcome.summary;
    #[allow(clippy::cast_precision_loss)]
    let per_second = if seconds > 0.0 {
        summary.bars as f64 / seconds
    } else {
        f64::NAN
    };
    if args.json {
        let mut object = serde_json::to_value(summary)?;
        if let Value::Object(map) = &mut object {
            map.insert("strategy".into(), json!(args.strategy));
            map.insert("params".into(), json!(params));
            map.insert("data".into(), json!(args.data));
            map.insert("elapsed_s".into(), json!(seconds));
            map.insert("bars_per_s".into(), json!(per_second.round()));
            if let Some(report) = &extra {
                add_ensemble(map, report)?;
            }
        }
        println!("{object}");
    } else {
        print!(
            "{}",
            table(&args.strategy, &args.data, summary, seconds, per_second)
        );
        if let Some(report) = &extra {
            print!("{}", ensemble_table(report));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A figure with two decimals and a unit, or `n/a` when it is undefined (no losing
/// trade for the profit factor, too short a run for the ratios).
fn figure(value: f64, unit: &str) -> String {
    if value.is_finite() {
        format!("{value:.2}{unit}")
    } else {
        "n/a".to_owned()
    }
}

fn table(strategy: &str, data: &str, s: &Summary, seconds: f64, per_second: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{strategy} on {data}");
    let rows: [(&str, String); 16] = [
        ("bars", s.bars.to_string()),
        ("final equity", s.final_equity.clone()),
        ("return", figure(s.return_pct, "%")),
        ("buy & hold return", figure(s.buy_hold_return_pct, "%")),
        ("CAGR", figure(s.cagr_pct, "%")),
        ("Sharpe", figure(s.sharpe, "")),
        ("Sortino", figure(s.sortino, "")),
        ("max drawdown", figure(s.max_drawdown_pct, "%")),
        ("trades", s.trades.to_string()),
        ("win rate", figure(s.win_rate_pct, "%")),
        ("profit factor", figure(s.profit_factor, "")),
        ("exposure", figure(s.exposure_pct, "%")),
        (
            "best / worst trade",
            format!(
                "{} / {}",
                figure(s.best_trade_pct, "%"),
                figure(s.worst_trade_pct, "%")
            ),
        ),
        ("commissions", s.commissions.clone()),
        ("elapsed", format!("{seconds:.3} s")),
        ("throughput", format!("{per_second:.0} bars/s")),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<20} {value}");
    }
    out
}

/// The trades as CSV, one row per closed trade.
pub(crate) fn trades_csv(trades: &[Trade]) -> String {
    let mut out = String::from(
        "entry_bar,exit_bar,entry_time,exit_time,side,size,entry_price,exit_price,pnl,commission,return_pct\n",
    );
    for t in trades {
        let side = match t.side {
            neo_domain::Side::Buy => "long",
            neo_domain::Side::Sell => "short",
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{side},{},{},{},{},{},{:.6}",
            t.entry_bar,
            t.exit_bar,
            t.entry_time,
            t.exit_time,
            t.size,
            t.entry_price,
            t.exit_price,
            t.pnl,
            t.commission,
            t.return_pct
        );
    }
    out
}
