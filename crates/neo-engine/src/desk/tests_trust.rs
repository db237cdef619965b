#![allow(clippy::float_cmp, clippy::field_reassign_with_default)]

//! The decision layer acting as specified: refused exits change nothing, exits
//! pass while halted, calibration learns every round trip's raw confidence,
//! sizing names its bound, cash is never overdrawn, and memory restores exactly.

use super::*;
use crate::risk::{SizeBound, StateCause, TradingState};

fn enter(desk: &mut Desk, key: &str, now: Timestamp) -> Step {
    let step = desk
        .on_signal(&signal(key, SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    assert!(step.refusal.is_none(), "{:?}", step.refusal);
    step
}

fn exit_signal(desk: &mut Desk, key: &str, now: Timestamp) -> Step {
    desk.on_signal(&signal(key, SignalType::Exit, Some(Side::Sell), now), now)
        .unwrap()
}

#[test]
fn a_refused_exit_leaves_the_position_and_its_brackets_exactly_as_they_were() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    enter(&mut desk, "in", now);
    let before: Vec<OrderV1> = desk
        .oms
        .active_orders(btc())
        .into_iter()
        .map(|id| desk.oms.order(id).unwrap().clone())
        .collect();
    assert_eq!(before.len(), 2);
    let position = desk.net(btc());
    // Ten minutes without a tick: the data is stale and risk refuses the exit.
    let stale = now.add_nanos(10 * MINUTE);
    let step = exit_signal(&mut desk, "out", stale);
    let refusal = step.refusal.expect("refused");
    assert!(
        refusal.codes.iter().any(|c| c == "stale_market_data"),
        "{:?}",
        refusal.codes
    );
    assert!(
        step.orders.is_empty(),
        "nothing cancelled: {:?}",
        step.orders
    );
    assert!(step.intents.is_empty() && step.fills.is_empty());
    assert_eq!(desk.net(btc()), position);
    let after: Vec<OrderV1> = desk
        .oms
        .active_orders(btc())
        .into_iter()
        .map(|id| desk.oms.order(id).unwrap().clone())
        .collect();
    assert_eq!(before, after, "the brackets still work, unchanged");
}

#[test]
fn exits_and_flatten_pass_while_halted_and_entries_do_not() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    enter(&mut desk, "in", now);
    let halt = desk
        .set_trading_state(TradingState::Halted, "ops", "news", now)
        .unwrap();
    assert_eq!(halt.state_changes.len(), 1);
    assert!(halt.memory.is_some(), "the halt is persisted");
    assert_eq!(desk.trading_status().cause.reason(), "news");
    let refused = enter_refused(&mut desk, "again", now);
    assert!(refused.iter().any(|c| c == "trading_halted"), "{refused:?}");
    let step = exit_signal(&mut desk, "out", now.add_nanos(1));
    assert!(step.refusal.is_none(), "{:?}", step.refusal);
    assert!(desk.net(btc()).is_zero());
    assert_eq!(desk.oms.open_orders(), 0);
    // Flatten with nothing left does nothing.
    let (step, report) = desk
        .flatten(MessageId::derived(IdKind::Other, "flat"), now.add_nanos(2))
        .unwrap();
    assert!(report.closed.is_empty() && step.intents.is_empty());
    assert!(
        desk.set_trading_state(TradingState::Reducing, "ops", "x", now)
            .is_err()
    );
}

fn enter_refused(desk: &mut Desk, key: &str, now: Timestamp) -> Vec<String> {
    let step = desk
        .on_signal(&signal(key, SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    step.refusal.map(|r| r.codes).unwrap_or_default()
}

#[test]
fn flatten_closes_through_risk_while_halted() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    enter(&mut desk, "in", now);
    desk.set_trading_state(TradingState::Halted, "ops", "stop", now)
        .unwrap();
    let command = MessageId::derived(IdKind::Other, "flatten-1");
    let (step, report) = desk.flatten(command, now.add_nanos(1)).unwrap();
    assert_eq!(report.closed, vec![btc()]);
    assert!(report.refused.is_empty());
    assert_eq!(step.fills.len(), 1);
    assert!(desk.net(btc()).is_zero());
    assert_eq!(desk.oms.open_orders(), 0);
    assert_eq!(step.outcomes.len(), 1, "the round trip is learned");
}

#[test]
fn flatten_after_a_restore_finds_working_orders_before_any_tick() {
    let (mut first, now, _) = warm(DeskConfig::default());
    let step = enter(&mut first, "in", now);
    // Only the orders come back (as a resting order would): no fills or books, no tick yet.
    let mut restore = Restore {
        fills: Vec::new(),
        ..what_a_store_holds(&step)
    };
    if let Some(memory) = &mut restore.memory {
        memory.ledger = None;
    }
    let mut second = Desk::new(DeskConfig::default(), steps(), now).unwrap();
    second.restore(restore).unwrap();
    let working = second.oms.open_orders();
    assert!(working > 0);
    let command = MessageId::derived(IdKind::Other, "flatten-restored");
    second.flatten(command, now.add_nanos(1)).unwrap();
    assert_eq!(
        second.oms.open_orders(),
        0,
        "{working} working orders were left"
    );
}

#[test]
fn calibration_learns_the_raw_confidence_of_every_round_trip() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let step = enter(&mut desk, "in", now);
    let entry = step.fills[0].entry.clone().unwrap();
    let decision = step.decision.unwrap();
    assert_eq!(entry.raw_confidence, decision.confidence);
    // Closed by an exit signal, not a bracket: still one outcome, at the raw confidence.
    let step = exit_signal(&mut desk, "out", now.add_nanos(1));
    assert_eq!(step.outcomes.len(), 1, "{:?}", step.outcomes);
    let outcome = &step.outcomes[0];
    assert_eq!(outcome.raw_confidence, entry.raw_confidence);
    assert_eq!(outcome.won, outcome.pnl.is_positive());
    assert_eq!(desk.calibrator.outcomes(), 1);
    assert_eq!(
        desk.calibrator.bins().counts(entry.raw_confidence).0,
        1,
        "binned by the raw confidence"
    );
    let memory = step.memory.expect("the outcome is persisted");
    assert_eq!(memory.calibration.total(), 1);
    assert!(memory.trips.is_empty() && memory.entries.is_empty());
}

