//! Storage is attacker-influenced: any stored text decodes to a valid entry or to nothing, and a valid entry
//! round-trips through the encoder unchanged.
#![no_main]
use authbridge::store::{decode, encode};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(entry) = decode::<Value>(text, Some("X-Api-Key"), "fuzz") {
        assert!(["Authorization", "X-Auth-Token", "X-Api-Key"].contains(&&*entry.header));
        let again = encode::<Value>(&entry.token, entry.expires_at, &entry.header, "fuzz");
        assert_eq!(decode::<Value>(&again, Some("X-Api-Key"), "fuzz"), Some(entry));
    }
});
