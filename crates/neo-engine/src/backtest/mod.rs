//! The backtest driver: historical or simulated bars through the same risk
//! engine, paper OMS and portfolio the live desk uses, on the bars' own clock.
//!
//! Semantics (backtesting.py's, so results can be checked against it): a wish a
//! strategy forms at bar t's close executes at bar t+1's open as market orders,
//! first the exit of the position it no longer wants, then an entry sized with
//! all the cash the account has, in whole units. `commission` is a fraction of
//! traded value charged on the entry and on the exit fill; `spread` is a fraction
//! the entry pays on top of the open (a buy above it, a sell below it) and the exit
//! does not, i.e. the whole round-trip spread charged once. A wish formed on the
//! last bar never executes and a trade still open at the end is not counted
//! among the trades, though its value is in the final equity.
//!
//! The run is a pure function of its inputs: two runs give identical output.

mod stats;
mod strategy;
mod trades;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use neo_domain::contracts::{OrderIntentV1, OrderType, TimeInForce};
use neo_domain::{
    ArithmeticError, Fixed, IdKind, InstrumentId, MessageId, Money, Price, Quantity, Rounding,
    Side, Timestamp,
};

use crate::market::{Ohlcv, interval_nanos};
use crate::oms::{FeeModel, OmsConfig, OmsError, OmsEvent, PaperOms, SlippageModel};
use crate::portfolio::{Portfolio, PortfolioError};
use crate::risk::{AccountView, InstrumentView, Mark, RiskEngine, RiskLimits};

pub use stats::{CurvePoint, Summary};
pub use strategy::{AverageKind, Cross, Strategy, StrategyError, Target};
pub use trades::Trade;

use stats::{EquityStats, Inputs, summarize};
use trades::Ledger;

/// Orders the OMS may remember before settled ones are dropped (bounded memory).
const FORGET_EVERY: usize = 4_096;

/// What a backtest trades and what trading costs.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestConfig {
    /// The instrument the bars are of.
    pub instrument: InstrumentId,
    /// Bar length (`1d`, `1m`, ...), stamped on the candles the OMS sees.
    pub interval: String,
    /// Account currency.
    pub currency: String,
    /// Starting cash.
    pub cash: Money,
    /// Fee per fill as a fraction of its value (0.002 = 0.2%).
    pub commission: Fixed,
    /// Round-trip spread as a fraction of the price, paid on entry.
    pub spread: Fixed,
}

impl BacktestConfig {
    /// Every problem at once.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if interval_nanos(&self.interval).is_none() {
            problems.push(format!(
                "interval = {:?}: expected a number and a unit (1m, 1h, 1d)",
                self.interval
            ));
        }
        if !self.cash.value().is_positive() {
            problems.push(format!("cash = {}: must be above zero", self.cash));
        }
        let tenth = Fixed::from_raw(100_000_000);
        for (name, value) in [("commission", self.commission), ("spread", self.spread)] {
            if value.is_negative() || value >= tenth {
                problems.push(format!(
                    "{name} = {value}: must be a fraction from 0 up to (not including) 0.1"
                ));
            }
        }
        problems
    }

    /// The paper venue's costs: commission as a taker fee, spread as entry-only slippage.
    fn oms(&self) -> Result<OmsConfig, ArithmeticError> {
        let bps = Fixed::from_int(10_000);
        let commission = self.commission.checked_mul(bps)?;
        let spread = self.spread.checked_mul(bps)?;
        Ok(OmsConfig {
            fees: FeeModel {
                maker_bps: commission,
                taker_bps: commission,
            },
            slippage: if spread.is_zero() {
                SlippageModel::None
            } else {
                SlippageModel::Bps { bps: spread }
            },
            entry_only_slippage: true,
            max_participation: None,
        })
    }
}

