//! `authbridge-bridge`: the reference bridging backend with mock providers and the demo page.
//! `authbridge-bridge --help` lists every flag, its environment variable (`AUTHBRIDGE_<FLAG>`) and its default.

use std::time::Duration;

use authbridge_bridge::cli::Args;
use authbridge_bridge::{banner, serve};
use clap::{CommandFactory, Parser};

/// Exits as clap does for a bad flag (status 2), with the usage line.
fn fail(message: &str) -> ! {
    Args::command().error(clap::error::ErrorKind::ValueValidation, message).exit()
}

fn main() {
    let args = Args::parse();
    if args.generate_key {
        println!("{}", authbridge_bridge::seal::generate_key());
        return;
    }
    let cfg = args.config().unwrap_or_else(|e| fail(&e));
    let (addr, exit_after, url_file) = (args.addr.clone(), args.exit_after, args.print_url_file.clone());

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
        let (url, _state, handle) = serve(cfg.clone(), &addr, shutdown).await.unwrap_or_else(|e| {
            eprintln!("authbridge-bridge: cannot listen on {addr}: {e}");
            std::process::exit(1)
        });
        if let Some(f) = url_file {
            std::fs::write(&f, &url).unwrap_or_else(|e| {
                eprintln!("authbridge-bridge: cannot write {}: {e}", f.display());
                std::process::exit(1)
            });
        }
        println!("{}", banner(&cfg, &url));
        let _ = handle.await;
    });
}
