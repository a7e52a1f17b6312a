//! Mock upstream providers, each following its seed document: paths, methods, headers, bodies, shapes.
//!
//! - Point Database (seed 000): user creation and user access tokens minted with the customer's apiKey.
//! - pointservices (seeds 001/003): password sign-in and refresh tokens that expire at midnight Eastern. Unlike
//!   the seed, which reuses one refresh token all day, the mock rotates them and revokes the whole family when a
//!   spent one comes back, as rotating providers do: a bridge that redeems a token twice is caught.
//! - airfocus (seed 002): static personal access tokens with scopes, deletable.
//! - Wazo (seed 004): tokens by basic auth, offline refresh tokens bound to a `client_id`, `X-Auth-Token`.
//!
//! Each also has a protected `GET /api/{provider}/me` that checks signature, expiry and revocation.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::crypto::{constant_time_eq, opaque_user_id, random_hex, sign_hs256, verify_hs256};
use crate::{eastern, json_body, now_s};

/// What the mock providers remember.
#[derive(Default)]
pub struct MockState {
    point_users: HashSet<String>,
    point_revoked: HashSet<String>,
    /// pointservices refresh token → (username, expiry in Unix seconds, family, spent). A refresh spends the
    /// token and issues the next of its family.
    ps_refresh: HashMap<String, (String, i64, String, bool)>,
    /// Spent pointservices refresh tokens presented again: each revoked its whole family.
    pub ps_reuse_detected: u64,
    /// airfocus key id → (token, username, scopes).
    airfocus_keys: HashMap<String, (String, String, Vec<String>)>,
    /// Wazo access token → (username, expiry).
    wazo_tokens: HashMap<String, (String, i64)>,
    /// Wazo refresh token → (username, client_id).
    wazo_refresh: HashMap<String, (String, String)>,
    /// Token-endpoint calls per provider, for tests and the demo.
    pub token_calls: HashMap<&'static str, u64>,
    /// Every refresh token ever issued, so that tests can prove none reached the browser.
    pub issued_refresh_tokens: Vec<String>,
    /// Path and query of every Point and Wazo revocation call, so that tests see what the bridge sent.
    pub revoke_uris: Vec<String>,
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn unauthorized(message: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, b64) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

fn count(state: &MockProviders, provider: &'static str) {
    *state.state.lock().unwrap().token_calls.entry(provider).or_default() += 1;
}

/// How the mock providers behave.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Access-token lifetime in seconds for pointservices, and Wazo's default.
    pub token_lifetime: i64,
    /// Point access-token lifetime in seconds (the seed's default is 86400).
    pub point_lifetime: i64,
    /// The Point apiKey the mock accepts.
    pub point_api_key: String,
    /// The accounts of pointservices, airfocus and Wazo, as (username, password).
    pub users: Vec<(String, String)>,
}

/// The mock providers: their configuration, signing key, memory and injected faults.
pub struct MockProviders {
    /// How they behave.
    pub cfg: MockConfig,
    /// HS256 key of the mock providers' JWTs.
    pub secret: Vec<u8>,
    /// What they remember (accounts, tokens, counters for the tests).
    pub state: Mutex<MockState>,
    /// Injected faults per provider token endpoint: (status or 0 for "answer normally", remaining count, delay).
    faults: Mutex<HashMap<String, (u16, u32, u64)>>,
}

impl MockProviders {
    /// Fresh mock providers with a random signing key.
    pub fn new(cfg: MockConfig) -> Arc<Self> {
        Arc::new(Self { cfg, secret: random_hex(32).into_bytes(), state: Mutex::default(), faults: Mutex::default() })
    }

    /// Whether `user` has password `pass` here (constant time per password).
    pub fn check_password(&self, user: &str, pass: &str) -> bool {
        self.cfg.users.iter().any(|(u, p)| u == user && constant_time_eq(p.as_bytes(), pass.as_bytes()))
    }

