//! The options of `new AuthClient(options)` (JS) and of `web::Client::new` (Rust): every rule and every message,
//! in one place. The executor reads the caller's value into a [`Value`] (own properties only, getters that throw
//! read as absent) and gathers the [`Platform`] facts; [`check`] decides. The Rust [`Options`] become a [`Value`]
//! too ([`Options::to_value`]), so both APIs go through the same rules.
//!
//! The caller's object is hostile input: a property planted on `Object.prototype` never reaches a `Value`, and
//! unknown keys are refused (a misspelt `autorefresh` would otherwise be ignored silently).

use std::collections::BTreeMap;

use crate::time::Millis;
use crate::token::{CustomFormat, Format};

/// A JavaScript value as the executor read it from the caller: own properties only.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `undefined`, no own property of that name, or a getter that threw.
    Absent,
    Null,
    Bool(bool),
    Number(f64),
    Text(String),
    /// An array: its `length`, and its own elements from 0 (`Absent` for holes), as many as were read.
    List {
        len: u32,
        items: Vec<Value>,
    },
    /// An object: its own string-keyed properties in order, and whether it has symbol keys too. The executor
    /// reads nested objects only as deep as an option goes; deeper ones arrive with no entries.
    Object {
        entries: Vec<(String, Value)>,
        symbol_keys: bool,
    },
    Function,
    Symbol,
    BigInt,
}

impl Value {
    /// The own property `key` of an object (`Absent` for anything else).
    pub fn get(&self, key: &str) -> &Value {
        match self {
            Value::Object { entries, .. } => entries.iter().find(|(k, _)| k == key).map_or(&Value::Absent, |(_, v)| v),
            _ => &Value::Absent,
        }
    }

    /// A string value.
    fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// How an error message names a value: strings quoted (cut at 80 characters), numbers as JavaScript prints them,
/// anything else by its kind.
pub fn describe(v: &Value, rt: &dyn Runtime) -> String {
    match v {
        Value::Text(s) => match s.char_indices().nth(80) {
            Some((cut, _)) => format!("'{}…'", &s[..cut]),
            None => format!("'{s}'"),
        },
        Value::Number(n) => format!("the number {}", rt.number_text(*n)),
        Value::Absent => "nothing".into(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::List { len: 0, .. } => "an empty array".into(),
        Value::List { .. } => "an array".into(),
        Value::Object { .. } => "an object".into(),
        Value::Function => "a function".into(),
        Value::Symbol => "a symbol".into(),
        Value::BigInt => "a bigint".into(),
    }
}

/// What the executor knows of the platform.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Platform {
    /// A browser (a page or a worker), told by how its fetch treats headers: see `browserPlatform` in
    /// js/platform.js. Pages and workers send the bridge's session cookie and keep timers; server runtimes have no
    /// cookie jar (and some refuse the `credentials` field), and request-scoped ones (workerd, Deno Deploy)
    /// refresh lazily.
    pub browser: bool,
    /// A browser window, whose `sessionStorage` or `localStorage` the client may use.
    pub window: bool,
    /// The global `location.href` (pages, workers): relative URLs resolve against it. None in Node, Deno and
    /// workerd, where a relative URL has nothing to resolve against.
    pub base: Option<String>,
}

/// A URL as the platform's URL parser (WHATWG) gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedUrl {
    /// The whole URL, normalised (scheme and host lowercase, default port dropped).
    pub href: String,
    /// Scheme, host and port: `https://api.example.com`.
    pub origin: String,
}

/// What the option rules ask of the platform.
pub trait Runtime {
    /// `new URL(text, base)`, `None` where it throws.
    fn parse_url(&self, text: &str, base: Option<&str>) -> Option<ParsedUrl>;
    /// `String(n)`: a number the caller gave, as a message shows it.
    fn number_text(&self, n: f64) -> String;
}

/// The Rust API's options (see the package README for each), checked by [`check`] like `AuthClient`'s. `None`
/// and empty values leave the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// The bridge's token endpoint (absolute, or relative to the page).
    pub token_url: String,
    /// The exact origins the token may be sent to.
    pub api_origins: Vec<String>,
    pub revoke_url: Option<String>,
    /// How to read the bridge's response: a provider's name, or JSON pointers (`Auto` when `None`).
    pub format: Option<FormatOption>,
    pub header: Option<String>,
    /// Where the token is kept (`Session` when `None`).
    pub storage: Option<Storage>,
    pub storage_key: Option<String>,
    /// The `credentials` of bridge calls (`Include` in pages and workers when `None`; unset on server runtimes).
    pub credentials: Option<Credentials>,
    /// Extra headers of the bridge calls (a CSRF token, a worker's API key).
    pub bridge_headers: BTreeMap<String, String>,
    /// Seconds.
    pub refresh_margin: Option<f64>,
    pub auto_refresh: Option<bool>,
    /// Seconds.
    pub bridge_timeout: Option<f64>,
}

