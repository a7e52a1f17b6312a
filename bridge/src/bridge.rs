//! The bridging backend authbridge talks to: a demo sign-in that sets an `HttpOnly` session cookie, and per
//! provider `POST /auth/{provider}/token` (mint or refresh with server-held secrets only) and
//! `DELETE /auth/{provider}/token` (revoke upstream every token the session minted, end the session).
//!
//! What never leaves this server: the Point apiKey, passwords, pointservices and Wazo refresh tokens, and the
//! airfocus account credentials. Responses are the provider's own, minus any refresh token.
//!
//! Sessions end at sign-out, after `session_idle` without a bridge call, `session_max` after sign-in, or when
//! the table is full (least recently used first); however they end, their tokens are revoked upstream.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::{json, Value};

use crate::crypto::{constant_time_eq, opaque_user_id, random_hex};
use crate::upstream::{path, UpstreamError};
use crate::{eastern, json_body, now_s, providers, AppState, Config};

pub const PROVIDERS: [&str; 4] = ["point", "pointservices", "airfocus", "wazo"];
pub const SESSION_COOKIE: &str = "authbridge_session";
pub const CSRF_COOKIE: &str = "authbridge_csrf";
const WAZO_CLIENT_ID: &str = "authbridge-demo";
/// Live tokens remembered per session. A client refreshing before expiry holds one or two; beyond this the
/// oldest is revoked at once rather than forgotten, so the list stays bounded.
const MAX_MINTED: usize = 32;

/// A signed-in user's server-side state. Its secrets never go to the browser.
pub struct Session {
    pub provider: String,
    pub username: String,
    /// pointservices or Wazo refresh token.
    refresh_token: Option<String>,
    /// airfocus: the key's id, its token, and the account credentials (to delete it at sign-out).
    airfocus: Option<(String, String, String)>,
    /// Point and Wazo access tokens this session minted, with their expiry (Unix s). Sign-out revokes these,
    /// never what the browser presents: a presented token could be anyone's, or a crafted path.
    minted: Vec<(String, i64)>,
    created: Instant,
    last_used: Instant,
}

impl Session {
    fn expired(&self, cfg: &Config, now: Instant) -> bool {
        now.duration_since(self.last_used) >= cfg.session_idle || now.duration_since(self.created) >= cfg.session_max
    }

    /// Remembers a minted token; returns the live ones dropped to keep the list bounded (to revoke).
    fn record(&mut self, token: String, expires: i64) -> Vec<(String, i64)> {
        let now = now_s();
        self.minted.retain(|(_, exp)| *exp > now);
        self.minted.push((token, expires));
        let over = self.minted.len().saturating_sub(MAX_MINTED);
        self.minted.drain(..over).collect()
    }
}

#[derive(Default)]
pub struct Sessions(HashMap<String, Session>);

impl Sessions {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The server-held refresh tokens, for the test hook that expires them.
    pub fn refresh_tokens_for_tests(&self) -> Vec<String> {
        self.0.values().filter_map(|s| s.refresh_token.clone()).collect()
    }

    /// Removes and returns the expired sessions (a scan: it runs at sign-in and once a minute).
    fn sweep(&mut self, cfg: &Config, now: Instant) -> Vec<Session> {
        let ids: Vec<String> = self.0.iter().filter(|(_, s)| s.expired(cfg, now)).map(|(id, _)| id.clone()).collect();
        ids.iter().filter_map(|id| self.0.remove(id)).collect()
    }

    /// Adds a session after sweeping the expired ones and, if the table is still full, ending the least
    /// recently used. Returns the sessions removed, to be ended upstream.
    fn insert(&mut self, id: String, session: Session, cfg: &Config) -> Vec<Session> {
        let mut ended = self.sweep(cfg, Instant::now());
        while self.0.len() >= cfg.max_sessions.max(1) {
            let Some(lru) = self.0.iter().min_by_key(|(_, s)| s.last_used).map(|(id, _)| id.clone()) else { break };
            ended.extend(self.0.remove(&lru));
        }
        self.0.insert(id, session);
        ended
    }
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
        Self {
            per_user: RateLimiter::keyed(quota(per_user)),
            per_address: RateLimiter::keyed(quota(per_address)),
        }
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

/// Ends expired sessions upstream (the periodic sweep; sign-in sweeps too).
pub fn sweep(state: &Arc<AppState>) {
    let ended = state.sessions.lock().unwrap().sweep(&state.cfg, Instant::now());
    end_in_background(state, ended);
}

/// Ends sessions upstream without making a request wait for it.
fn end_in_background(state: &Arc<AppState>, ended: Vec<Session>) {
    if ended.is_empty() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        for s in ended {
            let _ = end_session_upstream(&state, s).await;
        }
    });
}

