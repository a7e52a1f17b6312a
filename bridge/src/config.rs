//! What a bridge is built from ([`BridgeConfig`]): the providers it fronts, the sign-in users, cookies, CORS,
//! session limits, the store and the key ring; and the TOML file that names real providers (`--config`).
//!
//! The file never holds a secret: the Point apiKey and the sign-in users are references to an environment
//! variable or a file (`{ env = "POINT_API_KEY" }`, `{ file = "/run/secrets/point" }`), resolved at startup.
//!
//! ```toml
//! [providers.point]
//! base_url = "https://api.point.example"
//! api_key = { env = "POINT_API_KEY" }
//!
//! [providers.pointservices]
//! base_url = "https://api.pointservices.com"
//!
//! [providers.airfocus]
//! base_url = "https://app.airfocus.com"
//!
//! [providers.wazo]
//! base_url = "https://wazo.example.com"
//! client_id = "my-app"
//! token_lifetime = 3600
//!
//! # Point has no password check of its own: the bridge checks these user:password pairs.
//! [sign_in]
//! users = { file = "/run/secrets/authbridge-users" }
//! ```

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::seal::KeyRing;

/// A secret's value. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// A provider the bridge reaches at `base_url` (no trailing slash).
#[derive(Clone, Debug)]
pub struct Provider {
    /// Where its API is, e.g. `https://api.pointservices.com`.
    pub base_url: String,
}

/// Point Database: the customer's apiKey mints user tokens.
#[derive(Clone, Debug)]
pub struct PointProvider {
    /// Where its API is.
    pub base_url: String,
    /// The customer's apiKey: sent to this provider only.
    pub api_key: Secret,
}

/// Wazo: refresh tokens bound to a `client_id`; access tokens asked for `token_lifetime` seconds.
#[derive(Clone, Debug)]
pub struct WazoProvider {
    /// Where its API is.
    pub base_url: String,
    /// The application's `client_id`, which its refresh tokens are bound to.
    pub client_id: String,
    /// Seconds each access token is asked for.
    pub token_lifetime: i64,
}

/// The providers a bridge fronts. One left out is not served: its routes answer `404 unknown_provider`.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    /// Point Database.
    pub point: Option<PointProvider>,
    /// pointservices.
    pub pointservices: Option<Provider>,
    /// airfocus.
    pub airfocus: Option<Provider>,
    /// Wazo.
    pub wazo: Option<WazoProvider>,
}

impl Providers {
    /// All four at one base URL (the mock providers, or `--upstream`).
    pub fn all_at(base_url: &str, point_api_key: &str, wazo_token_lifetime: i64) -> Self {
        let base_url = base_url.trim_end_matches('/').to_owned();
        Self {
            point: Some(PointProvider { base_url: base_url.clone(), api_key: Secret(point_api_key.to_owned()) }),
            pointservices: Some(Provider { base_url: base_url.clone() }),
            airfocus: Some(Provider { base_url: base_url.clone() }),
            wazo: Some(WazoProvider {
                base_url,
                client_id: "authbridge-demo".into(),
                token_lifetime: wazo_token_lifetime,
            }),
        }
    }

    /// The base URL of a configured provider.
    pub fn base_url(&self, provider: &str) -> Option<&str> {
        match provider {
            "point" => self.point.as_ref().map(|p| p.base_url.as_str()),
            "pointservices" => self.pointservices.as_ref().map(|p| p.base_url.as_str()),
            "airfocus" => self.airfocus.as_ref().map(|p| p.base_url.as_str()),
            "wazo" => self.wazo.as_ref().map(|p| p.base_url.as_str()),
            _ => None,
        }
    }

    /// The names of the configured providers.
    pub fn names(&self) -> Vec<&'static str> {
        ["point", "pointservices", "airfocus", "wazo"].into_iter().filter(|p| self.base_url(p).is_some()).collect()
    }
}

