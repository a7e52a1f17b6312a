//! Sessions in a real store, SQLite and PostgreSQL (a cluster of the machine's own PostgreSQL started by the
//! test in a temporary directory, on 127.0.0.1 and a free port, and stopped by it): two bridge instances on one
//! database (requests alternating, five tabs, rotating refresh tokens), an instance dying mid-refresh,
//! restarts, key rotation, a wrong key, and a dump of the database searched for every secret the test saw.
//! The mock providers run in their own server, which outlives the bridges, as real providers would.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use authbridge_bridge::seal::{generate_key, KeyRing};
use authbridge_bridge::store::{self, Acquired, Alive, LEASE};
use authbridge_bridge::{serve, Config, Running};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

#[path = "support/postgres.rs"]
mod postgres;
use postgres::Postgres;

struct Server {
    url: String,
    #[allow(dead_code)]
    state: Running,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Stops the server and waits until it has.
    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
    }
}

async fn start(cfg: Config) -> Server {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let cfg = Config { log_requests: false, test_hooks: true, ..cfg };
    let (url, state, handle) = serve(cfg, "127.0.0.1:0", async move {
        let _ = rx.await;
    })
    .await
    .unwrap();
    Server { url, state, stop: Some(tx), handle: Some(handle) }
}

/// The mock providers, on their own.
async fn providers() -> Server {
    start(Config { point_api_key: "pk_store_test".into(), token_lifetime: 60, ..Config::default() }).await
}

/// A database for one scenario: its `--store` value, and how to dump it.
enum Db {
    Sqlite(PathBuf),
    Postgres { url: String, dump: Box<dyn Fn() -> Vec<u8> + Send + Sync> },
}

impl Db {
    fn spec(&self) -> String {
        match self {
            Db::Sqlite(path) => format!("sqlite:{}", path.display()),
            Db::Postgres { url, .. } => url.clone(),
        }
    }

    /// The bytes a dump or a stolen disk would give: the SQLite files with their WAL, or `pg_dump`'s output.
    fn dump(&self) -> Vec<u8> {
        match self {
            Db::Sqlite(path) => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    all.extend(std::fs::read(format!("{}{suffix}", path.display())).unwrap_or_default());
                }
                all
            }
            Db::Postgres { dump, .. } => dump(),
        }
    }
}

/// A bridge fronting `providers`, its sessions in `db` sealed with `keys`.
async fn bridge(providers: &Server, db: &Db, keys: &str) -> Server {
    start(Config {
        point_api_key: "pk_store_test".into(),
        token_lifetime: 60,
        upstream: Some(providers.url.clone()),
        store: db.spec(),
        keys: Some(KeyRing::parse(keys).unwrap()),
        ..Config::default()
    })
    .await
}

fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("authbridge-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(url: &str, method: Method, headers: &[(&str, &str)], body: Option<Value>) -> (StatusCode, Value, String) {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let resp = client().request(req.body(Full::new(bytes)).unwrap()).await.unwrap();
    let status = resp.status();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null), cookie)
}

const CSRF: &str = "store-test-csrf";

/// Signs in; returns the cookie header and the session id.
async fn sign_in(b: &Server, provider: &str) -> (String, String) {
    let cookie = format!("authbridge_csrf={CSRF}");
    let (status, body, session) = call(
        &format!("{}/session", b.url),
        Method::POST,
        &[("cookie", &cookie), ("x-csrf-token", CSRF), ("content-type", "application/json")],
        Some(json!({"username": "ada", "password": "lovelace", "provider": provider})),
    )
    .await;
    assert_eq!(status, 200, "{provider}: {body}");
    let id = session.strip_prefix("authbridge_session=").unwrap().to_owned();
    (format!("{cookie}; {session}"), id)
}

/// A token call; returns its status and the access token (if any).
async fn token(b: &Server, provider: &str, cookie: &str) -> (StatusCode, Option<String>) {
    token_at(&b.url, provider, cookie).await
}

