//! When and at what price a working order executes against market data. Pure
//! functions of the order's terms and one market event, so tick and candle
//! semantics are stated (and tested) in one place.
//!
//! Ticks: buys execute against the ask (else the last price), sells against
//! the bid. Candles: a market order fills at the bar's open; a stop or limit
//! triggers when the bar's range crosses it and fills at its price, except that
//! a bar opening beyond it (a gap) fills at the open. A limit order that is
//! already marketable when first checked takes liquidity at the market price;
//! one the market comes to later rests and fills at its limit as a maker.

use neo_domain::contracts::{Liquidity, OrderType};
use neo_domain::{Price, Side};

/// The terms of an order that matter for matching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terms {
    pub(crate) side: Side,
    pub(crate) order_type: OrderType,
    pub(crate) limit: Option<Price>,
    pub(crate) stop: Option<Price>,
    /// A stop-limit whose stop has already traded behaves as a limit.
    pub(crate) triggered: bool,
    /// First look at the market since submission (decides maker or taker for limits).
    pub(crate) first_check: bool,
}

/// The market as one event shows it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Quote {
    /// A trade or quote: the price a buyer pays and a seller gets.
    Tick { buy_at: Price, sell_at: Price },
    /// A bar's open, high and low.
    Bar {
        open: Price,
        high: Price,
        low: Price,
    },
}

/// What the order does on this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Execution {
    /// Price before slippage.
    pub(crate) price: Price,
    pub(crate) liquidity: Liquidity,
    /// True when it executed at the bar's open (it precedes anything else in the bar).
    pub(crate) at_open: bool,
}

/// Outcome for one order and one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Match {
    /// Nothing happens.
    None,
    /// A stop-limit's stop traded but its limit is not reachable yet.
    Triggered,
    /// It executes.
    Execute(Execution),
}

/// A price at which the order's side does at least as well as `limit`.
fn within(side: Side, price: Price, limit: Price) -> bool {
    match side {
        Side::Buy => price <= limit,
        Side::Sell => price >= limit,
    }
}

/// Where the stop trades on this event: a tick's own price, a bar's open when it gapped
/// through the stop, else the stop itself when the range reached it.
fn stop_touch(side: Side, stop: Price, quote: Quote) -> Option<(Price, bool)> {
    match (quote, side) {
        (Quote::Tick { buy_at, .. }, Side::Buy) => (buy_at >= stop).then_some((buy_at, false)),
        (Quote::Tick { sell_at, .. }, Side::Sell) => (sell_at <= stop).then_some((sell_at, false)),
        (Quote::Bar { open, high, .. }, Side::Buy) => {
            if open >= stop {
                Some((open, true))
            } else {
                (high >= stop).then_some((stop, false))
            }
        }
        (Quote::Bar { open, low, .. }, Side::Sell) => {
            if open <= stop {
                Some((open, true))
            } else {
                (low <= stop).then_some((stop, false))
            }
        }
    }
}

/// Where a limit executes: marketable now at the market price, or reached by the range at the limit.
fn limit_touch(terms: &Terms, limit: Price, quote: Quote) -> Option<Execution> {
    let side = terms.side;
    let (market, at_open) = match quote {
        Quote::Tick { buy_at, sell_at } => {
            (if side == Side::Buy { buy_at } else { sell_at }, false)
        }
        Quote::Bar { open, .. } => (open, true),
    };
    if within(side, market, limit) {
        let liquidity = if terms.first_check {
            Liquidity::Taker
        } else {
            Liquidity::Maker
        };
        return Some(Execution {
            price: market,
            liquidity,
            at_open,
        });
    }
    let reached = match (quote, side) {
        (Quote::Bar { low, .. }, Side::Buy) => low <= limit,
        (Quote::Bar { high, .. }, Side::Sell) => high >= limit,
        (Quote::Tick { .. }, _) => false,
    };
    reached.then_some(Execution {
        price: limit,
        liquidity: Liquidity::Maker,
        at_open: false,
    })
}

