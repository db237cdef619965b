//! What every backtest driver keeps while bars go by: the bar clock, the trade
//! ledger, the equity statistics and the buy-and-hold reference.

use neo_domain::{Fixed, Money, Price, Timestamp};

use super::stats::{EquityStats, Inputs, summarize};
use super::trades::Ledger;
use super::{BacktestError, Outcome, approx};
use crate::market::Ohlcv;

/// Per-run book-keeping shared by the drivers.
#[derive(Debug)]
pub(crate) struct Books {
    pub(crate) ledger: Ledger,
    stats: EquityStats,
    /// Bars fully processed (the current bar's 0-based index while it is processed).
    pub(crate) index: u64,
    last_ts: Option<Timestamp>,
    /// Bar index whose close buy-and-hold is measured from.
    warmup: u64,
    buy_hold_from: Option<f64>,
    last_close_exact: Option<Price>,
}

impl Books {
    pub(crate) fn new(warmup: u64) -> Self {
        Books {
            ledger: Ledger::default(),
            stats: EquityStats::new(),
            index: 0,
            last_ts: None,
            warmup,
            buy_hold_from: None,
            last_close_exact: None,
        }
    }

    /// Refuses a bar that is not after the previous one.
    pub(crate) fn open(&mut self, bar: &Ohlcv) -> Result<(), BacktestError> {
        if let Some(previous) = self.last_ts
            && bar.ts_open <= previous
        {
            return Err(BacktestError::TimeWentBackwards {
                index: self.index,
                ts: bar.ts_open,
                previous,
            });
        }
        self.last_ts = Some(bar.ts_open);
        Ok(())
    }

    /// Records the bar's close and the equity at it; returns the close as `f64`.
    pub(crate) fn close(&mut self, bar: &Ohlcv, equity: impl Fn(f64) -> f64) -> f64 {
        let close = approx(bar.close.value());
        self.last_close_exact = Some(bar.close);
        self.stats.record(bar.ts_open, equity(close));
        if self.index == self.warmup {
            self.buy_hold_from = Some(close);
        }
        close
    }

    /// The last close, exact (what open positions are marked at in the end).
    pub(crate) fn last_close(&self) -> Option<(Price, Timestamp)> {
        self.last_close_exact.zip(self.last_ts)
    }

    /// The run's outcome, given the starting cash and the final marked equity.
    pub(crate) fn conclude(
        self,
        initial: Money,
        final_equity: Money,
    ) -> Result<Outcome, BacktestError> {
        let commissions = self
            .ledger
            .trades()
            .iter()
            .try_fold(Fixed::ZERO, |sum, t| sum.checked_add(t.commission.value()))?;
        let summary = summarize(&Inputs {
            stats: &self.stats,
            trades: self.ledger.trades(),
            initial: approx(initial.value()),
            final_equity: final_equity.to_string(),
            final_f64: approx(final_equity.value()),
            buy_hold: self
                .buy_hold_from
                .zip(self.last_close_exact)
                .map(|(from, to)| (from, approx(to.value()))),
            commissions: commissions.to_string(),
        });
        Ok(Outcome {
            summary,
            curve: self.stats.curve(),
            trades: self.ledger.into_trades(),
        })
    }
}
