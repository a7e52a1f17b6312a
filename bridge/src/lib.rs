//! The reference bridging backend for authbridge, as a library a Rust backend mounts and a thin binary.
//!
//! - [`Bridge`] (`bridge`): what a customer runs. Built from a [`BridgeConfig`] (providers, sign-in users,
//!   cookies, CORS, session limits, store, key ring), it serves an axum [`axum::Router`]; it holds the secrets,
//!   sealed at rest, and hands the browser only short-lived access tokens.
//! - [`mock::MockProviders`]: Point Database, pointservices, airfocus and Wazo as their seed documents
//!   describe them, for the demo and the tests (also alone, as `authbridge-mock-providers`).
//! - [`demo`]: the all-in-one server of `make demo` and the tests: the bridge, the mock providers unless real
//!   ones are configured, the demo page (`www/`, the package at `/pkg/`) and the test hooks.
//!
//! ```no_run
//! # async fn f() -> Result<(), String> {
//! use authbridge_bridge::config::{BridgeConfig, Providers, Provider};
//! let cfg = BridgeConfig {
//!     providers: Providers {
//!         pointservices: Some(Provider { base_url: "https://api.pointservices.com".into() }),
//!         ..Providers::default()
//!     },
//!     store: "sqlite:/var/lib/authbridge/sessions.db".into(),
//!     ..BridgeConfig::default()
//! };
//! let bridge = authbridge_bridge::Bridge::open(cfg).await?;
//! bridge.spawn_sweeper();
//! let app = axum::Router::new() /* your routes */ .merge(bridge.router());
//! # let _ = app; Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod bridge;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod eastern;
pub mod mock;
pub mod seal;
pub mod store;
pub mod upstream;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::Method;
use serde_json::{json, Value};

pub use bridge::Bridge;
pub use config::BridgeConfig;
pub use demo::{banner, serve, Config, Running};

/// A request body as JSON, whatever its `Content-Type` says (the seeds' clients do not all send one).
pub fn json_body(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// Unix time in seconds.
pub fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `scheme://host[:port]` as a browser sends it in `Origin` (lowercase, no default port), or why not.
pub fn parse_origin(s: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("--allow-origin {s}: {why}"));
    let Some((scheme, rest)) = s.split_once("://") else {
        return bad("an origin is scheme://host[:port] (`*` and `null` are refused)");
    };
    let (scheme, rest) = (scheme.to_ascii_lowercase(), rest.to_ascii_lowercase());
    if !matches!(scheme.as_str(), "http" | "https") {
        return bad("the scheme must be http or https");
    }
    if rest.is_empty() || rest.contains(|c: char| matches!(c, '/' | '?' | '#' | '@' | '\\' | '*') || c.is_whitespace())
    {
        return bad("an origin has a host and no path, query, user or wildcard (no trailing slash either)");
    }
    let (host, port) = match rest.rsplit_once(':').filter(|(_, p)| !p.contains(']')) {
        Some((h, p)) => (h, Some(p)),
        None => (rest.as_str(), None),
    };
    let name = |h: &str| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let ipv6 = |h: &str| {
        h.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.'))
    };
    if !name(host) && !ipv6(host) {
        return bad("the host must be a name or an address");
    }
    match port.map(|p| p.parse::<u16>()) {
        None => Ok(format!("{scheme}://{host}")),
        Some(Ok(p)) if p != 0 => {
            let default = (scheme == "http" && p == 80) || (scheme == "https" && p == 443);
            Ok(if default { format!("{scheme}://{host}") } else { format!("{scheme}://{host}:{p}") })
        }
        Some(_) => bad("the port must be a number from 1 to 65535"),
    }
}