/// Decides whether the order executes on this event, and at what price.
pub(crate) fn decide(terms: &Terms, quote: Quote) -> Match {
    let side = terms.side;
    let taker = |price: Price, at_open: bool| {
        Match::Execute(Execution {
            price,
            liquidity: Liquidity::Taker,
            at_open,
        })
    };
    match (terms.order_type, terms.limit, terms.stop) {
        (OrderType::Market, _, _) => match quote {
            Quote::Tick { buy_at, sell_at } => {
                taker(if side == Side::Buy { buy_at } else { sell_at }, false)
            }
            Quote::Bar { open, .. } => taker(open, true),
        },
        (OrderType::Limit, Some(limit), _) => {
            limit_touch(terms, limit, quote).map_or(Match::None, Match::Execute)
        }
        (OrderType::Stop, _, Some(stop)) => match stop_touch(side, stop, quote) {
            Some((price, at_open)) => taker(price, at_open),
            None => Match::None,
        },
        (OrderType::StopLimit, Some(limit), Some(stop)) => {
            if terms.triggered {
                return limit_touch(terms, limit, quote).map_or(Match::None, Match::Execute);
            }
            match stop_touch(side, stop, quote) {
                // Triggered: executes at once only if the trigger price is within the limit.
                Some((price, at_open)) if within(side, price, limit) => taker(price, at_open),
                Some(_) => Match::Triggered,
                None => Match::None,
            }
        }
        // Prices missing for the type: the intent check refuses these before they get here.
        _ => Match::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        s.parse().unwrap()
    }

    fn terms(
        side: Side,
        order_type: OrderType,
        limit: Option<&str>,
        stop: Option<&str>,
        first: bool,
    ) -> Terms {
        Terms {
            side,
            order_type,
            limit: limit.map(p),
            stop: stop.map(p),
            triggered: false,
            first_check: first,
        }
    }

    fn bar(o: &str, h: &str, l: &str) -> Quote {
        Quote::Bar {
            open: p(o),
            high: p(h),
            low: p(l),
        }
    }

    fn exec(price: &str, liquidity: Liquidity, at_open: bool) -> Match {
        Match::Execute(Execution {
            price: p(price),
            liquidity,
            at_open,
        })
    }

    #[test]
    fn candle_semantics() {
        use Liquidity::{Maker, Taker};
        use OrderType::*;
        use Side::*;
        let cases = [
            // Market: at the open.
            (
                terms(Buy, Market, None, None, true),
                bar("100", "105", "95"),
                exec("100", Taker, true),
            ),
            // Limit buy: range reaches it -> maker at the limit; open below it (gap) -> the open.
            (
                terms(Buy, Limit, Some("97"), None, false),
                bar("100", "105", "95"),
                exec("97", Maker, false),
            ),
            (
                terms(Buy, Limit, Some("97"), None, false),
                bar("96", "99", "94"),
                exec("96", Maker, true),
            ),
            (
                terms(Buy, Limit, Some("97"), None, true),
                bar("96", "99", "94"),
                exec("96", Taker, true),
            ),
            (
                terms(Buy, Limit, Some("90"), None, false),
                bar("100", "105", "95"),
                Match::None,
            ),
            (
                terms(Sell, Limit, Some("104"), None, false),
                bar("100", "105", "95"),
                exec("104", Maker, false),
            ),
            // Stop buy: range crosses -> at the stop; gap above -> at the open.
            (
                terms(Buy, Stop, None, Some("103"), false),
                bar("100", "105", "95"),
                exec("103", Taker, false),
            ),
            (
                terms(Buy, Stop, None, Some("103"), false),
                bar("106", "108", "104"),
                exec("106", Taker, true),
            ),
            (
                terms(Sell, Stop, None, Some("96"), false),
                bar("100", "105", "95"),
                exec("96", Taker, false),
            ),
            (
                terms(Sell, Stop, None, Some("96"), false),
                bar("94", "99", "90"),
                exec("94", Taker, true),
            ),
            (
                terms(Sell, Stop, None, Some("90"), false),
                bar("100", "105", "95"),
                Match::None,
            ),
            // Stop-limit: triggers and fills when the trigger is within the limit, else only triggers.
            (
                terms(Buy, StopLimit, Some("104"), Some("103"), false),
                bar("100", "105", "95"),
                exec("103", Taker, false),
            ),
            (
                terms(Buy, StopLimit, Some("104"), Some("103"), false),
                bar("106", "108", "104"),
                Match::Triggered,
            ),
        ];
        for (i, (t, q, want)) in cases.into_iter().enumerate() {
            assert_eq!(decide(&t, q), want, "case {i}");
        }
    }

    #[test]
    fn tick_semantics() {
        use Liquidity::{Maker, Taker};
        let tick = Quote::Tick {
            buy_at: p("100.5"),
            sell_at: p("100"),
        };
        assert_eq!(
            decide(&terms(Side::Buy, OrderType::Market, None, None, true), tick),
            exec("100.5", Taker, false)
        );
        assert_eq!(
            decide(
                &terms(Side::Sell, OrderType::Market, None, None, true),
                tick
            ),
            exec("100", Taker, false)
        );
        assert_eq!(
            decide(
                &terms(Side::Buy, OrderType::Limit, Some("101"), None, false),
                tick
            ),
            exec("100.5", Maker, false)
        );
        assert_eq!(
            decide(
                &terms(Side::Buy, OrderType::Limit, Some("100"), None, false),
                tick
            ),
            Match::None
        );
        assert_eq!(
            decide(
                &terms(Side::Buy, OrderType::Stop, None, Some("100.5"), false),
                tick
            ),
            exec("100.5", Taker, false)
        );
        assert_eq!(
            decide(
                &terms(Side::Sell, OrderType::Stop, None, Some("99"), false),
                tick
            ),
            Match::None
        );
        let mut triggered = terms(
            Side::Buy,
            OrderType::StopLimit,
            Some("100"),
            Some("100.2"),
            false,
        );
        assert_eq!(decide(&triggered, tick), Match::Triggered);
        triggered.triggered = true;
        let lower = Quote::Tick {
            buy_at: p("99.9"),
            sell_at: p("99.8"),
        };
        assert_eq!(decide(&triggered, lower), exec("99.9", Maker, false));
    }
}
