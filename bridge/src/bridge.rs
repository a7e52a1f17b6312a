//! The bridging backend authbridge talks to: a demo sign-in that sets an `HttpOnly` session cookie, and per
//! provider `POST /auth/{provider}/token` (mint or refresh with server-held secrets only) and
//! `DELETE /auth/{provider}/token` (revoke upstream every token the session minted, end the session).
//!
//! What never leaves this server: the Point apiKey, passwords, pointservices and Wazo refresh tokens, and the
//! airfocus account credentials (used once at sign-in, never kept). Responses are the provider's own, minus any
//! refresh token.
//!
//! Sessions end at sign-out, after `session_idle` without a bridge call, `session_max` after sign-in, or when
//! the table is full (least recently used first); however they end, their tokens are revoked upstream.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::config::BridgeConfig;
use crate::crypto::{constant_time_eq, opaque_user_id, random_hex};
use crate::store::{Acquired, Alive, StoreError, StoredSession, LEASE};
use crate::upstream::{path, UpstreamError};
use crate::{json_body, log_line, now_s, seal, store, upstream};

/// The session cookie (`HttpOnly; SameSite=Strict`): the session id, nothing else.
pub const SESSION_COOKIE: &str = "authbridge_session";
/// The CSRF cookie (`SameSite=Lax`, readable by the page), echoed as `X-CSRF-Token`.
pub const CSRF_COOKIE: &str = "authbridge_csrf";
/// Live tokens remembered per session. A client refreshing before expiry holds one or two; beyond this the
/// oldest is revoked at once rather than forgotten, so the list stays bounded.
const MAX_MINTED: usize = 32;

/// The secrets a session holds, sealed together before they reach the store. None of them ever goes to the
/// browser.
#[derive(Default, Serialize, Deserialize)]
pub struct Secrets {
    /// pointservices or Wazo refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// airfocus: the key's id and its token, which also deletes it at sign-out (the password is never kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    airfocus: Option<(String, String)>,
    /// Point and Wazo access tokens this session minted, with their expiry (Unix s). Sign-out revokes these,
    /// never what the browser presents: a presented token could be anyone's, or a crafted path.
    #[serde(default)]
    minted: Vec<(String, i64)>,
    /// Wazo: the user's id (`auth_id`), to delete the refresh token at sign-out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wazo_user: Option<String>,
}

impl Secrets {
    /// Remembers a minted token; returns the live ones dropped to keep the list bounded (to revoke).
    fn record(&mut self, token: String, expires: i64) -> Vec<(String, i64)> {
        let now = now_s();
        self.minted.retain(|(_, exp)| *exp > now);
        self.minted.push((token, expires));
        let over = self.minted.len().saturating_sub(MAX_MINTED);
        self.minted.drain(..over).collect()
    }

    fn seal(&self, state: &Bridge, id: &str) -> String {
        let json = serde_json::to_vec(self).expect("secrets serialise");
        state.keys.seal(id, &json)
    }
}

/// A session with its secrets opened, as the handlers use it.
pub struct Session {
    /// The provider signed in at.
    pub provider: String,
    /// The user name given at sign-in.
    pub username: String,
    secrets: Secrets,
}

/// Opens a stored session's secrets. `None` if they do not open (sealed under a key removed from the ring, or
/// altered): the session can only end, and nothing it held can be revoked upstream.
fn open(state: &Bridge, id: &str, stored: &StoredSession) -> Option<(Secrets, bool)> {
    let (plain, stale) = state.keys.open(id, &stored.sealed).ok()?;
    Some((serde_json::from_slice(&plain).ok()?, stale))
}

fn opened(state: &Bridge, id: &str, stored: StoredSession) -> Option<Session> {
    let (secrets, _) = open(state, id, &stored)?;
    Some(Session { provider: stored.provider, username: stored.username, secrets })
}

/// What a session must be at `now_ms` to be used: within its idle and absolute limits.
fn alive(cfg: &BridgeConfig, now_ms: i64) -> Alive {
    Alive {
        used_after_ms: now_ms - cfg.session_idle.as_millis() as i64,
        created_after_ms: now_ms - cfg.session_max.as_millis() as i64,
    }
}

/// Whether a stored session is past its idle or absolute limit at `now_ms`.
fn expired(cfg: &BridgeConfig, s: &StoredSession, now_ms: i64) -> bool {
    let a = alive(cfg, now_ms);
    s.last_used_ms <= a.used_after_ms || s.created_ms <= a.created_after_ms
}

/// Unix time in milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The refusal for a store that failed; the cause goes to the log, never to the browser.
fn store_failed(e: StoreError) -> Response {
    eprintln!("{}", json!({"ts": now_s(), "error": "store", "message": e.to_string()}));
    error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "the session store is unavailable: try again")
}

/// Removes the expired sessions from the store and ends them upstream (the periodic sweep; sign-in sweeps
/// too).
async fn sweep(state: &Arc<Bridge>) -> Result<(), StoreError> {
    let now = now_ms();
    let idle = now - state.cfg.session_idle.as_millis() as i64;
    let created = now - state.cfg.session_max.as_millis() as i64;
    let ended = state.store.remove_expired(idle, created).await?;
    end_in_background(state, ended);
    Ok(())
}

/// Ends removed sessions upstream without making a request wait for it.
fn end_in_background(state: &Arc<Bridge>, ended: Vec<(String, StoredSession)>) {
    let sessions: Vec<Session> = ended.into_iter().filter_map(|(id, s)| opened(state, &id, s)).collect();
    if sessions.is_empty() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        for s in sessions {
            let _ = end_session_upstream(&state, s).await;
        }
    });
}

