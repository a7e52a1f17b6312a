//! Server tests: every mock provider endpoint as its seed describes it, their failures, and the bridge's
//! sign-in, token and revoke routes — over real HTTP on 127.0.0.1.

use std::time::Duration;

use authbridge_bridge::{serve, Config};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

struct Server {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
    }
}

async fn start(cfg: Config) -> Server {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = Config { log_requests: false, test_hooks: true, ..cfg };
    let (url, _, _) = serve(cfg, "127.0.0.1:0", async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    Server { url, stop: Some(tx) }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

async fn call(url: &str, method: Method, headers: &[(&str, &str)], body: Option<Value>) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let resp = client.request(req.body(Full::new(bytes)).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Resp { status, headers, json: serde_json::from_slice(&body).unwrap_or(Value::Null) }
}

fn basic(u: &str, p: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{u}:{p}")))
}

const KEY: &str = "pk_test";

fn cfg() -> Config {
    Config { point_api_key: KEY.into(), token_lifetime: 60, point_lifetime: 86_400, ..Config::default() }
}

#[tokio::test]
async fn point_database_as_the_seed_describes() {
    let s = start(cfg()).await;
    let bearer = format!("Bearer {KEY}");
    let auth: &[(&str, &str)] = &[("authorization", &bearer), ("content-type", "application/json")];
    // Wrong or missing apiKey → 401.
    assert_eq!(
        call(&format!("{}/users/u1", s.url), Method::POST, &[("authorization", "Bearer nope")], None).await.status,
        401
    );
    assert_eq!(call(&format!("{}/users/u1", s.url), Method::POST, &[], None).await.status, 401);
    assert_eq!(
        call(&format!("{}/users/u1/access_token", s.url), Method::POST, &[("authorization", "Bearer nope")], None)
            .await
            .status,
        401
    );

    let user = call(&format!("{}/users/u1", s.url), Method::POST, auth, None).await;
    assert_eq!(user.status, 200);
    assert_eq!(user.json["user"]["id"], "u1");
    for field in ["email", "birthday", "height", "weight", "gender", "pronoun", "expectation", "firstName", "timezone"]
    {
        assert!(user.json["user"][field].is_null(), "{field}");
    }
    let tok = call(&format!("{}/users/u1/access_token", s.url), Method::POST, auth, None).await;
    assert_eq!(tok.status, 200);
    assert_eq!(tok.json["accessToken"]["expiresIn"], 86_400);
    let token = tok.json["accessToken"]["token"].as_str().unwrap();
    assert!(token.starts_with("Bearer eyJ"), "{token}");
    let jwt = token.trim_start_matches("Bearer ");

    let me = call(&format!("{}/api/point/me", s.url), Method::GET, &[("authorization", token)], None).await;
    assert_eq!((me.status, me.json["sub"].clone()), (StatusCode::OK, json!("point|u1")));
    // Tampered signature → 401.
    let tampered = format!("Bearer {}x", &jwt[..jwt.len() - 1]);
    assert_eq!(
        call(&format!("{}/api/point/me", s.url), Method::GET, &[("authorization", &tampered)], None).await.status,
        401
    );
    // Revoke → the token stops working.
    let del = call(&format!("{}/users/u1/access_token/{jwt}", s.url), Method::DELETE, auth, None).await;
    assert_eq!(del.status, 204);
    assert_eq!(
        call(&format!("{}/api/point/me", s.url), Method::GET, &[("authorization", token)], None).await.status,
        401
    );
    // Unknown user → 404.
    assert_eq!(call(&format!("{}/users/nobody/access_token", s.url), Method::POST, auth, None).await.status, 404);
}

#[tokio::test]
async fn point_tokens_expire() {
    let s = start(Config { point_lifetime: 1, ..cfg() }).await;
    let bearer = format!("Bearer {KEY}");
    call(&format!("{}/users/u2", s.url), Method::POST, &[("authorization", &bearer)], None).await;
    let tok =
        call(&format!("{}/users/u2/access_token", s.url), Method::POST, &[("authorization", &bearer)], None).await;
    let token = tok.json["accessToken"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&format!("{}/api/point/me", s.url), Method::GET, &[("authorization", &token)], None).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        call(&format!("{}/api/point/me", s.url), Method::GET, &[("authorization", &token)], None).await.status,
        401
    );
}

#[tokio::test]
async fn pointservices_sign_in_and_refresh() {
    let s = start(cfg()).await;
    let path = format!("{}/user-management-services-ws/oauth2/002", s.url);
    let bad = call(
        &format!("{path}/signInWithPassword"),
        Method::POST,
        &[("content-type", "application/json")],
        Some(json!({"username": "ada", "password": "x"})),
    )
    .await;
    assert_eq!(bad.status, 401);
    let ok = call(
        &format!("{path}/signInWithPassword"),
        Method::POST,
        &[],
        Some(json!({"username": "ada", "password": "lovelace"})),
    )
    .await;
    assert_eq!(ok.status, 200);
    let keys: Vec<_> = ok.json.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["access_token", "expires_in", "refresh_token"]);
    assert_eq!(ok.json["expires_in"], 60);
    let access = format!("Bearer {}", ok.json["access_token"].as_str().unwrap());
    let me = call(&format!("{}/api/pointservices/me", s.url), Method::GET, &[("authorization", &access)], None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json["email"], "ada@tenant.example");

    let refresh = ok.json["refresh_token"].as_str().unwrap();
    let again =
        call(&format!("{path}/refreshIdToken"), Method::POST, &[], Some(json!({"refresh_token": refresh}))).await;
    assert_eq!(again.status, 200);
    assert!(again.json["access_token"].as_str().unwrap().starts_with("eyJ"));
    assert_eq!(
        call(&format!("{path}/refreshIdToken"), Method::POST, &[], Some(json!({"refresh_token": "AMf-forged"})))
            .await
            .status,
        401
    );
    assert_eq!(call(&format!("{path}/refreshIdToken"), Method::POST, &[], Some(json!({}))).await.status, 400);
    // Expiry at midnight Eastern is unit-tested in eastern.rs; an expired refresh token → 401 is tested
    // through the bridge in bridge_maps_provider_failures.
}

