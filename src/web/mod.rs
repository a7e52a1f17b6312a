//! The web executor: `Client` (Rust API) and `AuthClient` (JS API) run the core [`crate::machine::Machine`]. Nothing here decides policy; it moves values
//! between JavaScript and [`crate::session`], performs the I/O and fires events.
//!
//! A Rust app uses [`Client`]. The JavaScript API (`AuthClient`, `decodeJwt`, `decodeJwtHeader`,
//! `parseTokenResponse` and their TypeScript types) becomes wasm exports only with the `js-api` feature, which the
//! npm package's crate (`npm/`) turns on: a Rust app's module exports none of them. No global allocator is set
//! either; [`ZeroOnFree`] is the package's, and an app's to install if it wants freed memory wiped.

mod client;
mod js;
mod zero_on_free;

pub use crate::machine::{Notice, Status};
pub use client::{AuthClient, Client, Credentials, FormatName, FormatOption, Options, Storage};
pub use zero_on_free::ZeroOnFree;

use wasm_bindgen::prelude::*;

use crate::error::JwtError;
use crate::token::parse_token_response;
use js::{error_to_js, JsJson};

fn token_arg(token: &JsValue) -> Result<String, JsValue> {
    token.as_string().ok_or_else(|| error_to_js(&JwtError::NotAString.into()))
}

/// Decodes the claims (part #2) of a JWT without verifying its signature.
pub fn decode_jwt(token: JsValue) -> Result<JsValue, JsValue> {
    crate::jwt::decode_claims_unverified::<JsJson>(&token_arg(&token)?).map(|c| c.0).map_err(|e| error_to_js(&e.into()))
}

/// Decodes the header (part #1) of a JWT.
pub fn decode_jwt_header(token: JsValue) -> Result<JsValue, JsValue> {
    crate::jwt::decode_header_unverified::<JsJson>(&token_arg(&token)?).map(|c| c.0).map_err(|e| error_to_js(&e.into()))
}

/// Reads a bridge response (JSON text or an already parsed value) the way `AuthClient` does.
pub fn parse_token_response_js(json: JsValue, format: JsValue) -> Result<JsValue, JsValue> {
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

/// What `parseTokenResponse` returns (`ParsedTokenResponse` in pkg-template/authbridge.d.ts): never a refresh token.
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

/// The JavaScript API's functions, exported only with the `js-api` feature (the npm package): a Rust app calls the
/// functions above. Their TypeScript declarations are in pkg-template/authbridge.d.ts.
#[cfg(feature = "js-api")]
mod exports {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen(js_name = decodeJwt)]
    pub fn decode_jwt(token: JsValue) -> Result<JsValue, JsValue> {
        super::decode_jwt(token)
    }

    #[wasm_bindgen(js_name = decodeJwtHeader)]
    pub fn decode_jwt_header(token: JsValue) -> Result<JsValue, JsValue> {
        super::decode_jwt_header(token)
    }

    #[wasm_bindgen(js_name = parseTokenResponse)]
    pub fn parse_token_response(json: JsValue, format: JsValue) -> Result<JsValue, JsValue> {
        super::parse_token_response_js(json, format)
    }
}

/// The crate version, for bug reports. (JavaScript's `version()` and `isAuthError()` live in the npm package's entry
/// module, pkg-template/authbridge.js: they need no wasm.)
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}
