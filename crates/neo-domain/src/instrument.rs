//! Instruments: canonical symbols (`BTC-USDT`, `BTC-USDT-PERP`, `EUR-USD`,
//! `AAPL`) that are safe as NATS subject tokens, and the parsing of the tickers
//! TradingView sends (`BINANCE:BTCUSDT`, `BYBIT:BTCUSDT.P`, `FX:EURUSD`, ...).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest canonical symbol; ids are inline and `Copy`, so keys cost no allocation.
pub const MAX_SYMBOL_LEN: usize = 31;

/// Why a text is not an instrument NEO can name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstrumentError {
    /// Nothing after trimming.
    #[error("empty instrument")]
    Empty,
    /// Longer than [`MAX_SYMBOL_LEN`] characters.
    #[error("instrument {0:?} is longer than {MAX_SYMBOL_LEN} characters")]
    TooLong(String),
    /// Not of the form `SEGMENT(-SEGMENT)*` with `A-Z` and `0-9`.
    #[error("instrument {0:?} must be A-Z and 0-9 segments joined by '-'")]
    Invalid(String),
}

/// A canonical instrument symbol: upper-case `A-Z0-9` segments joined by `-`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstrumentId {
    len: u8,
    bytes: [u8; MAX_SYMBOL_LEN],
}

impl InstrumentId {
    /// Accepts only the canonical form; use [`parse_ticker`] for what senders write.
    pub fn new(symbol: &str) -> Result<Self, InstrumentError> {
        let shown = || symbol.chars().take(40).collect::<String>();
        if symbol.is_empty() {
            return Err(InstrumentError::Empty);
        }
        if symbol.len() > MAX_SYMBOL_LEN {
            return Err(InstrumentError::TooLong(shown()));
        }
        let segments_ok = symbol.split('-').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
        if !segments_ok {
            return Err(InstrumentError::Invalid(shown()));
        }
        let mut bytes = [0u8; MAX_SYMBOL_LEN];
        bytes[..symbol.len()].copy_from_slice(symbol.as_bytes());
        Ok(InstrumentId {
            len: symbol.len() as u8,
            bytes,
        })
    }

    /// The symbol.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// Base and quote for pairs (`BTC-USDT` -> `BTC`, `USDT`); `None` for single names.
    pub fn pair(&self) -> Option<(&str, &str)> {
        let mut parts = self.as_str().split('-');
        match (parts.next(), parts.next()) {
            (Some(base), Some(quote)) => Some((base, quote)),
            _ => None,
        }
    }
}

impl fmt::Display for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for InstrumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InstrumentId({})", self.as_str())
    }
}

impl std::str::FromStr for InstrumentId {
    type Err = InstrumentError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InstrumentId::new(s)
    }
}

impl Serialize for InstrumentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InstrumentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(d)?;
        InstrumentId::new(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for InstrumentId {
    fn schema_name() -> Cow<'static, str> {
        "InstrumentId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Canonical instrument symbol, safe as a NATS subject token.",
            "type": "string",
            "pattern": "^[A-Z0-9]+(-[A-Z0-9]+)*$",
            "maxLength": MAX_SYMBOL_LEN,
        })
    }
}

/// What kind of market an instrument trades on: it decides how a ticker splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetClass {
    /// Crypto spot pairs and perpetuals.
    Crypto,
    /// Currency pairs and metals quoted in currencies.
    Forex,
    /// Shares and funds.
    Equity,
    /// Futures (continuous contracts lose TradingView's trailing `!`).
    Future,
    /// Nothing told us; the symbol is kept as written.
    Unknown,
}

/// A sender's ticker resolved to a canonical id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTicker {
    /// The canonical symbol.
    pub id: InstrumentId,
    /// How the ticker was read.
    pub asset_class: AssetClass,
}

/// Quote currencies of crypto pairs, longest first so `USDC` wins over `USD`.
const CRYPTO_QUOTES: &[&str] = &[
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USDE", "DAI", "USD", "EUR", "GBP", "JPY",
    "TRY", "BRL", "AUD", "CAD", "CHF", "KRW", "BTC", "ETH", "BNB", "SOL",
];

/// ISO currencies and metals that make a six-letter forex pair.
const FX_CODES: &[&str] = &[
    "USD", "EUR", "JPY", "GBP", "AUD", "CAD", "CHF", "NZD", "SEK", "NOK", "DKK", "SGD", "HKD",
    "MXN", "ZAR", "TRY", "CNH", "CNY", "PLN", "HUF", "CZK", "ILS", "INR", "KRW", "THB", "XAU",
    "XAG", "XPT", "XPD",
];

/// Common crypto bases, to split pairs that arrive without an exchange.
const CRYPTO_BASES: &[&str] = &[
    "BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "BNB", "DOT", "AVAX", "LINK", "LTC", "BCH", "TRX",
    "MATIC", "POL", "SHIB", "PEPE", "ATOM", "UNI", "XLM", "ETC", "NEAR", "APT", "ARB", "OP", "SUI",
    "TON", "FIL", "INJ", "AAVE", "XBT",
];

const CRYPTO_EXCHANGES: &[&str] = &[
    "BINANCE",
    "BINANCEUS",
    "BYBIT",
    "COINBASE",
    "KRAKEN",
    "BITSTAMP",
    "OKX",
    "BITGET",
    "KUCOIN",
    "GEMINI",
    "BITFINEX",
    "HTX",
    "HUOBI",
    "MEXC",
    "GATEIO",
    "DERIBIT",
    "BITMEX",
    "PHEMEX",
    "CRYPTO",
    "CRYPTOCOM",
    "UPBIT",
    "BINGX",
    "POLONIEX",
    "BITMART",
];