/// Signs in at the bridge as a browser would; returns (cookie header, csrf).
async fn bridge_sign_in(s: &Server, provider: &str, user: &str, pass: &str) -> (Resp, String, String) {
    let csrf = "csrf-test-value";
    let cookie = format!("authbridge_csrf={csrf}");
    let r = call(
        &format!("{}/session", s.url),
        Method::POST,
        &[("cookie", &cookie), ("x-csrf-token", csrf), ("content-type", "application/json")],
        Some(json!({"username": user, "password": pass, "provider": provider})),
    )
    .await;
    let session = r
        .headers
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    (r, format!("{cookie}; {session}"), csrf.to_owned())
}

#[tokio::test]
async fn bridge_refuses_without_csrf_or_session() {
    let s = start(cfg()).await;
    let r = call(
        &format!("{}/session", s.url),
        Method::POST,
        &[],
        Some(json!({"username": "ada", "password": "lovelace", "provider": "point"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &format!("{}/session", s.url),
        Method::POST,
        &[("cookie", "authbridge_csrf=a"), ("x-csrf-token", "b")],
        Some(json!({"username": "ada", "password": "lovelace", "provider": "point"})),
    )
    .await;
    assert_eq!(r.status, 403);
    let (r, _, _) = bridge_sign_in(&s, "point", "ada", "wrong").await;
    assert_eq!(r.status, 401);
    let (r, _, _) = bridge_sign_in(&s, "nope", "ada", "lovelace").await;
    assert_eq!(r.status, 404);
    // Cross-site origin is refused even with a matching token.
    let r = call(
        &format!("{}/auth/point/token", s.url),
        Method::POST,
        &[
            ("cookie", "authbridge_csrf=a"),
            ("x-csrf-token", "a"),
            ("origin", "https://evil.test"),
            ("host", "127.0.0.1"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &format!("{}/auth/point/token", s.url),
        Method::POST,
        &[("cookie", "authbridge_csrf=a"), ("x-csrf-token", "a")],
        None,
    )
    .await;
    assert_eq!((r.status, r.json["error"].clone()), (StatusCode::UNAUTHORIZED, json!("no_session")));
}

#[tokio::test]
async fn bridge_session_cookie_is_httponly_and_strict() {
    let s = start(cfg()).await;
    let (r, _, _) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
    assert_eq!(r.status, 200);
    let set = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && !set.contains("Secure"), "{set}");
    let s2 = start(Config { secure_cookies: true, ..cfg() }).await;
    let (r, _, _) = bridge_sign_in(&s2, "point", "ada", "lovelace").await;
    assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn bridge_flows_for_all_four_providers_never_leak_secrets() {
    let s = start(cfg()).await;
    for (provider, header, api) in [
        ("point", "authorization", "point"),
        ("pointservices", "authorization", "pointservices"),
        ("airfocus", "authorization", "airfocus"),
        ("wazo", "x-auth-token", "wazo"),
    ] {
        let (r, cookie, csrf) = bridge_sign_in(&s, provider, "grace", "hopper").await;
        assert_eq!(r.status, 200, "{provider}: {:?}", r.json);
        let h: &[(&str, &str)] = &[("cookie", &cookie), ("x-csrf-token", &csrf)];
        let t = call(&format!("{}/auth/{provider}/token", s.url), Method::POST, h, None).await;
        assert_eq!(t.status, 200, "{provider}");
        let text = t.json.to_string();
        assert!(
            !text.contains("refresh_token") && !text.contains(KEY) && !text.contains("hopper"),
            "{provider}: {text}"
        );
        assert_eq!(t.headers.get("cache-control").unwrap(), "no-store");
        let token = match provider {
            "point" => t.json["accessToken"]["token"].as_str().unwrap().trim_start_matches("Bearer ").to_owned(),
            "pointservices" => t.json["access_token"].as_str().unwrap().to_owned(),
            "airfocus" => t.json["token"].as_str().unwrap().to_owned(),
            _ => t.json["data"]["token"].as_str().unwrap().to_owned(),
        };
        let value = if header == "authorization" { format!("Bearer {token}") } else { token.clone() };
        let me = call(&format!("{}/api/{api}/me", s.url), Method::GET, &[(header, &value)], None).await;
        assert_eq!(me.status, 200, "{provider}: {:?}", me.json);
        // A second token call (refresh) works with the server-held secret alone.
        assert_eq!(call(&format!("{}/auth/{provider}/token", s.url), Method::POST, h, None).await.status, 200);
        // Sign-out revokes upstream where the provider can, and ends the session.
        let mut hd = h.to_vec();
        hd.push((header, &value));
        assert_eq!(call(&format!("{}/auth/{provider}/token", s.url), Method::DELETE, &hd, None).await.status, 204);
        let after = call(&format!("{}/api/{api}/me", s.url), Method::GET, &[(header, &value)], None).await.status;
        // pointservices documents no revocation: its access token lives out its lifetime.
        let expected = if provider == "pointservices" { 200 } else { 401 };
        assert_eq!(after, expected, "{provider}: old token after sign-out");
        assert_eq!(
            call(&format!("{}/auth/{provider}/token", s.url), Method::POST, h, None).await.status,
            401,
            "{provider}"
        );
    }
}

#[tokio::test]
async fn bridge_maps_provider_failures() {
    let s = start(cfg()).await;
    let (_, cookie, csrf) = bridge_sign_in(&s, "pointservices", "ada", "lovelace").await;
    let h: &[(&str, &str)] = &[("cookie", &cookie), ("x-csrf-token", &csrf)];
    call(
        &format!("{}/test/fault", s.url),
        Method::POST,
        &[("content-type", "application/json")],
        Some(json!({"provider": "pointservices", "status": 500, "count": 1})),
    )
    .await;
    assert_eq!(call(&format!("{}/auth/pointservices/token", s.url), Method::POST, h, None).await.status, 502);
    assert_eq!(call(&format!("{}/auth/pointservices/token", s.url), Method::POST, h, None).await.status, 200);
    // The refresh token expires (midnight Eastern): the browser's session is over.
    call(&format!("{}/test/expire-refresh", s.url), Method::POST, &[], None).await;
    assert_eq!(call(&format!("{}/auth/pointservices/token", s.url), Method::POST, h, None).await.status, 401);

    // Provider unreachable → 502.
    let down = start(Config { upstream: Some("http://127.0.0.1:9".into()), ..cfg() }).await;
    let (r, _, _) = bridge_sign_in(&down, "wazo", "ada", "lovelace").await;
    assert_eq!(r.status, 502);
}

#[tokio::test]
async fn wazo_as_the_seed_describes() {
    let s = start(cfg()).await;
    let url = format!("{}/api/auth/0.1/token", s.url);
    assert_eq!(
        call(&url, Method::POST, &[("authorization", &basic("ada", "nope"))], Some(json!({"expiration": 3600})))
            .await
            .status,
        401
    );
    let t =
        call(&url, Method::POST, &[("authorization", &basic("ada", "lovelace"))], Some(json!({"expiration": 3600})))
            .await;
    assert_eq!(t.status, 200);
    let data = &t.json["data"];
    assert_eq!(data["token"].as_str().unwrap().len(), 36);
    let exp = data["expires_at"].as_str().unwrap();
    assert!(exp.len() == 26 && exp.ends_with(".000000") && !exp.contains('Z'), "{exp}");
    assert!(data["refresh_token"].is_null(), "no refresh token without access_type offline");
    let token = data["token"].as_str().unwrap();
    assert_eq!(
        call(&format!("{}/api/wazo/me", s.url), Method::GET, &[("x-auth-token", token)], None).await.status,
        200
    );
    assert_eq!(
        call(&format!("{}/api/wazo/me", s.url), Method::GET, &[("authorization", &format!("Bearer {token}"))], None)
            .await
            .status,
        401
    );

    let off = call(
        &url,
        Method::POST,
        &[("authorization", &basic("ada", "lovelace"))],
        Some(json!({"client_id": "example", "access_type": "offline"})),
    )
    .await;
    let refresh = off.json["data"]["refresh_token"].as_str().unwrap().to_owned();
    // A refresh token used as an access token: always 401.
    assert_eq!(
        call(&format!("{}/api/wazo/me", s.url), Method::GET, &[("x-auth-token", &refresh)], None).await.status,
        401
    );
    // Refresh with the matching client_id and no basic auth → a new token; a different client_id → 401.
    let r = call(
        &url,
        Method::POST,
        &[],
        Some(json!({"expiration": 3600, "client_id": "example", "refresh_token": refresh})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_ne!(r.json["data"]["token"], off.json["data"]["token"]);
    assert_eq!(
        call(&url, Method::POST, &[], Some(json!({"client_id": "other", "refresh_token": refresh}))).await.status,
        401
    );
    // An access token used as a refresh token does not work either.
    assert_eq!(
        call(&url, Method::POST, &[], Some(json!({"client_id": "example", "refresh_token": token}))).await.status,
        401
    );
    // Revocation.
    assert_eq!(call(&format!("{url}/{token}"), Method::DELETE, &[], None).await.status, 204);
    assert_eq!(
        call(&format!("{}/api/wazo/me", s.url), Method::GET, &[("x-auth-token", token)], None).await.status,
        401
    );
}

#[tokio::test]
async fn wazo_tokens_expire() {
    let s = start(cfg()).await;
    let url = format!("{}/api/auth/0.1/token", s.url);
    let t =
        call(&url, Method::POST, &[("authorization", &basic("ada", "lovelace"))], Some(json!({"expiration": 1}))).await;
    let token = t.json["data"]["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        call(&format!("{}/api/wazo/me", s.url), Method::GET, &[("x-auth-token", &token)], None).await.status,
        401
    );
}

#[tokio::test]
async fn airfocus_keys_are_static_and_deletable() {
    let s = start(cfg()).await;
    let url = format!("{}/airfocus/api-keys", s.url);
    assert_eq!(call(&url, Method::POST, &[("authorization", &basic("ada", "x"))], None).await.status, 401);
    let k = call(
        &url,
        Method::POST,
        &[("authorization", &basic("ada", "lovelace"))],
        Some(json!({"scopes": ["workspace:read"]})),
    )
    .await;
    let token = format!("Bearer {}", k.json["token"].as_str().unwrap());
    let me = call(&format!("{}/api/airfocus/me", s.url), Method::GET, &[("authorization", &token)], None).await;
    assert_eq!(me.json["scopes"], json!(["workspace:read"]));
    let id = k.json["id"].as_str().unwrap();
    assert_eq!(
        call(&format!("{url}/{id}"), Method::DELETE, &[("authorization", &basic("grace", "hopper"))], None)
            .await
            .status,
        404,
        "only the owner deletes"
    );
    assert_eq!(
        call(&format!("{url}/{id}"), Method::DELETE, &[("authorization", &basic("ada", "lovelace"))], None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&format!("{}/api/airfocus/me", s.url), Method::GET, &[("authorization", &token)], None).await.status,
        401
    );
}

#[tokio::test]
async fn serves_the_demo_with_a_strict_csp_and_a_csrf_cookie() {
    let s = start(cfg()).await;
    let r = call(&format!("{}/", s.url), Method::GET, &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.get("content-security-policy").unwrap().to_str().unwrap().contains("default-src 'self'"));
    assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().starts_with("authbridge_csrf="));
    assert_eq!(call(&format!("{}/../Cargo.toml", s.url), Method::GET, &[], None).await.status, 404);
    let c = call(&format!("{}/demo/config", s.url), Method::GET, &[], None).await;
    assert_eq!(c.json["providers"]["wazo"]["header"], "X-Auth-Token");
}
