//! # authbridge
//!
//! Keeps a web page or an edge worker signed in to an API. The long-lived secrets stay on your *bridging
//! backend*; authbridge asks it for short-lived access tokens, refreshes them before they expire (once, however
//! many callers), keeps only the access token in storage and attaches it only to your API origins.
//!
//! The crate is a pure Rust core, tested natively, plus a thin wasm-bindgen layer ([`web`], wasm only):
//!
//! - [`jwt`]: strict decoding of JWT header and claims, `exp`/`nbf`/`iat` with leeway;
//! - [`token`]: the token responses of the supported providers (OAuth 2, Point, Wazo, static, custom);
//! - [`schedule`]: refresh margins, jitter and backoff;
//! - [`session`]: the session state machine (restore, single flight, failure handling, sign-out);
//! - [`store`]: the store trait and the stored-entry format (access token only);
//! - [`json`], [`time`], [`error`]: the JSON view, clock and ISO 8601, typed errors with stable codes.

pub mod base64url;
pub mod error;
pub mod json;
pub mod jwt;
pub mod schedule;
pub mod session;
pub mod store;
pub mod time;
pub mod token;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Code, Error, JwtError, ResponseError};
pub use session::{Config, Decision, Outcome, Session, Transport};
pub use token::{parse_token_response, AccessToken, Format, TokenRecord};

#[cfg(all(test, not(target_arch = "wasm32")))]
mod session_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod test_support {
    //! Builders shared by the native tests.
    use serde_json::Value;

    /// Base64url without padding.
    pub fn b64(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            }
        }
        out
    }

    /// An unsigned-but-well-formed JWT with this header and these claims.
    pub fn jwt(header: &Value, claims: &Value) -> String {
        format!("{}.{}.c2ln", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
    }
}
