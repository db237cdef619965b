//! Market data from exchanges (issue 15, being built; not wired into the
//! pipeline yet): each venue's public messages (Binance spot, Coinbase
//! Advanced Trade, Kraken v2) read into the domain's ticks, trades and candles
//! ([`event::MarketEvent`]). The readers are pure (text
//! in, events or a typed error out) so every one is property-tested; the
//! connections, backfill and sinks come next.

pub mod backfill;
pub mod binance;
pub mod coinbase;
pub mod event;
mod fields;
pub mod kraken;
