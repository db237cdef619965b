//! The account as risk and the API see it: views built from portfolio, OMS and marks.

use std::collections::BTreeMap;

use neo_domain::contracts::PositionV1;
use neo_domain::{Fixed, InstrumentId, Money, Rounding, Timestamp};
use serde::{Deserialize, Serialize};

use super::{Desk, DeskError};
use crate::risk::{AccountView, InstrumentView, Mark, TradingState};

/// Cash, equity, PnL, drawdown and trading state (`GET /v1/portfolio`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// Account currency.
    pub currency: String,
    /// Cash the account started with.
    pub initial_cash: Money,
    /// Cash now.
    pub cash: Money,
    /// Cash plus marked positions.
    pub equity: Money,
    /// Closed-trade PnL net of fees.
    pub realized_pnl: Money,
    /// Open positions' PnL at the marks.
    pub unrealized_pnl: Money,
    /// Highest equity seen (drawdown is measured from it).
    pub high_water_mark: Money,
    /// `(peak - equity) / peak`, a fraction.
    pub drawdown: Fixed,
    /// The same since the UTC day began.
    pub daily_drawdown: Fixed,
    /// Active, reducing or halted.
    pub trading_state: TradingState,
    /// Orders working now.
    pub open_orders: usize,
    /// Every instrument that traded.
    pub positions: Vec<PositionV1>,
    /// When this was computed.
    pub ts: Timestamp,
}

impl Desk {
    /// The account now.
    pub fn summary(&self, now: Timestamp) -> Result<AccountSummary, DeskError> {
        let p = &self.portfolio;
        let positions = p
            .positions()
            .map(|(id, _)| p.position_contract(*id, now))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AccountSummary {
            currency: p.currency().to_owned(),
            initial_cash: p.initial_cash(),
            cash: p.cash(),
            equity: p.equity()?,
            realized_pnl: p.realized_pnl()?,
            unrealized_pnl: p.unrealized_pnl()?,
            high_water_mark: p.high_water_mark(),
            drawdown: p.drawdown()?,
            daily_drawdown: p.daily_drawdown()?,
            trading_state: self.risk.state(),
            open_orders: self.oms.open_orders(),
            positions,
            ts: now,
        })
    }

    /// Per-instrument views: positions, open order quantities and marks.
    pub(super) fn instrument_views(&self) -> BTreeMap<InstrumentId, InstrumentView> {
        let mut ids: Vec<InstrumentId> = self.ticks.keys().copied().collect();
        ids.extend(self.portfolio.positions().map(|(id, _)| *id));
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .map(|id| {
                let (open_buy, open_sell) = self.oms.open_quantity(id).unwrap_or_default();
                let view = InstrumentView {
                    net_quantity: self.net(id),
                    open_buy,
                    open_sell,
                    mark: self.ticks.get(&id).map(|t| Mark {
                        price: t.price,
                        at: t.ts_event,
                    }),
                };
                (id, view)
            })
            .collect()
    }

    /// The account view risk judges against.
    pub(super) fn view<'a>(
        &self,
        now: Timestamp,
        instruments: &'a BTreeMap<InstrumentId, InstrumentView>,
    ) -> AccountView<'a> {
        let p = &self.portfolio;
        let equity = p.equity().unwrap_or_default();
        let gross = gross_notional(instruments);
        AccountView {
            now,
            equity,
            day_start_equity: p.day_start_equity(),
            high_water_mark: p.high_water_mark(),
            gross_notional: Money::new(gross).unwrap_or_default(),
            open_orders: u32::try_from(self.oms.open_orders()).unwrap_or(u32::MAX),
            instruments,
        }
    }
}

/// Sum of |position| x mark, rounded up (unmarked positions count nothing yet).
pub(super) fn gross_notional(instruments: &BTreeMap<InstrumentId, InstrumentView>) -> Fixed {
    instruments
        .values()
        .filter_map(|v| {
            let mark = v.mark?.price.value();
            v.net_quantity.abs().mul_round(mark, Rounding::Ceiling).ok()
        })
        .try_fold(Fixed::ZERO, |sum, x| sum.checked_add(x))
        .unwrap_or(Fixed::MAX)
}
