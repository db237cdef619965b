//! The account's books as the store keeps them between restarts: cash and
//! each instrument's quantity, cost basis and realized PnL, exactly. Committed
//! with every step that books a fill (in the desk's memory), it lets a restart
//! resume without replaying every fill ever made, so restore time does not
//! grow with the account's history and old fills can be pruned. Marks are not
//! in it (they change with every tick, the books only with fills).

use std::collections::BTreeMap;

use neo_domain::{Fixed, InstrumentId};
use serde::{Deserialize, Serialize};

use super::{Portfolio, PortfolioError, Position};

/// One instrument's books.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holding {
    /// Signed net quantity.
    pub quantity: Fixed,
    /// Signed notional paid for the open quantity.
    pub cost_basis: Fixed,
    /// Closed-trade PnL net of fees.
    pub realized: Fixed,
}

/// The account's books: what fills made of the starting cash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    /// Cash after every fill and fee.
    pub cash: Fixed,
    /// Every instrument ever traded.
    pub holdings: BTreeMap<InstrumentId, Holding>,
}

impl Portfolio {
    /// The books now.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            cash: self.cash,
            holdings: self
                .positions
                .iter()
                .map(|(i, p)| {
                    let holding = Holding {
                        quantity: p.quantity,
                        cost_basis: p.cost_basis,
                        realized: p.realized,
                    };
                    (*i, holding)
                })
                .collect(),
        }
    }

    /// Resumes from stored books instead of replaying fills: run once, on a new
    /// portfolio, before any fill. Positions are unmarked until their next price.
    pub fn restore_ledger(&mut self, ledger: &Ledger) -> Result<(), PortfolioError> {
        self.cash = ledger.cash;
        self.positions = ledger
            .holdings
            .iter()
            .map(|(i, h)| {
                let position = Position {
                    quantity: h.quantity,
                    cost_basis: h.cost_basis,
                    realized: h.realized,
                    mark: None,
                };
                (*i, position)
            })
            .collect();
        self.update_marks()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use neo_domain::contracts::FillV1;
    use neo_domain::{IdKind, MessageId, Money, Price, Quantity, Side, Timestamp};
    use proptest::prelude::*;

    use super::*;

    fn fill(n: u64, instrument: InstrumentId, buy: bool, qty: i64, price: i64) -> FillV1 {
        FillV1 {
            id: MessageId::derived(IdKind::Other, &format!("ledger-fill-{n}")),
            order_id: MessageId::derived(IdKind::Other, &format!("ledger-order-{n}")),
            signal_id: MessageId::derived(IdKind::Other, "ledger-signal"),
            instrument,
            side: if buy { Side::Buy } else { Side::Sell },
            quantity: Quantity::from_int(qty).unwrap(),
            price: Price::from_int(price).unwrap(),
            fee: Money::from_int(i64::try_from(n % 7).unwrap()).unwrap(),
            liquidity: neo_domain::contracts::Liquidity::Taker,
            arrival_price: None,
            ts_event: Timestamp::from_nanos(i64::try_from(n).unwrap() * 1_000_000_000),
        }
    }

    proptest! {
        /// Books restored from a ledger equal the books replayed from every fill.
        #[test]
        fn a_ledger_restores_what_the_fills_made(
            trades in prop::collection::vec((any::<bool>(), any::<bool>(), 1i64..50, 90i64..110), 0..60)
        ) {
            let (btc, eth) = (InstrumentId::new("BTC-USDT").unwrap(), InstrumentId::new("ETH-USDT").unwrap());
            let start = Timestamp::from_nanos(0);
            let cash = Money::from_int(1_000_000).unwrap();
            let mut replayed = Portfolio::new("USD", cash, start).unwrap();
            for (n, (first, buy, qty, price)) in trades.iter().enumerate() {
                let instrument = if *first { btc } else { eth };
                let f = fill(n as u64 + 1, instrument, *buy, *qty, *price);
                replayed.apply_fill(&f).unwrap();
            }
            let mut restored = Portfolio::new("USD", cash, start).unwrap();
            restored.restore_ledger(&replayed.ledger()).unwrap();
            prop_assert_eq!(restored.ledger(), replayed.ledger());
            prop_assert_eq!(restored.cash(), replayed.cash());
            prop_assert_eq!(restored.realized_pnl().unwrap(), replayed.realized_pnl().unwrap());
            for instrument in [btc, eth] {
                let mark = Price::from_int(100).unwrap();
                replayed.mark(instrument, mark, start).unwrap();
                restored.mark(instrument, mark, start).unwrap();
            }
            prop_assert_eq!(restored.equity().unwrap(), replayed.equity().unwrap());
            let back: Ledger = serde_json::from_value(serde_json::to_value(restored.ledger()).unwrap()).unwrap();
            prop_assert_eq!(back, replayed.ledger());
        }
    }
}
