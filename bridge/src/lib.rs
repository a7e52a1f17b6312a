//! The reference bridging backend for authbridge, and mock providers that follow the seed documents.
//!
//! One server, three roles, all on 127.0.0.1 by default:
//! - **mock providers** (`providers`): Point Database, pointservices, airfocus and Wazo, at their documented
//!   paths, with a protected `GET /api/{provider}/me` each;
//! - **the bridge** (`bridge`): what a customer runs. It holds the secrets and hands the browser only
//!   short-lived access tokens;
//! - **the demo**: `www/` and the built package at `/pkg/`.

pub mod bridge;
pub mod cli;
pub mod crypto;
pub mod eastern;
pub mod providers;
pub mod seal;
pub mod store;
pub mod upstream;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// A request body as JSON, whatever its `Content-Type` says (the seeds' clients do not all send one).
pub fn json_body(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// Unix time in seconds.
pub fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Server configuration (flags or environment; see `main.rs`).
#[derive(Clone, Debug)]
pub struct Config {
    /// Access-token lifetime in seconds for pointservices and Wazo (and Point unless `point_lifetime` is set).
    pub token_lifetime: i64,
    /// Point access-token lifetime in seconds (the seed's default is 86400).
    pub point_lifetime: i64,
    /// The customer's Point Database apiKey: server-side only.
    pub point_api_key: String,
    /// Demo users as (username, password).
    pub users: Vec<(String, String)>,
    /// `Secure` on cookies (serve over https).
    pub secure_cookies: bool,
    /// Extra origins allowed to call the bridge's routes, with CORS (besides the server's own); each as
    /// `parse_origin` returns it.
    pub allowed_origins: Vec<String>,
    /// A session ends after this long without a bridge call (keep it above the access-token lifetime, or
    /// sessions end between refreshes)…
    pub session_idle: Duration,
    /// …and this long after sign-in in any case.
    pub session_max: Duration,
    /// At most this many sessions: when full, the least recently used one is ended to make room.
    pub max_sessions: usize,
    /// Where sessions live: `memory` or `sqlite:PATH` (`store::open`).
    pub store: String,
    /// The key ring sealing every session secret (`seal.rs`). `None`: a memory store gets a random key; an
    /// SQLite store uses the key file beside its database, created on first use (`keys_for`).
    pub keys: Option<seal::KeyRing>,
    /// Sign-in attempts a minute per user (and provider), allowed as a burst; beyond, 429 with `Retry-After`.
    pub sign_in_per_user: u32,
    /// Sign-in attempts a minute per client address.
    pub sign_in_per_address: u32,
    /// Base URL of the providers; `None` means this server's own mock providers.
    pub upstream: Option<String>,
    pub www_dir: PathBuf,
    pub pkg_dir: PathBuf,
    /// Enables `/test/*` hooks (fault injection, counters). Never in production.
    pub test_hooks: bool,
    /// Print one JSON line per request to stderr.
    pub log_requests: bool,
    /// Tests: log lines are collected here (whatever `log_requests` says) instead of printed.
    pub log_sink: Option<Arc<Mutex<Vec<String>>>>,
}

impl Default for Config {
    fn default() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        Self {
            token_lifetime: 30,
            point_lifetime: 30,
            point_api_key: "pk_demo_server_side_only".into(),
            users: vec![("ada".into(), "lovelace".into()), ("grace".into(), "hopper".into())],
            secure_cookies: false,
            allowed_origins: Vec::new(),
            session_idle: Duration::from_secs(1800),
            session_max: Duration::from_secs(86_400),
            max_sessions: 10_000,
            store: "memory".into(),
            keys: None,
            sign_in_per_user: 10,
            sign_in_per_address: 60,
            upstream: None,
            www_dir: root.join("www"),
            pkg_dir: root.join("pkg"),
            test_hooks: false,
            log_requests: true,
            log_sink: None,
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub cfg: Config,
    /// HS256 key of the mock providers' JWTs.
    pub secret: Vec<u8>,
    pub mock: Mutex<providers::MockState>,
    /// The session store, which sees sealed secrets only.
    pub store: Box<dyn store::SessionStore>,
    /// Seals and opens the secrets of sessions.
    pub keys: seal::KeyRing,
    /// Sign-in rate limits.
    pub sign_in_limits: bridge::SignInLimits,
    pub upstream: upstream::Upstream,
    /// Injected faults per provider token endpoint: (status or 0 for "answer normally", remaining count, delay).
    faults: Mutex<HashMap<String, (u16, u32, u64)>>,
}

impl AppState {
    /// Opens the configured store and key ring. `own_url` is where the mock providers are when no upstream is
    /// configured.
    pub async fn new(cfg: Config, own_url: &str) -> Result<Arc<Self>, String> {
        let upstream = upstream::Upstream::new(cfg.upstream.clone().unwrap_or_else(|| own_url.to_owned()));
        let keys = keys_for(&cfg)?;
        let store = store::open(&cfg.store).await?;
        Ok(Arc::new(Self {
            secret: crypto::random_hex(32).into_bytes(),
            sign_in_limits: bridge::SignInLimits::new(cfg.sign_in_per_user, cfg.sign_in_per_address),
            cfg,
            mock: Mutex::default(),
            store,
            keys,
            upstream,
            faults: Mutex::default(),
        }))
    }

    pub fn check_password(&self, user: &str, pass: &str) -> bool {
        self.cfg.users.iter().any(|(u, p)| u == user && crypto::constant_time_eq(p.as_bytes(), pass.as_bytes()))
    }

    /// An injected failure for `provider`'s token endpoint, if one is pending.
    /// Status 0 only delays the answer (a slow provider).
    pub async fn fault(&self, provider: &str) -> Option<Response> {
        let (status, delay) = {
            let mut faults = self.faults.lock().unwrap();
            let (status, left, delay) = faults.get_mut(provider)?;
            if *left == 0 {
                return None;
            }
            *left -= 1;
            (*status, *delay)
        };
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        let status = StatusCode::from_u16(status).ok()?;
        Some((status, Json(json!({"error": "injected", "message": "fault injected by a test"}))).into_response())
    }
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

/// The key ring for `cfg`: its own, a random one for a memory store, or for an SQLite store the key file
/// beside the database (`PATH.keys`), created with one random key if missing (and said so on stderr, once).
pub fn keys_for(cfg: &Config) -> Result<seal::KeyRing, String> {
    if let Some(k) = &cfg.keys {
        return Ok(k.clone());
    }
    if store::is_postgres(&cfg.store) {
        // Replicas must share one ring, and a generated file would be one replica's only.
        return Err("a postgres store needs --keys (AUTHBRIDGE_KEYS), the same on every replica".into());
    }
    let Some(db) = cfg.store.strip_prefix("sqlite:") else { return Ok(seal::KeyRing::ephemeral()) };
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

/// The startup banner. It names the demo users, never their passwords (a terminal is logged and shared).
pub fn banner(cfg: &Config, url: &str) -> String {
    let users: Vec<&str> = cfg.users.iter().map(|(u, _)| u.as_str()).collect();
    format!(
        "\n  authbridge demo and reference bridge: {url}/\n  demo users: {} (passwords from --users or \
         AUTHBRIDGE_USERS; the defaults are in the README)\n  access tokens live {} s (Point {} s); Ctrl-C to stop\n",
        users.join(", "),
        cfg.token_lifetime,
        cfg.point_lifetime
    )
}

/// Marks a response as the static file at this (checked) request path, for the log.
#[derive(Clone)]
struct ServedFile(String);

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

/// Added with `Router::layer`, so the router's `MatchedPath` is in the request.
async fn log_requests(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let resp = next.run(req).await;
    if state.cfg.log_requests || state.cfg.log_sink.is_some() {
        let served = resp.extensions().get::<ServedFile>().map(|f| f.0.as_str());
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let line = log_line(&method, route.as_deref(), served, resp.status().as_u16(), ms);
        match &state.cfg.log_sink {
            Some(sink) => sink.lock().unwrap().push(line),
            None => eprintln!("{line}"),
        }
    }
    resp
}

/// The most header bytes (names and values) a request may carry: a browser's calls to the bridge carry a few
/// hundred; hyper's own bound (about 400 KiB) is far above what any route needs.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The largest request body: a sign-in is a few dozen bytes of JSON.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Refuses a request whose headers exceed `MAX_HEADER_BYTES` (431) before any handler parses them.
async fn bound_headers(req: Request, next: Next) -> Response {
    let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if size > MAX_HEADER_BYTES {
        return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
    }
    next.run(req).await
}

/// Every response to a browser without a CSRF cookie sets one (a refusal too: the retry then works), except
/// the answer to a cross-site request, which must not replace a cookie the browser withheld
/// (`bridge::may_set_csrf_cookie`).
async fn set_csrf_cookie(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let missing = bridge::cookie(req.headers(), bridge::CSRF_COOKIE).is_none()
        && bridge::may_set_csrf_cookie(&state, req.headers());
    let mut resp = next.run(req).await;
    let prefix = format!("{}=", bridge::CSRF_COOKIE);
    if missing
        && !resp.headers().get_all(header::SET_COOKIE).iter().any(|v| v.as_bytes().starts_with(prefix.as_bytes()))
    {
        let value = bridge::csrf_cookie(&state, &bridge::new_csrf());
        resp.headers_mut().append(header::SET_COOKIE, value.parse().unwrap());
    }
    resp
}

/// The folder and relative path a request path names, if it is plainly a file name: `/pkg/…` in `pkg_dir`,
/// anything else in `www_dir`. Segments are non-empty (no doubled slash, so never an absolute path), do not
/// start with a dot (no `.`, `..`, hidden files), and hold only `A-Z a-z 0-9 - _ . ~`: no `%` (nothing is
/// decoded), no `\`, `:` or NUL.
fn static_target<'a>(cfg: &'a Config, path: &'a str) -> Option<(&'a Path, &'a str)> {
    let (dir, rel) = match path.strip_prefix("/pkg/") {
        Some(rel) => (&cfg.pkg_dir, rel),
        None => (&cfg.www_dir, path.strip_prefix('/')?),
    };
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let plain = |seg: &str| {
        !seg.is_empty()
            && !seg.starts_with('.')
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    };
    rel.split('/').all(plain).then_some((dir.as_path(), rel))
}

async fn static_file(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path();
    let Some((dir, rel)) = static_target(&state.cfg, path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // A symlink can point anywhere: serve only a file whose real path is inside the real served folder.
    let (Ok(base), Ok(file)) = (tokio::fs::canonicalize(dir).await, tokio::fs::canonicalize(dir.join(rel)).await)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !file.starts_with(&base) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = match Path::new(rel).extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let mut resp = Response::new(Body::from(bytes));
    resp.extensions_mut().insert(ServedFile(path.to_owned()));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, mime.parse().unwrap());
    h.insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
    // The demo page runs no third-party script: a strict CSP is the first defence for tokens in a page.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'".parse().unwrap(),
    );
    h.insert("x-content-type-options", "nosniff".parse().unwrap());
    resp
}

/// `GET /demo/config`: what the demo page needs to know (never a secret).
async fn demo_config(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({
        "tokenLifetime": state.cfg.token_lifetime,
        "providers": {
            "point": {"header": "Authorization", "format": "point"},
            "pointservices": {"header": "Authorization", "format": "oauth2"},
            "airfocus": {"header": "Authorization", "format": "static"},
            "wazo": {"header": "X-Auth-Token", "format": "wazo"},
        }
    }))
    .into_response()
}

/// `GET /test/stats`: token-endpoint calls per provider, and every secret that must never reach a browser:
/// refresh tokens ever issued, the Point apiKey, the demo passwords (test hooks only).
async fn test_stats(State(state): State<Arc<AppState>>) -> Response {
    let (calls, mut secrets, reuse) = {
        let mock = state.mock.lock().unwrap();
        (mock.token_calls.clone(), mock.issued_refresh_tokens.clone(), mock.ps_reuse_detected)
    };
    secrets.push(state.cfg.point_api_key.clone());
    secrets.extend(state.cfg.users.iter().map(|(_, password)| password.clone()));
    let sessions = state.store.len().await.unwrap_or(0);
    Json(json!({"tokenCalls": calls, "sessions": sessions, "secrets": secrets, "refreshReuse": reuse})).into_response()
}

/// `POST /test/fault` `{provider, status, count, delayMs?}`: the next `count` token calls to `provider` fail
/// with `status` after `delayMs` (status 0: they succeed, after the delay).
async fn test_fault(State(state): State<Arc<AppState>>, Json(body): Json<Value>) -> Response {
    let (Some(p), Some(status), Some(n)) = (body["provider"].as_str(), body["status"].as_u64(), body["count"].as_u64())
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let delay = body["delayMs"].as_u64().unwrap_or(0);
    state.faults.lock().unwrap().insert(p.to_owned(), (status as u16, n as u32, delay));
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /test/expire-refresh` `{provider}`: every refresh token of the provider expires now (stands in for
/// midnight Eastern / a deleted Wazo refresh token).
async fn test_expire_refresh(State(state): State<Arc<AppState>>) -> Response {
    let tokens = bridge::refresh_tokens_for_tests(&state).await;
    for t in tokens {
        providers::expire_ps_refresh(&state, &t);
        providers::wazo_forget_refresh(&state, &t);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The whole application.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .merge(providers::routes())
        .merge(bridge::routes(state.clone()))
        .route("/demo/config", get(demo_config));
    if state.cfg.test_hooks {
        router = router
            .route("/test/stats", get(test_stats))
            .route("/test/fault", post(test_fault))
            .route("/test/expire-refresh", post(test_expire_refresh));
    }
    router
        .fallback(get(static_file))
        .layer(middleware::from_fn_with_state(state.clone(), set_csrf_cookie))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn(bound_headers))
        .layer(middleware::from_fn_with_state(state.clone(), log_requests))
        .with_state(state)
}

/// Binds `addr` (e.g. `127.0.0.1:0`) and serves until `shutdown` resolves. Returns the bound URL at once.
pub async fn serve(
    cfg: Config,
    addr: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(String, Arc<AppState>, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let state = AppState::new(cfg, &url).await.map_err(std::io::Error::other)?;
    let router = app(state.clone());
    let swept = state.clone();
    let handle = tokio::spawn(async move {
        // Sessions nobody uses again are ended (and revoked upstream) within a minute of expiring.
        let sweeper = async {
            loop {
                let every = swept.cfg.session_idle.clamp(Duration::from_secs(1), Duration::from_secs(60));
                tokio::time::sleep(every).await;
                if let Err(e) = bridge::sweep(&swept).await {
                    eprintln!("{}", json!({"ts": now_s(), "error": "store", "message": e.to_string()}));
                }
                swept.sign_in_limits.forget_idle();
            }
        };
        tokio::select! {
            _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(shutdown) => {}
            _ = sweeper => {}
        }
    });
    Ok((url, state, handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_are_plain_file_names() {
        let cfg = Config::default();
        assert_eq!(static_target(&cfg, "/").unwrap(), (cfg.www_dir.as_path(), "index.html"));
        assert_eq!(static_target(&cfg, "/app.js").unwrap(), (cfg.www_dir.as_path(), "app.js"));
        assert_eq!(static_target(&cfg, "/pkg/x_y-1.0~.wasm").unwrap(), (cfg.pkg_dir.as_path(), "x_y-1.0~.wasm"));
        assert_eq!(static_target(&cfg, "/a/b.css").unwrap(), (cfg.www_dir.as_path(), "a/b.css"));
        for bad in [
            "/pkg//etc/passwd",
            "//etc/passwd",
            "/pkg/%2e%2e/Cargo.toml",
            "/pkg/..%2fCargo.toml",
            "/pkg/..\\Cargo.toml",
            "/..",
            "/../Cargo.toml",
            "/a/./b.js",
            "/.env",
            "/.git/config",
            "/a//b.js",
            "/a/",
            "/x.js\0",
            "/C:/Windows/win.ini",
            "/app.js%00",
            "relative.js",
            "",
        ] {
            assert_eq!(static_target(&cfg, bad), None, "{bad:?}");
        }
    }

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
