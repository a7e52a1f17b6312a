//! The all-in-one server of `make demo` and the tests: the bridge; the mock providers on the same origin
//! unless real ones are configured (`--config`, `--upstream`); the demo page (`www/`) and the built package
//! (`/pkg/`); and, with `--test-hooks`, the `/test/*` routes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::bridge::{self, Bridge, ServedFile};
use crate::config::{BridgeConfig, FileConfig, Providers};
use crate::mock::{self, MockConfig, MockProviders};
use crate::seal;

/// The all-in-one server's configuration (flags or environment; see `cli.rs`).
#[derive(Clone)]
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
    /// Base URL of the providers (all four at one URL); `None` means this server's own mock providers.
    pub upstream: Option<String>,
    /// Real providers and sign-in users from a config file (`--config`): no mock providers, no demo page.
    pub providers: Option<FileConfig>,
    /// The demo page's folder, served at `/`.
    pub www_dir: PathBuf,
    /// The built package's folder, served at `/pkg/`.
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
            providers: None,
            www_dir: root.join("www"),
            pkg_dir: root.join("pkg"),
            test_hooks: false,
            log_requests: true,
            log_sink: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The apiKey and the passwords stay out; the bridge's part shows what it may.
        f.debug_struct("Config")
            .field("bridge", &self.bridge(""))
            .field("www_dir", &self.www_dir)
            .finish_non_exhaustive()
    }
}

/// A running all-in-one server: its bridge, and its mock providers if it serves them.
#[derive(Clone)]
pub struct Running {
    /// The bridge.
    pub bridge: Arc<Bridge>,
    /// The mock providers, when no real provider is configured.
    pub mock: Option<Arc<MockProviders>>,
}

impl Config {
    /// The mock providers' configuration, if this server runs them (no real providers configured).
    fn mock(&self) -> Option<MockConfig> {
        (self.upstream.is_none() && self.providers.is_none()).then(|| MockConfig {
            token_lifetime: self.token_lifetime,
            point_lifetime: self.point_lifetime,
            point_api_key: self.point_api_key.clone(),
            users: self.users.clone(),
        })
    }

    /// The bridge's configuration; `own_url` is where the mock providers are when this server runs them.
    pub fn bridge(&self, own_url: &str) -> BridgeConfig {
        let (providers, users) = match (&self.providers, &self.upstream) {
            (Some(file), _) => (file.providers.clone(), file.users.clone()),
            (None, Some(url)) => (Providers::all_at(url, &self.point_api_key, self.token_lifetime), self.users.clone()),
            (None, None) => (Providers::all_at(own_url, &self.point_api_key, self.token_lifetime), self.users.clone()),
        };
        BridgeConfig {
            providers,
            users,
            secure_cookies: self.secure_cookies,
            allowed_origins: self.allowed_origins.clone(),
            session_idle: self.session_idle,
            session_max: self.session_max,
            max_sessions: self.max_sessions,
            store: self.store.clone(),
            keys: self.keys.clone(),
            sign_in_per_user: self.sign_in_per_user,
            sign_in_per_address: self.sign_in_per_address,
            log_requests: self.log_requests,
            log_sink: self.log_sink.clone(),
        }
    }
}

