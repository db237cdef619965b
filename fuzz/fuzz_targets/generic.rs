//! Any body posted to the signed generic webhook (after its signature): read
//! into a signal that passes its contract, or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_api::intake::{DEFAULT_BUCKET, IdScope, Sender, SignalIds, parse_generic};
use neo_domain::{Contract, Timestamp};

fuzz_target!(|body: &[u8]| {
    let now = Timestamp::from_unix_secs(1_795_295_343).unwrap_or(Timestamp::EPOCH);
    let (ids, sender) = (SignalIds::new(b"fuzzing installation secret....."), Sender::holding(b"k"));
    let scope = IdScope { ids: &ids, sender: &sender, bucket: DEFAULT_BUCKET };
    if let Ok(signal) = parse_generic(body, now, &scope) {
        assert!(signal.check().is_empty(), "an accepted signal breaks its contract: {signal:?}");
    }
});
