//! The reference bridging backend for authbridge, and mock providers that follow the seed documents.
//!
//! One server, three roles, all on 127.0.0.1 by default:
//! - **mock providers** (`providers`): Point Database, pointservices, airfocus and Wazo, at their documented
//!   paths, with a protected `GET /api/{provider}/me` each;
//! - **the bridge** (`bridge`): what a customer runs. It holds the secrets and hands the browser only
//!   short-lived access tokens;
//! - **the demo**: `www/` and the built package at `/pkg/`.

pub mod bridge;
pub mod crypto;
pub mod eastern;
pub mod providers;
pub mod upstream;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
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
    /// Extra origins allowed to call the bridge's state-changing routes (besides the server's own).
    pub allowed_origins: Vec<String>,
    /// Base URL of the providers; `None` means this server's own mock providers.
    pub upstream: Option<String>,
    pub www_dir: PathBuf,
    pub pkg_dir: PathBuf,
    /// Enables `/test/*` hooks (fault injection, counters). Never in production.
    pub test_hooks: bool,
    /// Print one JSON line per request to stderr.
    pub log_requests: bool,
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
            upstream: None,
            www_dir: root.join("www"),
            pkg_dir: root.join("pkg"),
            test_hooks: false,
            log_requests: true,
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub cfg: Config,
    /// HS256 key of the mock providers' JWTs.
    pub secret: Vec<u8>,
    pub mock: Mutex<providers::MockState>,
    pub sessions: Mutex<bridge::Sessions>,
    pub upstream: upstream::Upstream,
    /// Injected faults per provider token endpoint: (status or 0 for "answer normally", remaining count, delay).
    faults: Mutex<HashMap<String, (u16, u32, u64)>>,
}

impl AppState {
    pub fn new(cfg: Config, own_url: &str) -> Arc<Self> {
        let upstream = upstream::Upstream::new(cfg.upstream.clone().unwrap_or_else(|| own_url.to_owned()));
        Arc::new(Self {
            secret: crypto::random_hex(32).into_bytes(),
            cfg,
            mock: Mutex::default(),
            sessions: Mutex::default(),
            upstream,
            faults: Mutex::default(),
        })
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

/// Paths with a token in them are logged without it.
fn redact(path: &str) -> String {
    let mut out = Vec::new();
    let mut hide_next = false;
    for seg in path.split('/') {
        out.push(if hide_next && !seg.is_empty() { "[redacted]" } else { seg });
        hide_next = seg == "access_token" || seg == "token";
    }
    out.join("/")
}

async fn log_requests(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = redact(req.uri().path());
    let resp = next.run(req).await;
    if state.cfg.log_requests {
        let line = json!({
            "ts": now_s(), "method": method.as_str(), "path": path, "status": resp.status().as_u16(),
            "ms": (start.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
        });
        eprintln!("{line}");
    }
    resp
}

async fn static_file(State(state): State<Arc<AppState>>, headers: HeaderMap, req: Request) -> Response {
    let path = req.uri().path();
    let (dir, rel) = match path.strip_prefix("/pkg/") {
        Some(rel) => (&state.cfg.pkg_dir, rel),
        None => (&state.cfg.www_dir, path.trim_start_matches('/')),
    };
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if rel.split('/').any(|s| s == ".." || s.starts_with('.')) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = dir.join(rel);
    let Ok(bytes) = tokio::fs::read(&file).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mime = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    let mut resp = Response::new(Body::from(bytes));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, mime.parse().unwrap());
    h.insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
    // The demo page runs no third-party script: a strict CSP is the first defence for tokens in a page.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'".parse().unwrap(),
    );
    h.insert("x-content-type-options", "nosniff".parse().unwrap());
    if bridge::cookie(&headers, bridge::CSRF_COOKIE).is_none() {
        h.insert(header::SET_COOKIE, bridge::csrf_cookie(&state, &bridge::new_csrf()).parse().unwrap());
    }
    resp
}

/// `GET /demo/config`: what the demo page needs to know (never a secret).
async fn demo_config(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let mut resp = Json(json!({
        "tokenLifetime": state.cfg.token_lifetime,
        "providers": {
            "point": {"header": "Authorization", "format": "point"},
            "pointservices": {"header": "Authorization", "format": "oauth2"},
            "airfocus": {"header": "Authorization", "format": "static"},
            "wazo": {"header": "X-Auth-Token", "format": "wazo"},
        }
    }))
    .into_response();
    if bridge::cookie(&headers, bridge::CSRF_COOKIE).is_none() {
        resp.headers_mut()
            .insert(header::SET_COOKIE, bridge::csrf_cookie(&state, &bridge::new_csrf()).parse().unwrap());
    }
    resp
}

/// `GET /test/stats`: token-endpoint calls per provider, and every secret that must never reach a browser:
/// refresh tokens ever issued, the Point apiKey, the demo passwords (test hooks only).
async fn test_stats(State(state): State<Arc<AppState>>) -> Response {
    let (calls, mut secrets) = {
        let mock = state.mock.lock().unwrap();
        (mock.token_calls.clone(), mock.issued_refresh_tokens.clone())
    };
    secrets.push(state.cfg.point_api_key.clone());
    secrets.extend(state.cfg.users.iter().map(|(_, password)| password.clone()));
    let sessions = state.sessions.lock().unwrap().0.len();
    Json(json!({"tokenCalls": calls, "sessions": sessions, "secrets": secrets})).into_response()
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
    let tokens: Vec<String> =
        state.sessions.lock().unwrap().0.values().filter_map(|s| s.refresh_token_for_tests()).collect();
    for t in tokens {
        providers::expire_ps_refresh(&state, &t);
        providers::wazo_forget_refresh(&state, &t);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The whole application.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router =
        Router::new().merge(providers::routes()).merge(bridge::routes()).route("/demo/config", get(demo_config));
    if state.cfg.test_hooks {
        router = router
            .route("/test/stats", get(test_stats))
            .route("/test/fault", post(test_fault))
            .route("/test/expire-refresh", post(test_expire_refresh));
    }
    router
        .fallback(get(static_file))
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
    let state = AppState::new(cfg, &url);
    let router = app(state.clone());
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    });
    Ok((url, state, handle))
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_tokens_in_paths() {
        assert_eq!(super::redact("/users/u1/access_token/eyJabc"), "/users/u1/access_token/[redacted]");
        assert_eq!(super::redact("/api/auth/0.1/token/abc-def"), "/api/auth/0.1/token/[redacted]");
        assert_eq!(super::redact("/auth/point/token"), "/auth/point/token");
        assert_eq!(super::redact("/users/u1/access_token"), "/users/u1/access_token");
    }
}
