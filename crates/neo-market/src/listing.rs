//! Each venue's instrument listing read into the increments its orders must
//! respect, so the desk sizes and prices on the venue's own grid rather than a
//! preset: Binance `GET /api/v3/exchangeInfo?symbol=` (`PRICE_FILTER.tickSize`,
//! `LOT_SIZE.stepSize`), Coinbase `GET /api/v3/brokerage/market/products/{id}`
//! (`quote_increment`, `base_increment`), Kraken `GET /0/public/AssetPairs?pair=`
//! (`tick_size`, else `pair_decimals`; `lot_decimals`). Pure; a missing,
//! non-positive or unreadable increment is a [`ReadError`] naming it.

use neo_domain::{Fixed, Price, Quantity};
use serde_json::Value;

use crate::event::ReadError;

/// An instrument's price and quantity grid on a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Increments {
    /// The smallest price step.
    pub price_step: Price,
    /// The smallest quantity step.
    pub lot_step: Quantity,
}

fn field_error(field: &'static str, problem: impl Into<String>) -> ReadError {
    ReadError::Field {
        field,
        problem: problem.into(),
    }
}

fn parse(text: &str) -> Result<Value, ReadError> {
    serde_json::from_str(text).map_err(|e| ReadError::NotJson(e.to_string()))
}

/// A positive decimal from a string (or a JSON number's shortest form).
fn positive(value: Option<&Value>, field: &'static str) -> Result<Fixed, ReadError> {
    let text = match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(field_error(field, "missing or not a number")),
    };
    let v: Fixed = text
        .trim()
        .parse()
        .map_err(|e| field_error(field, format!("{text:?}: {e}")))?;
    if v <= Fixed::ZERO {
        return Err(field_error(field, format!("{text:?} is not above zero")));
    }
    Ok(v)
}

/// Ten to the power `-decimals` (`2` is 0.01), for venues that list places, not steps.
fn places(value: Option<&Value>, field: &'static str) -> Result<Fixed, ReadError> {
    let n = value
        .and_then(Value::as_u64)
        .filter(|n| *n <= 12)
        .ok_or_else(|| field_error(field, "missing or not a count of decimals up to 12"))?;
    format!(
        "0.{}1",
        "0".repeat(usize::try_from(n).unwrap_or(0).saturating_sub(1))
    )
    .parse::<Fixed>()
    .map(|v| if n == 0 { Fixed::from_int(1) } else { v })
    .map_err(|e| field_error(field, e.to_string()))
}

fn increments(price: Fixed, lot: Fixed) -> Result<Increments, ReadError> {
    Ok(Increments {
        price_step: Price::new(price).map_err(|e| field_error("price step", e.to_string()))?,
        lot_step: Quantity::new(lot).map_err(|e| field_error("lot step", e.to_string()))?,
    })
}

/// Binance `exchangeInfo`: the symbol's `PRICE_FILTER` and `LOT_SIZE` filters.
pub fn binance(text: &str, symbol: &str) -> Result<Increments, ReadError> {
    let doc = parse(text)?;
    let entry = doc["symbols"]
        .as_array()
        .and_then(|s| s.iter().find(|e| e["symbol"] == symbol))
        .ok_or_else(|| field_error("symbols", format!("{symbol} is not listed")))?;
    let filter = |kind: &str| {
        entry["filters"]
            .as_array()
            .and_then(|f| f.iter().find(|x| x["filterType"] == kind))
    };
    let tick = positive(filter("PRICE_FILTER").map(|f| &f["tickSize"]), "tickSize")?;
    let step = positive(filter("LOT_SIZE").map(|f| &f["stepSize"]), "stepSize")?;
    increments(tick, step)
}

/// Coinbase Advanced Trade's public product.
pub fn coinbase(text: &str) -> Result<Increments, ReadError> {
    let doc = parse(text)?;
    let price = positive(doc.get("quote_increment"), "quote_increment")?;
    let lot = positive(doc.get("base_increment"), "base_increment")?;
    increments(price, lot)
}