    /// Makes the next `count` token calls to `provider` fail with `status` after `delay_ms` (status 0: they
    /// succeed, after the delay).
    pub fn inject_fault(&self, provider: &str, status: u16, count: u32, delay_ms: u64) {
        self.faults.lock().unwrap().insert(provider.to_owned(), (status, count, delay_ms));
    }

    /// An injected failure for `provider`'s token endpoint, if one is pending.
    async fn fault(&self, provider: &str) -> Option<Response> {
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

    /// Every route of the four mock providers, at their documented paths.
    pub fn router(self: &Arc<Self>) -> Router {
        routes().layer(middleware::from_fn(no_store)).with_state(self.clone())
    }
}

/// Provider answers carry tokens: never cached.
async fn no_store(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    resp
}

fn routes() -> Router<Arc<MockProviders>> {
    Router::new()
        // Point Database
        .route("/users/{user_id}", post(point_create_user))
        .route("/users/{user_id}/access_token", post(point_access_token))
        .route("/users/{user_id}/access_token/{token}", delete(point_revoke))
        .route("/api/point/me", get(point_me))
        // pointservices
        .route("/user-management-services-ws/oauth2/002/signInWithPassword", post(ps_sign_in))
        .route("/user-management-services-ws/oauth2/002/refreshIdToken", post(ps_refresh))
        .route("/api/pointservices/me", get(ps_me))
        // airfocus (the key dialog of the app, as an API)
        .route("/airfocus/api-keys", post(airfocus_create_key))
        .route("/airfocus/api-keys/{id}", delete(airfocus_delete_key))
        .route("/api/airfocus/me", get(airfocus_me))
        // Wazo
        .route("/api/auth/0.1/token", post(wazo_token))
        .route("/api/auth/0.1/token/{token}", delete(wazo_revoke))
        .route("/api/auth/0.1/users/{user_uuid}/tokens/{client_id}", delete(wazo_delete_refresh))
        .route("/api/wazo/me", get(wazo_me))
}

// ---- Point Database ----

fn point_api_key_ok(state: &MockProviders, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|k| constant_time_eq(k.as_bytes(), state.cfg.point_api_key.as_bytes()))
}

async fn point_create_user(
    State(state): State<Arc<MockProviders>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !point_api_key_ok(&state, &headers) {
        return unauthorized("invalid apiKey");
    }
    state.state.lock().unwrap().point_users.insert(user_id.clone());
    Json(json!({"user": {
        "id": user_id, "email": null, "birthday": null, "height": null, "weight": null, "gender": null,
        "pronoun": null, "expectation": null, "firstName": null, "timezone": null
    }}))
    .into_response()
}

async fn point_access_token(
    State(state): State<Arc<MockProviders>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    count(&state, "point");
    if let Some(resp) = state.fault("point").await {
        return resp;
    }
    if !point_api_key_ok(&state, &headers) {
        return unauthorized("invalid apiKey");
    }
    if !state.state.lock().unwrap().point_users.contains(&user_id) {
        return error(StatusCode::NOT_FOUND, "user_not_found", "create the user first");
    }
    let iat = now_s();
    let life = state.cfg.point_lifetime;
    let token = sign_hs256(
        &state.secret,
        &json!({"sub": format!("point|{user_id}"), "iat": iat, "exp": iat + life, "jti": random_hex(8)}),
    );
    Json(json!({"accessToken": {"token": format!("Bearer {token}"), "expiresIn": life}})).into_response()
}