/// The secrets the store holds, opened, for the test hook that expires refresh tokens.
pub async fn refresh_tokens_for_tests(state: &Bridge) -> Vec<String> {
    let all = state.store.all().await.unwrap_or_default();
    all.into_iter().filter_map(|(id, s)| opened(state, &id, s)?.secrets.refresh_token).collect()
}

/// Sign-in attempts allowed per user and per client address (the connecting address: behind a load balancer,
/// every user shares its address, so rely on the per-user limit there and rate limit at the balancer).
pub struct SignInLimits {
    per_user: DefaultKeyedRateLimiter<(String, String)>,
    per_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl SignInLimits {
    /// `per_user` and `per_address` attempts a minute, each allowed as a burst.
    pub fn new(per_user: u32, per_address: u32) -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self { per_user: RateLimiter::keyed(quota(per_user)), per_address: RateLimiter::keyed(quota(per_address)) }
    }

    /// Counts an attempt from `address` (if known) for `user` at `provider`; `Err` with how long to wait when
    /// either limit is spent. The address is checked first, so a flood from one address does not also use up
    /// the users' quotas.
    fn check(&self, address: Option<IpAddr>, provider: &str, user: &str) -> Result<(), Duration> {
        let wait = |n: governor::NotUntil<_>| n.wait_time_from(DefaultClock::default().now());
        if let Some(a) = address {
            self.per_address.check_key(&a).map_err(wait)?;
        }
        self.per_user.check_key(&(provider.to_owned(), user.to_owned())).map_err(wait)
    }

    /// Forgets keys whose quota is full again (the periodic sweep), so the tables stay bounded by recent
    /// traffic.
    pub fn forget_idle(&self) {
        self.per_user.retain_recent();
        self.per_address.retain_recent();
    }
}

/// Ends a session at its provider: revokes every live access token it minted (Point, Wazo), deletes the
/// airfocus key; refresh tokens are dropped with the session (pointservices documents no revocation). Shared
/// by sign-out, `DELETE /session`, `DELETE /sessions`, expiry and eviction. Stops at the first provider that
/// cannot be reached.
pub async fn end_session_upstream(state: &Bridge, session: Session) -> Result<(), UpstreamError> {
    let secrets = &session.secrets;
    let mut minted = secrets.minted.clone();
    if let (Some(r), "wazo") = (&secrets.refresh_token, session.provider.as_str()) {
        minted.extend(wazo_delete_refresh(state, r, secrets).await?);
    }
    if let Some((key_id, token)) = &secrets.airfocus {
        if let Some(p) = path(&["airfocus", "api-keys", key_id]) {
            let auth = [("authorization", format!("Bearer {token}"))];
            state.upstream("airfocus")?.call(Method::DELETE, &p, &auth, None).await?;
        }
    }
    revoke_tokens(state, &session.provider, &session.username, &minted).await
}

/// Deletes a Wazo refresh token upstream (it never expires otherwise) with
/// `DELETE /0.1/users/{user_uuid}/tokens/{client_id}`, authorised by a live access token of the session (the
/// caller revokes it next), or one minted from the refresh token for the purpose: returned, to be revoked too.
/// A refresh token the provider no longer knows needs nothing more.
async fn wazo_delete_refresh(
    state: &Bridge,
    refresh: &str,
    secrets: &Secrets,
) -> Result<Option<(String, i64)>, UpstreamError> {
    let Some(wazo) = &state.cfg.providers.wazo else { return Ok(None) };
    let up = state.upstream("wazo")?;
    // A token that stays valid for the few calls ahead.
    let live = secrets.minted.iter().rev().find(|(_, exp)| *exp > now_s() + 5);
    let (token, user, fresh) = match (live, &secrets.wazo_user) {
        (Some((t, _)), Some(u)) => (t.clone(), u.clone(), None),
        _ => {
            let body = json!({"expiration": 60, "client_id": wazo.client_id, "refresh_token": refresh});
            let (status, v) = up.call(Method::POST, "/api/auth/0.1/token", &[], Some(&body)).await?;
            let (Some(t), Some(u)) = (v["data"]["token"].as_str(), v["data"]["auth_id"].as_str()) else {
                return Ok(None);
            };
            if !status.is_success() {
                return Ok(None);
            }
            (t.to_owned(), u.to_owned(), Some((t.to_owned(), now_s() + 60)))
        }
    };
    if let Some(p) = path(&["api", "auth", "0.1", "users", &user, "tokens", &wazo.client_id]) {
        up.call(Method::DELETE, &p, &[("x-auth-token", token)], None).await?;
    }
    Ok(fresh)
}

async fn revoke_tokens(
    state: &Bridge,
    provider: &str,
    username: &str,
    tokens: &[(String, i64)],
) -> Result<(), UpstreamError> {
    let now = now_s();
    let uid = opaque_user_id(username);
    for (token, _) in tokens.iter().filter(|(_, exp)| *exp > now) {
        let (p, auth) = match provider {
            "point" => (
                path(&["users", &uid, "access_token", token]),
                vec![("authorization", format!("Bearer {}", state.point_api_key()))],
            ),
            "wazo" => (path(&["api", "auth", "0.1", "token", token]), vec![]),
            _ => continue,
        };
        if let Some(p) = p {
            state.upstream(provider)?.call(Method::DELETE, &p, &auth, None).await?;
        }
    }
    Ok(())
}