/// Everything a [`crate::Bridge`] is built from. Its `Debug` shows no secret.
#[derive(Clone)]
pub struct BridgeConfig {
    /// The providers it fronts.
    pub providers: Providers,
    /// Users the bridge itself checks at a Point sign-in, as (username, password).
    pub users: Vec<(String, String)>,
    /// `Secure` on cookies (serve over https).
    pub secure_cookies: bool,
    /// Origins allowed to call the bridge's routes with CORS, besides its own; each as
    /// [`crate::parse_origin`] returns it.
    pub allowed_origins: Vec<String>,
    /// A session ends after this long without a bridge call (keep it above the access-token lifetimes)…
    pub session_idle: Duration,
    /// …and this long after sign-in in any case.
    pub session_max: Duration,
    /// At most this many sessions: when full, the least recently used one is ended to make room.
    pub max_sessions: usize,
    /// Where sessions live: `memory`, `sqlite:PATH` or `postgres://…` ([`crate::store::open`]).
    pub store: String,
    /// The key ring sealing every session secret. `None`: a memory store gets a random key; an SQLite store
    /// uses the key file beside its database, created on first use; a PostgreSQL store refuses to start.
    pub keys: Option<KeyRing>,
    /// Sign-in attempts a minute per user (and provider), allowed as a burst; beyond, 429 with `Retry-After`.
    pub sign_in_per_user: u32,
    /// Sign-in attempts a minute per client address.
    pub sign_in_per_address: u32,
    /// Print one JSON line per request to stderr.
    pub log_requests: bool,
    /// Tests: log lines are collected here (whatever `log_requests` says) instead of printed.
    pub log_sink: Option<Arc<Mutex<Vec<String>>>>,
}

impl fmt::Debug for BridgeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeConfig")
            .field("providers", &self.providers)
            .field("users", &user_names(&self.users))
            .field("secure_cookies", &self.secure_cookies)
            .field("allowed_origins", &self.allowed_origins)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .field("max_sessions", &self.max_sessions)
            .field("store", &if crate::store::is_postgres(&self.store) { "postgres://…" } else { &self.store })
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Default for BridgeConfig {
    fn default() -> Self {
        Self {
            providers: Providers::default(),
            users: Vec::new(),
            secure_cookies: false,
            allowed_origins: Vec::new(),
            session_idle: Duration::from_secs(1800),
            session_max: Duration::from_secs(86_400),
            max_sessions: 10_000,
            store: "memory".into(),
            keys: None,
            sign_in_per_user: 10,
            sign_in_per_address: 60,
            log_requests: true,
            log_sink: None,
        }
    }
}

/// Where a secret comes from: `{ env = "NAME" }` or `{ file = "PATH" }`.
#[derive(Debug)]
enum SecretRef {
    Env(String),
    File(String),
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            env: Option<String>,
            file: Option<String>,
        }
        // Anything else (a plain string above all) is refused without repeating it: it may be the secret.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Table(Table),
            #[allow(dead_code)]
            Other(toml::Value),
        }
        let refuse = || {
            serde::de::Error::custom(
                "a secret is { env = \"VARIABLE\" } or { file = \"PATH\" }, never written in the config file",
            )
        };
        match Raw::deserialize(d)? {
            Raw::Table(Table { env: Some(e), file: None }) => Ok(Self::Env(e)),
            Raw::Table(Table { env: None, file: Some(f) }) => Ok(Self::File(f)),
            _ => Err(refuse()),
        }
    }
}