/// Ends a session at its provider: revokes every live access token it minted (Point, Wazo), deletes the
/// airfocus key; refresh tokens are dropped with the session (pointservices documents no revocation). Shared
/// by sign-out, `DELETE /session`, expiry and eviction. Stops at the first provider that cannot be reached.
pub async fn end_session_upstream(state: &AppState, session: Session) -> Result<(), UpstreamError> {
    if let (Some(r), "wazo") = (&session.refresh_token, session.provider.as_str()) {
        providers::wazo_forget_refresh(state, r);
    }
    if let Some((key_id, _, auth)) = &session.airfocus {
        if let Some(p) = path(&["airfocus", "api-keys", key_id]) {
            state.upstream.call(Method::DELETE, &p, &[("authorization", auth.clone())], None).await?;
        }
    }
    revoke_tokens(state, &session.provider, &session.username, &session.minted).await
}

async fn revoke_tokens(
    state: &AppState,
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
                vec![("authorization", format!("Bearer {}", state.cfg.point_api_key))],
            ),
            "wazo" => (path(&["api", "auth", "0.1", "token", token]), vec![]),
            _ => continue,
        };
        if let Some(p) = p {
            state.upstream.call(Method::DELETE, &p, &auth, None).await?;
        }
    }
    Ok(())
}

