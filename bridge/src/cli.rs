//! The binary's flags. Each one also reads from the environment as `AUTHBRIDGE_<FLAG>` (the right place for a
//! secret: a command line is visible to every user of the machine), and a flag overrides its variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{BoolishValueParser, TypedValueParser};
use clap::Parser;

use crate::config::FileConfig;
use crate::seal::KeyRing;
use crate::{parse_origin, Config};

/// `--users`: `user:password` pairs separated by commas. Checked in [`Args::config`], not by clap, whose
/// refusal would echo the value (and its passwords).
fn parse_users(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split(',')
        .map(|p| match p.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok((u.to_owned(), p.to_owned())),
            // The pair itself is not echoed: it holds a password.
            _ => Err("--users takes user:password,… (a pair without a colon or a user)".to_owned()),
        })
        .collect()
}

/// `--keys`: a ring, or `file:PATH`. Errors name the file or the entry, never a key.
fn key_ring(value: &str) -> Result<KeyRing, String> {
    match value.strip_prefix("file:") {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("--keys: cannot read {path}: {e}"))?;
            KeyRing::parse(&text).map_err(|e| format!("--keys {path}: {e}"))
        }
        None => KeyRing::parse(value).map_err(|e| format!("--keys: {e}")),
    }
}

/// A boolean flag that also takes `=true`/`=false`, and the same words (or yes/no, 1/0) from its variable.
fn boolish() -> impl TypedValueParser<Value = bool> {
    BoolishValueParser::new()
}