async fn point_revoke(
    State(state): State<Arc<MockProviders>>,
    Path((_user_id, token)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    state.state.lock().unwrap().revoke_uris.push(uri.to_string());
    if !point_api_key_ok(&state, &headers) {
        return unauthorized("invalid apiKey");
    }
    let token = token.strip_prefix("Bearer ").unwrap_or(&token).to_owned();
    state.state.lock().unwrap().point_revoked.insert(token);
    StatusCode::NO_CONTENT.into_response()
}

async fn point_me(State(state): State<Arc<MockProviders>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized("missing bearer token");
    };
    if state.state.lock().unwrap().point_revoked.contains(token) {
        return unauthorized("token revoked");
    }
    match verify_hs256(&state.secret, token, now_s()) {
        Ok(claims) if claims["sub"].as_str().is_some_and(|s| s.starts_with("point|")) => {
            Json(json!({"provider": "point", "sub": claims["sub"], "exp": claims["exp"], "jti": claims["jti"]}))
                .into_response()
        }
        Ok(_) => unauthorized("not a Point token"),
        Err(e) => unauthorized(&format!("{e:?}").to_lowercase()),
    }
}

// ---- pointservices ----

async fn ps_sign_in(State(state): State<Arc<MockProviders>>, body: axum::body::Bytes) -> Response {
    count(&state, "pointservices");
    let Some(body) = json_body(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "JSON body required");
    };
    let (Some(user), Some(pass)) = (body["username"].as_str(), body["password"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "username and password required");
    };
    if !state.check_password(user, pass) {
        return unauthorized("invalid username or password");
    }
    let refresh = format!("AMf-{}", random_hex(24));
    let now = now_s();
    let mut mock = state.state.lock().unwrap();
    let family = random_hex(8);
    mock.ps_refresh.insert(refresh.clone(), (user.to_owned(), eastern::refresh_token_expiry(now), family, false));
    mock.issued_refresh_tokens.push(refresh.clone());
    drop(mock);
    Json(ps_tokens(&state, user, Some(&refresh))).into_response()
}

fn ps_tokens(state: &MockProviders, user: &str, refresh: Option<&str>) -> Value {
    let iat = now_s();
    let life = state.cfg.token_lifetime;
    let uid = opaque_user_id(user);
    let access = sign_hs256(
        &state.secret,
        &json!({
            "aud": "test-tenant", "sub": format!("xpps|{uid}"), "email_verified": true, "user_id": uid,
            "auth_time": iat, "iss": "https://securetoken.google.com/test-tenant", "exp": iat + life, "iat": iat,
            "email": format!("{user}@tenant.example"),
        }),
    );
    let mut out = json!({"access_token": access, "expires_in": life});
    if let Some(r) = refresh {
        out["refresh_token"] = json!(r);
    }
    out
}

async fn ps_refresh(State(state): State<Arc<MockProviders>>, body: axum::body::Bytes) -> Response {
    count(&state, "pointservices");
    if let Some(resp) = state.fault("pointservices").await {
        return resp;
    }
    let parsed = json_body(&body);
    let Some(refresh) = parsed.as_ref().and_then(|b| b["refresh_token"].as_str()) else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token required");
    };
    let mut mock = state.state.lock().unwrap();
    let entry = mock.ps_refresh.get(refresh).cloned();
    match entry {
        // A spent token again: whoever holds the family may be a thief, so all of it is revoked, as rotating
        // providers do (OAuth 2.0 Security BCP, refresh token rotation).
        Some((_, _, family, true)) => {
            mock.ps_refresh.retain(|_, e| e.2 != family);
            mock.ps_reuse_detected += 1;
            unauthorized("refresh token reused: the session is revoked")
        }
        Some((user, exp, family, false)) if now_s() < exp => {
            // Rotation: this token is spent; the next one keeps the family's expiry (midnight Eastern still
            // ends the day's sign-in).
            mock.ps_refresh.get_mut(refresh).unwrap().3 = true;
            let next = format!("AMf-{}", random_hex(24));
            mock.ps_refresh.insert(next.clone(), (user.clone(), exp, family, false));
            mock.issued_refresh_tokens.push(next.clone());
            drop(mock);
            Json(ps_tokens(&state, &user, Some(&next))).into_response()
        }
        Some(_) => {
            mock.ps_refresh.remove(refresh);
            unauthorized("refresh token expired: sign in again")
        }
        None => unauthorized("unknown refresh token"),
    }
}

