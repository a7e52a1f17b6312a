//! The bridging backend authbridge talks to: a demo sign-in that sets an `HttpOnly` session cookie, and per
//! provider `POST /auth/{provider}/token` (mint or refresh with server-held secrets only) and
//! `DELETE /auth/{provider}/token` (revoke upstream, end the session).
//!
//! What never leaves this server: the Point apiKey, passwords, pointservices and Wazo refresh tokens, and the
//! airfocus account credentials. Responses are the provider's own, minus any refresh token.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::crypto::{constant_time_eq, opaque_user_id, random_hex};
use crate::upstream::UpstreamError;
use crate::{json_body, providers, AppState};

pub const PROVIDERS: [&str; 4] = ["point", "pointservices", "airfocus", "wazo"];
pub const SESSION_COOKIE: &str = "authbridge_session";
pub const CSRF_COOKIE: &str = "authbridge_csrf";
const WAZO_CLIENT_ID: &str = "authbridge-demo";

/// A signed-in user's server-side state. Its secrets never go to the browser.
pub struct Session {
    pub provider: String,
    pub username: String,
    pub csrf: String,
    /// pointservices or Wazo refresh token.
    refresh_token: Option<String>,
    /// airfocus: the key's id, its token, and the account credentials (to delete it at sign-out).
    airfocus: Option<(String, String, String)>,
}

impl Session {
    /// The server-held refresh token, for the test hook that expires it.
    pub fn refresh_token_for_tests(&self) -> Option<String> {
        self.refresh_token.clone()
    }
}

