//! HS256 JWTs (jsonwebtoken), random identifiers and constant-time comparison.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An opaque, stable id for a user name, so that no personal information reaches the provider
/// (the Point seed asks for exactly that).
pub fn opaque_user_id(username: &str) -> String {
    let digest = Sha256::digest(username.as_bytes());
    format!("u{}", digest.iter().take(10).map(|b| format!("{b:02x}")).collect::<String>())
}

/// Compares secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs `claims` as an HS256 JWT (the mock providers' tokens).
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret))
        .expect("a JSON object signs with HMAC")
}

/// Why a JWT was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtRejection {
    /// Not three base64url parts of JSON.
    Malformed,
    /// Another key, another algorithm, or altered.
    BadSignature,
    /// `exp` missing or not after now.
    Expired,
}

/// Verifies an HS256 JWT's signature and `exp` (seconds, strictly after `now_s`); returns its claims.
pub fn verify_hs256(secret: &[u8], token: &str, now_s: i64) -> Result<Value, JwtRejection> {
    use jsonwebtoken::errors::ErrorKind;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    // `exp` is checked below against the caller's clock, with no leeway; no audience is expected.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Value>(token, &jsonwebtoken::DecodingKey::from_secret(secret), &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                JwtRejection::BadSignature
            }
            _ => JwtRejection::Malformed,
        })?;
    match data.claims["exp"].as_i64() {
        Some(exp) if now_s < exp => Ok(data.claims),
        _ => Err(JwtRejection::Expired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    #[test]
    fn sign_and_verify() {
        let t = sign_hs256(b"k", &json!({"sub": "a", "exp": 100}));
        assert_eq!(verify_hs256(b"k", &t, 99).unwrap()["sub"], "a");
        assert_eq!(verify_hs256(b"k", &t, 100), Err(JwtRejection::Expired));
        assert_eq!(verify_hs256(b"other", &t, 0), Err(JwtRejection::BadSignature));
        let mut tampered = t.clone();
        tampered.replace_range(t.len() - 3.., "AAA");
        assert_eq!(verify_hs256(b"k", &tampered, 0), Err(JwtRejection::BadSignature));
        assert_eq!(verify_hs256(b"k", "a.b", 0), Err(JwtRejection::Malformed));
        // Another algorithm in the header (none, HS512) is refused, whatever the signature.
        let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), t.split('.').nth(1).unwrap());
        assert!(verify_hs256(b"k", &none, 0).is_err());
        let hs512 = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
            &json!({"sub": "a", "exp": 100}),
            &jsonwebtoken::EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        assert_eq!(verify_hs256(b"k", &hs512, 0), Err(JwtRejection::BadSignature));
    }

    #[test]
    fn ids() {
        assert_eq!(opaque_user_id("ada"), opaque_user_id("ada"));
        assert!(!opaque_user_id("ada@example.com").contains("ada"));
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"a", b"ab")
        );
    }
}
