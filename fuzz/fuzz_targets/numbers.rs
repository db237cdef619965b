//! Any text where an exact number belongs (prices, quantities, sizes): parsed
//! exactly and printed back to the same value, or refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neo_domain::{Fixed, Price, Quantity, Timestamp};

fuzz_target!(|text: &str| {
    if let Ok(x) = text.parse::<Fixed>() {
        assert_eq!(x.to_string().parse::<Fixed>().ok(), Some(x), "{text:?}");
    }
    if let Ok(p) = text.parse::<Price>() {
        assert_eq!(p.to_string().parse::<Price>().ok(), Some(p), "{text:?}");
    }
    if let Ok(q) = text.parse::<Quantity>() {
        assert_eq!(q.to_string().parse::<Quantity>().ok(), Some(q), "{text:?}");
    }
    let _ = Timestamp::parse_rfc3339(text);
    let _ = serde_json::from_str::<Price>(text);
});
