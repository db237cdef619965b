//! Market data from exchanges: each venue's public messages (Binance spot,
//! Coinbase Advanced Trade, Kraken v2) read into the domain's ticks, trades
//! and candles ([`event::MarketEvent`]), their REST candle history read the
//! same way ([`backfill`]), what a feed watches besides (sequence gaps, each
//! instrument's freshness: [`watch`]) and one-minute candles whichever way a
//! venue gives them ([`candles`]). All of that is pure (text and times in,
//! events or a typed error out), so every reader is property-tested and
//! fuzzed. [`feed`] is the shell: the connection, resubscription, backoff,
//! backfill and rate limits, the same for every [`venue::Venue`].

pub mod backfill;
pub mod binance;
pub mod candles;
pub mod coinbase;
pub mod event;
pub mod feed;
mod fields;
pub mod kraken;
pub mod listing;
pub mod replay;
pub mod venue;
pub mod watch;
mod wire;

#[cfg(test)]
mod reference;
