//! Unit and table tests for the risk module; shared builders live here.

mod brackets;
mod calibration;
mod kelly;
mod pretrade;
mod sizing;
mod state;

use std::collections::BTreeMap;

use neo_domain::contracts::{OrderIntentV1, OrderType, TimeInForce};
use neo_domain::{Fixed, IdKind, InstrumentId, MessageId, Money, Price, Side, Timestamp};

use super::{AccountView, InstrumentView, Mark, RiskEngine, RiskLimits};

pub(super) const NOW: Timestamp = Timestamp::from_nanos(1_800_000_000_000_000_000);

pub(super) fn fx(s: &str) -> Fixed {
    s.parse().unwrap()
}

pub(super) fn px(s: &str) -> Price {
    s.parse().unwrap()
}

pub(super) fn money(s: &str) -> Money {
    s.parse().unwrap()
}

pub(super) fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

/// A bracketed limit buy or sell of `qty` BTC at 100 (brackets 90 / 120 for a buy).
pub(super) fn entry(side: Side, qty: &str) -> OrderIntentV1 {
    let id = |k: &str| MessageId::derived(IdKind::Other, k);
    let (sl, tp) = match side {
        Side::Buy => ("90", "120"),
        Side::Sell => ("110", "80"),
    };
    OrderIntentV1 {
        id: id("intent"),
        decision_id: id("decision"),
        signal_id: id("signal"),
        instrument: btc(),
        side,
        quantity: qty.parse().unwrap(),
        order_type: OrderType::Limit,
        limit_price: Some(px("100")),
        stop_price: None,
        stop_loss: Some(px(sl)),
        take_profit: Some(px(tp)),
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        arrival_price: None,
        ts_event: NOW,
    }
}

/// An unbracketed exit (reduce-only market order).
pub(super) fn exit(side: Side, qty: &str) -> OrderIntentV1 {
    OrderIntentV1 {
        order_type: OrderType::Market,
        limit_price: None,
        stop_loss: None,
        take_profit: None,
        reduce_only: true,
        ..entry(side, qty)
    }
}

/// Owns what an [`AccountView`] borrows; healthy and flat by default.
pub(super) struct Account {
    pub(super) now: Timestamp,
    pub(super) equity: Money,
    pub(super) day_start_equity: Money,
    pub(super) high_water_mark: Money,
    pub(super) gross_notional: Money,
    pub(super) open_orders: u32,
    pub(super) instruments: BTreeMap<InstrumentId, InstrumentView>,
}

impl Account {
    pub(super) fn new() -> Self {
        let fresh = InstrumentView {
            mark: Some(Mark {
                price: px("100"),
                at: NOW.add_nanos(-1_000_000_000),
            }),
            ..InstrumentView::default()
        };
        Account {
            now: NOW,
            equity: money("100000"),
            day_start_equity: money("100000"),
            high_water_mark: money("100000"),
            gross_notional: Money::ZERO,
            open_orders: 0,
            instruments: BTreeMap::from([(btc(), fresh)]),
        }
    }

    pub(super) fn with_position(mut self, net: &str) -> Self {
        self.btc_mut().net_quantity = fx(net);
        self
    }

    pub(super) fn btc_mut(&mut self) -> &mut InstrumentView {
        self.instruments.entry(btc()).or_default()
    }

    pub(super) fn view(&self) -> AccountView<'_> {
        AccountView {
            now: self.now,
            equity: self.equity,
            day_start_equity: self.day_start_equity,
            high_water_mark: self.high_water_mark,
            gross_notional: self.gross_notional,
            open_orders: self.open_orders,
            instruments: &self.instruments,
        }
    }
}

/// Limits small enough to hit in tests: 10 BTC, 5000 notional, 3 orders, 1000 loss, 5% drawdown.
pub(super) fn limits() -> RiskLimits {
    RiskLimits {
        max_position: "10".parse().unwrap(),
        max_gross_notional: money("5000"),
        max_open_orders: 3,
        daily_loss_limit: money("1000"),
        ..RiskLimits::default()
    }
}

pub(super) fn engine() -> RiskEngine {
    RiskEngine::new(limits()).unwrap()
}