fn revoke_in_background(state: &Arc<Bridge>, provider: &str, username: &str, tokens: Vec<(String, i64)>) {
    if tokens.is_empty() {
        return;
    }
    let (state, provider, username) = (state.clone(), provider.to_owned(), username.to_owned());
    tokio::spawn(async move {
        let _ = revoke_tokens(&state, &provider, &username, &tokens).await;
    });
}

/// The access token a successful token response carries and its expiry, for the tokens sign-out can revoke.
/// An unknown expiry is taken long: revoking an expired token is harmless, forgetting a live one is not.
fn minted_token(provider: &str, v: &Value) -> Option<(String, i64)> {
    match provider {
        "point" => {
            let t = v["accessToken"]["token"].as_str()?;
            let life = v["accessToken"]["expiresIn"].as_i64().unwrap_or(86_400);
            Some((t.strip_prefix("Bearer ").unwrap_or(t).to_owned(), now_s() + life))
        }
        "wazo" => {
            let d = &v["data"];
            let exp = d["utc_expires_at"].as_str().and_then(wazo_utc).unwrap_or(now_s() + 10 * 86_400);
            Some((d["token"].as_str()?.to_owned(), exp))
        }
        _ => None,
    }
}

/// Wazo's `utc_expires_at` (`2024-05-01T12:00:00.000000`, UTC, no zone) in Unix seconds.
fn wazo_utc(s: &str) -> Option<i64> {
    let civil: jiff::civil::DateTime = s.parse().ok()?;
    Some(civil.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_second())
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

/// A refused request: status, error code, message.
type Refusal = (StatusCode, &'static str, String);

fn refused((status, code, message): Refusal) -> Response {
    error(status, code, &message)
}

/// A cookie of the request; an empty value counts as none.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// Double-submit CSRF check: the `X-CSRF-Token` header must equal the CSRF cookie (which only this origin's
/// scripts can read, or an allowed origin's through `GET /csrf`), and a cross-site `Origin` is refused
/// outright. The refusal says which check failed: wiring a page to a bridge is where people get stuck.
fn csrf_check(state: &Bridge, headers: &HeaderMap) -> Result<(), Refusal> {
    let refuse = |m: &str| Err((StatusCode::FORBIDDEN, "csrf", m.to_owned()));
    if let Some((origin, host)) = foreign_origin(state, headers) {
        return refuse(&format!(
            "Origin {origin} is not allowed for Host {host}: serve the page from this host or pass \
             --allow-origin {origin} (a dev proxy with changeOrigin: true rewrites Host; turn it off)"
        ));
    }
    let Some(c) = cookie(headers, CSRF_COOKIE) else {
        return refuse(&format!(
            "no {CSRF_COOKIE} cookie: fetch /csrf or /demo/config first (this response sets one), then send its \
             value as X-CSRF-Token"
        ));
    };
    match headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).filter(|h| !h.is_empty()) {
        None => refuse(&format!(
            "no X-CSRF-Token header: send the value of the {CSRF_COOKIE} cookie (or csrfToken from GET /csrf)"
        )),
        Some(h) if !constant_time_eq(h.as_bytes(), c.as_bytes()) => {
            refuse(&format!("X-CSRF-Token differs from the {CSRF_COOKIE} cookie: send the cookie's current value"))
        }
        Some(_) => Ok(()),
    }
}

/// The request's `Origin` and `Host` when the origin is neither this host's nor an allowed one.
fn foreign_origin(state: &Bridge, headers: &HeaderMap) -> Option<(String, String)> {
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("");
    let host = headers.get(header::HOST)?.to_str().unwrap_or("");
    let own = origin.split_once("://").map(|(_, h)| h) == Some(host);
    (!own && !state.cfg.allowed_origins.iter().any(|o| o == origin)).then(|| (origin.to_owned(), host.to_owned()))
}

/// Whether a response to this request may set a CSRF cookie when the request carried none. Not for a request
/// from another site: the browser may hold a CSRF cookie it withholds cross-site, and a new one set by, say, a
/// top-level link from any website would replace it (issue 21.5). `Sec-Fetch-Site: cross-site` says so in
/// current browsers; an `Origin` of another site says so for a cross-site form `POST` in older ones. An
/// allowed origin's own calls are exempt: it fetches `/csrf` on purpose.
pub fn may_set_csrf_cookie(state: &Bridge, headers: &HeaderMap) -> bool {
    let allowed_origin = headers
        .get(header::ORIGIN)
        .is_some_and(|o| state.cfg.allowed_origins.iter().any(|a| a.as_bytes() == o.as_bytes()));
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    (allowed_origin || !cross_site) && foreign_origin(state, headers).is_none()
}

fn session_cookie(state: &Bridge, value: &str, max_age: i64) -> String {
    let secure = if state.cfg.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The CSRF cookie. `SameSite=Lax`, unlike the session cookie: it authenticates nothing by itself (a call
/// needs it echoed in a header, which only this site's scripts can read), and a top-level link from another
/// site then carries it, so the answer to that link never finds it "missing" and replaces it.
pub fn csrf_cookie(state: &Bridge, value: &str) -> String {
    let secure = if state.cfg.secure_cookies { "; Secure" } else { "" };
    format!("{CSRF_COOKIE}={value}; Path=/; SameSite=Lax{secure}")
}

/// The bridging backend: its configuration, session store, key ring, sign-in limits and provider clients.
/// Build it with [`Bridge::open`], mount [`Bridge::router`], and run [`Bridge::sweep`] now and then (or
/// [`Bridge::spawn_sweeper`]).
pub struct Bridge {
    /// What it was built from.
    pub cfg: BridgeConfig,
    /// The session store, which sees sealed secrets only.
    pub store: Box<dyn store::SessionStore>,
    /// Seals and opens the secrets of sessions.
    pub keys: seal::KeyRing,
    sign_in_limits: SignInLimits,
    /// An HTTP client per configured provider.
    upstreams: HashMap<&'static str, upstream::Upstream>,
}

impl Bridge {
    /// Opens the configured store and key ring (see [`crate::keys_for`]).
    pub async fn open(cfg: BridgeConfig) -> Result<Arc<Self>, String> {
        let keys = crate::keys_for(&cfg.store, cfg.keys.as_ref())?;
        let store = store::open(&cfg.store).await?;
        let upstreams = cfg
            .providers
            .names()
            .into_iter()
            .filter_map(|p| Some((p, upstream::Upstream::new(cfg.providers.base_url(p)?.to_owned()))))
            .collect();
        Ok(Arc::new(Self {
            sign_in_limits: SignInLimits::new(cfg.sign_in_per_user, cfg.sign_in_per_address),
            cfg,
            store,
            keys,
            upstreams,
        }))
    }

    /// The bridge's routes (`POST`/`DELETE /session`, `DELETE /sessions`, `POST`/`DELETE
    /// /auth/{provider}/token`, `GET /csrf`) with CORS, the CSRF cookie, size bounds and request logs: what a
    /// Rust backend merges into its own router.
    pub fn router(self: &Arc<Self>) -> Router {
        self.wrap(self.routes())
    }

    /// The bridge's routes with CORS only, to be merged with other routes and wrapped by [`Bridge::wrap`] (so
    /// that the app's own pages also set the CSRF cookie, and are bounded and logged once).
    pub fn routes(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/session", post(sign_in).delete(end_session))
            .route("/sessions", axum::routing::delete(end_all_sessions))
            .route("/auth/{provider}/token", post(token).delete(revoke))
            .route("/csrf", get(csrf_token))
            .layer(middleware::from_fn_with_state(self.clone(), cors))
            .with_state(self.clone())
    }

    /// Applies the bridge's layers to a router: the CSRF cookie on every answer to a browser that has none
    /// (never to a cross-site request), bodies and headers bounded, a time limit per request, one log line per
    /// request.
    pub fn wrap(self: &Arc<Self>, router: Router) -> Router {
        router
            .layer(middleware::from_fn_with_state(self.clone(), set_csrf_cookie))
            // Above the longest legitimate wait: a lease held by a dead replica (15 s) and one provider call (5 s).
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::REQUEST_TIMEOUT,
            ))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(crate::MAX_BODY_BYTES))
            .layer(middleware::from_fn(bound_headers))
            .layer(middleware::from_fn_with_state(self.clone(), log_requests))
    }

    /// Removes the expired sessions from the store and ends them upstream; forgets idle rate-limit keys.
    pub async fn sweep(self: &Arc<Self>) -> Result<(), StoreError> {
        self.sign_in_limits.forget_idle();
        sweep(self).await
    }

    /// Sweeps once a minute (or each idle period, if shorter) until the bridge is dropped by everyone else.
    pub fn spawn_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let every = self.cfg.session_idle.clamp(Duration::from_secs(1), Duration::from_secs(60));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(bridge) = weak.upgrade() else { return };
                if let Err(e) = bridge.sweep().await {
                    eprintln!("{}", json!({"ts": now_s(), "error": "store", "message": e.to_string()}));
                }
            }
        })
    }

    /// Checks a Point sign-in against the configured users, in constant time per password.
    fn check_password(&self, user: &str, pass: &str) -> bool {
        self.cfg.users.iter().any(|(u, p)| u == user && constant_time_eq(p.as_bytes(), pass.as_bytes()))
    }

    /// The client of a configured provider.
    fn upstream(&self, provider: &str) -> Result<&upstream::Upstream, UpstreamError> {
        self.upstreams.get(provider).ok_or(UpstreamError::Unreachable)
    }

    fn point_api_key(&self) -> &str {
        self.cfg.providers.point.as_ref().map_or("", |p| p.api_key.0.as_str())
    }

    fn wazo_client_id(&self) -> &str {
        self.cfg.providers.wazo.as_ref().map_or("", |w| w.client_id.as_str())
    }

    fn wazo_lifetime(&self) -> i64 {
        self.cfg.providers.wazo.as_ref().map_or(3600, |w| w.token_lifetime)
    }
}

