use neo_domain::contracts::{FillV1, Liquidity, PositionSide};
use neo_domain::{
    Contract, Fixed, IdKind, InstrumentId, MessageId, Money, Price, Quantity, Side, Timestamp,
};
use proptest::prelude::*;

use super::*;

fn inst(s: &str) -> InstrumentId {
    InstrumentId::new(s).unwrap()
}

fn fx(s: &str) -> Fixed {
    s.parse().unwrap()
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_unix_secs(1_800_000_000 + secs).unwrap()
}

fn fill(n: u32, instrument: &str, side: Side, qty: &str, price: &str, fee: &str) -> FillV1 {
    FillV1 {
        id: MessageId::derived(IdKind::Fill, &format!("test:{n}")),
        order_id: MessageId::derived(IdKind::Order, "test"),
        signal_id: MessageId::derived(IdKind::Signal, "test"),
        instrument: inst(instrument),
        side,
        price: price.parse().unwrap(),
        quantity: qty.parse().unwrap(),
        fee: fee.parse().unwrap(),
        liquidity: Liquidity::Taker,
        arrival_price: None,
        ts_event: t(i64::from(n)),
    }
}

fn account(cash: &str) -> Portfolio {
    Portfolio::new("USDT", cash.parse().unwrap(), t(0)).unwrap()
}

fn pnl_identity(p: &Portfolio) {
    let lhs = p
        .equity()
        .unwrap()
        .value()
        .checked_sub(p.initial_cash().value())
        .unwrap();
    let rhs = p
        .realized_pnl()
        .unwrap()
        .value()
        .checked_add(p.unrealized_pnl().unwrap().value())
        .unwrap();
    assert_eq!(lhs, rhs, "equity change must equal realized + unrealized");
}

#[test]
fn a_long_round_trip_with_fees() {
    let mut p = account("10000");
    p.apply_fill(&fill(1, "BTC-USDT", Side::Buy, "0.5", "40000", "10"))
        .unwrap();
    assert_eq!(p.cash().to_string(), "-10010");
    let pos = p.position(inst("BTC-USDT")).unwrap();
    assert_eq!(
        (pos.side(), pos.avg_price()),
        (PositionSide::Long, Some("40000".parse().unwrap()))
    );
    p.mark(inst("BTC-USDT"), "42000".parse().unwrap(), t(5))
        .unwrap();
    assert_eq!(p.unrealized_pnl().unwrap().to_string(), "1000");
    assert_eq!(p.equity().unwrap().to_string(), "10990");
    p.apply_fill(&fill(2, "BTC-USDT", Side::Sell, "0.5", "42000", "10.5"))
        .unwrap();
    assert_eq!(p.realized_pnl().unwrap().to_string(), "979.5");
    assert_eq!(p.unrealized_pnl().unwrap(), Money::ZERO);
    assert_eq!(p.cash().to_string(), "10979.5");
    assert_eq!(p.high_water_mark().to_string(), "10990");
    pnl_identity(&p);
}

#[test]
fn shorts_partial_closes_and_flips() {
    let mut p = account("1000");
    p.apply_fill(&fill(1, "ETH-USDT", Side::Sell, "3", "100", "0"))
        .unwrap();
    assert_eq!(
        p.position(inst("ETH-USDT")).unwrap().side(),
        PositionSide::Short
    );
    p.apply_fill(&fill(2, "ETH-USDT", Side::Buy, "1", "90", "0"))
        .unwrap();
    let pos = p.position(inst("ETH-USDT")).unwrap();
    assert_eq!((pos.quantity, pos.realized), (fx("-2"), fx("10")));
    assert_eq!(
        pos.avg_price(),
        Some("100".parse().unwrap()),
        "a partial close keeps the entry price"
    );
    // Buy 5 at 80: closes the 2 short (+40) and opens 3 long at 80.
    p.apply_fill(&fill(3, "ETH-USDT", Side::Buy, "5", "80", "0"))
        .unwrap();
    let pos = p.position(inst("ETH-USDT")).unwrap();
    assert_eq!(
        (pos.quantity, pos.realized, pos.cost_basis),
        (fx("3"), fx("50"), fx("240"))
    );
    pnl_identity(&p);
    let contract = p.position_contract(inst("ETH-USDT"), t(9)).unwrap();
    assert!(contract.check().is_empty(), "{:?}", contract.check());
    assert_eq!(
        (contract.side, contract.quantity.to_string()),
        (PositionSide::Long, "3".into())
    );
}

#[test]
fn replayed_fills_change_nothing() {
    let mut p = account("1000");
    let f = fill(1, "BTC-USDT", Side::Buy, "0.1", "100", "0.01");
    assert_eq!(p.apply_fill(&f).unwrap(), Applied::New);
    let before = p.clone();
    assert_eq!(p.apply_fill(&f).unwrap(), Applied::Duplicate);
    assert_eq!(p, before);
}

