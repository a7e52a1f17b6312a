//! Strict decoding of JWT header and claims (RFC 7519), without signature verification.
//!
//! The browser never holds the key that signed an access token, so authbridge reads claims only to know a
//! token's lifetime and to show them; the API verifies the signature. The names say so: these functions
//! decode an *untrusted* token.

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;

use crate::error::{JwtError, Part};
use crate::json::{Json, Kind};

/// Base64url (RFC 4648 §5) as JWTs use it (RFC 7515: no padding), accepting non-zero trailing bits: the token is
/// the API's to judge, this only reads it. Anything outside the URL-safe alphabet fails.
pub const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Issuers that pad exist: a part ending in `=` must then be padded exactly (`Zg==`, never `Zg=`). The crate's
/// `Indifferent` mode would also take incomplete padding.
const BASE64URL_PADDED: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

fn base64url(part: &str, which: Part) -> Result<Vec<u8>, JwtError> {
    let engine = if part.ends_with('=') { &BASE64URL_PADDED } else { &BASE64URL };
    engine.decode(part).map_err(|_| JwtError::InvalidBase64(which))
}

/// The decoded header and claims of a JWT whose signature was **not** verified.
#[derive(Clone, Debug)]
pub struct UntrustedJwt<J> {
    /// The JOSE header (part #1).
    pub header: J,
    /// The claims set (part #2).
    pub claims: J,
}

/// Decodes header and claims; fails on anything that is not a well-formed compact JWS.
pub fn decode_unverified<J: Json>(token: &str) -> Result<UntrustedJwt<J>, JwtError> {
    let [header, claims, signature] = split(token)?;
    let header = decode_object(header, Part::Header)?;
    let claims = decode_object(claims, Part::Claims)?;
    check_signature(signature)?;
    Ok(UntrustedJwt { header, claims })
}

/// Decodes only the claims (part #2); the header must still be base64url and UTF-8.
pub fn decode_claims_unverified<J: Json>(token: &str) -> Result<J, JwtError> {
    let [header, claims, signature] = split(token)?;
    decode_object_text(header, Part::Header)?;
    let claims = decode_object(claims, Part::Claims)?;
    check_signature(signature)?;
    Ok(claims)
}

/// Decodes only the header (part #1); the claims must still be base64url.
pub fn decode_header_unverified<J: Json>(token: &str) -> Result<J, JwtError> {
    let [header, claims, signature] = split(token)?;
    let header = decode_object(header, Part::Header)?;
    base64url(claims, Part::Claims)?;
    check_signature(signature)?;
    Ok(header)
}

// An empty signature is an unsecured JWT (`alg: none`); otherwise it must be base64url too.
fn check_signature(signature: &str) -> Result<(), JwtError> {
    if !signature.is_empty() {
        base64url(signature, Part::Signature)?;
    }
    Ok(())
}

/// Splits a compact JWS into its three parts, checking their count and that header and claims are not empty.
pub fn split(token: &str) -> Result<[&str; 3], JwtError> {
    if token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(JwtError::Whitespace);
    }
    let mut parts = token.split('.');
    let header = parts.next().unwrap_or_default();
    if header.is_empty() {
        return Err(JwtError::EmptyPart(Part::Header));
    }
    let claims = parts.next().ok_or(JwtError::MissingPart(Part::Claims))?;
    let signature = parts.next().ok_or(JwtError::MissingPart(Part::Signature))?;
    if parts.next().is_some() {
        return Err(JwtError::TooManyParts);
    }
    if claims.is_empty() {
        return Err(JwtError::EmptyPart(Part::Claims));
    }
    Ok([header, claims, signature])
}

fn decode_object_text(part: &str, which: Part) -> Result<String, JwtError> {
    String::from_utf8(base64url(part, which)?).map_err(|_| JwtError::InvalidUtf8(which))
}

fn decode_object<J: Json>(part: &str, which: Part) -> Result<J, JwtError> {
    let text = decode_object_text(part, which)?;
    let value = J::parse(&text).ok_or(JwtError::InvalidJson(which))?;
    if value.kind() != Kind::Object {
        return Err(JwtError::NotAnObject(which));
    }
    Ok(value)
}

/// A numeric date claim (`exp`, `nbf`, `iat`) in epoch milliseconds; `None` when absent or not a finite number.
pub fn numeric_date_ms<J: Json>(claims: &J, name: &str) -> Option<i64> {
    let seconds = claims.get(name)?.as_f64()?;
    (seconds.is_finite() && seconds.abs() < 1e14).then_some((seconds * 1000.0) as i64)
}