/// Marks a response as the static file at this (checked) request path, for the log.
#[derive(Clone)]
pub struct ServedFile(pub String);

/// Added with `Router::layer`, so the router's `MatchedPath` is in the request.
async fn log_requests(State(state): State<Arc<Bridge>>, req: Request, next: Next) -> Response {
    let start = std::time::Instant::now();
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

/// Refuses a request whose headers exceed `MAX_HEADER_BYTES` (431) before any handler parses them.
async fn bound_headers(req: Request, next: Next) -> Response {
    let size: usize = req.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if size > crate::MAX_HEADER_BYTES {
        return StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE.into_response();
    }
    next.run(req).await
}

/// Every response to a browser without a CSRF cookie sets one (a refusal too: the retry then works), except
/// the answer to a cross-site request, which must not replace a cookie the browser withheld
/// (`may_set_csrf_cookie`).
async fn set_csrf_cookie(State(state): State<Arc<Bridge>>, req: Request, next: Next) -> Response {
    let missing = cookie(req.headers(), CSRF_COOKIE).is_none() && may_set_csrf_cookie(&state, req.headers());
    let mut resp = next.run(req).await;
    let prefix = format!("{CSRF_COOKIE}=");
    if missing
        && !resp.headers().get_all(header::SET_COOKIE).iter().any(|v| v.as_bytes().starts_with(prefix.as_bytes()))
    {
        let value = csrf_cookie(&state, &new_csrf());
        resp.headers_mut().append(header::SET_COOKIE, value.parse().unwrap());
    }
    resp
}

/// CORS for the origins of `--allow-origin` only: the origin itself (never `*`) with credentials, and a 204
/// preflight. Any other preflight is refused without CORS headers, so the browser blocks the call.
async fn cors(State(state): State<Arc<Bridge>>, req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .filter(|o| state.cfg.allowed_origins.iter().any(|a| a.as_bytes() == o.as_bytes()))
        .cloned();
    let mut resp = match (req.method() == Method::OPTIONS, &origin) {
        (true, Some(_)) => {
            let mut resp = StatusCode::NO_CONTENT.into_response();
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("POST, DELETE"));
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("content-type, x-csrf-token, authorization, x-auth-token"),
            );
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            resp
        }
        (true, None) => error(StatusCode::FORBIDDEN, "cors", "origin not allowed: add it with --allow-origin"),
        (false, _) => next.run(req).await,
    };
    let h = resp.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(o) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
    }
    resp
}