#[derive(Default)]
pub struct Sessions(pub HashMap<String, Session>);

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Double-submit CSRF check: the `X-CSRF-Token` header must equal the CSRF cookie (which only this origin's
/// scripts can read), and a cross-site `Origin` is refused outright.
fn csrf_ok(state: &AppState, headers: &HeaderMap) -> bool {
    if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        let origin = origin.to_str().unwrap_or("");
        let host = host.to_str().unwrap_or("");
        if origin.split_once("://").map(|(_, h)| h) != Some(host)
            && !state.cfg.allowed_origins.iter().any(|o| o == origin)
        {
            return false;
        }
    }
    match (headers.get("x-csrf-token").and_then(|v| v.to_str().ok()), cookie(headers, CSRF_COOKIE)) {
        (Some(h), Some(c)) => !h.is_empty() && constant_time_eq(h.as_bytes(), c.as_bytes()),
        _ => false,
    }
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    let secure = if state.cfg.secure_cookies { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

pub fn csrf_cookie(state: &AppState, value: &str) -> String {
    let secure = if state.cfg.secure_cookies { "; Secure" } else { "" };
    format!("{CSRF_COOKIE}={value}; Path=/; SameSite=Strict{secure}")
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/session", post(sign_in).delete(end_session))
        .route("/auth/{provider}/token", post(token).delete(revoke))
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
async fn sign_in(State(state): State<Arc<AppState>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !csrf_ok(&state, &headers) {
        return error(StatusCode::FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token");
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
            match up.call(Method::POST, &format!("/users/{}", opaque_user_id(username)), &auth, None).await {
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
    let csrf = cookie(&headers, CSRF_COOKIE).unwrap_or_default();
    let session =
        Session { provider: provider.to_owned(), username: username.to_owned(), csrf, refresh_token, airfocus };
    state.sessions.lock().unwrap().0.insert(id.clone(), session);
    let mut resp = Json(json!({"signedIn": true, "provider": provider})).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &id, 86_400).parse().unwrap());
    resp
}

async fn end_session(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !csrf_ok(&state, &headers) {
        return error(StatusCode::FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token");
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        state.sessions.lock().unwrap().0.remove(&id);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", 0).parse().unwrap());
    resp
}

/// The session for this request, checked against the provider in the path and the CSRF token.
fn session_for(state: &AppState, headers: &HeaderMap, provider: &str) -> Result<String, Response> {
    if !csrf_ok(state, headers) {
        return Err(error(StatusCode::FORBIDDEN, "csrf", "missing or wrong X-CSRF-Token"));
    }
    let id = cookie(headers, SESSION_COOKIE)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "no_session", "sign in first"))?;
    let sessions = state.sessions.lock().unwrap();
    match sessions.0.get(&id) {
        Some(s)
            if s.provider == provider
                && constant_time_eq(s.csrf.as_bytes(), cookie(headers, CSRF_COOKIE).unwrap_or_default().as_bytes()) =>
        {
            Ok(id)
        }
        Some(s) if s.provider != provider => {
            Err(error(StatusCode::UNAUTHORIZED, "no_session", "signed in with another provider"))
        }
        _ => Err(error(StatusCode::UNAUTHORIZED, "no_session", "sign in first")),
    }
}

/// `POST /auth/{provider}/token`: a fresh access token, minted with server-held secrets only.
async fn token(State(state): State<Arc<AppState>>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    let id = match session_for(&state, &headers, &provider) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let (username, refresh_token, airfocus) = {
        let sessions = state.sessions.lock().unwrap();
        let s = &sessions.0[&id];
        (s.username.clone(), s.refresh_token.clone(), s.airfocus.as_ref().map(|a| a.1.clone()))
    };
    let up = &state.upstream;
    let result = match provider.as_str() {
        "point" => {
            let auth = [("authorization", format!("Bearer {}", state.cfg.point_api_key))];
            up.call(Method::POST, &format!("/users/{}/access_token", opaque_user_id(&username)), &auth, None).await
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
                state.sessions.lock().unwrap().0.remove(&id);
            }
            upstream_status(s)
        }
        Err(e) => upstream_error(e),
    }
}

fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(t) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        return Some(t.to_owned());
    }
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ").map(str::to_owned)
}

/// `DELETE /auth/{provider}/token`: revokes the presented access token upstream (where the provider can),
/// forgets the refresh token, and ends the session.
async fn revoke(State(state): State<Arc<AppState>>, Path(provider): Path<String>, headers: HeaderMap) -> Response {
    let id = match session_for(&state, &headers, &provider) {
        Ok(id) => id,
        // Already signed out: nothing left to revoke here.
        Err(resp) if resp.status() == StatusCode::UNAUTHORIZED => return StatusCode::NO_CONTENT.into_response(),
        Err(resp) => return resp,
    };
    let Some(session) = state.sessions.lock().unwrap().0.remove(&id) else {
        return StatusCode::NO_CONTENT.into_response();
    };
    let up = &state.upstream;
    let token = presented_token(&headers);
    let outcome = match provider.as_str() {
        "point" => match token {
            Some(t) => {
                let auth = [("authorization", format!("Bearer {}", state.cfg.point_api_key))];
                up.call(
                    Method::DELETE,
                    &format!("/users/{}/access_token/{t}", opaque_user_id(&session.username)),
                    &auth,
                    None,
                )
                .await
                .map(|_| ())
            }
            None => Ok(()),
        },
        "wazo" => {
            if let Some(r) = &session.refresh_token {
                providers::wazo_forget_refresh(&state, r);
            }
            match token {
                Some(t) => up.call(Method::DELETE, &format!("/api/auth/0.1/token/{t}"), &[], None).await.map(|_| ()),
                None => Ok(()),
            }
        }
        "airfocus" => match &session.airfocus {
            Some((key_id, _, auth)) => up
                .call(Method::DELETE, &format!("/airfocus/api-keys/{key_id}"), &[("authorization", auth.clone())], None)
                .await
                .map(|_| ()),
            None => Ok(()),
        },
        // pointservices documents no revocation: the refresh token is forgotten, the access token expires.
        _ => Ok(()),
    };
    let mut resp = match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => upstream_error(e),
    };
    resp.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, "", 0).parse().unwrap());
    resp
}

/// A fresh CSRF token for a browser that has none.
pub fn new_csrf() -> String {
    random_hex(16)
}