/// The startup banner. It names the demo users, never their passwords (a terminal is logged and shared).
pub fn banner(cfg: &Config, url: &str) -> String {
    let store = if crate::store::is_postgres(&cfg.store) { "postgres://…" } else { cfg.store.as_str() };
    if let Some(file) = &cfg.providers {
        return format!(
            "\n  authbridge bridge: {url}/\n  providers: {}; sessions in {store}; Ctrl-C to stop\n",
            file.providers.names().join(", ")
        );
    }
    let users: Vec<&str> = cfg.users.iter().map(|(u, _)| u.as_str()).collect();
    format!(
        "\n  authbridge demo and reference bridge: {url}/\n  demo users: {} (passwords from --users or \
         AUTHBRIDGE_USERS; the defaults are in the README)\n  access tokens live {} s (Point {} s); sessions in \
         {store}; Ctrl-C to stop\n",
        users.join(", "),
        cfg.token_lifetime,
        cfg.point_lifetime
    )
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

async fn static_file(State(cfg): State<Arc<Config>>, req: Request) -> Response {
    let path = req.uri().path();
    let Some((dir, rel)) = static_target(&cfg, path) else {
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
async fn demo_config(State(cfg): State<Arc<Config>>) -> Response {
    Json(json!({
        "tokenLifetime": cfg.token_lifetime,
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
async fn test_stats(State((bridge, mock)): State<(Arc<Bridge>, Arc<MockProviders>)>) -> Response {
    let (calls, mut secrets, reuse) = {
        let mock = mock.state.lock().unwrap();
        (mock.token_calls.clone(), mock.issued_refresh_tokens.clone(), mock.ps_reuse_detected)
    };
    secrets.push(mock.cfg.point_api_key.clone());
    secrets.extend(mock.cfg.users.iter().map(|(_, password)| password.clone()));
    let sessions = bridge.store.len().await.unwrap_or(0);
    Json(json!({"tokenCalls": calls, "sessions": sessions, "secrets": secrets, "refreshReuse": reuse})).into_response()
}

/// `POST /test/fault` `{provider, status, count, delayMs?}`: the next `count` token calls to `provider` fail
/// with `status` after `delayMs` (status 0: they succeed, after the delay).
async fn test_fault(State((_, mock)): State<(Arc<Bridge>, Arc<MockProviders>)>, Json(body): Json<Value>) -> Response {
    let (Some(p), Some(status), Some(n)) = (body["provider"].as_str(), body["status"].as_u64(), body["count"].as_u64())
    else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let delay = body["delayMs"].as_u64().unwrap_or(0);
    mock.inject_fault(p, status as u16, n as u32, delay);
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /test/expire-refresh` `{provider}`: every refresh token of the provider expires now (stands in for
/// midnight Eastern / a deleted Wazo refresh token).
async fn test_expire_refresh(State((bridge, mock)): State<(Arc<Bridge>, Arc<MockProviders>)>) -> Response {
    let tokens = bridge::refresh_tokens_for_tests(&bridge).await;
    for t in tokens {
        mock::expire_ps_refresh(&mock, &t);
        mock::wazo_forget_refresh(&mock, &t);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// The whole application: the bridge, the mock providers if run here, the demo page and the test hooks.
pub fn app(cfg: &Config, running: &Running) -> Router {
    let bridge = &running.bridge;
    let mut router = Router::new().merge(bridge.routes());
    if let Some(mock) = &running.mock {
        router = router.merge(mock.router());
        if cfg.test_hooks {
            let hooks = Router::new()
                .route("/test/stats", get(test_stats))
                .route("/test/fault", post(test_fault))
                .route("/test/expire-refresh", post(test_expire_refresh))
                .with_state((bridge.clone(), mock.clone()));
            router = router.merge(hooks);
        }
    }
    if cfg.providers.is_none() {
        // The demo page: with the mock providers, or `--upstream` ones.
        let demo = Router::new()
            .route("/demo/config", get(demo_config))
            .fallback(get(static_file))
            .with_state(Arc::new(cfg.clone()));
        router = router.merge(demo);
    }
    bridge.wrap(router)
}

/// Binds `addr` (e.g. `127.0.0.1:0`) and serves until `shutdown` resolves. Returns the bound URL at once.
pub async fn serve(
    cfg: Config,
    addr: &str,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(String, Running, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let bridge = Bridge::open(cfg.bridge(&url)).await.map_err(std::io::Error::other)?;
    let running = Running { bridge: bridge.clone(), mock: cfg.mock().map(MockProviders::new) };
    let router = app(&cfg, &running);
    let sweeper = bridge.spawn_sweeper();
    let handle = tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        sweeper.abort();
    });
    Ok((url, running, handle))
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
}