#[test]
fn the_entry_names_the_bound_that_sized_it() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let step = enter(&mut desk, "in", now);
    let sizing = step.sizing.unwrap();
    // A one-minute ATR stop is tight: the quarter-of-equity notional binds.
    assert_eq!(sizing.bound_by, SizeBound::Notional, "{sizing:?}");
    assert!(sizing.quantity < sizing.risk_quantity);
    assert_eq!(sizing.quantity, step.intents[0].quantity);
}

#[test]
fn a_cash_account_never_spends_cash_it_does_not_have() {
    let mut config = DeskConfig::default();
    config.max_entry_fraction = Fixed::from_int(10);
    config.kelly.cap = 1.0;
    config.kelly.fraction = 1.0;
    config.risk.max_gross_notional = Money::from_int(10_000_000).unwrap();
    let (mut desk, now, _) = warm(config);
    let mut codes = Vec::new();
    for i in 0..12 {
        let at = now.add_nanos(i);
        let step = desk
            .on_signal(
                &signal(&format!("b{i}"), SignalType::Entry, Some(Side::Buy), at),
                at,
            )
            .unwrap();
        let cash = desk.summary(at).unwrap().cash;
        assert!(!cash.value().is_negative(), "buy {i}: cash {cash}");
        if let Some(r) = step.refusal {
            codes.extend(r.codes);
        } else {
            assert_eq!(step.sizing.unwrap().bound_by, SizeBound::Cash);
        }
    }
    assert!(
        codes.iter().any(|c| c == "insufficient_cash"),
        "the account ran out of cash and said so: {codes:?}"
    );
}

#[test]
fn no_edge_after_costs_is_refused_with_the_reason() {
    let mut config = DeskConfig::default();
    config.oms.fees.taker_bps = Fixed::from_int(300);
    let (mut desk, now, _) = warm(config);
    let codes = enter_refused(&mut desk, "costly", now);
    assert_eq!(codes, ["no_edge"]);
}

#[test]
fn a_drawdown_halt_lifts_at_the_day_roll_and_the_memory_restores_it() {
    let mut config = DeskConfig::default();
    config.risk.max_drawdown = "0.001".parse().unwrap();
    let (mut desk, now, mid) = warm(config.clone());
    enter(&mut desk, "in", now);
    // A fall that stays above the stop: the drawdown halts, the bracket still works.
    let dip = desk.on_tick(&tick(mid * 0.995, now.add_nanos(2))).unwrap();
    let halted = dip.state_changes.last().expect("halted");
    assert_eq!(halted.to, TradingState::Halted);
    assert!(matches!(halted.cause, StateCause::Drawdown { .. }));
    let memory = dip.memory.clone().unwrap();
    // A restart restores the halt exactly.
    let (mut second, _, _) = warm(config);
    second
        .restore(Restore {
            fills: Vec::new(),
            orders: Vec::new(),
            memory: Some(memory.clone()),
        })
        .unwrap();
    assert_eq!(second.trading_status(), desk.trading_status());
    assert_eq!(second.memory().risk, memory.risk);
    // The next UTC day lifts it.
    let tomorrow = Timestamp::from_nanos(
        (now.as_nanos().div_euclid(86_400_000_000_000) + 1) * 86_400_000_000_000,
    );
    let step = desk.on_tick(&tick(mid * 0.995, tomorrow)).unwrap();
    assert!(
        step.state_changes
            .iter()
            .any(|c| c.cause == StateCause::NewDay),
        "{:?}",
        step.state_changes
    );
    assert_eq!(desk.trading_status().state, TradingState::Active);
    assert_eq!(desk.memory().day_start_equity, desk.equity().unwrap());
}

#[test]
fn a_forecast_becomes_the_probability_that_the_bracket_wins() {
    // No drift: the stop's share of the bracket's width.
    assert!((bracket_probability(0.5, 5.0, 1.0, 2.0) - 1.0 / 3.0).abs() < 1e-9);
    // An up-move forecast raises it, a down-move forecast lowers it, monotonically.
    let up = bracket_probability(0.6, 5.0, 1.0, 2.0);
    let more = bracket_probability(0.7, 5.0, 1.0, 2.0);
    let down = bracket_probability(0.4, 5.0, 1.0, 2.0);
    assert!(
        down < 1.0 / 3.0 && 1.0 / 3.0 < up && up < more,
        "{down} {up} {more}"
    );
    // P(up in 5 bars) = 0.6 is far from P(target before stop) = 0.6.
    assert!(up < 0.5, "{up}");
    for bad in [f64::NAN, f64::INFINITY] {
        assert_eq!(bracket_probability(bad, 5.0, 1.0, 2.0), 0.0);
        assert_eq!(bracket_probability(0.6, 5.0, bad, 2.0), 0.0);
    }
    assert_eq!(bracket_probability(0.6, 0.0, 1.0, 2.0), 0.0);
}
