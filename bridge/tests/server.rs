//! Server tests: every mock provider endpoint as its seed describes it, their failures, and the bridge's
//! sign-in, token and revoke routes — over real HTTP on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authbridge_bridge::crypto::opaque_user_id;
use authbridge_bridge::{banner, serve, Config, Running};
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

struct Server {
    url: String,
    state: Running,
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
    let (url, state, _) = serve(cfg, "127.0.0.1:0", async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    Server { url, state, stop: Some(tx) }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(url: &str, method: Method, headers: &[(&str, &str)], body: Option<Value>) -> Resp {
    call_with(&client(), url, method, headers, body).await
}

async fn call_with(
    client: &HttpClient,
    url: &str,
    method: Method,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Resp {
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

/// Sends `target` byte for byte (no client-side parsing or normalisation); returns the status and the whole
/// response as text.
async fn raw(s: &Server, method: &str, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut req = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("content-length: 0\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(&addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        tcp.write_all(req.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let _ = tcp.read_to_end(&mut buf);
        let text = String::from_utf8_lossy(&buf).into_owned();
        let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, text)
    })
    .await
    .unwrap()
}

/// A fresh directory under the system's temporary folder.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("authbridge-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
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

/// A token from the bridge for a signed-in browser, as the provider's API takes it (no `Bearer `).
async fn mint(s: &Server, provider: &str, cookie: &str, csrf: &str) -> String {
    let t = call(
        &format!("{}/auth/{provider}/token", s.url),
        Method::POST,
        &[("cookie", cookie), ("x-csrf-token", csrf)],
        None,
    )
    .await;
    assert_eq!(t.status, 200, "{provider}: {:?}", t.json);
    let token = match provider {
        "point" => t.json["accessToken"]["token"].as_str().unwrap().trim_start_matches("Bearer "),
        "pointservices" => t.json["access_token"].as_str().unwrap(),
        "airfocus" => t.json["token"].as_str().unwrap(),
        _ => t.json["data"]["token"].as_str().unwrap(),
    };
    token.to_owned()
}

/// The status of the provider's protected `GET /api/{provider}/me` with `token`.
async fn me(s: &Server, provider: &str, token: &str) -> StatusCode {
    let bearer = format!("Bearer {token}");
    let h = if provider == "wazo" { ("x-auth-token", token) } else { ("authorization", bearer.as_str()) };
    call(&format!("{}/api/{provider}/me", s.url), Method::GET, &[h], None).await.status
}

/// Polls until `token` is refused (revocation in a spawned task), for up to 3 s.
async fn refused_soon(s: &Server, provider: &str, token: &str) -> bool {
    for _ in 0..30 {
        if me(s, provider, token).await == 401 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[cfg(unix)]
#[tokio::test]
async fn static_files_stay_inside_the_served_folders() {
    let root = temp_dir("static");
    let (www, pkg, outside) = (root.join("www"), root.join("pkg"), root.join("outside"));
    for d in [&www, &pkg, &outside] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(www.join("index.html"), "<h1>demo page</h1>").unwrap();
    std::fs::write(pkg.join("x.js"), "export const x = 1;").unwrap();
    std::fs::write(www.join(".hidden"), "HIDDEN-FILE").unwrap();
    let secret = outside.join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET-OUTSIDE").unwrap();
    std::os::unix::fs::symlink(&secret, www.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, www.join("linkdir")).unwrap();
    std::os::unix::fs::symlink("../outside/secret.txt", pkg.join("rel.js")).unwrap();
    let s = start(Config { www_dir: www.clone(), pkg_dir: pkg.clone(), ..cfg() }).await;

    for target in ["/", "/index.html", "/index.html?x=1"] {
        let (status, text) = raw(&s, "GET", target, &[]).await;
        assert!(status == 200 && text.contains("<h1>demo page</h1>"), "{target}: {text}");
    }
    let (status, text) = raw(&s, "GET", "/pkg/x.js", &[]).await;
    assert!(status == 200 && text.contains("export const x") && text.contains("text/javascript"), "{text}");

    let absolute = secret.to_str().unwrap();
    for target in [
        "/pkg//etc/passwd",
        "/pkg//proc/self/environ",
        &format!("/pkg/{absolute}"),
        "//etc/passwd",
        "/proc/self/environ",
        "/pkg/%2e%2e/Cargo.toml",
        "/pkg/..%2fCargo.toml",
        "/pkg/%2fetc%2fpasswd",
        "/pkg/..\\Cargo.toml",
        "/pkg/..\\..\\outside\\secret.txt",
        "/..",
        "/../Cargo.toml",
        "/pkg/../outside/secret.txt",
        "/pkg/./x.js/../../outside/secret.txt",
        "/link.txt",
        "/linkdir/secret.txt",
        "/pkg/rel.js",
        "/.hidden",
        "/index.html%00",
    ] {
        let (status, text) = raw(&s, "GET", target, &[]).await;
        assert!(status == 404 || status == 400, "{target}: {status}");
        for leak in ["root:", "PATH=", "[package]", "TOP-SECRET", "HIDDEN-FILE"] {
            assert!(!text.contains(leak), "{target}: {text}");
        }
    }
    drop(s);
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn revocation_uses_only_tokens_the_session_minted() {
    let s = start(cfg()).await;
    let victim_id = opaque_user_id("ada");
    let mut own = Vec::new();
    for provider in ["point", "wazo"] {
        let (_, vc, csrf) = bridge_sign_in(&s, provider, "ada", "lovelace").await;
        let victim = mint(&s, provider, &vc, &csrf).await;
        for forged in [
            victim.clone(),
            format!("../../{victim_id}/access_token/{victim}"),
            format!("../token/{victim}"),
            "x?admin=delete-all".to_owned(),
            "x#frag".to_owned(),
            "%2e%2e%2f".to_owned(),
        ] {
            let (_, c, csrf) = bridge_sign_in(&s, provider, "grace", "hopper").await;
            let mine = mint(&s, provider, &c, &csrf).await;
            own.push(mine.clone());
            let bearer = format!("Bearer {forged}");
            let presented =
                if provider == "wazo" { ("x-auth-token", forged.as_str()) } else { ("authorization", bearer.as_str()) };
            let h = [("cookie", c.as_str()), ("x-csrf-token", csrf.as_str()), presented];
            let r = call(&format!("{}/auth/{provider}/token", s.url), Method::DELETE, &h, None).await;
            assert_eq!(r.status, 204, "{provider} {forged}");
            assert_eq!(me(&s, provider, &victim).await, 200, "{provider} {forged}: the victim's token survives");
            assert_eq!(me(&s, provider, &mine).await, 401, "{provider}: the session's own token is revoked");
        }
    }
    // What reached the provider: one encoded segment per call, each a token the attacker's sessions minted.
    let uris = s.state.mock.as_ref().unwrap().state.lock().unwrap().revoke_uris.clone();
    assert_eq!(uris.len(), own.len(), "{uris:?}");
    let point_prefix = format!("/users/{}/access_token/", opaque_user_id("grace"));
    for uri in &uris {
        let last = uri.strip_prefix(&point_prefix).or_else(|| uri.strip_prefix("/api/auth/0.1/token/"));
        assert!(last.is_some_and(|t| own.iter().any(|o| o == t)), "{uri}");
    }
}

#[tokio::test]
async fn sign_out_revokes_every_token_the_session_minted() {
    let s = start(cfg()).await;
    for provider in ["point", "wazo"] {
        let (_, c, csrf) = bridge_sign_in(&s, provider, "ada", "lovelace").await;
        // Sign-in, then two refreshes.
        let mut tokens = Vec::new();
        for _ in 0..3 {
            tokens.push(mint(&s, provider, &c, &csrf).await);
        }
        for t in &tokens {
            assert_eq!(me(&s, provider, t).await, 200, "{provider}");
        }
        let h = [("cookie", c.as_str()), ("x-csrf-token", csrf.as_str())];
        let r = call(&format!("{}/auth/{provider}/token", s.url), Method::DELETE, &h, None).await;
        assert_eq!(r.status, 204);
        for (i, t) in tokens.iter().enumerate() {
            assert_eq!(me(&s, provider, t).await, 401, "{provider}: token {i} after sign-out");
        }
        assert_eq!(call(&format!("{}/auth/{provider}/token", s.url), Method::POST, &h, None).await.status, 401);
    }
    // Wazo's refresh token is gone too.
    let refresh = s.state.mock.as_ref().unwrap().state.lock().unwrap().issued_refresh_tokens.last().unwrap().clone();
    let body = json!({"client_id": "authbridge-demo", "refresh_token": refresh});
    assert_eq!(call(&format!("{}/api/auth/0.1/token", s.url), Method::POST, &[], Some(body)).await.status, 401);
}

#[tokio::test]
async fn delete_session_ends_the_session_upstream() {
    let s = start(cfg()).await;
    for provider in ["airfocus", "point", "wazo"] {
        let (_, c, csrf) = bridge_sign_in(&s, provider, "ada", "lovelace").await;
        let tokens = [mint(&s, provider, &c, &csrf).await, mint(&s, provider, &c, &csrf).await];
        assert_eq!(me(&s, provider, &tokens[0]).await, 200, "{provider}");
        let h = [("cookie", c.as_str()), ("x-csrf-token", csrf.as_str())];
        let r = call(&format!("{}/session", s.url), Method::DELETE, &h, None).await;
        assert_eq!(r.status, 204);
        assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
        for t in &tokens {
            assert_eq!(me(&s, provider, t).await, 401, "{provider}: token after DELETE /session");
        }
        assert_eq!(call(&format!("{}/auth/{provider}/token", s.url), Method::POST, &h, None).await.status, 401);
    }
}

#[tokio::test]
async fn idle_sessions_expire_and_are_revoked() {
    let s = start(Config { session_idle: Duration::from_secs(1), ..cfg() }).await;
    let (_, a, csrf) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
    let ta = mint(&s, "point", &a, &csrf).await;
    let (_, b, _) = bridge_sign_in(&s, "wazo", "grace", "hopper").await;
    let tb = mint(&s, "wazo", &b, &csrf).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Used again after the idle limit: refused, and its token revoked.
    let h = [("cookie", a.as_str()), ("x-csrf-token", csrf.as_str())];
    let r = call(&format!("{}/auth/point/token", s.url), Method::POST, &h, None).await;
    assert_eq!((r.status, r.json["error"].clone()), (StatusCode::UNAUTHORIZED, json!("no_session")));
    assert!(refused_soon(&s, "point", &ta).await, "the expired session's token is revoked");
    // Never used again: the next sign-in sweeps it (or the once-a-second sweeper got there first, on a busy
    // machine: either way it ends).
    let _ = me(&s, "wazo", &tb).await;
    let (r, _, _) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
    assert_eq!(r.status, 200);
    assert!(refused_soon(&s, "wazo", &tb).await, "the swept session's token is revoked");
    let stats = call(&format!("{}/test/stats", s.url), Method::GET, &[], None).await;
    assert_eq!(stats.json["sessions"], 1);
}

#[tokio::test]
async fn sessions_have_an_absolute_limit() {
    let s = start(Config { session_max: Duration::from_secs(3), ..cfg() }).await;
    let (r, c, csrf) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
    let h = [("cookie", c.as_str()), ("x-csrf-token", csrf.as_str())];
    let url = format!("{}/auth/point/token", s.url);
    for _ in 0..2 {
        assert_eq!(call(&url, Method::POST, &h, None).await.status, 200);
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    assert_eq!(call(&url, Method::POST, &h, None).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(call(&url, Method::POST, &h, None).await.status, 401, "in use, but past the absolute limit");
    assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=3"));
}

#[tokio::test]
async fn the_session_table_stays_bounded() {
    let s = start(Config { max_sessions: 500, sign_in_per_user: 10_000, sign_in_per_address: 10_000, ..cfg() }).await;
    let http = client();
    let sign_in = |n: usize| {
        let (http, url) = (http.clone(), format!("{}/session", s.url));
        async move {
            let h = [("cookie", "authbridge_csrf=c"), ("x-csrf-token", "c"), ("content-type", "application/json")];
            let (user, pass) = [("ada", "lovelace"), ("grace", "hopper")][n % 2];
            let body = json!({"username": user, "password": pass, "provider": "point"});
            let r = call_with(&http, &url, Method::POST, &h, Some(body)).await;
            assert_eq!(r.status, 200);
            let session = r.headers.get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
            format!("authbridge_csrf=c; {session}")
        }
    };
    let used = sign_in(0).await;
    let idle = sign_in(1).await;
    let token_url = format!("{}/auth/point/token", s.url);
    let stats_url = format!("{}/test/stats", s.url);
    for n in 2..3000 {
        sign_in(n).await;
        if n % 100 == 0 {
            // Kept in use: the least recently used sessions go first, not the oldest.
            let r = call_with(&http, &token_url, Method::POST, &[("cookie", &used), ("x-csrf-token", "c")], None).await;
            assert_eq!(r.status, 200, "after {n} sign-ins");
            let sessions =
                call_with(&http, &stats_url, Method::GET, &[], None).await.json["sessions"].as_u64().unwrap();
            assert!(sessions <= 500, "{sessions} sessions after {n} sign-ins");
        }
    }
    assert_eq!(call_with(&http, &stats_url, Method::GET, &[], None).await.json["sessions"], 500);
    let r = call_with(&http, &token_url, Method::POST, &[("cookie", &idle), ("x-csrf-token", "c")], None).await;
    assert_eq!(r.status, 401, "the idle session was ended to make room");
}

#[tokio::test]
async fn logs_name_routes_never_tokens() {
    let sink = Arc::new(Mutex::new(Vec::new()));
    let s = start(Config { log_sink: Some(sink.clone()), ..cfg() }).await;
    let requests = [
        ("DELETE", "//users/u1/access_token/SECRET1"),
        ("DELETE", "/users/u1/access_token//SECRET1b"),
        ("DELETE", "/USERS/u1/ACCESS_TOKEN/SECRET2"),
        ("GET", "/Users/u1/Access_Token/SECRET2b.js"),
        ("GET", "/api/auth/0.1/token/SECRET3?x=1"),
        ("DELETE", "/api/auth/0.1/token/SECRET4/"),
        ("DELETE", "/api/auth/0.1/token/SECRET5%2Fx"),
        ("DELETE", "/users/u1/access%5Ftoken/SECRET6"),
        ("DELETE", "/users/u1/access_token/%53ECRET7"),
        ("GET", "/index.html?access_token=SECRET8"),
        ("GET", "/?token=SECRET9"),
        ("POST", "/auth/point/token?token=SECRET10"),
        ("DELETE", "/users/u1/access_token/SECRET11"),
        ("GET", "/api/point/me?apiKey=SECRET12"),
        ("GET", "/pkg/SECRET13"),
    ];
    for (method, target) in requests {
        raw(&s, method, target, &[]).await;
    }
    let lines = sink.lock().unwrap().clone();
    assert_eq!(lines.len(), requests.len(), "{lines:#?}");
    for line in &lines {
        assert!(!line.contains("ECRET"), "{line}");
    }
    let path = |i: usize| serde_json::from_str::<Value>(&lines[i]).unwrap()["path"].as_str().unwrap().to_owned();
    assert_eq!(path(12), "/users/{user_id}/access_token/{token}");
    assert_eq!(path(4), "/api/auth/0.1/token/{token}");
    assert_eq!(path(9), "/index.html");
    assert_eq!(path(0), "[no route]");
}

#[test]
fn banner_names_users_never_passwords() {
    let users = vec![("ada".to_owned(), "pw-ada-123".to_owned()), ("bob".to_owned(), "pw-bob-456".to_owned())];
    let b = banner(&Config { users, ..cfg() }, "http://127.0.0.1:8080");
    assert!(b.contains("ada") && b.contains("bob") && b.contains("AUTHBRIDGE_USERS"), "{b}");
    assert!(!b.contains("pw-"), "{b}");
    let b = banner(&Config::default(), "http://127.0.0.1:8080");
    assert!(!b.contains("lovelace") && !b.contains("hopper"), "{b}");
}

#[tokio::test]
async fn cors_for_allowed_origins_only() {
    let app = "https://app.example.test";
    let evil = "https://evil.example.test";
    let s = start(Config { allowed_origins: vec![app.into()], ..cfg() }).await;
    let get = |r: &Resp, h: &str| r.headers.get(h).map(|v| v.to_str().unwrap().to_owned());
    let vary_origin = |r: &Resp| r.headers.get_all("vary").iter().any(|v| v.to_str().unwrap().contains("Origin"));
    for path in ["/session", "/auth/point/token", "/csrf"] {
        let pre = [
            ("origin", app),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type,x-csrf-token"),
        ];
        let r = call(&format!("{}{path}", s.url), Method::OPTIONS, &pre, None).await;
        assert_eq!(r.status, 204, "{path}");
        assert_eq!(get(&r, "access-control-allow-origin").as_deref(), Some(app));
        assert_eq!(get(&r, "access-control-allow-credentials").as_deref(), Some("true"));
        assert_eq!(get(&r, "access-control-allow-methods").as_deref(), Some("POST, DELETE"));
        let allowed = get(&r, "access-control-allow-headers").unwrap();
        for h in ["content-type", "x-csrf-token", "authorization", "x-auth-token"] {
            assert!(allowed.contains(h), "{allowed}");
        }
        assert!(get(&r, "access-control-max-age").is_some() && vary_origin(&r));
        // Another origin: refused, no CORS headers.
        let r = call(&format!("{}{path}", s.url), Method::OPTIONS, &[("origin", evil), pre[1]], None).await;
        assert_eq!(r.status, 403, "{path}");
        for h in ["access-control-allow-origin", "access-control-allow-credentials", "access-control-allow-methods"] {
            assert!(get(&r, h).is_none(), "{path}: {h}");
        }
    }
    // The page on the allowed origin reads the CSRF token from /csrf, then signs in and gets a token.
    let r = call(&format!("{}/csrf", s.url), Method::GET, &[("origin", app)], None).await;
    assert_eq!(get(&r, "access-control-allow-origin").as_deref(), Some(app));
    assert_eq!(get(&r, "access-control-allow-credentials").as_deref(), Some("true"));
    let csrf = r.json["csrfToken"].as_str().unwrap().to_owned();
    let cookie = format!("authbridge_csrf={csrf}");
    assert!(get(&r, "set-cookie").unwrap().starts_with(&format!("{cookie};")));
    let again = call(&format!("{}/csrf", s.url), Method::GET, &[("origin", app), ("cookie", &cookie)], None).await;
    assert_eq!((again.json["csrfToken"].as_str(), get(&again, "set-cookie")), (Some(csrf.as_str()), None));
    let body = json!({"username": "ada", "password": "lovelace", "provider": "point"});
    let h = [("origin", app), ("cookie", &cookie), ("x-csrf-token", &csrf), ("content-type", "application/json")];
    let r = call(&format!("{}/session", s.url), Method::POST, &h, Some(body.clone())).await;
    assert_eq!(r.status, 200);
    assert_eq!(get(&r, "access-control-allow-origin").as_deref(), Some(app));
    assert_eq!(get(&r, "access-control-allow-credentials").as_deref(), Some("true"));
    assert!(vary_origin(&r));
    let session = get(&r, "set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let both = format!("{cookie}; {session}");
    let t = call(
        &format!("{}/auth/point/token", s.url),
        Method::POST,
        &[("origin", app), ("cookie", &both), ("x-csrf-token", &csrf)],
        None,
    )
    .await;
    assert_eq!((t.status, get(&t, "access-control-allow-origin").as_deref()), (StatusCode::OK, Some(app)));
    // Another origin: still refused by the CSRF check, and nothing a browser would let it read.
    let h = [("origin", evil), ("cookie", &cookie), ("x-csrf-token", &csrf), ("content-type", "application/json")];
    let r = call(&format!("{}/session", s.url), Method::POST, &h, Some(body)).await;
    assert_eq!((r.status, r.json["error"].clone()), (StatusCode::FORBIDDEN, json!("csrf")));
    assert!(get(&r, "access-control-allow-origin").is_none() && vary_origin(&r));
    let r = call(&format!("{}/csrf", s.url), Method::GET, &[("origin", evil)], None).await;
    assert!(get(&r, "access-control-allow-origin").is_none());
    // Same origin (no Origin header): no CORS headers needed.
    let r = call(&format!("{}/csrf", s.url), Method::GET, &[], None).await;
    assert!(get(&r, "access-control-allow-origin").is_none() && vary_origin(&r));
}

#[tokio::test]
async fn csrf_refusals_say_which_check_failed() {
    let s = start(cfg()).await;
    let url = format!("{}/session", s.url);
    let body = || Some(json!({"username": "ada", "password": "lovelace", "provider": "point"}));
    let refusal = |r: &Resp| {
        assert_eq!((r.status, r.json["error"].as_str()), (StatusCode::FORBIDDEN, Some("csrf")), "{:?}", r.json);
        r.json["message"].as_str().unwrap().to_owned()
    };
    // No cookie: the refusal says so, and sets one; the retry with it works.
    let r = call(&url, Method::POST, &[], body()).await;
    let m = refusal(&r);
    assert!(m.contains("no authbridge_csrf cookie") && m.contains("/csrf"), "{m}");
    let set = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    let value = cookie.strip_prefix("authbridge_csrf=").unwrap().to_owned();
    assert!(!value.is_empty() && set.contains("SameSite=Lax"), "{set}");
    let ok = call(&url, Method::POST, &[("cookie", &cookie), ("x-csrf-token", &value)], body()).await;
    assert_eq!(ok.status, 200);

    let m = refusal(&call(&url, Method::POST, &[("cookie", &cookie)], body()).await);
    assert!(m.contains("no X-CSRF-Token header"), "{m}");
    let m = refusal(&call(&url, Method::POST, &[("cookie", &cookie), ("x-csrf-token", "other")], body()).await);
    assert!(m.contains("differs"), "{m}");
    let host = s.url.trim_start_matches("http://");
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", &value), ("origin", "http://localhost:5173")];
    let m = refusal(&call(&url, Method::POST, &h, body()).await);
    assert!(
        m.contains(&format!("Origin http://localhost:5173 is not allowed for Host {host}"))
            && m.contains("changeOrigin"),
        "{m}"
    );
    // Any first response sets the cookie: /csrf (with the value it returns), /demo/config, a provider's 401.
    let r = call(&format!("{}/csrf", s.url), Method::GET, &[], None).await;
    let set = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(set.starts_with(&format!("authbridge_csrf={};", r.json["csrfToken"].as_str().unwrap())), "{set}");
    for path in ["/demo/config", "/api/point/me", "/auth/point/token"] {
        let r = call(&format!("{}{path}", s.url), Method::GET, &[], None).await;
        let set = r.headers.get("set-cookie").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(set.starts_with("authbridge_csrf="), "{path}: {set}");
    }
}

#[test]
fn help_lists_flags_and_never_prints_a_secret_from_the_environment() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authbridge-bridge"))
        .arg("--help")
        .env("AUTHBRIDGE_POINT_API_KEY", "pk_secret_from_env")
        .env("AUTHBRIDGE_USERS", "eve:secret-password")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--addr", "--point-api-key", "--users", "--allow-origin", "--session-idle", "--print-url-file"] {
        assert!(help.contains(flag), "{flag} in {help}");
    }
    assert!(help.contains("AUTHBRIDGE_POINT_API_KEY") && help.contains("[default: 127.0.0.1:8080]"), "{help}");
    assert!(!help.contains("pk_secret_from_env") && !help.contains("secret-password"), "{help}");
    assert!(!help.contains("lovelace") && !help.contains("pk_demo"), "{help}");
    // An unknown AUTHBRIDGE_* variable (the JS helpers set AUTHBRIDGE_TEST_BRIDGE for their children) is ignored.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_authbridge-bridge"))
        .args(["--addr", "127.0.0.1:0", "--store", "memory", "--quiet", "--exit-after", "1"])
        .env("AUTHBRIDGE_TEST_BRIDGE", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The `authbridge_csrf` value a response sets, if any.
fn csrf_set(r: &Resp) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("authbridge_csrf="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// Issue 21.5: any website could end the session with one top-level link. A cross-site navigation carries no
/// `SameSite=Strict` cookie, the bridge answered it with a fresh CSRF cookie that replaced the browser's, and the
/// session, bound to the old value, answered 401 from then on.
#[tokio::test]
async fn a_cross_site_link_or_form_leaves_the_session_alone() {
    let s = start(cfg()).await;
    let (_, cookie, csrf) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
    mint(&s, "point", &cookie, &csrf).await;
    // The link from another site: a top-level GET with no cookie the browser withholds cross-site.
    let nav = [("sec-fetch-site", "cross-site"), ("sec-fetch-mode", "navigate"), ("sec-fetch-dest", "document")];
    for path in ["/", "/index.html", "/demo/config", "/csrf", "/no-such-page"] {
        let r = call(&format!("{}{path}", s.url), Method::GET, &nav, None).await;
        assert_eq!(csrf_set(&r), None, "{path}: a cross-site request must not replace the CSRF cookie");
    }
    // A cross-site form POST (no Fetch Metadata in an older browser, but an Origin of another site).
    let body = Some(json!({"username": "ada", "password": "lovelace", "provider": "point"}));
    let r = call(&format!("{}/session", s.url), Method::POST, &[("origin", "https://evil.example")], body).await;
    assert_eq!((r.status, csrf_set(&r)), (StatusCode::FORBIDDEN, None));
    mint(&s, "point", &cookie, &csrf).await;
    // Should the browser's CSRF cookie change anyway (a browser without Fetch Metadata, or one that dropped the
    // session-lifetime CSRF cookie at restart while keeping the session cookie), the session continues with the
    // new value: it no longer depends on the CSRF cookie's value.
    let session = cookie.split("; ").find(|c| c.starts_with("authbridge_session=")).unwrap();
    let renewed = format!("authbridge_csrf=another-value; {session}");
    mint(&s, "point", &renewed, "another-value").await;
    // The double-submit check itself still holds.
    let r = call(
        &format!("{}/auth/point/token", s.url),
        Method::POST,
        &[("cookie", &renewed), ("x-csrf-token", "csrf-test-value")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A first visit of the bridge's own page (typed, bookmarked, same-site) still gets a CSRF cookie.
    for site in ["none", "same-origin", "same-site"] {
        let r = call(&format!("{}/", s.url), Method::GET, &[("sec-fetch-site", site)], None).await;
        assert!(csrf_set(&r).is_some_and(|v| !v.is_empty()), "{site}");
    }
}

/// A sign-in attempt at the bridge with the test's CSRF pair.
async fn attempt(s: &Server, provider: &str, user: &str, pass: &str) -> Resp {
    let h = [("cookie", "authbridge_csrf=c"), ("x-csrf-token", "c"), ("content-type", "application/json")];
    let body = json!({"username": user, "password": pass, "provider": provider});
    call(&format!("{}/session", s.url), Method::POST, &h, Some(body)).await
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_user() {
    let s = start(cfg()).await;
    // The default: ten attempts a minute per user; the eleventh is refused with a Retry-After.
    for i in 0..10 {
        assert_eq!(attempt(&s, "point", "ada", "guess").await.status, 401, "attempt {i}");
    }
    let r = attempt(&s, "point", "ada", "lovelace").await;
    assert_eq!((r.status, r.json["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")));
    let retry: u64 = r.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    assert!(!r.json.to_string().contains("lovelace"));
    // Another user is not locked out by it.
    assert_eq!(attempt(&s, "point", "grace", "hopper").await.status, 200);
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let s = start(cfg()).await;
    // Sixty attempts a minute per address, whatever user names they try (password spraying).
    for i in 0..60 {
        assert_eq!(attempt(&s, "point", &format!("user{i}"), "guess").await.status, 401, "attempt {i}");
    }
    let r = attempt(&s, "point", "grace", "hopper").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn request_bodies_and_headers_are_bounded() {
    let s = start(cfg()).await;
    let big = "x".repeat(1 << 20);
    let r = call(
        &format!("{}/session", s.url),
        Method::POST,
        &[("cookie", "authbridge_csrf=c"), ("x-csrf-token", "c"), ("content-type", "application/json")],
        Some(json!({"username": "ada", "password": "lovelace", "provider": "point", "pad": big})),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let header = "y".repeat(64 * 1024);
    let r = call(&format!("{}/csrf", s.url), Method::GET, &[("x-pad", &header)], None).await;
    assert_eq!(r.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    // Ordinary requests pass.
    assert_eq!(attempt(&s, "point", "ada", "lovelace").await.status, 200);
}

#[tokio::test]
async fn delete_sessions_ends_every_session_of_the_user() {
    let s = start(cfg()).await;
    // Ada on three devices, Grace on one.
    let mut ada = Vec::new();
    for _ in 0..3 {
        let (_, c, csrf) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
        let t = mint(&s, "point", &c, &csrf).await;
        ada.push((c, t));
    }
    let (_, grace, csrf) = bridge_sign_in(&s, "point", "grace", "hopper").await;
    let grace_token = mint(&s, "point", &grace, &csrf).await;
    let h = [("cookie", ada[0].0.as_str()), ("x-csrf-token", csrf.as_str())];
    let r = call(&format!("{}/sessions", s.url), Method::DELETE, &h, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json);
    assert!(r.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
    for (c, t) in &ada {
        // Every device's next token call is refused: the client's normal signed-out path.
        let r =
            call(&format!("{}/auth/point/token", s.url), Method::POST, &[("cookie", c), ("x-csrf-token", &csrf)], None)
                .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(refused_soon(&s, "point", t).await, "a token of an ended session still works");
    }
    assert_eq!(me(&s, "point", &grace_token).await, StatusCode::OK);
    mint(&s, "point", &grace, &csrf).await;
    // It needs a session and the CSRF pair.
    let r = call(&format!("{}/sessions", s.url), Method::DELETE, &[("cookie", &grace)], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &format!("{}/sessions", s.url),
        Method::DELETE,
        &[("cookie", "authbridge_csrf=c"), ("x-csrf-token", "c")],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_mock_providers_run_alone_and_a_bridge_fronts_them_over_http() {
    let dir = temp_dir("mock-bin");
    let url_file = dir.join("url");
    let mut mock = std::process::Command::new(env!("CARGO_BIN_EXE_authbridge-mock-providers"))
        .args(["--addr", "127.0.0.1:0", "--exit-after", "30", "--print-url-file"])
        .arg(&url_file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&url_file).unwrap_or_default().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the mock providers did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = std::fs::read_to_string(&url_file).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // The bridge reaches them as it would real providers; it serves none of their routes itself.
        let b = start(Config { upstream: Some(url.clone()), ..cfg() }).await;
        assert!(b.state.mock.is_none());
        assert_eq!(call(&format!("{}/api/wazo/me", b.url), Method::GET, &[], None).await.status, 404);
        let (r, cookie, csrf) = bridge_sign_in(&b, "wazo", "ada", "lovelace").await;
        assert_eq!(r.status, 200, "{:?}", r.json);
        let t = call(
            &format!("{}/auth/wazo/token", b.url),
            Method::POST,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            None,
        )
        .await;
        assert_eq!(t.status, 200);
        let token = t.json["data"]["token"].as_str().unwrap();
        let me = call(&format!("{url}/api/wazo/me"), Method::GET, &[("x-auth-token", token)], None).await;
        assert_eq!(me.status, 200);
    });
    let _ = mock.kill();
    let _ = mock.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A tab closed in the middle of a token call (the browser drops the connection) must not leave the session's
/// lease held, nor lose the refresh token the provider rotated meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_call_abandoned_by_the_browser_still_completes() {
    let s = start(cfg()).await;
    let (_, cookie, csrf) = bridge_sign_in(&s, "pointservices", "ada", "lovelace").await;
    mint(&s, "pointservices", &cookie, &csrf).await;
    let fault = json!({"provider": "pointservices", "status": 0, "count": 1, "delayMs": 1500});
    call(&format!("{}/test/fault", s.url), Method::POST, &[("content-type", "application/json")], Some(fault)).await;
    let url = format!("{}/auth/pointservices/token", s.url);
    let h = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let abandoned = call(&url, Method::POST, &h, None);
    assert!(tokio::time::timeout(Duration::from_millis(300), abandoned).await.is_err());
    let started = std::time::Instant::now();
    let r = call(&url, Method::POST, &[("cookie", &cookie), ("x-csrf-token", &csrf)], None).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?} for the lease", started.elapsed());
    let stats = call(&format!("{}/test/stats", s.url), Method::GET, &[], None).await;
    assert_eq!(stats.json["refreshReuse"], 0);
}

/// Providers that do not rotate refresh tokens (Point here) are called concurrently: a slow call does not hold
/// up the session's other tabs, and every token minted in parallel is still recorded, so sign-out revokes all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_point_calls_neither_wait_for_each_other_nor_lose_a_token() {
    let s = start(cfg()).await;
    let (_, cookie, csrf) = bridge_sign_in(&s, "point", "ada", "lovelace").await;
    let fault = json!({"provider": "point", "status": 0, "count": 1, "delayMs": 2000});
    call(&format!("{}/test/fault", s.url), Method::POST, &[("content-type", "application/json")], Some(fault)).await;
    let url = format!("{}/auth/point/token", s.url);
    let (c1, u1, k1) = (cookie.clone(), url.clone(), csrf.clone());
    let slow =
        tokio::spawn(async move { call(&u1, Method::POST, &[("cookie", &c1), ("x-csrf-token", &k1)], None).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    mint(&s, "point", &cookie, &csrf).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "waited {:?} behind a slow call", started.elapsed());
    assert_eq!(slow.await.unwrap().status, 200);
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let (c, u, k) = (cookie.clone(), url.clone(), csrf.clone());
            tokio::spawn(async move { call(&u, Method::POST, &[("cookie", &c), ("x-csrf-token", &k)], None).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        let r = c.await.unwrap();
        assert_eq!(r.status, 200);
        tokens.push(r.json["accessToken"]["token"].as_str().unwrap().trim_start_matches("Bearer ").to_owned());
    }
    let r = call(&url, Method::DELETE, &[("cookie", &cookie), ("x-csrf-token", &csrf)], None).await;
    assert_eq!(r.status, 204);
    for t in &tokens {
        assert!(refused_soon(&s, "point", t).await, "a token minted in parallel outlived the sign-out");
    }
}

/// Passwords are used once at sign-in and never kept, not even sealed: the opened secrets of every provider's
/// session hold neither the password nor a Basic header made of it.
#[tokio::test]
async fn sessions_never_hold_a_password() {
    let s = start(cfg()).await;
    for provider in ["point", "pointservices", "airfocus", "wazo"] {
        let (r, cookie, csrf) = bridge_sign_in(&s, provider, "grace", "hopper").await;
        assert_eq!(r.status, 200);
        mint(&s, provider, &cookie, &csrf).await;
    }
    let bridge = &s.state.bridge;
    let basic = STANDARD.encode("grace:hopper");
    let all = bridge.store.all().await.unwrap();
    assert_eq!(all.len(), 4);
    for (id, stored) in all {
        let (plain, _) = bridge.keys.open(&id, &stored.sealed).unwrap();
        let plain = String::from_utf8(plain).unwrap();
        assert!(!plain.contains("hopper") && !plain.contains(&basic), "{}: {plain}", stored.provider);
    }
}