/// authbridge-bridge: the reference bridging backend with mock providers and the demo page.
///
/// The bridge holds the provider secrets and hands the browser only short-lived access tokens. Every flag also
/// reads from the environment variable shown beside it; a flag given on the command line wins.
#[derive(Parser, Debug, Clone)]
#[command(name = "authbridge-bridge", version, max_term_width = 110)]
pub struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, env = "AUTHBRIDGE_ADDR", default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,

    /// Access-token lifetime in seconds for pointservices and Wazo (and Point unless --point-lifetime is set).
    #[arg(long, env = "AUTHBRIDGE_TOKEN_LIFETIME", default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub token_lifetime: u32,

    /// Point access-token lifetime in seconds [default: the --token-lifetime].
    #[arg(long, env = "AUTHBRIDGE_POINT_LIFETIME", value_name = "SECS",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub point_lifetime: Option<u32>,

    /// The Point Database apiKey (a secret: pass it in the environment). The default is the demo's.
    #[arg(
        long,
        env = "AUTHBRIDGE_POINT_API_KEY",
        hide_env_values = true,
        hide_default_value = true,
        default_value = "pk_demo_server_side_only",
        value_name = "KEY"
    )]
    pub point_api_key: String,

    /// Demo users as user:password pairs (secrets: pass them in the environment) [default: the README's two].
    #[arg(
        long,
        env = "AUTHBRIDGE_USERS",
        hide_env_values = true,
        hide_default_value = true,
        default_value = "ada:lovelace,grace:hopper",
        value_name = "USER:PASS,…"
    )]
    pub users: String,

    /// A TOML file naming the real providers the bridge fronts and how users sign in
    /// (bridge/bridge.example.toml); secrets come from the environment or files it names, never from the file
    /// itself. With it: no mock providers, no demo page [default: this server's own mock providers].
    #[arg(long, env = "AUTHBRIDGE_CONFIG", value_name = "FILE", conflicts_with = "upstream")]
    pub config: Option<String>,

    /// Base URL of real providers, all four at one URL (demo page kept, no mock providers) [default: this
    /// server's own mock providers].
    #[arg(long, env = "AUTHBRIDGE_UPSTREAM", value_name = "URL")]
    pub upstream: Option<String>,

    /// Folder served at / (the demo page) [default: www/ of the source tree].
    #[arg(long, env = "AUTHBRIDGE_WWW", value_name = "DIR")]
    pub www: Option<PathBuf>,

    /// Folder served at /pkg/ (the built package) [default: pkg/ of the source tree].
    #[arg(long, env = "AUTHBRIDGE_PKG", value_name = "DIR")]
    pub pkg: Option<PathBuf>,

    /// Mark cookies `Secure` (serve over https).
    #[arg(long, env = "AUTHBRIDGE_SECURE_COOKIES", default_value_t = false, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_parser = boolish(), value_name = "BOOL")]
    pub secure_cookies: bool,

    /// An origin allowed to call the bridge with CORS, besides the server's own (repeatable; comma-separated
    /// in the variable). No `*`, `null`, path or user.
    #[arg(long, env = "AUTHBRIDGE_ALLOW_ORIGIN", value_delimiter = ',', value_name = "ORIGIN",
          value_parser = parse_origin)]
    pub allow_origin: Vec<String>,

    /// A session ends after this many seconds without a bridge call; must exceed the token lifetimes
    /// [default: 1800, or twice the longest token lifetime if that is more].
    #[arg(long, env = "AUTHBRIDGE_SESSION_IDLE", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub session_idle: Option<u64>,

    /// A session ends this many seconds after sign-in in any case.
    #[arg(long, env = "AUTHBRIDGE_SESSION_MAX", default_value_t = 86_400, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub session_max: u64,

    /// At most this many sessions: when full, the least recently used one is ended (and revoked upstream).
    #[arg(long, env = "AUTHBRIDGE_MAX_SESSIONS", default_value_t = 10_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_sessions: u64,

    /// Sign-in attempts allowed a minute per user name (and provider), as a burst; beyond, 429 with Retry-After.
    #[arg(long, env = "AUTHBRIDGE_SIGN_IN_PER_USER", default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_per_user: u32,

    /// Sign-in attempts allowed a minute per client address (the connecting one: set it high behind a proxy).
    #[arg(long, env = "AUTHBRIDGE_SIGN_IN_PER_ADDRESS", default_value_t = 60, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_per_address: u32,

    /// Where sessions live: sqlite:PATH (survives restarts; processes on one machine may share it),
    /// postgres://USER:PASSWORD@HOST:PORT/DB (several replicas; needs --keys; a URL with a password belongs in
    /// the environment) or memory (tests: gone at exit).
    #[arg(
        long,
        env = "AUTHBRIDGE_STORE",
        hide_env_values = true,
        default_value = "sqlite:authbridge-sessions.db",
        value_name = "STORE"
    )]
    pub store: String,

    /// The key ring sealing session secrets: id:key,… (32-byte keys in base64url; the first seals, all open),
    /// or file:PATH naming a file of such lines. A secret: pass it in the environment [default: an SQLite
    /// store's PATH.keys, created on first use; a memory store's random key].
    #[arg(long, env = "AUTHBRIDGE_KEYS", hide_env_values = true, value_name = "KEYS")]
    pub keys: Option<String>,

    /// Print a new random key for --keys and exit.
    #[arg(long, default_value_t = false, env = "AUTHBRIDGE_GENERATE_KEY", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = boolish(), value_name = "BOOL")]
    pub generate_key: bool,

    /// Enable the /test/* hooks (fault injection, counters, secrets list). Never in production.
    #[arg(long, env = "AUTHBRIDGE_TEST_HOOKS", default_value_t = false, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_parser = boolish(), value_name = "BOOL")]
    pub test_hooks: bool,

    /// Do not log one JSON line per request to stderr.
    #[arg(long, env = "AUTHBRIDGE_QUIET", default_value_t = false, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", value_parser = boolish(), value_name = "BOOL")]
    pub quiet: bool,

    /// Stop by itself after this many seconds (tests) [default: run until Ctrl-C].
    #[arg(long, env = "AUTHBRIDGE_EXIT_AFTER", value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub exit_after: Option<u64>,

    /// Write the bound URL (e.g. http://127.0.0.1:40123) to this file once listening (tests) [default: none].
    #[arg(long, env = "AUTHBRIDGE_PRINT_URL_FILE", value_name = "FILE")]
    pub print_url_file: Option<PathBuf>,
}