/// `GET /csrf` `{csrfToken}`: the CSRF token, for a page on an allowed origin, which cannot read this host's
/// cookie. Sets the cookie if the browser has none.
async fn csrf_token(State(state): State<Arc<Bridge>>, headers: HeaderMap) -> Response {
    let existing = cookie(&headers, CSRF_COOKIE);
    if existing.is_none() && !may_set_csrf_cookie(&state, &headers) {
        return error(
            StatusCode::FORBIDDEN,
            "csrf",
            "a cross-site request gets no CSRF cookie: serve the page from this site or pass --allow-origin",
        );
    }
    let token = existing.clone().unwrap_or_else(new_csrf);
    let mut resp = Json(json!({ "csrfToken": token })).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if existing.is_none() {
        resp.headers_mut().insert(header::SET_COOKIE, csrf_cookie(&state, &token).parse().unwrap());
    }
    resp
}

fn basic_auth(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

fn upstream_error(e: UpstreamError) -> Response {
    match e {
        UpstreamError::Unreachable => {
            error(StatusCode::BAD_GATEWAY, "upstream_unreachable", "the provider could not be reached")
        }
        UpstreamError::Timeout => {
            error(StatusCode::GATEWAY_TIMEOUT, "upstream_timeout", "the provider did not answer in time")
        }
    }
}

/// Maps a provider's failure to the bridge's answer: the provider's 401 ends the browser's session (401);
/// anything else is the bridge being unavailable (502), which authbridge retries with backoff.
fn upstream_status(status: StatusCode) -> Response {
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        error(StatusCode::UNAUTHORIZED, "session_expired", "the provider refused: sign in again")
    } else {
        error(StatusCode::BAD_GATEWAY, "upstream_error", &format!("the provider answered {}", status.as_u16()))
    }
}

/// `POST /session` `{username, password, provider}`: signs in at the provider (the password is used once and
/// forgotten), keeps what the provider returned server-side, and sets the session cookie.
async fn sign_in(
    State(state): State<Arc<Bridge>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    detached(sign_in_detached(state, peer, headers, body)).await
}

