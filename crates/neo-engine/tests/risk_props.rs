//! Property tests for risk's hard guarantees: the Kelly cap, the sizing budget,
//! and that an approved order never breaks the position limit or the state.

// Helpers outside #[test] functions build known-good values; a failure should stop loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use neo_domain::contracts::{OrderIntentV1, OrderType, TimeInForce};
use neo_domain::{
    Fixed, IdKind, InstrumentId, MessageId, Money, Price, Quantity, Rounding, Side, Timestamp,
};
use neo_engine::risk::{
    AccountView, BracketedEntry, EntryOrder, EntryType, InstrumentView, KellyConfig, Mark,
    RiskEngine, RiskLimits, SizingInput, TradingState, size_quantity,
};
use proptest::prelude::*;

const NOW: Timestamp = Timestamp::from_nanos(1_800_000_000_000_000_000);

/// Any f64 at all, with the awkward ones (NaN, infinities, zeros) made likely.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(f64::MIN_POSITIVE),
        Just(f64::MAX),
        -2.0..2.0f64,
        proptest::num::f64::ANY,
    ]
}

/// Exact decimals from raw units: `raw * 10^-9`.
fn fixed(range: std::ops::RangeInclusive<i128>) -> impl Strategy<Value = Fixed> {
    range.prop_map(Fixed::from_raw)
}

fn btc() -> InstrumentId {
    InstrumentId::new("BTC-USDT").unwrap()
}

fn intent(side: Side, quantity: Quantity, bracketed: bool, reduce_only: bool) -> OrderIntentV1 {
    let id = |k: &str| MessageId::derived(IdKind::Other, k);
    let entry = Price::from_int(100).unwrap();
    let (sl, tp) = match side {
        Side::Buy => (90, 120),
        Side::Sell => (110, 80),
    };
    let bracket = BracketedEntry::new(
        side,
        entry,
        Price::from_int(sl).unwrap(),
        Price::from_int(tp).unwrap(),
    )
    .unwrap();
    let order = EntryOrder {
        id: id("intent"),
        decision_id: id("decision"),
        signal_id: id("signal"),
        instrument: btc(),
        quantity,
        entry_type: EntryType::Limit,
        time_in_force: TimeInForce::Gtc,
        ts_event: NOW,
    };
    let mut intent = bracket.into_intent(order);
    if !bracketed {
        intent.order_type = OrderType::Market;
        intent.limit_price = None;
        intent.stop_loss = None;
        intent.take_profit = None;
    }
    intent.reduce_only = reduce_only;
    intent
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn kelly_never_exceeds_its_cap_for_any_input(
        fraction in any_f64(), cap in any_f64(), floor_scale in any_f64(),
        p in any_f64(), b in any_f64(), dd in any_f64(), limit in any_f64(),
    ) {
        let k = KellyConfig { fraction, cap, floor_scale };
        let f = k.risk_fraction(p, b, dd, limit);
        prop_assert!(f.is_finite());
        prop_assert!((0.0..=k.hard_cap()).contains(&f), "f = {f}, cap = {cap}");
        prop_assert!(f <= 1.0);
        if k.validate().is_ok() {
            prop_assert!(f <= cap);
        }
        let s = k.drawdown_scale(dd, limit);
        prop_assert!((0.0..=1.0).contains(&s), "scale = {s}");
    }

    #[test]
    fn a_sized_quantity_never_risks_more_than_the_budget(
        equity in fixed(-1_000_000_000_000..=1_000_000_000_000_000_000),
        p in 0.0..=1.0f64, b in 0.01..10.0f64, dd in 0.0..0.2f64,
        entry in fixed(1_000_000..=100_000_000_000_000),
        distance in fixed(1..=10_000_000_000_000),
        step in prop_oneof![Just("0.001"), Just("1"), Just("0.000000001"), Just("0.25")],
        requested in proptest::option::of(fixed(0..=1_000_000_000_000_000)),
        sell in any::<bool>(),
    ) {
        let k = KellyConfig::default();
        let f = k.risk_fraction(p, b, dd, 0.05);
        let stop = if sell { entry.checked_add(distance) } else { entry.checked_sub(distance) }.unwrap();
        let step: Quantity = step.parse().unwrap();
        let input = SizingInput {
            equity: Money::new(equity).unwrap(),
            risk_fraction: f,
            entry: Price::new(entry).unwrap(),
            stop: Price::new(stop).unwrap(),
            lot_step: step,
            requested: requested.map(|r| Quantity::new(r).unwrap()),
        };
        let qty = size_quantity(&input).unwrap().value();
        // Exact: qty * distance <= equity * cap, compared at 18 decimal places.
        let cap = Fixed::from_f64(k.cap, Rounding::Ceiling).unwrap();
        let risked = qty.raw() * distance.raw();
        let budget = equity.max(Fixed::ZERO).raw() * cap.raw();
        prop_assert!(risked <= budget, "qty {qty} x {distance} > {equity} x {cap}");
        if let Some(r) = requested {
            prop_assert!(qty <= r);
        }
        prop_assert_eq!(qty.raw() % step.value().raw(), 0, "whole lots only");
    }

    #[test]
    fn an_approved_order_never_breaks_the_position_limit_or_the_state(
        position in fixed(-15_000_000_000..=15_000_000_000),
        open_buy in fixed(0..=5_000_000_000),
        open_sell in fixed(0..=5_000_000_000),
        qty in fixed(1..=12_000_000_000),
        sell in any::<bool>(), bracketed in any::<bool>(), reduce_only in any::<bool>(),
        state in prop_oneof![Just(TradingState::Active), Just(TradingState::Reducing), Just(TradingState::Halted)],
    ) {
        let limits = RiskLimits {
            max_position: Quantity::from_int(10).unwrap(),
            max_gross_notional: Money::from_int(1_000_000).unwrap(),
            ..RiskLimits::default()
        };
        let limit = limits.max_position.value();
        let mut engine = RiskEngine::new(limits).unwrap();
        engine.set_state(state, NOW, "ops", "test").unwrap();
        let instruments = BTreeMap::from([(btc(), InstrumentView {
            net_quantity: position,
            open_buy: Quantity::new(open_buy).unwrap(),
            open_sell: Quantity::new(open_sell).unwrap(),
            mark: Some(Mark { price: Price::from_int(100).unwrap(), at: NOW }),
        })]);
        let equity = Money::from_int(100_000).unwrap();
        let view = AccountView {
            now: NOW, equity, day_start_equity: equity, high_water_mark: equity,
            gross_notional: Money::ZERO, open_orders: 0, instruments: &instruments,
        };
        let side = if sell { Side::Sell } else { Side::Buy };
        let order = intent(side, Quantity::new(qty).unwrap(), bracketed, reduce_only);
        let Ok(approved) = engine.check(order, &view) else { return Ok(()) };
        // Worst case: every open order on this side fills along with this one.
        let worst = match approved.get().side {
            Side::Buy => position.checked_add(open_buy).unwrap().checked_add(qty).unwrap(),
            Side::Sell => position.checked_sub(open_sell).unwrap().checked_sub(qty).unwrap(),
        };
        prop_assert!(worst.abs() <= limit.max(position.abs()), "|{worst}| beyond {limit}");
        let reduces = worst.abs() <= position.abs() && (worst.is_zero() || worst.is_negative() == position.is_negative());
        if state == TradingState::Halted || reduce_only {
            prop_assert!(reduces, "{position} -> {worst} does not reduce");
        }
        if !reduces {
            prop_assert!(approved.get().stop_loss.is_some() && approved.get().take_profit.is_some());
        }
    }
}
