//! Any string: decoding returns claims or a typed error, never panics; decoded claims are always an object.
#![no_main]
use authbridge::jwt;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    match jwt::decode_unverified::<Value>(token) {
        Ok(t) => {
            assert!(t.header.is_object() && t.claims.is_object());
            let claims = jwt::decode_claims_unverified::<Value>(token).expect("claims decode when the whole token does");
            assert_eq!(claims, t.claims);
            let _ = jwt::is_expired(&claims, i64::MAX, i64::MAX);
            let _ = jwt::is_not_yet_valid(&claims, i64::MIN, i64::MAX);
        }
        Err(e) => assert!(!e.message().is_empty()),
    }
});