async fn token_at(base: &str, provider: &str, cookie: &str) -> (StatusCode, Option<String>) {
    let (status, v, _) = call(
        &format!("{base}/auth/{provider}/token"),
        Method::POST,
        &[("cookie", cookie), ("x-csrf-token", CSRF)],
        None,
    )
    .await;
    let t = v["accessToken"]["token"]
        .as_str()
        .or(v["access_token"].as_str())
        .or(v["token"].as_str())
        .or(v["data"]["token"].as_str())
        .map(|t| t.trim_start_matches("Bearer ").to_owned());
    (status, t)
}

async fn stats(p: &Server) -> Value {
    call(&format!("{}/test/stats", p.url), Method::GET, &[], None).await.1
}

fn contains(hay: &[u8], needle: &str) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Two instances on one database, five tabs alternating between them; then both restarted.
async fn replicas(db: Db) {
    let p = providers().await;
    let keys = format!("k1:{}", generate_key());
    let replicas = [bridge(&p, &db, &keys).await, bridge(&p, &db, &keys).await];
    let (cookie, _) = sign_in(&replicas[0], "pointservices").await;
    // Five tabs refreshing at once, each request to either instance in turn: 60 rounds, 300 refreshes, the
    // refresh count of five tabs with one-minute tokens over an hour.
    let mut seen = Vec::new();
    for round in 0..60 {
        let calls = (0..5).map(|tab| {
            let (url, cookie) = (replicas[(round + tab) % 2].url.clone(), cookie.clone());
            async move { token_at(&url, "pointservices", &cookie).await }
        });
        for (status, t) in futures_join_all(calls).await {
            assert_eq!(status, 200, "round {round}");
            seen.push(t.unwrap());
        }
    }
    let s = stats(&p).await;
    assert_eq!(s["refreshReuse"], 0, "a refresh token was redeemed twice");
    assert_eq!(s["tokenCalls"]["pointservices"], 301);

    // Both instances restarted: the session continues where it was.
    let [a, b] = replicas;
    a.stop().await;
    b.stop().await;
    let replicas = [bridge(&p, &db, &keys).await, bridge(&p, &db, &keys).await];
    for b in &replicas {
        assert_eq!(token(b, "pointservices", &cookie).await.0, 200);
    }
    assert_eq!(stats(&p).await["refreshReuse"], 0);
    for r in replicas {
        r.stop().await;
    }
}

/// `join_all` without the futures crate: each future on its own task.
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn the_rotating_mock_catches_a_refresh_token_redeemed_twice() {
    // What the lease prevents, shown at the provider: the same refresh token twice ends the whole family.
    let p = providers().await;
    let path = format!("{}/user-management-services-ws/oauth2/002", p.url);
    let h = [("content-type", "application/json")];
    let (_, v, _) = call(
        &format!("{path}/signInWithPassword"),
        Method::POST,
        &h,
        Some(json!({"username": "ada", "password": "lovelace"})),
    )
    .await;
    let first = v["refresh_token"].as_str().unwrap().to_owned();
    let (status, v, _) =
        call(&format!("{path}/refreshIdToken"), Method::POST, &h, Some(json!({"refresh_token": first}))).await;
    assert_eq!(status, 200);
    let second = v["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second, "rotated");
    let (status, _, _) =
        call(&format!("{path}/refreshIdToken"), Method::POST, &h, Some(json!({"refresh_token": first}))).await;
    assert_eq!(status, 401, "the spent token is refused");
    let (status, _, _) =
        call(&format!("{path}/refreshIdToken"), Method::POST, &h, Some(json!({"refresh_token": second}))).await;
    assert_eq!(status, 401, "and its whole family with it");
    assert_eq!(stats(&p).await["refreshReuse"], 1);
}

/// An instance dies holding the session's lease: the session waits it out, then continues.
async fn dying(db: Db) {
    let p = providers().await;
    let keys = format!("k1:{}", generate_key());
    let b = bridge(&p, &db, &keys).await;
    let (cookie, id) = sign_in(&b, "pointservices").await;
    assert_eq!(token(&b, "pointservices", &cookie).await.0, 200);
    // Another instance took the session's lease and died: its lease runs out 1.5 s from now.
    let store = store::open(&db.spec()).await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let taken =
        store.acquire(&id, "dead-instance", now - LEASE.as_millis() as i64 + 1_500, Alive::ALWAYS).await.unwrap();
    assert!(matches!(taken, Acquired::Held(_)));
    let started = Instant::now();
    assert_eq!(token(&b, "pointservices", &cookie).await.0, 200);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1_000) && waited < Duration::from_secs(10), "{waited:?}");
    // The dead instance's late write-back changes nothing.
    assert!(!store.release(&id, "dead-instance", Some("garbage")).await.unwrap());
    assert_eq!(token(&b, "pointservices", &cookie).await.0, 200);
    assert_eq!(stats(&p).await["refreshReuse"], 0);
    b.stop().await;
}