async fn sign_in_detached(
    state: Arc<Bridge>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = csrf_check(&state, &headers) {
        return refused(r);
    }
    let Some(body) = json_body(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "JSON body required");
    };
    let (Some(username), Some(password), Some(provider)) =
        (body["username"].as_str(), body["password"].as_str(), body["provider"].as_str())
    else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "username, password and provider are required");
    };
    let Ok(up) = state.upstream(provider) else {
        let names = state.cfg.providers.names().join(", ");
        return error(StatusCode::NOT_FOUND, "unknown_provider", &format!("provider must be one of: {names}"));
    };
    if let Err(wait) = state.sign_in_limits.check(peer.map(|Extension(ConnectInfo(a))| a.ip()), provider, username) {
        let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many sign-in attempts: wait");
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return resp;
    }
    let mut refresh_token = None;
    let mut wazo_user = None;
    let mut airfocus = None;
    match provider {
        "point" => {
            // The bridge's own user check; Point knows users only by the opaque id the bridge gives them.
            if !state.check_password(username, password) {
                return error(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password");
            }
            let auth = [("authorization", format!("Bearer {}", state.point_api_key()))];
            let p = path(&["users", &opaque_user_id(username)]).unwrap();
            match up.call(Method::POST, &p, &auth, None).await {
                Ok((s, _)) if s.is_success() => {}
                Ok((s, _)) => return upstream_status(s),
                Err(e) => return upstream_error(e),
            }
        }
        "pointservices" => {
            let creds = json!({"username": username, "password": password});
            match up
                .call(Method::POST, "/user-management-services-ws/oauth2/002/signInWithPassword", &[], Some(&creds))
                .await
            {
                Ok((s, v)) if s.is_success() => refresh_token = v["refresh_token"].as_str().map(str::to_owned),
                Ok((StatusCode::UNAUTHORIZED, _)) => {
                    return error(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password")
                }
                Ok((s, _)) => return upstream_status(s),
                Err(e) => return upstream_error(e),
            }
        }
        "wazo" => {
            let auth = [("authorization", basic_auth(username, password))];
            let req = json!({"client_id": state.wazo_client_id(), "access_type": "offline", "expiration": state.wazo_lifetime()});
            match up.call(Method::POST, "/api/auth/0.1/token", &auth, Some(&req)).await {
                Ok((s, v)) if s.is_success() => {
                    refresh_token = v["data"]["refresh_token"].as_str().map(str::to_owned);
                    wazo_user = v["data"]["auth_id"].as_str().map(str::to_owned);
                }
                Ok((StatusCode::UNAUTHORIZED, _)) => {
                    return error(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password")
                }
                Ok((s, _)) => return upstream_status(s),
                Err(e) => return upstream_error(e),
            }
        }
        _ => {
            // airfocus: a personal access token created for this session (the app's "Add API key" dialog).
            let auth = [("authorization", basic_auth(username, password))];
            let req = json!({"name": "authbridge demo", "scopes": ["workspace:read", "item:read"]});
            match up.call(Method::POST, "/airfocus/api-keys", &auth, Some(&req)).await {
                Ok((s, v)) if s.is_success() => {
                    let (Some(id), Some(token)) = (v["id"].as_str(), v["token"].as_str()) else {
                        return error(StatusCode::BAD_GATEWAY, "upstream_error", "unexpected provider response");
                    };
                    airfocus = Some((id.to_owned(), token.to_owned()));
                }
                Ok((StatusCode::UNAUTHORIZED, _)) => {
                    return error(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password")
                }
                Ok((s, _)) => return upstream_status(s),
                Err(e) => return upstream_error(e),
            }
        }
    }
    let id = random_hex(24);
    let now = now_ms();
    let secrets = Secrets { refresh_token, airfocus, minted: Vec::new(), wazo_user };
    let stored = StoredSession {
        provider: provider.to_owned(),
        username: username.to_owned(),
        sealed: secrets.seal(&state, &id),
        created_ms: now,
        last_used_ms: now,
    };
    if let Err(e) = sweep(&state).await {
        return store_failed(e);
    }
    match state.store.insert(&id, &stored, state.cfg.max_sessions).await {
        Ok(evicted) => end_in_background(&state, evicted),
        Err(e) => {
            // Not stored: end what the provider just gave, so it does not outlive the failed sign-in.
            end_in_background(&state, vec![(id, stored)]);
            return store_failed(e);
        }
    }
    let mut resp = Json(json!({"signedIn": true, "provider": provider})).into_response();
    let max_age = state.cfg.session_max.as_secs() as i64;
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &id, max_age).parse().unwrap());
    resp
}

/// The answer to a sign-out: the session cookie cleared whatever the provider said.
fn signed_out(state: &Bridge, outcome: Result<(), UpstreamError>) -> Response {
    let mut resp = match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => upstream_error(e),
    };
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(state, "", 0).parse().unwrap());
    resp
}

/// Ends removed sessions upstream, every one even if a provider call fails; reports the first failure.
async fn end_all(state: &Bridge, ended: Vec<(String, StoredSession)>) -> Result<(), UpstreamError> {
    let mut outcome = Ok(());
    for (id, s) in ended {
        let Some(session) = opened(state, &id, s) else { continue };
        let r = end_session_upstream(state, session).await;
        if outcome.is_ok() {
            outcome = r;
        }
    }
    outcome
}

/// `DELETE /session`: ends the session, upstream too.
async fn end_session(State(state): State<Arc<Bridge>>, headers: HeaderMap) -> Response {
    detached(end_session_detached(state, headers)).await
}

async fn end_session_detached(state: Arc<Bridge>, headers: HeaderMap) -> Response {
    if let Err(r) = csrf_check(&state, &headers) {
        return refused(r);
    }
    let removed = match cookie(&headers, SESSION_COOKIE) {
        Some(id) => match state.store.remove(&id).await {
            Ok(s) => s.map(|s| (id, s)),
            Err(e) => return store_failed(e),
        },
        None => None,
    };
    let outcome = end_all(&state, removed.into_iter().collect()).await;
    signed_out(&state, outcome)
}

/// `DELETE /sessions`: ends every session of this session's user (same provider and user name), on every
/// device, upstream too. Each tab learns it through the client's normal path: its next token call is refused
/// (401) and it signs out.
async fn end_all_sessions(State(state): State<Arc<Bridge>>, headers: HeaderMap) -> Response {
    detached(end_all_sessions_detached(state, headers)).await
}

async fn end_all_sessions_detached(state: Arc<Bridge>, headers: HeaderMap) -> Response {
    if let Err(r) = csrf_check(&state, &headers) {
        return refused(r);
    }
    let me = match cookie(&headers, SESSION_COOKIE) {
        Some(id) => match state.store.get(&id).await {
            Ok(s) => s,
            Err(e) => return store_failed(e),
        },
        None => None,
    };
    let Some(me) = me else { return error(StatusCode::UNAUTHORIZED, "no_session", "sign in first") };
    let ended = match state.store.remove_user(&me.provider, &me.username).await {
        Ok(ended) => ended,
        Err(e) => return store_failed(e),
    };
    let outcome = end_all(&state, ended).await;
    signed_out(&state, outcome)
}

