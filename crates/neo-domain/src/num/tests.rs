use proptest::prelude::*;

use super::*;

fn fx(s: &str) -> Fixed {
    s.parse().unwrap()
}

#[test]
fn parses_and_prints_canonically() {
    for (input, canonical) in [
        ("0", "0"),
        ("-0", "0"),
        ("42000.5", "42000.5"),
        ("42000.500", "42000.5"),
        ("+1", "1"),
        ("0.000000001", "0.000000001"),
        ("-3.25", "-3.25"),
        ("1e3", "1000"),
        ("1.5E-5", "0.000015"),
        ("123.4560000000000", "123.456"),
        ("007", "7"),
    ] {
        assert_eq!(fx(input).to_string(), canonical, "{input}");
    }
}

#[test]
fn refuses_what_is_not_an_exact_decimal() {
    for bad in [
        "",
        "-",
        "+",
        ".",
        ".5",
        "5.",
        "1.2.3",
        "NaN",
        "inf",
        "-inf",
        "0x10",
        "1_000",
        " 1",
        "1 ",
        "1e",
        "1e+",
        "1e1234567",
        "--1",
        "1,5",
    ] {
        assert!(bad.parse::<Fixed>().is_err(), "{bad:?} should be refused");
    }
    assert!(matches!(
        "0.0000000001".parse::<Fixed>(),
        Err(ParseError::TooPrecise(_))
    ));
    assert!(matches!(
        "1e-10".parse::<Fixed>(),
        Err(ParseError::TooPrecise(_))
    ));
    assert!(matches!("1e40".parse::<Fixed>(), Err(ParseError::Overflow)));
    assert!(matches!(
        "9".repeat(40).parse::<Fixed>(),
        Err(ParseError::Overflow)
    ));
    assert_eq!(fx("0e999999"), Fixed::ZERO);
}

#[test]
fn arithmetic_is_exact_or_fails() {
    assert_eq!(fx("0.1").checked_add(fx("0.2")).unwrap(), fx("0.3"));
    assert_eq!(fx("1.5").checked_mul(fx("2.5")).unwrap(), fx("3.75"));
    assert_eq!(
        fx("0.00001").checked_mul(fx("0.00001")),
        Err(ArithmeticError::Inexact)
    );
    assert_eq!(
        fx("0.00001")
            .mul_round(fx("0.00001"), Rounding::HalfEven)
            .unwrap(),
        Fixed::ZERO
    );
    assert_eq!(
        Fixed::MAX.checked_add(Fixed::ONE),
        Err(ArithmeticError::Overflow)
    );
    assert_eq!(
        Fixed::MIN.checked_sub(Fixed::ONE),
        Err(ArithmeticError::Overflow)
    );
    assert_eq!(
        fx("1").div_round(Fixed::ZERO, Rounding::HalfEven),
        Err(ArithmeticError::DivisionByZero)
    );
    assert_eq!(
        fx("1").div_round(fx("3"), Rounding::HalfEven).unwrap(),
        fx("0.333333333")
    );
    assert_eq!(
        fx("2").div_round(fx("3"), Rounding::TowardZero).unwrap(),
        fx("0.666666666")
    );
    assert_eq!(
        fx("2").div_round(fx("3"), Rounding::HalfEven).unwrap(),
        fx("0.666666667")
    );
    assert_eq!(
        fx("-2").div_round(fx("3"), Rounding::Floor).unwrap(),
        fx("-0.666666667")
    );
    assert_eq!(
        fx("-2").div_round(fx("3"), Rounding::Ceiling).unwrap(),
        fx("-0.666666666")
    );
    assert_eq!(Fixed::MIN.abs(), Fixed::MAX);
}

#[test]
fn rounding_modes_on_ties() {
    // Results in raw units of 1e-9 for +0.5, +1.5 and -0.5 units.
    let cases = [
        (Rounding::HalfEven, 0, 2, 0),
        (Rounding::HalfUp, 1, 2, -1),
        (Rounding::TowardZero, 0, 1, 0),
        (Rounding::AwayFromZero, 1, 2, -1),
        (Rounding::Floor, 0, 1, -1),
        (Rounding::Ceiling, 1, 2, 0),
    ];
    let tenth = fx("0.1");
    for (mode, half, one_and_half, minus_half) in cases {
        assert_eq!(
            fx("0.000000005").mul_round(tenth, mode).unwrap().raw(),
            half,
            "{mode:?}"
        );
        assert_eq!(
            fx("0.000000015").mul_round(tenth, mode).unwrap().raw(),
            one_and_half,
            "{mode:?}"
        );
        assert_eq!(
            fx("-0.000000005").mul_round(tenth, mode).unwrap().raw(),
            minus_half,
            "{mode:?}"
        );
        // The parser's rounding path (floats from analytics) agrees with arithmetic.
        assert_eq!(
            Fixed::from_f64(0.0000000015, mode).unwrap().raw(),
            one_and_half,
            "{mode:?} f64"
        );
    }
}

