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

mod books;
mod ensemble;
mod stats;
mod strategy;
mod trades;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use neo_domain::contracts::{OrderIntentV1, OrderType, TimeInForce};
use neo_domain::{
    ArithmeticError, Fixed, InstrumentId, MessageId, Money, Price, Quantity, Rounding, Side,
    Timestamp,
};

use crate::market::{Ohlcv, interval_nanos};
use crate::oms::{FeeModel, OmsConfig, OmsError, OmsEvent, PaperOms, SlippageModel};
use crate::portfolio::{Portfolio, PortfolioError};
use crate::risk::{AccountView, InstrumentView, Mark, RiskEngine, RiskLimits};

pub use self::ensemble::{DEFAULT_MIN_EDGE, EnsembleBacktest, EnsembleReport, strategy_signal};
pub use stats::{CurvePoint, Summary};
pub use strategy::{AverageKind, Cross, Strategy, StrategyError, Target};
pub use trades::Trade;

use books::Books;

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
    /// How big an entry is (backtesting.py's `size`).
    pub size: Sizing,
}

/// An entry's size, as backtesting.py reads its `size` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sizing {
    /// Whole units from all the cash (the default).
    #[default]
    AllCash,
    /// Whole units from this fraction (0 < f < 1) of the cash.
    Fraction(Fixed),
    /// This many units, when the cash covers them (else the entry is skipped).
    Units(Quantity),
}

impl Sizing {
    /// backtesting.py's rule: below 1 a fraction of the cash, from 1 up whole units.
    pub fn parse(text: &str) -> Result<Sizing, String> {
        let value: Fixed = text
            .trim()
            .parse()
            .map_err(|e| format!("size {text:?}: {e}"))?;
        if !value.is_positive() {
            return Err(format!("size {text:?}: must be above zero"));
        }
        if value < Fixed::ONE {
            return Ok(Sizing::Fraction(value));
        }
        if value.round_to_step(Fixed::ONE, Rounding::Floor) != Ok(value) {
            return Err(format!(
                "size {text:?}: a fraction below 1 or a whole number of units"
            ));
        }
        Quantity::new(value)
            .map(Sizing::Units)
            .map_err(|e| format!("size {text:?}: {e}"))
    }
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
    // 10^24: far beyond any account, far below where exact arithmetic overflows.
    let huge = Fixed::from_raw(10i128.pow(33));
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
    /// The trade ledger could not book a fill.
    #[error("trade ledger: {0}")]
    Ledger(#[from] trades::LedgerError),
    /// The desk failed.
    #[error("desk: {0}")]
    Desk(String),
    /// The OMS failed.
    #[error(transparent)]
    Oms(#[from] OmsError),
    /// The portfolio failed.
    #[error(transparent)]
    Portfolio(#[from] PortfolioError),
    /// Exact arithmetic overflowed (a compounding strategy's equity can outgrow it).
    #[error(
        "arithmetic: {0} (the equity or a position outgrew exact arithmetic; \
         a fixed --param size keeps a compounding strategy in range)"
    )]
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
    books: Books,
    pending: Option<Target>,
    /// Signed units held, and the same as `f64` with cash as `f64` (for the curve).
    position: Fixed,
    position_f: f64,
    cash_f: f64,
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
            books: Books::new(strategy.warmup_bars() as u64),
            config,
            strategy,
            oms,
            risk,
            portfolio,
            pending: None,
            position: Fixed::ZERO,
            position_f: 0.0,
        })
    }

    /// Processes one bar: last bar's wish executes at this open, then the
    /// strategy sees this close.
    pub fn step(&mut self, bar: &Ohlcv) -> Result<(), BacktestError> {
        self.books.open(bar)?;
        if let Some(target) = self.pending.take() {
            self.execute(target, bar)?;
        }
        let (cash, position) = (self.cash_f, self.position_f);
        let close = self.books.close(bar, |close| cash + position * close);
        if let Some(target) = self.strategy.on_bar(bar, close)
            && crate::autonomy::held_side(self.position) != Some(target.side())
        {
            self.pending = Some(target);
        }
        self.books.index += 1;
        Ok(())
    }

    /// Ends the run: the summary, the trades and the curve.
    pub fn finish(self) -> Result<Outcome, BacktestError> {
        let mut portfolio = self.portfolio;
        if let Some((close, at)) = self.books.last_close() {
            portfolio.mark(self.config.instrument, close, at)?;
        }
        let final_equity = portfolio.equity()?;
        self.books.conclude(self.config.cash, final_equity)
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
        let side = target.side();
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
        let mut cash = self.portfolio.cash().value();
        if let Sizing::Fraction(f) = self.config.size {
            cash = cash.mul_round(f, Rounding::Floor)?;
        }
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
        let units = match self.config.size {
            Sizing::Units(wanted) if wanted.value() <= units => wanted.value(),
            Sizing::Units(_) => Fixed::ZERO,
            Sizing::AllCash | Sizing::Fraction(_) => units,
        };
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
        // Ids from the bar's time and index: unique, deterministic and cheap (no hashing).
        let id = |kind: u8| {
            let mut tail = [0u8; 10];
            tail[0] = kind;
            tail[1] = u8::from(reduce_only);
            tail[2..].copy_from_slice(&self.books.index.to_be_bytes());
            MessageId::v7(now, tail)
        };
        let signal_id = id(0);
        let intent = OrderIntentV1 {
            id: id(2),
            decision_id: id(1),
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
                    index: self.books.index,
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
                self.books.ledger.on_fill(&fill, self.books.index)?;
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