/// The session for this request, checked against the provider in the path and the CSRF token. An expired one
/// is refused, and ended upstream.
async fn session_for(state: &Arc<Bridge>, headers: &HeaderMap, provider: &str) -> Result<String, Response> {
    csrf_check(state, headers).map_err(refused)?;
    let id = cookie(headers, SESSION_COOKIE).ok_or_else(|| no_session("sign in first"))?;
    session_row(state, &id, provider).await.map(|_| id)
}

fn no_session(message: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, "no_session", message)
}

/// The stored session `id`, checked against the provider in the path; an expired one is refused, and ended.
async fn session_row(state: &Arc<Bridge>, id: &str, provider: &str) -> Result<StoredSession, Response> {
    let Some(s) = state.store.get(id).await.map_err(store_failed)? else { return Err(no_session("sign in first")) };
    if expired(&state.cfg, &s, now_ms()) {
        return Err(end_expired(state, id).await);
    }
    if s.provider != provider {
        return Err(no_session("signed in with another provider"));
    }
    Ok(s)
}

/// Ends an expired session (upstream too, in the background) and says so.
async fn end_expired(state: &Arc<Bridge>, id: &str) -> Response {
    match state.store.remove(id).await {
        Ok(removed) => {
            end_in_background(state, removed.map(|s| (id.to_owned(), s)).into_iter().collect());
            no_session("the session expired: sign in again")
        }
        Err(e) => store_failed(e),
    }
}

/// Takes the session's lease (`store.rs`), waiting while another token call, here or in another process,
/// holds it. `None` if the session is gone.
async fn lease(state: &Arc<Bridge>, id: &str, owner: &str) -> Result<Option<StoredSession>, Response> {
    let deadline = tokio::time::Instant::now() + LEASE + Duration::from_secs(1);
    let mut pause = Duration::from_millis(5);
    loop {
        let now = now_ms();
        match state.store.acquire(id, owner, now, alive(&state.cfg, now)).await.map_err(store_failed)? {
            Acquired::Held(s) => return Ok(Some(s)),
            Acquired::Missing => return Ok(None),
            Acquired::Expired => return Err(end_expired(state, id).await),
            Acquired::Busy if tokio::time::Instant::now() >= deadline => {
                return Err(error(StatusCode::SERVICE_UNAVAILABLE, "busy", "the session is busy: try again"))
            }
            Acquired::Busy => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
        }
    }
}

/// `POST /auth/{provider}/token`: a fresh access token, minted with server-held secrets only. The session's
/// lease is held from reading its refresh token until the rotated one is stored, so that no two calls (no two
/// replicas) ever redeem the same refresh token.
async fn token(State(state): State<Arc<Bridge>>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = csrf_check(&state, &headers) {
        return refused(r);
    }
    let Some(id) = cookie(&headers, SESSION_COOKIE) else { return no_session("sign in first") };
    detached(leased_token(state, provider, id)).await
}

/// Runs a handler's work on its own task. A browser that goes away mid-call (a closed tab) drops the handler;
/// the work must still finish: a lease given back and a rotated refresh token stored (or the session would
/// wait out the lease and lose the token the provider just rotated), a session ended upstream once removed
/// from the store, a provider sign-in stored or undone.
async fn detached(work: impl std::future::Future<Output = Response> + Send + 'static) -> Response {
    tokio::spawn(work)
        .await
        .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the call failed: try again"))
}

/// Whether a provider spends a refresh token on each use (rotation): its token calls hold the session's lease
/// across the provider call, since two concurrent redemptions would look like theft and revoke the session.
/// Other providers' calls run concurrently and take the lease only to write back what they minted, so that a
/// slow provider call (a tab closed mid-refresh, say) delays no other tab.
fn rotates_refresh_tokens(provider: &str) -> bool {
    provider == "pointservices"
}

/// The token call: the provider call, then the secrets written back under the session's lease.
async fn leased_token(state: Arc<Bridge>, provider: String, id: String) -> Response {
    let owner = random_hex(12);
    let held = rotates_refresh_tokens(&provider);
    // One store call before the provider's: the lease (its compare-and-set checks the limits too), or a read.
    let stored = if held {
        match lease(&state, &id, &owner).await {
            Ok(Some(s)) if s.provider == provider => s,
            Ok(Some(_)) => {
                let _ = state.store.release(&id, &owner, None).await;
                return no_session("signed in with another provider");
            }
            Ok(None) => return no_session("sign in first"),
            Err(r) => return r,
        }
    } else {
        match session_row(&state, &id, &provider).await {
            Ok(s) => s,
            Err(r) => return r,
        }
    };
    let Some((secrets, first_stale)) = open(&state, &id, &stored) else { return unopenable(&state, &id).await };
    let username = stored.username;
    let minted = match mint_token(&state, &provider, &username, &secrets).await {
        Ok(m) => m,
        Err((resp, end)) => {
            if end {
                let removed = state.store.remove(&id).await.ok().flatten();
                end_in_background(&state, removed.map(|s| (id, s)).into_iter().collect());
            } else if held {
                let _ = state.store.release(&id, &owner, None).await;
            }
            return resp;
        }
    };
    // Written back under the lease, from the secrets as they are now (another call may have added a token).
    let (mut secrets, stale) = if held {
        (secrets, first_stale)
    } else {
        let stored = match lease(&state, &id, &owner).await {
            Ok(Some(s)) => s,
            Ok(None) | Err(_) => return minted.orphaned(&state, &provider, &username),
        };
        match open(&state, &id, &stored) {
            Some(opened) => opened,
            None => return unopenable(&state, &id).await,
        }
    };
    let changed = minted.apply(&state, &provider, &username, &mut secrets);
    // Sealed again when something changed, or when it was sealed with an older key (rotation).
    let sealed = (changed || stale).then(|| secrets.seal(&state, &id));
    match state.store.release(&id, &owner, sealed.as_deref()).await {
        Ok(true) => minted.response,
        // Signed out while this token was being minted (or the lease was lost).
        Ok(false) | Err(_) => minted.orphaned(&state, &provider, &username),
    }
}

