//! The thin wasm-bindgen layer: JS bindings for the core. Nothing here decides policy; it moves values
//! between JavaScript and [`crate::session`], performs the I/O and fires events.

mod client;
mod js;

pub use client::AuthClient;

use js_sys::Object;
use wasm_bindgen::prelude::*;

use crate::error::JwtError;
use crate::token::parse_token_response;
use js::{error_to_js, set, JsJson};

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
    #[wasm_bindgen(unchecked_param_type = "TokenFormat | undefined")] format: JsValue,
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
    let out = Object::new();
    set(&out, "token", &record.token.secret().into());
    set(&out, "expiresAt", &record.expires_at.map_or(JsValue::NULL, |t| (t as f64).into()));
    set(&out, "scopes", &record.scopes.iter().map(|s| JsValue::from_str(s)).collect::<js_sys::Array>());
    set(&out, "header", &JsValue::from_str(&record.header));
    set(&out, "format", &record.format.as_str().into());
    Ok(out.into())
}

/// The crate version, for bug reports.
#[wasm_bindgen(js_name = version)]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").into()
}

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Stable error codes carried by every error authbridge throws or emits, as `error.code`. */
export type AuthErrorCode =
  | 'invalid_token' | 'invalid_response' | 'refresh_rejected' | 'network'
  | 'bridge_unavailable' | 'timeout' | 'signed_out' | 'storage' | 'invalid_config';

/** An `Error` with a stable `code` and `name === 'AuthbridgeError'`. */
export interface AuthError extends Error {
  readonly name: 'AuthbridgeError';
  readonly code: AuthErrorCode;
}

/** JWT claims: registered claims typed, any other claim kept as parsed JSON. */
export interface JwtClaims {
  iss?: string; sub?: string; aud?: string | string[];
  exp?: number; nbf?: number; iat?: number; jti?: string;
  [claim: string]: unknown;
}

/** A JOSE header. */
export interface JwtHeader {
  alg?: string; typ?: string; kid?: string; cty?: string;
  [param: string]: unknown;
}

/** A response format with RFC 6901 JSON pointers to its fields. */
export interface CustomTokenFormat {
  /** Pointer to the token string, e.g. `/result/jwt`. */
  token: string;
  /** Pointer to a lifetime in seconds. */
  expiresIn?: string;
  /** Pointer to an absolute expiry: an ISO 8601 string or epoch seconds. */
  expiresAt?: string;
}

export type TokenFormat = 'auto' | 'oauth2' | 'point' | 'wazo' | 'static' | CustomTokenFormat;

/** What `parseTokenResponse` reads from a bridge response. A refresh token is never part of it. */
export interface ParsedTokenResponse {
  token: string;
  /** Epoch milliseconds, or `null` for tokens that do not expire. */
  expiresAt: number | null;
  scopes: string[];
  /** `'Authorization'` (sent as `Bearer <token>`) or `'X-Auth-Token'` (sent bare). */
  header: string;
  format: 'oauth2' | 'point' | 'wazo' | 'static' | 'custom';
}

export interface AuthClientOptions {
  /** The bridging backend's token endpoint: `POST` returns a token response. */
  tokenUrl: string;
  /** `DELETE` on sign-out; defaults to `tokenUrl`. */
  revokeUrl?: string;
  /** The only origins (scheme, host, port) that ever receive the token, e.g. `['https://api.example.com']`. */
  apiOrigins: string[];
  /** How to read the bridge's response; default `'auto'`. */
  format?: TokenFormat;
  /** Header that carries the token; default from the format: `Authorization` (Bearer) or `X-Auth-Token`. */
  header?: string;
  /** Where the access token is kept; default `'session'`, `'memory'` where Web Storage does not exist. */
  storage?: 'session' | 'local' | 'memory';
  /** Storage key; default `'authbridge.'` followed by a digest of `tokenUrl`, `apiOrigins`, `header` and `format`. */
  storageKey?: string;
  /** `credentials` for bridge calls; default `'include'`. */
  credentials?: RequestCredentials;
  /** Extra headers for bridge calls (a CSRF header, or a server-held key in an edge worker). */
  bridgeHeaders?: Record<string, string>;
  /** Seconds before expiry to refresh; default a fifth of the lifetime, at most 5 minutes. */
  refreshMargin?: number;
  /** Refresh on timers (default in pages and workers) or only lazily on access (default on edge runtimes). */
  autoRefresh?: boolean;
  /** Seconds to wait for the bridge; default 10. */
  bridgeTimeout?: number;
}

export interface TokenEvent {
  /** Where the token came from. */
  source: 'bridge' | 'storage' | 'peer';
  /** Epoch milliseconds, or `null` for tokens that do not expire. */
  expiresAt: number | null;
  /** The header the token is sent in. */
  header: string;
}

export interface SignedOutEvent {
  /** `'signOut'`: `signOut()` was called; `'rejected'`: the bridge answered 401/403; `'peer'`: another tab or worker signed out and the bridge confirmed it. */
  reason: 'signOut' | 'rejected' | 'peer';
}

export interface AuthClientEvents {
  token: TokenEvent;
  signedOut: SignedOutEvent;
  error: AuthError;
}

/**
 * Keeps a page or worker signed in: refreshes short-lived tokens through your bridging backend before they
 * expire, keeps only the access token in storage, and attaches it only to `apiOrigins`.
 */
export class AuthClient {
  /** @throws {AuthError} `invalid_config` when an option is wrong. */
  constructor(options: AuthClientOptions);
  /** Restores a stored token if still valid, else asks the bridge; schedules the refresh. Resolves `false` when the bridge says there is no session. */
  start(): Promise<boolean>;
  /** A token valid for at least the refresh margin; refreshes first if needed. */
  accessToken(): Promise<string>;
  /** Like `fetch()`: the token goes only to `apiOrigins`, refreshed first if needed; one retry after a 401. */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The current token's claims, or `null` for an opaque token or none. */
  claims(): JwtClaims | null;
  /** The current token's expiry in epoch milliseconds, or `null`. */
  expiresAt(): number | null;
  /** When the next refresh is due (epoch ms), or `null` (no expiry, signed out, or retries exhausted). */
  nextRefreshAt(): number | null;
  /** Forces one refresh (joins one in flight); resolves the new token. */
  refresh(): Promise<string>;
  /** `DELETE revokeUrl` with the token, then clears storage and timers and emits `signedOut`. */
  signOut(): Promise<void>;
  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof AuthClientEvents>(event: E, listener: (event: AuthClientEvents[E]) => void): () => void;
  /** Stops the refresh timer; tokens are then refreshed lazily on access. */
  stop(): void;
  /** Releases the client's memory; the client must not be used afterwards. */
  free(): void;
  [Symbol.dispose](): void;
}
"#;

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