/// The `storage` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// `sessionStorage`: the tab's own, shared with its workers through the channel.
    Session,
    /// `localStorage`: shared by every tab of the origin.
    Local,
    /// This context's memory only: never stored, never shared with peers.
    Memory,
}

impl Storage {
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Session => "session",
            Storage::Local => "local",
            Storage::Memory => "memory",
        }
    }
}

/// The `credentials` option (Fetch's `RequestCredentials`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    Omit,
    SameOrigin,
    Include,
}

impl Credentials {
    pub fn as_str(self) -> &'static str {
        match self {
            Credentials::Omit => "omit",
            Credentials::SameOrigin => "same-origin",
            Credentials::Include => "include",
        }
    }
}

/// The `format` option: a provider's response shape, or where a response of another shape keeps the token.
#[derive(Clone, Debug, PartialEq)]
pub enum FormatOption {
    /// A provider's shape (detected from the response with [`FormatName::Auto`]).
    Name(FormatName),
    /// JSON pointers into the bridge's response, such as `/data/token`.
    Custom {
        token: String,
        /// Seconds from now.
        expires_in: Option<String>,
        /// An absolute time (ISO 8601 or seconds since the epoch).
        expires_at: Option<String>,
    },
}

/// The providers' response shapes (see the README's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatName {
    Auto,
    OAuth2,
    Point,
    Wazo,
    Static,
}

impl FormatName {
    const ALL: [FormatName; 5] =
        [FormatName::Auto, FormatName::OAuth2, FormatName::Point, FormatName::Wazo, FormatName::Static];

    pub fn as_str(self) -> &'static str {
        match self {
            FormatName::Auto => "auto",
            FormatName::OAuth2 => "oauth2",
            FormatName::Point => "point",
            FormatName::Wazo => "wazo",
            FormatName::Static => "static",
        }
    }
}

impl From<FormatName> for FormatOption {
    fn from(name: FormatName) -> Self {
        FormatOption::Name(name)
    }
}

impl From<FormatName> for Format {
    fn from(name: FormatName) -> Self {
        match name {
            FormatName::Auto => Format::Auto,
            FormatName::OAuth2 => Format::OAuth2,
            FormatName::Point => Format::Point,
            FormatName::Wazo => Format::Wazo,
            FormatName::Static => Format::Static,
        }
    }
}

/// The option names, in the order the README lists them.
pub const OPTIONS: [&str; 12] = [
    "tokenUrl",
    "revokeUrl",
    "apiOrigins",
    "format",
    "header",
    "storage",
    "storageKey",
    "credentials",
    "bridgeHeaders",
    "refreshMargin",
    "autoRefresh",
    "bridgeTimeout",
];

/// More API origins than this is a mistake (a list generated from something else), not a configuration.
pub const MAX_API_ORIGINS: u32 = 100;

const DEFAULT_BRIDGE_TIMEOUT_MS: Millis = 10_000;

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

impl Options {
    /// The object `AuthClient` would be given: `None` and empty values left out.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![
            ("tokenUrl".to_owned(), text(&self.token_url)),
            (
                "apiOrigins".to_owned(),
                Value::List {
                    len: self.api_origins.len() as u32,
                    items: self.api_origins.iter().map(|o| text(o)).collect(),
                },
            ),
        ];
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                entries.push((key.to_owned(), v));
            }
        };
        put("revokeUrl", self.revoke_url.as_deref().map(text));
        put(
            "format",
            self.format.as_ref().map(|f| match f {
                FormatOption::Name(name) => text(name.as_str()),
                FormatOption::Custom { token, expires_in, expires_at } => {
                    let pointers = [
                        ("token", Some(token)),
                        ("expiresIn", expires_in.as_ref()),
                        ("expiresAt", expires_at.as_ref()),
                    ];
                    Value::Object {
                        entries: pointers
                            .iter()
                            .filter_map(|(k, v)| Some(((*k).to_owned(), text(v.as_ref()?))))
                            .collect(),
                        symbol_keys: false,
                    }
                }
            }),
        );
        put("header", self.header.as_deref().map(text));
        put("storage", self.storage.map(|s| text(s.as_str())));
        put("storageKey", self.storage_key.as_deref().map(text));
        put("credentials", self.credentials.map(|c| text(c.as_str())));
        put(
            "bridgeHeaders",
            (!self.bridge_headers.is_empty()).then(|| Value::Object {
                entries: self.bridge_headers.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
                symbol_keys: false,
            }),
        );
        put("refreshMargin", self.refresh_margin.map(Value::Number));
        put("autoRefresh", self.auto_refresh.map(Value::Bool));
        put("bridgeTimeout", self.bridge_timeout.map(Value::Number));
        Value::Object { entries, symbol_keys: false }
    }
}

