//! Trading state transitions: automatic drawdown halts, operators, the day roll.

use neo_domain::{Fixed, Side};

use super::{Account, NOW, engine, entry, exit, fx, limits, money};
use crate::risk::{RiskEngine, StateCause, StateChange, StateError, TradingState, drawdown};

#[test]
fn drawdown_is_measured_from_the_peak_and_rounded_up() {
    assert_eq!(drawdown(money("95000"), money("100000")), fx("0.05"));
    assert_eq!(drawdown(money("100"), money("300")), fx("0.666666667"));
    assert_eq!(
        drawdown(money("101"), money("100")),
        Fixed::ZERO,
        "a lagging peak is no loss"
    );
    assert_eq!(drawdown(money("-50"), money("100")), fx("1.5"));
    assert_eq!(
        drawdown(money("0"), money("0")),
        Fixed::ONE,
        "no equity: nothing to risk"
    );
    assert_eq!(drawdown(money("-5"), money("-1")), Fixed::ONE);
}

fn breached(account: &mut Account) {
    account.equity = money("95000");
}

#[test]
fn a_drawdown_at_the_limit_halts_by_itself_and_says_so() {
    let mut account = Account::new();
    let mut engine = engine();
    account.equity = money("95000.01");
    assert!(
        engine
            .check(exit(Side::Sell, "1"), &account.view())
            .is_err(),
        "flat: no reduction"
    );
    assert_eq!(
        engine.state(),
        TradingState::Reducing,
        "4.99999% is within the limit, beyond half of it"
    );
    breached(&mut account);
    let refusal = engine
        .check(entry(Side::Buy, "1"), &account.view())
        .unwrap_err();
    assert_eq!(refusal.codes(), ["trading_halted", "daily_loss_limit"]);
    let change = refusal.state_change.expect("the halt is reported");
    assert_eq!(
        change,
        StateChange {
            from: TradingState::Reducing,
            to: TradingState::Halted,
            at: NOW,
            cause: StateCause::Drawdown {
                drawdown: fx("0.05"),
                limit: fx("0.05")
            },
        }
    );
    let json = serde_json::to_value(&change).unwrap();
    assert_eq!(
        json["cause"],
        serde_json::json!({"kind": "drawdown", "drawdown": "0.05", "limit": "0.05"})
    );
    assert_eq!(json["to"], "halted");
    // Reported once: the next check in the same breach changes nothing.
    let again = engine
        .check(entry(Side::Buy, "1"), &account.view())
        .unwrap_err();
    assert_eq!(again.state_change, None);
    assert_eq!(
        engine.on_equity(account.equity, account.high_water_mark, NOW),
        None
    );
}

#[test]
fn operators_can_flatten_but_not_resume_during_a_breach() {
    let mut account = Account::new().with_position("3");
    breached(&mut account);
    let mut engine = engine();
    assert!(
        engine
            .on_equity(account.equity, account.high_water_mark, NOW)
            .is_some()
    );
    assert_eq!(
        engine.set_state(TradingState::Active, NOW, "ops", "test"),
        Err(StateError::DrawdownBeyondLimit {
            drawdown: fx("0.05"),
            limit: fx("0.05")
        })
    );
    let change = engine
        .set_state(TradingState::Reducing, NOW, "ops", "test")
        .unwrap()
        .unwrap();
    assert_eq!(
        (change.from, change.to, change.cause),
        (
            TradingState::Halted,
            TradingState::Reducing,
            StateCause::Operator {
                by: "ops".to_owned(),
                reason: "test".to_owned()
            }
        )
    );
    // Edge-triggered: the ongoing breach does not re-halt the wind-down.
    let approved = engine.check(exit(Side::Sell, "3"), &account.view());
    assert!(approved.is_ok());
    assert_eq!(engine.state(), TradingState::Reducing);
    // Recovery clears the breach, so the operator may resume.
    account.equity = money("96000");
    assert_eq!(
        engine.on_equity(account.equity, account.high_water_mark, NOW),
        None
    );
    let resumed = engine
        .set_state(TradingState::Active, NOW, "ops", "test")
        .unwrap()
        .unwrap();
    assert_eq!(resumed.to, TradingState::Active);
    // A fresh breach halts again.
    account.equity = money("94000");
    let halt = engine
        .on_equity(account.equity, account.high_water_mark, NOW)
        .unwrap();
    assert_eq!(
        (halt.from, halt.to),
        (TradingState::Active, TradingState::Halted)
    );
}

#[test]
fn a_breach_in_reducing_halts_too() {
    let mut engine = engine();
    engine
        .set_state(TradingState::Reducing, NOW, "ops", "test")
        .unwrap();
    let halt = engine
        .on_equity(money("90000"), money("100000"), NOW)
        .unwrap();
    assert_eq!(
        (halt.from, halt.to),
        (TradingState::Reducing, TradingState::Halted)
    );
}

