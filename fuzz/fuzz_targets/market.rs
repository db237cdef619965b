//! Any message a venue's WebSocket or REST API could send, to every venue's
//! reader: events or a typed error, never a panic, quotes never crossed, bars
//! never upside down or still open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_domain::Timestamp;
use neo_market::event::{MarketEvent, Read};
use neo_domain::InstrumentId;
use neo_market::{backfill, binance, coinbase, kraken, listing};

fn check(read: Read) {
    for event in read.events {
        if let MarketEvent::Tick(t) = event
            && let (Some(b), Some(a)) = (t.bid, t.ask)
        {
            assert!(b <= a, "crossed quote {b} > {a}");
        }
    }
}

fuzz_target!(|text: &str| {
    let at = Timestamp::from_nanos(1_700_000_000_000_000_000);
    if let Ok(read) = binance::read(text, at) {
        check(read);
    }
    if let Ok(read) = coinbase::read(text) {
        check(read);
    }
    if let Ok(read) = kraken::read(text, at) {
        check(read);
    }
    for increments in [
        listing::binance(text, "BTCUSDT"),
        listing::coinbase(text),
        listing::kraken(text),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!increments.price_step.value().is_zero() && !increments.lot_step.is_zero());
    }
    let Ok(id) = InstrumentId::new("BTC-USD") else {
        return;
    };
    for bars in [
        backfill::binance_klines(text, id, "1m", at),
        backfill::coinbase_candles(text, id, 60, at),
        backfill::kraken_ohlc(text, id, 1, at),
    ]
    .into_iter()
    .flatten()
    {
        for b in bars {
            assert!(b.low <= b.high && b.ts_event <= at);
        }
    }
});
