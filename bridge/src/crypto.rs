//! HS256 JWTs, random identifiers and constant-time comparison.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random RFC 4122 version-4 UUID, as Wazo's tokens are.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
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

/// Signs `claims` as an HS256 JWT.
pub fn sign_hs256(secret: &[u8], claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

/// Why a JWT was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum JwtRejection {
    Malformed,
    BadSignature,
    Expired,
}

/// Verifies an HS256 JWT's signature and `exp` (seconds) against `now_s`; returns its claims.
pub fn verify_hs256(secret: &[u8], token: &str, now_s: i64) -> Result<Value, JwtRejection> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtRejection::Malformed);
    };
    let header: Value =
        URL_SAFE_NO_PAD.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwtRejection::Malformed)?;
    if header["alg"] != "HS256" {
        return Err(JwtRejection::BadSignature);
    }
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtRejection::Malformed)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    mac.verify_slice(&signature).map_err(|_| JwtRejection::BadSignature)?;
    let claims: Value =
        URL_SAFE_NO_PAD.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwtRejection::Malformed)?;
    match claims["exp"].as_i64() {
        Some(exp) if now_s < exp => Ok(claims),
        _ => Err(JwtRejection::Expired),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
    }

    #[test]
    fn ids() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid_v4(), u);
        assert_eq!(opaque_user_id("ada"), opaque_user_id("ada"));
        assert!(!opaque_user_id("ada@example.com").contains("ada"));
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"a", b"ab")
        );
    }
}
