//! Positions, cash, PnL, equity and drawdown, exact.
//!
//! Each position keeps its signed quantity and its *cost basis* (the exact
//! signed notional of the open quantity) rather than a rounded average price.
//! Closing part of a position releases a proportional share of the basis; that
//! share is rounded, but it moves between realized and unrealized PnL, so
//! `equity - initial cash == realized + unrealized` holds to the last unit.
//! Fees are realized when paid. One account currency: every fill is in it.

use std::collections::BTreeMap;

use neo_domain::contracts::{FillV1, PositionSide, PositionV1};
use neo_domain::{
    ArithmeticError, Fixed, InstrumentId, MessageId, Money, Price, Quantity, Rounding, Side,
    Timestamp,
};

use crate::recent::Recent;

mod ledger;
pub use ledger::{Holding, Ledger};

/// Why a fill or mark could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortfolioError {
    /// Exact arithmetic overflowed; nothing was changed.
    #[error("arithmetic: {0}")]
    Arithmetic(#[from] ArithmeticError),
    /// A fill with no quantity explains nothing.
    #[error("fill {0} has no quantity")]
    EmptyFill(MessageId),
    /// The account currency must be 2-12 characters of A-Z and 0-9.
    #[error("invalid currency {0:?}")]
    Currency(String),
}

/// One instrument's holding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed net quantity: above zero long, below zero short.
    pub quantity: Fixed,
    /// Signed notional paid for the open quantity (negative for shorts).
    pub cost_basis: Fixed,
    /// Closed-trade PnL net of every fee paid on this instrument.
    pub realized: Fixed,
    /// The last price seen (fill or mark), for unrealized PnL.
    pub mark: Option<Price>,
}

impl Position {
    /// Long, short or flat.
    pub fn side(&self) -> PositionSide {
        match self.quantity {
            q if q.is_positive() => PositionSide::Long,
            q if q.is_negative() => PositionSide::Short,
            _ => PositionSide::Flat,
        }
    }

    /// Average entry price of the open quantity (rounded half-even for display).
    pub fn avg_price(&self) -> Option<Price> {
        if self.quantity.is_zero() {
            return None;
        }
        let avg = self
            .cost_basis
            .div_round(self.quantity, Rounding::HalfEven)
            .ok()?;
        Price::new(avg).ok()
    }

    /// Value of the open quantity at the mark (signed: negative for shorts).
    pub fn market_value(&self) -> Result<Fixed, ArithmeticError> {
        match self.mark {
            Some(mark) => self.quantity.mul_round(mark.value(), Rounding::HalfEven),
            None => Ok(self.cost_basis),
        }
    }

    /// PnL of the open quantity at the mark.
    pub fn unrealized(&self) -> Result<Fixed, ArithmeticError> {
        self.market_value()?.checked_sub(self.cost_basis)
    }

    /// Applies a signed quantity change at `price` whose whole notional is `notional`,
    /// returning the new state (self unchanged on error). A fill that flips the
    /// position splits its notional exactly, so cash and basis never disagree.
    fn traded(
        &self,
        delta: Fixed,
        price: Price,
        notional: Fixed,
        fee: Fixed,
    ) -> Result<Position, ArithmeticError> {
        let mut next = self.clone();
        next.realized = next.realized.checked_sub(fee)?;
        next.mark = Some(price);
        let buying = delta.is_positive();
        let mut open_qty = delta.abs();
        let mut open_notional = notional;
        if !self.quantity.is_zero() && buying == self.quantity.is_negative() {
            let close = open_qty.min(self.quantity.abs());
            let (released, close_notional) = if close == self.quantity.abs() && close == open_qty {
                (self.cost_basis, notional)
            } else if close == self.quantity.abs() {
                (
                    self.cost_basis,
                    close.mul_round(price.value(), Rounding::HalfEven)?,
                )
            } else {
                let share = self.cost_basis.mul_round(close, Rounding::HalfEven)?;
                let released = share.div_round(self.quantity.abs(), Rounding::HalfEven)?;
                (released, notional)
            };
            // Closing a long sells (cash in); closing a short buys (cash out).
            let proceeds = if buying {
                -close_notional
            } else {
                close_notional
            };
            next.realized = next.realized.checked_add(proceeds.checked_sub(released)?)?;
            next.cost_basis = next.cost_basis.checked_sub(released)?;
            next.quantity = if buying {
                next.quantity.checked_add(close)?
            } else {
                next.quantity.checked_sub(close)?
            };
            open_qty = open_qty.checked_sub(close)?;
            open_notional = open_notional.checked_sub(close_notional)?;
        }
        if open_qty.is_positive() {
            let signed = if buying {
                open_notional
            } else {
                -open_notional
            };
            next.cost_basis = next.cost_basis.checked_add(signed)?;
            next.quantity = if buying {
                next.quantity.checked_add(open_qty)?
            } else {
                next.quantity.checked_sub(open_qty)?
            };
        }
        Ok(next)
    }
}

