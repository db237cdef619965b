//! Any message a venue's WebSocket could send, to every venue's reader:
//! events or a typed error, never a panic, and quotes never crossed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_domain::Timestamp;
use neo_market::event::{MarketEvent, Read};
use neo_market::{binance, coinbase, kraken};

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
});
