//! The ensemble backtest: the strategy loop NEO runs live, on a bar clock.
//!
//! Each closed bar goes to the [`Ensemble`]; a confident forecast becomes a
//! [`SignalEventV1`] with `source = strategy` that the [`Desk`] takes at the next
//! bar's open exactly as it takes a webhook alert live: the analyst follows the
//! ensemble's probability, calibration and fractional Kelly size it, ATR brackets
//! protect it, risk judges it, the paper OMS fills it. Stops and targets work
//! inside each bar. On simulated data the detector's regimes are scored against
//! the simulator's truth.

use std::collections::{BTreeMap, BTreeSet};

use neo_domain::contracts::{CandleV1, Priority, SignalEventV1, SignalSource, SignalType, TickV1};
use neo_domain::{IdKind, InstrumentId, MessageId, Quantity, Side};
use serde::Serialize;
use serde_json::Value;

use super::books::Books;
use super::desk_error;
use super::{BacktestConfig, BacktestError, Outcome, approx};
use crate::analyst::PROBABILITY_UP;
use crate::autonomy::wanted_side;
use crate::desk::HORIZON_BARS;
use crate::desk::{Desk, DeskConfig, Figures, InstrumentSteps, Step};
use crate::intel::{
    Ensemble, EnsembleConfig, EnsembleMetrics, Forecast, RegimeScore, RegimeScoreSummary,
};
use crate::market::{Ohlcv, Regime, interval_nanos};
use crate::risk::MAX_DATA_AGE_CEILING_SECS;

/// How far from a coin flip a forecast must be before it becomes a signal.
pub const DEFAULT_MIN_EDGE: f64 = 0.05;

/// What the ensemble run adds to the common figures.
#[derive(Debug, Clone, Serialize)]
pub struct EnsembleReport {
    /// Signals the loop sent to the desk.
    pub signals: u64,
    /// Refusals by reason code (risk codes, `no_edge`, `below_lot`, ...).
    pub refusals: BTreeMap<String, u64>,
    /// The ensemble's forecast quality and weights.
    pub ensemble: EnsembleMetrics,
    /// Regime detection scored against the simulator (simulated data only).
    pub regime: Option<RegimeScoreSummary>,
    /// The desk's per-feature figures at the end (calibration, Kelly scale,
    /// brackets, R-multiples, ATR accuracy), as live exports them.
    pub desk: Figures,
}

/// A backtest of the ensemble through the live desk.
#[derive(Debug)]
pub struct EnsembleBacktest {
    config: BacktestConfig,
    desk: Desk,
    ensemble: Ensemble,
    regimes: RegimeScore,
    scored: bool,
    books: Books,
    pending: Option<SignalEventV1>,
    candle: Option<CandleV1>,
    min_edge: f64,
    signals: u64,
    refusals: BTreeMap<String, u64>,
}

/// Desk settings for research: the live defaults, with data-age limits that fit
/// the bar length and a drawdown halt loose enough to see a strategy through.
fn desk_config(config: &BacktestConfig) -> Result<DeskConfig, BacktestError> {
    let mut desk = DeskConfig {
        currency: config.currency.clone(),
        initial_cash: config.cash,
        oms: config.oms()?,
        ..DeskConfig::default()
    };
    let bar_secs = interval_nanos(&config.interval).map_or(60, |n| (n / 1_000_000_000).max(1));
    let bar_secs = u64::try_from(bar_secs).unwrap_or(60);
    // Four bars, plus a long weekend for daily and slower bars.
    let weekend = if bar_secs >= 86_400 { 4 * 86_400 } else { 0 };
    let age = (4 * bar_secs + weekend).clamp(60, MAX_DATA_AGE_CEILING_SECS);
    desk.risk.max_data_age_secs = age;
    desk.analyst.gates.max_age_secs = age;
    desk.risk.max_drawdown = neo_domain::Fixed::from_raw(500_000_000);
    desk.risk.daily_loss_limit = config.cash;
    Ok(desk)
}