/// A session whose secrets do not open (sealed under a key no longer in the ring): it ends cleanly, and its
/// user signs in again.
async fn unopenable(state: &Bridge, id: &str) -> Response {
    let _ = state.store.remove(id).await;
    error(StatusCode::UNAUTHORIZED, "no_session", "the session ended: sign in again")
}

/// What a successful provider call gave: the browser's response, and what the session must remember.
struct Minted {
    response: Response,
    /// The access token minted, with its expiry, for sign-out to revoke.
    token: Option<(String, i64)>,
    /// A rotated refresh token: the old one is spent.
    refresh_token: Option<String>,
}

impl Minted {
    /// Records the new secrets; returns whether they changed. Live tokens dropped to keep the list bounded are
    /// revoked.
    fn apply(&self, state: &Arc<Bridge>, provider: &str, username: &str, secrets: &mut Secrets) -> bool {
        let mut changed = false;
        if let Some(r) = self.refresh_token.as_ref().filter(|r| secrets.refresh_token.as_ref() != Some(*r)) {
            secrets.refresh_token = Some(r.clone());
            changed = true;
        }
        if let Some((t, exp)) = &self.token {
            let dropped = secrets.record(t.clone(), *exp);
            revoke_in_background(state, provider, username, dropped);
            changed = true;
        }
        changed
    }

    /// The session ended while the token was being minted: the token would outlive it unrevoked.
    fn orphaned(self, state: &Arc<Bridge>, provider: &str, username: &str) -> Response {
        if let Some(t) = self.token {
            revoke_in_background(state, provider, username, vec![t]);
        }
        error(StatusCode::UNAUTHORIZED, "no_session", "signed out")
    }
}

/// Mints a token at the provider with the session's secrets. `Err` carries the answer for the browser and
/// whether the session must end (the provider refused it).
async fn mint_token(
    state: &Arc<Bridge>,
    provider: &str,
    username: &str,
    secrets: &Secrets,
) -> Result<Minted, (Response, bool)> {
    let up = state.upstream(provider).map_err(|e| (upstream_error(e), false))?;
    let refresh_token = secrets.refresh_token.clone().unwrap_or_default();
    let result = match provider {
        "point" => {
            let auth = [("authorization", format!("Bearer {}", state.point_api_key()))];
            let p = path(&["users", &opaque_user_id(username), "access_token"]).unwrap();
            up.call(Method::POST, &p, &auth, None).await
        }
        "pointservices" => {
            let body = json!({"refresh_token": refresh_token});
            up.call(Method::POST, "/user-management-services-ws/oauth2/002/refreshIdToken", &[], Some(&body)).await
        }
        "wazo" => {
            let body = json!({"expiration": state.wazo_lifetime(), "client_id": state.wazo_client_id(), "refresh_token": refresh_token});
            up.call(Method::POST, "/api/auth/0.1/token", &[], Some(&body)).await
        }
        _ => Ok((
            StatusCode::OK,
            json!({"token": secrets.airfocus.as_ref().map(|a| a.1.clone()).unwrap_or_default(), "scopes": ["workspace:read", "item:read"]}),
        )),
    };
    match result {
        Ok((s, mut v)) if s.is_success() => {
            let refresh_token = v["refresh_token"].as_str().or(v["data"]["refresh_token"].as_str()).map(str::to_owned);
            let token = minted_token(provider, &v);
            // The browser never receives a refresh token.
            if let Some(o) = v.as_object_mut() {
                o.remove("refresh_token");
            }
            if let Some(d) = v.get_mut("data").and_then(Value::as_object_mut) {
                d.remove("refresh_token");
            }
            let mut response = Json(v).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
            Ok(Minted { response, token, refresh_token })
        }
        Ok((s, _)) => Err((upstream_status(s), s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN)),
        Err(e) => Err((upstream_error(e), false)),
    }
}

/// `DELETE /auth/{provider}/token`: ends the session, revoking upstream every token it minted (a token the
/// browser presents is ignored: it decides nothing).
async fn revoke(State(state): State<Arc<Bridge>>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    detached(revoke_detached(state, provider, headers)).await
}

async fn revoke_detached(state: Arc<Bridge>, provider: String, headers: HeaderMap) -> Response {
    let id = match session_for(&state, &headers, &provider).await {
        Ok(id) => id,
        // Already signed out: nothing left to revoke here.
        Err(r) if r.status() == StatusCode::UNAUTHORIZED => return StatusCode::NO_CONTENT.into_response(),
        Err(r) => return r,
    };
    let removed = match state.store.remove(&id).await {
        Ok(s) => s.map(|s| (id, s)),
        Err(e) => return store_failed(e),
    };
    let outcome = end_all(&state, removed.into_iter().collect()).await;
    signed_out(&state, outcome)
}

/// A fresh CSRF token for a browser that has none.
pub fn new_csrf() -> String {
    random_hex(16)
}