#[test]
fn a_new_day_lifts_only_a_drawdown_halt() {
    let later = NOW.add_nanos(86_400_000_000_000);
    // Drawdown halt: start_day lifts it, and says so.
    let mut engine = engine();
    engine
        .on_equity(money("95000"), money("100000"), NOW)
        .unwrap();
    let change = engine.start_day(later).unwrap();
    assert_eq!(
        (change.from, change.to, change.at, change.cause),
        (
            TradingState::Halted,
            TradingState::Active,
            later,
            StateCause::NewDay
        )
    );
    // The caller kept the old peak: still beyond the limit, so it halts again.
    let again = engine
        .on_equity(money("95000"), money("100000"), later)
        .unwrap();
    assert_eq!(again.to, TradingState::Halted);
    // With the peak reset to the new day's equity, trading goes on.
    engine.start_day(later).unwrap();
    assert_eq!(
        engine.on_equity(money("95000"), money("95000"), later),
        None
    );
    assert_eq!(engine.state(), TradingState::Active);

    // An operator's halt survives the day roll, even if a breach follows it.
    let mut engine = engine_halted_by_operator();
    assert_eq!(engine.on_equity(money("90000"), money("100000"), NOW), None);
    assert_eq!(engine.start_day(later), None);
    assert_eq!(engine.state(), TradingState::Halted);
    // An operator's reducing state too.
    let mut engine = super::engine();
    engine
        .set_state(TradingState::Reducing, NOW, "ops", "test")
        .unwrap();
    assert_eq!(engine.start_day(later), None);
    assert_eq!(engine.state(), TradingState::Reducing);
}

fn engine_halted_by_operator() -> RiskEngine {
    let mut engine = engine();
    let change = engine
        .set_state(TradingState::Halted, NOW, "ops", "test")
        .unwrap()
        .unwrap();
    assert_eq!(
        change.cause,
        StateCause::Operator {
            by: "ops".to_owned(),
            reason: "test".to_owned()
        }
    );
    engine
}

#[test]
fn operator_transitions_table() {
    use TradingState::{Active, Halted, Reducing};
    for from in [Active, Reducing, Halted] {
        for to in [Active, Reducing, Halted] {
            let mut engine = engine();
            engine.set_state(from, NOW, "ops", "test").unwrap();
            let change = engine.set_state(to, NOW, "ops", "test").unwrap();
            assert_eq!(engine.state(), to, "{from} -> {to}");
            assert_eq!(
                change.is_some(),
                from != to,
                "{from} -> {to}: a change only when it changes"
            );
        }
    }
}

#[test]
fn invalid_limits_are_refused_and_keep_the_old_ones() {
    let mut bad = limits();
    bad.max_open_orders = 0;
    bad.max_drawdown = fx("1.2");
    assert_eq!(RiskEngine::new(bad.clone()).unwrap_err().problems.len(), 2);
    let mut engine = engine();
    assert!(engine.set_limits(bad).is_err());
    assert_eq!(engine.limits(), &limits());
    let mut looser = limits();
    looser.max_open_orders = 10;
    engine.set_limits(looser).unwrap();
    assert_eq!(engine.limits().max_open_orders, 10);
}

#[test]
fn half_the_drawdown_limit_reduces_and_recovery_resumes_by_itself() {
    let mut engine = engine();
    let peak = money("100000");
    assert_eq!(engine.on_equity(money("97600"), peak, NOW), None, "2.4%");
    let reduce = engine.on_equity(money("97500"), peak, NOW).unwrap();
    assert_eq!(
        (reduce.from, reduce.to),
        (TradingState::Active, TradingState::Reducing)
    );
    assert_eq!(reduce.cause.by(), "risk");
    assert_eq!(engine.on_equity(money("97000"), peak, NOW), None, "once");
    let eased = engine.on_equity(money("97600"), peak, NOW).unwrap();
    assert_eq!(
        (eased.from, eased.to),
        (TradingState::Reducing, TradingState::Active)
    );
    // An operator's halt is never lifted by a recovery.
    engine
        .set_state(TradingState::Halted, NOW, "ops", "maintenance")
        .unwrap();
    assert_eq!(engine.on_equity(money("100000"), peak, NOW), None);
    assert_eq!(engine.state(), TradingState::Halted);
    assert_eq!(engine.status().cause.reason(), "maintenance");
}

#[test]
fn the_memory_restores_the_state_machine_exactly() {
    let mut engine = engine();
    engine
        .on_equity(money("95000"), money("100000"), NOW)
        .unwrap();
    let memory = engine.memory().clone();
    let json = serde_json::to_string(&memory).unwrap();
    let mut other = super::engine();
    other.restore(serde_json::from_str(&json).unwrap());
    assert_eq!(other.memory(), &memory);
    assert_eq!(other.state(), TradingState::Halted);
    // The breach latch came back too: resuming is still refused.
    assert!(
        other
            .set_state(TradingState::Active, NOW, "ops", "try")
            .is_err()
    );
}