/// Kraken `AssetPairs`: the one pair asked for.
pub fn kraken(text: &str) -> Result<Increments, ReadError> {
    let doc = parse(text)?;
    if let Some(first) = doc["error"].as_array().and_then(|e| e.first()) {
        return Err(ReadError::Venue(
            first.as_str().unwrap_or("error").to_owned(),
        ));
    }
    let pair = doc["result"]
        .as_object()
        .and_then(|r| r.values().next())
        .ok_or_else(|| field_error("result", "no pair in the answer"))?;
    let price = match pair.get("tick_size") {
        Some(tick) => positive(Some(tick), "tick_size")?,
        None => places(pair.get("pair_decimals"), "pair_decimals")?,
    };
    let lot = places(pair.get("lot_decimals"), "lot_decimals")?;
    increments(price, lot)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn steps(i: &Increments) -> (String, String) {
        (i.price_step.to_string(), i.lot_step.to_string())
    }

    #[test]
    fn each_venue_as_documented() {
        let binance_info = r#"{"timezone":"UTC","symbols":[{"symbol":"ETHUSDT","filters":[]},
            {"symbol":"BTCUSDT","status":"TRADING","filters":[
            {"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"},
            {"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}]}]}"#;
        let b = binance(binance_info, "BTCUSDT").unwrap();
        assert_eq!(steps(&b), ("0.01".to_owned(), "0.00001".to_owned()));
        assert!(
            binance(binance_info, "ETHUSDT")
                .unwrap_err()
                .to_string()
                .contains("tickSize")
        );
        assert!(
            binance(binance_info, "XRPUSDT")
                .unwrap_err()
                .to_string()
                .contains("not listed")
        );

        let product = r#"{"product_id":"BTC-USD","price":"64000.01","base_increment":"0.00000001","quote_increment":"0.01","base_min_size":"0.000016"}"#;
        assert_eq!(
            steps(&coinbase(product).unwrap()),
            ("0.01".to_owned(), "0.00000001".to_owned())
        );

        let pairs = r#"{"error":[],"result":{"XXBTZUSD":{"altname":"XBTUSD","wsname":"XBT/USD","pair_decimals":1,"lot_decimals":8,"tick_size":"0.1","ordermin":"0.0001"}}}"#;
        assert_eq!(
            steps(&kraken(pairs).unwrap()),
            ("0.1".to_owned(), "0.00000001".to_owned())
        );
        let old = r#"{"error":[],"result":{"XETHZUSD":{"pair_decimals":2,"lot_decimals":0}}}"#;
        assert_eq!(
            steps(&kraken(old).unwrap()),
            ("0.01".to_owned(), "1".to_owned())
        );
        let refused = r#"{"error":["EQuery:Unknown asset pair"]}"#;
        assert_eq!(
            kraken(refused).unwrap_err(),
            ReadError::Venue("EQuery:Unknown asset pair".to_owned())
        );
        let zero = r#"{"base_increment":"0","quote_increment":"0.01"}"#;
        assert!(
            coinbase(zero)
                .unwrap_err()
                .to_string()
                .contains("not above zero")
        );
    }

    proptest! {
        #[test]
        fn any_text_is_read_or_refused_never_a_panic(text in ".{0,200}", symbol in "[A-Z]{0,8}") {
            let _ = binance(&text, &symbol);
            let _ = coinbase(&text);
            let _ = kraken(&text);
        }

        #[test]
        fn a_listed_step_reads_back_exactly(tick in 1u32..100_000, scale in 0u32..9) {
            let scale = usize::try_from(scale).unwrap();
            let padded = format!("{tick:0>width$}", width = scale + 1);
            let (int, frac) = padded.split_at(padded.len() - scale);
            let step = if scale == 0 { int.to_owned() } else { format!("{int}.{frac}") };
            let doc = format!(r#"{{"quote_increment":"{step}","base_increment":"{step}"}}"#);
            let got = coinbase(&doc).unwrap();
            prop_assert_eq!(got.price_step.value(), step.parse::<Fixed>().unwrap());
        }
    }
}
