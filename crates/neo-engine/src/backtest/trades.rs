//! Round trips read from the fills: an entry fill opens a trade, the fills that
//! take the position back to flat close it. Exact prices, fees and PnL.

use neo_domain::contracts::FillV1;
use neo_domain::{ArithmeticError, Fixed, Money, Price, Quantity, Rounding, Side, Timestamp};
use serde::Serialize;

/// One closed round trip (a row of `--trades trades.csv`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trade {
    /// Bar index of the entry fill (0-based).
    pub entry_bar: u64,
    /// Bar index of the exit fill.
    pub exit_bar: u64,
    /// Entry fill time.
    pub entry_time: Timestamp,
    /// Exit fill time.
    pub exit_time: Timestamp,
    /// Long (buy first) or short (sell first).
    pub side: Side,
    /// Units traded.
    pub size: Quantity,
    /// Average entry price, after spread.
    pub entry_price: Price,
    /// Average exit price.
    pub exit_price: Price,
    /// Profit net of both fees.
    pub pnl: Money,
    /// Entry plus exit fees.
    pub commission: Money,
    /// Price return in the trade's direction minus fees over entry value, in percent.
    pub return_pct: f64,
}

/// Why a fill could not be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Exact arithmetic failed.
    #[error("arithmetic: {0}")]
    Arithmetic(#[from] ArithmeticError),
    /// A fill took the position past flat in one go (drivers exit reduce-only).
    #[error(
        "a fill took the position past flat; the trade ledger books exits and entries separately"
    )]
    PastFlat,
}

/// The trade being built while a position is open.
#[derive(Debug, Clone)]
struct Open {
    bar: u64,
    time: Timestamp,
    side: Side,
    size: Fixed,
    /// Sum of price x quantity over entry fills.
    cost: Fixed,
    /// Sum of price x quantity over exit fills.
    proceeds: Fixed,
    closed: Fixed,
    fees: Fixed,
}

/// Pairs fills into trades.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ledger {
    open: Option<Open>,
    closed: Vec<Trade>,
}

fn money(x: Fixed) -> Result<Money, ArithmeticError> {
    Money::new(x).map_err(|_| ArithmeticError::Overflow)
}

impl Ledger {
    /// Books a fill at bar `bar`.
    pub(crate) fn on_fill(&mut self, fill: &FillV1, bar: u64) -> Result<(), LedgerError> {
        let qty = fill.quantity.value();
        // As the OMS and the portfolio value a fill: rounded half-even to 9 places.
        let value = qty.mul_round(fill.price.value(), Rounding::HalfEven)?;
        let fee = fill.fee.value();
        let Some(open) = self.open.as_mut() else {
            self.open = Some(Open {
                bar,
                time: fill.ts_event,
                side: fill.side,
                size: qty,
                cost: value,
                proceeds: Fixed::ZERO,
                closed: Fixed::ZERO,
                fees: fee,
            });
            return Ok(());
        };
        open.fees = open.fees.checked_add(fee)?;
        if fill.side == open.side {
            open.size = open.size.checked_add(qty)?;
            open.cost = open.cost.checked_add(value)?;
            return Ok(());
        }
        open.closed = open.closed.checked_add(qty)?;
        open.proceeds = open.proceeds.checked_add(value)?;
        // Exits are reduce-only, so a fill never takes the position past flat; the
        // ledger would mis-book one, so it is refused instead of guessed at.
        if open.closed > open.size {
            return Err(LedgerError::PastFlat);
        }
        if open.closed == open.size {
            let open = self.open.take().ok_or(ArithmeticError::Overflow)?;
            self.closed.push(close(&open, bar, fill.ts_event)?);
        }
        Ok(())
    }

    /// The closed trades so far.
    pub(crate) fn trades(&self) -> &[Trade] {
        &self.closed
    }

    /// Takes the closed trades.
    pub(crate) fn into_trades(self) -> Vec<Trade> {
        self.closed
    }
}

fn close(open: &Open, bar: u64, time: Timestamp) -> Result<Trade, ArithmeticError> {
    let size = open.size;
    let entry = open.cost.div_round(size, Rounding::HalfEven)?;
    let exit = open.proceeds.div_round(open.closed, Rounding::HalfEven)?;
    let gross = match open.side {
        Side::Buy => open.proceeds.checked_sub(open.cost)?,
        Side::Sell => open.cost.checked_sub(open.proceeds)?,
    };
    let pnl = gross.checked_sub(open.fees)?;
    let direction = match open.side {
        Side::Buy => 1.0,
        Side::Sell => -1.0,
    };
    let entry_f = entry.to_f64();
    let return_pct = (direction * (exit.to_f64() / entry_f - 1.0)
        - open.fees.to_f64() / (size.to_f64() * entry_f))
        * 100.0;
    Ok(Trade {
        entry_bar: open.bar,
        exit_bar: bar,
        entry_time: open.time,
        exit_time: time,
        side: open.side,
        size: Quantity::new(size).map_err(|_| ArithmeticError::Overflow)?,
        entry_price: Price::new(entry).map_err(|_| ArithmeticError::Overflow)?,
        exit_price: Price::new(exit).map_err(|_| ArithmeticError::Overflow)?,
        pnl: money(pnl)?,
        commission: money(open.fees)?,
        return_pct,
    })
}