/// The options once checked.
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// Absolute.
    pub token_url: String,
    /// Absolute; the token URL unless given.
    pub revoke_url: String,
    /// Exact origins, as the platform's URL parser normalises them.
    pub api_origins: Vec<String>,
    pub header: Option<String>,
    pub format: Format,
    pub refresh_margin_ms: Option<Millis>,
    pub bridge_timeout_ms: Millis,
    pub storage_key: Option<String>,
    pub storage: Storage,
    /// Keep the token in the window's Web Storage (of `storage`) where it can be read (a sandboxed frame's
    /// throws: then memory); otherwise in this context's memory.
    pub web_storage: bool,
    pub auto_refresh: bool,
    /// A page or a worker (see [`Platform::browser`]).
    pub browser: bool,
    /// `credentials` of bridge calls; `None` leaves it to the platform.
    pub credentials: Option<Credentials>,
    /// `[name, value]` pairs, each a valid header.
    pub bridge_headers: Vec<(String, String)>,
}

/// The message of the first broken rule: "AuthClient option `key` must be `expected`; got `value`".
fn must(rt: &dyn Runtime, key: &str, expected: &str, got: &Value) -> String {
    format!("AuthClient option `{key}` must be {expected}; got {}", describe(got, rt))
}

/// `text` as an http(s) URL (resolved against `base` unless that is None): its `href`, or with `origin` its
/// `origin` if it is an origin and nothing else (no path, query, fragment or credentials).
fn http_url(rt: &dyn Runtime, text: &str, base: Option<&str>, origin: bool) -> Option<String> {
    let u = rt.parse_url(text, base)?;
    if !u.href.starts_with("https://") && !u.href.starts_with("http://") {
        return None;
    }
    if !origin {
        return Some(u.href);
    }
    // Only a URL with no credentials, path, query or fragment serialises as its origin and `/`. The parser drops
    // an empty query or fragment (`/?`, `#`): the text says whether there was one.
    let plain = u.href.len() == u.origin.len() + 1
        && u.href.starts_with(&u.origin)
        && u.href.ends_with('/')
        && !text.ends_with("/?")
        && !text.ends_with('#');
    plain.then_some(u.origin)
}

/// An HTTP token (RFC 9110 §5.6.2): a header's name.
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A value Fetch's `Headers` accepts: a byte string (no character above U+00FF) with no NUL, CR or LF once the
/// leading and trailing HTTP whitespace Fetch strips is gone.
pub fn is_header_value(value: &str) -> bool {
    let trimmed = value.trim_matches(|c| matches!(c, '\t' | '\n' | '\r' | ' '));
    value.chars().all(|c| u32::from(c) <= 0xFF) && !trimmed.contains(['\0', '\r', '\n'])
}