impl SecretRef {
    /// The secret's value (a file's contents without the final line break). Errors name the variable or file.
    fn resolve(&self, what: &str) -> Result<Secret, String> {
        let value = match self {
            Self::Env(name) => std::env::var(name).map_err(|_| format!("{what}: the variable {name} is not set"))?,
            Self::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("{what}: cannot read {path}: {e}"))?
                .trim_end_matches(['\n', '\r'])
                .to_owned(),
        };
        if value.is_empty() {
            return Err(format!("{what} is empty"));
        }
        Ok(Secret(value))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProvider {
    base_url: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePoint {
    base_url: String,
    api_key: SecretRef,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWazo {
    base_url: String,
    client_id: String,
    #[serde(default = "default_wazo_lifetime")]
    token_lifetime: i64,
}

fn default_wazo_lifetime() -> i64 {
    3600
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileProviders {
    point: Option<FilePoint>,
    pointservices: Option<FileProvider>,
    airfocus: Option<FileProvider>,
    wazo: Option<FileWazo>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileSignIn {
    users: Option<SecretRef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    providers: FileProviders,
    #[serde(default)]
    sign_in: FileSignIn,
}

/// The providers and sign-in users a config file names, with every secret resolved. Its `Debug` names the
/// users, never their passwords.
#[derive(Clone)]
pub struct FileConfig {
    /// The providers named.
    pub providers: Providers,
    /// Point sign-in users, as (username, password).
    pub users: Vec<(String, String)>,
}

impl fmt::Debug for FileConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileConfig")
            .field("providers", &self.providers)
            .field("users", &user_names(&self.users))
            .finish()
    }
}

/// The names of `users`, for a `Debug` that must not print passwords.
pub fn user_names(users: &[(String, String)]) -> Vec<&str> {
    users.iter().map(|(u, _)| u.as_str()).collect()
}

/// `user:password` pairs separated by commas or lines. The error never repeats a pair (it holds a password).
pub fn parse_users(s: &str) -> Result<Vec<(String, String)>, String> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok((u.to_owned(), p.to_owned())),
            _ => Err("users are user:password pairs (one without a colon or a user was found)".to_owned()),
        })
        .collect()
}