/// Sessions of all four providers survive a restart; the database holds none of their secrets.
async fn restart_and_dump(db: Db) {
    let p = providers().await;
    let key = generate_key();
    let keys = format!("k1:{key}");
    let b = bridge(&p, &db, &keys).await;
    let mut sessions = Vec::new();
    let mut tokens = Vec::new();
    for provider in ["point", "pointservices", "airfocus", "wazo"] {
        let (cookie, _) = sign_in(&b, provider).await;
        for _ in 0..3 {
            let (status, t) = token(&b, provider, &cookie).await;
            assert_eq!(status, 200, "{provider}");
            tokens.push(t.unwrap());
        }
        sessions.push((provider, cookie));
    }
    b.stop().await;
    // Every secret the providers issued or hold (refresh tokens, the apiKey, the passwords), every access
    // token minted, the key: none is in the database's files.
    let s = stats(&p).await;
    let mut secrets: Vec<String> =
        s["secrets"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect();
    assert!(secrets.iter().any(|t| t.starts_with("AMf-")), "the providers' secrets are listed");
    secrets.extend(tokens);
    secrets.push(key.clone());
    let bytes = db.dump();
    assert!(bytes.len() > 4096 && contains(&bytes, "pointservices"), "the dump is the database");
    for secret in &secrets {
        assert!(!contains(&bytes, secret), "a secret is in the database: {}…", &secret[..secret.len().min(6)]);
    }
    // Restarted on the same database: every session continues.
    let b = bridge(&p, &db, &keys).await;
    for (provider, cookie) in &sessions {
        assert_eq!(token(&b, provider, cookie).await.0, 200, "{provider} after a restart");
    }
    b.stop().await;
}

/// The key id a stored session is sealed with.
async fn sealed_with(db: &Db, id: &str) -> String {
    let store = store::open(&db.spec()).await.unwrap();
    store.get(id).await.unwrap().unwrap().sealed.split('.').next().unwrap().to_owned()
}

/// Key rotation; a removed or wrong key ends sessions cleanly.
async fn rotation(db: Db) {
    let p = providers().await;
    let (k1, k2) = (generate_key(), generate_key());
    let b = bridge(&p, &db, &format!("k1:{k1}")).await;
    let (used, used_id) = sign_in(&b, "pointservices").await;
    let (idle, idle_id) = sign_in(&b, "wazo").await;
    b.stop().await;
    assert_eq!(sealed_with(&db, &used_id).await, "k1");

    // A new key first, the old one kept: old sessions still work, and are sealed again with the new key on use.
    let b = bridge(&p, &db, &format!("k2:{k2},k1:{k1}")).await;
    assert_eq!(token(&b, "pointservices", &used).await.0, 200);
    assert_eq!(sealed_with(&db, &used_id).await, "k2");
    assert_eq!(sealed_with(&db, &idle_id).await, "k1");
    b.stop().await;

    // The old key removed: the session used meanwhile continues; the other ends cleanly (401, then gone).
    let b = bridge(&p, &db, &format!("k2:{k2}")).await;
    assert_eq!(token(&b, "pointservices", &used).await.0, 200);
    assert_eq!(token(&b, "wazo", &idle).await.0, 401);
    assert_eq!(store::open(&db.spec()).await.unwrap().len().await.unwrap(), 1);
    b.stop().await;

    // A wrong key (same id, another key): sessions end cleanly too, nothing crashes.
    let b = bridge(&p, &db, &format!("k2:{}", generate_key())).await;
    assert_eq!(token(&b, "pointservices", &used).await.0, 401);
    let (fresh, _) = sign_in(&b, "point").await;
    assert_eq!(token(&b, "point", &fresh).await.0, 200);
    b.stop().await;
}

/// The status of the provider's `GET /api/point/me` with a Point token.
async fn point_me(p: &Server, token: &str) -> StatusCode {
    let bearer = format!("Bearer {token}");
    call(&format!("{}/api/point/me", p.url), Method::GET, &[("authorization", &bearer)], None).await.0
}

/// Polls until the provider refuses `token` (revocation runs in the background), for up to 3 s.
async fn revoked_soon(p: &Server, token: &str) -> bool {
    for _ in 0..30 {
        if point_me(p, token).await == 401 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The idle and absolute limits and the LRU bound, each ending sessions upstream, as with the memory store.
async fn limits(db: Db) {
    let p = providers().await;
    let keys = format!("k1:{}", generate_key());
    let with = |idle: u64, max: u64, sessions: usize| Config {
        point_api_key: "pk_store_test".into(),
        token_lifetime: 60,
        upstream: Some(p.url.clone()),
        store: db.spec(),
        keys: Some(KeyRing::parse(&keys).unwrap()),
        session_idle: Duration::from_secs(idle),
        session_max: Duration::from_secs(max),
        max_sessions: sessions,
        ..Config::default()
    };
    // The LRU bound: three sessions at most; the least recently used goes first, revoked upstream.
    let b = start(with(600, 600, 3)).await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let (cookie, _) = sign_in(&b, "point").await;
        let t = token(&b, "point", &cookie).await.1.unwrap();
        sessions.push((cookie, t));
    }
    // The first is used again: the second is now the least recently used.
    assert_eq!(token(&b, "point", &sessions[0].0).await.0, 200);
    sign_in(&b, "point").await;
    assert_eq!(store::open(&db.spec()).await.unwrap().len().await.unwrap(), 3);
    assert_eq!(token(&b, "point", &sessions[1].0).await.0, 401, "the LRU session is gone");
    assert!(revoked_soon(&p, &sessions[1].1).await, "and its token revoked");
    assert_eq!(token(&b, "point", &sessions[0].0).await.0, 200);
    b.stop().await;
    store::open(&db.spec()).await.unwrap().remove_expired(i64::MAX, i64::MAX).await.unwrap();

    // The idle limit: a session unused for 1 s is refused, and its token revoked.
    let b = start(with(1, 600, 100)).await;
    let (cookie, _) = sign_in(&b, "point").await;
    let t = token(&b, "point", &cookie).await.1.unwrap();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    assert_eq!(token(&b, "point", &cookie).await.0, 401);
    assert!(revoked_soon(&p, &t).await);
    b.stop().await;

    // The absolute limit: in use, but 2 s after sign-in it ends.
    let b = start(with(600, 2, 100)).await;
    let (cookie, _) = sign_in(&b, "point").await;
    let t = token(&b, "point", &cookie).await.1.unwrap();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(token(&b, "point", &cookie).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(token(&b, "point", &cookie).await.0, 401);
    assert!(revoked_soon(&p, &t).await);
    b.stop().await;

    // DELETE /sessions: every session of the user, whichever device.
    let b = start(with(600, 600, 100)).await;
    let (a, _) = sign_in(&b, "point").await;
    let (other, _) = sign_in(&b, "point").await;
    let t = token(&b, "point", &other).await.1.unwrap();
    let (status, _, _) =
        call(&format!("{}/sessions", b.url), Method::DELETE, &[("cookie", &a), ("x-csrf-token", CSRF)], None).await;
    assert_eq!(status, 204);
    assert_eq!(token(&b, "point", &other).await.0, 401);
    assert!(revoked_soon(&p, &t).await);
    assert_eq!(store::open(&db.spec()).await.unwrap().len().await.unwrap(), 0);
    b.stop().await;
}

/// Runs a scenario on a fresh SQLite database.
async fn on_sqlite<F: std::future::Future<Output = ()>>(name: &str, scenario: impl FnOnce(Db) -> F) {
    let dir = temp_dir(name);
    scenario(Db::Sqlite(dir.join("sessions.db"))).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_instances_never_redeem_a_refresh_token_twice_and_survive_restarts() {
    on_sqlite("replicas", replicas).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_instance_dying_mid_refresh_does_not_wedge_the_session() {
    on_sqlite("dying", dying).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_restart_keeps_every_session_and_the_database_holds_no_secret() {
    on_sqlite("dump", restart_and_dump).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_idle_and_absolute_limits_and_the_lru_bound_hold() {
    on_sqlite("limits", limits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keys_rotate_and_a_removed_or_wrong_key_ends_sessions_cleanly() {
    on_sqlite("rotation", rotation).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_replicas_restarts_dump_rotation_and_a_dying_replica() {
    let pg = Postgres::start();
    let db = |name: &'static str| {
        let pg = &pg;
        async move {
            pg.create_database(name).await;
            Db::Postgres { url: pg.url(name), dump: Box::new(pg.dumper(name)) }
        }
    };
    replicas(db("replicas").await).await;
    dying(db("dying").await).await;
    restart_and_dump(db("dump").await).await;
    rotation(db("rotation").await).await;
    limits(db("limits").await).await;
}

#[test]
fn a_malformed_key_ring_is_a_clear_error_at_startup() {
    let key = generate_key();
    let dir = temp_dir("badkeys");
    let file = dir.join("keys");
    std::fs::write(&file, format!("k1:{}\n", &key[..20])).unwrap();
    let cases = [
        format!("k1:{}", &key[..20]),
        "k1".to_owned(),
        format!("file:{}", file.display()),
        format!("file:{}", dir.join("missing").display()),
    ];
    for keys in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_authbridge-bridge"))
            .args(["--addr", "127.0.0.1:0", "--store", "memory", "--quiet", "--exit-after", "1"])
            .env("AUTHBRIDGE_KEYS", &keys)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("--keys"), "{keys}: {err}");
        assert!(!err.contains(&key[..20]), "the error echoes key material: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_sqlite_store_without_keys_generates_a_key_file_once() {
    let dir = temp_dir("keyfile");
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_authbridge-bridge"))
            .args(["--addr", "127.0.0.1:0", "--quiet", "--exit-after", "1"])
            .env_remove("AUTHBRIDGE_KEYS")
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stderr).contains("generated the session key file"));
    let file = dir.join("authbridge-sessions.db.keys");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(KeyRing::parse(&text).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let second = run();
    assert!(second.status.success());
    assert!(!String::from_utf8_lossy(&second.stderr).contains("generated"), "said once only");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_with_real_providers_serves_no_mock_route_and_only_its_providers() {
    use authbridge_bridge::config::{FileConfig, Provider, Providers};
    let p = providers().await;
    // Providers from a config file: pointservices and airfocus only.
    let file = FileConfig {
        providers: Providers {
            pointservices: Some(Provider { base_url: p.url.clone() }),
            airfocus: Some(Provider { base_url: p.url.clone() }),
            ..Providers::default()
        },
        users: Vec::new(),
    };
    let b = start(Config { providers: Some(file), ..Config::default() }).await;
    assert!(b.state.mock.is_none());
    for path in [
        "/users/u1",
        "/users/u1/access_token",
        "/api/point/me",
        "/user-management-services-ws/oauth2/002/refreshIdToken",
        "/airfocus/api-keys",
        "/api/auth/0.1/token",
        "/test/stats",
        "/test/fault",
        "/demo/config",
        "/",
        "/index.html",
    ] {
        for method in [Method::GET, Method::POST] {
            let (status, _, _) = call(&format!("{}{path}", b.url), method.clone(), &[], None).await;
            assert!(status == 404 || status == 405, "{method} {path}: {status}");
        }
    }
    // Its providers work through the real (here: mock, elsewhere) provider; the others are unknown.
    let (cookie, _) = sign_in(&b, "pointservices").await;
    assert_eq!(token(&b, "pointservices", &cookie).await.0, 200);
    let (cookie, _) = sign_in(&b, "airfocus").await;
    assert_eq!(token(&b, "airfocus", &cookie).await.0, 200);
    let (status, v, _) = call(
        &format!("{}/session", b.url),
        Method::POST,
        &[("cookie", &format!("authbridge_csrf={CSRF}")), ("x-csrf-token", CSRF)],
        Some(json!({"username": "ada", "password": "lovelace", "provider": "point"})),
    )
    .await;
    assert_eq!((status, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_provider")));
    b.stop().await;
}

/// A real bridge process killed (SIGKILL) in the middle of a rotating refresh, holding the session's lease and
/// with the SQLite database open: the other instance is not blocked by the dead process's database handles, and
/// the session is not wedged. It continues once the lease runs out, or, if the provider rotated the token the
/// dead process never stored, ends cleanly (401) so the user signs in again: never a hang or a `busy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_process_killed_mid_refresh_does_not_wedge_the_session() {
    use authbridge_bridge::config::{FileConfig, Provider, Providers};
    let p = providers().await;
    let dir = temp_dir("killed");
    let db = Db::Sqlite(dir.join("sessions.db"));
    let keys = format!("k1:{}", generate_key());
    let config = dir.join("bridge.toml");
    std::fs::write(&config, format!("[providers.pointservices]\nbase_url = \"{}\"\n", p.url)).unwrap();
    let url_file = dir.join("url");
    let mut a = std::process::Command::new(env!("CARGO_BIN_EXE_authbridge-bridge"))
        .args(["--addr", "127.0.0.1:0", "--quiet", "--exit-after", "120", "--config"])
        .arg(&config)
        .arg("--store")
        .arg(db.spec())
        .arg("--print-url-file")
        .arg(&url_file)
        .env("AUTHBRIDGE_KEYS", &keys)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&url_file).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "bridge A did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a_url = std::fs::read_to_string(&url_file).unwrap();
    let file = FileConfig {
        providers: Providers { pointservices: Some(Provider { base_url: p.url.clone() }), ..Providers::default() },
        users: Vec::new(),
    };
    let b = start(Config {
        providers: Some(file),
        store: db.spec(),
        keys: Some(KeyRing::parse(&keys).unwrap()),
        ..Config::default()
    })
    .await;
    let (cookie, _) = sign_in(&b, "pointservices").await;
    assert_eq!(token_at(&a_url, "pointservices", &cookie).await.0, 200);
    // A's next refresh hangs at the provider; A is killed while it holds the lease.
    p.state.mock.as_ref().unwrap().inject_fault("pointservices", 0, 1, 2_000);
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{a_url}/auth/pointservices/token"))
        .header("cookie", &cookie)
        .header("x-csrf-token", CSRF)
        .body(Full::new(Bytes::new()))
        .unwrap();
    // Its answer never comes: the process dies first.
    let pending = tokio::spawn(client().request(req));
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill().unwrap();
    a.wait().unwrap();
    assert!(pending.await.unwrap().is_err(), "A answered before it was killed");
    let started = Instant::now();
    let (status, _) = token(&b, "pointservices", &cookie).await;
    let waited = started.elapsed();
    assert!(status == 200 || status == 401, "{status}");
    assert!(waited < LEASE + Duration::from_secs(5), "waited {waited:?}");
    // Whatever the outcome, the user is never stuck: a new sign-in works at once, on the same database.
    let (fresh, _) = sign_in(&b, "pointservices").await;
    assert_eq!(token(&b, "pointservices", &fresh).await.0, 200);
    eprintln!("after the kill: {status} in {waited:?}");
    b.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
