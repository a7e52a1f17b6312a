//! Any JSON body in any format: a record or a typed error; a record's token can always go in a header and its
//! expiry is never absurd.
#![no_main]
use authbridge::token::{parse_token_response, CustomFormat, Format};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NOW: i64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let Ok(body) = serde_json::from_str::<Value>(text) else { return };
    let format = match selector % 7 {
        0 => Format::Auto,
        1 => Format::OAuth2,
        2 => Format::Point,
        3 => Format::Wazo,
        4 => Format::Static,
        5 => Format::Custom(CustomFormat { token: "/t".into(), expires_in: Some("/in".into()), expires_at: Some("/at".into()) }),
        _ => Format::Custom(CustomFormat { token: "/a/0/~1".into(), expires_in: None, expires_at: Some("".into()) }),
    };
    match parse_token_response(&body, &format, NOW) {
        Ok(rec) => {
            assert!(rec.token.secret().bytes().all(|b| (0x21..=0x7e).contains(&b)));
            assert!(!rec.token.secret().is_empty());
            if let Some(exp) = rec.expires_at {
                assert!(exp <= NOW + authbridge::time::MAX_LIFETIME_MS);
            }
        }
        Err(e) => assert!(!e.message().is_empty()),
    }
});