/// A provider's base URL: http or https, no query or fragment; kept without a trailing slash.
fn base_url(provider: &str, url: &str) -> Result<String, String> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['?', '#', ' '])
        && url.split_once("://").is_some_and(|(_, rest)| !rest.is_empty() && !rest.starts_with('/'));
    if !ok {
        return Err(format!("providers.{provider}.base_url must be an http(s) URL without query or fragment"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

impl FileConfig {
    /// Parses a config file's text (`path` names it in errors). Errors give the line and the reason, never the
    /// line's text.
    pub fn parse(path: &str, text: &str) -> Result<Self, String> {
        let file: File = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            match line {
                Some(l) => format!("{path}:{l}: {}", e.message()),
                None => format!("{path}: {}", e.message()),
            }
        })?;
        let p = file.providers;
        let providers = Providers {
            point: match p.point {
                Some(x) => Some(PointProvider {
                    base_url: base_url("point", &x.base_url)?,
                    api_key: x.api_key.resolve("providers.point.api_key")?,
                }),
                None => None,
            },
            pointservices: match p.pointservices {
                Some(x) => Some(Provider { base_url: base_url("pointservices", &x.base_url)? }),
                None => None,
            },
            airfocus: match p.airfocus {
                Some(x) => Some(Provider { base_url: base_url("airfocus", &x.base_url)? }),
                None => None,
            },
            wazo: match p.wazo {
                Some(x) if x.client_id.is_empty() => return Err("providers.wazo.client_id is empty".into()),
                Some(x) if !(1..=864_000).contains(&x.token_lifetime) => {
                    return Err("providers.wazo.token_lifetime must be 1 to 864000 seconds".into())
                }
                Some(x) => Some(WazoProvider {
                    base_url: base_url("wazo", &x.base_url)?,
                    client_id: x.client_id,
                    token_lifetime: x.token_lifetime,
                }),
                None => None,
            },
        };
        if providers.names().is_empty() {
            return Err(format!("{path}: no provider configured ([providers.point], [providers.wazo]…)"));
        }
        let users = match file.sign_in.users {
            Some(r) => parse_users(&r.resolve("sign_in.users")?.0).map_err(|e| format!("sign_in.users: {e}"))?,
            None => Vec::new(),
        };
        if providers.point.is_some() && users.is_empty() {
            return Err(format!("{path}: Point sign-in needs [sign_in] users (Point checks no password itself)"));
        }
        Ok(Self { providers, users })
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--config {path}: {e}"))?;
        Self::parse(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_names_providers_and_takes_secrets_from_the_environment_or_files() {
        let dir = std::env::temp_dir().join(format!("authbridge-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let users = dir.join("users");
        std::fs::write(&users, "ada:pw-from-file\ngrace:other\n").unwrap();
        std::env::set_var("AUTHBRIDGE_TEST_POINT_KEY", "pk_from_env");
        let text = format!(
            "[providers.point]\nbase_url = \"https://point.example/\"\napi_key = {{ env = \"AUTHBRIDGE_TEST_POINT_KEY\" }}\n\
             [providers.wazo]\nbase_url = \"https://wazo.example\"\nclient_id = \"app\"\n\
             [sign_in]\nusers = {{ file = \"{}\" }}\n",
            users.display()
        );
        let c = FileConfig::parse("bridge.toml", &text).unwrap();
        let point = c.providers.point.as_ref().unwrap();
        assert_eq!((point.base_url.as_str(), point.api_key.0.as_str()), ("https://point.example", "pk_from_env"));
        assert_eq!(c.providers.wazo.as_ref().unwrap().token_lifetime, 3600);
        assert_eq!(c.providers.names(), ["point", "wazo"]);
        assert_eq!(c.users[0], ("ada".to_owned(), "pw-from-file".to_owned()));
        assert!(!format!("{c:?}").contains("pk_from_env") && !format!("{c:?}").contains("pw-from-file"));
        let b = BridgeConfig { providers: c.providers.clone(), users: c.users.clone(), ..BridgeConfig::default() };
        assert!(!format!("{b:?}").contains("pk_from_env") && !format!("{b:?}").contains("pw-from-file"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_secret_written_in_the_file_is_refused_without_being_repeated() {
        for text in [
            "[providers.point]\nbase_url = \"https://p.example\"\napi_key = \"pk_live_SECRET\"\n",
            "[providers.point]\nbase_url = \"https://p.example\"\napi_key = { value = \"pk_live_SECRET\" }\n",
            "[providers.point]\nbase_url = \"https://p.example\"\napi_key = { env = \"X\" }\npassword = \"pk_live_SECRET\"\n",
            "[providers.point]\nbase_url = \"https://p.example\"\napi_key = { env = \"X\" }\n[sign_in]\nusers = \"ada:pk_live_SECRET\"\n",
        ] {
            let e = FileConfig::parse("bridge.toml", text).unwrap_err();
            assert!(!e.contains("SECRET"), "{e}");
            assert!(e.starts_with("bridge.toml:"), "{e}");
        }
    }

    #[test]
    fn the_example_file_parses() {
        std::env::set_var("POINT_API_KEY", "pk_example");
        let text = include_str!("../bridge.example.toml").replace("/run/secrets/authbridge-users", "/dev/null");
        // The users file is empty here: Point then needs users, which is the error expected.
        let e = FileConfig::parse("bridge.example.toml", &text).unwrap_err();
        assert!(e.contains("sign_in.users is empty"), "{e}");
        let without_point = text.replace("[providers.point]", "[providers.unused]");
        let e = FileConfig::parse("x", &without_point).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
    }

    #[test]
    fn bad_files_are_refused() {
        for (text, why) in [
            ("", "no provider"),
            ("[providers.airfocus]\nbase_url = \"ftp://a\"\n", "http(s) URL"),
            ("[providers.wazo]\nbase_url = \"https://w\"\nclient_id = \"\"\n", "client_id"),
            (
                "[providers.point]\nbase_url = \"https://p\"\napi_key = { env = \"AUTHBRIDGE_TEST_UNSET_VARIABLE\" }\n",
                "not set",
            ),
            ("[providers.other]\nbase_url = \"https://p\"\n", "unknown field"),
        ] {
            let e = FileConfig::parse("f.toml", text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
        std::env::set_var("AUTHBRIDGE_TEST_POINT_KEY2", "k");
        let e = FileConfig::parse(
            "f.toml",
            "[providers.point]\nbase_url = \"https://p\"\napi_key = { env = \"AUTHBRIDGE_TEST_POINT_KEY2\" }\n",
        )
        .unwrap_err();
        assert!(e.contains("needs [sign_in] users"), "{e}");
    }
}