#[test]
fn round_to_step_and_floats() {
    assert_eq!(
        fx("1.2345")
            .round_to_step(fx("0.01"), Rounding::TowardZero)
            .unwrap(),
        fx("1.23")
    );
    assert_eq!(
        fx("1.235")
            .round_to_step(fx("0.01"), Rounding::HalfEven)
            .unwrap(),
        fx("1.24")
    );
    assert_eq!(
        fx("7").round_to_step(fx("5"), Rounding::Ceiling).unwrap(),
        fx("10")
    );
    assert_eq!(Fixed::from_f64(0.1, Rounding::HalfEven).unwrap(), fx("0.1"));
    assert_eq!(
        Fixed::from_f64(1.0 / 3.0, Rounding::HalfEven).unwrap(),
        fx("0.333333333")
    );
    assert_eq!(
        Fixed::from_f64(-2.0 / 3.0, Rounding::TowardZero).unwrap(),
        fx("-0.666666666")
    );
    assert_eq!(
        Fixed::from_f64(1e-12, Rounding::HalfEven).unwrap(),
        Fixed::ZERO
    );
    assert_eq!(
        Fixed::from_f64(f64::NAN, Rounding::HalfEven),
        Err(ArithmeticError::NotFinite)
    );
    assert_eq!(
        Fixed::from_f64(1e300, Rounding::HalfEven),
        Err(ArithmeticError::Overflow)
    );
    assert!((fx("42000.123456789").to_f64() - 42000.123456789).abs() < 1e-9);
}

#[test]
fn json_accepts_strings_and_exact_numbers_only() {
    let p: Price = serde_json::from_str("\"42000.5\"").unwrap();
    assert_eq!(p.to_string(), "42000.5");
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"42000.5\"");
    let p: Price = serde_json::from_str("42000.5").unwrap();
    assert_eq!(p.to_string(), "42000.5");
    let q: Quantity = serde_json::from_str("18446744073709551615").unwrap();
    assert_eq!(q.to_string(), "18446744073709551615");
    assert_eq!(
        serde_json::from_str::<Price>("0.1").unwrap().value(),
        fx("0.1")
    );
    let err = serde_json::from_str::<Price>("0.30000000000000004")
        .unwrap_err()
        .to_string();
    assert!(err.contains("send it as a string"), "{err}");
    assert!(
        serde_json::from_str::<Quantity>("\"-1\"")
            .unwrap_err()
            .to_string()
            .contains("negative")
    );
    assert!(serde_json::from_str::<Quantity>("-1").is_err());
    assert!(serde_json::from_str::<Price>("\"abc\"").is_err());
    assert!(serde_json::from_str::<Price>("null").is_err());
    assert!(serde_json::from_str::<Price>("1e400").is_err());
}

#[test]
fn notional_and_unsigned_subtraction() {
    let price: Price = "42000.5".parse().unwrap();
    let qty: Quantity = "0.00123".parse().unwrap();
    assert_eq!(
        Money::notional(price, qty).unwrap().to_string(),
        "51.660615"
    );
    assert_eq!(
        qty.checked_sub("0.01".parse().unwrap()),
        Err(ArithmeticError::Overflow)
    );
}

fn arb_fixed() -> impl Strategy<Value = Fixed> {
    (-(10i128.pow(27))..10i128.pow(27)).prop_map(Fixed::from_raw)
}

proptest! {
    #[test]
    fn display_parse_roundtrip(x in arb_fixed()) {
        prop_assert_eq!(x.to_string().parse::<Fixed>().unwrap(), x);
        let json = serde_json::to_string(&x).unwrap();
        prop_assert_eq!(serde_json::from_str::<Fixed>(&json).unwrap(), x);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<Fixed>();
    }

    #[test]
    fn parser_accepts_what_the_grammar_says(s in "[+-]?[0-9]{1,12}(\\.[0-9]{1,9})?([eE][+-]?[0-2])?") {
        // Up to 9 places plus an exponent of at most 2 can need 11 places; either
        // it parses, or it is refused as too precise, never as invalid.
        match s.parse::<Fixed>() {
            Ok(_) | Err(ParseError::TooPrecise(_)) => {}
            Err(e) => prop_assert!(false, "{s}: {e}"),
        }
    }

    #[test]
    fn add_sub_inverse(a in arb_fixed(), b in arb_fixed()) {
        prop_assert_eq!(a.checked_add(b).unwrap().checked_sub(b).unwrap(), a);
    }

    #[test]
    fn rounding_stays_within_one_unit(a in arb_fixed(), b in (1i128..10i128.pow(15)).prop_map(Fixed::from_raw)) {
        let down = a.div_round(b, Rounding::Floor).unwrap();
        let up = a.div_round(b, Rounding::Ceiling).unwrap();
        prop_assert!(up.raw() - down.raw() <= 1);
        for mode in [Rounding::HalfEven, Rounding::HalfUp, Rounding::TowardZero, Rounding::AwayFromZero] {
            let r = a.div_round(b, mode).unwrap();
            prop_assert!(r >= down && r <= up);
        }
    }

    #[test]
    fn float_conversion_is_nearest(x in -1e9f64..1e9f64) {
        let fixed = Fixed::from_f64(x, Rounding::HalfEven).unwrap();
        prop_assert!((fixed.to_f64() - x).abs() <= 0.6e-9 + x.abs() * 1e-15);
    }
}
