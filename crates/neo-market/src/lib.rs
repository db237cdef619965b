//! Market data from exchanges (issue 15, being built; not wired into the
//! pipeline yet): each venue's public messages (Binance spot, Coinbase
//! Advanced Trade, Kraken v2) read into the domain's ticks, trades and candles
//! ([`event::MarketEvent`]), their REST candle history read the same way
//! ([`backfill`]), and what a feed watches besides (sequence gaps, each
//! instrument's freshness: [`watch`]). All pure (text and times in, events or
//! a typed error out), so every reader is property-tested and fuzzed; the
//! connections, the bus stream and the sinks come next.

pub mod backfill;
pub mod binance;
pub mod coinbase;
pub mod event;
mod fields;
pub mod kraken;
pub mod watch;
