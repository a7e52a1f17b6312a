//! The web executor: `Client` (Rust API) and `AuthClient` (JS API) run the core [`crate::machine::Machine`]. Nothing here decides policy; it moves values
//! between JavaScript and [`crate::session`], performs the I/O and fires events.

mod client;
mod js;

pub use crate::machine::{Notice, Status};
pub use client::{AuthClient, Client, Credentials, FormatName, FormatOption, Options, Storage};

use wasm_bindgen::prelude::*;

use crate::error::JwtError;
use crate::token::parse_token_response;
use js::{error_to_js, JsJson};

fn token_arg(token: &JsValue) -> Result<String, JsValue> {
    token.as_string().ok_or_else(|| error_to_js(&JwtError::NotAString.into()))
}

/// Decodes the claims (part #2) of a JWT without verifying its signature.
#[wasm_bindgen(js_name = decodeJwt, unchecked_return_type = "JwtClaims")]
pub fn decode_jwt(#[wasm_bindgen(unchecked_param_type = "string")] token: JsValue) -> Result<JsValue, JsValue> {
    crate::jwt::decode_claims_unverified::<JsJson>(&token_arg(&token)?).map(|c| c.0).map_err(|e| error_to_js(&e.into()))
}

/// Decodes the header (part #1) of a JWT.
#[wasm_bindgen(js_name = decodeJwtHeader, unchecked_return_type = "JwtHeader")]
pub fn decode_jwt_header(#[wasm_bindgen(unchecked_param_type = "string")] token: JsValue) -> Result<JsValue, JsValue> {
    crate::jwt::decode_header_unverified::<JsJson>(&token_arg(&token)?).map(|c| c.0).map_err(|e| error_to_js(&e.into()))
}

/// Reads a bridge response (JSON text or an already parsed value) the way `AuthClient` does.
#[wasm_bindgen(js_name = parseTokenResponse, unchecked_return_type = "ParsedTokenResponse")]
pub fn parse_token_response_js(
    #[wasm_bindgen(unchecked_param_type = "string | object")] json: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "TokenFormat")] format: JsValue,
) -> Result<JsValue, JsValue> {
    let format = js::format_option(&format).map_err(|e| error_to_js(&e))?;
    let body = match json.as_string() {
        Some(text) => {
            JsJson(js_sys::JSON::parse(&text).map_err(|_| error_to_js(&crate::ResponseError::NotJson.into()))?)
        }
        None => JsJson(json),
    };
    let now = js_sys::Date::now() as i64;
    let record = parse_token_response(&body, &format, now).map_err(|e| error_to_js(&e.into()))?;
    let parsed = ParsedTokenResponse {
        token: record.token.secret(),
        expires_at: record.expires_at,
        scopes: &record.scopes,
        header: &record.header,
        format: record.format.as_str(),
    };
    Ok(js::to_js(&parsed).unwrap_or(JsValue::NULL))
}

/// What `parseTokenResponse` returns (`ParsedTokenResponse` in types.d.ts): never a refresh token.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ParsedTokenResponse<'a> {
    token: &'a str,
    /// Epoch milliseconds, `null` for a token that does not expire.
    expires_at: Option<i64>,
    scopes: &'a [String],
    header: &'a str,
    format: &'a str,
}

/// The crate version, for bug reports. (JavaScript's `version()` and `isAuthError()` are written into the glue by
/// scripts/build-pkg.mjs: as exports of the module, each cost a wasm function, an export and a glue wrapper.)
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

// The hand-written part of the package's `.d.ts` (the classes and types the exports use); checked by
// tests/types/ under `tsc --strict` and against the emitted values at runtime.
#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("types.d.ts");

/// Wipes every allocation when it is freed. Tokens pass through many short-lived buffers in wasm memory (strings
/// wasm-bindgen copies in and out, header values, JSON, stored entries); zeroing them one by one would miss some,
/// and freed memory is otherwise kept as it was until reused. A volatile wipe (zeroize) cannot be optimised away.
struct ZeroOnFree<A>(A);

unsafe impl<A: std::alloc::GlobalAlloc> std::alloc::GlobalAlloc for ZeroOnFree<A> {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        self.0.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        zeroize::Zeroize::zeroize(std::slice::from_raw_parts_mut(ptr, layout.size()));
        self.0.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // Always move, so that the old block goes through `dealloc` and is wiped.
        let new_layout = std::alloc::Layout::from_size_align_unchecked(new_size, layout.align());
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: ZeroOnFree<lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator>> =
    ZeroOnFree(unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) });
