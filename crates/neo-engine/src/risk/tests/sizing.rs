//! Sizing from a risk fraction: exact, rounded toward zero, capped by a request.

use neo_domain::Quantity;

use super::{money, px};
use crate::risk::{SizingError, SizingInput, size_quantity};

fn q(s: &str) -> Quantity {
    s.parse().unwrap()
}

fn input() -> SizingInput {
    SizingInput {
        equity: money("100000"),
        risk_fraction: 0.01,
        entry: px("100"),
        stop: px("95"),
        lot_step: q("0.001"),
        requested: None,
    }
}

#[test]
fn risks_the_fraction_of_equity_at_the_stop() {
    // 1% of 100000 = 1000 at risk, 5 per unit: 200 units, for a buy or a sell.
    assert_eq!(size_quantity(&input()), Ok(q("200")));
    let sell = SizingInput {
        stop: px("105"),
        ..input()
    };
    assert_eq!(size_quantity(&sell), Ok(q("200")));
}

#[test]
fn rounds_toward_zero_to_the_lot_step() {
    // 1000 / 3 = 333.333333333...: down to 333.33 with a 0.01 step, 333 with 1.
    let three = SizingInput {
        stop: px("97"),
        lot_step: q("0.01"),
        ..input()
    };
    assert_eq!(size_quantity(&three), Ok(q("333.33")));
    assert_eq!(
        size_quantity(&SizingInput {
            lot_step: q("1"),
            ..three
        }),
        Ok(q("333"))
    );
    // Less than one lot is zero, not one lot.
    let tiny = SizingInput {
        equity: money("10"),
        lot_step: q("1"),
        ..input()
    };
    assert_eq!(size_quantity(&tiny), Ok(Quantity::ZERO));
}

#[test]
fn a_requested_quantity_is_capped_not_sized() {
    let asked = |r: &str| SizingInput {
        requested: Some(q(r)),
        ..input()
    };
    assert_eq!(size_quantity(&asked("50")), Ok(q("50")));
    assert_eq!(size_quantity(&asked("500")), Ok(q("200")));
    assert_eq!(
        size_quantity(&asked("0.0159")),
        Ok(q("0.015")),
        "rounded down to the step"
    );
}

#[test]
fn nothing_to_risk_sizes_zero() {
    for f in [0.0, -0.5, f64::NAN, f64::NEG_INFINITY] {
        assert_eq!(
            size_quantity(&SizingInput {
                risk_fraction: f,
                ..input()
            }),
            Ok(Quantity::ZERO),
            "{f}"
        );
    }
    for e in ["0", "-100"] {
        assert_eq!(
            size_quantity(&SizingInput {
                equity: money(e),
                ..input()
            }),
            Ok(Quantity::ZERO)
        );
    }
    // A fraction above 1 is clamped to all of equity at risk, not more.
    let all = SizingInput {
        risk_fraction: f64::INFINITY,
        ..input()
    };
    assert_eq!(size_quantity(&all), Ok(q("20000")));
}

#[test]
fn degenerate_inputs_are_errors() {
    let flat = SizingInput {
        stop: px("100"),
        ..input()
    };
    assert_eq!(size_quantity(&flat), Err(SizingError::NoStopDistance));
    let no_step = SizingInput {
        lot_step: Quantity::ZERO,
        ..input()
    };
    assert_eq!(size_quantity(&no_step), Err(SizingError::ZeroLotStep));
}

proptest::proptest! {
    #[test]
    fn an_entry_never_risks_more_than_the_capped_scaled_budget(
        p in 0.3..0.99f64,
        b in 0.2..6.0f64,
        dd in 0.0..0.08f64,
        equity in 1_000i64..10_000_000,
        entry in 1i64..100_000,
        stop_pct in 1i64..300,
        cash_pct in 0i64..200,
    ) {
        use neo_domain::{Fixed, Money, Price, Quantity, Rounding};
        use crate::risk::{EntryLimits, KellyConfig, size_entry};
        let k = KellyConfig::default();
        let kelly = k.decide(p, b, dd, 0.05);
        let entry = Price::new(Fixed::from_int(entry)).unwrap();
        let distance = entry.value().mul_round(Fixed::from_int(stop_pct), Rounding::Ceiling).unwrap()
            .div_round(Fixed::from_int(1000), Rounding::Ceiling).unwrap();
        let stop = Price::new(entry.value().checked_sub(distance).unwrap().max(Fixed::from_raw(1))).unwrap();
        let equity = Money::from_int(equity).unwrap();
        let input = SizingInput {
            equity,
            risk_fraction: 0.0,
            entry,
            stop,
            lot_step: "0.001".parse::<Quantity>().unwrap(),
            requested: None,
        };
        let free = equity.value().mul_round(Fixed::from_int(cash_pct), Rounding::TowardZero).unwrap()
            .div_round(Fixed::from_int(100), Rounding::TowardZero).unwrap();
        let limits = EntryLimits {
            max_entry_fraction: "0.25".parse().unwrap(),
            headroom: Fixed::from_int(1_000_000),
            free_margin: free,
            leverage: Fixed::ONE,
            fee_rate: "0.0005".parse().unwrap(),
        };
        let d = size_entry(&input, kelly, &limits).unwrap();
        let at_stop = d.quantity.value().to_f64() * (entry.value().to_f64() - stop.value().to_f64());
        let budget = equity.value().to_f64() * k.cap * k.drawdown_scale(dd, 0.05);
        proptest::prop_assert!(at_stop <= budget * (1.0 + 1e-9) + 1e-9, "{at_stop} > {budget}");
        let paid = d.notional.value().to_f64() * 1.0005;
        proptest::prop_assert!(paid <= free.to_f64() + 1e-6, "{paid} > {free}");
        proptest::prop_assert!(d.quantity <= d.risk_quantity);
    }
}
