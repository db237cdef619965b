//! Any ticker and exchange an alert can carry: a canonical instrument (which
//! reads back as itself) or a refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_domain::InstrumentId;
use neo_domain::instrument::parse_ticker;

fuzz_target!(|input: (&str, Option<&str>)| {
    let (ticker, exchange) = input;
    if let Ok(parsed) = parse_ticker(ticker, exchange) {
        let again = InstrumentId::new(parsed.id.as_str());
        assert_eq!(again.ok(), Some(parsed.id), "{ticker:?} {exchange:?}");
    }
});
