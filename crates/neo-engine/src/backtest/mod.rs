//! The backtest driver: historical or simulated bars through the live
//! [`Desk`] itself (its risk engine, paper OMS and portfolio: one composition,
//! see `desk/research.rs`), on the bars' own clock.
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

use neo_domain::{
    ArithmeticError, Fixed, InstrumentId, MessageId, Money, Price, Quantity, Rounding, Side,
    Timestamp,
};

use crate::desk::{Desk, DeskConfig, DeskError, InstrumentSteps, ResearchOrder, Step};
use crate::market::{Ohlcv, interval_nanos};
use crate::oms::{FeeModel, OmsConfig, OmsError, SlippageModel};
use crate::portfolio::PortfolioError;
use crate::risk::RiskLimits;

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

impl BacktestConfig {
    /// The desk a research run trades through: the live composition with the
    /// run's costs, its cash and research limits.
    fn desk(&self) -> Result<Desk, BacktestError> {
        let config = DeskConfig {
            currency: self.currency.clone(),
            initial_cash: self.cash,
            risk: research_limits(),
            oms: self.oms()?,
            ..DeskConfig::default()
        };
        // Any price and whole units: the strategy sizes, the bars price.
        let steps = InstrumentSteps {
            price_step: Price::new(Fixed::from_raw(1)).map_err(|_| ArithmeticError::Overflow)?,
            lot_step: Quantity::new(Fixed::ONE).map_err(|_| ArithmeticError::Overflow)?,
        };
        let steps = BTreeMap::from([(self.instrument, steps)]);
        Desk::new(config, steps, Timestamp::from_nanos(0)).map_err(|e| match e {
            DeskError::Config(problem) => BacktestError::Config(vec![problem]),
            other => desk_error(other),
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
    Desk(DeskError),
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
    desk: Desk,
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
        let desk = config.desk()?;
        Ok(Backtest {
            cash_f: approx(config.cash.value()),
            books: Books::new(strategy.warmup_bars() as u64),
            config,
            strategy,
            desk,
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
        let mut desk = self.desk;
        if let Some((close, at)) = self.books.last_close() {
            desk.mark_research(self.config.instrument, close, at)
                .map_err(desk_error)?;
        }
        let final_equity = desk.equity().map_err(desk_error)?;
        self.books.conclude(self.config.cash, final_equity)
    }

    /// At `bar`'s open: leave the position that is no longer wanted, then enter `target`.
    fn execute(&mut self, target: Target, bar: &Ohlcv) -> Result<(), BacktestError> {
        let instrument = self.config.instrument;
        let candle = bar.candle(instrument, &self.config.interval);
        let now = bar.ts_open;
        self.desk
            .mark_research(instrument, bar.open, now)
            .map_err(desk_error)?;
        if !self.position.is_zero() {
            let side = if self.position.is_positive() {
                Side::Sell
            } else {
                Side::Buy
            };
            let qty = Quantity::new(self.position.abs()).map_err(|_| ArithmeticError::Overflow)?;
            self.submit(side, qty, true, bar, &candle)?;
        }
        let side = target.side();
        let qty = self.affordable(bar.open, side)?;
        if qty.value().is_positive() {
            self.submit(side, qty, false, bar, &candle)?;
        }
        self.desk.forget_settled_orders(FORGET_EVERY);
        Ok(())
    }

    /// Whole units the cash covers at `open` moved by the spread (up for a buy, down
    /// for a sell) plus the commission on the open (backtesting.py's
    /// `margin_available // (adjusted_price + commission per unit)` on a flat account).
    fn affordable(&self, open: Price, side: Side) -> Result<Quantity, ArithmeticError> {
        let mut cash = self.desk.cash().value();
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

    /// A market order at this bar's open, through the desk: risk, the OMS, the portfolio.
    fn submit(
        &mut self,
        side: Side,
        quantity: Quantity,
        reduce_only: bool,
        bar: &Ohlcv,
        candle: &neo_domain::contracts::CandleV1,
    ) -> Result<(), BacktestError> {
        let now = bar.ts_open;
        // Ids from the bar's time and index: unique, deterministic and cheap (no hashing).
        let id = |kind: u8| {
            let mut tail = [0u8; 10];
            tail[0] = kind;
            tail[1] = u8::from(reduce_only);
            tail[2..].copy_from_slice(&self.books.index.to_be_bytes());
            MessageId::v7(now, tail)
        };
        let order = ResearchOrder::market(
            [id(0), id(1), id(2)],
            self.config.instrument,
            side,
            quantity,
            reduce_only,
            bar.open,
            now,
        );
        let step = self
            .desk
            .research_order(order, candle)
            .map_err(desk_error)?;
        if let Some(refused) = &step.refusal {
            return Err(BacktestError::Refused {
                index: self.books.index,
                reasons: refused.message.clone(),
            });
        }
        self.book(&step)
    }

    /// Fills into the trade ledger; the position and cash as `f64` for the curve.
    fn book(&mut self, step: &Step) -> Result<(), BacktestError> {
        for report in &step.fills {
            self.books.ledger.on_fill(&report.fill, self.books.index)?;
        }
        self.position = self.desk.net(self.config.instrument);
        self.position_f = approx(self.position);
        self.cash_f = approx(self.desk.cash().value());
        Ok(())
    }
}

/// A desk failure in a run: the OMS's, the portfolio's and arithmetic's keep their own
/// variants (and the overflow its advice); the rest is the desk's.
pub(crate) fn desk_error(e: DeskError) -> BacktestError {
    match e {
        DeskError::Arithmetic(a) => BacktestError::Arithmetic(a),
        DeskError::Oms(o) => BacktestError::Oms(o),
        DeskError::Portfolio(p) => BacktestError::Portfolio(p),
        other => BacktestError::Desk(other),
    }
}
