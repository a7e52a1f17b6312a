//! `authbridge-mock-providers`: the four mock providers alone (Point Database, pointservices, airfocus, Wazo),
//! for running a bridge against them over HTTP as it would against real ones
//! (`authbridge-bridge --upstream URL` or `--config FILE`). `--help` lists the flags.

use std::time::Duration;

use authbridge_bridge::config::parse_users;
use authbridge_bridge::mock::{MockConfig, MockProviders};
use clap::Parser;

/// authbridge-mock-providers: Point Database, pointservices, airfocus and Wazo as their seed documents
/// describe them. Never for production: the accounts and keys are the demo's.
#[derive(Parser, Debug)]
#[command(name = "authbridge-mock-providers", version, max_term_width = 110)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "AUTHBRIDGE_MOCK_ADDR", default_value = "127.0.0.1:8081", value_name = "HOST:PORT")]
    addr: String,
    /// Access-token lifetime in seconds (pointservices; Wazo's default).
    #[arg(long, env = "AUTHBRIDGE_MOCK_TOKEN_LIFETIME", default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u32).range(1..))]
    token_lifetime: u32,
    /// Point access-token lifetime in seconds [default: the --token-lifetime].
    #[arg(long, env = "AUTHBRIDGE_MOCK_POINT_LIFETIME", value_name = "SECS",
          value_parser = clap::value_parser!(u32).range(1..))]
    point_lifetime: Option<u32>,
    /// The Point apiKey the mock accepts [default: the demo's].
    #[arg(
        long,
        env = "AUTHBRIDGE_MOCK_POINT_API_KEY",
        hide_env_values = true,
        hide_default_value = true,
        default_value = "pk_demo_server_side_only",
        value_name = "KEY"
    )]
    point_api_key: String,
    /// The accounts, user:password pairs [default: the README's two].
    #[arg(
        long,
        env = "AUTHBRIDGE_MOCK_USERS",
        hide_env_values = true,
        hide_default_value = true,
        default_value = "ada:lovelace,grace:hopper",
        value_name = "USER:PASS,…"
    )]
    users: String,
    /// Stop by itself after this many seconds [default: run until Ctrl-C].
    #[arg(long, env = "AUTHBRIDGE_MOCK_EXIT_AFTER", value_name = "SECS")]
    exit_after: Option<u64>,
    /// Write the bound URL to this file once listening [default: none].
    #[arg(long, env = "AUTHBRIDGE_MOCK_PRINT_URL_FILE", value_name = "FILE")]
    print_url_file: Option<std::path::PathBuf>,
}

fn main() {
    let args = Args::parse();
    let users = parse_users(&args.users).unwrap_or_else(|e| {
        eprintln!("authbridge-mock-providers: --users: {e}");
        std::process::exit(2)
    });
    let token_lifetime = i64::from(args.token_lifetime);
    let mock = MockProviders::new(MockConfig {
        token_lifetime,
        point_lifetime: args.point_lifetime.map_or(token_lifetime, i64::from),
        point_api_key: args.point_api_key.clone(),
        users,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.addr).await.unwrap_or_else(|e| {
            eprintln!("authbridge-mock-providers: cannot listen on {}: {e}", args.addr);
            std::process::exit(1)
        });
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        if let Some(f) = &args.print_url_file {
            std::fs::write(f, &url).unwrap_or_else(|e| {
                eprintln!("authbridge-mock-providers: cannot write {}: {e}", f.display());
                std::process::exit(1)
            });
        }
        println!("\n  authbridge mock providers: {url}/ (never for production); Ctrl-C to stop\n");
        let exit_after = args.exit_after;
        let shutdown = async move {
            let deadline = async {
                match exit_after {
                    Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = deadline => {} }
        };
        let _ = axum::serve(listener, mock.router()).with_graceful_shutdown(shutdown).await;
    });
}
