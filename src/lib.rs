//! # authbridge
//!
//! Keeps a web page or an edge worker signed in to an API. The long-lived secrets stay on your *bridging
//! backend*; authbridge asks it for short-lived access tokens, refreshes them before they expire (once, however
//! many callers), keeps only the access token in storage and attaches it only to your API origins.
//!
//! The crate is a pure Rust core, tested natively, plus the web executor ([`web`], wasm only: the Rust API
//! `web::Client` and the JS API `AuthClient`):
//!
//! - [`jwt`]: strict decoding of JWT header and claims, `exp`/`nbf`/`iat` with leeway;
//! - [`token`]: the token responses of the supported providers (OAuth 2, Point, Wazo, static, custom);
//! - [`schedule`]: refresh margins, jitter and backoff;
//! - [`session`]: the token session (restore, decide, failure handling, sign-out);
//! - [`machine`]: the client's one owner of state and policy, sans-IO (events in, commands out, `now` passed in):
//!   callers and the single flight, the lock and peer protocols, connectivity, lifecycle, status, storage writes;
//! - [`options`]: the options of both APIs, every rule and message, over plain values and platform facts;
//! - [`store`]: the store trait and the stored-entry format (access token only);
//! - [`rules`]: the request rules: which request gets the token, what each redirect hop carries, which `401`
//!   refuses the token, what a bridge call does with a redirect;
//! - [`json`], [`time`], [`error`]: the JSON view, clock and ISO 8601, typed errors with stable codes.

pub mod error;
pub mod json;
pub mod jwt;
pub mod machine;
pub mod options;
pub mod rules;
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
mod machine_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod test_support {
    //! Builders shared by the native tests.
    use serde_json::Value;

    /// Base64url without padding.
    pub fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        crate::jwt::BASE64URL.encode(bytes)
    }

    /// An unsigned-but-well-formed JWT with this header and these claims.
    pub fn jwt(header: &Value, claims: &Value) -> String {
        format!("{}.{}.c2ln", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
    }

    /// The system allocator, counting the bytes each thread holds, so a test can see whether memory stays
    /// flat however long it runs (tests run on parallel threads: a global count would mix them).
    pub struct CountingAlloc;

    thread_local! {
        static LIVE_BYTES: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    }

    fn count(delta: isize) {
        let _ = LIVE_BYTES.try_with(|b| b.set(b.get() + delta));
    }

    /// Bytes allocated and not yet freed by this thread.
    pub fn live_bytes() -> isize {
        LIVE_BYTES.with(|b| b.get())
    }

    unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            count(layout.size() as isize);
            std::alloc::System.alloc(layout)
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            count(-(layout.size() as isize));
            std::alloc::System.dealloc(ptr, layout)
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
            count(new_size as isize - layout.size() as isize);
            std::alloc::System.realloc(ptr, layout, new_size)
        }
    }

    #[global_allocator]
    static ALLOC: CountingAlloc = CountingAlloc;
}