/// Checks the caller's options on this platform: the options, or the message naming the first broken rule.
pub fn check(o: &Value, platform: &Platform, rt: &dyn Runtime) -> Result<Checked, String> {
    let Value::Object { entries, .. } = o else {
        return Err(
            "AuthClient needs an options object: new AuthClient({ tokenUrl, apiOrigins: ['https://api.example.com'] })"
                .into(),
        );
    };
    for (k, _) in entries {
        if !OPTIONS.contains(&k.as_str()) {
            let known = OPTIONS.iter().find(|n| n.eq_ignore_ascii_case(k));
            let hint = known.map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            return Err(format!("unknown AuthClient option `{k}`{hint}"));
        }
    }
    // A non-empty string, or None.
    let non_empty = |key: &str, expected: &str| -> Result<Option<&str>, String> {
        match o.get(key) {
            Value::Absent => Ok(None),
            Value::Text(s) if !s.is_empty() => Ok(Some(s)),
            v => Err(must(rt, key, expected, v)),
        }
    };
    let base = platform.base.as_deref();
    let url = |key: &str, u: &str| -> Result<String, String> {
        http_url(rt, u, base, false).ok_or_else(|| {
            let expected = match base {
                Some(_) => "an http(s) URL (absolute, or relative to the page)",
                None => "an absolute http(s) URL here: there is no document to resolve a relative one against",
            };
            must(rt, key, expected, &text(u))
        })
    };
    const URLS: &str = "a non-empty URL string";
    let token = non_empty("tokenUrl", URLS)?
        .ok_or_else(|| must(rt, "tokenUrl", "the bridge's token endpoint, e.g. '/auth/token'", &Value::Absent))?;
    let token_url = url("tokenUrl", token)?;
    let revoke_url = match non_empty("revokeUrl", URLS)? {
        Some(r) => url("revokeUrl", r)?,
        None => token_url.clone(),
    };
    let api_origins = check_origins(o.get("apiOrigins"), rt)?;
    const HEADER: &str = "an HTTP header name such as 'Authorization'";
    let header = non_empty("header", HEADER)?;
    if let Some(h) = header.filter(|h| !is_header_name(h)) {
        return Err(must(rt, "header", HEADER, &text(h)));
    }
    let format = check_format(o.get("format"))?;
    // Seconds in (0, max] (`zero`: [0, max]) as whole milliseconds; larger values are mistakes (milliseconds given
    // as seconds), not intentions.
    let ms = |key: &str, zero: bool, max: f64, expected: &str| -> Result<Option<Millis>, String> {
        match o.get(key) {
            Value::Absent => Ok(None),
            Value::Number(n) if (*n > 0.0 || (zero && *n == 0.0)) && *n <= max => Ok(Some((n * 1000.0) as Millis)),
            v => Err(must(rt, key, expected, v)),
        }
    };
    let refresh_margin_ms = ms("refreshMargin", true, 86_400.0, "a number of seconds from 0 to 86400")?;
    let bridge_timeout_ms = ms("bridgeTimeout", false, 600.0, "a number of seconds above 0 and at most 600")?
        .map_or(DEFAULT_BRIDGE_TIMEOUT_MS, |t| t.max(1));
    let storage_key = non_empty("storageKey", "a non-empty string")?.map(str::to_owned);
    let storage = match o.get("storage") {
        Value::Absent | Value::Null => Storage::Session,
        Value::Text(s) if s == "session" => Storage::Session,
        Value::Text(s) if s == "local" => Storage::Local,
        Value::Text(s) if s == "memory" => Storage::Memory,
        v => return Err(must(rt, "storage", "'session', 'local' or 'memory'", v)),
    };
    // The window's sessionStorage or localStorage; none (the token kept in memory) for 'memory' and outside a
    // browser's window (workers; workerd, Deno and Node, even where they offer Web Storage: Deno's is a file on the
    // server).
    let web_storage = platform.browser && platform.window && storage != Storage::Memory;
    let credentials = match o.get("credentials") {
        Value::Absent => platform.browser.then_some(Credentials::Include),
        Value::Text(s) if s == "omit" => Some(Credentials::Omit),
        Value::Text(s) if s == "same-origin" => Some(Credentials::SameOrigin),
        Value::Text(s) if s == "include" => Some(Credentials::Include),
        v => return Err(must(rt, "credentials", "'omit', 'same-origin' or 'include'", v)),
    };
    let bridge_headers = check_bridge_headers(o.get("bridgeHeaders"), rt)?;
    let auto_refresh = match o.get("autoRefresh") {
        Value::Absent => platform.browser,
        Value::Bool(b) => *b,
        v => return Err(must(rt, "autoRefresh", "true or false", v)),
    };
    Ok(Checked {
        token_url,
        revoke_url,
        api_origins,
        header: header.map(str::to_owned),
        format,
        refresh_margin_ms,
        bridge_timeout_ms,
        storage_key,
        storage,
        web_storage,
        auto_refresh,
        browser: platform.browser,
        credentials,
        bridge_headers,
    })
}

/// Exact origins: anything with a path, query, credentials, a wildcard or a non-http scheme is refused, so that
/// nobody believes a path prefix or a pattern is enforced.
fn check_origins(list: &Value, rt: &dyn Runtime) -> Result<Vec<String>, String> {
    let (len, items) = match list {
        Value::List { len, items } if *len > 0 => (*len, items),
        v => return Err(must(rt, "apiOrigins", "a non-empty array of origins like ['https://api.example.com']", v)),
    };
    if len > MAX_API_ORIGINS {
        return Err(must(rt, "apiOrigins", "at most 100 origins", list)); // MAX_API_ORIGINS
    }
    const ORIGIN: &str =
        "an array of exact origins like 'https://api.example.com' (scheme, host, optional port; no path, no wildcard)";
    let mut origins = Vec::new();
    for i in 0..len as usize {
        // Holes, and elements past those read, are absent.
        let v = items.get(i).unwrap_or(&Value::Absent);
        match v.text().filter(|s| !s.contains('*')).and_then(|s| http_url(rt, s, None, true)) {
            Some(origin) => origins.push(origin),
            None => return Err(must(rt, "apiOrigins", ORIGIN, v)),
        }
    }
    Ok(origins)
}

/// The `format` option: a name, or `{ token, expiresIn?, expiresAt? }` (JSON pointers); else the error.
pub fn check_format(f: &Value) -> Result<Format, String> {
    match f {
        Value::Absent | Value::Null => return Ok(Format::Auto),
        Value::Text(s) => {
            return match FormatName::ALL.iter().find(|n| n.as_str() == s) {
                Some(&name) => Ok(name.into()),
                None => Err(
                    "format must be 'auto', 'oauth2', 'point', 'wazo', 'static' or { token, expiresIn?, expiresAt? }"
                        .into(),
                ),
            };
        }
        _ => {}
    }
    let pointer = |key: &str| -> Result<Option<String>, String> {
        match f.get(key) {
            Value::Absent => Ok(None),
            Value::Text(p) if p.is_empty() || p.starts_with('/') => Ok(Some(p.clone())),
            _ => Err("format pointers must be JSON pointers such as '/data/token'".into()),
        }
    };
    let token = pointer("token")?.ok_or("a custom format needs a `token` JSON pointer")?;
    Ok(Format::Custom(CustomFormat { token, expires_in: pointer("expiresIn")?, expires_at: pointer("expiresAt")? }))
}