const FX_EXCHANGES: &[&str] = &[
    "FX",
    "FX_IDC",
    "OANDA",
    "FXCM",
    "FOREXCOM",
    "PEPPERSTONE",
    "ICMARKETS",
    "SAXO",
    "CAPITALCOM",
    "EIGHTCAP",
    "BLACKBULL",
    "TVC",
];

const EQUITY_EXCHANGES: &[&str] = &[
    "NASDAQ", "NYSE", "AMEX", "ARCA", "NYSEARCA", "BATS", "CBOE", "OTC", "LSE", "XETR", "FWB",
    "TSX", "ASX", "HKEX", "TSE", "EURONEXT", "SIX", "NSE", "BSE",
];

const FUTURES_EXCHANGES: &[&str] = &[
    "CME",
    "CME_MINI",
    "CBOT",
    "CBOT_MINI",
    "NYMEX",
    "COMEX",
    "ICEUS",
    "ICEEUR",
    "EUREX",
];

/// Resolves what a sender wrote (`BINANCE:BTCUSDT`, or `BTCUSDT` with exchange
/// `BINANCE`) to a canonical instrument. An exchange prefix in the ticker wins
/// over the separate `exchange` field.
pub fn parse_ticker(ticker: &str, exchange: Option<&str>) -> Result<ParsedTicker, InstrumentError> {
    let ticker = ticker.trim();
    let (prefix, symbol) = match ticker.split_once(':') {
        Some((ex, sym)) => (Some(ex), sym),
        None => (None, ticker),
    };
    let exchange = prefix.or(exchange).map(|e| e.trim().to_ascii_uppercase());
    let symbol = symbol.trim().to_ascii_uppercase();
    if symbol.is_empty() {
        return Err(InstrumentError::Empty);
    }
    let class = match exchange.as_deref() {
        Some(ex) if CRYPTO_EXCHANGES.contains(&ex) => AssetClass::Crypto,
        Some(ex) if FX_EXCHANGES.contains(&ex) => AssetClass::Forex,
        Some(ex) if EQUITY_EXCHANGES.contains(&ex) => AssetClass::Equity,
        Some(ex) if FUTURES_EXCHANGES.contains(&ex) => AssetClass::Future,
        _ => AssetClass::Unknown,
    };
    let (canonical, class) = match class {
        AssetClass::Crypto => (crypto_symbol(&symbol, true), AssetClass::Crypto),
        AssetClass::Forex => (
            forex_symbol(&symbol).unwrap_or_else(|| joined(&symbol)),
            class,
        ),
        AssetClass::Equity => (joined(&symbol), class),
        AssetClass::Future => (joined(symbol.trim_end_matches('!')), class),
        AssetClass::Unknown => guess_symbol(&symbol),
    };
    Ok(ParsedTicker {
        id: InstrumentId::new(&canonical)?,
        asset_class: class,
    })
}

/// Replaces separators senders use (`/`, `.`, `_`, space) with `-`.
fn joined(symbol: &str) -> String {
    symbol
        .split(['/', '.', '_', ' ', '-'])
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

/// `BTCUSDT` -> `BTC-USDT`, `BTCUSDT.P` -> `BTC-USDT-PERP`; with `any_base`
/// false the base must be a known crypto asset (no exchange told us it is crypto).
fn crypto_symbol(symbol: &str, any_base: bool) -> String {
    // `.P` is TradingView's perpetual suffix; a bare `PERP` only counts on a crypto venue.
    let perp_body = symbol
        .strip_suffix(".P")
        .or_else(|| any_base.then(|| symbol.strip_suffix("PERP")).flatten());
    let (body, perp) = match perp_body {
        Some(body) => (body.trim_end_matches(['-', '_']), true),
        None => (symbol, false),
    };
    let pair = if body.contains(['/', '-', '_']) {
        joined(body)
    } else {
        // Prefer a split that leaves a known coin (`XBT|USD` over `XB|TUSD`), then the longest quote.
        let splits = CRYPTO_QUOTES.iter().filter_map(|q| {
            let base = body.strip_suffix(q)?;
            let known = CRYPTO_BASES.contains(&base);
            (base.len() >= 2 && (any_base || known)).then_some((known, base, *q))
        });
        splits
            .max_by_key(|(known, _, q)| (*known, q.len()))
            .map(|(_, base, q)| format!("{base}-{q}"))
            .unwrap_or_else(|| joined(body))
    };
    if perp { format!("{pair}-PERP") } else { pair }
}

/// `EURUSD` -> `EUR-USD` when both halves are currency codes.
fn forex_symbol(symbol: &str) -> Option<String> {
    let compact: String = symbol.chars().filter(char::is_ascii_alphabetic).collect();
    if compact.len() != 6 || compact.len() != symbol.chars().filter(|c| *c != '/').count() {
        return None;
    }
    let (base, quote) = compact.split_at(3);
    (FX_CODES.contains(&base) && FX_CODES.contains(&quote)).then(|| format!("{base}-{quote}"))
}

/// No exchange: forex if both halves are currencies, crypto if the base is a
/// known coin or the ticker has TradingView's perpetual suffix, else as written.
fn guess_symbol(symbol: &str) -> (String, AssetClass) {
    if let Some(fx) = forex_symbol(symbol) {
        return (fx, AssetClass::Forex);
    }
    if symbol.ends_with(".P") {
        return (crypto_symbol(symbol, true), AssetClass::Crypto);
    }
    let crypto = crypto_symbol(symbol, false);
    if crypto.contains('-') && !symbol.contains(['-', '/', '.', '_']) {
        return (crypto, AssetClass::Crypto);
    }
    (joined(symbol), AssetClass::Unknown)
}

#[cfg(test)]
mod tests;