async fn ps_me(State(state): State<Arc<MockProviders>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized("missing bearer token");
    };
    match verify_hs256(&state.secret, token, now_s()) {
        Ok(c) if c["iss"].as_str().is_some_and(|i| i.contains("securetoken")) => {
            Json(json!({"provider": "pointservices", "sub": c["sub"], "email": c["email"], "exp": c["exp"]}))
                .into_response()
        }
        Ok(_) => unauthorized("not a pointservices token"),
        Err(e) => unauthorized(&format!("{e:?}").to_lowercase()),
    }
}

/// Test hook: expire a pointservices refresh token now (stands in for waiting until midnight Eastern).
pub fn expire_ps_refresh(state: &MockProviders, refresh: &str) {
    if let Some(e) = state.state.lock().unwrap().ps_refresh.get_mut(refresh) {
        e.1 = 0;
    }
}

// ---- airfocus ----

async fn airfocus_create_key(
    State(state): State<Arc<MockProviders>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    count(&state, "airfocus");
    let Some((user, pass)) = basic(&headers).filter(|(u, p)| state.check_password(u, p)) else {
        return unauthorized("invalid username or password");
    };
    let _ = pass;
    let scopes: Vec<String> = json_body(&body)
        .and_then(|b| b["scopes"].as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()))
        .unwrap_or_else(|| vec!["workspace:read".into()]);
    let id = random_hex(6);
    let token = format!("afp_{}", random_hex(20));
    state.state.lock().unwrap().airfocus_keys.insert(id.clone(), (token.clone(), user, scopes.clone()));
    Json(json!({"id": id, "token": token, "scopes": scopes})).into_response()
}

async fn airfocus_delete_key(
    State(state): State<Arc<MockProviders>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    // The owner's account (the app's "Delete" button), or the key itself: a key may always revoke itself, so
    // that whoever holds it need not keep the account's password to get rid of it.
    let account = basic(&headers).filter(|(u, p)| state.check_password(u, p)).map(|(u, _)| u);
    let key = bearer(&headers).map(str::to_owned);
    if account.is_none() && key.is_none() {
        return unauthorized("invalid username or password");
    }
    let mut mock = state.state.lock().unwrap();
    match mock.airfocus_keys.get(&id) {
        Some((token, owner, _))
            if account.as_ref() == Some(owner)
                || key.as_ref().is_some_and(|k| constant_time_eq(k.as_bytes(), token.as_bytes())) =>
        {
            mock.airfocus_keys.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such API key"),
    }
}

async fn airfocus_me(State(state): State<Arc<MockProviders>>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorized("missing bearer token");
    };
    let mock = state.state.lock().unwrap();
    match mock.airfocus_keys.values().find(|(t, _, _)| constant_time_eq(t.as_bytes(), token.as_bytes())) {
        Some((_, user, scopes)) => {
            Json(json!({"provider": "airfocus", "user": opaque_user_id(user), "scopes": scopes})).into_response()
        }
        None => unauthorized("unknown or deleted API key"),
    }
}

// ---- Wazo ----

/// Wazo's time format (`2024-05-01T12:00:00.000000`, UTC, no zone).
fn wazo_time(unix_s: i64) -> String {
    jiff::Timestamp::from_second(unix_s)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%dT%H:%M:%S.000000").to_string())
        .unwrap_or_default()
}

