//! Any body posted to the TradingView webhook: the syntax reader, the lenient
//! credential scan and the field reader never panic, and a body that reads is
//! normalized into a signal that passes its contract or into a refusal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_api::intake::{
    DEFAULT_BUCKET, IdScope, PriorityRules, Sender, SignalIds, normalize, read_document,
    scan_credentials,
};
use neo_domain::Contract;
use neo_domain::Timestamp;
use neo_domain::contracts::SignalSource;

fuzz_target!(|body: &[u8]| {
    let _ = scan_credentials(body);
    let Ok(document) = read_document(body) else {
        return;
    };
    let _ = document.credentials();
    let now = Timestamp::from_unix_secs(1_795_295_343).unwrap_or(Timestamp::EPOCH);
    let Ok(raw) = document.into_alert(now) else {
        return;
    };
    let (ids, sender) = (SignalIds::new(b"fuzzing installation secret....."), Sender::holding(b"p"));
    let scope = IdScope { ids: &ids, sender: &sender, bucket: DEFAULT_BUCKET };
    if let Ok(signal) = normalize(raw, SignalSource::Tradingview, &PriorityRules::default(), now, &scope) {
        assert!(signal.check().is_empty(), "a normalized signal breaks its contract: {signal:?}");
    }
});