/// What applying a fill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The fill changed the account.
    New,
    /// The fill had been applied before; nothing changed.
    Duplicate,
}

/// One account: cash, positions, and the equity marks drawdown is measured from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Portfolio {
    currency: String,
    initial_cash: Money,
    cash: Fixed,
    positions: BTreeMap<InstrumentId, Position>,
    /// Recent fill ids, so a replayed fill changes nothing (bounded: the store
    /// keeps the lasting record, and restore applies each stored fill once).
    applied: Recent<()>,
    high_water_mark: Fixed,
    day: i64,
    day_start_equity: Fixed,
    day_offset_nanos: i64,
}

const DAY_NANOS: i64 = 86_400 * 1_000_000_000;

impl Portfolio {
    /// A flat account holding `cash` in `currency`, its trading day starting at `now`.
    pub fn new(currency: &str, cash: Money, now: Timestamp) -> Result<Self, PortfolioError> {
        let ok = (2..=12).contains(&currency.len())
            && currency
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if !ok {
            return Err(PortfolioError::Currency(currency.to_owned()));
        }
        Ok(Portfolio {
            currency: currency.to_owned(),
            initial_cash: cash,
            cash: cash.value(),
            positions: BTreeMap::new(),
            applied: Recent::default(),
            high_water_mark: cash.value(),
            day: now.as_nanos().div_euclid(DAY_NANOS),
            day_start_equity: cash.value(),
            day_offset_nanos: 0,
        })
    }

    /// Trading days start `offset_nanos` after UTC midnight (0 to one day), from the day of `now`.
    pub fn set_day_start(&mut self, offset_nanos: i64, now: Timestamp) {
        self.day_offset_nanos = offset_nanos.clamp(0, DAY_NANOS - 1);
        self.day = self.day_of(now);
    }

    /// The trading day `now` falls in (days since the epoch, shifted by the day start).
    pub fn day_of(&self, now: Timestamp) -> i64 {
        now.as_nanos()
            .saturating_sub(self.day_offset_nanos)
            .div_euclid(DAY_NANOS)
    }

    /// The current trading day.
    pub fn day(&self) -> i64 {
        self.day
    }

    /// Resumes the day's marks after a restart (fills alone cannot rebuild a peak reached through marks).
    pub fn restore_day(&mut self, day: i64, day_start_equity: Money, high_water_mark: Money) {
        self.day = day;
        self.day_start_equity = day_start_equity.value();
        self.high_water_mark = high_water_mark.value();
    }

    /// Applies a fill once; a replayed fill (same id) changes nothing.
    pub fn apply_fill(&mut self, fill: &FillV1) -> Result<Applied, PortfolioError> {
        if self.applied.contains(&fill.id) {
            return Ok(Applied::Duplicate);
        }
        self.roll_day(fill.ts_event)?;
        let notional = Money::notional(fill.price, fill.quantity)?.value();
        let (delta, cash) = match fill.side {
            Side::Buy => (fill.quantity.value(), self.cash.checked_sub(notional)?),
            Side::Sell => (-fill.quantity.value(), self.cash.checked_add(notional)?),
        };
        if delta.is_zero() {
            return Err(PortfolioError::EmptyFill(fill.id));
        }
        let cash = cash.checked_sub(fill.fee.value())?;
        let position = self
            .positions
            .get(&fill.instrument)
            .cloned()
            .unwrap_or_default();
        let next = position.traded(delta, fill.price, notional, fill.fee.value())?;
        // Every fallible step is done: commit.
        self.cash = cash;
        self.positions.insert(fill.instrument, next);
        self.applied.insert(fill.id, ());
        self.update_marks()?;
        Ok(Applied::New)
    }

    /// Marks an instrument to a new price (unrealized PnL, equity, drawdown).
    pub fn mark(
        &mut self,
        instrument: InstrumentId,
        price: Price,
        now: Timestamp,
    ) -> Result<(), PortfolioError> {
        self.roll_day(now)?;
        if let Some(position) = self.positions.get_mut(&instrument) {
            position.mark = Some(price);
        }
        self.update_marks()
    }