/// Risk limits for research: the engine still judges every order, but nothing
/// short of an emptied account stops a strategy that is always in the market.
fn research_limits() -> RiskLimits {
    let huge = Fixed::from_int(i64::MAX / 1_000_000_000);
    RiskLimits {
        max_position: Quantity::new(huge).unwrap_or_default(),
        max_gross_notional: Money::new(huge).unwrap_or_default(),
        daily_loss_limit: Money::new(huge).unwrap_or_default(),
        max_open_orders: 1_000,
        max_data_age_secs: 60,
        max_drawdown: Fixed::from_raw(999_999_999),
        require_brackets: false,
        ..RiskLimits::default()
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The configuration has problems (all listed).
    #[error("backtest configuration: {}", .0.join("; "))]
    Config(Vec<String>),
    /// Bars must move forward in time.
    #[error("bar {index} at {ts} is not after the previous bar at {previous}")]
    TimeWentBackwards {
        /// 0-based bar index.
        index: u64,
        /// The bar's time.
        ts: Timestamp,
        /// The previous bar's time.
        previous: Timestamp,
    },
    /// The risk engine refused an order (with its reasons).
    #[error("bar {index}: risk refused the order: {reasons}")]
    Refused {
        /// 0-based bar index.
        index: u64,
        /// Why.
        reasons: String,
    },
    /// The OMS failed.
    #[error(transparent)]
    Oms(#[from] OmsError),
    /// The portfolio failed.
    #[error(transparent)]
    Portfolio(#[from] PortfolioError),
    /// Exact arithmetic overflowed.
    #[error("arithmetic: {0}")]
    Arithmetic(#[from] ArithmeticError),
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The figures.
    pub summary: Summary,
    /// Closed trades, in order.
    pub trades: Vec<Trade>,
    /// The equity curve, thinned to a few thousand points.
    pub curve: Vec<CurvePoint>,
}

/// A price as `f64` for indicators and statistics: exact for prices below 2^53 nanos.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn approx(value: Fixed) -> f64 {
    match i64::try_from(value.raw()) {
        Ok(raw) => raw as f64 / 1e9,
        Err(_) => value.to_f64(),
    }
}

/// A backtest fed one bar at a time (so millions of bars need not sit in memory).
#[derive(Debug)]
pub struct Backtest<S> {
    config: BacktestConfig,
    strategy: S,
    oms: PaperOms,
    risk: RiskEngine,
    portfolio: Portfolio,
    ledger: Ledger,
    stats: EquityStats,
    /// Bars seen.
    index: u64,
    last_ts: Option<Timestamp>,
    pending: Option<Target>,
    /// Signed units held, and the same as `f64` with cash as `f64` (for the curve).
    position: Fixed,
    position_f: f64,
    cash_f: f64,
    buy_hold_from: Option<f64>,
    last_close: f64,
    last_close_exact: Option<Price>,
}

impl<S: Strategy> Backtest<S> {
    /// A flat account with the config's cash; the first bar sets the clock.
    pub fn new(config: BacktestConfig, strategy: S) -> Result<Self, BacktestError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(BacktestError::Config(problems));
        }
        let oms = PaperOms::new(config.oms()?);
        let risk =
            RiskEngine::new(research_limits()).map_err(|e| BacktestError::Config(e.problems))?;
        let portfolio = Portfolio::new(&config.currency, config.cash, Timestamp::from_nanos(0))?;
        Ok(Backtest {
            cash_f: approx(config.cash.value()),
            config,
            strategy,
            oms,
            risk,
            portfolio,
            ledger: Ledger::default(),
            stats: EquityStats::new(),
            index: 0,
            last_ts: None,
            pending: None,
            position: Fixed::ZERO,
            position_f: 0.0,
            buy_hold_from: None,
            last_close: f64::NAN,
            last_close_exact: None,
        })
    }

    /// Processes one bar: last bar's wish executes at this open, then the
    /// strategy sees this close.
    pub fn step(&mut self, bar: &Ohlcv) -> Result<(), BacktestError> {
        let index = self.index;
        if let Some(previous) = self.last_ts
            && bar.ts_open <= previous
        {
            return Err(BacktestError::TimeWentBackwards {
                index,
                ts: bar.ts_open,
                previous,
            });
        }
        self.last_ts = Some(bar.ts_open);
        if let Some(target) = self.pending.take() {
            self.execute(target, bar)?;
        }
        let close = approx(bar.close.value());
        self.last_close = close;
        self.last_close_exact = Some(bar.close);
        self.stats
            .record(bar.ts_open, self.cash_f + self.position_f * close);
        if index == self.strategy.warmup_bars() as u64 {
            self.buy_hold_from = Some(close);
        }
        if let Some(target) = self.strategy.on_bar(bar, close) {
            let holding = match self.position.raw().signum() {
                1 => Some(Target::Long),
                -1 => Some(Target::Short),
                _ => None,
            };
            if holding != Some(target) {
                self.pending = Some(target);
            }
        }
        self.index += 1;
        Ok(())
    }

    /// Ends the run: the summary, the trades and the curve.
    pub fn finish(self) -> Result<Outcome, BacktestError> {
        let last = self.last_ts.unwrap_or(Timestamp::from_nanos(0));
        let mut portfolio = self.portfolio;
        if let Some(close) = self.last_close_exact {
            portfolio.mark(self.config.instrument, close, last)?;
        }
        let final_equity = portfolio.equity()?;
        let commissions = self
            .ledger
            .trades()
            .iter()
            .try_fold(Fixed::ZERO, |sum, t| sum.checked_add(t.commission.value()))?;
        let summary = summarize(&Inputs {
            stats: &self.stats,
            trades: self.ledger.trades(),
            initial: approx(self.config.cash.value()),
            final_equity: final_equity.to_string(),
            final_f64: approx(final_equity.value()),
            buy_hold: self.buy_hold_from.map(|from| (from, self.last_close)),
            commissions: commissions.to_string(),
        });
        Ok(Outcome {
            summary,
            curve: self.stats.curve(),
            trades: self.ledger.into_trades(),
        })
    }

    /// At `bar`'s open: leave the position that is no longer wanted, then enter `target`.
    fn execute(&mut self, target: Target, bar: &Ohlcv) -> Result<(), BacktestError> {
        let instrument = self.config.instrument;
        let candle = bar.candle(instrument, &self.config.interval);
        let now = bar.ts_open;
        self.portfolio.mark(instrument, bar.open, now)?;
        if !self.position.is_zero() {
            let side = if self.position.is_positive() {
                Side::Sell
            } else {
                Side::Buy
            };
            let qty = Quantity::new(self.position.abs()).map_err(|_| ArithmeticError::Overflow)?;
            self.submit(side, qty, true, bar)?;
            let events = self.oms.on_candle(&candle)?;
            self.book(events)?;
        }
        let side = match target {
            Target::Long => Side::Buy,
            Target::Short => Side::Sell,
        };
        let qty = self.affordable(bar.open, side)?;
        if qty.value().is_positive() {
            self.submit(side, qty, false, bar)?;
            let events = self.oms.on_candle(&candle)?;
            self.book(events)?;
        }
        if self.oms.known_orders() >= FORGET_EVERY {
            self.oms.forget_settled();
        }
        Ok(())
    }

    /// Whole units the cash covers at `open` moved by the spread (up for a buy, down
    /// for a sell) plus the commission on the open (backtesting.py's
    /// `margin_available // (adjusted_price + commission per unit)` on a flat account).
    fn affordable(&self, open: Price, side: Side) -> Result<Quantity, ArithmeticError> {
        let cash = self.portfolio.cash().value();
        if !cash.is_positive() {
            return Ok(Quantity::ZERO);
        }
        let open = open.value();
        let moved = match side {
            Side::Buy => Fixed::ONE.checked_add(self.config.spread)?,
            Side::Sell => Fixed::ONE.checked_sub(self.config.spread)?,
        };
        let unit = open
            .mul_round(moved, Rounding::HalfEven)?
            .checked_add(open.mul_round(self.config.commission, Rounding::HalfEven)?)?;
        let units = cash
            .div_round(unit, Rounding::Floor)?
            .round_to_step(Fixed::ONE, Rounding::Floor)?;
        Quantity::new(units).map_err(|_| ArithmeticError::Overflow)
    }

    /// Risk-checks a market order for this bar's open and hands it to the OMS.
    fn submit(
        &mut self,
        side: Side,
        quantity: Quantity,
        reduce_only: bool,
        bar: &Ohlcv,
    ) -> Result<(), BacktestError> {
        let instrument = self.config.instrument;
        let now = bar.ts_open;
        let key = format!("backtest:{}:{}", self.index, u8::from(reduce_only));
        let signal_id = MessageId::derived(IdKind::Signal, &key);
        let intent = OrderIntentV1 {
            id: MessageId::derived(IdKind::Intent, &key),
            decision_id: MessageId::derived(IdKind::Decision, &key),
            signal_id,
            instrument,
            side,
            quantity,
            order_type: OrderType::Market,
            limit_price: None,
            stop_price: None,
            stop_loss: None,
            take_profit: None,
            time_in_force: TimeInForce::Gtc,
            reduce_only,
            arrival_price: Some(bar.open),
            ts_event: now,
        };
        let instruments = BTreeMap::from([(
            instrument,
            InstrumentView {
                net_quantity: self.position,
                open_buy: Quantity::ZERO,
                open_sell: Quantity::ZERO,
                mark: Some(Mark {
                    price: bar.open,
                    at: now,
                }),
            },
        )]);
        let equity = self.portfolio.equity()?;
        let gross = self
            .position
            .abs()
            .mul_round(bar.open.value(), Rounding::Ceiling)?;
        let view = AccountView {
            now,
            equity,
            day_start_equity: self.portfolio.day_start_equity(),
            high_water_mark: self.portfolio.high_water_mark(),
            gross_notional: Money::new(gross).map_err(|_| ArithmeticError::Overflow)?,
            open_orders: u32::try_from(self.oms.open_orders()).unwrap_or(u32::MAX),
            instruments: &instruments,
        };
        let approved =
            self.risk
                .check(intent, &view)
                .map_err(|refusal| BacktestError::Refused {
                    index: self.index,
                    reasons: refusal.to_string(),
                })?;
        let submitted = self.oms.submit(approved, now)?;
        self.book(submitted.events)
    }

    /// Fills into the portfolio and the trade ledger.
    fn book(&mut self, events: Vec<OmsEvent>) -> Result<(), BacktestError> {
        for event in events {
            if let OmsEvent::Fill(fill) = event {
                self.portfolio.apply_fill(&fill)?;
                self.ledger.on_fill(&fill, self.index)?;
            }
        }
        self.position = self
            .portfolio
            .position(self.config.instrument)
            .map_or(Fixed::ZERO, |p| p.quantity);
        self.position_f = approx(self.position);
        self.cash_f = approx(self.portfolio.cash().value());
        Ok(())
    }
}