/// `true` when `exp` is present and `now_ms` is at or past it, allowing `leeway_ms` of clock difference.
pub fn is_expired<J: Json>(claims: &J, now_ms: i64, leeway_ms: i64) -> bool {
    numeric_date_ms(claims, "exp").is_some_and(|exp| now_ms >= exp.saturating_add(leeway_ms))
}

/// `true` when `nbf` is present and `now_ms` is before it, allowing `leeway_ms` of clock difference.
pub fn is_not_yet_valid<J: Json>(claims: &J, now_ms: i64, leeway_ms: i64) -> bool {
    numeric_date_ms(claims, "nbf").is_some_and(|nbf| now_ms < nbf.saturating_sub(leeway_ms))
}

/// `true` when `iat` is present and lies in the future by more than `leeway_ms`.
pub fn is_issued_in_future<J: Json>(claims: &J, now_ms: i64, leeway_ms: i64) -> bool {
    numeric_date_ms(claims, "iat").is_some_and(|iat| iat > now_ms.saturating_add(leeway_ms))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::test_support::{b64, jwt};
    use serde_json::{json, Value};

    fn err(token: &str) -> &'static str {
        decode_unverified::<Value>(token).unwrap_err().message()
    }

    #[test]
    fn decodes_header_and_claims_of_the_point_seed_token() {
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJwb2ludHwtb1BIbllUaEc2NFVGX0ZCMV8yNmwiLCJpYXQiOjE2NDUxMzc2MDcsImV4cCI6MTY0NTE0MTIwN30.8eIpFc01hpj0Mid325kvJlouQi8aLTBw93q3whwRtpM";
        let jwt = decode_unverified::<Value>(t).unwrap();
        assert_eq!(jwt.header, json!({"alg": "HS256", "typ": "JWT"}));
        assert_eq!(jwt.claims, json!({"sub": "point|-oPHnYThG64UF_FB1_26l", "iat": 1645137607, "exp": 1645141207}));
        assert_eq!(numeric_date_ms(&jwt.claims, "exp"), Some(1_645_141_207_000));
    }

    #[test]
    fn decodes_the_pointservices_seed_token_with_padded_signature() {
        let t = "eyJraWQiOiIxMjM0NSIsInR5cCI6IkpXVCIsImFsZyI6IlJTMjU2In0.eyJhdWQiOiJ0ZXN0LXRlbmFudCIsInN1YiI6InhwcHN8MTIyMyIsImVtYWlsX3ZlcmlmaWVkIjp0cnVlLCJ1c2VyX2lkIjoiMTIyMyIsImF1dGhfdGltZSI6MTcwODcxNTYwMiwiaXNzIjoiaHR0cHM6XC9cL3NlY3VyZXRva2VuLmdvb2dsZS5jb21cL3Rlc3QtdGVuYW50IiwiZXhwIjoxNzA4NzE5LCJpYXQiOjE3MDg3MTUsImVtYWlsIjoidGVzdHVzZXJAdGVuYW50LmNvbSJ9.dGVzdA==";
        let jwt = decode_unverified::<Value>(t).unwrap();
        assert_eq!(jwt.header["kid"], "12345");
        assert_eq!(jwt.claims["iss"], "https://securetoken.google.com/test-tenant");
        assert_eq!(jwt.claims["email_verified"], true);
    }

    #[test]
    fn keeps_utf8_and_every_json_type() {
        let claims = json!({"name": "José 🚀", "n": 1.5, "b": false, "z": null, "a": [1, "x"], "o": {"k": "v"}});
        let jwt = decode_unverified::<Value>(&jwt(&json!({"alg": "none"}), &claims)).unwrap();
        assert_eq!(jwt.claims, claims);
    }

    /// The configured engine, as the decoder sees it.
    fn dec(input: &str) -> Option<Vec<u8>> {
        base64url(input, Part::Claims).ok()
    }

    #[test]
    fn rfc4648_vectors_padded_and_unpadded() {
        let cases: [(&str, &[u8]); 7] = [
            ("", b""),
            ("Zg", b"f"),
            ("Zm8", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg", b"foob"),
            ("Zm9vYmE", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
        ];
        for (enc, want) in cases {
            assert_eq!(dec(enc).as_deref(), Some(want), "{enc}");
            let padded = format!("{enc}{}", "=".repeat((4 - enc.len() % 4) % 4));
            assert_eq!(dec(&padded).as_deref(), Some(want), "{padded}");
        }
        assert_eq!(dec("-_-_").unwrap(), vec![0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn agrees_with_a_plain_bit_by_bit_decoder_on_every_short_input() {
        // The reference: collect 6 bits per character, emit whole bytes; anything outside the alphabet fails.
        fn reference(input: &str) -> Option<Vec<u8>> {
            let (mut bits, mut n, mut out) = (0u32, 0u32, Vec::new());
            for c in input.chars() {
                let v = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".find(c)? as u32;
                n = (n << 6) | v;
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((n >> bits) as u8);
                    n &= (1 << bits) - 1;
                }
            }
            (input.len() % 4 != 1).then_some(out)
        }
        let symbols = ['A', 'Q', 'z', '0', '9', '-', '_', '+', '.', '\u{e9}'];
        let mut inputs = vec![String::new()];
        for _ in 0..5 {
            inputs = inputs.iter().flat_map(|s| symbols.iter().map(move |c| format!("{s}{c}"))).collect();
            for input in &inputs {
                assert_eq!(dec(input), reference(input), "{input}");
            }
        }
    }

    #[test]
    fn rejects_bad_alphabet_length_and_padding() {
        for bad in ["+/==", "Zm9v+", "Z", "Zm9vY", "Zg=", "Zg===", "Z===", "=", "Zg==Zg==", "Zm 9v", "Zé"] {
            assert_eq!(dec(bad), None, "{bad}");
        }
    }

    #[test]
    fn accepts_padded_and_unpadded_base64url() {
        // {"a":1} is 7 bytes: unpadded 10 chars, padded 12.
        let unpadded = b64(br#"{"a":1}"#);
        assert_eq!(unpadded.len(), 10);
        let padded = format!("{unpadded}==");
        for part in [unpadded, padded] {
            let token = format!("{part}.{part}.sig");
            assert_eq!(decode_claims_unverified::<Value>(&token).unwrap(), json!({"a": 1}));
        }
    }

    #[test]
    fn every_malformed_token_has_a_precise_error() {
        let obj = b64(br#"{"a":1}"#);
        assert_eq!(err(""), "part #1 is empty");
        assert_eq!(err("abc"), "missing part #2");
        assert_eq!(err(&format!("{obj}.{obj}")), "missing part #3");
        assert_eq!(err(&format!("{obj}.{obj}.s.x")), "too many parts: a JWT has exactly 3");
        assert_eq!(err(&format!("{obj}.{obj} .s")), "whitespace inside the token");
        assert_eq!(err(&format!("\n{obj}.{obj}.s")), "whitespace inside the token");
        assert_eq!(err(&format!(".{obj}.s")), "part #1 is empty");
        assert_eq!(err(&format!("{obj}..s")), "part #2 is empty");
        assert_eq!(err(&format!("a+b.{obj}.s")), "invalid base64 in part #1");
        assert_eq!(err(&format!("{obj}.a/b.s")), "invalid base64 in part #2");
        assert_eq!(err(&format!("{obj}.{obj}.a*b")), "invalid base64 in part #3");
        assert_eq!(err(&format!("{obj}.abcde.s")), "invalid base64 in part #2");
        assert_eq!(err(&format!("{obj}.{}.s", b64(b"{nope"))), "invalid JSON in part #2");
        assert_eq!(err(&format!("{}.{obj}.s", b64(b"[1]"))), "part #1 is not a JSON object");
        assert_eq!(err(&format!("{obj}.{}.s", b64(b"null"))), "part #2 is not a JSON object");
        assert_eq!(err(&format!("{obj}.{}.s", b64(b"\"str\""))), "part #2 is not a JSON object");
        assert_eq!(err(&format!("{obj}.{}.s", b64(&[b'"', 0xff, b'"']))), "invalid UTF-8 in part #2");
        assert_eq!(err(&format!("{obj}.{}=.s", b64(br#"{"a":1}"#))), "invalid base64 in part #2");
    }

    #[test]
    fn unsecured_jwt_with_empty_signature_is_accepted() {
        let obj = b64(br#"{"alg":"none"}"#);
        assert!(decode_unverified::<Value>(&format!("{obj}.{obj}.")).is_ok());
    }

    #[test]
    fn time_claims_with_leeway() {
        let c = json!({"exp": 100, "nbf": 50, "iat": 40});
        assert!(!is_expired(&c, 99_999, 0));
        assert!(is_expired(&c, 100_000, 0));
        assert!(!is_expired(&c, 100_500, 1_000));
        assert!(is_not_yet_valid(&c, 49_999, 0));
        assert!(!is_not_yet_valid(&c, 49_999, 10));
        assert!(is_issued_in_future(&c, 39_000, 500));
        assert!(!is_issued_in_future(&c, 39_000, 1_000));
        assert!(!is_expired(&json!({}), i64::MAX, 0));
        assert_eq!(numeric_date_ms(&json!({"exp": "100"}), "exp"), None);
        assert_eq!(numeric_date_ms(&json!({"exp": 1e300}), "exp"), None);
    }
}