fn check_bridge_headers(extra: &Value, rt: &dyn Runtime) -> Result<Vec<(String, String)>, String> {
    const HEADERS: &str = "an object of header names to string values";
    let entries = match extra {
        Value::Absent => return Ok(Vec::new()),
        Value::Object { entries, symbol_keys: false } => entries,
        v => return Err(must(rt, "bridgeHeaders", HEADERS, v)),
    };
    let mut headers = Vec::new();
    for (name, v) in entries {
        let Value::Text(value) = v else { return Err(must(rt, "bridgeHeaders", HEADERS, v)) };
        // Fetch's own rules: a name or value fetch would refuse fails here, not at every call.
        if !is_header_name(name) || !is_header_value(value) {
            return Err(must(rt, "bridgeHeaders", "valid header names and values", &text(name)));
        }
        headers.push((name.clone(), value.clone()));
    }
    Ok(headers)
}

/// The message of the error a listener that is not a function gets.
pub fn listener_error(call: &str, described: &str) -> String {
    format!("{call}: listener must be a function; got {described}")
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// The WHATWG parser, as `new URL` in every runtime.
    struct Whatwg;

    /// A number as JavaScript prints it (`String(n)`), for the numbers an option is likely to be given.
    fn js_number(n: f64) -> String {
        if n.is_nan() {
            return "NaN".into();
        }
        if n.is_infinite() {
            return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
        }
        let magnitude = n.abs();
        if magnitude != 0.0 && !(1e-6..1e21).contains(&magnitude) {
            // Exponent form: `1e+21`, `1.5e-7`.
            let s = format!("{n:e}");
            return match s.split_once('e') {
                Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
                _ => s,
            };
        }
        if n == 0.0 {
            return "0".into(); // -0 too
        }
        format!("{n}")
    }

    impl Runtime for Whatwg {
        fn number_text(&self, n: f64) -> String {
            js_number(n)
        }

        fn parse_url(&self, text: &str, base: Option<&str>) -> Option<ParsedUrl> {
            let u = match base {
                Some(b) => url::Url::parse(b).ok()?.join(text).ok()?,
                None => url::Url::parse(text).ok()?,
            };
            Some(ParsedUrl { href: u.as_str().to_owned(), origin: u.origin().ascii_serialization() })
        }
    }

    const PAGE: Platform = Platform { browser: true, window: true, base: None };

    fn page() -> Platform {
        Platform { base: Some("https://app.example/dir/page".into()), ..PAGE }
    }

    fn server() -> Platform {
        Platform::default()
    }

    fn object(entries: &[(&str, Value)]) -> Value {
        Value::Object {
            entries: entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
            symbol_keys: false,
        }
    }

    fn list(items: &[&str]) -> Value {
        Value::List { len: items.len() as u32, items: items.iter().map(|s| text(s)).collect() }
    }

    fn base() -> Vec<(&'static str, Value)> {
        vec![("tokenUrl", text("https://bridge.example/auth/token")), ("apiOrigins", list(&["https://api.example"]))]
    }

    fn with(key: &'static str, v: Value) -> Value {
        let mut entries = base();
        entries.retain(|(k, _)| *k != key);
        entries.push((key, v));
        object(&entries)
    }

    fn refused(o: &Value, platform: &Platform) -> String {
        check(o, platform, &Whatwg).expect_err("refused")
    }

    #[test]
    fn every_rule_names_the_option_and_what_it_got() {
        let no = |key: &'static str, v: Value| refused(&with(key, v), &server());
        let long = format!("got '{}…'", "x".repeat(80));
        let too_many =
            format!("AuthClient option `apiOrigins` must be at most {MAX_API_ORIGINS} origins; got an array");
        let cases: Vec<(String, &str)> = vec![
            (refused(&Value::Null, &server()), "AuthClient needs an options object: new AuthClient({ tokenUrl, apiOrigins: ['https://api.example.com'] })"),
            (refused(&list(&[]), &server()), "AuthClient needs an options object"),
            (no("tokenUrl", Value::Number(42.0)), "AuthClient option `tokenUrl` must be a non-empty URL string; got the number 42"),
            (no("tokenUrl", text("")), "AuthClient option `tokenUrl` must be a non-empty URL string; got ''"),
            (no("tokenUrl", Value::Null), "AuthClient option `tokenUrl` must be a non-empty URL string; got null"),
            (no("tokenUrl", Value::Absent), "AuthClient option `tokenUrl` must be the bridge's token endpoint, e.g. '/auth/token'; got nothing"),
            (no("tokenUrl", text("/auth/token")), "AuthClient option `tokenUrl` must be an absolute http(s) URL here: there is no document to resolve a relative one against; got '/auth/token'"),
            (no("tokenUrl", text("ftp://bridge.example/t")), "AuthClient option `tokenUrl` must be an absolute http(s) URL here"),
            (no("revokeUrl", text("/auth/token")), "AuthClient option `revokeUrl` must be an absolute"),
            (no("apiOrigins", list(&[])), "AuthClient option `apiOrigins` must be a non-empty array of origins like ['https://api.example.com']; got an empty array"),
            (no("apiOrigins", text("https://api.example")), "AuthClient option `apiOrigins` must be a non-empty array of origins like ['https://api.example.com']; got 'https://api.example'"),
            (no("apiOrigins", Value::Absent), "AuthClient option `apiOrigins` must be a non-empty array of origins like ['https://api.example.com']; got nothing"),
            (no("apiOrigins", list(&["https://*.example.com"])), "AuthClient option `apiOrigins` must be an array of exact origins like 'https://api.example.com' (scheme, host, optional port; no path, no wildcard); got 'https://*.example.com'"),
            (no("apiOrigins", Value::List { len: 2, items: vec![text("https://api.example")] }), "AuthClient option `apiOrigins` must be an array of exact origins like 'https://api.example.com' (scheme, host, optional port; no path, no wildcard); got nothing"),
            (no("apiOrigins", Value::List { len: MAX_API_ORIGINS + 1, items: vec![] }), &too_many),
            (no("bridgeTimeout", Value::Number(0.0)), "AuthClient option `bridgeTimeout` must be a number of seconds above 0 and at most 600; got the number 0"),
            (no("bridgeTimeout", Value::Number(601.0)), "AuthClient option `bridgeTimeout` must be a number of seconds above 0 and at most 600; got the number 601"),
            (no("bridgeTimeout", Value::Number(f64::NAN)), "got the number NaN"),
            (no("refreshMargin", Value::Number(-1.0)), "AuthClient option `refreshMargin` must be a number of seconds from 0 to 86400; got the number -1"),
            (no("refreshMargin", Value::Number(1e21)), "got the number 1e+21"),
            (no("refreshMargin", Value::Number(86_400.5)), "got the number 86400.5"),
            (no("refreshMargin", text("30")), "AuthClient option `refreshMargin` must be a number of seconds from 0 to 86400; got '30'"),
            (no("credentials", text("always")), "AuthClient option `credentials` must be 'omit', 'same-origin' or 'include'; got 'always'"),
            (no("credentials", Value::Null), "AuthClient option `credentials` must be 'omit', 'same-origin' or 'include'; got null"),
            (no("storage", text("indexeddb")), "AuthClient option `storage` must be 'session', 'local' or 'memory'; got 'indexeddb'"),
            (no("storageKey", text("")), "AuthClient option `storageKey` must be a non-empty string; got ''"),
            (no("header", text("Bad Header")), "AuthClient option `header` must be an HTTP header name such as 'Authorization'; got 'Bad Header'"),
            (no("autoRefresh", text("yes")), "AuthClient option `autoRefresh` must be true or false; got 'yes'"),
            (no("autoRefresh", Value::Function), "AuthClient option `autoRefresh` must be true or false; got a function"),
            (no("bridgeHeaders", object(&[("X-CSRF-Token", Value::Number(1.0))])), "AuthClient option `bridgeHeaders` must be an object of header names to string values; got the number 1"),
            (no("bridgeHeaders", list(&["X-Key"])), "AuthClient option `bridgeHeaders` must be an object of header names to string values; got an array"),
            (no("bridgeHeaders", Value::Object { entries: vec![], symbol_keys: true }), "AuthClient option `bridgeHeaders` must be an object of header names to string values; got an object"),
            (no("bridgeHeaders", object(&[("X Bad Name", text("v"))])), "AuthClient option `bridgeHeaders` must be valid header names and values; got 'X Bad Name'"),
            (no("bridgeHeaders", object(&[("X-Ok", text("line\nbreak"))])), "AuthClient option `bridgeHeaders` must be valid header names and values; got 'X-Ok'"),
            (no("bridgeHeaders", object(&[("X-Ok", text("snowman ☃"))])), "AuthClient option `bridgeHeaders` must be valid header names and values; got 'X-Ok'"),
            (no("format", text("jwt")), "format must be 'auto', 'oauth2', 'point', 'wazo', 'static' or { token, expiresIn?, expiresAt? }"),
            (no("format", object(&[("expiresIn", text("/e"))])), "a custom format needs a `token` JSON pointer"),
            (no("format", Value::Number(5.0)), "a custom format needs a `token` JSON pointer"),
            (no("format", object(&[("token", text("data.token"))])), "format pointers must be JSON pointers such as '/data/token'"),
            (no("format", object(&[("token", text("/t")), ("expiresAt", Value::Number(1.0))])), "format pointers must be JSON pointers"),
            (no("autorefresh", Value::Bool(true)), "unknown AuthClient option `autorefresh` (did you mean `autoRefresh`?)"),
            (no("apiOrigin", list(&["https://api.example"])), "unknown AuthClient option `apiOrigin`"),
            (no("tokenUrl", text(&"x".repeat(100))), &long),
        ];
        for (got, expected) in cases {
            assert!(got.starts_with(expected) || got.ends_with(expected), "{got:?} should say {expected:?}");
        }
        assert_eq!(refused(&with("apiOrigin", Value::Absent), &server()), "unknown AuthClient option `apiOrigin`");
        // A relative URL with a page to resolve it against.
        assert_eq!(
            refused(&with("tokenUrl", text("ftp://x/")), &page()),
            "AuthClient option `tokenUrl` must be an http(s) URL (absolute, or relative to the page); got 'ftp://x/'"
        );
    }

    #[test]
    fn an_api_origin_is_an_origin_and_nothing_else() {
        for bad in [
            "https://api.example/v1",
            "https://api.example/?",
            "https://api.example/#",
            "https://api.example?q",
            "https://user@api.example",
            "https://user:pw@api.example",
            "ftp://api.example",
            "api.example",
            "/relative",
            "https://*.example",
            "",
        ] {
            let got = refused(&with("apiOrigins", list(&[bad])), &page());
            assert!(got.contains("must be an array of exact origins"), "{bad}: {got}");
        }
        let ok =
            check(&with("apiOrigins", list(&["HTTPS://API.Example:443/", "http://127.0.0.1:8080"])), &page(), &Whatwg)
                .expect("origins");
        assert_eq!(
            ok.api_origins,
            ["https://api.example", "http://127.0.0.1:8080"],
            "as the URL parser normalises them"
        );
    }

    #[test]
    fn defaults_follow_the_platform() {
        let o = object(&[("tokenUrl", text("/auth/token")), ("apiOrigins", list(&["https://api.example"]))]);
        let c = check(&o, &page(), &Whatwg).expect("a page's options");
        assert_eq!(c.token_url, "https://app.example/auth/token", "resolved against the page");
        assert_eq!(c.revoke_url, c.token_url, "the revoke URL defaults to the token URL");
        assert_eq!(
            (c.format.clone(), c.header.clone(), c.refresh_margin_ms, c.bridge_timeout_ms, c.storage),
            (Format::Auto, None, None, 10_000, Storage::Session)
        );
        assert!(c.browser && c.auto_refresh && c.web_storage);
        assert_eq!(c.credentials, Some(Credentials::Include), "a page sends the bridge's cookie");
        assert!(c.bridge_headers.is_empty() && c.storage_key.is_none());

        let worker = Platform { window: false, ..page() };
        assert!(!check(&o, &worker, &Whatwg).expect("a worker's").web_storage, "a worker keeps its token in memory");
        let memory = check(&with("storage", text("memory")), &page(), &Whatwg).expect("memory");
        assert!(!memory.web_storage);

        let s = check(&base_object(), &server(), &Whatwg).expect("a server's options");
        assert!(!s.browser && !s.auto_refresh && !s.web_storage, "servers refresh lazily and keep no Web Storage");
        assert_eq!(s.credentials, None, "left to the platform: some server runtimes refuse the field");
        // `null` storage is the default, as `??` read it.
        assert_eq!(check(&with("storage", Value::Null), &page(), &Whatwg).map(|c| c.storage), Ok(Storage::Session));
        assert_eq!(check(&with("format", Value::Null), &page(), &Whatwg).map(|c| c.format), Ok(Format::Auto));
    }

    fn base_object() -> Value {
        object(&base())
    }

    #[test]
    fn every_option_is_read() {
        let o = object(&[
            ("tokenUrl", text("https://bridge.example/token")),
            ("revokeUrl", text("https://bridge.example/revoke")),
            ("apiOrigins", list(&["https://api.example", "https://files.example"])),
            ("header", text("X-Token")),
            ("format", object(&[("token", text("/t")), ("expiresIn", text("/e")), ("expiresAt", text(""))])),
            ("refreshMargin", Value::Number(5.5)),
            ("bridgeTimeout", Value::Number(0.0001)),
            ("storageKey", text("k")),
            ("storage", text("local")),
            ("credentials", text("omit")),
            ("bridgeHeaders", object(&[("X-Key", text(" v \r\n"))])),
            ("autoRefresh", Value::Bool(false)),
        ]);
        let c = check(&o, &page(), &Whatwg).expect("valid");
        assert_eq!(
            c,
            Checked {
                token_url: "https://bridge.example/token".into(),
                revoke_url: "https://bridge.example/revoke".into(),
                api_origins: vec!["https://api.example".into(), "https://files.example".into()],
                header: Some("X-Token".into()),
                format: Format::Custom(CustomFormat {
                    token: "/t".into(),
                    expires_in: Some("/e".into()),
                    expires_at: Some(String::new())
                }),
                refresh_margin_ms: Some(5500),
                bridge_timeout_ms: 1,
                storage_key: Some("k".into()),
                storage: Storage::Local,
                web_storage: true,
                auto_refresh: false,
                browser: true,
                credentials: Some(Credentials::Omit),
                bridge_headers: vec![("X-Key".into(), " v \r\n".into())],
            }
        );
    }

    #[test]
    fn the_rust_options_go_through_the_same_rules() {
        let options = Options {
            token_url: "https://bridge.example/token".into(),
            api_origins: vec!["https://api.example".into()],
            revoke_url: Some("https://bridge.example/revoke".into()),
            format: Some(FormatOption::Custom { token: "/t".into(), expires_in: None, expires_at: Some("/at".into()) }),
            header: Some("X-Token".into()),
            storage: Some(Storage::Memory),
            storage_key: Some("k".into()),
            credentials: Some(Credentials::SameOrigin),
            bridge_headers: [("X-Key".to_owned(), "v".to_owned())].into(),
            refresh_margin: Some(30.0),
            auto_refresh: Some(true),
            bridge_timeout: Some(2.0),
        };
        let c = check(&options.to_value(), &page(), &Whatwg).expect("valid");
        assert_eq!(
            c.format,
            Format::Custom(CustomFormat { token: "/t".into(), expires_in: None, expires_at: Some("/at".into()) })
        );
        assert_eq!(
            (c.storage, c.credentials, c.refresh_margin_ms, c.bridge_timeout_ms),
            (Storage::Memory, Some(Credentials::SameOrigin), Some(30_000), 2000)
        );
        assert_eq!(c.bridge_headers, [("X-Key".to_owned(), "v".to_owned())]);
        for name in FormatName::ALL {
            let o = Options { format: Some(name.into()), ..options.clone() };
            assert_eq!(check(&o.to_value(), &page(), &Whatwg).map(|c| c.format.identity()), Ok(name.as_str().into()));
        }
        // Empty values leave the default; a missing token URL is refused with the same message as in JS.
        let defaults =
            Options { token_url: "/t".into(), api_origins: vec!["https://api.example".into()], ..Options::default() };
        assert_eq!(
            check(&defaults.to_value(), &page(), &Whatwg).map(|c| c.credentials),
            Ok(Some(Credentials::Include))
        );
        assert_eq!(
            refused(&Options::default().to_value(), &page()),
            "AuthClient option `tokenUrl` must be a non-empty URL string; got ''"
        );
        let bad = Options { bridge_headers: [("X Bad".to_owned(), "v".to_owned())].into(), ..defaults };
        assert!(refused(&bad.to_value(), &page()).contains("valid header names and values; got 'X Bad'"));
    }

    #[test]
    fn header_rules_are_fetchs() {
        for ok in ["Authorization", "X-Api-Key", "x_y", "a!#$%&'*+-.^_`|~9"] {
            assert!(is_header_name(ok), "{ok}");
        }
        for bad in ["", "X Token", "X:Token", "X-Tökén", "(x)", "x\"y"] {
            assert!(!is_header_name(bad), "{bad:?}");
        }
        for ok in ["v", " v ", "\tv\r\n", "a\u{7f}b", "caf\u{e9}", ""] {
            assert!(is_header_value(ok), "{ok:?}");
        }
        for bad in ["a\nb", "a\rb", "a\0b", "\u{100}", "☃"] {
            assert!(!is_header_value(bad), "{bad:?}");
        }
    }

    #[test]
    fn values_are_named_as_javascript_names_them() {
        let cases = [
            (Value::Number(1.0), "the number 1"),
            (Value::Number(-0.0), "the number 0"),
            (Value::Number(0.5), "the number 0.5"),
            (Value::Number(1.5e-7), "the number 1.5e-7"),
            (Value::Number(2e21), "the number 2e+21"),
            (Value::Number(f64::INFINITY), "the number Infinity"),
            (Value::Bool(false), "false"),
            (Value::Absent, "nothing"),
            (Value::Null, "null"),
            (Value::List { len: 0, items: vec![] }, "an empty array"),
            (Value::List { len: 3, items: vec![] }, "an array"),
            (Value::Object { entries: vec![], symbol_keys: false }, "an object"),
            (Value::Symbol, "a symbol"),
            (Value::BigInt, "a bigint"),
            (text("é".repeat(81).as_str()), &format!("'{}…'", "é".repeat(80))),
        ];
        for (v, expected) in cases {
            assert_eq!(describe(&v, &Whatwg), expected);
        }
    }
}
