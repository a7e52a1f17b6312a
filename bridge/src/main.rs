//! `authbridge-bridge`: the reference bridging backend with mock providers and the demo page.
//!
//! ```text
//! authbridge-bridge [--addr 127.0.0.1:8080] [--token-lifetime 30] [--point-lifetime SECS]
//!                   [--point-api-key KEY] [--users ada:lovelace,grace:hopper] [--upstream URL]
//!                   [--www DIR] [--pkg DIR] [--secure-cookies] [--allow-origin ORIGIN]…
//!                   [--session-idle 1800] [--session-max 86400] [--max-sessions 10000]
//!                   [--test-hooks] [--quiet] [--exit-after SECS] [--print-url-file FILE]
//! ```
//! Every flag also reads from the environment as `AUTHBRIDGE_<FLAG>` (e.g. `AUTHBRIDGE_POINT_API_KEY`), which is
//! where a secret belongs.

use std::time::Duration;

use authbridge_bridge::{banner, parse_origin, serve, Config};

fn usage(message: &str) -> ! {
    eprintln!("authbridge-bridge: {message}\nsee the doc comment of bridge/src/main.rs for the flags");
    std::process::exit(2)
}

fn main() {
    let mut cfg = Config::default();
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut exit_after: Option<u64> = None;
    let mut url_file: Option<String> = None;

    // Environment first, flags override.
    let mut pairs: Vec<(String, Option<String>)> = std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix("AUTHBRIDGE_").map(|f| (f.to_lowercase().replace('_', "-"), Some(v))))
        .collect();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let Some(flag) = a.strip_prefix("--") else { usage(&format!("unexpected argument {a}")) };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (flag.to_owned(), None),
        };
        let boolean = matches!(name.as_str(), "secure-cookies" | "test-hooks" | "quiet" | "help");
        let value = if boolean {
            inline
        } else {
            Some(inline.or_else(|| args.next()).unwrap_or_else(|| usage(&format!("--{name} needs a value"))))
        };
        pairs.push((name, value));
    }
    let num = |v: &Option<String>, name: &str| -> i64 {
        v.as_deref()
            .and_then(|s| s.parse().ok())
            .filter(|n: &i64| *n > 0)
            .unwrap_or_else(|| usage(&format!("--{name} needs a positive number")))
    };
    let mut point_lifetime = None;
    let mut idle = None;
    for (name, value) in &pairs {
        match name.as_str() {
            "addr" => addr = value.clone().unwrap(),
            "token-lifetime" => cfg.token_lifetime = num(value, name),
            "point-lifetime" => point_lifetime = Some(num(value, name)),
            "point-api-key" => cfg.point_api_key = value.clone().unwrap(),
            "users" => {
                cfg.users = value
                    .as_deref()
                    .unwrap()
                    .split(',')
                    .map(|p| {
                        p.split_once(':')
                            .map(|(u, p)| (u.to_owned(), p.to_owned()))
                            .unwrap_or_else(|| usage("--users takes user:password,…"))
                    })
                    .collect()
            }
            "upstream" => cfg.upstream = value.clone(),
            "www" => cfg.www_dir = value.clone().unwrap().into(),
            "pkg" => cfg.pkg_dir = value.clone().unwrap().into(),
            "secure-cookies" => cfg.secure_cookies = value.as_deref() != Some("false"),
            "allow-origin" => {
                cfg.allowed_origins.push(parse_origin(value.as_deref().unwrap()).unwrap_or_else(|e| usage(&e)))
            }
            "session-idle" => idle = Some(Duration::from_secs(num(value, name) as u64)),
            "session-max" => cfg.session_max = Duration::from_secs(num(value, name) as u64),
            "max-sessions" => cfg.max_sessions = num(value, name) as usize,
            "test-hooks" => cfg.test_hooks = value.as_deref() != Some("false"),
            "quiet" => cfg.log_requests = value.as_deref() == Some("false"),
            "exit-after" => exit_after = Some(num(value, name) as u64),
            "print-url-file" => url_file = value.clone(),
            "help" => usage("help"),
            other => usage(&format!("unknown flag --{other}")),
        }
    }
    cfg.point_lifetime = point_lifetime.unwrap_or(cfg.token_lifetime);
    // Idle means "no bridge call": a browser calls once per token lifetime, so an idle limit shorter than that
    // would end every session between two refreshes. The default grows with the lifetimes; a shorter explicit
    // limit is refused.
    let longest = Duration::from_secs(cfg.token_lifetime.max(cfg.point_lifetime) as u64);
    cfg.session_idle = match idle {
        Some(i) if i <= longest => usage("--session-idle must be longer than the token lifetimes"),
        Some(i) => i,
        None => cfg.session_idle.max(longest * 2),
    };

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    runtime.block_on(async move {
        let shutdown = async move {
            let deadline = async {
                match exit_after {
                    Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = deadline => {} }
        };
        let (url, _state, handle) = serve(cfg.clone(), &addr, shutdown)
            .await
            .unwrap_or_else(|e| usage(&format!("cannot listen on {addr}: {e}")));
        if let Some(f) = url_file {
            std::fs::write(&f, &url).unwrap_or_else(|e| usage(&format!("cannot write {f}: {e}")));
        }
        println!("{}", banner(&cfg, &url));
        let _ = handle.await;
    });
}
