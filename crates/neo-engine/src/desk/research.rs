//! The desk as a research account: the sma/ema backtests trade through the
//! very desk `neo run` uses (its risk engine, paper OMS, portfolio and
//! round-trip books), so an order cannot be judged, filled or booked
//! differently in a backtest than live. Only the policy around it differs, as
//! backtesting.py's semantics require: the strategy sizes its own market
//! orders (all the cash, a fraction, or units), they fill against the bar
//! (its open, with the OMS's slippage and fees), and the trading-state
//! machine is not driven by equity (backtesting.py has no drawdown halt; the
//! research limits make risk judge every order without stopping a strategy
//! that is always in the market).

use neo_domain::contracts::{CandleV1, OrderIntentV1, OrderType, TickV1, TimeInForce};
use neo_domain::{InstrumentId, Money, Price, Quantity, Side, Timestamp};

use super::{Desk, DeskError, Refused, Step};
use crate::oms::OmsEvent;

/// A good-till-cancelled market order without brackets; `ids` are its signal,
/// decision and own id. Exits and research orders are both this shape.
pub(crate) fn market_intent(
    ids: [neo_domain::MessageId; 3],
    instrument: InstrumentId,
    side: Side,
    quantity: Quantity,
    reduce_only: bool,
    arrival_price: Option<Price>,
    now: Timestamp,
) -> OrderIntentV1 {
    let [signal_id, decision_id, id] = ids;
    OrderIntentV1 {
        id,
        decision_id,
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
        arrival_price,
        ts_event: now,
    }
}

/// A market order a research strategy sized itself, with its ids (the caller
/// derives them cheaply from the bar, so millions of bars hash nothing).
#[derive(Debug, Clone)]
pub struct ResearchOrder {
    /// The order, as risk will judge it.
    pub intent: OrderIntentV1,
}

impl ResearchOrder {
    /// A market order for `quantity` on `side`, arriving at `price`; ids as given.
    #[allow(clippy::too_many_arguments)]
    pub fn market(
        ids: [neo_domain::MessageId; 3],
        instrument: InstrumentId,
        side: Side,
        quantity: Quantity,
        reduce_only: bool,
        price: Price,
        now: Timestamp,
    ) -> Self {
        ResearchOrder {
            intent: market_intent(
                ids,
                instrument,
                side,
                quantity,
                reduce_only,
                Some(price),
                now,
            ),
        }
    }
}

impl Desk {
    /// Marks the instrument at `price` (a bar's open or close) as the quote risk sees.
    pub fn mark_research(
        &mut self,
        instrument: InstrumentId,
        price: Price,
        at: Timestamp,
    ) -> Result<(), DeskError> {
        self.ticks.insert(
            instrument,
            TickV1 {
                instrument,
                price,
                size: Quantity::ZERO,
                bid: None,
                ask: None,
                ts_event: at,
            },
        );
        self.portfolio.mark(instrument, price, at)?;
        Ok(())
    }

    /// Risk-checks `order` against the account, then works it against `candle`
    /// (a market order fills at the bar's open) and books the fills. A refusal
    /// is in the step, with every reason, and nothing is placed.
    pub fn research_order(
        &mut self,
        order: ResearchOrder,
        candle: &CandleV1,
    ) -> Result<Step, DeskError> {
        let mut step = Step::default();
        let now = order.intent.ts_event;
        let instruments = self.instrument_views();
        let view = self.view(now, &instruments);
        let approved = match self.risk.check(order.intent.clone(), &view) {
            Ok(approved) => approved,
            Err(refusal) => {
                step.refusal = Some(Refused::from_risk(order.intent, refusal));
                return Ok(step);
            }
        };
        step.intents.push(order.intent);
        let submitted = self.oms.submit(approved, now)?;
        self.apply(submitted.events, now, &mut step)?;
        let events: Vec<OmsEvent> = self.oms.on_candle(candle)?;
        self.apply(events, now, &mut step)?;
        Ok(step)
    }

    /// Drops settled orders once there are `threshold` or more (a long run's memory stays bounded).
    pub fn forget_settled_orders(&mut self, threshold: usize) {
        if self.oms.known_orders() >= threshold {
            self.oms.forget_settled();
        }
    }

    /// Cash now.
    pub fn cash(&self) -> Money {
        self.portfolio.cash()
    }
}