impl EnsembleBacktest {
    /// A flat desk and a cold ensemble; `lot_step` and `price_step` round orders.
    pub fn new(
        config: BacktestConfig,
        ensemble: EnsembleConfig,
        steps: InstrumentSteps,
        min_edge: f64,
    ) -> Result<Self, BacktestError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(BacktestError::Config(problems));
        }
        if !(0.0..0.5).contains(&min_edge) {
            return Err(BacktestError::Config(vec![format!(
                "min_edge = {min_edge}: must be from 0 up to (not including) 0.5"
            )]));
        }
        let desk = Desk::new(
            desk_config(&config)?,
            BTreeMap::from([(config.instrument, steps)]),
            neo_domain::Timestamp::from_nanos(0),
        )
        .map_err(|e| BacktestError::Config(vec![e.to_string()]))?;
        let ensemble = Ensemble::new(ensemble).map_err(|e| BacktestError::Config(e.problems))?;
        Ok(EnsembleBacktest {
            config,
            desk,
            ensemble,
            regimes: RegimeScore::new(),
            scored: false,
            books: Books::new(0),
            pending: None,
            candle: None,
            min_edge,
            signals: 0,
            refusals: BTreeMap::new(),
        })
    }

    /// Processes one bar; `truth` is the regime the simulator was in (simulated data only).
    pub fn step(&mut self, bar: &Ohlcv, truth: Option<Regime>) -> Result<(), BacktestError> {
        self.books.open(bar)?;
        let instrument = self.config.instrument;
        let open = TickV1 {
            instrument,
            price: bar.open,
            size: Quantity::ZERO,
            bid: Some(bar.open),
            ask: Some(bar.open),
            ts_event: bar.ts_open,
        };
        let step = self.desk.on_tick(&open).map_err(desk_error)?;
        self.book(&step)?;
        if let Some(signal) = self.pending.take() {
            let step = self
                .desk
                .on_signal(&signal, bar.ts_open)
                .map_err(desk_error)?;
            if let Some(refused) = &step.refusal {
                for code in &refused.codes {
                    *self.refusals.entry(code.clone()).or_default() += 1;
                }
            }
            self.book(&step)?;
        }
        // One candle reused bar after bar: no allocation per bar.
        let candle = self
            .candle
            .get_or_insert_with(|| bar.candle(instrument, &self.config.interval));
        (candle.ts_open, candle.ts_event) = (bar.ts_open, bar.ts_close);
        (candle.open, candle.high, candle.low, candle.close) =
            (bar.open, bar.high, bar.low, bar.close);
        candle.volume = bar.volume;
        let step = self.desk.on_bar(candle).map_err(desk_error)?;
        self.desk.on_candle(candle);
        self.book(&step)?;
        let equity = approx(self.desk.equity().map_err(desk_error)?.value());
        self.books.close(bar, |_| equity);
        let forecast = self.ensemble.on_bar(bar);
        if let Some(truth) = truth {
            self.scored = true;
            self.regimes
                .record(truth, self.ensemble.detector().regime());
        }
        if let Some(forecast) = forecast {
            self.pending = self.signal(&forecast, bar);
        }
        self.books.index += 1;
        Ok(())
    }

    /// A signal when the forecast is confident and points away from the position.
    fn signal(&mut self, forecast: &Forecast, bar: &Ohlcv) -> Option<SignalEventV1> {
        let net = self.desk.net(self.config.instrument);
        let side = wanted_side(forecast.probability_up, self.min_edge, net)?;
        self.signals += 1;
        Some(strategy_signal(
            self.config.instrument,
            &self.config.interval,
            side,
            (forecast, self.ensemble.config().horizon_bars),
            bar,
        ))
    }

    fn book(&mut self, step: &Step) -> Result<(), BacktestError> {
        for report in &step.fills {
            self.books.ledger.on_fill(&report.fill, self.books.index)?;
        }
        Ok(())
    }

    /// Ends the run.
    pub fn finish(self) -> Result<(Outcome, EnsembleReport), BacktestError> {
        let equity = self.desk.equity().map_err(desk_error)?;
        let report = EnsembleReport {
            signals: self.signals,
            refusals: self.refusals,
            ensemble: self.ensemble.metrics(),
            regime: self.scored.then(|| self.regimes.summary()),
            desk: self.desk.figures(),
        };
        Ok((self.books.conclude(self.config.cash, equity)?, report))
    }
}

/// The signal the live loop sends for a forecast at `bar`'s close (with the
/// forecast's horizon, so the desk can turn P(up) into a bracket's win probability).
pub fn strategy_signal(
    instrument: InstrumentId,
    interval: &str,
    side: Side,
    (forecast, horizon_bars): (&Forecast, u32),
    bar: &Ohlcv,
) -> SignalEventV1 {
    let key = format!("ensemble:{instrument}:{interval}:{}", bar.ts_close);
    let mut metadata = BTreeMap::from([
        (
            PROBABILITY_UP.to_owned(),
            Value::from(forecast.probability_up),
        ),
        (HORIZON_BARS.to_owned(), Value::from(horizon_bars)),
    ]);
    if let Some(regime) = forecast.regime {
        metadata.insert("regime".to_owned(), Value::from(regime.as_str()));
    }
    let models: BTreeSet<_> = forecast.models.iter().map(|(name, _)| *name).collect();
    for (name, p) in &forecast.models {
        metadata.insert(format!("p_{name}"), Value::from(*p));
    }
    SignalEventV1 {
        id: MessageId::derived(IdKind::Signal, &key),
        source: SignalSource::Strategy,
        source_id: Some(key),
        instrument,
        exchange: None,
        side: Some(side),
        signal_type: SignalType::Entry,
        priority: Priority::Normal,
        price: Some(bar.close),
        quantity: None,
        strategy: Some(format!(
            "ensemble({})",
            models.into_iter().collect::<Vec<_>>().join(", ")
        )),
        interval: Some(interval.to_owned()),
        comment: None,
        ts_event: bar.ts_close,
        metadata,
        original: Value::Null,
    }
}