impl Args {
    /// The server configuration these flags describe, or why they are inconsistent.
    pub fn config(&self) -> Result<Config, String> {
        let defaults = Config::default();
        let token_lifetime = i64::from(self.token_lifetime);
        let point_lifetime = self.point_lifetime.map_or(token_lifetime, i64::from);
        // Idle means "no bridge call": a browser calls once per token lifetime, so an idle limit shorter than
        // that would end every session between two refreshes. The default grows with the lifetimes; a
        // shorter explicit limit is refused.
        let longest = Duration::from_secs(token_lifetime.max(point_lifetime) as u64);
        let session_idle = match self.session_idle.map(Duration::from_secs) {
            Some(i) if i <= longest => return Err("--session-idle must be longer than the token lifetimes".into()),
            Some(i) => i,
            None => defaults.session_idle.max(longest * 2),
        };
        Ok(Config {
            token_lifetime,
            point_lifetime,
            point_api_key: self.point_api_key.clone(),
            users: parse_users(&self.users)?,
            secure_cookies: self.secure_cookies,
            allowed_origins: self.allow_origin.clone(),
            session_idle,
            session_max: Duration::from_secs(self.session_max),
            max_sessions: usize::try_from(self.max_sessions).unwrap_or(usize::MAX),
            store: self.store.clone(),
            keys: self.keys.as_deref().map(key_ring).transpose()?,
            sign_in_per_user: self.sign_in_per_user,
            sign_in_per_address: self.sign_in_per_address,
            upstream: self.upstream.clone(),
            providers: self.config.as_deref().map(FileConfig::load).transpose()?,
            www_dir: self.www.clone().unwrap_or(defaults.www_dir.clone()),
            pkg_dir: self.pkg.clone().unwrap_or(defaults.pkg_dir.clone()),
            test_hooks: self.test_hooks,
            log_requests: !self.quiet,
            ..defaults
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Args, clap::Error> {
        Args::try_parse_from(std::iter::once("authbridge-bridge").chain(args.iter().copied()))
    }

    #[test]
    fn flags_parse_as_before() {
        let a = parse(&[
            "--addr",
            "127.0.0.1:0",
            "--token-lifetime=4",
            "--point-lifetime",
            "9",
            "--users",
            "a:b,c:d:e",
            "--allow-origin",
            "https://App.example.com",
            "--allow-origin=http://localhost:5173",
            "--secure-cookies",
            "--test-hooks",
            "--quiet=false",
        ])
        .unwrap();
        let c = a.config().unwrap();
        assert_eq!((c.token_lifetime, c.point_lifetime), (4, 9));
        assert_eq!(c.users, vec![("a".into(), "b".into()), ("c".into(), "d:e".into())]);
        assert_eq!(c.allowed_origins, ["https://app.example.com", "http://localhost:5173"]);
        assert!(c.secure_cookies && c.test_hooks && c.log_requests);
        assert_eq!(c.session_idle, Duration::from_secs(1800));
        assert_eq!(parse(&[]).unwrap().config().unwrap().point_lifetime, 30);
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["--token-lifetime", "0"][..],
            &["--token-lifetime", "x"],
            &["--allow-origin", "*"],
            &["--max-sessions", "-1"],
            &["--unknown"],
            &["stray"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&["--users", "nocolon"]).unwrap().config().is_err());
        let short_idle = parse(&["--token-lifetime", "60", "--session-idle", "60"]).unwrap();
        assert!(short_idle.config().is_err());
        // A refused --users value never echoes the password it may hold.
        let e = parse(&["--users", "ada:secret-pw,broken"]).unwrap().config().unwrap_err();
        assert!(!e.contains("secret-pw"), "{e}");
    }

    #[test]
    fn help_names_every_flag_with_its_variable_and_default() {
        let help = Args::command().render_long_help().to_string();
        for arg in Args::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let var = format!("AUTHBRIDGE_{}", long.to_uppercase().replace('-', "_"));
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(var.as_str()), "--{long}");
            assert!(help.contains(&format!("--{long}")) && help.contains(&var), "--{long} / {var} in\n{help}");
            let documented_default = !arg.get_default_values().is_empty()
                || arg.get_help().is_some_and(|h| h.to_string().contains("[default:"))
                || arg.get_long_help().is_some_and(|h| h.to_string().contains("[default:"));
            let repeatable = long == "allow-origin";
            assert!(documented_default || repeatable, "--{long} names no default");
        }
    }
}