#[test]
fn drawdown_from_the_high_water_mark_and_the_day_start() {
    let mut p = account("1000");
    p.apply_fill(&fill(1, "BTC-USDT", Side::Buy, "1", "100", "0"))
        .unwrap();
    p.mark(inst("BTC-USDT"), "200".parse().unwrap(), t(10))
        .unwrap();
    assert_eq!(p.high_water_mark().to_string(), "1100");
    p.mark(inst("BTC-USDT"), "150".parse().unwrap(), t(20))
        .unwrap();
    assert_eq!(
        p.drawdown().unwrap(),
        fx("50").div_round(fx("1100"), Rounding::HalfEven).unwrap()
    );
    assert_eq!(
        p.daily_drawdown().unwrap(),
        Fixed::ZERO,
        "still above the day's start of 1000"
    );
    // Next UTC day starts at 1050; a fall to 1025 is a 25/1050 daily drawdown.
    p.mark(inst("BTC-USDT"), "150".parse().unwrap(), t(86_400))
        .unwrap();
    assert_eq!(p.day_start_equity().to_string(), "1050");
    p.mark(inst("BTC-USDT"), "125".parse().unwrap(), t(86_500))
        .unwrap();
    assert_eq!(
        p.daily_drawdown().unwrap(),
        fx("25").div_round(fx("1050"), Rounding::HalfEven).unwrap()
    );
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(
        Portfolio::new("usd", Money::ZERO, t(0)),
        Err(PortfolioError::Currency(_))
    ));
    let mut p = account("1");
    let empty = fill(1, "BTC-USDT", Side::Buy, "0", "1", "0");
    assert!(matches!(
        p.apply_fill(&empty),
        Err(PortfolioError::EmptyFill(_))
    ));
    let huge = fill(
        2,
        "BTC-USDT",
        Side::Buy,
        "100000000000000000000",
        "100000000000000000000",
        "0",
    );
    let before = p.clone();
    assert!(matches!(
        p.apply_fill(&huge),
        Err(PortfolioError::Arithmetic(_))
    ));
    assert_eq!(p, before, "a failed fill changes nothing");
}

/// A fill with up to 9 decimal places in quantity and price.
fn arb_fill() -> impl Strategy<Value = (bool, bool, i128, i128, i128)> {
    (
        any::<bool>(),
        any::<bool>(),
        1i128..5_000_000_000_000,
        1i128..100_000_000_000_000,
        0i128..1_000_000_000,
    )
}

proptest! {
    #[test]
    fn accounting_invariants(fills in proptest::collection::vec(arb_fill(), 1..40)) {
        let mut p = account("100000");
        let mut net = [Fixed::ZERO, Fixed::ZERO];
        for (n, (buy, second, qty, price, fee)) in fills.into_iter().enumerate() {
            let name = if second { "ETH-USDT" } else { "BTC-USDT" };
            let side = if buy { Side::Buy } else { Side::Sell };
            let mut f = fill(n as u32, name, side, "1", "1", "0");
            f.quantity = Quantity::new(Fixed::from_raw(qty)).unwrap();
            f.price = Price::new(Fixed::from_raw(price)).unwrap();
            f.fee = Money::new(Fixed::from_raw(fee)).unwrap();

            // Conservation: marked at the fill price, a fill moves equity only by its fee
            // (within one unit of rounding of the two notionals involved).
            p.mark(f.instrument, f.price, f.ts_event).unwrap();
            let before = p.equity().unwrap().value();
            p.apply_fill(&f).unwrap();
            let after = p.equity().unwrap().value();
            let drift = after.checked_add(f.fee.value()).unwrap().checked_sub(before).unwrap();
            prop_assert!(drift.abs() <= Fixed::from_raw(2), "fill moved equity by more than its fee: {drift}");

            // Replaying the fill changes nothing.
            let snapshot = p.clone();
            prop_assert_eq!(p.apply_fill(&f).unwrap(), Applied::Duplicate);
            prop_assert_eq!(&p, &snapshot);

            // Positions are explained by the fills.
            let i = usize::from(second);
            net[i] = if buy { net[i].checked_add(f.quantity.value()).unwrap() } else { net[i].checked_sub(f.quantity.value()).unwrap() };
            prop_assert_eq!(p.position(f.instrument).unwrap().quantity, net[i]);

            // PnL adds up exactly.
            let lhs = p.equity().unwrap().value().checked_sub(p.initial_cash().value()).unwrap();
            let rhs = p.realized_pnl().unwrap().value().checked_add(p.unrealized_pnl().unwrap().value()).unwrap();
            prop_assert_eq!(lhs, rhs);
            let contract = p.position_contract(f.instrument, f.ts_event).unwrap();
            prop_assert!(contract.check().is_empty(), "{:?}", contract.check());
        }
    }
}