    /// A new trading day starts its drawdown (and its peak) from the equity at
    /// the roll; true when `now` began a new day.
    pub fn roll_day(&mut self, now: Timestamp) -> Result<bool, PortfolioError> {
        let day = self.day_of(now);
        if day <= self.day {
            return Ok(false);
        }
        let equity = self.equity()?.value();
        self.day = day;
        self.day_start_equity = equity;
        self.high_water_mark = equity;
        Ok(true)
    }

    fn update_marks(&mut self) -> Result<(), PortfolioError> {
        let equity = self.equity()?.value();
        self.high_water_mark = self.high_water_mark.max(equity);
        Ok(())
    }

    /// The account currency.
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// Cash after every fill and fee.
    pub fn cash(&self) -> Money {
        Money::new(self.cash).unwrap_or(Money::ZERO)
    }

    /// Cash plus the marked value of every position.
    pub fn equity(&self) -> Result<Money, ArithmeticError> {
        let mut equity = self.cash;
        for p in self.positions.values() {
            equity = equity.checked_add(p.market_value()?)?;
        }
        Money::new(equity).map_err(|_| ArithmeticError::Overflow)
    }

    /// Realized PnL across instruments, net of fees.
    pub fn realized_pnl(&self) -> Result<Money, ArithmeticError> {
        let mut total = Fixed::ZERO;
        for p in self.positions.values() {
            total = total.checked_add(p.realized)?;
        }
        Money::new(total).map_err(|_| ArithmeticError::Overflow)
    }

    /// Unrealized PnL across instruments at their marks.
    pub fn unrealized_pnl(&self) -> Result<Money, ArithmeticError> {
        let mut total = Fixed::ZERO;
        for p in self.positions.values() {
            total = total.checked_add(p.unrealized()?)?;
        }
        Money::new(total).map_err(|_| ArithmeticError::Overflow)
    }

    /// The starting cash.
    pub fn initial_cash(&self) -> Money {
        self.initial_cash
    }

    /// The highest equity seen.
    pub fn high_water_mark(&self) -> Money {
        Money::new(self.high_water_mark).unwrap_or(Money::ZERO)
    }

    /// Equity at the start of the current UTC day.
    pub fn day_start_equity(&self) -> Money {
        Money::new(self.day_start_equity).unwrap_or(Money::ZERO)
    }

    /// Fall from the high-water mark as a fraction of it (0 when at the mark).
    pub fn drawdown(&self) -> Result<Fixed, ArithmeticError> {
        Self::fall(self.high_water_mark, self.equity()?.value())
    }

    /// Fall from the day's starting equity as a fraction of it (0 when at or above).
    pub fn daily_drawdown(&self) -> Result<Fixed, ArithmeticError> {
        Self::fall(self.day_start_equity, self.equity()?.value())
    }

    fn fall(from: Fixed, to: Fixed) -> Result<Fixed, ArithmeticError> {
        if !from.is_positive() || to >= from {
            return Ok(Fixed::ZERO);
        }
        from.checked_sub(to)?.div_round(from, Rounding::HalfEven)
    }

    /// One instrument's position, if it ever traded.
    pub fn position(&self, instrument: InstrumentId) -> Option<&Position> {
        self.positions.get(&instrument)
    }

    /// Every instrument that ever traded, in symbol order.
    pub fn positions(&self) -> impl Iterator<Item = (&InstrumentId, &Position)> {
        self.positions.iter()
    }

    /// The position as its contract, for the bus and the API.
    pub fn position_contract(
        &self,
        instrument: InstrumentId,
        now: Timestamp,
    ) -> Result<PositionV1, ArithmeticError> {
        let p = self.positions.get(&instrument).cloned().unwrap_or_default();
        let money = |v: Fixed| Money::new(v).map_err(|_| ArithmeticError::Overflow);
        Ok(PositionV1 {
            instrument,
            side: p.side(),
            quantity: Quantity::new(p.quantity.abs()).map_err(|_| ArithmeticError::Overflow)?,
            avg_price: p.avg_price(),
            realized_pnl: money(p.realized)?,
            unrealized_pnl: money(p.unrealized()?)?,
            currency: self.currency.clone(),
            ts_event: now,
        })
    }
}

#[cfg(test)]
mod tests;