/// The key ring for a store: `keys` if given; else a random one for a memory store, or for an SQLite store the
/// key file beside the database (`PATH.keys`), created with one random key if missing (and said so on stderr,
/// once). A PostgreSQL store needs `keys`.
pub fn keys_for(store_spec: &str, keys: Option<&seal::KeyRing>) -> Result<seal::KeyRing, String> {
    if let Some(k) = keys {
        return Ok(k.clone());
    }
    if store::is_postgres(store_spec) {
        // Replicas must share one ring, and a generated file would be one replica's only.
        return Err("a postgres store needs --keys (AUTHBRIDGE_KEYS), the same on every replica".into());
    }
    let Some(db) = store_spec.strip_prefix("sqlite:") else { return Ok(seal::KeyRing::ephemeral()) };
    let file = PathBuf::from(format!("{db}.keys"));
    if !file.exists() {
        write_key_file(
            &file,
            &format!("# authbridge session keys: id:key, the first seals (see --keys)\nk1:{}\n", seal::generate_key()),
        )
        .map_err(|e| format!("cannot write the key file {}: {e}", file.display()))?;
        eprintln!(
            "authbridge-bridge: generated the session key file {} (keep it with the database, or pass --keys)",
            file.display()
        );
    }
    let text =
        std::fs::read_to_string(&file).map_err(|e| format!("cannot read the key file {}: {e}", file.display()))?;
    seal::KeyRing::parse(&text).map_err(|e| format!("{}: {e}", file.display()))
}

/// Writes a new file readable by its owner only (it holds keys).
fn write_key_file(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// One JSON log line. `route` is the matched route template (`/users/{user_id}/access_token/{token}`), so every
/// path parameter stays hidden by construction; a request no route matched logs the static file it was served,
/// or a fixed marker: never a raw path or query, which can carry a token in any spelling.
pub fn log_line(method: &Method, route: Option<&str>, served: Option<&str>, status: u16, ms: f64) -> String {
    let known = [Method::GET, Method::POST, Method::DELETE, Method::OPTIONS, Method::HEAD, Method::PUT, Method::PATCH];
    let method = if known.contains(method) { method.as_str() } else { "OTHER" };
    let path = route.or(served).unwrap_or("[no route]");
    json!({"ts": now_s(), "method": method, "path": path, "status": status, "ms": (ms * 100.0).round() / 100.0})
        .to_string()
}

/// The most header bytes (names and values) a request may carry: a browser's calls to the bridge carry a few
/// hundred; hyper's own bound (about 400 KiB) is far above what any route needs.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The longest a request may take before it is answered 503 (a dead replica's lease, then a provider call).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The largest request body: a sign-in is a few dozen bytes of JSON.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_name_the_route_never_the_path() {
        let line = log_line(&Method::DELETE, Some("/users/{user_id}/access_token/{token}"), None, 204, 1.234);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (v["method"].as_str(), v["path"].as_str(), v["status"].as_u64()),
            (Some("DELETE"), Some("/users/{user_id}/access_token/{token}"), Some(204))
        );
        assert_eq!(v["ms"], 1.23);
        assert!(log_line(&Method::GET, None, Some("/pkg/x.js"), 200, 0.0).contains("\"/pkg/x.js\""));
        assert!(log_line(&Method::GET, None, None, 404, 0.0).contains("\"[no route]\""));
        let odd = Method::from_bytes(b"SECRETMETHOD").unwrap();
        assert!(!log_line(&odd, None, None, 405, 0.0).contains("SECRET"));
    }

    #[test]
    fn origins_are_validated() {
        assert_eq!(parse_origin("https://app.example.com").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin("HTTPS://App.Example.com:443").unwrap(), "https://app.example.com");
        assert_eq!(parse_origin("http://localhost:5173").unwrap(), "http://localhost:5173");
        assert_eq!(parse_origin("http://[::1]:8080").unwrap(), "http://[::1]:8080");
        assert_eq!(parse_origin("http://[::1]").unwrap(), "http://[::1]");
        for bad in [
            "*",
            "null",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://app.example.com?x",
            "https://user@app.example.com",
            "app.example.com",
            "ftp://app.example.com",
            "https://",
            "https://:443",
            "https://a.com:0",
            "https://a.com:99999",
            "https://a.com:x",
            "http://[::1",
            "http://a_b.com",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}
