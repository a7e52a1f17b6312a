//! `make bench-bridge`: the token endpoint (`POST /auth/pointservices/token`, a rotating refresh each call: lease,
//! provider call, re-seal, write back) at 1, 100 and 1000 concurrent sessions, for the memory, SQLite and
//! PostgreSQL stores in one run: p50/p99 latency and throughput, and each as a ratio to the memory store.
//!
//! Each session is one client with one request in flight, calling for `BENCH_SECONDS` (default 3) seconds.
//! The mock providers run in the same process, over loopback HTTP, as in the tests. PostgreSQL is a throwaway
//! cluster of the machine's packages (tests/support/postgres.rs). Prints a Markdown table.

use std::time::{Duration, Instant};

use authbridge_bridge::config::Providers;
use authbridge_bridge::mock::{MockConfig, MockProviders};
use authbridge_bridge::seal::KeyRing;
use authbridge_bridge::{Bridge, BridgeConfig};
use axum::body::Bytes;
use axum::http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)] // the dump helper is the tests'
mod postgres;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

const CSRF: &str = "bench-csrf";

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let _ = axum::serve(listener, service).await;
    });
    url
}

/// One request; its status and the `Set-Cookie` session pair, if any.
async fn call(client: &HttpClient, url: &str, cookie: &str, body: Option<&str>) -> (u16, Option<String>) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header("cookie", cookie)
        .header("x-csrf-token", CSRF)
        .header("content-type", "application/json");
    let req = req.body(Full::new(Bytes::from(body.unwrap_or("").to_owned()))).unwrap();
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(_) => return (0, None),
    };
    let status = resp.status().as_u16();
    let session = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("authbridge_session="))
        .map(|v| v.split(';').next().unwrap().to_owned());
    let _ = resp.into_body().collect().await;
    (status, session)
}

struct Cell {
    p50: Duration,
    p99: Duration,
    per_second: f64,
    errors: usize,
}

async fn measure(bridge_url: &str, sessions: usize, seconds: u64) -> Cell {
    let client: HttpClient = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(sessions).build_http();
    let base = format!("authbridge_csrf={CSRF}");
    let sign_in = format!("{bridge_url}/session");
    let body = r#"{"username":"ada","password":"lovelace","provider":"pointservices"}"#;
    let mut cookies = Vec::new();
    for _ in 0..sessions {
        let (status, session) = call(&client, &sign_in, &base, Some(body)).await;
        assert_eq!(status, 200, "sign-in");
        cookies.push(format!("{base}; {}", session.unwrap()));
    }
    let token_url = format!("{bridge_url}/auth/pointservices/token");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = cookies
        .into_iter()
        .map(|cookie| {
            let (client, url) = (client.clone(), token_url.clone());
            tokio::spawn(async move {
                let (mut times, mut errors) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let start = Instant::now();
                    let (status, _) = call(&client, &url, &cookie, None).await;
                    if status == 200 {
                        times.push(start.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (times, errors)
            })
        })
        .collect();
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (times, e) = t.await.unwrap();
        all.extend(times);
        errors += e;
    }
    all.sort();
    let at = |q: f64| all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1))).copied();
    Cell {
        p50: at(0.50).unwrap_or_default(),
        p99: at(0.99).unwrap_or_default(),
        per_second: all.len() as f64 / seconds as f64,
        errors,
    }
}

fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let pg = postgres::Postgres::start();
    let dir = std::env::temp_dir().join(format!("authbridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    runtime.block_on(async {
        let mock = MockProviders::new(MockConfig {
            token_lifetime: 3600,
            point_lifetime: 3600,
            point_api_key: "pk_bench".into(),
            users: vec![("ada".into(), "lovelace".into())],
        });
        let mock_url = serve(mock.router()).await;
        pg.create_database("bench").await;
        let stores = [
            ("memory", "memory".to_owned()),
            ("SQLite", format!("sqlite:{}", dir.join("bench.db").display())),
            ("PostgreSQL", pg.url("bench")),
        ];
        let mut rows: Vec<(&str, usize, Cell)> = Vec::new();
        for (name, spec) in &stores {
            let bridge = Bridge::open(BridgeConfig {
                providers: Providers::all_at(&mock_url, "pk_bench", 3600),
                users: vec![("ada".into(), "lovelace".into())],
                store: spec.clone(),
                keys: Some(KeyRing::ephemeral()),
                max_sessions: 1_000_000,
                sign_in_per_user: 1_000_000,
                sign_in_per_address: 1_000_000,
                log_requests: false,
                ..BridgeConfig::default()
            })
            .await
            .unwrap();
            let url = serve(bridge.router()).await;
            for sessions in [1, 100, 1000] {
                let cell = measure(&url, sessions, seconds).await;
                eprintln!("{name} {sessions}: p50 {:?} p99 {:?} {:.0}/s", cell.p50, cell.p99, cell.per_second);
                rows.push((name, sessions, cell));
            }
        }
        println!("| store | sessions | p50 ms | p99 ms | calls/s | p99 / memory | calls/s / memory | errors |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, sessions, c) in &rows {
            let memory = rows.iter().find(|(n, s, _)| *n == "memory" && s == sessions).map(|r| &r.2).unwrap();
            println!(
                "| {name} | {sessions} | {:.2} | {:.2} | {:.0} | {:.2}× | {:.2}× | {} |",
                c.p50.as_secs_f64() * 1000.0,
                c.p99.as_secs_f64() * 1000.0,
                c.per_second,
                c.p99.as_secs_f64() / memory.p99.as_secs_f64().max(1e-9),
                c.per_second / memory.per_second.max(1e-9),
                c.errors
            );
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}