fn revoke_in_background(state: &Arc<AppState>, provider: &str, username: &str, tokens: Vec<(String, i64)>) {
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
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |a: usize, z: usize| s.get(a..z)?.parse::<i64>().ok();
    let days = eastern::days_from_civil(n(0, 4)?, n(5, 7)?, n(8, 10)?);
    Some(days * 86_400 + n(11, 13)? * 3600 + n(14, 16)? * 60 + n(17, 19)?)
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
fn csrf_check(state: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
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
fn foreign_origin(state: &AppState, headers: &HeaderMap) -> Option<(String, String)> {
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
pub fn may_set_csrf_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    let allowed_origin = headers
        .get(header::ORIGIN)
        .is_some_and(|o| state.cfg.allowed_origins.iter().any(|a| a.as_bytes() == o.as_bytes()));
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    (allowed_origin || !cross_site) && foreign_origin(state, headers).is_none()
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.cfg.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

/// The CSRF cookie. `SameSite=Lax`, unlike the session cookie: it authenticates nothing by itself (a call
/// needs it echoed in a header, which only this site's scripts can read), and a top-level link from another
/// site then carries it, so the answer to that link never finds it "missing" and replaces it.
pub fn csrf_cookie(state: &AppState, value: &str) -> String {
    let secure = if state.cfg.secure_cookies { "; Secure" } else { "" };
    format!("{CSRF_COOKIE}={value}; Path=/; SameSite=Lax{secure}")
}

pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/session", post(sign_in).delete(end_session))
        .route("/sessions", axum::routing::delete(end_all_sessions))
        .route("/auth/{provider}/token", post(token).delete(revoke))
        .route("/csrf", get(csrf_token))
        .layer(middleware::from_fn_with_state(state, cors))
}

/// CORS for the origins of `--allow-origin` only: the origin itself (never `*`) with credentials, and a 204
/// preflight. Any other preflight is refused without CORS headers, so the browser blocks the call.
async fn cors(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
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
async fn csrf_token(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
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
    State(state): State<Arc<AppState>>,
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
    if !PROVIDERS.contains(&provider) {
        return error(
            StatusCode::NOT_FOUND,
            "unknown_provider",
            "provider must be point, pointservices, airfocus or wazo",
        );
    }
    if let Err(wait) = state.sign_in_limits.check(peer.map(|Extension(ConnectInfo(a))| a.ip()), provider, username) {
        let mut resp = error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many sign-in attempts: wait");
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        return resp;
    }
    let up = &state.upstream;
    let mut refresh_token = None;
    let mut airfocus = None;
    match provider {
        "point" => {
            // The bridge's own user check; Point knows users only by the opaque id the bridge gives them.
            if !state.check_password(username, password) {
                return error(StatusCode::UNAUTHORIZED, "invalid_credentials", "invalid username or password");
            }
            let auth = [("authorization", format!("Bearer {}", state.cfg.point_api_key))];
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
            let req =
                json!({"client_id": WAZO_CLIENT_ID, "access_type": "offline", "expiration": state.cfg.token_lifetime});
            match up.call(Method::POST, "/api/auth/0.1/token", &auth, Some(&req)).await {
                Ok((s, v)) if s.is_success() => refresh_token = v["data"]["refresh_token"].as_str().map(str::to_owned),
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
                    airfocus = Some((id.to_owned(), token.to_owned(), basic_auth(username, password)));
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
    let now = Instant::now();
    let session = Session {
        provider: provider.to_owned(),
        username: username.to_owned(),
        refresh_token,
        airfocus,
        minted: Vec::new(),
        created: now,
        last_used: now,
    };
    let ended = state.sessions.lock().unwrap().insert(id.clone(), session, &state.cfg);
    end_in_background(&state, ended);
    let mut resp = Json(json!({"signedIn": true, "provider": provider})).into_response();
    let max_age = state.cfg.session_max.as_secs() as i64;
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &id, max_age).parse().unwrap());
    resp
}

/// The answer to a sign-out: the session cookie cleared whatever the provider said.
fn signed_out(state: &AppState, outcome: Result<(), UpstreamError>) -> Response {
    let mut resp = match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => upstream_error(e),
    };
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(state, "", 0).parse().unwrap());
    resp
}

/// `DELETE /session`: ends the session, upstream too.
async fn end_session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = csrf_check(&state, &headers) {
        return refused(r);
    }
    let session = cookie(&headers, SESSION_COOKIE).and_then(|id| state.sessions.lock().unwrap().0.remove(&id));
    let outcome = match session {
        Some(s) => end_session_upstream(&state, s).await,
        None => Ok(()),
    };
    signed_out(&state, outcome)
}

/// `DELETE /sessions`: ends every session of this session's user (same provider and user name), on every
/// device, upstream too. Each tab learns it through the client's normal path: its next token call is refused
/// (401) and it signs out.
async fn end_all_sessions(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(r) = csrf_check(&state, &headers) {
        return refused(r);
    }
    let ended: Vec<Session> = {
        let mut sessions = state.sessions.lock().unwrap();
        let Some(me) = cookie(&headers, SESSION_COOKIE).and_then(|id| sessions.0.get(&id)) else {
            return error(StatusCode::UNAUTHORIZED, "no_session", "sign in first");
        };
        let user = (me.provider.clone(), me.username.clone());
        let ids: Vec<String> = sessions
            .0
            .iter()
            .filter(|(_, s)| s.provider == user.0 && s.username == user.1)
            .map(|(id, _)| id.clone())
            .collect();
        ids.iter().filter_map(|id| sessions.0.remove(id)).collect()
    };
    let mut outcome = Ok(());
    for s in ended {
        // Every session is ended upstream even if one provider call fails; the first failure is reported.
        let r = end_session_upstream(&state, s).await;
        if outcome.is_ok() {
            outcome = r;
        }
    }
    signed_out(&state, outcome)
}

/// The session for this request, checked against the provider in the path and the CSRF token, and marked
/// used. An expired one is refused, and ended upstream.
fn session_for(state: &Arc<AppState>, headers: &HeaderMap, provider: &str) -> Result<String, Refusal> {
    csrf_check(state, headers)?;
    let no_session = |m: &str| (StatusCode::UNAUTHORIZED, "no_session", m.to_owned());
    let id = cookie(headers, SESSION_COOKIE).ok_or_else(|| no_session("sign in first"))?;
    let now = Instant::now();
    let mut sessions = state.sessions.lock().unwrap();
    let Some(s) = sessions.0.get_mut(&id) else { return Err(no_session("sign in first")) };
    if s.expired(&state.cfg, now) {
        let ended = sessions.0.remove(&id).into_iter().collect();
        drop(sessions);
        end_in_background(state, ended);
        return Err(no_session("the session expired: sign in again"));
    }
    if s.provider != provider {
        return Err(no_session("signed in with another provider"));
    }
    s.last_used = now;
    Ok(id)
}

/// `POST /auth/{provider}/token`: a fresh access token, minted with server-held secrets only.
async fn token(State(state): State<Arc<AppState>>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    let id = match session_for(&state, &headers, &provider) {
        Ok(id) => id,
        Err(r) => return refused(r),
    };
    let found = state
        .sessions
        .lock()
        .unwrap()
        .0
        .get(&id)
        .map(|s| (s.username.clone(), s.refresh_token.clone(), s.airfocus.as_ref().map(|a| a.1.clone())));
    // A sign-out may have ended the session since `session_for`.
    let Some((username, refresh_token, airfocus)) = found else {
        return error(StatusCode::UNAUTHORIZED, "no_session", "signed out");
    };
    let up = &state.upstream;
    let result = match provider.as_str() {
        "point" => {
            let auth = [("authorization", format!("Bearer {}", state.cfg.point_api_key))];
            let p = path(&["users", &opaque_user_id(&username), "access_token"]).unwrap();
            up.call(Method::POST, &p, &auth, None).await
        }
        "pointservices" => {
            let body = json!({"refresh_token": refresh_token.unwrap_or_default()});
            up.call(Method::POST, "/user-management-services-ws/oauth2/002/refreshIdToken", &[], Some(&body)).await
        }
        "wazo" => {
            let body = json!({"expiration": state.cfg.token_lifetime, "client_id": WAZO_CLIENT_ID, "refresh_token": refresh_token.unwrap_or_default()});
            up.call(Method::POST, "/api/auth/0.1/token", &[], Some(&body)).await
        }
        _ => Ok((
            StatusCode::OK,
            json!({"token": airfocus.unwrap_or_default(), "scopes": ["workspace:read", "item:read"]}),
        )),
    };
    match result {
        Ok((s, mut v)) if s.is_success() => {
            if let Some((t, exp)) = minted_token(&provider, &v) {
                let recorded = state.sessions.lock().unwrap().0.get_mut(&id).map(|s| s.record(t.clone(), exp));
                match recorded {
                    Some(dropped) => revoke_in_background(&state, &provider, &username, dropped),
                    // Signed out while this token was being minted: it would outlive the session unrevoked.
                    None => {
                        revoke_in_background(&state, &provider, &username, vec![(t, exp)]);
                        return error(StatusCode::UNAUTHORIZED, "no_session", "signed out");
                    }
                }
            }
            // The browser never receives a refresh token.
            if let Some(o) = v.as_object_mut() {
                o.remove("refresh_token");
            }
            if let Some(d) = v.get_mut("data").and_then(Value::as_object_mut) {
                d.remove("refresh_token");
            }
            let mut resp = Json(v).into_response();
            resp.headers_mut().insert(header::CACHE_CONTROL, "no-store".parse().unwrap());
            resp
        }
        Ok((s, _)) => {
            if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN {
                let ended = state.sessions.lock().unwrap().0.remove(&id).into_iter().collect();
                end_in_background(&state, ended);
            }
            upstream_status(s)
        }
        Err(e) => upstream_error(e),
    }
}

/// `DELETE /auth/{provider}/token`: ends the session, revoking upstream every token it minted (a token the
/// browser presents is ignored: it decides nothing).
async fn revoke(State(state): State<Arc<AppState>>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    let id = match session_for(&state, &headers, &provider) {
        Ok(id) => id,
        // Already signed out: nothing left to revoke here.
        Err((StatusCode::UNAUTHORIZED, _, _)) => return StatusCode::NO_CONTENT.into_response(),
        Err(r) => return refused(r),
    };
    let session = state.sessions.lock().unwrap().0.remove(&id);
    let outcome = match session {
        Some(s) => end_session_upstream(&state, s).await,
        None => Ok(()),
    };
    signed_out(&state, outcome)
}

/// A fresh CSRF token for a browser that has none.
pub fn new_csrf() -> String {
    random_hex(16)
}
