//! Any `X-Neo-Signature` header, against any body: parsed or refused, never a
//! panic, and only the right secret verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_api::intake::{SignatureHeader, sign, verify_signature};
use neo_domain::Timestamp;

fuzz_target!(|input: (&str, &[u8])| {
    let (header, body) = input;
    let _ = SignatureHeader::parse(header);
    let now = Timestamp::from_unix_secs(1_795_295_343).unwrap_or(Timestamp::EPOCH);
    let _ = verify_signature(header, body, &[b"a-signing-secret-0123"], now, 300);
    let good = sign(b"a-signing-secret-0123", 1_795_295_343, body);
    assert!(verify_signature(&good, body, &[b"a-signing-secret-0123"], now, 300).is_ok());
    assert!(verify_signature(&good, body, &[b"another-secret-45678"], now, 300).is_err());
});