async fn wazo_token(State(state): State<Arc<MockProviders>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    count(&state, "wazo");
    if let Some(resp) = state.fault("wazo").await {
        return resp;
    }
    let body = json_body(&body).unwrap_or_else(|| json!({}));
    let expiration = body["expiration"].as_i64().unwrap_or(state.cfg.token_lifetime).clamp(1, 86_400 * 10);
    let client_id = body["client_id"].as_str();
    let user = if let Some(refresh) = body["refresh_token"].as_str() {
        let Some(client_id) = client_id else {
            return error(StatusCode::BAD_REQUEST, "invalid_request", "client_id required");
        };
        match state.state.lock().unwrap().wazo_refresh.get(refresh) {
            Some((user, bound)) if bound == client_id => user.clone(),
            _ => return unauthorized("invalid refresh token or client_id"),
        }
    } else {
        match basic(&headers).filter(|(u, p)| state.check_password(u, p)) {
            Some((user, _)) => user,
            None => return unauthorized("invalid username or password"),
        }
    };
    let token = uuid::Uuid::new_v4().to_string();
    let now = now_s();
    let mut mock = state.state.lock().unwrap();
    mock.wazo_tokens.insert(token.clone(), (user.clone(), now + expiration));
    let mut data = json!({
        "token": token, "expires_at": wazo_time(now + expiration), "utc_expires_at": wazo_time(now + expiration),
        "issued_at": wazo_time(now), "utc_issued_at": wazo_time(now), "auth_id": opaque_user_id(&user),
        "acl": ["confd.users.me.read"], "session_uuid": uuid::Uuid::new_v4().to_string(),
    });
    if body["access_type"] == "offline" && body["refresh_token"].is_null() {
        let Some(client_id) = client_id else {
            return error(StatusCode::BAD_REQUEST, "invalid_request", "client_id required");
        };
        let refresh = uuid::Uuid::new_v4().to_string();
        mock.wazo_refresh.insert(refresh.clone(), (user, client_id.to_owned()));
        mock.issued_refresh_tokens.push(refresh.clone());
        data["refresh_token"] = json!(refresh);
    }
    Json(json!({"data": data})).into_response()
}

async fn wazo_revoke(State(state): State<Arc<MockProviders>>, Path(token): Path<String>, uri: Uri) -> Response {
    let mut mock = state.state.lock().unwrap();
    mock.revoke_uris.push(uri.to_string());
    let removed = mock.wazo_tokens.remove(&token).is_some();
    if removed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(StatusCode::NOT_FOUND, "not_found", "no such token")
    }
}

/// `DELETE /api/auth/0.1/users/{user_uuid}/tokens/{client_id}` with the user's `X-Auth-Token`: deletes the
/// user's refresh tokens for that client (what the bridge does at sign-out).
async fn wazo_delete_refresh(
    State(state): State<Arc<MockProviders>>,
    Path((user_uuid, client_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut mock = state.state.lock().unwrap();
    let owner = match mock.wazo_tokens.get(token) {
        Some((user, exp)) if now_s() < *exp && opaque_user_id(user) == user_uuid => user.clone(),
        _ => return unauthorized("invalid token for this user"),
    };
    mock.wazo_refresh.retain(|_, (u, c)| !(*u == owner && *c == client_id));
    StatusCode::NO_CONTENT.into_response()
}

/// Deletes a Wazo refresh token (the test hook that stands in for an administrator deleting it).
pub fn wazo_forget_refresh(state: &MockProviders, refresh: &str) {
    state.state.lock().unwrap().wazo_refresh.remove(refresh);
}

async fn wazo_me(State(state): State<Arc<MockProviders>>, headers: HeaderMap) -> Response {
    let Some(token) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) else {
        return unauthorized("missing X-Auth-Token");
    };
    let mock = state.state.lock().unwrap();
    match mock.wazo_tokens.get(token) {
        Some((user, exp)) if now_s() < *exp => {
            Json(json!({"provider": "wazo", "auth_id": opaque_user_id(user), "expires_at": wazo_time(*exp)}))
                .into_response()
        }
        Some(_) => unauthorized("token expired"),
        // A refresh token is not an access token: always 401, as the seed says.
        None => unauthorized("invalid token"),
    }
}
