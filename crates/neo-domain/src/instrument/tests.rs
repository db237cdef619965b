use proptest::prelude::*;

use super::*;

fn parsed(ticker: &str, exchange: Option<&str>) -> (String, AssetClass) {
    let p = parse_ticker(ticker, exchange).unwrap();
    (p.id.to_string(), p.asset_class)
}

#[test]
fn tradingview_tickers() {
    use AssetClass::*;
    let cases = [
        ("BINANCE:BTCUSDT", None, "BTC-USDT", Crypto),
        ("BYBIT:BTCUSDT.P", None, "BTC-USDT-PERP", Crypto),
        ("BINANCE:ETHUSDT.P", None, "ETH-USDT-PERP", Crypto),
        ("BINANCE:BTCUSDTPERP", None, "BTC-USDT-PERP", Crypto),
        ("COINBASE:BTCUSD", None, "BTC-USD", Crypto),
        ("BINANCE:BTCFDUSD", None, "BTC-FDUSD", Crypto),
        ("BINANCE:ETHBTC", None, "ETH-BTC", Crypto),
        ("BINANCE:1000PEPEUSDT", None, "1000PEPE-USDT", Crypto),
        ("KRAKEN:XBTUSD", None, "XBT-USD", Crypto),
        ("BINANCE:BTCTUSD", None, "BTC-TUSD", Crypto),
        ("BINANCE:FOOTUSD", None, "FOO-TUSD", Crypto),
        ("COINBASE:ETHUSDC", None, "ETH-USDC", Crypto),
        ("FX:EURUSD", None, "EUR-USD", Forex),
        ("OANDA:XAUUSD", None, "XAU-USD", Forex),
        ("FX_IDC:USDJPY", None, "USD-JPY", Forex),
        ("NASDAQ:AAPL", None, "AAPL", Equity),
        ("NYSE:BRK.B", None, "BRK-B", Equity),
        ("CME_MINI:ES1!", None, "ES1", Future),
        ("BTCUSDT", Some("BINANCE"), "BTC-USDT", Crypto),
        ("AAPL", Some("NASDAQ"), "AAPL", Equity),
        ("binance:btcusdt", None, "BTC-USDT", Crypto),
        ("  BINANCE:BTCUSDT ", None, "BTC-USDT", Crypto),
        ("BINANCE:BTCUSDT", Some("NASDAQ"), "BTC-USDT", Crypto),
        // No exchange: currencies make forex, known coins make crypto, else as written.
        ("EURUSD", None, "EUR-USD", Forex),
        ("EUR/USD", None, "EUR-USD", Forex),
        ("BTCUSDT", None, "BTC-USDT", Crypto),
        ("SOLUSDC", None, "SOL-USDC", Crypto),
        ("BTC/USDT", None, "BTC-USDT", Unknown),
        ("BTC-USDT", None, "BTC-USDT", Unknown),
        ("AAPL", None, "AAPL", Unknown),
        ("UNKNOWNEX:FOOBAR", None, "FOOBAR", Unknown),
    ];
    for (ticker, exchange, id, class) in cases {
        assert_eq!(
            parsed(ticker, exchange),
            (id.to_owned(), class),
            "{ticker} {exchange:?}"
        );
    }
}

#[test]
fn refuses_what_cannot_be_a_subject_token() {
    for bad in [
        "", "BINANCE:", "BTC USDT", "BTC*", "BTC>", "BTC.USDT", "BTC-", "-BTC", "btc", "ÄPFEL",
    ] {
        assert!(InstrumentId::new(bad).is_err(), "{bad:?}");
    }
    assert!(parse_ticker("BINANCE:", None).is_err());
    assert!(parse_ticker("NASDAQ:AAPL*", None).is_err());
    assert!(parse_ticker(&"A".repeat(40), None).is_err());
    assert!(serde_json::from_str::<InstrumentId>("\"btc-usdt\"").is_err());
}

#[test]
fn ids_are_small_copy_values() {
    assert_eq!(size_of::<InstrumentId>(), 32);
    let id = InstrumentId::new("BTC-USDT").unwrap();
    assert_eq!(id.pair(), Some(("BTC", "USDT")));
    assert_eq!(InstrumentId::new("AAPL").unwrap().pair(), None);
    assert_eq!(serde_json::to_string(&id).unwrap(), "\"BTC-USDT\"");
}

proptest! {
    #[test]
    fn parsing_never_panics_and_yields_subject_safe_tokens(t in "\\PC{0,40}", ex in proptest::option::of("[A-Za-z_]{0,10}")) {
        if let Ok(p) = parse_ticker(&t, ex.as_deref()) {
            let s = p.id.as_str();
            prop_assert!(!s.is_empty() && s.len() <= MAX_SYMBOL_LEN);
            prop_assert!(!s.contains(['.', '*', '>', ' ']));
            prop_assert_eq!(InstrumentId::new(s).unwrap(), p.id);
        }
    }

    #[test]
    fn canonical_ids_with_a_dash_parse_to_themselves(s in "[A-Z0-9]{1,8}(-[A-Z0-9]{1,8}){1,2}") {
        let id = InstrumentId::new(&s).unwrap();
        prop_assert_eq!(parse_ticker(&s, None).unwrap().id, id);
    }
}
