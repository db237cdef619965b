#![allow(clippy::float_cmp)]

//! The per-feature figures: bracket exits and R-multiples counted per round
//! trip, the deepest drawdown and its Kelly scale, ATR accuracy per bar, and
//! all of it restored with the desk's memory.

use super::*;

fn buy(desk: &mut Desk, key: &str, now: Timestamp) -> OrderIntentV1 {
    let step = desk
        .on_signal(&signal(key, SignalType::Entry, Some(Side::Buy), now), now)
        .unwrap();
    assert!(step.refusal.is_none(), "{:?}", step.refusal);
    step.intents[0].clone()
}

#[test]
fn a_fresh_desk_has_no_figures_to_show_but_full_kelly() {
    let desk = Desk::new(DeskConfig::default(), steps(), t0()).unwrap();
    let f = desk.figures();
    assert_eq!(f.calibration_ece, None);
    assert_eq!(f.calibration_outcomes, 0);
    assert_eq!(
        (f.kelly_scale, f.kelly_scale_min, f.max_drawdown),
        (1.0, 1.0, 0.0)
    );
    assert_eq!((f.bracket_success_rate, f.bracket_exits), (None, 0));
    assert_eq!((f.r_multiple_mean, f.r_multiple_std), (None, None));
    assert_eq!((f.atr_accuracy, f.atr_checks), (None, 0));
}

#[test]
fn bracket_exits_and_r_multiples_are_counted_per_round_trip() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let first = buy(&mut desk, "one", now);
    let sl = first.stop_loss.unwrap().value().to_f64();
    let stop = desk
        .on_tick(&tick(sl - 0.02, now.add_nanos(MINUTE)))
        .unwrap();
    assert_eq!(stop.fills[0].role, OrderRole::StopLoss);
    let f = desk.figures();
    assert_eq!((f.bracket_exits, f.bracket_success_rate), (1, Some(0.0)));
    let r = f.r_multiple_mean.unwrap();
    // Stopped a little past the stop, with fees: just worse than -1 R.
    assert!((-1.2..-1.0).contains(&r), "{r}");
    assert_eq!(f.r_multiple_std, Some(0.0));
    assert!(f.max_drawdown > 0.0, "{f:?}");
    assert!(f.kelly_scale_min < 1.0, "a drawdown shrinks the bet: {f:?}");
    assert_eq!(f.calibration_outcomes, 1);
    assert!(f.calibration_ece.is_some());

    let back = sl - 0.02;
    let at = now.add_nanos(2 * MINUTE);
    desk.on_tick(&tick(back, at)).unwrap();
    let second = buy(&mut desk, "two", at.add_nanos(1));
    let tp = second.take_profit.unwrap().value().to_f64();
    let target = desk
        .on_tick(&tick(tp + 0.02, at.add_nanos(MINUTE)))
        .unwrap();
    assert_eq!(target.fills[0].role, OrderRole::TakeProfit);
    let f = desk.figures();
    assert_eq!((f.bracket_exits, f.bracket_success_rate), (2, Some(0.5)));
    let mean = f.r_multiple_mean.unwrap();
    assert!(
        mean > 0.0,
        "a 2R win and a 1R loss average above zero: {mean}"
    );
    assert!(f.r_multiple_std.unwrap() > 1.0, "{f:?}");
    assert_eq!(f.calibration_outcomes, 2);
}

#[test]
fn an_exit_signal_is_a_round_trip_but_not_a_bracket_exit() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    buy(&mut desk, "in", now);
    desk.on_signal(
        &signal("out", SignalType::Exit, Some(Side::Sell), now.add_nanos(1)),
        now.add_nanos(1),
    )
    .unwrap();
    let f = desk.figures();
    assert_eq!((f.bracket_exits, f.bracket_success_rate), (0, None));
    assert!(f.r_multiple_mean.is_some(), "its R still counts");
    assert_eq!(f.calibration_outcomes, 1);
}

#[test]
fn atr_accuracy_checks_each_bar_against_the_atr_before_it() {
    let (mut desk, now, _) = warm(DeskConfig::default());
    let f = desk.figures();
    // A steady climb: every bar's range is what the ATR said.
    assert!(f.atr_checks > 90, "{f:?}");
    assert_eq!(f.atr_accuracy, Some(1.0));
    // A bar ten times wider than usual falls outside the band.
    let mut wild = uptrend(121).pop().unwrap();
    let close = wild.close.value().to_f64();
    wild.high = px(close * 1.05);
    wild.low = px(close * 0.95);
    desk.on_candle(&wild);
    let g = desk.figures();
    assert_eq!(g.atr_checks, f.atr_checks + 1);
    let hits = f.atr_checks as f64;
    assert_eq!(g.atr_accuracy, Some(hits / (hits + 1.0)));
    let _ = now;
}

#[test]
fn the_figures_are_restored_with_the_memory() {
    let (mut first, now, _) = warm(DeskConfig::default());
    let intent = buy(&mut first, "one", now);
    let sl = intent.stop_loss.unwrap().value().to_f64();
    first
        .on_tick(&tick(sl - 1.0, now.add_nanos(MINUTE)))
        .unwrap();
    let memory = first.memory();
    let mut second = Desk::new(DeskConfig::default(), steps(), t0()).unwrap();
    second
        .restore(Restore {
            fills: Vec::new(),
            orders: Vec::new(),
            memory: Some(memory.clone()),
        })
        .unwrap();
    assert_eq!(second.memory().scorecard, memory.scorecard);
    let (a, b) = (first.figures(), second.figures());
    assert_eq!(
        (
            a.bracket_exits,
            a.r_multiple_mean,
            a.max_drawdown,
            a.atr_checks
        ),
        (
            b.bracket_exits,
            b.r_multiple_mean,
            b.max_drawdown,
            b.atr_checks
        )
    );
    // Through JSON too, as the store keeps it.
    let json = serde_json::to_value(&memory).unwrap();
    let back: DeskMemory = serde_json::from_value(json).unwrap();
    assert_eq!(back.scorecard, memory.scorecard);
}
